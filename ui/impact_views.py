"""Streamlit glue of the Impact page: scenario inputs, the headline, and one view per tab.

Every scenario input is a widget with ``persist_state="session"``: its value survives reruns and
page changes for the whole browser session (Streamlit keeps the plain value, never a frame), and
the inputs are also handed to :func:`ui.state.set_impact_inputs` for other pages.
"""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st
from pandas.api import types as ptypes

from core.errors import AppError
from core.impact import (
    DECISION_LABELS,
    DECISION_RULES,
    Decision,
    ImpactResult,
    ScenarioInputs,
    bad_class_meaning,
    compare_scenarios,
    credit_figure,
    credit_view,
    delete_scenario,
    describe_population,
    id_columns,
    impact_gains_figure,
    impact_lift_figure,
    list_scenarios,
    profit_figure,
    save_scenario,
    scenarios_figure,
    sensitivity,
    sensitivity_figure,
    targeted_list,
    write_targeted_table,
)
from core.specs import Economics
from core.warehouse import connect, list_tables, policy_rule_mask, sql_column_names
from ui import abtest_views, resources, state
from ui.widgets import KEEP, errors_shown, show_error

TEST_SPLIT = "The run's test split"


def require_binary(run) -> None:
    """Stop with a pointer when the run does not predict a yes/no outcome."""
    task = run.config.task
    if task not in ("binary", "uplift"):
        st.info(f"This run predicts a {task} target; targeting scenarios need a yes/no outcome "
                f"(convert or not). Pick a binary run, or train one on the Train page.")
        st.stop()


def population_choice(data_dir: str, run_table: str, key: str) -> str | None:
    """Picker of the population (kept for the session); returns the table, or None for the
    test split."""
    with errors_shown(), connect(resources.settings()) as con:
        tables = [t.table for t in list_tables(con)]
    chosen = st.selectbox(
        "Population: whom the scenario is simulated on", [TEST_SPLIT, *tables], key=key,
        format_func=lambda t: f"{t} (the run's training table)" if t == run_table else t,
        help=f"The test split holds rows of '{run_table}' the run never saw in training: the "
             f"honest estimate. Or pick a table with the run's columns, e.g. next month's "
             f"customers; without the target column, conversions are expected from the scores.",
        **KEEP)
    return None if chosen == TEST_SPLIT else chosen


def _population(data_dir: str, run):
    table = population_choice(data_dir, run.config.table, "impact__population")
    with errors_shown():
        pop = resources.population(data_dir, run.run_id, table)
    st.caption(f"Simulated on {describe_population(run, pop)}.")
    for warning in pop.warnings:
        st.warning(warning, icon=":material/warning:")
    return table, pop


def _decision() -> Decision:
    c1, c2 = st.columns([1, 1])
    rule = c1.selectbox("Whom to contact", DECISION_RULES, format_func=DECISION_LABELS.get,
                        key="impact__rule", **KEEP)
    if rule == "fraction":
        value = c2.slider("Share of customers to contact", 0.01, 1.0, 0.2, 0.01,
                          key="impact__fraction", format="%.2f", **KEEP)
    elif rule == "top_n":
        value = c2.number_input("Customers to contact", 1, 10_000_000, 1000, 100,
                                key="impact__top_n", **KEEP)
    elif rule == "threshold":
        value = c2.slider("Contact everyone scoring at least", 0.0, 1.0, 0.5, 0.01,
                          key="impact__threshold", **KEEP)
    else:
        value = c2.number_input("Campaign budget", 1.0, 1e12, 10_000.0, 1000.0,
                                key="impact__budget", **KEEP)
    return Decision(rule, float(value))


def _advanced(pop) -> tuple[float, tuple | None, str | None]:
    c1, c2 = st.columns(2)
    fixed = c1.number_input("Fixed campaign cost", 0.0, 1e12, 0.0, 100.0, key="impact__fixed",
                            **KEEP)
    numeric = [c for c in pop.frame.columns if ptypes.is_numeric_dtype(pop.frame[c])
               and not ptypes.is_bool_dtype(pop.frame[c])]
    value_col = c2.selectbox("Per-customer value of a conversion (column)", [None, *numeric],
                             format_func=lambda c: "(same value for everyone)" if c is None
                             else c, key="impact__value_col", **KEEP)
    payoff = None
    if st.toggle("Use a payoff matrix instead of cost and value", key="impact__payoff_on",
                 **KEEP):
        cols = st.columns(4)
        defaults = (95.0, -5.0, 0.0, 0.0)
        names = ("Contacted converter (TP)", "Contacted non-converter (FP)",
                 "Not contacted non-converter (TN)", "Not contacted converter (FN)")
        payoff = tuple(float(col.number_input(n, -1e9, 1e9, d, 1.0, key=f"impact__pay{i}",
                                              **KEEP))
                       for i, (col, n, d) in enumerate(zip(cols, names, defaults)))
    return fixed, payoff, None if payoff else value_col


def _policy_rule(pop) -> str | None:
    """The current-policy rule, or None when empty or broken (the error is shown here, and the
    rest of the page goes on without the policy comparison)."""
    names = sql_column_names(pop.frame.columns, pop.original_names)
    rule = st.text_input(
        "Current policy as a rule (optional SQL condition, to compare the model with)", "",
        placeholder="age < 30 AND previous > 0", key="impact__policy",
        help=f"Column names as SQL spells them: {names}.", **KEEP).strip()
    if not rule:
        return None
    try:
        policy_rule_mask(pop.frame, rule, pop.original_names)
    except AppError as err:  # a mistake names the columns; a refusal stays a refusal
        show_error(err)
        st.caption("The scenario below is shown without the policy comparison until the rule "
                   "works.")
        return None
    return rule


def scenario_controls(data_dir: str, run) -> tuple[str | None, object, ScenarioInputs]:
    """The scenario's inputs: population, decision, money and policy in view; the rest of the
    economics in an expander. All kept for the session.

    Returns:
        ``(population table or None, population, inputs)``.
    """
    table, pop = _population(data_dir, run)
    decision = _decision()
    c1, c2, c3 = st.columns(3)
    cost = c1.number_input("Contact cost per customer", 0.0, 1e6, 5.0, 1.0, key="impact__cost",
                           **KEEP)
    value = c2.number_input("Value of one conversion", 0.01, 1e9, 100.0, 10.0,
                            key="impact__value", **KEEP)
    organic = c3.number_input(
        "Conversions that happen without contact, %", 0.0, 99.0, 0.0, 5.0,
        key="impact__organic", help="Of the customers this campaign reaches who convert, the "
        "share who would have converted anyway. Their value is not credited to the contact, so "
        "the profit is incremental. A holdout test (A/B tab) measures it; an uplift run on a "
        "randomised table models it per customer.", **KEEP)
    with st.expander("More economics: fixed cost, per-customer value, payoff matrix"):
        fixed, payoff, value_col = _advanced(pop)
    _organic_note(organic, payoff)
    policy = _policy_rule(pop)
    saved = state.impact_inputs() or {}
    state.set_impact_inputs({
        "population": table, "rule": decision.rule, "decision_value": decision.value,
        "fraction": decision.value if decision.rule == "fraction" else saved.get("fraction", 0.2),
        "contact_cost": cost, "conversion_value": value, "fixed_cost": fixed,
        "value_column": value_col, "payoff": payoff, "policy": policy,
        "organic_share": organic / 100.0})
    with errors_shown():
        econ = Economics(cost, value, fixed, payoff, value_col,
                         organic / 100.0 if payoff is None else 0.0)
        return table, pop, ScenarioInputs(decision, econ, policy, n_bootstrap=1000, seed=42)


def _organic_note(organic: float, payoff) -> None:
    """Say what the profit counts: every converter reached (the response model's view), or
    only the share the contact causes."""
    if payoff is not None:
        st.caption("The payoff matrix prices each outcome itself: put the value the contact "
                   "adds (not the whole sale) into its TP cell.")
    elif organic <= 0:
        st.caption(":material/info: This run predicts who **responds**, not who responds "
                   "**because of** the contact: the profit credits every converter reached to "
                   "the campaign, also those who would have bought anyway. Set the share of "
                   "conversions that happen without contact (from a past holdout) to make it "
                   "incremental, or train an uplift model on a randomised table.")
    else:
        st.caption(f":material/check: Profit is incremental: {organic:.0f}% of the conversions "
                   f"reached are assumed to happen without contact and are not credited to it.")


def simulate(data_dir: str, run, table: str | None, inputs: ScenarioInputs) -> ImpactResult:
    """The scenario's result (cached); an input error is shown and stops the page."""
    with errors_shown():
        result = resources.scenario(data_dir, run.run_id, table, json.dumps(inputs.to_dict()))
    econ = inputs.economics
    state.set_impact_result({
        "run_id": run.run_id, "summary": result.summary(),
        "curve": {k: result.curve[k] for k in ("fraction", "profit_model", "profit_random")},
        "title": f"Scenario from the Impact page: {result.decision} of "
                 f"{table or 'the test split'}; contact cost {econ.contact_cost:g}, value of a "
                 f"conversion {econ.conversion_value:g}"
                 + (f", fixed cost {econ.fixed_cost:g}" if econ.fixed_cost else "")
                 + (f", current policy {inputs.policy}" if inputs.policy else "")})
    return result


def _ci(r: ImpactResult, key: str, pattern: str) -> str:
    ci = r.ci95.get(key)
    return f"95% CI {pattern.format(ci[0])} – {pattern.format(ci[1])}" if ci else "no interval"


def headline(r: ImpactResult, source: str, shown: tuple[str, ...] = ()) -> None:
    """The key numbers (wrapping onto a second line rather than cutting them), the scenario in
    words, the comparison with the current policy, and notes not in ``shown`` already."""
    with st.container(horizontal=True, gap="medium"):
        st.metric("Profit", f"{r.profit_model:,.0f}", help=_ci(r, "profit_model", "{:,.0f}"),
                  delta=f"{r.profit_model - r.profit_random:+,.0f} vs random", width="content")
        st.metric("Conversion lift", f"{r.conversion_lift:.2f}×", width="content",
                  help=_ci(r, "conversion_lift", "{:.2f}") + " · over the base rate")
        st.metric("Conversions", f"{r.conversions_model:,.0f}", width="content",
                  delta=f"{r.conversions_model - r.conversions_random:+,.0f} vs random",
                  help=_ci(r, "conversions_model", "{:,.0f}"))
        st.metric("ROI", "—" if r.roi_model is None else f"{r.roi_model:.0%}", width="content",
                  help=f"Profit ÷ cost; revenue {r.revenue_model:,.0f}, cost {r.cost_model:,.0f}")
        st.metric("Best share to contact", f"{r.best_fraction:.0%}", width="content",
                  help=f"{r.best_targeted:,} customers; profit there {r.best_profit:,.0f}")
    outcome = "expected to convert" if r.outcomes == "expected" else "converted"
    decision = r.decision[:1].upper() + r.decision[1:]
    st.markdown(f"**{decision}** of {source} reaches **{r.targeted:,} customers** of "
                f"{r.population:,}, of whom {r.conversions_model:,.0f} {outcome} "
                f"({_ci(r, 'conversions_model', '{:,.0f}')}): a conversion rate of "
                f"{r.conversion_rate_model:.1%} against {r.base_rate:.1%} at random. Profit "
                f"**{r.profit_model:,.0f}** ({_ci(r, 'profit_model', '{:,.0f}')}) against "
                f"{r.profit_random:,.0f} at random.")
    _policy_comparison(r)
    for note in r.notes:
        if note not in shown:
            st.info(note)


def _policy_comparison(r: ImpactResult) -> None:
    """The model against the current policy at the same number contacted, then as chosen."""
    p = r.policy
    if not p or not p["targeted"]:
        return
    same, k = p["model_same_size"], p["targeted"]
    st.markdown(f"**Against the current policy** `{p['rule']}`")
    pts = (same["conversion_rate"] - p["conversion_rate"]) * 100
    gain = same["profit"] - p["profit"]
    with st.container(horizontal=True, gap="medium"):
        st.metric("Policy contacts", f"{k:,}", width="content",
                  help=f"Conversion rate {p['conversion_rate']:.1%}, profit {p['profit']:,.0f}")
        st.metric("Model's rate, same number", f"{same['conversion_rate']:.1%}", width="content",
                  delta=f"{pts:+.1f} pts vs policy", delta_color="normal" if pts else "off",
                  help=f"The model's best {k:,} customers against the policy's {k:,}")
        st.metric("Model's profit, same number", f"{same['profit']:,.0f}", width="content",
                  delta=f"{gain:+,.0f} vs policy", delta_color="normal" if gain else "off")
    rows = [("Current policy", p), (f"Model, same number (top {k:,})", same),
            (f"Your scenario ({r.decision})", {"targeted": r.targeted,
                                               "conversions": r.conversions_model,
                                               "conversion_rate": r.conversion_rate_model,
                                               "profit": r.profit_model})]
    st.table(pd.DataFrame(
        [{"": name, "contacted": f"{v['targeted']:,}", "conversions": f"{v['conversions']:,.0f}",
          "conversion rate": f"{v['conversion_rate']:.1%}", "profit": f"{v['profit']:,.0f}"}
         for name, v in rows]).set_index(""))
    if r.targeted != k:
        st.caption(f"Unequal sizes: your scenario contacts {r.targeted:,} customers and the "
                   f"policy {k:,}, so their totals are not like for like; the middle row puts "
                   f"the model's best {k:,} against the policy's {k:,}. Your scenario's rate is "
                   f"{r.conversion_lift_policy:.2f}× the policy's "
                   f"({_ci(r, 'conversion_lift_policy', '{:.2f}')}).")


def curves_tab(r: ImpactResult) -> None:
    """Profit over the share contacted at full width, then cumulative gains and lift."""
    st.plotly_chart(profit_figure(r), key="impact__profit")
    left, right = st.columns(2)
    left.plotly_chart(impact_gains_figure(r), key="impact__gains")
    right.plotly_chart(impact_lift_figure(r), key="impact__lift")
    st.caption("Customers are contacted in order of score, best first; the red marks show your "
               "scenario's share.")


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


def targeted_tab(run, pop, r: ImpactResult) -> None:
    """The contacted customers of the population on screen, as a CSV download or a new table."""
    settings = resources.settings()
    st.markdown(f"**Population:** {describe_population(run, pop)}. Change it with *Population* "
                f"at the top of the page.")
    cols = list(pop.frame.columns)
    ids = id_columns(pop.frame)
    if pop.source == "test split":
        st.caption("The test split keeps only the model's columns, so it has no customer id: "
                   "`test_row` is the row's position in the split. To hand a list to a campaign "
                   "team, choose a warehouse table with an id column as the population.")
    c1, c2 = st.columns(2)
    id_col = c1.selectbox("Customer id column", [None, *cols], key=f"impact__id__{pop.source}",
                          index=1 + cols.index(ids[0]) if ids else 0,
                          format_func=lambda c: "(row number in the population)" if c is None
                          else c)
    extra = c2.multiselect("Also include", [c for c in cols if c != id_col],
                           key=f"impact__extra__{pop.source}")
    with errors_shown():
        frame = targeted_list(settings, pop, r, id_col, tuple(extra))
    st.caption(f"{len(frame):,} customers, best score first (the first 20 below). Columns "
               f"marked as personal data on the Data page are pseudonymised (keyed hash) or "
               f"left out.")
    st.dataframe(frame.head(20), hide_index=True, width="stretch")
    st.download_button("Download CSV", frame.to_csv(index=False).encode("utf-8"),
                       "targeted_customers.csv", "text/csv", key="impact__download")
    c1, c2, c3 = st.columns([3, 1.4, 1])
    out = c1.text_input("Or save as a table named", placeholder="campaign_targets",
                        key="impact__out")
    replace = c2.checkbox("Replace my earlier table of that name", key="impact__replace",
                          help="Only tables LiftLab wrote can be replaced; raw tables never.")
    if c3.button("Save table", key="impact__write"):
        try:
            name = write_targeted_table(settings, frame, out, replace, pop.table)
            st.success(f"Wrote table '{name}' ({len(frame):,} rows).")
        except AppError as err:
            show_error(err)


def credit_tab(run, pop) -> None:
    """Approval rate against bad rate and expected loss from a cost matrix, once the analyst
    has said whether the positive class is a bad or a good loan."""
    if pop.expected:
        st.info("The credit view needs observed outcomes (good or bad); pick the test split or "
                "a table with the target column.")
        return
    positive, target = str(run.config.positive_class), run.config.target
    known = bad_class_meaning(target, positive)
    c1, c2, c3 = st.columns(3)
    meaning = c1.radio(f"For a loan, '{target}' = '{positive}' means",
                       ("a bad loan", "a good loan"),
                       index=None if known is None else (0 if known else 1),
                       key=f"impact__credit_pos__{run.run_id}", **KEEP)
    c_bad = c2.number_input("Cost of approving a bad loan", 0.01, 1e9, 5.0, 1.0,
                            key="impact__credit_bad", **KEEP)
    c_good = c3.number_input("Cost of refusing a good applicant", 0.01, 1e9, 1.0, 1.0,
                             key="impact__credit_good", **KEEP)
    if meaning is None:
        st.info(f"Say what '{positive}' means before this view shows numbers: the run predicts "
                f"'{target}', which may not be a loan outcome at all (for a marketing response "
                f"use the other tabs).")
        return
    bad_is_pos = meaning == "a bad loan"
    bad = pop.y if bad_is_pos else 1 - pop.y
    risk = pop.scores if bad_is_pos else 1 - pop.scores
    with errors_shown():
        v = credit_view(bad, risk, c_bad, c_good)
    with st.container(horizontal=True, gap="medium"):
        st.metric("Approve", f"{v.best_approval_rate:.0%}", width="content",
                  help=f"{v.best_approved:,} of {v.applicants:,} applicants, lowest risk first")
        st.metric("Bad rate among approved", "—" if v.best_bad_rate is None
                  else f"{v.best_bad_rate:.1%}", help=f"{v.bad_rate_all:.1%} among all",
                  width="content")
        st.metric("Expected loss per applicant", f"{v.best_loss:.3f}", width="content",
                  delta=f"{v.best_loss - v.loss_approve_all:+.3f} vs approving all",
                  delta_color="inverse")
        st.metric("Risk score cut-off", "—" if v.best_threshold is None
                  else f"{v.best_threshold:.3f}", help="Approve applicants up to this risk",
                  width="content")
    st.plotly_chart(credit_figure(v), key="impact__credit")
    st.caption(f"Cost matrix: approving a bad loan costs {c_bad:g}, refusing a good applicant "
               f"{c_good:g} (German credit's documentation uses 5 and 1). With calibrated "
               f"probabilities the cheapest rule approves below p(bad) = "
               f"{c_good / (c_bad + c_good):.3f}.")


def holdout_planner(result: ImpactResult, econ: Economics) -> None:
    """The A/B planner of a response run: the model's top customers, contacted (arm B) or
    held out (arm A). Without contact they convert at the organic share of the contacted rate,
    so the planned effect is the incremental one, not the response rate."""
    rate = result.conversion_rate_model
    if econ.organic_share <= 0:
        st.info("To plan a holdout test, set above the share of conversions that happen "
                "without contact (your best guess): the test measures exactly that. Arm B's "
                f"rate, {rate:.2%}, is the model's **response** rate among the customers it "
                "picks, not the effect of contacting them.", icon=":material/science:")
        return
    abtest_views.planner(rate * econ.organic_share, rate, "impact__plan",
                         f"Among the model's top customers ({result.decision}): arm A held out "
                         f"(not contacted), arm B contacted. Arm A converts at "
                         f"{econ.organic_share:.0%} of arm B's response rate (the share without "
                         f"contact set above), so the test detects the incremental effect.")
