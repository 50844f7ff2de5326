"""The command line of data preparation: ``profile``, ``prepare`` and ``protect``.

Each prints one JSON object (numbers that are not finite print as null); bad input (an unknown
table, column or recipe, a malformed recipe file, an output name that would replace a raw
table) raises :class:`~core.errors.AppError`, which ``python -m core`` prints as ``error: ...``
with exit code 2. Nothing is written when a command refuses.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from core.errors import AppError
from core.tables import (
    ACTIONS,
    PersonalMark,
    Recipe,
    apply_recipe,
    load_marks,
    profile_table,
    protect_table,
    reach_k,
    replay_recipe,
)
from core.warehouse import connect, quote_ident, require_table, table_columns

MAX_RECIPE_BYTES = 1 << 20
MAX_LABELS = 50


def finite(value):
    """``value`` with every float that is NaN or infinite replaced by None (JSON has neither)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


# ---------------------------------------------------------------- profile


def _column_json(c, leaks: dict[str, str]) -> dict:
    d = c.dates_as_text
    return {"name": c.name, "original_name": c.original_name, "type": c.type, "kind": c.kind,
            "missing": c.missing, "missing_pct": round(c.missing_pct, 4),
            "distinct": c.distinct, "hidden": c.hidden,
            "id_like": any("looks like an ID" in w for w in c.warnings),
            "constant": c.distinct <= 1, "leakage": c.name in leaks,
            "dates_as_text": None if d is None else {
                "values": d.values, "day_first": d.day_first, "month_first": d.month_first,
                "iso": d.iso},
            "target_auc": c.target_auc, "target_corr": c.target_corr,
            "stats": {k: (v if isinstance(v, int | float | str) or v is None else str(v))
                      for k, v in c.stats.items()},
            "top": [{"value": v, "count": n} for v, n in c.top],
            "warnings": list(c.warnings) + ([leaks[c.name]] if c.name in leaks else [])}


def cmd_profile(args, settings) -> dict:
    """Types, missing values, distinct counts, warnings, leakage and ID flags, target balance."""
    with connect(settings) as con:
        hidden = tuple(m.column for m in load_marks(con, args.table))
        p = profile_table(con, args.table, args.target, args.positive, hidden)
    balance = [{"label": label, "count": n, "share": round(share, 6)}
               for label, n, share in p.balance]
    return finite({
        "table": p.table, "rows": p.rows, "target": p.target, "positive_class": p.positive,
        "balance": balance[:MAX_LABELS], "labels": len(balance),
        "columns": [_column_json(c, p.leaks) for c in p.columns],
        "leaks": [{"column": c, "warning": w} for c, w in p.leaks.items()],
        "hidden": list(hidden), "warnings": list(p.warnings), "seconds": round(p.seconds, 3)})


# ---------------------------------------------------------------- prepare


def read_recipe(path: str) -> Recipe:
    """A recipe file ``{"name", "steps": [{"kind", "columns", "method", "value"}]}``.

    Raises:
        AppError: The file cannot be read, is too large, is not JSON, or is not a recipe
            (the message says which key is wrong).
    """
    file = Path(path)
    try:
        if file.stat().st_size > MAX_RECIPE_BYTES:
            raise AppError(f"--recipe {path} is larger than 1 MiB; a recipe is a short JSON "
                           f"file.")
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise AppError(f"Cannot read --recipe {path} ({type(err).__name__}: "
                       f"{getattr(err, 'strerror', None) or err}). Give the path of a JSON "
                       f"recipe file.") from err
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise AppError(f"--recipe {path} is not valid JSON: {err.msg} at line {err.lineno}, "
                       f"column {err.colno}.") from err
    return Recipe.from_dict(data)


def cmd_prepare(args, settings) -> dict:
    """Fit and apply a recipe file to a table, or replay a stored recipe on a new table."""
    if bool(args.recipe) == bool(args.replay):
        raise AppError("prepare needs either --recipe FILE.json (fit a new recipe on the table) "
                       "or --replay NAME (a stored recipe, with the numbers it learned).")
    recipe = read_recipe(args.recipe) if args.recipe else None
    with connect(settings) as con:
        if recipe is not None:
            result = apply_recipe(con, args.table, recipe, args.out, args.replace)
        else:
            result = replay_recipe(con, args.replay, args.table, args.out, args.replace)
    steps = [{"step": label, "rows": rows, "columns": cols, "notes": notes}
             for (label, rows, cols), notes in zip(result.steps, result.step_notes)]
    return finite({"table": result.table, "source": args.table,
                   "recipe": result.fitted.recipe.name, "replayed": recipe is None,
                   "rows": result.rows, "columns": result.columns, "steps": steps,
                   "notes": result.notes})


# ---------------------------------------------------------------- protect


def _bands(items: list[str] | None) -> dict[str, float]:
    out = {}
    for item in (p.strip() for text in items or [] for p in text.split(",") if p.strip()):
        col, _, width = item.partition("=")
        try:
            value = float(width)
        except ValueError:
            value = math.nan
        if not col.strip() or not math.isfinite(value) or value <= 0:
            raise AppError(f"--bands takes COLUMN=WIDTH pairs with a positive number (band "
                           f"width of numbers, characters kept of text), e.g. age=10,postcode=3;"
                           f" got {item!r}.")
        out[col.strip()] = value
    return out


def _marks(args, con) -> list[PersonalMark] | None:
    columns, actions = args.column or [], args.action or []
    if len(columns) != len(actions):
        raise AppError("Give one --action per --column, in pairs: --column email --action "
                       "pseudonymise --column age --action generalise.")
    bands = _bands(args.bands)
    if columns:
        marks = [PersonalMark(c, a) for c, a in zip(columns, actions)]
    elif bands:
        marks = load_marks(con, args.table)
    else:
        return None  # the table's saved marks
    general = {m.column for m in marks if m.action == "generalise"}
    stray = [c for c in bands if c not in general]
    if stray:
        raise AppError(f"--bands names {', '.join(stray)}, which "
                       f"{'is' if len(stray) == 1 else 'are'} not generalised; bands apply to "
                       f"columns with --action generalise.")
    return [PersonalMark(m.column, m.action, bands.get(m.column, m.param)) for m in marks]


def cmd_protect(args, settings) -> dict:
    """Write a protected copy (drop, pseudonymise, generalise), reaching k when asked."""
    if (args.k is None) != (args.quasi is None):
        raise AppError("--k and --quasi go together: --k 5 --quasi age,postcode,gender.")
    with connect(settings) as con:
        require_table(con, args.table)
        marks = _marks(args, con)
        if args.k is not None:
            quasi = [c.strip() for c in args.quasi.split(",") if c.strip()]
            r = reach_k(con, settings, args.table, quasi, args.k, marks, args.out, args.replace)
            out, kinfo = r.table, {
                "k": r.k, "k_reached": r.k_reached,
                "quasi_identifiers": list(r.quasi_identifiers),
                "generalised": r.generalised, "rows_before": r.rows_before,
                "rows_suppressed": r.rows_suppressed, "groups": r.groups,
                "groups_suppressed": r.groups_suppressed,
                "k_before_suppression": r.k_before_suppression}
            notes = list(r.notes)
        else:
            out = protect_table(con, settings, args.table, args.out, marks, args.replace)
            kinfo, notes = None, []
        applied = load_marks(con, args.table)
        rows = con.execute(f"SELECT count(*) FROM {quote_ident(out)}").fetchone()[0]
        columns = [c for c, _ in table_columns(con, out)]
    return finite({"table": out, "source": args.table, "rows": int(rows), "columns": columns,
                   "marks": [{"column": m.column, "action": m.action, "param": m.param}
                             for m in applied],
                   "k_anonymity": kinfo, "notes": notes})


def add_tables_parsers(sub) -> None:
    """Add ``profile``, ``prepare`` and ``protect`` to ``python -m core``'s subparsers."""
    s = sub.add_parser("profile", help="types, missing values, distinct values, warnings, "
                                       "leakage and ID flags, target balance of a table")
    s.add_argument("table")
    s.add_argument("--target", help="target column: balance, AUC per column, leakage flags")
    s.add_argument("--positive", help="positive class of a binary target (default: suggested)")
    s = sub.add_parser("prepare", help="apply a recipe file to a table (stored for replay), or "
                                       "replay a stored recipe on a new table")
    s.add_argument("table")
    s.add_argument("--recipe", help='recipe JSON: {"name": ..., "steps": [{"kind", "columns", '
                                    '"method", "value"}]}')
    s.add_argument("--replay", help="name of a stored recipe")
    s.add_argument("--out", required=True, help="table to write (never a raw table or the input)")
    s.add_argument("--replace", action="store_true",
                   help="replace an earlier prepared table of that name")
    s = sub.add_parser("protect", help="write a protected copy of a table: drop, pseudonymise "
                                       "or generalise personal columns; reach k-anonymity")
    s.add_argument("table")
    s.add_argument("--column", action="append", help="a personal column (repeat, each with "
                                                     "--action); default: the saved marks")
    s.add_argument("--action", action="append", choices=list(ACTIONS))
    s.add_argument("--bands", action="append",
                   help="COLUMN=WIDTH for generalised columns: band width of numbers (default "
                        "10), characters kept of text (default 3); dates keep the year")
    s.add_argument("--k", type=int, help="reach k-anonymity over --quasi: generalise, then "
                                         "suppress rows in groups smaller than k")
    s.add_argument("--quasi", help="comma-separated quasi-identifiers, e.g. age,postcode,gender")
    s.add_argument("--out", help="protected table (default <table>_protected)")
    s.add_argument("--replace", action="store_true",
                   help="replace an earlier protected copy of that name")


TABLES_COMMANDS = {"profile": cmd_profile, "prepare": cmd_prepare, "protect": cmd_protect}
