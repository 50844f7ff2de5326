"""Plotly figures of the recommender: model against baselines, training, ranks, value.

Pure functions from reports to figures; nothing here renders.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.plots import MODEL_COLOR, RANDOM_COLOR, styled
from core.recommend._metrics import KS, RankStats, per_user
from core.recommend._value import ValueResult

TRANSITIONS_COLOR = "#ff7f0e"
SERIES = (("model", MODEL_COLOR), ("transitions", TRANSITIONS_COLOR),
          ("popular", RANDOM_COLOR))
LABELS = {"transitions": "item-to-item", "popular": "most popular"}


def _reports(metrics: dict, model: str) -> list[tuple[str, dict, str]]:
    """(label, {"metrics", "ci95"}, colour) for the model and each baseline it differs from."""
    out = [(model, metrics, MODEL_COLOR)]
    for name, color in SERIES[1:]:
        if name != model:
            out.append((LABELS[name], metrics["baselines"][name], color))
    return out


def comparison_figure(metrics: dict, model: str, metric: str = "hit_rate") -> go.Figure:
    """Grouped bars of HitRate@K (or NDCG@K) per K for the model and both baselines, with 95%
    bootstrap intervals.

    Args:
        metrics: A next-item run's metrics.json content.
        model: The run's model name (its bars come first).
        metric: ``"hit_rate"`` or ``"ndcg"``.
    """
    fig = go.Figure()
    x = [f"@{k}" for k in KS]
    for label, rep, color in _reports(metrics, model):
        keys = [f"{metric}@{k}" for k in KS]
        y = np.array([rep["metrics"][k] for k in keys])
        ci = [rep.get("ci95", {}).get(k, [v, v]) for k, v in zip(keys, y)]
        fig.add_trace(go.Bar(
            x=x, y=y, name=label, marker_color=color, text=[f"{v:.3f}" for v in y],
            textposition="outside",
            error_y={"type": "data", "symmetric": False, "array": [c[1] - v for c, v in zip(ci, y)],
                     "arrayminus": [v - c[0] for c, v in zip(ci, y)]}))
    title = "HitRate@K" if metric == "hit_rate" else "NDCG@K"
    fig.update_layout(barmode="group")
    return styled(fig, f"{title} on the test users (95% bootstrap intervals)", "Cut-off K",
                   title)


def rank_curve_figure(ranks: dict[str, RankStats], model: str, max_k: int = 50) -> go.Figure:
    """Share of test users whose true next item is within the top K, for K = 1..max_k.

    Args:
        ranks: Rank counts for ``model``, ``transitions`` and ``popular``.
        model: The run's model name.
        max_k: Largest cut-off shown.
    """
    ks = tuple(range(1, max_k + 1))
    fig = go.Figure()
    for name, color in SERIES:
        if name != "model" and name == model:
            continue
        u = per_user(ranks[name], ks)
        fig.add_trace(go.Scatter(x=list(ks), y=[float(u[f"hit_rate@{k}"].mean()) for k in ks],
                                 mode="lines", name=model if name == "model" else LABELS[name],
                                 line={"color": color}))
    fig.update_yaxes(tickformat=".0%")
    return styled(fig, "Where the true next item ranked", "Top K of the whole catalogue",
                   "Test users with a hit")


def epoch_ticks(n_epochs: int) -> dict:
    """Plotly axis settings for an epoch axis: whole numbers only, at most about 10 ticks.

    Args:
        n_epochs: Epochs shown (1-based x values 1..n_epochs).

    Returns:
        Keyword arguments for ``update_xaxes``.
    """
    step = max(1, math.ceil(n_epochs / 10))
    return {"tickmode": "linear", "tick0": 1, "dtick": step, "tickformat": "d",
            "range": [0.5, max(n_epochs, 1) + 0.5]}


def training_figure(history: list[dict]) -> go.Figure:
    """Training loss (cross-entropy) and validation HitRate@10 per epoch, side by side.

    Two panels instead of a second y-axis: an overlaid axis syncs its ticks to the first
    one's grid and ends up at values such as 0.04756. Each panel has its own round ticks;
    epochs are whole numbers.

    Args:
        history: Per-epoch logs with ``loss`` and ``val_hit_rate@10``.
    """
    epochs = list(range(1, len(history) + 1))
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12,
                        subplot_titles=("Training loss (cross-entropy)",
                                        "Validation HitRate@10"))
    fig.add_trace(go.Scatter(x=epochs, y=[h.get("loss") for h in history],
                             mode="lines+markers", name="training loss",
                             line={"color": RANDOM_COLOR}), row=1, col=1)
    fig.add_trace(go.Scatter(x=epochs, y=[h.get("val_hit_rate@10") for h in history],
                             mode="lines+markers", name="validation HitRate@10",
                             line={"color": MODEL_COLOR}), row=1, col=2)
    fig.update_xaxes(title_text="Epoch", **epoch_ticks(len(epochs)))
    fig.update_yaxes(tickformat=".2~f", nticks=6, row=1, col=1)
    fig.update_yaxes(tickformat=".3~f", nticks=6, rangemode="tozero", row=1, col=2)
    styled(fig, "Training per epoch", "Epoch", "", height=320)
    fig.update_layout(xaxis_title="Epoch", yaxis_title=None)
    return fig


def value_figure(result: ValueResult, model: str = "personalised") -> go.Figure:
    """Expected revenue of the personalised lists and of each baseline's for K = 1..20.

    Args:
        result: The value simulation.
        model: Legend name of the personalised lists (the run's model).
    """
    by_k = result.by_k
    fig = go.Figure([go.Scatter(x=by_k["k"], y=by_k["personalised"], mode="lines+markers",
                                name=model, line={"color": MODEL_COLOR})])
    for name, color in SERIES[1:]:
        if name in result.revenue:
            best = " (best baseline)" if name == result.best_baseline else ""
            fig.add_trace(go.Scatter(x=by_k["k"], y=by_k[name], mode="lines+markers",
                                     name=LABELS[name] + best,
                                     line={"color": color, "dash": "dash"}))
    fig.add_vline(x=result.inputs.k, line_color="#444", annotation_text="chosen K")
    fig.update_xaxes(tickmode="linear", tick0=1, dtick=1, tickformat="d")
    fig.update_yaxes(tickformat=",.0f")
    return styled(fig, "Expected revenue by list length", "Items per list (K)", "Revenue")
