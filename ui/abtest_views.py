"""Streamlit glue for proving a scenario with an experiment: A/B planner and readout."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.abtest import ab_counts_frame, plan_ab, read_ab
from core.errors import SchemaError
from core.impact_plots import ab_figure
from core.warehouse import connect, list_tables, read_table
from ui import resources
from ui.widgets import errors_shown


def planner(base_rate: float, expected_rate: float, key: str, arms: str) -> None:
    """Sample size per arm and campaign length for the scenario's predicted rates."""
    st.markdown(f"**Plan the test.** {arms}")
    c = st.columns(5)
    base = c[0].number_input("Arm A conversion rate", 0.0001, 0.9999, round(base_rate, 4),
                             0.001, format="%.4f", key=f"{key}__base")
    expected = c[1].number_input("Arm B predicted rate", 0.0001, 0.9999,
                                 round(min(max(expected_rate, 0.0001), 0.9999), 4), 0.001,
                                 format="%.4f", key=f"{key}__expected")
    alpha = c[2].selectbox("Significance", (0.05, 0.01, 0.10), key=f"{key}__alpha")
    power = c[3].selectbox("Power", (0.8, 0.9, 0.95), key=f"{key}__power")
    volume = c[4].number_input("Customers per day", 1, 10_000_000, 1000, 100,
                               key=f"{key}__volume")
    with errors_shown():
        p = plan_ab(base, expected, alpha, power, volume)
    m = st.columns(3)
    m[0].metric("Customers per arm", f"{p.per_arm:,}",
                help=f"Cohen's h {p.effect_size:.3f}; two-sided z-test (statsmodels)")
    m[1].metric("Both arms", f"{p.total:,}")
    m[2].metric("Campaign length", f"{p.days:,} day{'s' if p.days != 1 else ''}",
                help=f"At {volume:,} customers a day")


def _results_frame(source: str, key: str) -> pd.DataFrame | None:
    """The results as a frame: an uploaded CSV (read in memory) or a warehouse table."""
    if source == "Upload a CSV":
        upload = st.file_uploader("Results (one row per customer: arm, outcome)", ["csv"],
                                  key=f"{key}__upload")
        if upload is None:
            return None
        with errors_shown():
            try:
                return pd.read_csv(upload)
            except (ValueError, UnicodeDecodeError) as err:
                raise SchemaError(f"The file is not a readable CSV ({err}).") from err
    settings = resources.settings()
    with errors_shown(), connect(settings) as con:
        tables = [t.table for t in list_tables(con)]
        table = st.selectbox("Results table", tables, key=f"{key}__table")
        return None if table is None else read_table(con, table)


def _counts(source: str, key: str) -> tuple[int, int, int, int] | None:
    frame = _results_frame(source, key)
    if frame is None:
        return None
    cols = list(frame.columns)
    c = st.columns(4)
    group = c[0].selectbox("Arm column", cols, key=f"{key}__group")
    outcome = c[1].selectbox("Outcome column", cols, index=min(1, len(cols) - 1),
                             key=f"{key}__outcome")
    control = c[2].text_input("Arm A value", "control", key=f"{key}__control")
    positive = c[3].text_input("Converted value", "yes", key=f"{key}__positive")
    with errors_shown():
        return ab_counts_frame(frame, group, outcome, positive, control)


def readout(predicted_lift: float | None, key: str) -> None:
    """Lift with its interval and p-value, and whether the prediction falls inside it."""
    st.markdown("**Read the result.**")
    source = st.radio("Results", ("Type the counts", "From a table", "Upload a CSV"),
                      horizontal=True, key=f"{key}__source")
    if source != "Type the counts":
        counts = _counts(source, key)
        if counts is None:
            return
    else:
        c = st.columns(4)
        counts = (c[0].number_input("A conversions", 0, 10**9, 110, key=f"{key}__ca"),
                  c[1].number_input("A customers", 1, 10**9, 1000, key=f"{key}__na"),
                  c[2].number_input("B conversions", 0, 10**9, 150, key=f"{key}__cb"),
                  c[3].number_input("B customers", 1, 10**9, 1000, key=f"{key}__nb"))
    with errors_shown():
        r = read_ab(*counts, predicted_lift=predicted_lift)
    m = st.columns(4)
    lift = "undefined" if r.lift is None else f"{r.lift:+.1%}"
    ci = "" if r.lift_ci95 is None else f"{r.lift_ci95[0]:+.1%} to {r.lift_ci95[1]:+.1%}"
    m[0].metric("Lift of B over A", lift, help=f"95% CI {ci}" if ci else None)
    m[1].metric("95% interval", ci or "—")
    m[2].metric("p-value", f"{r.p_value:.4f}", help="Two-sided pooled z-test")
    inside = {True: "inside", False: "outside", None: "—"}[r.prediction_inside]
    m[3].metric("Scenario's prediction", "—" if predicted_lift is None
                else f"{predicted_lift:+.1%}", help=f"It lies {inside} the interval")
    verdict = "significant" if r.significant else "not significant"
    st.caption(f"Arm A {r.rate_a:.2%} of {r.customers_a:,}, arm B {r.rate_b:.2%} of "
               f"{r.customers_b:,}: the difference is {verdict} at the 5% level, and the "
               f"scenario's predicted lift lies {inside} the 95% interval.")
    st.plotly_chart(ab_figure(r), key=f"{key}__figure")
