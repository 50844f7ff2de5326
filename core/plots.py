"""Plotly figure builders: take reports and arrays, return figures. Nothing here renders."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

POS_COLOR = "#d62728"
NEG_COLOR = "#1f77b4"
MODEL_COLOR = "#2c7fb8"
RANDOM_COLOR = "#999999"


LEGEND_BELOW = {"orientation": "h", "y": -0.3, "yanchor": "top"}
"""A horizontal legend under the x-axis title (not over it)."""
MARGIN = {"l": 50, "r": 20, "t": 72, "b": 80}


def title_layout(title: str) -> dict:
    """A chart title whose parenthesised detail becomes a smaller subtitle line, so titles fit
    narrow columns: ``"Calibration (ECE 0.257; 8,238 rows)"`` → title "Calibration",
    subtitle "ECE 0.257; 8,238 rows"."""
    main, sep, rest = title.partition(" (")
    if not sep or not rest.endswith(")"):
        return {"text": title}
    return {"text": main, "subtitle": {"text": rest[:-1]}}


def styled(fig: go.Figure, title: str, x: str, y: str, height: int = 380) -> go.Figure:
    """A figure in LiftLab's house style: title, axis titles, height (px), white template,
    legend below."""
    fig.update_layout(title=title_layout(title), xaxis_title=x, yaxis_title=y,
                      height=height + 30, margin=MARGIN, template="plotly_white",
                      legend=LEGEND_BELOW)
    return fig


def roc_figure(fpr: np.ndarray, tpr: np.ndarray, auc: float | None,
               point: tuple[float, float] | None = None) -> go.Figure:
    """ROC curve with the chance diagonal and the current threshold's point.

    Args:
        fpr: False-positive rates, shape (n_points,).
        tpr: True-positive rates (recall), shape (n_points,).
        auc: ROC-AUC for the legend (None when undefined).
        point: ``(fpr, tpr)`` at the current threshold.
    """
    label = f"model (ROC-AUC {auc:.3f})" if auc is not None else "model"
    fig = go.Figure([
        go.Scatter(x=fpr, y=tpr, mode="lines", name=label, line={"color": MODEL_COLOR}),
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="random",
                   line={"dash": "dash", "color": RANDOM_COLOR}),
    ])
    if point is not None:
        fig.add_trace(go.Scatter(x=[point[0]], y=[point[1]], mode="markers", name="threshold",
                                 marker={"size": 11, "color": POS_COLOR}))
    return styled(fig, "ROC curve", "False-positive rate", "True-positive rate (recall)")


def pr_figure(recall: np.ndarray, precision: np.ndarray, pr_auc: float | None, base_rate: float,
              point: tuple[float, float] | None = None) -> go.Figure:
    """Precision-recall curve with the base-rate line and the current threshold's point."""
    label = f"model (PR-AUC {pr_auc:.3f})" if pr_auc is not None else "model"
    fig = go.Figure([
        go.Scatter(x=recall, y=precision, mode="lines", name=label, line={"color": MODEL_COLOR}),
        go.Scatter(x=[0, 1], y=[base_rate, base_rate], mode="lines", name="random (base rate)",
                   line={"dash": "dash", "color": RANDOM_COLOR}),
    ])
    if point is not None:
        fig.add_trace(go.Scatter(x=[point[0]], y=[point[1]], mode="markers", name="threshold",
                                 marker={"size": 11, "color": POS_COLOR}))
    return styled(fig, "Precision-recall curve", "Recall", "Precision")


def confusion_figure(confusion: list[list[int]], positive: str, negative: str) -> go.Figure:
    """Confusion matrix heat map; rows are actual, columns predicted.

    Args:
        confusion: ``[[tn, fp], [fn, tp]]``.
        positive: Label of the positive class.
        negative: Label of the negative class.
    """
    z = np.asarray(confusion)
    names = [[f"TN<br>{z[0, 0]:,}", f"FP<br>{z[0, 1]:,}"], [f"FN<br>{z[1, 0]:,}", f"TP<br>{z[1, 1]:,}"]]
    labels = [f"{negative} (negative)", f"{positive} (positive)"]
    fig = go.Figure(go.Heatmap(z=z, x=labels, y=labels, text=names, texttemplate="%{text}",
                               colorscale="Blues", showscale=False))
    fig.update_yaxes(autorange="reversed")
    return styled(fig, "Confusion matrix", "Predicted", "Actual", height=340)


def history_figure(history: list[dict], loss_name: str = "loss") -> go.Figure:
    """Training and validation loss per epoch (integer epoch ticks).

    Args:
        history: One dict of Keras logs per epoch (``loss``, ``val_loss``).
        loss_name: The loss as the field names it, e.g. "binary cross-entropy".
    """
    fig = go.Figure()
    epochs = list(range(1, len(history) + 1))
    for key, name in (("loss", "training loss"), ("val_loss", "validation loss")):
        values = [h.get(key) for h in history]
        if any(v is not None for v in values):
            fig.add_trace(go.Scatter(x=epochs, y=values, mode="lines+markers", name=name))
    fig.update_xaxes(tickmode="linear", tick0=1, dtick=max(1, int(np.ceil(len(epochs) / 12))))
    return styled(fig, f"{loss_name[:1].upper()}{loss_name[1:]} per epoch", "Epoch", "Loss",
                   height=320)


def shap_units(output_space: str) -> str:
    """The unit of SHAP values in words, for axis titles: ``"probability points"`` or
    ``"log-odds"``."""
    return {"probability": "probability points", "log-odds": "log-odds"}.get(
        output_space, output_space)


def importance_figure(importance: pd.DataFrame, n_rows: int, top: int = 20,
                      output_space: str = "") -> go.Figure:
    """Horizontal bar of mean |SHAP value| per column (largest at the top); the title says
    when only the top columns are shown, the axis the units (``output_space``)."""
    df = importance.head(top).iloc[::-1]
    fig = go.Figure(go.Bar(x=df["mean_abs_shap"], y=df["feature"], orientation="h",
                           marker_color=MODEL_COLOR))
    shown = (f"top {len(df)} of {len(importance)} columns, " if len(importance) > len(df)
             else "")
    unit = f" ({shap_units(output_space)})" if output_space else ""
    return styled(fig, f"Mean |SHAP value| ({shown}{n_rows:,} test rows)",
                   f"mean |SHAP value|{unit}", "", height=max(320, 26 * len(df) + 90))


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def color_values(series: pd.Series) -> np.ndarray:
    """Numeric values scaled to [0, 1] between their 5th and 95th percentiles."""
    v = pd.to_numeric(series, errors="coerce").astype(float).to_numpy()
    lo, hi = np.nanpercentile(v, [5, 95]) if np.isfinite(v).any() else (0.0, 1.0)
    return np.clip((v - lo) / (hi - lo if hi > lo else 1.0), 0, 1)


def beeswarm_figure(values: np.ndarray, rows: pd.DataFrame, columns: list[str], order: list[str],
                    top: int = 12, seed: int = 0, output_space: str = "") -> go.Figure:
    """Beeswarm-style summary: one dot per row and column at its SHAP value.

    Colour is a numeric column's value (low blue → high red); categorical columns, whose
    levels have no order, are grey (the hover names each row's level).

    Args:
        values: SHAP values of shape (n_rows, n_columns).
        rows: Raw values of the explained rows, shape (n_rows, n_columns).
        columns: Column names of ``values``.
        order: Columns from most to least important.
        top: Columns shown.
        seed: Seed of the vertical jitter.
        output_space: Units of the values (``probability`` or ``log-odds``), on the axis.
    """
    rng = np.random.default_rng(seed)
    shown = order[:top][::-1]
    fig = go.Figure()
    scale_shown = False
    for i, col in enumerate(shown):
        j = columns.index(col)
        if _is_numeric(rows[col]):
            marker = {"size": 5, "color": color_values(rows[col]), "colorscale": "RdBu_r",
                      "cmin": 0, "cmax": 1, "showscale": not scale_shown,
                      "colorbar": {"title": "value", "tickvals": [0, 1],
                                   "ticktext": ["low", "high"]}}
            scale_shown = True
        else:
            marker = {"size": 5, "color": RANDOM_COLOR}
        fig.add_trace(go.Scattergl(
            x=values[:, j], y=i + rng.uniform(-0.3, 0.3, len(values)), mode="markers",
            marker=marker, name=col, showlegend=False,
            hovertext=[f"{col} = {v}" for v in rows[col].astype(str)],
        ))
    fig.update_yaxes(tickvals=list(range(len(shown))), ticktext=shown)
    fig.add_vline(x=0, line_color=RANDOM_COLOR)
    more = f"top {len(shown)} of {len(order)} columns, " if len(order) > len(shown) else ""
    unit = f" ({shap_units(output_space)})" if output_space else ""
    return styled(fig, f"SHAP value per row ({more}{len(values):,} rows; categories grey)",
                   f"SHAP value{unit}", "", height=max(360, 30 * len(shown) + 100))


def waterfall_figure(contrib: pd.Series, base_value: float, output: float, output_space: str,
                     top: int = 10) -> go.Figure:
    """Waterfall from the base value to one row's model output.

    Args:
        contrib: SHAP value per column for the row, indexed by a ``"column = value"`` label.
        base_value: Expected model output.
        output: The row's model output (base value + sum of contrib).
        output_space: ``"probability"`` or ``"log-odds"``.
        top: Largest contributions shown; the rest are summed into one bar.
    """
    order = contrib.abs().sort_values(ascending=False).index
    head = contrib[order[:top]]
    rest = float(contrib[order[top:]].sum())
    labels = [*head.index, *([f"{len(order) - top} other columns"] if len(order) > top else [])]
    deltas = [*head.values, *([rest] if len(order) > top else [])]
    fig = go.Figure(go.Waterfall(
        orientation="h", y=["base value", *labels[::-1], "model output"],
        x=[base_value, *deltas[::-1], 0],
        measure=["absolute", *["relative"] * len(deltas), "total"],
        increasing={"marker": {"color": POS_COLOR}}, decreasing={"marker": {"color": NEG_COLOR}},
        totals={"marker": {"color": MODEL_COLOR}},
    ))
    title = f"Why this score: base {base_value:.3f} → output {output:.3f} ({output_space})"
    return styled(fig, title, f"Model output ({output_space})", "",
                   height=max(360, 28 * (len(labels) + 2) + 100))


def gains_figure(curve: dict, base_rate: float, fraction: float | None = None) -> go.Figure:
    """Cumulative gains: share of converters reached against share contacted, with random and
    perfect-model lines."""
    x = np.r_[0.0, curve["fraction"]]
    perfect = np.minimum(x / max(base_rate, 1e-12), 1.0)
    fig = go.Figure([
        go.Scatter(x=x, y=np.r_[0.0, curve["gain"]], mode="lines", name="model",
                   line={"color": MODEL_COLOR}),
        go.Scatter(x=x, y=x, mode="lines", name="random", line={"dash": "dash", "color": RANDOM_COLOR}),
        go.Scatter(x=x, y=perfect, mode="lines", name="perfect model",
                   line={"dash": "dot", "color": "#2ca02c"}),
    ])
    if fraction is not None:
        fig.add_vline(x=fraction, line_color=POS_COLOR, annotation_text="targeted")
    fig.update_xaxes(tickformat=".0%")
    fig.update_yaxes(tickformat=".0%")
    return styled(fig, "Cumulative gains", "Customers contacted (best scores first)",
                   "Converters reached")


def lift_figure(curve: dict, fraction: float | None = None) -> go.Figure:
    """Cumulative lift (conversion rate of the contacted ÷ base rate) over the contacted share."""
    fig = go.Figure([
        go.Scatter(x=curve["fraction"], y=curve["lift"], mode="lines", name="model",
                   line={"color": MODEL_COLOR}),
        go.Scatter(x=[0, 1], y=[1, 1], mode="lines", name="random",
                   line={"dash": "dash", "color": RANDOM_COLOR}),
    ])
    if fraction is not None:
        fig.add_vline(x=fraction, line_color=POS_COLOR, annotation_text="targeted")
    fig.update_xaxes(tickformat=".0%")
    return styled(fig, "Cumulative lift", "Customers contacted", "Lift (× base rate)")


def profit_figure(curve: dict, best_fraction: float, best_profit: float,
                  fraction: float | None = None, break_even: float | None = None) -> go.Figure:
    """Profit of targeting by model score and at random, over the contacted share."""
    fig = go.Figure([
        go.Scatter(x=curve["fraction"], y=curve["profit_model"], mode="lines",
                   name="target by model score", line={"color": MODEL_COLOR}),
        go.Scatter(x=curve["fraction"], y=curve["profit_random"], mode="lines",
                   name="target at random", line={"dash": "dash", "color": RANDOM_COLOR}),
        go.Scatter(x=[best_fraction], y=[best_profit], mode="markers+text", name="best",
                   text=[f"best: {best_fraction:.0%}"], textposition="top center",
                   marker={"size": 11, "color": "#2ca02c"}),
    ])
    fig.add_hline(y=0, line_color="#444", line_width=1)
    if fraction is not None:
        fig.add_vline(x=fraction, line_color=POS_COLOR, annotation_text="targeted")
    if break_even is not None and break_even < 1.0:
        fig.add_vline(x=break_even, line_dash="dot", line_color="#444",
                      annotation_text="break-even", annotation_position="bottom right")
    fig.update_xaxes(tickformat=".0%")
    return styled(fig, "Profit by share of customers contacted", "Customers contacted", "Profit")


def overlay_curves_figure(curves: dict[str, tuple[np.ndarray, np.ndarray]], kind: str) -> go.Figure:
    """Overlaid ROC (``kind="roc"``: x = FPR, y = TPR) or PR (``kind="pr"``: x = recall,
    y = precision) curves of several runs, one trace per label."""
    fig = go.Figure([go.Scatter(x=x, y=y, mode="lines", name=label)
                     for label, (x, y) in curves.items()])
    if kind == "roc":
        fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="random",
                                 line={"dash": "dash", "color": RANDOM_COLOR}))
        return styled(fig, "ROC curves", "False-positive rate", "True-positive rate (recall)")
    return styled(fig, "Precision-recall curves", "Recall", "Precision")


def pdp_figure(pd_result, ice_lines: int = 60, seed: int = 0) -> go.Figure:
    """Partial dependence (bold) over a sample of ICE curves (thin, grey) of one column.

    Args:
        pd_result: A :class:`core.explain.PartialDependence`.
        ice_lines: Most ICE curves drawn (a seeded sample; the average uses every row).
        seed: Seed of that sample.
    """
    grid = [str(g) for g in pd_result.grid] if pd_result.categorical else pd_result.grid
    ice = pd_result.individual
    pick = np.random.default_rng(seed).choice(len(ice), min(ice_lines, len(ice)), replace=False)
    mode = "markers" if pd_result.categorical else "lines"
    fig = go.Figure()
    for k, i in enumerate(pick):
        fig.add_trace(go.Scatter(x=grid, y=ice[i], mode=mode,
                                 line={"color": "rgba(150,150,150,0.35)", "width": 1},
                                 marker={"color": "rgba(150,150,150,0.35)", "size": 5},
                                 name="one row (ICE)", legendgroup="ice",
                                 showlegend=k == 0, hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=grid, y=pd_result.average, mode="lines+markers",
                             line={"color": POS_COLOR, "width": 3}, name="average (PD)"))
    return styled(fig, f"Partial dependence on {pd_result.feature} ({pd_result.rows:,} test "
                       f"rows; {len(pick)} ICE curves shown)", pd_result.feature,
                   pd_result.output, height=400)


def interaction_figure(strength: pd.DataFrame, top: int = 12) -> go.Figure:
    """Heat map of mean |SHAP interaction| between the most interacting columns (log-odds);
    the diagonal (main effects) is left blank so that the pairs stand out."""
    s = strength.copy()
    off = s.to_numpy().copy()
    np.fill_diagonal(off, 0.0)
    order = np.argsort(-off.sum(axis=1))[:top]
    names = [s.index[i] for i in order]
    z = off[np.ix_(order, order)]
    z = np.where(np.eye(len(order), dtype=bool), np.nan, z)
    heat = go.Heatmap(z=z, x=names, y=names, colorscale="Reds", texttemplate="%{z:.3f}",
                      textfont={"size": 12}, colorbar={"title": "log-odds"},
                      hovertemplate="%{y} × %{x}: %{z:.4f}<extra></extra>")
    fig = styled(go.Figure(heat), f"SHAP interaction strength (mean |value|, top {len(names)} "
                                  f"columns)", "", "", height=max(380, 34 * len(names) + 120))
    fig.update_yaxes(autorange="reversed")
    return fig
