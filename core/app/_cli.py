"""``python -m core``: the LiftLab path headless. One JSON object on stdout per command.

Errors print one line ``error: ...`` on stderr and exit 2 for bad input, 1 for a bug.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time

import numpy as np

from core import __version__
from core.app._analysis_cli import ANALYSIS_COMMANDS, add_analysis_parsers
from core.app._exchange_cli import EXCHANGE_COMMANDS, add_exchange_parsers
from core.app._jobs_cli import (
    JOBS_COMMANDS,
    add_engine_arguments,
    add_jobs_parsers,
    engine_json,
    start_background,
    start_score_background,
)
from core.app._monitor_cli import MONITOR_COMMANDS, add_monitor_parsers
from core.app._paths import finite_float
from core.app._privacy_cli import (
    PRIVACY_COMMANDS,
    add_dp_arguments,
    add_privacy_parsers,
    dp_overrides,
    privacy_json,
)
from core.app._recommend_cli import add_recommend_parser, cmd_recommend
from core.app._review import (
    add_evaluate_arguments,
    add_explain_arguments,
    add_report_parser,
    evaluate_command,
    explain_command,
    report_command,
)
from core.app._tables_cli import TABLES_COMMANDS, add_tables_parsers
from core.app._workflows import train_workflow
from core.app._workspace import score_table
from core.config import load_settings
from core.device import detect_devices
from core.errors import AppError
from core.impact import Decision, ScenarioInputs, run_scenario
from core.ingest import IngestOptions, ingest_file
from core.monitor import resolve_run
from core.runs import list_runs, load_run
from core.specs import (
    ACTIVATIONS,
    LOSSES,
    MODELS,
    OPTIMIZERS,
    PIPELINES,
    TASKS,
    DatasetSpec,
    Economics,
    ModelConfig,
    from_dict,
)
from core.uplift import UpliftConfig, is_uplift, simulate_uplift_run, train_uplift
from core.warehouse import clean_litter, connect, list_tables, run_query, scratch_root

log = logging.getLogger("core.app")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse exits 2 with usage; keep our one-line form
        raise AppError(f"{message}. Run '{self.prog} --help' for usage.")


def _csv(text: str | None) -> tuple[str, ...]:
    return tuple(c.strip() for c in text.split(",") if c.strip()) if text else ()


def cmd_info(args, settings) -> dict:
    info = detect_devices()
    return {"version": __version__, "tensorflow": info.tensorflow, "devices": info.devices,
            "gpu": info.gpu, "device": info.label, "data_dir": str(settings.data_dir)}


def cmd_ingest(args, settings) -> dict:
    delimiter = "\t" if args.delimiter in ("\\t", "tab") else args.delimiter
    markers = None if args.missing_markers is None else tuple(
        m.strip() for m in args.missing_markers.split(","))
    opts = IngestOptions(table=args.table, encoding=args.encoding, delimiter=delimiter,
                         sheet=args.sheet, if_exists="replace" if args.replace else "keep_both",
                         unknown_as_missing=args.unknown_as_missing, missing_markers=markers,
                         column_names=_csv(args.names) or None)
    with connect(settings) as con:
        report = ingest_file(con, args.path, opts, workdir=scratch_root(settings))
    d = report.to_dict()
    d["columns"] = [{"name": c["name"], "type": c["type"], "original_name": c["original_name"],
                     "missing": c["missing"]} for c in d["columns"]]
    return d


def cmd_tables(args, settings) -> dict:
    with connect(settings) as con:
        return {"tables": [{"table": t.table, "rows": t.rows, "columns": t.columns,
                            "source": t.source} for t in list_tables(con)]}


def cmd_sql(args, settings) -> dict:
    result = run_query(settings, args.query, limit=args.limit)
    return {"columns": result.columns, "rows": [list(r) for r in result.rows],
            "truncated": result.truncated, "notes": list(result.notes)}


def _train_spec_and_config(args):
    if args.config:
        try:
            with open(args.config) as fh:
                saved = json.load(fh)
            return from_dict(DatasetSpec, saved["spec"]), from_dict(ModelConfig, saved["model_config"])
        except (OSError, ValueError, KeyError) as err:
            raise AppError(f"--config {args.config} is not a LiftLab run config.json ({err}).") from err
    if not args.table or not args.target:
        raise AppError("train needs --table and --target (or --config run.json).")
    spec = DatasetSpec(table=args.table, target=args.target, positive_class=args.positive,
                       features=_csv(args.features), exclude=_csv(args.exclude),
                       seed=args.seed, task=args.task, missing=args.missing)
    units = tuple(int(u) for u in _csv(args.hidden_units)) if args.hidden_units else None
    overrides = {"model": args.model, "epochs": args.epochs, "batch_size": args.batch_size,
                 "hidden_units": units, "activation": args.activation, "dropout": args.dropout,
                 "learning_rate": args.learning_rate, "optimizer": args.optimizer,
                 "loss": args.loss, "class_weight": args.class_weight,
                 "data_pipeline": args.pipeline, "members": args.members, "width": args.width,
                 "depth": args.depth, "workers": getattr(args, "workers", None),
                 **dp_overrides(args)}
    return spec, ModelConfig.of(**{k: v for k, v in overrides.items() if v is not None})


def cmd_train(args, settings) -> dict:
    if args.treatment:
        return _train_uplift(args, settings)
    spec, cfg = _train_spec_and_config(args)
    if getattr(args, "background", False):
        return start_background(settings, spec, cfg, args.cv or 0, args.tune_trials or 0,
                                args.tune_timeout)
    engine = engine_json(cfg, getattr(args, "tune_parallel", 1))

    def progress(event):
        if event.get("stage") == "epoch":
            logs = event["logs"]
            print(f"epoch {event['epoch']}/{event['epochs']} loss {logs.get('loss', 0):.4f} "
                  f"val_loss {logs.get('val_loss', 0):.4f}", file=sys.stderr)
        elif event.get("stage") in ("trial", "fold"):
            print(json.dumps(event), file=sys.stderr)

    result, cv = train_workflow(settings, spec, cfg, cv=args.cv or 0,
                                tune_trials=args.tune_trials or 0,
                                tune_timeout_s=args.tune_timeout,
                                tune_parallel=getattr(args, "tune_parallel", 1),
                                progress=progress if args.verbose else None)
    c = result.config
    out = {"run_id": result.run_id, "task": c.task, "model": c.model, "device": c.device,
           "positive_class": c.positive_class, "rows": c.rows,
           "metrics": result.metrics["metrics"], "notes": result.metrics["notes"],
           "cv": cv, "data_pipeline": c.data_pipeline, "duration_s": c.duration_s,
           "reliable": result.metrics.get("reliable", True), **_feature_keys(c),
           "engine": engine}
    if "tuning" in c.extra:
        out["tuning"] = c.extra["tuning"]
    if "ensemble" in c.extra:  # the blend's weights and how the validation split chose them
        out["ensemble"] = {k: c.extra["ensemble"][k] for k in ("members", "weights", "criterion")}
    return {**out, **privacy_json(c)}


def _feature_keys(c) -> dict:
    """``features`` (as the file named them) and ``excluded`` ``[{"column", "reason",
    "detail"}]`` of a trained run's config."""
    return {"features": list(c.extra.get("original_features") or c.source_features),
            "excluded": [{k: e[k] for k in ("column", "reason", "detail")}
                         for e in c.extra.get("exclusions") or []]}


def cmd_runs(args, settings) -> dict:
    return {"runs": list_runs(settings)}


def cmd_evaluate(args, settings) -> dict:
    return evaluate_command(args, settings)


def cmd_explain(args, settings) -> dict:
    return explain_command(args, settings)


def cmd_report(args, settings) -> dict:
    return report_command(args, settings)


def cmd_score(args, settings) -> dict:
    # a run id, or a model name: its champion; --background: a detached job (its id back)
    run = resolve_run(settings, args.run_id)
    if getattr(args, "background", False):
        return start_score_background(settings, run, args.table, args.out, args.replace)
    return score_table(settings, run, args.table, args.out, args.replace)


def _train_uplift(args, settings) -> dict:
    if args.cv or args.tune_trials:
        raise AppError("--cv and --tune-trials are not available with --treatment yet.")
    spec, cfg = _train_spec_and_config(args)
    up = UpliftConfig(args.treatment, args.treated_value, args.learner or "t")
    result = train_uplift(settings, spec, cfg, up,
                          (lambda e: print(e.get("message", ""), file=sys.stderr))
                          if args.verbose else None)
    c = result.config
    return {"run_id": result.run_id, "task": c.task, "model": c.model,
            "learner": c.uplift.learner, "device": c.device, "positive_class": c.positive_class,
            "treatment": c.to_dict()["uplift"], "rows": c.rows,
            "metrics": result.metrics["metrics"],
            "ci95": result.metrics["ci95"], "notes": result.metrics["notes"], "cv": None,
            "duration_s": c.duration_s, **_feature_keys(c)}


def _scenario_inputs(args):
    rules = [(r, v) for r, v in (("top_n", args.top_n), ("threshold", args.threshold),
                                  ("budget", args.budget)) if v is not None]
    if len(rules) > 1:
        raise AppError("Use one of --fraction, --top-n, --threshold and --budget.")
    rule, value = rules[0] if rules else ("fraction", args.fraction)
    payoff = None
    if args.payoff:
        try:
            payoff = tuple(float(v) for v in _csv(args.payoff))
        except ValueError as err:
            raise AppError(f"--payoff needs four numbers TP,FP,TN,FN; got {args.payoff}.") from err
    econ = Economics(args.contact_cost, args.conversion_value, args.fixed_cost, payoff,
                     args.value_column, args.organic_share)
    return ScenarioInputs(Decision(rule, value), econ, args.policy, args.bootstrap, args.seed)


def cmd_simulate(args, settings) -> dict:
    run = load_run(settings, args.run_id)
    inputs = _scenario_inputs(args)
    source = {"run_id": run.run_id,
              "population_source": "test split" if args.table is None else args.table}
    if is_uplift(run):
        return {**source, **uplift_json(simulate_uplift_run(settings, run, args.table,
                                                            inputs)[1])}
    return {**source, **run_scenario(settings, run, args.table, inputs)[1].summary()}


# what an uplift campaign's JSON says at its top level: the population, the decision and the
# incremental figures (caused by the treatment); response-style counts go under their own key
_UPLIFT_TOP = ("population", "fraction", "targeted", "decision", "min_score", "cost_model",
               "outcomes", "notes", "basis", "incremental_conversions",
               "incremental_conversions_ci95", "incremental_profit", "incremental_profit_ci95",
               "propensity", "everyone", "uplift")


def uplift_json(summary: dict) -> dict:
    """The ``simulate`` JSON of an uplift run: one profit figure, ``incremental_profit`` (the
    profit the treatment causes); the response-style figures that count every conversion of a
    treated customer as caused (``profit_model`` …) move under ``response_view``, labelled."""
    out = {k: summary[k] for k in _UPLIFT_TOP if k in summary}
    out["profit"] = summary.get("incremental_profit")
    out["response_view"] = {
        "meaning": "conversions and profit among the treated, counting every conversion as "
                   "caused by the treatment (it is not: read incremental_profit)",
        **{k: v for k, v in summary.items() if k not in _UPLIFT_TOP}}
    return out


def _add_train_parser(sub) -> None:
    """The ``train`` subcommand."""
    s = sub.add_parser("train", help="train a model and save a run")
    s.add_argument("--table")
    s.add_argument("--target")
    s.add_argument("--positive", help="positive class label (default: yes-like or rarer class)")
    s.add_argument("--exclude", help="comma-separated columns to leave out")
    s.add_argument("--features", help="comma-separated feature columns (default: all others)")
    s.add_argument("--model", choices=list(MODELS))
    s.add_argument("--epochs", type=int)
    s.add_argument("--batch-size", type=int)
    s.add_argument("--seed", type=int, default=42)
    s.add_argument("--cv", type=int,
                   help="also run k-fold cross-validation (mean ± std, out-of-fold scores)")
    s.add_argument("--task", choices=list(TASKS),
                   help="default: inferred from the target")
    s.add_argument("--missing", choices=["impute", "drop"], default="impute",
                   help="rows with a missing feature value: impute (median, or a '(missing)' "
                        "category; the default) or drop them; the notes say how many")
    s.add_argument("--hidden-units", help="comma-separated units per hidden layer, e.g. 128,64")
    s.add_argument("--members", type=int, help="TabM / ensemble: ensemble members k")
    s.add_argument("--width", type=int, help="TabM / ensemble: units per hidden layer")
    s.add_argument("--depth", type=int, help="TabM / ensemble: hidden layers")
    s.add_argument("--activation", choices=list(ACTIVATIONS))
    s.add_argument("--dropout", type=finite_float)
    s.add_argument("--learning-rate", type=finite_float)
    s.add_argument("--optimizer", choices=list(OPTIMIZERS))
    s.add_argument("--loss", choices=list(LOSSES))
    s.add_argument("--class-weight", choices=["none", "balanced"])
    s.add_argument("--pipeline", choices=list(PIPELINES),
                   help="stream: feed a Keras network from shuffled Parquet snapshots in batches "
                        "(tables larger than memory); auto streams from 20M feature cells")
    s.add_argument("--tune-trials", type=int, help="Optuna hyper-parameter search with N trials")
    s.add_argument("--tune-timeout", type=finite_float, default=600.0,
                   help="search budget in seconds")
    s.add_argument("--config", help="config.json of an earlier run, to reproduce it")
    s.add_argument("--treatment", help="randomised treatment/control column: train an uplift "
                                       "model")
    s.add_argument("--treated-value", help="value of --treatment meaning treated")
    s.add_argument("--learner", choices=["t", "s", "ct"],
                   help="uplift learner: two models, single model, class transformation")
    add_dp_arguments(s)
    add_engine_arguments(s)


def _add_simulate_parser(sub) -> None:
    """The ``simulate`` subcommand."""
    s = sub.add_parser("simulate", help="conversions, lift and profit of targeting by score")
    s.add_argument("run_id")
    s.add_argument("--contact-cost", type=finite_float, required=True)
    s.add_argument("--conversion-value", type=finite_float, required=True)
    s.add_argument("--fraction", type=finite_float, default=0.2, help="share contacted, best first")
    s.add_argument("--top-n", type=finite_float, help="contact this many customers instead")
    s.add_argument("--threshold", type=finite_float, help="contact everyone scoring at least this")
    s.add_argument("--budget", type=finite_float, help="contact as many as this budget pays for")
    s.add_argument("--fixed-cost", type=finite_float, default=0.0, help="campaign cost paid once")
    s.add_argument("--payoff", help="payoff matrix TP,FP,TN,FN instead of cost and value")
    s.add_argument("--value-column", help="per-customer value of a conversion")
    s.add_argument("--organic-share", type=float, default=0.0,
                   help="share of the reached conversions that happen without contact, in "
                        "[0, 1): their value is not credited (incremental profit)")
    s.add_argument("--policy", help="current policy as an SQL condition, e.g. \"age < 30\"")
    s.add_argument("--table", help="a table the run scores (default: its test split)")
    s.add_argument("--bootstrap", type=int, default=500)
    s.add_argument("--seed", type=int, default=42)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m core``."""
    p = _Parser(prog="python -m core", description="LiftLab on the command line.")
    p.add_argument("--data-dir", help="workspace folder (default: $LIFTLAB_DATA_DIR or data/)")
    p.add_argument("-v", "--verbose", action="store_true", help="progress on stderr")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("info", help="version and training devices")
    s = sub.add_parser("ingest", help="load a CSV/TSV/Parquet/Excel/JSON file into a table")
    s.add_argument("path")
    s.add_argument("--table")
    s.add_argument("--sheet")
    s.add_argument("--encoding")
    s.add_argument("--delimiter")
    s.add_argument("--replace", action="store_true", help="replace a table of the same name")
    s.add_argument("--unknown-as-missing", action="store_true",
                   help="also read 'unknown' as a missing value")
    s.add_argument("--missing-markers",
                   help="comma-separated cell values meaning missing (default: blank, ?, NA, "
                        "N/A, null, NaN, #N/A; and - or None in columns of numbers); '' for none")
    s.add_argument("--names", help="comma-separated column names in file order (e.g. for a "
                                   "headerless file)")
    sub.add_parser("tables", help="list tables")
    s = sub.add_parser("sql", help="run one read-only SELECT in the sandbox (no files, no writes)")
    s.add_argument("query")
    s.add_argument("--limit", type=int, default=1000, help="row cap (default 1000)")
    _add_train_parser(sub)
    sub.add_parser("runs", help="list runs")
    s = sub.add_parser("evaluate", help="test metrics of a run at a threshold")
    s.add_argument("run_id")
    s.add_argument("--threshold", type=finite_float, default=0.5)
    add_evaluate_arguments(s)
    s = sub.add_parser("explain", help="SHAP values for test rows of a run")
    s.add_argument("run_id")
    s.add_argument("--rows", type=int, default=1000)
    s.add_argument("--seed", type=int, default=42)
    add_explain_arguments(s)
    add_report_parser(sub)
    s = sub.add_parser("score", help="score a table with a run (or a model name's champion)")
    s.add_argument("run_id", help="a run id, or a model name (its champion)")
    s.add_argument("--table", required=True)
    s.add_argument("--out", help="output table (default <table>_scored); never a raw table "
                                 "or the input")
    s.add_argument("--replace", action="store_true",
                   help="replace an earlier scored table of that name")
    s.add_argument("--background", action="store_true",
                   help="score in a background process and print its job id (`jobs` follows "
                        "it, `jobs cancel` stops it)")
    _add_simulate_parser(sub)
    add_recommend_parser(sub, _Parser)
    add_monitor_parsers(sub)
    add_exchange_parsers(sub, _Parser)
    add_tables_parsers(sub)
    add_analysis_parsers(sub)
    add_privacy_parsers(sub)
    add_jobs_parsers(sub)
    return p


COMMANDS = {"info": cmd_info, "ingest": cmd_ingest, "tables": cmd_tables, "sql": cmd_sql,
            "train": cmd_train,
            "runs": cmd_runs, "evaluate": cmd_evaluate, "explain": cmd_explain,
            "score": cmd_score, "simulate": cmd_simulate, "recommend": cmd_recommend,
            "report": cmd_report, **MONITOR_COMMANDS, **EXCHANGE_COMMANDS,
            **TABLES_COMMANDS, **ANALYSIS_COMMANDS, **PRIVACY_COMMANDS,
            **JOBS_COMMANDS}


def _default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def finite_json(value):
    """``value`` with every NaN or infinite number replaced by None (JSON has no NaN or
    Infinity; an undefined metric reads ``null``)."""
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return finite_json(value.tolist())
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.generic):
        return value.item()
    return value


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the process exit code (0 ok, 2 bad input, 1 bug)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(message)s")
    try:
        args = build_parser().parse_args(argv)
        settings = load_settings(args.data_dir)
        clean_litter(settings)  # what a killed process left in tmp/ and runs/
        started = time.perf_counter()
        out = COMMANDS[args.command](args, settings)
        log.debug("%s took %.2f s", args.command, time.perf_counter() - started)
    except AppError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    except Exception as err:  # a bug: one line, non-zero, traceback only with -v
        if "-v" in (argv or sys.argv) or "--verbose" in (argv or sys.argv):
            raise
        print(f"error: internal error ({type(err).__name__}: {err}); this is a bug, please "
              f"report it with the command you ran.", file=sys.stderr)
        return 1
    print(json.dumps(finite_json(out), default=_default, allow_nan=False))
    return 0
