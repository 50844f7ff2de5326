"""The command line of the feedback loop: ``monitor``, ``retrain``, ``compare``, ``promote``,
``models``. Each prints one JSON object; ``monitor`` exits 0 whether or not it alerts (the JSON
says), so a scheduler can run it nightly."""

from __future__ import annotations

import sys

from core.errors import AppError
from core.monitor import (
    Chunking,
    cli_view,
    compare_runs_on,
    list_models,
    monitor,
    promote,
    resolve_run,
    retrain,
)


def train_json(result) -> dict:
    """The ``train`` command's JSON of a :class:`core.training.TrainResult`."""
    c = result.config
    return {"run_id": result.run_id, "task": c.task, "model": c.model, "device": c.device,
            "positive_class": c.positive_class, "rows": c.rows,
            "metrics": result.metrics["metrics"], "notes": result.metrics["notes"], "cv": None,
            "data_pipeline": c.data_pipeline, "duration_s": c.duration_s}


def cmd_monitor(args, settings) -> dict:
    if args.chunks is not None and args.time:
        raise AppError("Use either --time COL --chunk-by PERIOD or --chunks N, not both.")
    if args.time and not args.chunk_by:
        raise AppError("--time needs --chunk-by day|week|month|quarter.")
    chunking = Chunking(args.time, args.chunk_by, None if args.time else (args.chunks or 4))
    run = resolve_run(settings, args.run_id)
    return cli_view(monitor(settings, run, args.table, chunking,
                            multivariate=not args.no_multivariate))


def cmd_retrain(args, settings) -> dict:
    def progress(event):
        if event.get("stage") == "epoch":
            print(f"epoch {event['epoch']}/{event['epochs']}", file=sys.stderr)

    out = retrain(settings, resolve_run(settings, args.run_id), args.table,
                  with_reference=args.with_reference,
                  progress=progress if args.verbose else None)
    return {**train_json(out["result"]), "parent_run": out["parent_run"],
            "table": out["table"], "models": out["models"]}


def cmd_compare(args, settings) -> dict:
    if not 0 <= args.bootstrap <= 10000:
        raise AppError(f"--bootstrap must be between 0 and 10000; got {args.bootstrap}.")
    res = compare_runs_on(settings, resolve_run(settings, args.run_a),
                          resolve_run(settings, args.run_b), args.table, n_boot=args.bootstrap,
                          seed=args.seed)
    return {k: res[k] for k in ("rows", "metrics", "profit", "run_a", "run_b", "table",
                                "warnings", "comparison_id")}


def cmd_promote(args, settings) -> dict:
    res = promote(settings, args.name, args.run_id, args.why)
    return {k: res[k] for k in ("model", "champion", "previous")}


def cmd_models(args, settings) -> dict:
    return {"models": list_models(settings)}


def add_monitor_parsers(sub) -> None:
    """Add the five subcommands to ``python -m core``'s subparsers."""
    s = sub.add_parser("monitor", help="drift, data quality and estimated/realised performance "
                                       "of a run (or a model's champion) on new rows")
    s.add_argument("run_id", help="a run id, or a model name (its champion)")
    s.add_argument("--table", required=True, help="table of new rows (target optional)")
    s.add_argument("--time", help="date/timestamp column to chunk by")
    s.add_argument("--chunk-by", choices=["day", "week", "month", "quarter"])
    s.add_argument("--chunks", type=int, help="number of equal chunks in table order (default 4)")
    s.add_argument("--no-multivariate", action="store_true",
                   help="skip the domain classifier (multivariate drift)")
    s = sub.add_parser("retrain", help="train a challenger with a run's own spec and settings "
                                       "on a new table")
    s.add_argument("run_id")
    s.add_argument("--table", required=True, help="labelled rows with the run's columns")
    s.add_argument("--with-reference", action="store_true",
                   help="train on the run's own table plus --table")
    s = sub.add_parser("compare", help="champion vs challenger on the same labelled rows, "
                                       "paired bootstrap intervals")
    s.add_argument("run_a")
    s.add_argument("run_b")
    s.add_argument("--table", required=True)
    s.add_argument("--bootstrap", type=int, default=1000)
    s.add_argument("--seed", type=int, default=0)
    s = sub.add_parser("promote", help="make a run the champion of a model name, with a reason")
    s.add_argument("name")
    s.add_argument("run_id")
    s.add_argument("--why", required=True, help="the reason, kept in the promotion log")
    sub.add_parser("models", help="model names with their champion, versions and promotions")


MONITOR_COMMANDS = {"monitor": cmd_monitor, "retrain": cmd_retrain, "compare": cmd_compare,
                    "promote": cmd_promote, "models": cmd_models}
