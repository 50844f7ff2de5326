"""The next-item recommender on the command line: ``recommend train`` and ``recommend for``."""

from __future__ import annotations

import sys

from core.errors import AppError
from core.recommend import (
    EventColumns,
    RecModelConfig,
    SequenceOptions,
    load_rec_run,
    train_recommender,
)


def _csv(text: str | None) -> tuple[str, ...]:
    return tuple(t.strip() for t in (text or "").split(",") if t.strip())


def cmd_recommend(args, settings) -> dict:
    """``recommend train``: the next-item run's metrics against its baselines; ``recommend
    for``: one user's top-k items."""
    if args.rec_command == "for":
        return _recommend_for(args, settings)

    cols = EventColumns(args.table, args.user, args.item, args.time, args.event, args.quantity,
                        args.price, args.order, args.name)
    opts = SequenceOptions(_csv(args.event_types), not args.keep_cancellations,
                           _csv(args.exclude_items), args.min_item, args.min_user, args.max_len,
                           args.exclude_seen)
    overrides = {k: v for k, v in {"epochs": args.epochs, "embed_dim": args.embed_dim,
                                   "window": args.window}.items() if v is not None}
    cfg = RecModelConfig(model=args.model, seed=args.seed, **overrides)

    def progress(event):
        if event.get("message"):
            print(event["message"], file=sys.stderr)

    result = train_recommender(settings, cols, opts, cfg, progress if args.verbose else None)
    keys = ("hit_rate@10", "ndcg@10", "mrr")
    m = result.metrics
    c = result.config
    return {"run_id": result.run_id, "task": c.task, "model": cfg.model, "device": c.device,
            "users": c.rows["users"], "items": c.rows["items"],
            "metrics": {k: m["metrics"][k] for k in keys},
            "ci95": {k: m["ci95"].get(k) for k in keys},
            "baselines": {name: {k: b["metrics"][k] for k in keys}
                          for name, b in m["baselines"].items()},
            "exclude_seen": m["exclude_seen"], "duration_s": c.duration_s}


def _recommend_for(args, settings) -> dict:
    if not 1 <= args.k <= 1000:
        raise AppError(f"--k must be between 1 and 1000; got {args.k}.")
    run = load_rec_run(settings, args.run_id)
    recs = run.recommend_for(args.user, args.k)
    return {"run_id": run.run_id, "user": args.user,
            "items": [{"item": r.item, "name": r.name, "score": float(r.score)}
                      for r in recs.itertuples()]}


def add_recommend_parser(sub, parser_class) -> None:
    """The ``recommend train`` and ``recommend for`` commands."""
    s = sub.add_parser("recommend", help="next-item recommender: train a run, or recommend")
    rec = s.add_subparsers(dest="rec_command", required=True, parser_class=parser_class)
    t = rec.add_parser("train", help="build sequences from an event table, train, evaluate")
    for flag in ("--table", "--user", "--item", "--time"):
        t.add_argument(flag, required=True)
    for flag, text in (("--event", "event-type column"), ("--quantity", "quantity column"),
                       ("--price", "unit-price column"), ("--order", "order/invoice column "
                        "(ids starting with C are cancellations)"), ("--name", "item name")):
        t.add_argument(flag, help=text)
    t.add_argument("--event-types", help="comma-separated event types to keep")
    t.add_argument("--exclude-items", help="comma-separated item values to drop (e.g. POST)")
    t.add_argument("--keep-cancellations", action="store_true")
    t.add_argument("--min-user", type=int, default=5, help="minimum events per user (>= 3)")
    t.add_argument("--min-item", type=int, default=5, help="minimum events per item")
    t.add_argument("--max-len", type=int, default=200, help="most recent events per user")
    t.add_argument("--exclude-seen", action="store_true",
                   help="never recommend items the user already has")
    t.add_argument("--model", default="sasrec", help="popular, transitions, gru4rec or sasrec")
    t.add_argument("--epochs", type=int)
    t.add_argument("--embed-dim", type=int)
    t.add_argument("--window", type=int)
    t.add_argument("--seed", type=int, default=42)
    f = rec.add_parser("for", help="top-k items for one user of a next-item run")
    f.add_argument("run_id")
    f.add_argument("--user", required=True)
    f.add_argument("--k", type=int, default=10)
