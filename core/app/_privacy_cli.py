"""The command line of private and compact models: ``train --dp``'s flags and JSON, ``privacy
epsilon`` (the accountant), ``audit`` (membership inference) and ``compress`` (int8, prune,
distill). Each command prints one JSON object; bad input raises an ``AppError`` (exit 2)."""

from __future__ import annotations

import json

from core.compress import METHODS, compress_run
from core.errors import AppError
from core.privacy import audit_run, epsilon_for, guarantee_lines, parse_bounds, save_audit
from core.runs import load_run

PRIVACY_KEYS = ("epsilon", "delta", "noise_multiplier", "clip", "accountant", "sampling",
                "epsilon_rdp", "target_epsilon", "sampling_rate", "steps", "preprocessing")


def add_dp_arguments(s) -> None:
    """``train``'s differential-privacy flags."""
    s.add_argument("--dp", action="store_true",
                   help="train with DP-SGD (Keras networks; per-example clipping, noise)")
    s.add_argument("--epsilon", type=float, help="target ε of the DP guarantee (with --dp)")
    s.add_argument("--delta", type=float, help="δ of the guarantee (default 1/(10·n))")
    s.add_argument("--clip", type=float, help="per-example gradient L2 clip norm C (default 1)")
    s.add_argument("--dp-bounds", help="JSON file of preprocessing bounds: {\"age\": [17, 100], "
                                       "\"job\": [\"admin.\", ...]} (covers the preprocessing)")


def dp_overrides(args) -> dict:
    """ModelConfig settings from the DP flags (none without --dp).

    Raises:
        AppError: DP flags without --dp, or an unreadable bounds file.
    """
    given = [f for f, v in (("--epsilon", args.epsilon), ("--delta", args.delta),
                            ("--clip", args.clip), ("--dp-bounds", args.dp_bounds))
             if v is not None]
    if not args.dp:
        if given:
            raise AppError(f"{', '.join(given)} set the differential privacy of a run; add "
                           f"--dp to train with it.")
        return {}
    if getattr(args, "treatment", None):
        raise AppError("--dp trains tabular networks; uplift models (--treatment) cannot be "
                       "trained with differential privacy yet.")
    out = {"dp": True, "dp_epsilon": args.epsilon, "dp_delta": args.delta,
           "dp_clip": args.clip}
    if args.dp_bounds:
        try:
            with open(args.dp_bounds) as fh:
                out["dp_bounds"] = parse_bounds(json.load(fh))
        except (OSError, ValueError) as err:
            raise AppError(f"--dp-bounds {args.dp_bounds} is not a readable JSON object of "
                           f"bounds ({err}).") from err
    return {k: v for k, v in out.items() if v is not None}


def privacy_json(config) -> dict:
    """``train``'s ``privacy`` key: the DP block of a run, or null."""
    block = config.extra.get("privacy")
    if not block:
        return {"privacy": None}
    return {"privacy": {**{k: block.get(k) for k in PRIVACY_KEYS},
                        "guarantee": guarantee_lines(block)}}


def cmd_privacy(args, settings) -> dict:
    res = epsilon_for(args.rows, args.batch_size, args.epochs, args.noise_multiplier,
                      args.delta)
    return {k: res[k] for k in ("epsilon_rdp", "epsilon_pld", "steps", "sampling_rate",
                                "delta", "noise_multiplier")}


def cmd_audit(args, settings) -> dict:
    run = load_run(settings, args.run_id)
    audit = audit_run(settings, run, max_rows=args.rows, n_boot=args.bootstrap, seed=args.seed)
    save_audit(settings, run, audit)
    return {"run_id": run.run_id, **audit}


def cmd_compress(args, settings) -> dict:
    try:
        units = tuple(int(u) for u in args.units.split(",") if u.strip())
    except ValueError as err:
        raise AppError(f"--units needs comma-separated integers, e.g. 32,16; got "
                       f"{args.units}.") from err
    return compress_run(settings, args.run_id, args.method, args.sparsity, units, args.seed)


def add_privacy_parsers(sub) -> None:
    """``privacy epsilon``, ``audit`` and ``compress``."""
    p = sub.add_parser("privacy", help="differential privacy: the ε of DP-SGD settings")
    ps = p.add_subparsers(dest="privacy_command", required=True, parser_class=type(p))
    e = ps.add_parser("epsilon", help="ε (RDP and PLD) of Poisson-sampled DP-SGD")
    e.add_argument("--rows", type=int, required=True, help="training rows n")
    e.add_argument("--batch-size", type=int, required=True, help="expected batch size B")
    e.add_argument("--epochs", type=float, required=True)
    e.add_argument("--noise-multiplier", type=float, required=True, help="σ")
    e.add_argument("--delta", type=float, required=True, help="δ, below 1/n")
    a = sub.add_parser("audit", help="membership-inference audit of a run (stored in the run)")
    a.add_argument("run_id")
    a.add_argument("--rows", type=int, default=2000, help="members and non-members, each")
    a.add_argument("--bootstrap", type=int, default=500)
    a.add_argument("--seed", type=int, default=0)
    c = sub.add_parser("compress", help="int8, pruned or distilled copy of a run, as a new run")
    c.add_argument("run_id")
    c.add_argument("--method", required=True, choices=list(METHODS))
    c.add_argument("--sparsity", type=float, default=0.8, help="share of zero weights (prune)")
    c.add_argument("--units", default="32,16", help="student's hidden units (distill)")
    c.add_argument("--seed", type=int, default=42)


PRIVACY_COMMANDS = {"privacy": cmd_privacy, "audit": cmd_audit, "compress": cmd_compress}
