"""The privacy/utility curve: test ROC-AUC of DP runs against their ε, with the non-private run
of the same table and target as a reference line."""

from __future__ import annotations

import plotly.graph_objects as go

from core.config import Settings
from core.plots import MODEL_COLOR, RANDOM_COLOR, styled
from core.runs import list_runs, load_run


def privacy_utility_points(settings: Settings, table: str, target: str,
                           metric: str = "roc_auc") -> dict:
    """ε and the test metric of every binary run on a table and target.

    Returns:
        ``{"dp": [{"run_id", "epsilon", "value", "model"}], "reference": {"run_id", "value"}
        | None}``: DP runs sorted by ε; the reference is the newest non-private Keras run
        (any model when there is none).
    """
    dp, plain = [], []
    for r in list_runs(settings):
        if r["table"] != table or r["target"] != target or r["task"] != "binary":
            continue
        value = r["metrics"].get(metric)
        if value is None:
            continue
        privacy = load_run(settings, r["run_id"]).config.extra.get("privacy")
        if privacy:
            dp.append({"run_id": r["run_id"], "epsilon": float(privacy["epsilon"]),
                       "value": float(value), "model": r["model"]})
        else:
            plain.append({"run_id": r["run_id"], "value": float(value), "model": r["model"]})
    keras_first = sorted(plain, key=lambda p: p["model"] not in ("mlp", "wide_deep",
                                                                  "ft_transformer"))
    return {"dp": sorted(dp, key=lambda p: p["epsilon"]),
            "reference": keras_first[0] if keras_first else None}


def privacy_utility_figure(points: dict, metric_label: str = "ROC-AUC") -> go.Figure:
    """ROC-AUC (or another metric) against ε, log-scaled, with the non-private reference."""
    dp = points["dp"]
    fig = go.Figure(go.Scatter(
        x=[p["epsilon"] for p in dp], y=[p["value"] for p in dp], mode="lines+markers",
        name="DP-SGD runs", line={"color": MODEL_COLOR},
        text=[p["run_id"] for p in dp], hovertemplate="ε %{x:.3g}: %{y:.3f}<br>%{text}"))
    ref = points.get("reference")
    if ref is not None:
        fig.add_hline(y=ref["value"], line={"dash": "dash", "color": RANDOM_COLOR},
                      annotation_text=f"non-private {ref['model']}: {ref['value']:.3f}",
                      annotation_position="bottom right")
    fig.update_xaxes(type="log")
    return styled(fig, f"Privacy/utility ({len(dp)} DP runs; smaller ε = stronger privacy)",
                  "ε (spent, PLD accountant; log scale)", f"Test {metric_label}")
