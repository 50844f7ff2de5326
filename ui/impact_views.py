"""Streamlit glue of the Impact page: scenario inputs, the headline, and one view per tab."""

from __future__ import annotations

import json

import streamlit as st
from pandas.api import types as ptypes

from core.credit import credit_view
from core.errors import AppError
from core.impact import (DECISION_LABELS, DECISION_RULES, Decision, Economics, ImpactResult,
                         ScenarioInputs, sensitivity)
from core.impact_plots import credit_figure, profit_figure, scenarios_figure, sensitivity_figure
from core.plots import gains_figure, lift_figure
from core.scenarios import (compare_scenarios, delete_scenario, list_scenarios, save_scenario,
                            targeted_list, write_targeted_table)
from core.warehouse import connect, list_tables
from ui import resources, state
from ui.widgets import errors_shown, show_error

TEST_SPLIT = "The run's test split"
BAD_LIKE = ("bad", "default", "defaulted", "2", "yes", "1", "true", "risk")


def require_binary(run) -> None:
    """Stop with a pointer when the run does not predict a yes/no outcome."""
    task = run.config.get("task", "binary")
    if task not in ("binary", "uplift"):
        st.info(f"This run predicts a {task} target; targeting scenarios need a yes/no outcome "
                f"(convert or not). Pick a binary run, or train one on the Train page.")
        st.stop()


def population_choice(data_dir: str, run_table: str, key: str) -> str | None:
    """Radio + table picker for the population; returns the table, or None for the test split."""
    with errors_shown(), connect(resources.settings()) as con:
        tables = [t.table for t in list_tables(con)]
    options = [TEST_SPLIT, *tables]
    chosen = st.selectbox("Population", options, key=key,
                          help=f"A table with the columns the run was trained on (from "
                               f"'{run_table}'), e.g. next month's customers. Without the target "
                               f"column, conversions are expected from the scores.")
    return None if chosen == TEST_SPLIT else chosen


def _decision(saved: dict) -> Decision:
    c1, c2 = st.columns([1, 1])
    rule = c1.selectbox("Whom to contact", DECISION_RULES, format_func=DECISION_LABELS.get,
                        index=DECISION_RULES.index(saved.get("rule", "fraction")),
                        key="impact__rule")
    if rule == "fraction":
        value = c2.slider("Share of customers to contact", 0.01, 1.0,
                          float(saved.get("fraction", 0.2)), 0.01, key="impact__fraction",
                          format="%.2f")
    elif rule == "top_n":
        value = c2.number_input("Customers to contact", 1, 10_000_000, 1000, 100,
                                key="impact__top_n")
    elif rule == "threshold":
        value = c2.slider("Contact everyone scoring at least", 0.0, 1.0, 0.5, 0.01,
                          key="impact__threshold")
    else:
        value = c2.number_input("Campaign budget", 1.0, 1e12, 10_000.0, 1000.0,
                                key="impact__budget")
    return Decision(rule, float(value))


def _advanced(pop) -> tuple[float, tuple | None, str | None, str | None]:
    c1, c2 = st.columns(2)
    fixed = c1.number_input("Fixed campaign cost", 0.0, 1e12, 0.0, 100.0, key="impact__fixed")
    numeric = [c for c in pop.frame.columns if ptypes.is_numeric_dtype(pop.frame[c])
               and not ptypes.is_bool_dtype(pop.frame[c])]
    value_col = c2.selectbox("Per-customer value of a conversion (column)", [None, *numeric],
                             format_func=lambda c: "(same value for everyone)" if c is None
                             else c, key="impact__value_col")
    payoff = None
    if st.toggle("Use a payoff matrix instead of cost and value", key="impact__payoff_on"):
        cols = st.columns(4)
        defaults = (95.0, -5.0, 0.0, 0.0)
        names = ("Contacted converter (TP)", "Contacted non-converter (FP)",
                 "Not contacted non-converter (TN)", "Not contacted converter (FN)")
        payoff = tuple(float(col.number_input(n, -1e9, 1e9, d, 1.0, key=f"impact__pay{i}"))
                       for i, (col, n, d) in enumerate(zip(cols, names, defaults)))
    policy = st.text_input("Current policy as a rule (SQL condition on the population's "
                           "columns)", "", placeholder="age < 30 AND previous > 0",
                           key="impact__policy").strip() or None
    return fixed, payoff, None if payoff else value_col, policy


def scenario_controls(data_dir: str, run) -> tuple[str | None, object, ScenarioInputs]:
    """The scenario's inputs: decision and money in one row, the rest in an expander.

    Returns:
        ``(population table or None, population, inputs)``.
    """
    saved = state.impact_inputs() or {}
    decision = _decision(saved)
    c1, c2 = st.columns(2)
    cost = c1.number_input("Contact cost per customer", 0.0, 1e6,
                           float(saved.get("contact_cost", 5.0)), 1.0, key="impact__cost")
    value = c2.number_input("Value of one conversion", 0.01, 1e9,
                            float(saved.get("conversion_value", 100.0)), 10.0,
                            key="impact__value")
    with st.expander("Population, fixed cost, payoff matrix, value column, current policy"):
        table = population_choice(data_dir, run.config["spec"]["table"], "impact__population")
        with errors_shown():
            pop = resources.population(data_dir, run.run_id, table)
        fixed, payoff, value_col, policy = _advanced(pop)
    state.set_impact_inputs({"rule": decision.rule, "fraction": decision.value
                             if decision.rule == "fraction" else saved.get("fraction", 0.2),
                             "contact_cost": cost, "conversion_value": value})
    with errors_shown():
        econ = Economics(cost, value, fixed, payoff, value_col)
        return table, pop, ScenarioInputs(decision, econ, policy, n_bootstrap=1000, seed=42)


def simulate(data_dir: str, run, table: str | None, inputs: ScenarioInputs) -> ImpactResult:
    """The scenario's result (cached); an input error is shown and stops the page."""
    with errors_shown():
        return resources.scenario(data_dir, run.run_id, table, json.dumps(inputs.to_dict()))


def _ci(r: ImpactResult, key: str, pattern: str) -> str:
    ci = r.ci95.get(key)
    return f"95% CI {pattern.format(ci[0])} – {pattern.format(ci[1])}" if ci else "no interval"


def headline(r: ImpactResult, source: str) -> None:
    """The key numbers, then the scenario in words."""
    cols = st.columns(5)
    cols[0].metric("Profit", f"{r.profit_model:,.0f}", help=_ci(r, "profit_model", "{:,.0f}"),
                   delta=f"{r.profit_model - r.profit_random:+,.0f} vs random")
    cols[1].metric("Conversion lift", f"{r.conversion_lift:.2f}×",
                   help=_ci(r, "conversion_lift", "{:.2f}") + " · over the base rate",
                   delta=None if r.conversion_lift_policy is None else
                   f"{r.conversion_lift_policy:.2f}× the current policy's rate")
    cols[2].metric("Conversions", f"{r.conversions_model:,.0f}",
                   delta=f"{r.conversions_model - r.conversions_random:+,.0f} vs random",
                   help=_ci(r, "conversions_model", "{:,.0f}"))
    cols[3].metric("ROI", "—" if r.roi_model is None else f"{r.roi_model:.0%}",
                   help=f"Profit ÷ cost; revenue {r.revenue_model:,.0f}, cost {r.cost_model:,.0f}")
    cols[4].metric("Best share to contact", f"{r.best_fraction:.0%}",
                   help=f"{r.best_targeted:,} customers; profit there {r.best_profit:,.0f}")
    outcome = "expected to convert" if r.outcomes == "expected" else "converted"
    decision = r.decision[:1].upper() + r.decision[1:]
    text = (f"**{decision}** of {source} reaches **{r.targeted:,} customers** of "
            f"{r.population:,}, of whom {r.conversions_model:,.0f} {outcome} "
            f"({_ci(r, 'conversions_model', '{:,.0f}')}): a conversion rate of "
            f"{r.conversion_rate_model:.1%} against {r.base_rate:.1%} at random. Profit "
            f"**{r.profit_model:,.0f}** ({_ci(r, 'profit_model', '{:,.0f}')}) against "
            f"{r.profit_random:,.0f} at random.")
    if r.policy and r.policy["targeted"]:
        p = r.policy
        text += (f" The current policy ({p['rule']}) contacts {p['targeted']:,} with a "
                 f"conversion rate of {p['conversion_rate']:.1%} and profit {p['profit']:,.0f}; "
                 f"the model's rate is **{r.conversion_lift_policy:.2f}×** the policy's "
                 f"({_ci(r, 'conversion_lift_policy', '{:.2f}')}).")
    st.markdown(text)
    for note in r.notes:
        st.info(note)


def curves_tab(r: ImpactResult) -> None:
    """Profit, cumulative gains and lift over the share contacted."""
    left, mid, right = st.columns(3)
    left.plotly_chart(profit_figure(r), key="impact__profit")
    mid.plotly_chart(gains_figure(r.curve, r.base_rate, r.fraction), key="impact__gains")
    right.plotly_chart(lift_figure(r.curve, r.fraction), key="impact__lift")


def sensitivity_tab(r: ImpactResult, econ: Economics) -> None:
    """Profit as costs, values and the conversion rate move."""
    spread = st.slider("Move each driver by up to ±", 0.05, 0.5, 0.2, 0.05, format="%.2f",
                       key="impact__spread")
    table = sensitivity(r, econ, spread)
    left, right = st.columns([2, 1])
    left.plotly_chart(sensitivity_figure(table, spread), key="impact__sensitivity")
    wide = table.pivot(index="change", columns="driver", values="profit").round(0)
    right.dataframe(wide, width="stretch")


def scenarios_tab(data_dir: str, run, table: str | None, inputs: ScenarioInputs,
                  r: ImpactResult) -> None:
    """Save this scenario, list saved ones, compare them side by side."""
    settings = resources.settings()
    c1, c2 = st.columns([3, 1])
    name = c1.text_input("Scenario name", placeholder="Top 20%, cost 5, value 100",
                         key="impact__name")
    if c2.button("Save scenario", key="impact__save", type="primary"):
        try:
            save_scenario(settings, name, run.run_id, table, inputs, r)
            st.success(f"Saved '{name.strip()}'.")
        except AppError as err:
            show_error(err)
    with errors_shown():
        saved = list_scenarios(settings)
    if not saved:
        st.caption("No saved scenario yet. Saved scenarios keep every input and survive "
                   "restarts.")
        return
    names = [s["name"] for s in saved]
    chosen = st.multiselect("Compare", names, default=names[:4], key="impact__compare")
    picked = [s for s in saved if s["name"] in chosen]
    if picked:
        st.dataframe(compare_scenarios(picked), hide_index=True, width="stretch")
        st.plotly_chart(scenarios_figure(picked), key="impact__overlay")
    c1, c2 = st.columns([3, 1])
    gone = c1.selectbox("Delete a scenario", names, key="impact__delete_name")
    if c2.button("Delete", key="impact__delete"):
        delete_scenario(settings, gone)
        st.rerun()


def targeted_tab(data_dir: str, pop, r: ImpactResult) -> None:
    """The contacted customers as a CSV download or a new table."""
    settings = resources.settings()
    cols = list(pop.frame.columns)
    c1, c2 = st.columns(2)
    id_col = c1.selectbox("Customer id column", [None, *cols], key="impact__id",
                          format_func=lambda c: "(row number in the population)" if c is None
                          else c)
    extra = c2.multiselect("Also include", [c for c in cols if c != id_col], key="impact__extra")
    with errors_shown():
        frame = targeted_list(settings, pop, r, id_col, tuple(extra))
    st.caption(f"{len(frame):,} customers, best score first. Columns marked as personal data on "
               f"the Data page are pseudonymised (keyed hash) or left out.")
    st.dataframe(frame.head(20), hide_index=True, width="stretch")
    st.download_button("Download CSV", frame.to_csv(index=False).encode("utf-8"),
                       "targeted_customers.csv", "text/csv", key="impact__download")
    c1, c2 = st.columns([3, 1])
    out = c1.text_input("Or save as a table named", placeholder="campaign_targets",
                        key="impact__out")
    if c2.button("Save table", key="impact__write"):
        try:
            write_targeted_table(settings, frame, out)
            st.success(f"Wrote table '{out.strip()}' ({len(frame):,} rows).")
        except AppError as err:
            show_error(err)


def credit_tab(run, pop) -> None:
    """Approval rate against bad rate and expected loss from a cost matrix."""
    if pop.expected:
        st.info("The credit view needs observed outcomes (good or bad); pick the test split or "
                "a table with the target column.")
        return
    positive = str(run.config["positive_class"])
    c1, c2, c3 = st.columns(3)
    meaning = c1.radio(f"The positive class '{positive}' is", ("a bad loan", "a good loan"),
                       index=0 if positive.lower() in BAD_LIKE else 1, key="impact__credit_pos")
    c_bad = c2.number_input("Cost of approving a bad loan", 0.01, 1e9, 5.0, 1.0,
                            key="impact__credit_bad")
    c_good = c3.number_input("Cost of refusing a good applicant", 0.01, 1e9, 1.0, 1.0,
                             key="impact__credit_good")
    bad_is_pos = meaning == "a bad loan"
    bad = pop.y if bad_is_pos else 1 - pop.y
    risk = pop.scores if bad_is_pos else 1 - pop.scores
    with errors_shown():
        v = credit_view(bad, risk, c_bad, c_good)
    cols = st.columns(4)
    cols[0].metric("Approve", f"{v.best_approval_rate:.0%}", help=f"{v.best_approved:,} of "
                   f"{v.applicants:,} applicants, lowest risk first")
    cols[1].metric("Bad rate among approved", "—" if v.best_bad_rate is None
                   else f"{v.best_bad_rate:.1%}", help=f"{v.bad_rate_all:.1%} among all")
    cols[2].metric("Expected loss per applicant", f"{v.best_loss:.3f}",
                   delta=f"{v.best_loss - v.loss_approve_all:+.3f} vs approving all",
                   delta_color="inverse")
    cols[3].metric("Risk score cut-off", "—" if v.best_threshold is None
                   else f"{v.best_threshold:.3f}", help="Approve applicants up to this risk")
    st.plotly_chart(credit_figure(v), key="impact__credit")
    st.caption(f"Cost matrix: approving a bad loan costs {c_bad:g}, refusing a good applicant "
               f"{c_good:g} (German credit's documentation uses 5 and 1). With calibrated "
               f"probabilities the cheapest rule approves below p(bad) = "
               f"{c_good / (c_bad + c_good):.3f}.")
