"""``python -m core fairness | leaderboard``: the reviewer's checks on the command line.

Each returns one JSON-ready dict (no NaN or infinity: undefined values are null); bad input
raises :class:`core.errors.AppError` (exit 2).
"""

from __future__ import annotations

import math
import sys

from core.errors import AppError
from core.evaluate import ThresholdPolicy, choose_run_threshold, evaluate_scores, scored_set
from core.fairness import run_fairness
from core.leaderboard import build_leaderboard
from core.runs import load_run
from core.specs import MODELS, DatasetSpec


def _csv(text: str | None) -> tuple[str, ...]:
    return tuple(c.strip() for c in text.split(",") if c.strip()) if text else ()


def _finite(value):
    """JSON-safe: NaN and infinity become None, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def add_analysis_parsers(sub) -> None:
    """The ``fairness`` and ``leaderboard`` subcommands."""
    s = sub.add_parser("fairness", help="per-group metrics and parity of a binary run "
                                        "(Fairlearn), with bootstrap intervals")
    s.add_argument("run_id")
    s.add_argument("--by", required=True, help="sensitive column (a feature, or any other "
                                               "column of the run's table)")
    s.add_argument("--threshold", type=float, default=0.5)
    s.add_argument("--policy", choices=["best_f1", "recall", "precision", "top_k", "cost"],
                   help="pick the threshold on the validation split (overrides --threshold)")
    s.add_argument("--target", type=float, help="target recall/precision or top share (0-1]")
    s.add_argument("--cost-fp", type=float, default=1.0)
    s.add_argument("--cost-fn", type=float, default=1.0)
    s.add_argument("--bootstrap", type=int, default=500, help="resamples for the intervals")
    s.add_argument("--seed", type=int, default=42)
    s = sub.add_parser("leaderboard", help="train every model family on one split (and CV "
                                           "folds), rank with intervals, paired bootstrap")
    s.add_argument("--table", required=True)
    s.add_argument("--target", required=True)
    s.add_argument("--positive", help="positive class label (binary)")
    s.add_argument("--exclude", help="comma-separated columns to leave out")
    s.add_argument("--features", help="comma-separated feature columns")
    s.add_argument("--task", choices=["binary", "multiclass", "regression"])
    s.add_argument("--models", help=f"comma-separated families (default: {','.join(MODELS)})")
    s.add_argument("--cv", type=int, default=0, help="also cross-validate each on k folds")
    s.add_argument("--epochs", type=int, help="epochs of the Keras families")
    s.add_argument("--bootstrap", type=int, default=1000)
    s.add_argument("--seed", type=int, default=42)


def cmd_fairness(args, settings) -> dict:
    """``fairness``: Fairlearn's per-group metrics and disparities of a run's test split."""
    if args.bootstrap < 0:
        raise AppError(f"--bootstrap must be 0 or more; got {args.bootstrap}.")
    run = load_run(settings, args.run_id)
    threshold, policy = args.threshold, None
    if args.policy is not None:
        s = scored_set(run)
        table = evaluate_scores(s.y, s.output, s.classes[1], s.classes[0], n_boot=0).table
        choice = choose_run_threshold(run.valid_scores, table, ThresholdPolicy(
            args.policy, args.target, args.cost_fp, args.cost_fn))
        threshold, policy = choice.threshold, {"policy": args.policy,
                                               "explanation": choice.explanation}
    report = run_fairness(settings, run, args.by, threshold, args.bootstrap, args.seed)
    return _finite({"run_id": run.run_id, **report.to_dict(), "policy": policy})


def cmd_leaderboard(args, settings) -> dict:
    """``leaderboard``: every family on one split, ranked, with the ties said."""
    if args.cv and not 2 <= args.cv <= 20:
        raise AppError(f"--cv must be 0 or an integer in [2, 20]; got {args.cv}.")
    spec = DatasetSpec(args.table, args.target, args.positive, _csv(args.features),
                       _csv(args.exclude), seed=args.seed, task=args.task)
    models = _csv(args.models) or MODELS
    network = {"epochs": args.epochs} if args.epochs else {}

    def progress(event):
        print(event.get("message", ""), file=sys.stderr)

    board = build_leaderboard(settings, spec, models, args.cv, args.bootstrap, network,
                              progress if args.verbose else None)
    return _finite(board.to_dict())


ANALYSIS_COMMANDS = {"fairness": cmd_fairness, "leaderboard": cmd_leaderboard}
