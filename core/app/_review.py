"""``python -m core evaluate | explain | report``: the review commands of :mod:`core.app`.

Each returns one JSON-ready dict; shapes extend (never break) the contract in DESIGN.md.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from core.app._paths import finite_float, output_file, write_atomically
from core.errors import AppError
from core.evaluate import (
    SegmentTables,
    ThresholdPolicy,
    choose_run_threshold,
    evaluate_multiclass,
    evaluate_regression,
    evaluate_scores,
    is_reliable,
    scored_set,
    to_jsonable,
)
from core.explain import explain_run, save_explanation
from core.report import ReportOptions, write_report
from core.runs import column_names, load_run
from core.warehouse import pid_tag, scratch_root

EXPLAIN_METHODS = ("auto", "deeplift", "blend", "deep", "gradient", "tree", "linear",
                   "permutation", "kernel")


def add_evaluate_arguments(s: argparse.ArgumentParser) -> None:
    """Options of ``evaluate`` beyond ``RUN_ID [--threshold T]``."""
    s.add_argument("--policy", choices=["best_f1", "recall", "precision", "top_k", "cost"],
                   help="pick the threshold: best F1, a target recall/precision, the top share, "
                        "or the lowest expected cost (overrides --threshold)")
    s.add_argument("--target", type=finite_float, help="target recall/precision or top share (0-1]")
    s.add_argument("--cost-fp", type=finite_float, default=1.0, help="cost of a false positive")
    s.add_argument("--cost-fn", type=finite_float, default=1.0, help="cost of a false negative")
    s.add_argument("--segment", help="also report every metric per segment of this column")
    s.add_argument("--bootstrap", type=int, default=200,
                   help="bootstrap resamples for the 95%% intervals (0 to skip)")


def add_explain_arguments(s: argparse.ArgumentParser) -> None:
    """Options of ``explain`` beyond ``RUN_ID [--rows N] [--seed S]``."""
    s.add_argument("--method", default="auto", choices=EXPLAIN_METHODS,
                   help="explainer (default: the one that fits the model, with fallbacks)")
    s.add_argument("--budget", type=finite_float,
                   help="time budget in seconds (fewer rows when over)")
    s.add_argument("--class", dest="target_class",
                   help="multiclass runs: the class whose probability is explained "
                        "(default: the first class)")


def add_report_parser(sub) -> None:
    """The ``report`` subcommand."""
    s = sub.add_parser("report", help="model review report as self-contained HTML (or PDF)")
    s.add_argument("run_id")
    s.add_argument("--out", required=True, help="output file; .pdf prints a PDF, else HTML "
                                                "(never inside the data directory)")
    s.add_argument("--force", action="store_true", help="overwrite an existing file")
    s.add_argument("--threshold", type=finite_float, help="decision threshold (default: the run's)")
    s.add_argument("--rows", type=int, default=1000, help="test rows to explain if not cached")
    s.add_argument("--segment", help="column of the segment table (default: the most uneven)")
    s.add_argument("--contact-cost", type=finite_float, help="business scenario: cost per contact")
    s.add_argument("--conversion-value", type=finite_float,
                   help="business scenario: value per conversion")
    s.add_argument("--fraction", type=finite_float, default=0.2,
                   help="business scenario: share contacted")
    s.add_argument("--fairness-by", help="add a fairness section for this sensitive column")


def _threshold(args, table, valid_scores) -> tuple[float, dict | None]:
    if args.policy is None:
        if not 0.0 <= args.threshold <= 1.0:
            raise AppError(f"--threshold must be in [0, 1]; got {args.threshold}.")
        return args.threshold, None
    choice = choose_run_threshold(valid_scores, table, ThresholdPolicy(
        args.policy, args.target, args.cost_fp, args.cost_fn))
    return choice.threshold, {"policy": args.policy, "target": args.target,
                              "explanation": choice.explanation, "chosen_on": choice.split,
                              "flagged": choice.flagged, "expected_cost": choice.expected_cost}


def _segment_rows(scored, ev, column: str, threshold: float,
                  names: dict[str, str]) -> list[dict]:
    by_header = {v: k for k, v in names.items()}  # the file's header names the column too
    column = column if column in scored.frame.columns else by_header.get(column, column)
    if column not in scored.frame.columns:
        raise AppError(f"--segment: the run has no feature column '{column}'. Its columns are: "
                       f"{', '.join(names.get(c, c) for c in scored.frame.columns)}.")
    df = SegmentTables.build(ev.y, ev.s, scored.frame[column], column).at(threshold)
    return [{k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}
            for row in df.to_dict("records")]


def evaluate_command(args, settings) -> dict:
    """``evaluate``: metrics at a threshold (or a policy's), intervals, confusion, segments."""

    run = load_run(settings, args.run_id)
    scored = scored_set(run)
    base = {"run_id": run.run_id, "task": scored.task, "rows": int(len(scored.y))}
    if scored.task != "binary":
        return {**base, **_other_task(scored)}
    ev = evaluate_scores(scored.y, scored.output, scored.classes[1], scored.classes[0],
                         n_boot=max(args.bootstrap, 0))
    threshold, policy = _threshold(args, ev.table, run.valid_scores)
    rep = ev.at(threshold, n_boot=2000 if args.bootstrap > 0 else 0)
    out = {**base, "threshold": rep.threshold, "positive_class": scored.classes[1],
           "metrics": to_jsonable(rep.metrics), "ci95": rep.ci95, "confusion": rep.confusion,
           "notes": rep.notes, "reliable": is_reliable(rep.notes), "policy": policy}
    if args.segment:
        out["segments"] = _segment_rows(scored, ev, args.segment, threshold,
                                        column_names(settings, run))
    return out


def _other_task(scored) -> dict:
    if scored.task == "multiclass":
        rep = evaluate_multiclass(scored.y, scored.output, scored.classes)
        return {"threshold": None, "metrics": rep.metrics, "per_class": rep.per_class,
                "confusion": rep.confusion, "classes": rep.classes, "notes": rep.notes}
    rep = evaluate_regression(scored.y, scored.output)
    return {"threshold": None, "metrics": rep.metrics, "confusion": None, "notes": rep.notes}


def explain_command(args, settings) -> dict:
    """``explain``: SHAP values for test rows (cached in the run folder), importance by column."""

    run = load_run(settings, args.run_id)
    exp = explain_run(run, n_rows=args.rows, seed=args.seed, method=args.method,
                      budget_s=args.budget, target_class=args.target_class)
    save_explanation(run, exp)
    imp = exp.importance()
    names = column_names(settings, run)  # the headers as the analyst's file had them
    return {"run_id": run.run_id, "explainer": exp.explainer, "method": exp.method,
            "target_class": exp.target_class,
            "reason": exp.reason, "output_space": exp.output_space,
            "base_value": exp.base_value, "rows": int(len(exp.rows)),
            "rows_requested": exp.requested_rows, "background_rows": exp.background_rows,
            "importance": [{"feature": names.get(f, f), "mean_abs_shap": float(v)}
                           for f, v in zip(imp["feature"], imp["mean_abs_shap"])],
            "additivity_max_error": exp.additivity_max_error,
            "additivity_ok": exp.additivity_ok, "seconds": exp.seconds}


def report_command(args, settings) -> dict:
    """``report``: the review report as HTML, or PDF when ``--out`` ends with ``.pdf``."""

    run = load_run(settings, args.run_id)
    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        raise AppError(f"--threshold must be in [0, 1]; got {args.threshold}.")
    scenario = None
    if (args.contact_cost is None) != (args.conversion_value is None):
        raise AppError("A business scenario needs both --contact-cost and --conversion-value.")
    if args.contact_cost is not None:
        scenario = {"contact_cost": args.contact_cost, "conversion_value": args.conversion_value,
                    "fraction": args.fraction}
    options = ReportOptions(args.threshold, args.rows, args.segment, scenario,
                            fairness_by=args.fairness_by)
    target = output_file(settings, args.out, args.force)
    suffix = ".pdf" if target.suffix.lower() == ".pdf" else ".html"
    with tempfile.TemporaryDirectory(prefix=f"report-{pid_tag()}-",
                                     dir=scratch_root(settings)) as tmp:
        info = write_report(settings, run, Path(tmp) / f"review{suffix}", options)
        write_atomically(target, Path(info["out"]).read_bytes())
    return {"run_id": run.run_id, **info, "out": str(target)}
