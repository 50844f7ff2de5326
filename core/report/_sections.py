"""The sections of the model review report (:mod:`core.report`), each built from core results."""

from __future__ import annotations

import json
import logging

import pandas as pd

from core.config import Settings
from core.errors import AppError
from core.evaluate import (
    METRIC_NAMES,
    BinaryEvaluation,
    SegmentTables,
    binary_figures,
    evaluate_scores,
    scored_set,
)
from core.report._explain import (
    explanation_sections,
    load_or_explain,
    other_task_sections,
    scenario_section,
)
from core.report._fairness import fairness_section
from core.report._html import bullet_list, figure_html, paragraph, section, table_html
from core.report._monitoring import monitoring_section
from core.report._options import ReportOptions
from core.report._privacy import privacy_section
from core.runs import Run, column_names, model_parameters
from core.tables import profile_table
from core.warehouse import META_SCHEMA, connect

log = logging.getLogger(__name__)
METRIC_LABELS = {k: METRIC_NAMES[k] for k in (
    "accuracy", "balanced_accuracy", "precision", "recall", "specificity", "f1", "roc_auc",
    "pr_auc", "log_loss", "brier")}


def _ci(ci: list[float] | None) -> str:
    return f"{ci[0]:.3f} – {ci[1]:.3f}" if ci else ""


def metrics_table(rep) -> pd.DataFrame:
    """Metric, value and bootstrap 95% interval rows of a binary report."""
    return pd.DataFrame([(label, rep.metrics.get(k), _ci(rep.ci95.get(k)))
                         for k, label in METRIC_LABELS.items()],
                        columns=["metric", "value", "95% interval (bootstrap)"])


def _summary(run: Run, rep, exp) -> str:
    m = rep.metrics
    c = run.config
    items = [f"Model: {c.model} on table '{c.table}', target '{c.target}' (positive class "
             f"'{c.positive_class}').",
             f"Ranking quality: ROC-AUC {_num3(m['roc_auc'])} (95% {_ci(rep.ci95.get('roc_auc'))}),"
             f" PR-AUC {_num3(m['pr_auc'])}.",
             f"At threshold {rep.threshold:.4f}: precision {_num3(m['precision'])}, recall "
             f"{_num3(m['recall'])}, F1 {_num3(m['f1'])} (95% {_ci(rep.ci95.get('f1'))})."]
    if exp is not None:
        top = ", ".join(exp.importance()["feature"][:3])
        items.append(f"Strongest drivers (mean |SHAP|): {top}.")
    return section("Summary", bullet_list(items), anchor="summary")


def _num3(v) -> str:
    return "undefined" if v is None else f"{v:.3f}"


def _profile(settings: Settings, run: Run) -> list[str]:
    c = run.config
    try:

        with connect(settings) as con:
            prof = profile_table(con, c.table, c.target, c.positive_class)
    except (ImportError, AppError) as err:
        return [f"No profile: {err}"]
    out = [f"Table '{prof.table}': {prof.rows:,} rows, {len(prof.columns)} columns."]
    if prof.balance:
        out.append("Target balance: " + ", ".join(f"{lbl} {share:.1%} ({n:,})"
                                                  for lbl, n, share in prof.balance))
    ranked = sorted((c for c in prof.columns if c.target_auc is not None),
                    key=lambda c: -c.target_auc)[:5]
    if ranked:
        out.append("Columns most related to the target on their own (AUC): " + ", ".join(
            f"{c.name} {c.target_auc:.2f}" for c in ranked) + ".")
    excluded = set(run.excluded_columns)
    leak_of = {w: col for col, w in prof.leaks.items()}
    return out + [w + (" This run excludes it." if leak_of[w] in excluded else
                       " This run uses it.") if w in leak_of else w for w in prof.warnings[:8]]


def _data(settings: Settings, run: Run) -> str:
    rows = run.config.rows
    split = pd.DataFrame([(k, v) for k, v in rows.items()], columns=["split", "rows"])
    return section("Data", paragraph("Rows used by the run, after dropping rows without a target, "
                                     "split with stratification by the target:"),
                   table_html(split), "<h3>Profile highlights</h3>",
                   bullet_list(_profile(settings, run)), anchor="data")


def _preparation(settings: Settings, run: Run) -> str:
    table = run.config.table
    with connect(settings) as con:
        raw = con.execute(f"SELECT source FROM {META_SCHEMA}.catalog WHERE lower(table_name) = lower(?)",
                          [table]).fetchone()
        recipe = con.execute(f"SELECT name, source_table, recipe_json FROM {META_SCHEMA}.recipes "
                             f"WHERE name = ?", [table]).fetchone()
        others = con.execute(f"SELECT name, source_table FROM {META_SCHEMA}.recipes").fetchall()
    parts = []
    if raw is not None:
        parts.append(paragraph(f"'{table}' is a raw table loaded from '{raw[0]}'; the run "
                               f"learned from it as loaded (no preparation recipe)."))
    if recipe is not None:
        steps = json.loads(recipe[2]).get("steps", [])
        df = pd.DataFrame([(i + 1, s.get("kind"), ", ".join(s.get("columns", [])),
                            s.get("method"), s.get("value")) for i, s in enumerate(steps)],
                          columns=["step", "kind", "columns", "method", "value"])
        parts += [paragraph(f"Recipe '{recipe[0]}' applied to '{recipe[1]}':"), table_html(df)]
    elif raw is None:
        known = ", ".join(f"{n} (from {s})" for n, s in others) or "none"
        parts.append(paragraph(f"'{table}' is a prepared table; no recipe named after it is "
                               f"stored. Stored recipes: {known}."))
    parts.append(paragraph("Model input: numeric columns imputed with the training median and "
                           "standardised; other columns one-hot encoded (levels learned on the "
                           "training split only)."))
    return section("Preparation", *parts, anchor="preparation")


def _limitations(run: Run, ev: BinaryEvaluation, exp) -> list[str]:
    n, pos = len(ev.y), int(ev.y.sum())
    out = [f"Evaluated on a random held-out split of {n:,} rows ({pos:,} positives), not on later "
           f"data: performance on future customers may differ."]
    if pos < 100:
        out.append(f"Only {pos} positives in the evaluation set: every metric is uncertain "
                   f"(read the intervals).")
    if ev.calibration and ev.calibration["ece"] > 0.05:
        out.append(f"Scores are not well calibrated (expected calibration error "
                   f"{ev.calibration['ece']:.3f}): use them to rank, not as probabilities.")
    if run.config.class_weight == "balanced":
        out.append("Trained with balanced class weights: scores overstate the probability.")
    excluded = run.excluded_columns
    if excluded:
        out.append(f"Columns left out of the model: {', '.join(excluded)}.")
    if exp is not None:
        out.append(f"Explanations cover {len(exp.rows):,} sampled test rows against "
                   f"{exp.background_rows} training rows; SHAP values describe what the model "
                   f"uses, not what causes the outcome.")
    return out


def _privacy_facts(c) -> list[tuple[str, object]]:
    """Model-card rows of a DP run (ε, δ, C, σ, accountant, sampling) and a compressed run."""
    p, out = c.extra.get("privacy"), []
    if p:
        out += [("Differential privacy", f"ε = {p['epsilon']:.3g}, δ = {p['delta']:.3g} "
                 f"(C = {p['clip']:g}, σ = {p['noise_multiplier']:.3f})"),
                ("Privacy accountant", p["accountant"]), ("Sampling", p["sampling"]),
                ("Preprocessing", p.get("preprocessing"))]
    if c.extra.get("parent"):
        out.append(("Compressed from", f"{c.extra['parent']} "
                    f"({c.extra.get('compression', {}).get('method')})"))
    return out


def _model_card(run: Run, ev: BinaryEvaluation, exp, options: ReportOptions) -> str:
    c = run.config
    use = options.intended_use or (
        f"Rank rows of '{c.table}' by the probability that '{c.target}' is "
        f"'{c.positive_class}', to choose whom to act on first. Not for decisions about "
        f"individuals without human review.")
    facts = [("Run", run.run_id), ("Created", c.created_at), ("Task", c.task),
             ("Model", c.model), ("Device", c.device), ("Training time (s)", c.duration_s),
             *([("Epochs run", c.epochs_run)] if c.epochs_run else []),
             ("Table", c.table), ("Target", c.target), ("Positive class", c.positive_class),
             ("Positive rate (train)", c.positive_rate_train),
             ("Features", f"{len(run.features)} columns → {c.encoded_features} encoded"),
             *_privacy_facts(c)]

    est = c.extra.get("estimator")
    used = model_parameters(c.model, c.model_fields)
    if est:  # a scikit-learn baseline: its own parameters, not the network settings
        used = {"estimator": est["class"], **used, **est["params"]}
        if est.get("iterations") is not None:
            used["iterations run"] = est["iterations"]
    config = pd.DataFrame([(k, json.dumps(v) if isinstance(v, list | dict)
                            else "none (the library's default)" if v is None else v)
                           for k, v in used.items()], columns=["setting", "value"])
    return section("Model card", "<h3>Intended use</h3>", paragraph(use),
                   "<h3>Training data and model</h3>",
                   table_html(pd.DataFrame(facts, columns=["", "value"])),
                   "<h3>Features</h3>", paragraph(", ".join(run.features)),
                   paragraph("Excluded: " + (", ".join(run.excluded_columns) or "none") + "."),
                   "<h3>Configuration</h3>", table_html(config),
                   "<h3>Limitations</h3>", bullet_list(_limitations(run, ev, exp)),
                   anchor="model-card")


def _metrics(ev: BinaryEvaluation, rep, figs: dict) -> str:
    notes = "".join(paragraph(n, "note") for n in rep.notes)
    return section(f"Metrics at threshold {rep.threshold:.4f}",
                   paragraph(f"Test split: {len(ev.y):,} rows, base rate {ev.base_rate:.1%}. "
                             f"Intervals: bootstrap 95% (percentile)."),
                   table_html(metrics_table(rep)), notes, figure_html(figs["confusion"]),
                   anchor="metrics")


def _curves(figs: dict) -> str:
    order = ("roc", "pr", "sweep", "calibration", "distribution", "gains", "lift")
    return section("Curves", *(figure_html(figs[k]) for k in order if k in figs), anchor="curves")


def pick_segment(run: Run, ev: BinaryEvaluation, frame: pd.DataFrame, threshold: float,
                 column: str | None) -> tuple[str, pd.DataFrame] | None:
    """The segment table of ``column``, or of the column whose segments' F1 differ most."""
    candidates = [column] if column else [c for c in run.features if c in frame.columns]
    best = None
    for col in candidates:
        seg = SegmentTables.build(ev.y, ev.s, frame[col], col).at(threshold, "f1")
        big = pd.to_numeric(seg.loc[~seg["small"], "f1"], errors="coerce")
        spread = float(big.max() - big.min()) if big.notna().sum() >= 2 else -1.0
        if best is None or spread > best[0]:
            best = (spread, col, seg)
    return (best[1], best[2]) if best else None


def _segments(run: Run, ev: BinaryEvaluation, frame: pd.DataFrame, threshold: float,
              column: str | None, names: dict[str, str]) -> str:
    picked = pick_segment(run, ev, frame, threshold, column)
    if picked is None:
        return section("Segments", paragraph("No feature column to segment by."))
    col, seg = picked
    col = names.get(col, col)
    why = "chosen by the reviewer" if column else "the column whose segments differ most in F1"
    shown = seg[["segment", "rows", "positives", "base_rate", "precision", "recall", "f1",
                 "roc_auc"]].rename(columns={"base_rate": "base rate", "f1": "F1",
                                             "roc_auc": "ROC-AUC"})
    return section(f"Segments by {col}",
                   paragraph(f"Metrics per segment of '{col}' ({why}) at threshold "
                             f"{threshold:.4f}, worst F1 first. 'undefined': precision where "
                             f"nothing is predicted positive, recall where a segment has no "
                             f"positives, ROC-AUC where it has one class; F1 is 0 where a "
                             f"segment has positives and none is found."),
                   table_html(shown), anchor="segments")


def build_sections(settings: Settings, run: Run, options: ReportOptions,
                   explanation=None) -> tuple[list[str], list[str], float | None]:
    """Every section of the report, in order.

    Returns:
        ``(html parts, section names, threshold)``.
    """

    scored = scored_set(run)
    shown = column_names(settings, run)  # the file's headers, wherever a person reads them
    if scored.task != "binary":
        parts, names = other_task_sections(run, scored)
        exp, exp_note = load_or_explain(run, explanation, options.rows)
        parts += explanation_sections(run, exp, exp_note, None, shown)
        return parts, [*names, "shap global", "shap local"], None
    threshold = options.threshold if options.threshold is not None else float(
        run.metrics.get("threshold") or 0.5)
    ev = evaluate_scores(scored.y, scored.output, scored.classes[1], scored.classes[0])
    rep = ev.at(threshold)
    exp, exp_note = load_or_explain(run, explanation, options.rows)
    figs = binary_figures(ev, rep)
    parts = [_summary(run, rep, exp), _data(settings, run), _preparation(settings, run),
             _model_card(run, ev, exp, options), privacy_section(settings, run),
             _metrics(ev, rep, figs), _curves(figs),
             _segments(run, ev, scored.frame, threshold, options.segment, shown),
             *explanation_sections(run, exp, exp_note, threshold, shown)]
    names = ["summary", "data", "preparation", "model card", "privacy", "metrics", "curves",
             "segments",
             "shap global", "shap local"]
    fairness = fairness_section(settings, run, options.fairness_by, threshold)
    if fairness:
        parts.insert(7, fairness)
        names.insert(7, "fairness")
    scenario = scenario_section(settings, run, ev, options.scenario, options.scenario_result)
    if scenario:
        parts.append(scenario)
        names.append("business scenario")

    monitoring = monitoring_section(settings, run)
    if monitoring:
        parts.append(monitoring)
        names.append("monitoring")
    return parts, names, threshold
