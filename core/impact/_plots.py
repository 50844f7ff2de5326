"""Plotly figures of the Impact page: profit, sensitivity, scenarios, credit, uplift, A/B.

Pure builders: they take results and return figures; nothing here renders. Gains and lift curves
come from :mod:`core.plots`, re-laid out here like the others (short titles that fit a third of
a page, the legend at the figure's foot, clear of the axis titles).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.impact._abtest import ABReadout
from core.impact._credit import CreditView
from core.impact._simulate import ImpactResult
from core.plots import gains_figure, lift_figure

MODEL, RANDOM, POLICY, BEST, TARGET = "#2c7fb8", "#999999", "#ff7f0e", "#2ca02c", "#d62728"
PALETTE = ("#2c7fb8", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def styled(fig: go.Figure, title: str, x: str, y: str, height: int = 360) -> go.Figure:
    """Short left-aligned title; the legend at the foot of the figure, below the x-axis title.

    The legend is placed relative to the whole figure (``yref="container"``), not the plot
    area, so it can never climb onto the axis title however narrow the column; Plotly widens
    the bottom margin for it (and wraps it into more rows when it must).
    """
    fig.update_layout(title={"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 15}},
                      xaxis_title=x, yaxis_title=y, height=height,
                      margin={"l": 55, "r": 20, "t": 45, "b": 10}, template="plotly_white",
                      legend={"orientation": "h", "yref": "container", "y": 0,
                              "yanchor": "bottom", "x": 0, "xanchor": "left"})
    fig.update_xaxes(title_standoff=8, automargin=True)
    return fig


def _share_axis(fig: go.Figure) -> go.Figure:
    fig.update_xaxes(tickformat=".0%", range=[0, 1])
    return fig


def profit_figure(r: ImpactResult) -> go.Figure:
    """Profit by share contacted: model, random, the best and break-even points, the chosen
    share with its 95% interval, and the current policy's point."""
    c = r.curve
    fig = go.Figure([
        go.Scatter(x=c["fraction"], y=c["profit_model"], mode="lines", name="target by model",
                   line={"color": MODEL}),
        go.Scatter(x=c["fraction"], y=c["profit_random"], mode="lines", name="target at random",
                   line={"dash": "dash", "color": RANDOM}),
        go.Scatter(x=[r.best_fraction], y=[r.best_profit], mode="markers+text", name="best",
                   text=[f"best {r.best_fraction:.0%}"], textposition="top center",
                   cliponaxis=False, marker={"size": 11, "color": BEST}),
    ])
    ci = r.ci95.get("profit_model")
    fig.add_trace(go.Scatter(
        x=[r.fraction], y=[r.profit_model], mode="markers", name="your scenario",
        marker={"size": 11, "color": TARGET, "symbol": "diamond"},
        error_y=None if ci is None else {"type": "data", "symmetric": False,
                                         "array": [ci[1] - r.profit_model],
                                         "arrayminus": [r.profit_model - ci[0]]}))
    if r.policy and r.policy["targeted"]:
        fig.add_trace(go.Scatter(x=[r.policy["targeted"] / r.population], y=[r.policy["profit"]],
                                 mode="markers", name="current policy",
                                 marker={"size": 11, "color": POLICY, "symbol": "square"}))
    fig.add_hline(y=0, line_color="#444", line_width=1)
    if r.break_even_fraction is not None and r.break_even_fraction < 1.0:
        fig.add_vline(x=r.break_even_fraction, line_dash="dot", line_color="#444",
                      annotation_text="break-even", annotation_position="bottom right")
    return _share_axis(styled(fig, "Profit by share contacted",
                               "Share contacted", "Profit"))


def impact_gains_figure(r: ImpactResult) -> go.Figure:
    """Cumulative gains of the scenario's population (:func:`core.plots.gains_figure`), with
    the chosen share marked, laid out for the Impact page."""
    fig = gains_figure(r.curve, r.base_rate, r.fraction)
    return styled(fig, "Cumulative gains", "Share contacted",
                   "Converters reached")


def impact_lift_figure(r: ImpactResult) -> go.Figure:
    """Cumulative lift over the base rate (:func:`core.plots.lift_figure`), with the chosen
    share marked, laid out for the Impact page."""
    return styled(lift_figure(r.curve, r.fraction), "Cumulative lift",
                   "Share contacted", "Lift (× base rate)")


def sensitivity_figure(table: pd.DataFrame, spread: float) -> go.Figure:
    """Profit of the scenario as each driver moves (from :func:`core.impact.sensitivity`)."""
    fig = go.Figure()
    dashes = ("solid", "dash", "dot", "dashdot")
    for i, (driver, rows) in enumerate(table.groupby("driver", sort=False)):
        fig.add_trace(go.Scatter(x=rows["change"], y=rows["profit"], mode="lines+markers",
                                 name=driver, line={"color": PALETTE[i % len(PALETTE)],
                                                    "dash": dashes[i % len(dashes)],
                                                    "width": 3 - 0.6 * i}))
    fig.add_hline(y=0, line_color="#444", line_width=1)
    fig.update_xaxes(tickformat="+.0%")
    return styled(fig, f"Profit if a driver moves ±{spread:.0%}", "Change of the driver",
                   "Profit")


def scenarios_figure(scenarios: list[dict]) -> go.Figure:
    """Profit curves of saved scenarios overlaid, each with its chosen point."""
    fig = go.Figure()
    for i, sc in enumerate(scenarios):
        color = PALETTE[i % len(PALETTE)]
        c, s = sc["curve"], sc["summary"]
        fig.add_trace(go.Scatter(x=c["fraction"], y=c["profit_model"], mode="lines",
                                 name=sc["name"], line={"color": color}))
        fig.add_trace(go.Scatter(x=[s["fraction"]], y=[s["profit_model"]], mode="markers",
                                 showlegend=False, marker={"size": 10, "color": color}))
    fig.add_hline(y=0, line_color="#444", line_width=1)
    return _share_axis(styled(fig, "Profit curves of the saved scenarios",
                               "Customers contacted", "Profit"))


def credit_figure(v: CreditView) -> go.Figure:
    """Bad rate among the approved and expected loss per applicant, by approval rate."""
    c = v.curve
    fig = go.Figure([
        go.Scatter(x=c["approval_rate"], y=c["loss_per_applicant"], mode="lines",
                   name="expected loss per applicant", line={"color": MODEL}),
        go.Scatter(x=c["approval_rate"], y=c["bad_rate"], mode="lines", yaxis="y2",
                   name="bad rate among approved", line={"color": POLICY, "dash": "dash"}),
        go.Scatter(x=[v.best_approval_rate], y=[v.best_loss], mode="markers+text",
                   name="lowest loss", text=[f"approve {v.best_approval_rate:.0%}"],
                   textposition="top center", cliponaxis=False,
                   marker={"size": 11, "color": BEST}),
    ])
    fig.update_layout(yaxis2={"title": "Bad rate", "overlaying": "y", "side": "right",
                              "tickformat": ".0%", "rangemode": "tozero", "automargin": True})
    return _share_axis(styled(fig, "Loss and bad rate by approval rate",
                               "Applicants approved (lowest risk first)",
                               "Expected loss per applicant"))


def uplift_curve_figure(curves: dict, kind: str = "uplift") -> go.Figure:
    """Uplift curve (incremental conversions) or Qini curve, with the random line."""
    name = "Qini curve" if kind == "qini" else "Uplift curve"
    fig = go.Figure([
        go.Scatter(x=curves["fraction"], y=curves[kind], mode="lines", name="ranked by uplift",
                   line={"color": MODEL}),
        go.Scatter(x=curves["fraction"], y=curves[f"random_{kind}"], mode="lines",
                   name="random", line={"dash": "dash", "color": RANDOM}),
    ])
    y = "Treated − scaled control conversions" if kind == "qini" else "Incremental conversions"
    return _share_axis(styled(fig, f"{name} (test split)", "Customers treated", y))


def incremental_figure(curve: dict, fraction: float, money: bool = False) -> go.Figure:
    """Incremental conversions (or profit) by share treated: uplift vs propensity vs random."""
    prefix = "profit_" if money else ""
    fig = go.Figure([go.Scatter(x=curve["fraction"], y=curve[f"{prefix}uplift"], mode="lines",
                                name="ranked by uplift", line={"color": MODEL})])
    if f"{prefix}propensity" in curve:
        fig.add_trace(go.Scatter(x=curve["fraction"], y=curve[f"{prefix}propensity"],
                                 mode="lines", name="ranked by propensity",
                                 line={"color": POLICY}))
    fig.add_trace(go.Scatter(x=curve["fraction"], y=curve[f"{prefix}random"], mode="lines",
                             name="at random (line to treating everyone)",
                             line={"dash": "dash", "color": RANDOM}))
    fig.add_vline(x=fraction, line_color=TARGET, annotation_text="treated")
    fig.add_hline(y=0, line_color="#444", line_width=1)
    title = "Incremental profit" if money else "Incremental conversions"
    return _share_axis(styled(fig, title, "Share treated", title))


def segments_figure(table: pd.DataFrame) -> go.Figure:
    """Customers per uplift segment, with predicted and observed uplift on hover."""
    hover = [f"predicted uplift {u:+.1%}" + (f"<br>observed {o:+.1%}" if np.isfinite(o) else "")
             for u, o in zip(table["uplift"], table.get("observed_uplift",
                                                        pd.Series(np.nan, table.index)))]
    colors = [BEST, MODEL, RANDOM, TARGET]
    fig = go.Figure(go.Bar(x=table["segment"], y=table["customers"], hovertext=hover,
                           marker={"color": colors[: len(table)]},
                           text=[f"{s:.0%}" for s in table["share"]], textposition="outside"))
    return styled(fig, "Who responds to the treatment", "", "Customers", height=320)


def ab_figure(r: ABReadout) -> go.Figure:
    """Observed lift with its 95% interval, and the scenario's prediction."""
    fig = go.Figure()
    if r.lift is not None and r.lift_ci95 is not None:
        fig.add_trace(go.Scatter(
            x=[r.lift], y=["observed"], mode="markers", name="observed lift",
            marker={"size": 12, "color": MODEL},
            error_x={"type": "data", "symmetric": False, "array": [r.lift_ci95[1] - r.lift],
                     "arrayminus": [r.lift - r.lift_ci95[0]]}))
    if r.predicted_lift is not None:
        fig.add_trace(go.Scatter(x=[r.predicted_lift], y=["observed"], mode="markers",
                                 name="scenario's prediction",
                                 marker={"size": 14, "color": POLICY, "symbol": "x"}))
    fig.add_vline(x=0, line_color="#444", line_width=1)
    fig.update_xaxes(tickformat="+.0%")
    return styled(fig, "Lift of B over A, 95% interval", "Relative lift", "",
                   height=240)
