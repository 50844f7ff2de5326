"""The command line's exchange and experiment commands: ``export`` and ``import`` a run as a zip
archive, ``abtest plan`` and ``abtest readout``. Each prints one JSON object."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from core.app._archive import export_run, import_run
from core.app._paths import finite_float, output_file, write_atomically
from core.errors import AppError
from core.impact import ab_counts, plan_ab, read_ab
from core.runs import load_run
from core.warehouse import connect

MAX_ARCHIVE_BYTES = 2 << 30


def cmd_export(args, settings) -> dict:
    """``export RUN_ID --out FILE.zip``: the run as a zip archive (no pickle inside)."""
    target = output_file(settings, args.out, args.force, (".zip",))
    data = export_run(settings, args.run_id)
    write_atomically(target, data)
    return {"run_id": args.run_id, "out": str(target), "bytes": len(data)}


def cmd_import(args, settings) -> dict:
    """``import FILE.zip``: a run archive from another LiftLab, checked before it is kept."""
    path = Path(args.path)
    if not path.is_file():
        raise AppError(f"No file at {path}. Give the path of a run archive (.zip).")
    if path.stat().st_size > MAX_ARCHIVE_BYTES:
        raise AppError(f"{path.name} is larger than 2 GB; a LiftLab run archive never is.")
    run_id = import_run(settings, path.read_bytes())
    run = load_run(settings, run_id)
    return {"run_id": run_id, "imported_from": run.config.extra.get("imported_from"),
            "task": run.config.task, "model": run.config.model}


def cmd_abtest(args, settings) -> dict:
    """``abtest plan`` or ``abtest readout``."""
    if args.ab_command == "plan":
        return asdict(plan_ab(args.base_rate, args.expected_rate, args.alpha, args.power,
                              args.daily_volume))
    if args.table:
        if not all((args.group, args.outcome, args.positive, args.control)):
            raise AppError("A readout from a table needs --group, --outcome, --positive and "
                           "--control.")
        with connect(settings) as con:
            counts = ab_counts(con, args.table, args.group, args.outcome, args.positive,
                               args.control)
    else:
        counts = (args.conversions_a, args.customers_a, args.conversions_b, args.customers_b)
        if any(c is None for c in counts):
            raise AppError("Give --conversions-a, --customers-a, --conversions-b and "
                           "--customers-b (or --table with the results, one row a customer).")
    return asdict(read_ab(*counts, predicted_lift=args.predicted_lift, alpha=args.alpha))


def add_exchange_parsers(sub, parser_class) -> None:
    """Register ``export``, ``import`` and ``abtest``."""
    s = sub.add_parser("export", help="write a run as a zip archive")
    s.add_argument("run_id")
    s.add_argument("--out", required=True, help="archive path (.zip), outside the data directory")
    s.add_argument("--force", action="store_true", help="overwrite an existing file")
    s = sub.add_parser("import", help="import a run archive made by export")
    s.add_argument("path")
    ab = sub.add_parser("abtest", help="plan an A/B test, or read its result")
    abs_ = ab.add_subparsers(dest="ab_command", required=True, parser_class=parser_class)
    p = abs_.add_parser("plan", help="customers per arm to detect a change in conversion rate")
    p.add_argument("--base-rate", type=finite_float, required=True,
                   help="arm A's conversion rate, e.g. 0.11")
    p.add_argument("--expected-rate", type=finite_float, required=True,
                   help="arm B's expected conversion rate")
    _common(p)
    p.add_argument("--power", type=finite_float, default=0.8)
    p.add_argument("--daily-volume", type=finite_float, help="customers entering per day")
    r = abs_.add_parser("readout", help="lift, interval and p-value of an A/B test's counts")
    for flag in ("--conversions-a", "--customers-a", "--conversions-b", "--customers-b"):
        r.add_argument(flag, type=int)
    r.add_argument("--table", help="results with one row per customer (instead of counts)")
    for flag in ("--group", "--outcome", "--positive", "--control"):
        r.add_argument(flag)
    r.add_argument("--predicted-lift", type=finite_float,
                   help="the scenario's relative lift, e.g. 0.8")
    _common(r)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--alpha", type=finite_float, default=0.05, help="significance level")


EXCHANGE_COMMANDS = {"export": cmd_export, "import": cmd_import, "abtest": cmd_abtest}
