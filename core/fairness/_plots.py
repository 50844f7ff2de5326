"""The fairness chart: each group's selection rate, recall and false-positive rate with their
95% intervals, side by side."""

from __future__ import annotations

import plotly.graph_objects as go

from core.fairness._metrics import FairnessReport
from core.plots import LEGEND_BELOW, styled

_SHOWN = {"selection_rate": ("Selection rate", "#2c7fb8"), "recall": ("Recall (TPR)", "#d62728"),
          "false_positive_rate": ("False-positive rate", "#999999")}


def fairness_figure(report: FairnessReport) -> go.Figure:
    """Grouped bars per group (x) and metric (colour), error bars = bootstrap 95% intervals."""
    names = [g["group"] for g in report.groups]
    bars = []
    for key, (label, color) in _SHOWN.items():
        values = [g[key] for g in report.groups]
        ci = [g["ci95"].get(key) for g in report.groups]
        plus = [(c[1] - v) if c and v is not None else 0 for c, v in zip(ci, values)]
        minus = [(v - c[0]) if c and v is not None else 0 for c, v in zip(ci, values)]
        bars.append(go.Bar(x=names, y=values, name=label, marker_color=color,
                           error_y={"type": "data", "array": plus, "arrayminus": minus,
                                    "visible": True},
                           hovertemplate=f"{label} %{{y:.3f}}<extra>%{{x}}</extra>"))
    fig = styled(go.Figure(bars), f"Decisions by {report.by} at threshold "
                                  f"{report.threshold:.4f}", report.by, "Rate")
    tops = [(g["ci95"].get(k) or [0, g[k] or 0])[1] for g in report.groups for k in _SHOWN]
    fig.update_layout(barmode="group", legend=LEGEND_BELOW,
                      yaxis={"range": [0, min(1.02, max([0.05, *tops]) * 1.12)]})
    return fig
