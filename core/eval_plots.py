"""Plotly figures for the Evaluate and Explain pages and the review report. Pure functions: they
take precomputed arrays and return figures; nothing here computes metrics or renders."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.plots import (
    MODEL_COLOR,
    NEG_COLOR,
    POS_COLOR,
    RANDOM_COLOR,
    _color_values,
    _layout,
    confusion_figure,
    pr_figure,
    roc_figure,
)

PERFECT_COLOR = "#2ca02c"
METRIC_COLORS = {"precision": "#9467bd", "recall": "#ff7f0e", "f1": MODEL_COLOR}
MAX_POINTS = 5000


def _threshold_line(fig: go.Figure, threshold: float) -> None:
    fig.add_vline(x=threshold, line_color=POS_COLOR, line_dash="dot",
                  annotation_text=f"threshold {threshold:.3f}", annotation_position="top")


def sweep_figure(sweep: dict, threshold: float, n_rows: int) -> go.Figure:
    """Precision, recall and F1 against the threshold, with the current threshold marked.

    Args:
        sweep: ``threshold``, ``precision``, ``recall``, ``f1`` arrays of equal length.
        threshold: The current threshold.
        n_rows: Rows in the evaluation set (stated in the title).
    """
    fig = go.Figure([go.Scatter(x=sweep["threshold"], y=sweep[k], mode="lines", name=k,
                                line={"color": c}) for k, c in METRIC_COLORS.items()])
    _threshold_line(fig, threshold)
    fig.update_yaxes(range=[0, 1.02])
    return _layout(fig, f"Threshold sweep ({n_rows:,} test rows)", "Threshold", "Value")


def calibration_figure(cal: dict, n_rows: int) -> go.Figure:
    """Reliability curve: observed positive rate against mean score per bin, with the diagonal.

    Args:
        cal: :func:`core.evaluation.calibration_bins` output.
        n_rows: Rows in the evaluation set.
    """
    sizes = 6 + 14 * np.sqrt(cal["count"] / max(cal["count"].max(), 1))
    fig = go.Figure([
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfectly calibrated",
                   line={"dash": "dash", "color": RANDOM_COLOR}),
        go.Scatter(x=cal["prob_pred"], y=cal["prob_true"], mode="lines+markers", name="model",
                   marker={"size": sizes, "color": MODEL_COLOR},
                   hovertext=[f"{c:,} rows" for c in cal["count"]]),
    ])
    top = float(max(np.max(cal["prob_pred"]), np.max(cal["prob_true"]), 0.05)) * 1.05
    fig.update_xaxes(range=[0, min(top, 1.0)])
    fig.update_yaxes(range=[0, min(top, 1.0)])
    return _layout(fig, f"Calibration (ECE {cal['ece']:.3f}; {n_rows:,} test rows, "
                        f"{len(cal['count'])} bins)", "Mean score in bin", "Observed positive rate")


def distribution_figure(hist: dict, threshold: float, positive: str, negative: str) -> go.Figure:
    """Score distribution of each class (share of the class per bin), threshold marked."""
    mids = (hist["edges"][:-1] + hist["edges"][1:]) / 2
    fig = go.Figure()
    for key, name, color in (("neg", negative, NEG_COLOR), ("pos", positive, POS_COLOR)):
        counts = hist[key]
        fig.add_trace(go.Bar(x=mids, y=counts / max(counts.sum(), 1), name=f"{name} "
                             f"({counts.sum():,} rows)", marker_color=color, opacity=0.6))
    fig.update_layout(barmode="overlay", bargap=0)
    _threshold_line(fig, threshold)
    fig.update_yaxes(tickformat=".0%")
    return _layout(fig, "Score distribution by actual class", "Score", "Share of the class")


def decile_gains_figure(deciles: pd.DataFrame) -> go.Figure:
    """Cumulative gains by decile with the random and perfect-model lines."""
    x = np.r_[0.0, deciles["cum_share"]]
    fig = go.Figure([
        go.Scatter(x=x, y=np.r_[0.0, deciles["cum_gain"]], mode="lines+markers", name="model",
                   line={"color": MODEL_COLOR}),
        go.Scatter(x=x, y=x, mode="lines", name="random",
                   line={"dash": "dash", "color": RANDOM_COLOR}),
        go.Scatter(x=x, y=np.r_[0.0, deciles["perfect_gain"]], mode="lines", name="perfect model",
                   line={"dash": "dot", "color": PERFECT_COLOR}),
    ])
    fig.update_xaxes(tickformat=".0%")
    fig.update_yaxes(tickformat=".0%")
    n = int(deciles["rows"].sum())
    return _layout(fig, f"Cumulative gains by decile ({n:,} test rows)",
                   "Share contacted (best scores first)", "Share of positives reached")


def decile_lift_figure(deciles: pd.DataFrame) -> go.Figure:
    """Lift of each decile (bars), cumulative lift (line) and the perfect model's cumulative
    lift, against the random line at 1."""
    base = deciles["positives"].sum() / max(deciles["rows"].sum(), 1)
    perfect = deciles["perfect_gain"] / deciles["cum_share"]
    labels = [f"D{d}" for d in deciles["decile"]]
    fig = go.Figure([
        go.Bar(x=labels, y=deciles["lift"], name="lift of the decile", marker_color=MODEL_COLOR,
               opacity=0.7),
        go.Scatter(x=labels, y=deciles["cum_lift"], mode="lines+markers", name="cumulative lift",
                   line={"color": POS_COLOR}),
        go.Scatter(x=labels, y=perfect, mode="lines", name="perfect model (cumulative)",
                   line={"dash": "dot", "color": PERFECT_COLOR}),
    ])
    fig.add_hline(y=1.0, line_dash="dash", line_color=RANDOM_COLOR)
    return _layout(fig, f"Lift by decile (base rate {base:.1%})", "Decile (D1 = best scores)",
                   "Lift (× base rate)")


def multiclass_confusion_figure(confusion: list[list[int]], classes: list[str]) -> go.Figure:
    """Confusion matrix of k classes: colour is the share of the actual class, text the count."""
    z = np.asarray(confusion, dtype=float)
    share = z / np.maximum(z.sum(axis=1, keepdims=True), 1)
    text = [[f"{int(c):,}<br>{s:.0%}" for c, s in zip(row, srow)] for row, srow in zip(z, share)]
    fig = go.Figure(go.Heatmap(z=share, x=classes, y=classes, text=text, texttemplate="%{text}",
                               colorscale="Blues", zmin=0, zmax=1, showscale=False))
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, f"Confusion matrix ({int(z.sum()):,} test rows)", "Predicted", "Actual",
                   height=max(340, 40 * len(classes) + 120))


def _sample(n: int, seed: int = 0) -> np.ndarray:
    if n <= MAX_POINTS:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, MAX_POINTS, replace=False))


def predicted_actual_figure(y: np.ndarray, pred: np.ndarray) -> go.Figure:
    """Predicted against actual values with the identity line (at most 5,000 points drawn)."""
    i = _sample(len(y))
    lo, hi = float(min(y.min(), pred.min())), float(max(y.max(), pred.max()))
    fig = go.Figure([
        go.Scatter(x=y[i], y=pred[i], mode="markers", name="rows",
                   marker={"size": 4, "color": MODEL_COLOR, "opacity": 0.5}),
        go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="perfect",
                   line={"dash": "dash", "color": RANDOM_COLOR}),
    ])
    return _layout(fig, f"Predicted vs actual ({len(i):,} of {len(y):,} test rows shown)",
                   "Actual", "Predicted")


def residual_figure(y: np.ndarray, pred: np.ndarray) -> go.Figure:
    """Residuals (actual − predicted) against the prediction, with the zero line."""
    i = _sample(len(y))
    fig = go.Figure(go.Scatter(x=pred[i], y=(y - pred)[i], mode="markers", name="rows",
                               marker={"size": 4, "color": MODEL_COLOR, "opacity": 0.5}))
    fig.add_hline(y=0, line_dash="dash", line_color=RANDOM_COLOR)
    return _layout(fig, f"Residuals ({len(i):,} of {len(y):,} test rows shown)", "Predicted",
                   "Actual − predicted")


def importance_comparison_figure(shap_imp: pd.DataFrame, perm: pd.DataFrame, n_shap: int,
                                 n_perm: int, top: int = 15) -> go.Figure:
    """Mean |SHAP| and permutation importance side by side, each as a share of its total.

    Args:
        shap_imp: ``feature``, ``mean_abs_shap``.
        perm: ``feature``, ``importance`` (ROC-AUC drop), ``std``.
        n_shap: Rows behind the SHAP values.
        n_perm: Rows behind the permutation importance.
        top: Columns shown (by SHAP order).
    """
    order = list(shap_imp["feature"][:top])[::-1]
    s = shap_imp.set_index("feature")["mean_abs_shap"]
    p = perm.set_index("feature")["importance"].clip(lower=0)
    fig = go.Figure([
        go.Bar(y=order, x=(s / max(s.sum(), 1e-12)).reindex(order), orientation="h",
               name=f"mean |SHAP| ({n_shap:,} rows)", marker_color=MODEL_COLOR),
        go.Bar(y=order, x=(p / max(p.sum(), 1e-12)).reindex(order), orientation="h",
               name=f"permutation: ROC-AUC drop ({n_perm:,} rows)", marker_color=POS_COLOR),
    ])
    fig.update_layout(barmode="group")
    fig.update_xaxes(tickformat=".0%")
    return _layout(fig, "Importance: SHAP vs permutation (share of total)", "Share of total", "",
                   height=max(360, 34 * len(order) + 110))


def dependence_figure(x: pd.Series, shap_values: np.ndarray, column: str,
                      color: pd.Series | None = None, color_column: str | None = None,
                      output_space: str = "probability") -> go.Figure:
    """SHAP dependence: a column's value against its SHAP value, coloured by another column.

    Args:
        x: The column's raw values, shape (n_rows,).
        shap_values: Its SHAP values, shape (n_rows,).
        column: Its name.
        color: Raw values of the colouring column, shape (n_rows,), or None.
        color_column: That column's name.
        output_space: Units of the SHAP values.
    """
    numeric = pd.api.types.is_numeric_dtype(x) and not pd.api.types.is_bool_dtype(x)
    xs = x.to_numpy() if numeric else x.astype(str).to_numpy()
    marker = {"size": 6, "opacity": 0.7, "color": MODEL_COLOR}
    hover = None
    if color is not None:
        marker.update(color=_color_values(color), colorscale="RdBu_r", cmin=0, cmax=1,
                      showscale=True, colorbar={"title": color_column, "tickvals": [0, 1],
                                                "ticktext": ["low", "high"]})
        hover = [f"{color_column} = {v}" for v in color.astype(str)]
    fig = go.Figure(go.Scatter(x=xs, y=shap_values, mode="markers", marker=marker, hovertext=hover, name=column))
    fig.add_hline(y=0, line_color=RANDOM_COLOR)
    by = f", coloured by {color_column}" if color_column else ""
    return _layout(fig, f"Dependence: {column}{by} ({len(x):,} test rows)", column,
                   f"SHAP value ({output_space})")


def binary_figures(ev, rep) -> dict[str, go.Figure]:
    """Every chart of a binary evaluation at the report's threshold.

    Args:
        ev: A :class:`core.evaluation.BinaryEvaluation`.
        rep: Its :class:`core.metrics.MetricsReport` at the current threshold.

    Returns:
        Figures keyed ``confusion``, ``roc``, ``pr``, ``sweep``, ``distribution``, ``gains``,
        ``lift`` and (for probability scores) ``calibration``.
    """
    t, m, point = rep.threshold, rep.metrics, ev.point(rep.threshold)
    n = len(ev.y)
    roc, pr = ev.curves["roc"], ev.curves["pr"]
    figs = {
        "confusion": confusion_figure(rep.confusion, ev.positive, ev.negative),
        "roc": roc_figure(roc["fpr"], roc["tpr"], m["roc_auc"], (point["fpr"], point["tpr"])),
        "pr": pr_figure(pr["recall"], pr["precision"], m["pr_auc"], ev.base_rate,
                        (point["tpr"], point["precision"])),
        "sweep": sweep_figure(ev.sweep, t, n),
        "distribution": distribution_figure(ev.histogram, t, ev.positive, ev.negative),
        "gains": decile_gains_figure(ev.deciles),
        "lift": decile_lift_figure(ev.deciles),
    }
    if ev.calibration:
        figs["calibration"] = calibration_figure(ev.calibration, n)
    return figs
