"""Explain page views: compute (budgeted, with progress), global and local explanations,
dependence, what-if, and the review report export."""

from __future__ import annotations

import dataclasses
import functools
import sys

import pandas as pd
import streamlit as st

from core.app import shap_is_large, shap_job
from core.errors import AppError
from core.evaluate import dependence_figure, importance_comparison_figure
from core.explain import (
    contributions,
    explain_cached,
    explain_cost,
    explain_in_words,
    explain_test_row,
    explainer_names,
    row_facts,
    row_order,
    strongest_interaction,
    what_if,
    with_names,
)
from core.plots import (
    beeswarm_figure,
    importance_figure,
    interaction_figure,
    pdp_figure,
    waterfall_figure,
)
from ui import resources, state
from ui.analysis_job_views import follow
from ui.privacy_views import audit_view
from ui.widgets import errors_shown, show_error

JOB_KEY = "explain__job"
ROW_MODES = {"rank": "Score rank", "surprising": "Most surprising errors", "id": "Test row id"}
UNITS = {"log-odds": "SHAP values here are in **log-odds**, the model's raw output (gradient "
                     "boosting and logistic regression explain their decision function): +0.69 "
                     "doubles the odds of the positive class. A network's values are in "
                     "probability points instead, so compare runs of different families by "
                     "rank, not by size.",
         "probability": "SHAP values here are in **probability points** (the network's "
                        "output): +0.05 adds five points to the probability of the positive "
                        "class. Gradient boosting and logistic regression are explained in "
                        "log-odds instead, so compare runs of different families by rank, "
                        "not by size."}


def units_text(run, exp) -> str:
    """What the SHAP values' units mean, for the run's task."""
    if run.config.task == "multiclass":
        return (f"SHAP values here are in **probability points** of class "
                f"**{exp.target_class}**: +0.05 adds five points to its probability. Choose "
                f"another class above to see what drives it.")
    if run.config.task == "regression":
        return (f"SHAP values here are in the **units of '{run.config.target}'**, the "
                f"prediction's own: a value of +2 raises the prediction by 2.")
    return UNITS.get(exp.output_space, exp.output_space)


def _cache_stamp(run) -> float:
    path = run.folder / "explain.json"
    return path.stat().st_mtime if path.exists() else 0.0


def cached_explanation(data_dir: str, run):
    """The run's cached explanation (read once per cache file), or None."""
    return resources.explanation(data_dir, run.run_id, _cache_stamp(run))


def compute_controls(data_dir: str, run):
    """Rows, explainer and time budget; computes when asked. Returns the explanation or None."""
    n_test = len(run.test_frame)
    names = {"auto": "Automatic (fits the model)", **explainer_names()}
    c1, c2, c3 = st.columns([1, 2, 1])
    rows = c1.number_input("Test rows to explain", 10, n_test, min(1000, n_test), 100,
                           key="explain__rows")
    method = c2.selectbox("Explainer", list(names), format_func=names.get, key="explain__method")
    budget = c3.number_input("Time budget (s)", 5, 3600, 120, 5, key="explain__budget")
    target_class = None
    if run.config.task == "multiclass":
        target_class = st.selectbox("Class explained (what drives its probability)",
                                    [str(k) for k in run.config.classes],
                                    key=f"explain__class_{run.run_id}")
    exp = cached_explanation(data_dir, run)
    if exp is not None and exp.target_class != target_class:
        exp = None  # the cache explains another class
    fits = exp is not None and exp.requested_rows == rows and method in ("auto", exp.method)
    label = f"Compute SHAP values for {rows:,} rows" if exp is None else "Recompute"
    if st.button(label, type="primary" if not fits else "secondary", key="explain__go"):
        with errors_shown():
            cost = explain_cost(run, int(rows), method, target_class=target_class)
        if shap_is_large(cost, float(budget)):
            _submit(data_dir, run, int(rows), method, float(budget), target_class, cost)
        else:
            _compute_now(run, int(rows), method, float(budget), target_class)
    job = follow(data_dir, JOB_KEY, "shap", {"run_id": run.run_id})
    if exp is None and job is None:
        st.info("SHAP values are computed once per run and cached, so reopening this page is "
                "instant. Keras networks take about a second for 1,000 rows.")
    return exp


def _compute_now(run, rows: int, method: str, budget: float, target_class: str | None) -> None:
    """A small request: computed here, with a progress bar, then the page reruns."""
    bar = st.progress(0.0, text="Preparing the explainer …")

    def progress(done: int, total: int, name: str) -> None:
        bar.progress(done / total, text=f"{name}: {done:,} of {total:,} rows")

    with errors_shown():
        explain_cached(run, rows, method=method, budget_s=budget, progress=progress,
                       target_class=target_class)
    st.rerun()


def _submit(data_dir: str, run, rows: int, method: str, budget: float,
            target_class: str | None, cost) -> None:
    """A large request (estimated over the job threshold): a background job, said so."""
    with errors_shown():
        st.session_state[JOB_KEY] = resources.job_manager(data_dir).submit(
            **shap_job(resources.settings(), run, rows, method, budget, target_class))
    capped = ""
    if cost.seconds > budget:  # the explainer stops at the budget: say so, not only 6,000 s
        capped = (f" Your time budget of {budget:g} s is shorter than this estimate and stops "
                  f"the explainer when spent, so fewer than the {rows:,} rows asked may be "
                  f"explained (the result says how many; raise the budget for more).")
    st.info(f"About {cost.seconds:,.0f} s estimated ({cost.evaluations:,} model evaluations "
            f"with {explainer_names().get(cost.method, cost.method)}): computing in the "
            f"background, so the app stays responsive. The values show here when it ends."
            + capped, icon=":material/directions_run:")


def status(exp) -> None:
    """Which explainer ran and why, the sample, and the additivity check."""
    budget = (f" (the time budget stopped it: {exp.requested_rows:,} asked)"
              if exp.requested_rows > len(exp.rows) else "")
    st.caption(f"Explainer: **{exp.explainer}**. {exp.reason} **{len(exp.rows):,} test rows** "
               f"explained{budget}, background {exp.background_rows} training rows · "
               f"{exp.seconds:.1f} s · values in {exp.output_space}")
    text = (f"Additivity: base value {exp.base_value:.4f} + sum of SHAP values matches the "
            f"model output within {exp.additivity_max_error:.2e}")
    if exp.additivity_ok:
        st.caption(f":material/check_circle: {text}.")
    else:
        st.warning(f"{text}, more than 1e-3: the values do not add up to the score exactly "
                   f"(an approximate explainer). Read them as indicative.")


def global_view(data_dir: str, run, exp, names: dict[str, str] | None = None) -> None:
    """Mean |SHAP| bar, beeswarm, and the comparison with permutation importance (``exp`` may
    be :func:`core.explain.with_names`' copy: ``names`` renames the permutation figures too)."""
    encoded = st.toggle("Show encoded features (one-hot parts separately)", key="explain__encoded",
                        disabled=not exp.encoded_names,
                        help=None if exp.encoded_names else f"{exp.explainer} works per column.")
    imp = exp.importance(encoded=encoded)
    space = exp.output_space
    left, right = st.columns(2)
    left.plotly_chart(importance_figure(imp, len(exp.rows), output_space=space),
                      key="explain__importance")
    if encoded:
        rows = pd.DataFrame(exp.encoded_rows, columns=exp.encoded_names)
        fig = beeswarm_figure(exp.encoded_values, rows, exp.encoded_names, list(imp["feature"]),
                              output_space=space)
    else:
        fig = beeswarm_figure(exp.values, exp.rows, exp.columns, list(imp["feature"]),
                              output_space=space)
    right.plotly_chart(fig, key="explain__beeswarm")
    st.caption(f":material/straighten: {units_text(run, exp)}")
    if run.config.task != "binary":
        return
    if st.toggle("Compare with permutation importance", key="explain__perm"):
        with errors_shown():
            bar = st.progress(0.0, text="Shuffling each column …")
            perm = resources.permutation_importance(
                data_dir, run.run_id, lambda done, total, column: bar.progress(
                    done / total, text=f"Shuffling '{column}' ({done + 1} of {total} columns)"
                    if done < total else "Done"))
            bar.empty()
        perm = perm.assign(feature=[(names or {}).get(f, f) for f in perm["feature"]])
        st.plotly_chart(importance_comparison_figure(exp.importance(), perm, len(exp.rows),
                                                     min(2000, len(run.test_frame))),
                        key="explain__perm_chart")
        st.caption("Permutation importance: the drop in test ROC-AUC when one column's values "
                   "are shuffled (scikit-learn). It measures what the score needs; SHAP measures "
                   "what moves it. Columns far apart in the two deserve a look.")


def pdp_view(data_dir: str, run, exp, names: dict[str, str]) -> None:
    """Partial dependence and ICE of any column (scikit-learn's ``partial_dependence``, the
    same grid for every model family), most important column first."""
    st.subheader("Partial dependence and ICE")
    left, right = st.columns([2, 1])
    ranked = [c for c in exp.importance()["feature"] if c in run.features]
    options = [*ranked, *[c for c in run.features if c not in ranked]]
    column = left.selectbox("Column (most important first)", options,
                            format_func=lambda c: names.get(c, c),
                            key=f"explain__pdp_col_{run.run_id}")
    rows = right.select_slider("Test rows averaged", [100, 300, 1000], 300,
                               key="explain__pdp_rows")
    with errors_shown(), st.spinner(f"Scoring {rows:,} rows at each value of "
                                    f"'{names.get(column, column)}' …"):
        result = resources.partial_dependence(data_dir, run.run_id, column, int(rows))
    st.plotly_chart(pdp_figure(dataclasses.replace(result, feature=names.get(column, column))),
                    key="explain__pdp")
    st.caption("Bold: the model's average output when every row takes that value of the "
               "column, the rest of the row unchanged (partial dependence). Grey: the same for "
               "single rows (ICE); lines that cross or fan out mean the column acts differently "
               "for different customers: an interaction. Values outside the 5th–95th "
               "percentiles are left out, where the model saw little data.")


def interaction_view(data_dir: str, run) -> None:
    """SHAP interaction values of a tree model: the strongest pairs of columns."""
    if run.config.model != "hgb":
        return
    if not st.toggle("SHAP interaction values (tree models)", key="explain__interactions",
                     help="TreeExplainer splits each SHAP value into a main effect and the "
                          "interactions with every other column (200 test rows)."):
        return
    with errors_shown(), st.spinner("Computing SHAP interaction values for 200 rows …"):
        inter = resources.interactions(data_dir, run.run_id)
    left, right = st.columns([3, 2])
    left.plotly_chart(interaction_figure(inter.strength()), key="explain__interaction_map")
    right.dataframe(inter.top_pairs(10).round(4), hide_index=True, width="stretch")
    right.caption("Mean |interaction| in log-odds over 200 test rows: how much of two "
                  "columns' effect exists only in combination.")


def _pick_row(run, exp):
    binary = run.config.task == "binary"
    modes = list(ROW_MODES) if binary else ["rank", "id"]  # mistakes need a threshold
    mode = st.radio("Choose a row by", modes, format_func=ROW_MODES.get,
                    horizontal=True, key="explain__row_mode")
    if mode == "id":
        row_id = st.number_input("Test row id (position in the test split)", 0,
                                 len(run.test_frame) - 1, int(exp.row_ids[0]), 1,
                                 key="explain__row_id")
        with errors_shown():
            return explain_test_row(run, exp, int(row_id))
    order = row_order(exp, mode, state.threshold())
    if not order.size:
        st.info(f"No explained row is misclassified at threshold {state.threshold():.4f}.")
        return None
    label = {"rank": "Score rank (1 = highest)" if binary else "Rank of the explained output "
             "(1 = highest)", "surprising": "Mistake rank (1 = most confident)"}[mode]
    pick = st.slider(label, 1, len(order), 1, key=f"explain__rank_{mode}") if len(order) > 1 else 1
    return exp, int(order[pick - 1])


def _row_heading(run, one, i: int) -> tuple[str, str]:
    """``(markdown heading, the class or target the sentence speaks of)`` of one row."""
    f = row_facts(run, one, i)
    return (f"**Test row {int(one.row_ids[i])}** · {f.score_label} **{f.score}** · actual "
            f"**{f.actual}**", f.about)


def local_view(run, exp, names: dict[str, str]) -> tuple | None:
    """Waterfall, raw values and the sentence for one row. Returns ``(explanation, i)``."""
    picked = _pick_row(run, exp)
    if picked is None:
        return None
    one, i = picked
    shown = with_names(one, names)
    c = contributions(shown, i)
    heading, about = _row_heading(run, one, i)
    st.markdown(heading)
    st.info(explain_in_words(c, one.base_value, float(one.output[i]), one.output_space, about,
                             calibrated=run.calibrated_scores, task=run.config.task))
    left, right = st.columns([3, 2])
    left.plotly_chart(waterfall_figure(c, one.base_value, float(one.output[i]), one.output_space),
                      key="explain__waterfall")
    raw = shown.rows.iloc[i]
    right.dataframe(pd.DataFrame({"value": raw.astype(str).to_numpy(), "SHAP value": one.values[i]},
                                 index=shown.columns), width="stretch")
    return one, i


def dependence_view(exp) -> None:
    """A column's value against its SHAP value, coloured by its strongest interacting column."""
    st.subheader("Dependence")
    order = list(exp.importance()["feature"])
    column = st.selectbox("Column", order, key="explain__dep_col")
    partner = strongest_interaction(exp, column)
    options = [c for c in exp.columns if c != column]
    colour = st.selectbox("Colour by (default: the strongest interaction)", options,
                          index=options.index(partner) if partner in options else 0,
                          key=f"explain__dep_color_{column}")
    j = exp.columns.index(column)
    st.plotly_chart(dependence_figure(exp.rows[column], exp.values[:, j], column,
                                      exp.rows[colour], colour, exp.output_space),
                    key="explain__dependence")


def _edit_inputs(run, raw: pd.Series, row_key: str, names: dict[str, str]) -> dict:
    """One input per feature, prefilled with the row's values (keys carry the row, so another
    row starts from its own values)."""
    pre, values = run.preprocessor, {}
    cols = st.columns(3)
    for k, name in enumerate(run.features):
        col, label = cols[k % 3], names.get(name, name)
        if name in pre.numeric_:
            v = pd.to_numeric(pd.Series([raw[name]]), errors="coerce").iloc[0]
            values[name] = col.number_input(label, value=float(v) if pd.notna(v) else 0.0,
                                            key=f"explain__wi_{row_key}_{name}")
        else:
            levels = list(dict.fromkeys([str(raw[name]), *pre.categories_[name]]))
            values[name] = col.selectbox(label, levels, key=f"explain__wi_{row_key}_{name}")
    return values


def what_if_view(run, picked, names: dict[str, str]) -> None:
    """Edit the chosen row's values and see the new score and explanation."""
    if picked is None:
        return
    one, i = picked
    with st.expander("What if? Edit this row and see the new score", icon=":material/edit:"):
        with st.form("explain__what_if"):
            values = _edit_inputs(run, one.rows.iloc[i], str(int(one.row_ids[i])), names)
            go = st.form_submit_button("Score the edited row")
        if not go:
            return
        edited = pd.DataFrame([values])
        with errors_shown():
            new = what_if(run, one, edited)
        fmt = "{:,.4g}" if run.config.task == "regression" else "{:.3f}"
        st.metric("New score", fmt.format(new.scores[0]),
                  delta=fmt.format(new.scores[0] - one.scores[i]))
        c = contributions(with_names(new, names), 0)
        about = _row_heading(run, one, i)[1]
        st.info(explain_in_words(c, new.base_value, float(new.output[0]), new.output_space,
                                 about, calibrated=run.calibrated_scores,
                                 task=run.config.task))
        st.plotly_chart(waterfall_figure(c, new.base_value, float(new.output[0]),
                                         new.output_space), key="explain__what_if_chart")


def report_view(data_dir: str, run, exp) -> None:
    """Download the review report (HTML, or PDF printed by headless Chromium)."""
    from core.report import ReportOptions

    inputs = state.impact_inputs()
    scenario = ({k: inputs[k] for k in ("contact_cost", "conversion_value", "fraction")}
                if inputs and {"contact_cost", "conversion_value"} <= set(inputs) else None)
    computed = state.impact_result(run.run_id)
    fair = st.session_state.get(f"evaluate__fair_{run.run_id}")
    fair = fair if fair and fair != "(choose a column)" else None
    options = ReportOptions(threshold=state.threshold(), rows=len(exp.rows), scenario=scenario,
                            scenario_result=computed, fairness_by=fair)
    scenario = scenario or computed
    st.caption(f"Summary, data profile, preparation, model card, metrics with intervals at "
               f"threshold {options.threshold:.4f}, curves, segments, SHAP global and three "
               f"customers" + (f", fairness by {fair}" if fair else "")
               + (", and your Impact scenario." if scenario else "."))
    settings = resources.settings()
    left, right = st.columns(2)
    for col, fmt, mime in ((left, "html", "text/html"), (right, "pdf", "application/pdf")):
        col.download_button(f"Download the report ({fmt.upper()})",
                            functools.partial(_report, settings, run, fmt, options, exp),
                            file_name=f"review-{run.run_id}.{fmt}", mime=mime,
                            key=f"explain__report_{fmt}", icon=":material/download:")


def _report(settings, run, fmt, options, exp) -> bytes:
    from core.report import report_bytes

    try:
        return report_bytes(settings, run, fmt, options, exp)
    except AppError as err:  # runs off the script thread: return the message as the file
        return f"The report could not be built: {err}".encode()


def show(data_dir: str, run) -> None:
    """The Explain page body (binary, multiclass per class, regression in target units)."""
    resources.freeze_heap("tensorflow" in sys.modules)
    exp = compute_controls(data_dir, run)
    if exp is None:
        return
    status(exp)
    names = resources.column_names(data_dir, run.run_id)  # the file's headers, for people
    shown = with_names(exp, names)
    whole, one, report = st.tabs(["Whole model", "One customer", "Review report"],
                                 key="explain__tab")
    try:
        with whole:
            global_view(data_dir, run, shown, names)
            dependence_view(shown)
            if run.config.task != "multiclass":
                pdp_view(data_dir, run, exp, names)
            if run.config.task == "binary":
                interaction_view(data_dir, run)
        with one:
            what_if_view(run, local_view(run, exp, names), names)
    except AppError as err:
        show_error(err)
    with report:
        report_view(data_dir, run, exp)
        if run.config.task == "binary":
            audit_view(data_dir, run)
