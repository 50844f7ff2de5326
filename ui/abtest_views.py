"""Streamlit glue for proving a scenario with an experiment: A/B planner and readout.

The planner's rates follow the scenario on screen: whenever the scenario's rate changes, the
input takes the new value (an edit by hand stays until then). The readout starts empty and shows
a verdict only once real results are entered.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.errors import AppError, SchemaError
from core.features import label_text
from core.impact import ABReadout, ab_counts_frame, ab_figure, plan_ab, read_ab
from core.warehouse import connect, list_tables, read_table
from ui import resources
from ui.widgets import errors_shown, show_error


def _follow(key: str, value: float) -> None:
    """Give widget ``key`` the scenario's ``value`` when that value is new (or the widget is)."""
    source = f"{key}__scenario"
    if key not in st.session_state or st.session_state.get(source) != value:
        st.session_state[key] = value
        st.session_state[source] = value


def _percent(rate: float) -> float:
    return round(min(max(rate, 0.0001), 0.9999) * 100, 2)


def planner(base_rate: float, expected_rate: float, key: str, arms: str) -> None:
    """Sample size per arm and campaign length for the scenario's predicted rates.

    Args:
        base_rate: Arm A's conversion rate in the scenario, in (0, 1).
        expected_rate: Arm B's predicted conversion rate in the scenario, in (0, 1).
        key: Prefix of the widget keys.
        arms: One sentence saying who is in each arm.
    """
    st.markdown(f"**Plan the test.** {arms}")
    _follow(f"{key}__base", _percent(base_rate))
    _follow(f"{key}__expected", _percent(expected_rate))
    c = st.columns(5)
    base = c[0].number_input("Arm A conversion rate, %", 0.01, 99.99, step=0.1, format="%.2f",
                             key=f"{key}__base")
    expected = c[1].number_input("Arm B predicted rate, %", 0.01, 99.99, step=0.1,
                                 format="%.2f", key=f"{key}__expected")
    alpha = c[2].selectbox("Significance", (0.05, 0.01, 0.10), key=f"{key}__alpha")
    power = c[3].selectbox("Power", (0.8, 0.9, 0.95), key=f"{key}__power")
    volume = c[4].number_input("Customers per day", 1, 10_000_000, 1000, 100,
                               key=f"{key}__volume")
    try:
        p = plan_ab(base / 100, expected / 100, alpha, power, volume)
    except AppError as err:
        show_error(err)
        return
    with st.container(horizontal=True, gap="medium"):
        st.metric("Customers per arm", f"{p.per_arm:,}", width="content",
                  help=f"Sized for the readout's two-sided pooled z-test (power "
                       f"{p.achieved_power:.3f}); Cohen's h {p.effect_size:.3f}")
        st.metric("Both arms", f"{p.total:,}", width="content")
        st.metric("Campaign length", f"{p.days:,} day{'s' if p.days != 1 else ''}",
                  help=f"At {volume:,} customers a day", width="content")
    st.caption(f"Detects a change from {base:.2f}% to {expected:.2f}% "
               f"({p.relative_lift:+.1%} relative) with {power:.0%} power at the "
               f"{alpha:.0%} level.")


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
    with errors_shown(), connect(resources.settings()) as con:
        tables = [t.table for t in list_tables(con)]
        table = st.selectbox("Results table", tables, index=None, placeholder="Choose a table",
                             key=f"{key}__table")
        return None if table is None else read_table(con, table)


def _values(frame: pd.DataFrame, column: str | None) -> list[str]:
    if column is None:
        return []
    return sorted(frame[column].dropna().map(label_text).unique().tolist())[:50]


def _counts(source: str, key: str) -> tuple[int, int, int, int] | None:
    frame = _results_frame(source, key)
    if frame is None:
        return None
    cols = list(frame.columns)
    c = st.columns(4)
    group = c[0].selectbox("Arm column", cols, index=None, key=f"{key}__group")
    outcome = c[1].selectbox("Outcome column", cols, index=None, key=f"{key}__outcome")
    control = c[2].selectbox("Arm A value", _values(frame, group), index=None,
                             key=f"{key}__control")
    positive = c[3].selectbox("Converted value", _values(frame, outcome), index=None,
                              key=f"{key}__positive")
    if None in (group, outcome, control, positive):
        return None
    try:
        return ab_counts_frame(frame, group, outcome, positive, control)
    except AppError as err:
        show_error(err)
        return None


def _typed(key: str) -> tuple | None:
    c = st.columns(4)
    names = ("A conversions", "A customers", "B conversions", "B customers")
    counts = tuple(col.number_input(n, 0, 10**9, None, 1, key=f"{key}__{k}",
                                    placeholder="count")
                   for col, n, k in zip(c, names, ("ca", "na", "cb", "nb")))
    return None if None in counts else counts


def _tables(r: ABReadout, predicted_lift: float | None) -> None:
    arms = pd.DataFrame({"customers": [f"{r.customers_a:,}", f"{r.customers_b:,}"],
                         "conversions": [f"{r.conversions_a:,}", f"{r.conversions_b:,}"],
                         "conversion rate": [f"{r.rate_a:.2%}", f"{r.rate_b:.2%}"]},
                        index=["Arm A", "Arm B"])
    lift = (["undefined (no conversion in A)", "—", "—"] if r.lift is None else
            [f"{r.lift:+.1%}", f"{r.lift_ci95[0]:+.1%}", f"{r.lift_ci95[1]:+.1%}"])
    rows = {"Relative lift (B ÷ A − 1)": lift,
            "Difference (B − A), points": [f"{100 * v:+.2f}" for v in
                                           (r.difference, *r.difference_ci95)]}
    if predicted_lift is not None:
        inside = {True: "inside the interval", False: "outside the interval",
                  None: "—"}[r.prediction_inside]
        rows["Scenario's predicted lift"] = [f"{predicted_lift:+.1%}", inside, ""]
    st.table(arms)  # full width, one under the other: a narrow column would clip them
    st.table(pd.DataFrame.from_dict(rows, orient="index",
                                    columns=["estimate", "95% low", "95% high"]))


def readout(predicted_lift: float | None, key: str) -> None:
    """Lift with its interval and p-value, and whether the prediction falls inside it; until
    results are entered it says so and shows no numbers.

    Args:
        predicted_lift: The scenario's relative lift of arm B over arm A (e.g. 2.3 for +230%).
        key: Prefix of the widget keys.
    """
    st.markdown("**Read the result.**")
    source = st.radio("Results", ("Type the counts", "From a table", "Upload a CSV"),
                      horizontal=True, key=f"{key}__source")
    counts = _typed(key) if source == "Type the counts" else _counts(source, key)
    if counts is None:
        st.info("No results yet: enter both arms' customers and conversions (or pick the "
                "results and their columns) to see the lift, its interval and the verdict.")
        return
    try:
        r = read_ab(*counts, predicted_lift=predicted_lift)
    except AppError as err:
        show_error(err)
        return
    with st.container(horizontal=True, gap="medium"):
        st.metric("Lift of B over A", "undefined" if r.lift is None else f"{r.lift:+.1%}",
                  help="B's conversion rate ÷ A's − 1; interval in the table below",
                  width="content")
        st.metric("p-value", f"{r.p_value:.4f}",
                  help=f"Two-sided {r.test}" + (" (an expected cell count is below 5, where "
                                                "the z-test's normal approximation fails)"
                                                if r.test.startswith("Fisher") else ""),
                  width="content")
        st.metric("At the 5% level", "significant" if r.significant else "not significant",
                  width="content")
    _tables(r, predicted_lift)
    verdict = "significant" if r.significant else "not significant"
    where = ("" if r.prediction_inside is None else
             f", and the scenario's predicted lift lies "
             f"{'inside' if r.prediction_inside else 'outside'} the 95% interval")
    st.caption(f"Arm A {r.rate_a:.2%} of {r.customers_a:,}, arm B {r.rate_b:.2%} of "
               f"{r.customers_b:,}: the difference is {verdict} at the 5% level{where}.")
    st.plotly_chart(ab_figure(r), key=f"{key}__figure")
