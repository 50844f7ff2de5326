"""Plotly figures for the Evaluate and Explain pages and the review report. Pure functions: they
take precomputed arrays and return figures; nothing here computes metrics or renders.

Figures carry no template: setting one copies a large object per figure (tens of milliseconds),
Streamlit applies its own theme anyway, and the report sets ``plotly_white`` when it exports. That
keeps a threshold move on the Evaluate page fast.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.plots import (
    LEGEND_BELOW,
    MARGIN,
    MODEL_COLOR,
    NEG_COLOR,
    POS_COLOR,
    RANDOM_COLOR,
    color_values,
    title_layout,
)

PERFECT_COLOR = "#2ca02c"
METRIC_COLORS = {"precision": "#9467bd", "recall": "#ff7f0e", "f1": MODEL_COLOR}
MAX_POINTS = 5000


def _figure(data: list, title: str, x: str, y: str, height: int = 380, xaxis: dict | None = None,
            yaxis: dict | None = None, **layout) -> go.Figure:
    """A figure with its whole layout given to the constructor (several times faster than
    ``update_layout`` calls, which matters on every threshold move)."""
    return go.Figure(data, layout={
        "title": title_layout(title), "height": height + 30,
        "xaxis": {"title": {"text": x}, **(xaxis or {})},
        "yaxis": {"title": {"text": y}, **(yaxis or {})},
        "margin": MARGIN, "legend": LEGEND_BELOW, **layout})


def _vline(x: float, label: str | None = None, color: str = POS_COLOR) -> dict:
    """A vertical line across the plot as layout ``shapes`` (and ``annotations``)."""
    out = {"shapes": [{"type": "line", "xref": "x", "yref": "paper", "x0": x, "x1": x,
                       "y0": 0, "y1": 1, "line": {"color": color, "dash": "dot"}}]}
    if label:
        out["annotations"] = [{"x": x, "y": 1.0, "xref": "x", "yref": "paper", "text": label,
                               "showarrow": False, "yanchor": "bottom"}]
    return out


def _hline(y: float, color: str = RANDOM_COLOR) -> dict:
    return {"type": "line", "xref": "paper", "yref": "y", "x0": 0, "x1": 1, "y0": y, "y1": y,
            "line": {"color": color, "dash": "dash"}}


def _threshold_line(threshold: float) -> dict:
    return _vline(threshold, f"threshold {threshold:.3f}")


def _marker(x: float, y: float, threshold: float) -> go.Scatter:
    return go.Scatter(x=[x], y=[y], mode="markers", name=f"threshold {threshold:.3f}",
                      marker={"size": 12, "color": POS_COLOR, "line": {"width": 1,
                                                                        "color": "white"}})


def roc_threshold_figure(roc: dict, auc: float | None, point: dict, threshold: float,
                         ci: list[float] | None = None) -> go.Figure:
    """ROC curve with the chance diagonal and the current threshold's operating point.

    Args:
        roc: ``fpr``, ``tpr`` arrays (thinned).
        auc: ROC-AUC (None when undefined).
        point: ``fpr`` and ``tpr`` at the threshold.
        threshold: The current threshold.
        ci: Bootstrap 95% interval of the AUC, shown in the legend.
    """
    auc_text = "undefined" if auc is None else f"{auc:.3f}"
    ci_text = f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""
    return _figure([
        go.Scatter(x=roc["fpr"], y=roc["tpr"], mode="lines", line={"color": MODEL_COLOR},
                   name=f"model (AUC {auc_text}{ci_text})"),
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="random",
                   line={"dash": "dash", "color": RANDOM_COLOR}),
        _marker(point["fpr"], point["tpr"], threshold),
    ], "ROC curve", "False-positive rate", "True-positive rate (recall)")


def pr_threshold_figure(pr: dict, ap: float | None, base_rate: float, point: dict,
                        threshold: float, ci: list[float] | None = None) -> go.Figure:
    """Precision-recall curve with the base-rate line and the current threshold's point."""
    ap_text = "undefined" if ap is None else f"{ap:.3f}"
    ci_text = f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""
    return _figure([
        go.Scatter(x=pr["recall"], y=pr["precision"], mode="lines", line={"color": MODEL_COLOR},
                   name=f"model (PR-AUC {ap_text}{ci_text})"),
        go.Scatter(x=[0, 1], y=[base_rate, base_rate], mode="lines", name="random (base rate)",
                   line={"dash": "dash", "color": RANDOM_COLOR}),
        _marker(point["tpr"], point["precision"], threshold),
    ], "Precision-recall curve", "Recall", "Precision", yaxis={"range": [0, 1.02]})


def confusion_share_figure(confusion: list[list[int]], positive: str, negative: str,
                           threshold: float) -> go.Figure:
    """2×2 confusion matrix: count and share of the actual class in each cell."""
    z = np.asarray(confusion, dtype=float)
    share = z / np.maximum(z.sum(axis=1, keepdims=True), 1)
    names = (("TN", "FP"), ("FN", "TP"))
    text = [[f"{names[i][j]}<br>{int(z[i, j]):,}<br>{share[i, j]:.0%}"
             for j in range(2)] for i in range(2)]
    labels = [f"{negative} (negative)", f"{positive} (positive)"]
    heat = go.Heatmap(z=share, x=labels, y=labels, text=text, texttemplate="%{text}",
                      textfont={"size": 15}, colorscale="Blues", zmin=0, zmax=1,
                      showscale=False)
    return _figure([heat], f"Confusion matrix at {threshold:.4f} ({int(z.sum()):,} rows; % of "
                           f"the actual class)",
                   "Predicted", "Actual", height=360, yaxis={"autorange": "reversed"})


def sweep_figure(sweep: dict, threshold: float, n_rows: int) -> go.Figure:
    """Precision, recall and F1 against the threshold, with the current threshold marked.

    Args:
        sweep: ``threshold``, ``precision``, ``recall``, ``f1`` arrays of equal length.
        threshold: The current threshold.
        n_rows: Rows in the evaluation set (stated in the title).
    """
    lines = [go.Scatter(x=sweep["threshold"], y=sweep[k], mode="lines", name=k,
                        line={"color": c}) for k, c in METRIC_COLORS.items()]
    return _figure(lines, f"Threshold sweep ({n_rows:,} test rows)", "Threshold", "Value",
                   yaxis={"range": [0, 1.02]}, **_threshold_line(threshold))


def calibration_figure(cal: dict, n_rows: int) -> go.Figure:
    """Reliability curve: observed positive rate against mean score per bin, with the diagonal.

    Args:
        cal: :func:`core.evaluate.calibration_bins` output.
        n_rows: Rows in the evaluation set.
    """
    sizes = 6 + 14 * np.sqrt(cal["count"] / max(cal["count"].max(), 1))
    top = min(float(max(np.max(cal["prob_pred"]), np.max(cal["prob_true"]), 0.05)) * 1.05, 1.0)
    return _figure([
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfectly calibrated",
                   line={"dash": "dash", "color": RANDOM_COLOR}),
        go.Scatter(x=cal["prob_pred"], y=cal["prob_true"], mode="lines+markers", name="model",
                   marker={"size": sizes, "color": MODEL_COLOR},
                   hovertext=[f"{c:,} rows" for c in cal["count"]]),
    ], f"Calibration (ECE {cal['ece']:.3f} · {n_rows:,} test rows · {len(cal['count'])} bins)",
        "Mean score in bin", "Observed positive rate", xaxis={"range": [0, top]},
        yaxis={"range": [0, top]})


def distribution_figure(hist: dict, threshold: float, positive: str, negative: str) -> go.Figure:
    """Score distribution of each class (share of the class per bin), threshold marked."""
    mids = (hist["edges"][:-1] + hist["edges"][1:]) / 2
    bars = [go.Bar(x=mids, y=hist[key] / max(hist[key].sum(), 1), marker_color=color,
                   name=f"{name} ({hist[key].sum():,} rows)", opacity=0.6)
            for key, name, color in (("neg", negative, NEG_COLOR), ("pos", positive, POS_COLOR))]
    return _figure(bars, "Score distribution by actual class", "Score", "Share of the class",
                   yaxis={"tickformat": ".0%"}, barmode="overlay", bargap=0,
                   **_threshold_line(threshold))


def decile_gains_figure(deciles: pd.DataFrame) -> go.Figure:
    """Cumulative gains by decile with the random and perfect-model lines."""
    x = np.r_[0.0, deciles["cum_share"]]
    n = int(deciles["rows"].sum())
    return _figure([
        go.Scatter(x=x, y=np.r_[0.0, deciles["cum_gain"]], mode="lines+markers", name="model",
                   line={"color": MODEL_COLOR}),
        go.Scatter(x=x, y=x, mode="lines", name="random",
                   line={"dash": "dash", "color": RANDOM_COLOR}),
        go.Scatter(x=x, y=np.r_[0.0, deciles["perfect_gain"]], mode="lines", name="perfect model",
                   line={"dash": "dot", "color": PERFECT_COLOR}),
    ], f"Cumulative gains by decile ({n:,} test rows)", "Share contacted (best scores first)",
        "Share of positives reached", xaxis={"tickformat": ".0%"}, yaxis={"tickformat": ".0%"})


def decile_lift_figure(deciles: pd.DataFrame) -> go.Figure:
    """Lift of each decile (bars), cumulative lift (line) and the perfect model's cumulative
    lift, against the random line at 1."""
    base = deciles["positives"].sum() / max(deciles["rows"].sum(), 1)
    perfect = deciles["perfect_gain"] / deciles["cum_share"]
    labels = [f"D{d}" for d in deciles["decile"]]
    return _figure([
        go.Bar(x=labels, y=deciles["lift"], name="lift of the decile", marker_color=MODEL_COLOR,
               opacity=0.7),
        go.Scatter(x=labels, y=deciles["cum_lift"], mode="lines+markers", name="cumulative lift",
                   line={"color": POS_COLOR}),
        go.Scatter(x=labels, y=perfect, mode="lines", name="perfect model (cumulative)",
                   line={"dash": "dot", "color": PERFECT_COLOR}),
    ], f"Lift by decile (base rate {base:.1%})", "Decile (D1 = best scores)",
        "Lift (× base rate)", shapes=[_hline(1.0)])


def multiclass_confusion_figure(confusion: list[list[int]], classes: list[str]) -> go.Figure:
    """Confusion matrix of k classes: colour is the share of the actual class, text the count."""
    z = np.asarray(confusion, dtype=float)
    share = z / np.maximum(z.sum(axis=1, keepdims=True), 1)
    text = [[f"{int(c):,}<br>{s:.0%}" for c, s in zip(row, srow)] for row, srow in zip(z, share)]
    heat = go.Heatmap(z=share, x=classes, y=classes, text=text, texttemplate="%{text}",
                      textfont={"size": 14 if len(classes) <= 6 else 11}, colorscale="Blues",
                      zmin=0, zmax=1, showscale=False)
    return _figure([heat], f"Confusion matrix ({int(z.sum()):,} test rows)", "Predicted",
                   "Actual", height=max(340, 40 * len(classes) + 120),
                   yaxis={"autorange": "reversed"})


def _sample(n: int, seed: int = 0) -> np.ndarray:
    if n <= MAX_POINTS:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, MAX_POINTS, replace=False))


def predicted_actual_figure(y: np.ndarray, pred: np.ndarray) -> go.Figure:
    """Predicted against actual values with the identity line (at most 5,000 points drawn)."""
    i = _sample(len(y))
    lo, hi = float(min(y.min(), pred.min())), float(max(y.max(), pred.max()))
    return _figure([
        go.Scatter(x=y[i], y=pred[i], mode="markers", name="rows",
                   marker={"size": 4, "color": MODEL_COLOR, "opacity": 0.5}),
        go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="perfect",
                   line={"dash": "dash", "color": RANDOM_COLOR}),
    ], f"Predicted vs actual ({len(i):,} of {len(y):,} test rows shown)", "Actual", "Predicted")


def residual_figure(y: np.ndarray, pred: np.ndarray) -> go.Figure:
    """Residuals (actual − predicted) against the prediction, with the zero line."""
    i = _sample(len(y))
    dots = go.Scatter(x=pred[i], y=(y - pred)[i], mode="markers", name="rows",
                      marker={"size": 4, "color": MODEL_COLOR, "opacity": 0.5})
    return _figure([dots], f"Residuals ({len(i):,} of {len(y):,} test rows shown)", "Predicted",
                   "Actual − predicted", shapes=[_hline(0.0)])


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
    return _figure([
        go.Bar(y=order, x=(s / max(s.sum(), 1e-12)).reindex(order), orientation="h",
               name=f"mean |SHAP| ({n_shap:,} rows)", marker_color=MODEL_COLOR),
        go.Bar(y=order, x=(p / max(p.sum(), 1e-12)).reindex(order), orientation="h",
               name=f"permutation: ROC-AUC drop ({n_perm:,} rows)", marker_color=POS_COLOR),
    ], "Importance: SHAP vs permutation (share of total)", "Share of total", "",
        height=max(360, 34 * len(order) + 110), xaxis={"tickformat": ".0%"}, barmode="group")


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
        if pd.api.types.is_numeric_dtype(color) and not pd.api.types.is_bool_dtype(color):
            values, ticks, names, scale = color_values(color), [0, 1], ["low", "high"], "RdBu_r"
        else:  # levels have no order: one colour each, named on the colour bar
            cat = pd.Categorical(color.astype(str))
            k = max(len(cat.categories) - 1, 1)
            values = cat.codes / k
            shown = list(range(0, len(cat.categories), max(1, len(cat.categories) // 10)))
            ticks, names, scale = [i / k for i in shown], [cat.categories[i] for i in shown], \
                "Turbo"
        marker.update(color=values, colorscale=scale, cmin=0, cmax=1, showscale=True,
                      colorbar={"title": color_column, "tickvals": ticks, "ticktext": names})
        hover = [f"{color_column} = {v}" for v in color.astype(str)]
    dots = go.Scatter(x=xs, y=shap_values, mode="markers", marker=marker, hovertext=hover,
                      name=column)
    by = f", coloured by {color_column}" if color_column else ""
    return _figure([dots], f"Dependence: {column}{by} ({len(x):,} test rows)", column,
                   f"SHAP value ({output_space})", shapes=[_hline(0.0)])


def binary_figures(ev, rep) -> dict[str, go.Figure]:
    """Every chart of a binary evaluation at the report's threshold.

    Args:
        ev: A :class:`core.evaluate.BinaryEvaluation`.
        rep: Its :class:`core.evaluate.MetricsReport` at the current threshold.

    Returns:
        Figures keyed ``confusion``, ``roc``, ``pr``, ``sweep``, ``distribution``, ``gains``,
        ``lift`` and (for probability scores) ``calibration``.
    """
    return {**threshold_figures(ev, rep), **static_figures(ev)}


def threshold_figures(ev, rep) -> dict[str, go.Figure]:
    """The charts that move with the threshold: ``confusion``, ``roc``, ``pr``, ``sweep``,
    ``distribution``."""
    t, m, point = rep.threshold, rep.metrics, ev.point(rep.threshold)
    ci = rep.ci95
    return {
        "confusion": confusion_share_figure(rep.confusion, ev.positive, ev.negative, t),
        "roc": roc_threshold_figure(ev.curves["roc"], m["roc_auc"], point, t, ci.get("roc_auc")),
        "pr": pr_threshold_figure(ev.curves["pr"], m["pr_auc"], ev.base_rate, point, t,
                                  ci.get("pr_auc")),
        "sweep": sweep_figure(ev.sweep, t, len(ev.y)),
        "distribution": distribution_figure(ev.histogram, t, ev.positive, ev.negative),
    }


def static_figures(ev) -> dict[str, go.Figure]:
    """The charts that do not depend on the threshold: ``calibration`` (probability scores
    only), ``gains``, ``lift``."""
    figs = {"gains": decile_gains_figure(ev.deciles), "lift": decile_lift_figure(ev.deciles)}
    if ev.calibration:
        figs["calibration"] = calibration_figure(ev.calibration, len(ev.y))
    return figs
