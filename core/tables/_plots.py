"""Plotly figures for a :class:`~core.tables.TableProfile`: pure functions, nothing renders.

Distributions come precomputed from DuckDB (bins and top values), so figures stay small whatever
the table size. Hidden (personal) columns get no figure.
"""

from __future__ import annotations

from datetime import datetime, timezone

import plotly.graph_objects as go

from core.plots import MODEL_COLOR, NEG_COLOR, POS_COLOR, styled
from core.tables._profile import ColumnProfile, TableProfile


def column_figure(c: ColumnProfile) -> go.Figure | None:
    """Histogram (numeric and date columns) or bar chart of the most frequent values.

    Args:
        c: A column profile.

    Returns:
        The figure, or None for hidden, empty or constant-free columns with nothing to draw.
    """
    if c.hidden or not (c.histogram or c.top):
        return None
    if c.histogram:
        lows = [b[0] for b in c.histogram]
        widths = [b[1] - b[0] or 1.0 for b in c.histogram]
        if c.kind == "date":
            lows = [datetime.fromtimestamp(v, tz=timezone.utc) for v in lows]
            widths = [w * 1000.0 for w in widths]  # plotly date axes count milliseconds
        fig = go.Figure(go.Bar(x=lows, y=[b[2] for b in c.histogram], width=widths, offset=0,
                               marker={"color": MODEL_COLOR}, name=c.name))
        return styled(fig, f"Distribution of {c.original_name}", c.original_name, "rows", 300)
    labels = [v for v, _ in c.top][::-1]
    fig = go.Figure(go.Bar(x=[n for _, n in c.top][::-1], y=labels, orientation="h",
                           marker={"color": MODEL_COLOR}, name=c.name))
    title = f"Most frequent values of {c.original_name}"
    return styled(fig, title, "rows", "", max(220, 40 + 26 * len(labels)))


def balance_figure(p: TableProfile) -> go.Figure | None:
    """Bar chart of the target's classes with their share; the positive class highlighted."""
    if not p.balance:
        return None
    colors = [POS_COLOR if label == p.positive else NEG_COLOR for label, _, _ in p.balance]
    fig = go.Figure(go.Bar(
        x=[label for label, _, _ in p.balance], y=[n for _, n, _ in p.balance],
        text=[f"{share:.1%}" for _, _, share in p.balance], textposition="outside",
        marker={"color": colors}))
    return styled(fig, f"Target balance: {p.target}", p.target or "", "rows", 320)


def association_figure(p: TableProfile) -> go.Figure | None:
    """Horizontal bars of each column's AUC alone against the target (0.5 = no signal)."""
    scored = sorted((c for c in p.columns if c.target_auc is not None),
                    key=lambda c: c.target_auc)
    if not scored:
        return None
    leaks = set(p.leaks)
    fig = go.Figure(go.Bar(
        x=[c.target_auc - 0.5 for c in scored], y=[c.original_name for c in scored],
        base=0.5, orientation="h", text=[f"{c.target_auc:.2f}" for c in scored],
        marker={"color": [POS_COLOR if c.name in leaks else MODEL_COLOR for c in scored]},
    ))
    fig.update_xaxes(range=[0.5, 1.0])
    return styled(fig, f"Each column alone as a predictor of {p.target} = {p.positive}",
                   "ROC-AUC (0.5 = no signal, red = possible leakage)", "",
                   max(260, 40 + 22 * len(scored)))
