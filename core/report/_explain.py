"""Report sections on explanations, the business scenario, and non-binary runs."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from core.config import Settings
from core.errors import AppError
from core.evaluate import (
    evaluate_multiclass,
    evaluate_regression,
    multiclass_confusion_figure,
    predicted_actual_figure,
    residual_figure,
)
from core.explain import (
    contributions,
    explain_cached,
    explain_in_words,
    load_explanation,
    row_facts,
    row_order,
    with_names,
)
from core.impact import ScenarioInputs, list_scenarios, simulate_scenario
from core.plots import beeswarm_figure, importance_figure, profit_figure, waterfall_figure
from core.report._html import bullet_list, figure_html, keep, paragraph, section, table_html
from core.runs import Run
from core.specs import Economics

log = logging.getLogger(__name__)
SCENARIO_LABELS = {"fraction": "Share contacted", "targeted": "Customers contacted",
                   "population": "Customers in the population",
                   "conversions_model": "Conversions (model)",
                   "conversions_random": "Conversions (random, expected)",
                   "conversion_rate_model": "Conversion rate (model)",
                   "base_rate": "Conversion rate (random)",
                   "conversion_lift": "Conversion lift (× random)",
                   "revenue_model": "Revenue (model)", "cost_model": "Cost (model)",
                   "profit_model": "Profit (model)", "profit_random": "Profit (random)",
                   "profit_vs_random": "Profit gain over random", "roi_model": "ROI (model)",
                   "best_fraction": "Most profitable share", "best_profit": "Profit there"}
_SHARES = {"fraction", "best_fraction", "conversion_rate_model", "base_rate", "roi_model",
           "break_even_fraction"}


def scenario_value(key: str, value) -> str:
    """A scenario number as the Impact page shows it: shares and rates as percentages, lift as
    ``×``, counts and money without decimals (money in the scenario's own currency units)."""
    if value is None or not isinstance(value, int | float) or isinstance(value, bool):
        return "undefined" if value is None else str(value)
    if not np.isfinite(value):
        return "undefined"
    if key in _SHARES:
        return f"{value:.1%}"
    if key.startswith("conversion_lift"):
        return f"{value:.2f}×"
    return f"{value:,.0f}"


def load_or_explain(run: Run, explanation, rows: int):
    """The explanation to report: the given one, the run's cache, or a fresh one.

    Returns:
        ``(explanation or None, note)``; the note says why there is none.
    """

    if explanation is not None:
        return explanation, ""
    try:
        return load_explanation(run) or explain_cached(run, rows), ""
    except AppError as err:
        return None, f"No SHAP explanation: {err}"


def _example_rows(exp, threshold: float | None) -> list[tuple[str, int]]:
    ranked = row_order(exp, "rank")
    picks = [("Highest score", int(ranked[0])), ("Lowest score", int(ranked[-1]))]
    wrong = row_order(exp, "surprising", threshold) if threshold is not None else ranked[:0]
    if wrong.size:
        picks.append(("Most surprising error", int(wrong[0])))
    else:
        picks.append(("Median score", int(ranked[len(ranked) // 2])))
    return picks


def _local(run: Run, exp, title: str, i: int) -> str:

    c = contributions(exp, i)
    facts = row_facts(run, exp, i)
    words = explain_in_words(c, exp.base_value, float(exp.output[i]), exp.output_space,
                             facts.about, calibrated=run.calibrated_scores, task=run.config.task)
    top = c.reindex(c.abs().sort_values(ascending=False).index)[:8]
    df = pd.DataFrame({"column = value": top.index, "SHAP value": top.to_numpy()})
    return keep(f"<h3>{title}: test row {int(exp.row_ids[i])} ({facts.score_label} "
                f"{facts.score}, actual {facts.actual})</h3>" + paragraph(words)
                + figure_html(waterfall_figure(c, exp.base_value, float(exp.output[i]),
                                               exp.output_space))) + table_html(df, "{:+.4f}")


def explanation_sections(run: Run, exp, note: str, threshold: float | None,
                         names: dict[str, str] | None = None) -> list[str]:
    """SHAP global (importance, beeswarm) and three local explanations, with the columns named
    as the analyst's file had them (``names``: SQL name → header). ``threshold`` picks the
    most surprising error of a binary run (None for multiclass and regression)."""

    if exp is None:
        return [section("SHAP explanations", paragraph(note, "note"), anchor="shap")]
    exp = with_names(exp, names or {})
    imp = exp.importance()
    status = ("within 1e-3" if exp.additivity_ok else "NOT within 1e-3: read the values with care")
    facts = [f"Explainer: {exp.explainer}. {exp.reason}",
             f"{len(exp.rows):,} test rows explained (of {exp.requested_rows or len(exp.rows):,} "
             f"asked), background of {exp.background_rows} training rows, {exp.seconds:.1f} s.",
             f"Values in {exp.output_space}; one-hot parts summed into their source column.",
             f"Additivity: base value {exp.base_value:.4f} + sum of SHAP values matches the model "
             f"output with a largest error of {exp.additivity_max_error:.2e} ({status})."]
    glob = section("SHAP: what drives the model", bullet_list(facts),
                   figure_html(importance_figure(imp, len(exp.rows),
                                                 output_space=exp.output_space)),
                   figure_html(beeswarm_figure(exp.values, exp.rows, exp.columns,
                                               list(imp["feature"]),
                                               output_space=exp.output_space)), anchor="shap")
    local = section("SHAP: three customers",
                    *(_local(run, exp, t, i) for t, i in _example_rows(exp, threshold)),
                    anchor="shap-local")
    return [glob, local]


def _saved_scenario(settings: Settings, run: Run) -> dict | None:
    try:

        mine = [s for s in list_scenarios(settings) if s["run_id"] == run.run_id]
    except (ImportError, AppError) as err:
        log.info("no saved scenarios: %s", err)
        return None
    return mine[0] if mine else None


def scenario_section(settings: Settings, run: Run, ev, inputs: dict | None,
                     computed: dict | None = None) -> str:
    """The business scenario: the one computed on the Impact page, else the one given (run on
    the test split), else the run's latest saved one, else nothing.

    Args:
        settings: Workspace settings.
        run: The reported run.
        ev: Its evaluation (test labels and scores).
        inputs: ``{"contact_cost", "conversion_value", "fraction"}`` to simulate, or None.
        computed: ``{"title", "summary", "curve"}`` of a scenario already simulated (the
            Impact page's own result, so the report shows its very numbers), or None.
    """

    if computed:
        summary, curve, title = computed["summary"], computed["curve"], computed["title"]
    elif inputs:

        result = simulate_scenario(ev.y, ev.s, ScenarioInputs.top_share(
            float(inputs.get("fraction", 0.2)),
            Economics(float(inputs["contact_cost"]), float(inputs["conversion_value"]))))
        summary, curve = result.summary(), result.curve
        title = (f"Contact cost {inputs['contact_cost']:g}, value of a conversion "
                 f"{inputs['conversion_value']:g}, on the test split")
    else:
        saved = _saved_scenario(settings, run)
        if saved is None:
            return ""
        summary, curve = saved["summary"], saved["curve"]
        title = f"Saved scenario '{saved['name']}' (population: {saved['population']})"
    rows = [(label, scenario_value(k, summary.get(k)))
            for k, label in SCENARIO_LABELS.items() if summary.get(k) is not None]
    ci = summary.get("ci95") or {}
    rows += [(f"95% interval: {SCENARIO_LABELS.get(k, k.replace('_', ' '))}",
              f"{scenario_value(k, v[0])} – {scenario_value(k, v[1])}")
             for k, v in ci.items() if isinstance(v, list | tuple) and len(v) == 2]
    parts = [paragraph(title + ". Money in the scenario's own currency units; intervals: "
                               "bootstrap 95% (percentile)."),
             table_html(pd.DataFrame(rows, columns=["", "value"]))]
    if curve and "fraction" in curve and "profit_model" in curve:
        parts.append(figure_html(profit_figure(
            {k: np.asarray(v) for k, v in curve.items() if k in ("fraction", "profit_model",
                                                                 "profit_random")},
            float(summary.get("best_fraction", 0.0)), float(summary.get("best_profit", 0.0)),
            summary.get("fraction"), summary.get("break_even_fraction"))))
    return section("Business scenario", *parts, anchor="scenario")


def other_task_sections(run: Run, scored) -> tuple[list[str], list[str]]:
    """Summary and metrics of a multiclass or regression run (its SHAP sections follow)."""

    head = section("Summary", paragraph(f"{scored.task.capitalize()} run {run.run_id}: model "
                                        f"{run.config.model} on table "
                                        f"'{run.config.table}', target "
                                        f"'{run.config.target}'."))
    if scored.task == "multiclass":
        rep = evaluate_multiclass(scored.y, scored.output, scored.classes)
        body = [table_html(pd.DataFrame(rep.metrics.items(), columns=["metric", "value"])),
                table_html(pd.DataFrame(rep.per_class)),
                figure_html(multiclass_confusion_figure(rep.confusion, rep.classes))]
    else:
        rep = evaluate_regression(scored.y, scored.output)
        body = [table_html(pd.DataFrame(rep.metrics.items(), columns=["metric", "value"])),
                figure_html(predicted_actual_figure(scored.y, scored.output)),
                figure_html(residual_figure(scored.y, scored.output))]
    notes = [paragraph(n, "note") for n in rep.notes]
    return [head, section("Metrics", *body, *notes)], ["summary", "metrics"]
