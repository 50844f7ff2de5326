"""Applying fitted recipe steps: each step's SQL (:func:`apply_step`) and what it changed in
words (:func:`step_notes`), so nothing a step does to the data goes unsaid: values filled,
clipped, set to 0 before a log, dates that could not be read, categories never seen.

Notes are counted on the data as it is before the step, on the table the recipe is applied or
replayed on, so a replay on next month's file reports next month's figures.
"""

from __future__ import annotations

import duckdb

from core.errors import SchemaError
from core.tables._dates import parse_sql, text_date_formats, unparsed_examples
from core.tables._kinds import kind_of
from core.tables._steps import ORDER_COL, Rel, Step, check_rename, sql_type
from core.warehouse import clean_name, quote_ident

# formats of recipes stored before the formats were saved with the recipe
_OLD_DATE_FORMATS = {"day_first": ["%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y-%m-%d"],
                     "month_first": ["%m/%d/%Y", "%m-%d-%Y", "%Y-%m-%d"]}
_EXAMPLES = 3


def _q(col: str) -> str:
    return quote_ident(col)


def _new_name(base: str, taken: set[str]) -> str:
    name, k = clean_name(base, "column"), 2
    stem = name
    while name.lower() in taken:
        name, k = f"{stem}_{k}", k + 1
    taken.add(name.lower())
    return name


def _replace_cols(rel: Rel, cols: list[tuple[str, str]], exprs: dict[str, str]) -> Rel:
    return rel.project([f"{exprs[c]} AS {_q(c)}" if c in exprs else _q(c) for c, _ in cols])


def _apply_filter(rel: Rel, step: Step, cols) -> Rel:
    c, op = step.columns[0], step.method
    if op in ("is missing", "is not missing"):
        return rel.wrap("*", f"WHERE {_q(c)} IS {'NOT ' if op == 'is not missing' else ''}NULL")
    typ = sql_type(dict(cols)[c], c)
    value = f"CAST({rel.bind(str(step.value))} AS {typ})"
    sql_op = "=" if op == "==" else op
    return rel.wrap("*", f"WHERE {_q(c)} {sql_op} {value}")


def _apply_duplicates(rel: Rel, step: Step, cols) -> Rel:
    """Keep the first row of each key (all visible columns when none) in file order."""
    keys = step.columns or tuple(c for c, _ in cols)
    part = ", ".join(_q(c) for c in keys)
    return rel.wrap("*", f"QUALIFY row_number() OVER (PARTITION BY {part} "
                         f"ORDER BY {_q(ORDER_COL)}) = 1")


def _apply_rename(rel: Rel, step: Step, params: dict, cols) -> Rel:
    old = step.columns[0]
    new = params.get("to") or clean_name(str(step.value), "")
    check_rename(old, new, dict(cols))  # a table replayed on may have the new name already
    return rel.project([f"{_q(c)} AS {_q(new)}" if c == old else _q(c) for c, _ in cols])


def _apply_encode(rel: Rel, step: Step, params: dict, cols) -> Rel:
    taken = {c.lower() for c, _ in cols}
    exprs, added = {}, []
    for c in step.columns:
        values = params[c]
        if step.method == "ordinal":
            cases = " ".join(f"WHEN CAST({_q(c)} AS VARCHAR) = {rel.bind(v)} THEN {i}"
                             for i, v in enumerate(values))
            exprs[c] = f"CASE WHEN {_q(c)} IS NULL THEN NULL {cases} ELSE -1 END"
            continue
        for v in values:
            name = _new_name(f"{c}_{v}", taken)
            added.append(f"CASE WHEN CAST({_q(c)} AS VARCHAR) = {rel.bind(v)} THEN 1 ELSE 0 END "
                         f"AS {_q(name)}")
    keep = [c for c, _ in cols if not (step.method == "onehot" and c in step.columns)]
    return rel.project([f"{exprs[c]} AS {_q(c)}" if c in exprs else _q(c) for c in keep] + added)


def _date_formats(step: Step, params: dict, col: str) -> list[str]:
    saved = params.get("formats", {})
    return saved[col] if col in saved else _OLD_DATE_FORMATS[step.method]


def _apply_date_parts(rel: Rel, step: Step, params: dict, cols) -> Rel:
    types = dict(cols)
    taken = {c.lower() for c, _ in cols}
    parts = []
    for c in step.columns:
        d = _q(c)
        if kind_of(types[c]) == "text":
            d = parse_sql(_q(c), rel.bind(_date_formats(step, params, c)))
        for part, fn in (("year", "year"), ("month", "month"), ("day", "day"),
                         ("weekday", "isodow")):
            parts.append(f"{fn}({d}) AS {_q(_new_name(f'{c}_{part}', taken))}")
    return rel.wrap(", ".join(["*"] + parts))


def _apply_bin(rel: Rel, step: Step, params: dict, cols) -> Rel:
    taken = {c.lower() for c, _ in cols}
    added = []
    for c in step.columns:
        edges = params[c]
        bounds = [None, *edges, None]
        labels = [f"< {hi:.4g}" if lo is None else f">= {lo:.4g}" if hi is None
                  else f"{lo:.4g}–{hi:.4g}" for lo, hi in zip(bounds, bounds[1:])]
        cases = " ".join(f"WHEN {_q(c)} < {rel.bind(e)} THEN {rel.bind(lab)}"
                         for e, lab in zip(edges, labels))
        added.append(f"CASE WHEN {_q(c)} IS NULL THEN NULL {cases} ELSE {rel.bind(labels[-1])} "
                     f"END AS {_q(_new_name(f'{c}_bin', taken))}")
    return rel.wrap(", ".join(["*"] + added))


def _numeric_exprs(rel: Rel, step: Step, params: dict, types: dict[str, str]) -> dict[str, str]:
    exprs = {}
    for c in step.columns:
        q = _q(c)
        x = f"CAST({q} AS DOUBLE)"
        if step.kind == "impute" and step.method == "constant":
            exprs[c] = f"COALESCE({q}, CAST({rel.bind(str(params[c]))} AS {sql_type(types[c], c)}))"
        elif step.kind == "impute":
            exprs[c] = f"COALESCE({q}, {rel.bind(params[c])})"
        elif step.kind == "clip":
            lo, hi = params[c]
            # greatest/least skip NULLs in DuckDB: a missing value must stay missing
            exprs[c] = q if lo is None else (f"CASE WHEN {q} IS NULL THEN NULL ELSE least("
                                             f"greatest({q}, {rel.bind(lo)}), {rel.bind(hi)}) END")
        elif step.kind == "scale":
            a, b = params[c]
            exprs[c] = f"({x} - {rel.bind(a)}) / {rel.bind(b)}"
        elif step.kind == "log" and step.method == "signed":
            exprs[c] = f"sign({x}) * ln(1 + abs({x}))"
        elif step.kind == "log":  # fitted on values >= 0: below 0 is set to 0 (see notes)
            exprs[c] = f"CASE WHEN {x} < 0 THEN 0.0 ELSE ln(1 + {x}) END"
    return exprs


def apply_step(rel: Rel, step: Step, params: dict, cols: list[tuple[str, str]]) -> Rel:
    """The relation after one fitted step.

    Args:
        rel: The relation before the step.
        step: The step.
        params: What :func:`core.tables._steps.fit_step` learned.
        cols: ``(name, type)`` of ``rel``'s visible columns.

    Returns:
        A new :class:`Rel`, still carrying the file order.

    Raises:
        SchemaError: A rename whose new name the data already has.
    """
    rel = Rel(rel.sql, dict(rel.params))  # binding below must not touch the caller's relation
    if step.kind == "drop_columns":
        return rel.wrap(f"* EXCLUDE ({', '.join(_q(c) for c in step.columns)})")
    if step.kind == "drop_duplicates":
        return _apply_duplicates(rel, step, cols)
    if step.kind == "rename":
        return _apply_rename(rel, step, params, cols)
    if step.kind == "filter":
        return _apply_filter(rel, step, cols)
    if step.kind == "encode":
        return _apply_encode(rel, step, params, cols)
    if step.kind == "date_parts":
        return _apply_date_parts(rel, step, params, cols)
    if step.kind == "bin":
        return _apply_bin(rel, step, params, cols)
    return _replace_cols(rel, cols, _numeric_exprs(rel, step, params, dict(cols)))


# ---------------------------------------------------------------- notes


def _shown(values) -> str:
    return ", ".join(repr(v) for v in values)


def _impute_notes(con, rel: Rel, step: Step, params: dict) -> list[str]:
    row = rel.one(con, ", ".join(f"count_if({_q(c)} IS NULL)" for c in step.columns))
    return [f"filled {n:,} missing value(s) of '{c}' with {step.method} {params[c]!r}"
            for c, n in zip(step.columns, row) if n]


def _clip_notes(con, rel: Rel, step: Step, params: dict) -> list[str]:
    out = []
    for c in step.columns:
        lo, hi = params[c]
        if lo is None:
            continue
        below, above = rel.one(con, f"count_if({_q(c)} < $lo), count_if({_q(c)} > $hi)",
                               {"lo": lo, "hi": hi})
        if below or above:
            out.append(f"clipped {below + above:,} value(s) of '{c}' to [{lo:.6g}, {hi:.6g}] "
                       f"({below:,} below, {above:,} above)")
    return out


def _log_notes(con, rel: Rel, step: Step) -> list[str]:
    if step.method == "signed":
        return []
    row = rel.one(con, ", ".join(f"count_if({_q(c)} < 0), min(CAST({_q(c)} AS DOUBLE))"
                                 for c in step.columns))
    return [f"{row[2 * i]:,} value(s) of '{c}' were below 0 (min {row[2 * i + 1]:g}), outside "
            f"the values >= 0 the recipe was fitted on; they were set to 0 before ln(1 + x), "
            f"so they read 0" for i, c in enumerate(step.columns) if row[2 * i]]


def _date_notes(con, rel: Rel, step: Step, params: dict, types: dict) -> list[str]:
    out = []
    source = f"({rel.sql}) AS r"
    for c in step.columns:
        if kind_of(types[c]) != "text":
            continue
        formats = _date_formats(step, params, c)
        n, ok = rel.one(con, f"count_if(trim(CAST({_q(c)} AS VARCHAR)) <> ''), "
                             f"count({parse_sql(_q(c), '$fmts')})", {"fmts": formats})
        if ok == n:
            continue
        order = step.method.replace("_", "-")
        seen = unparsed_examples(con, source, rel.params, c, formats)[:_EXAMPLES]
        other = "month_first" if step.method == "day_first" else "day_first"
        alt = rel.one(con, f"count({parse_sql(_q(c), '$fmts')})",
                      {"fmts": text_date_formats(other)})[0]
        out.append(f"{n - ok:,} of {n:,} value(s) of '{c}' could not be read as {order} dates, "
                   f"so their date parts are empty (e.g. {_shown(seen)}); "
                   f"{other.replace('_', '-')} would read {alt:,}")
    return out


def _encode_notes(con, rel: Rel, step: Step, params: dict) -> list[str]:
    out = []
    for c in step.columns:
        if not params[c]:
            continue
        text = f"CAST({_q(c)} AS VARCHAR)"
        unseen = f"NOT list_contains($known, {text})"
        n = rel.one(con, f"count_if({unseen})", {"known": params[c]})[0]
        if n:
            seen = rel.all(con, f"DISTINCT {text} AS v", {"known": params[c]},
                           f"WHERE {unseen} ORDER BY v LIMIT {_EXAMPLES}")
            reads = "-1" if step.method == "ordinal" else "0 in every one-hot column"
            out.append(f"{n:,} row(s) of '{c}' have a category outside the {len(params[c])} "
                       f"kept (e.g. {_shown(v for v, in seen)}); they read {reads}")
    return out


def step_notes(con: duckdb.DuckDBPyConnection, rel: Rel, step: Step, params: dict,
               cols: list[tuple[str, str]]) -> list[str]:
    """What a fitted step changes in the data before it, in words (empty when nothing needs
    saying): missing values filled, values clipped, negative values set to 0 before log1p,
    text that could not be read as dates (count and examples), unseen categories, and a new
    name that was cleaned.

    Args:
        con: Open connection.
        rel: The relation before the step.
        step: The step.
        params: What the step learned.
        cols: ``(name, type)`` of ``rel``'s visible columns.

    Returns:
        One sentence per finding.
    """
    if step.kind == "impute":
        return _impute_notes(con, rel, step, params)
    if step.kind == "clip":
        return _clip_notes(con, rel, step, params)
    if step.kind == "log":
        return _log_notes(con, rel, step)
    if step.kind == "date_parts":
        return _date_notes(con, rel, step, params, dict(cols))
    if step.kind == "encode":
        return _encode_notes(con, rel, step, params)
    if step.kind == "rename" and params.get("to") != step.value:
        return [f"the new name {step.value!r} was cleaned to '{params.get('to')}'"]
    return []


def checked_apply(con: duckdb.DuckDBPyConnection, rel: Rel, step: Step,
                  params: dict) -> tuple[Rel, list[str]]:
    """Apply one fitted step and say what it changed.

    Returns:
        ``(relation after the step, notes)``.

    Raises:
        SchemaError: The step does not fit this data.
    """
    cols = rel.columns(con)
    missing = [c for c in step.columns if c not in dict(cols)]
    if missing:
        raise SchemaError(f"Step '{step.label()}' uses column(s) {', '.join(missing)} that the "
                          f"data does not have at that point.")
    return apply_step(rel, step, params, cols), step_notes(con, rel, step, params, cols)
