"""Plotly figures of a monitoring result: timelines per metric with their band, and one
feature's reference against a chunk's distribution. Nothing here renders."""

from __future__ import annotations

import plotly.graph_objects as go

from core.plots import LEGEND_BELOW, MARGIN, MODEL_COLOR, POS_COLOR, RANDOM_COLOR, title_layout

NAMES = {"roc_auc": "ROC-AUC", "precision": "Precision", "recall": "Recall", "f1": "F1",
         "drift_share": "Share of drifted features", "profit": "Scenario profit",
         "prediction": "Prediction drift"}
BAND_COLOR = "rgba(44, 127, 184, 0.15)"


def _layout(fig: go.Figure, title: str, y: str, height: int = 360) -> go.Figure:
    fig.update_layout(title=title_layout(title), xaxis_title="Chunk", yaxis_title=y,
                      height=height, margin=MARGIN, template="plotly_white", legend=LEGEND_BELOW)
    fig.update_xaxes(type="category")
    return fig


def _band(fig: go.Figure, x: list, lower: list, upper: list, name: str) -> None:
    fig.add_trace(go.Scatter(x=x, y=upper, mode="lines", line={"width": 0}, showlegend=False,
                             hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=x, y=lower, mode="lines", line={"width": 0}, fill="tonexty",
                             fillcolor=BAND_COLOR, name=name))


def _metric(result: dict, key: str) -> go.Figure:
    chunks = result["chunks"]
    x = [c["chunk"] for c in chunks]
    fig = go.Figure()
    bands = [((c.get("estimated") or {}).get("band") or {}).get(key) for c in chunks]
    if any(bands):
        _band(fig, x, [b["lower"] if b else None for b in bands],
              [b["upper"] if b else None for b in bands], "expected range (reference ± 3 sd)")
    trained = (result.get("reference") or {}).get("training_metrics", {}).get(key)
    if trained is not None:
        fig.add_trace(go.Scatter(x=x, y=[trained] * len(x), mode="lines", name="at training",
                                 line={"dash": "dot", "color": RANDOM_COLOR}))
    est = [(c.get("estimated") or {}).get(key) for c in chunks]
    symbols = ["circle" if c["reliable"] else "circle-open" for c in chunks]
    fig.add_trace(go.Scatter(x=x, y=est, mode="lines+markers", name="estimated (CBPE)",
                             marker={"symbol": symbols, "size": 10, "color": MODEL_COLOR}))
    real = [c.get("realized") or {} for c in chunks]
    if any(r.get(key) is not None for r in real):
        ci = [(r.get("ci95") or {}).get(key) for r in real]
        vals = [r.get(key) for r in real]
        fig.add_trace(go.Scatter(
            x=x, y=vals, mode="lines+markers", name="realised (95% CI)",
            marker={"size": 9, "color": POS_COLOR, "symbol": "diamond"},
            error_y={"type": "data", "symmetric": False,
                     "array": [(c[1] - v) if c and v is not None else 0 for c, v in zip(ci, vals)],
                     "arrayminus": [(v - c[0]) if c and v is not None else 0
                                    for c, v in zip(ci, vals)]}))
    note = "open markers: unreliable chunk" if not all(c["reliable"] for c in chunks) else ""
    title = f"{NAMES[key]} per chunk" + (f" ({note})" if note else "")
    return _layout(fig, title, NAMES[key])


def _drift_share(result: dict) -> go.Figure:
    chunks = result["chunks"]
    x = [c["chunk"] for c in chunks]
    share = [c["drift"]["share_drifted"] for c in chunks]
    limit = chunks[0]["drift"]["threshold_share"] if chunks else 0.5
    fig = go.Figure(go.Bar(x=x, y=share, name="drifted features",
                           marker_color=[POS_COLOR if s >= limit else MODEL_COLOR for s in share]))
    fig.add_trace(go.Scatter(x=x, y=[limit] * len(x), mode="lines", name="dataset drift threshold",
                             line={"dash": "dash", "color": RANDOM_COLOR}))
    fig.update_yaxes(range=[0, 1], tickformat=".0%")
    return _layout(fig, "Share of drifted features per chunk", "Features drifted")


def _profit(result: dict) -> go.Figure:
    chunks = result["chunks"]
    x = [c["chunk"] for c in chunks]
    fig = go.Figure()
    for source, name, color in (("estimated", "expected (CBPE)", MODEL_COLOR),
                                ("realized", "realised", POS_COLOR)):
        vals = [((c.get(source) or {}).get("business") or {}).get("profit") for c in chunks]
        if any(v is not None for v in vals):
            fig.add_trace(go.Bar(x=x, y=vals, name=name, marker_color=color))
    scenario = (result.get("reference") or {}).get("scenario")
    return _layout(fig, f"Scenario profit per chunk ({scenario})" if scenario
                   else "Scenario profit per chunk", "Profit")


def timeline_figure(result: dict, key: str) -> go.Figure:
    """A timeline of one metric over the chunks of a monitoring result.

    Args:
        result: From :func:`core.monitor.monitor` (or stored).
        key: ``roc_auc``, ``precision``, ``recall``, ``f1`` (estimated and realised with the
            expected range), ``drift_share`` (with the dataset-drift threshold) or ``profit``
            (the saved scenario, expected and realised).

    Returns:
        The figure.
    """
    if key == "drift_share":
        return _drift_share(result)
    if key == "profit":
        return _profit(result)
    return _metric(result, key)


def distribution_figure(result: dict, feature: str, chunk: str) -> go.Figure:
    """Reference against one chunk's distribution of a feature (shares per bin or level).

    Args:
        result: A monitoring result.
        feature: The feature as the file named it.
        chunk: The chunk's label.

    Returns:
        Grouped bars; the title names the test, its statistic and threshold.
    """
    dist = result["distributions"][feature]
    entry = next(c for c in result["chunks"] if c["chunk"] == chunk)
    test = next((f for f in entry["drift"]["features"] if f["feature"] == feature), None)
    shares = dist["chunks"].get(chunk) or [0.0] * len(dist["bins"])
    fig = go.Figure([
        go.Bar(x=dist["bins"], y=dist["reference"], name="reference (test split)",
               marker_color=RANDOM_COLOR),
        go.Bar(x=dist["bins"], y=shares, name=f"chunk {chunk}", marker_color=MODEL_COLOR)])
    fig.update_layout(barmode="group")
    fig.update_yaxes(tickformat=".0%")
    detail = ""
    if test:
        value = (f"p = {test['p_value']:.3g}" if test["p_value"] is not None
                 else f"{test['statistic']:.3g}")
        verdict = "drifted" if test["drifted"] else "no drift"
        detail = (f" ({test['method']} {value}, threshold {test['threshold']:g}: {verdict}; "
                  f"PSI {test['psi']:.2f})")
    fig = _layout(fig, f"{feature}: reference vs {chunk}{detail}", "Share of rows")
    fig.update_xaxes(title="Value (equal-width bins)" if dist["kind"] == "numeric" else "Level")
    return fig
