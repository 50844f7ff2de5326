"""Second look at text columns after a load: numbers DuckDB's sample missed, and dates.

DuckDB types CSV columns from a sample and widens on failure, so a column that is empty in the
sample stays text; and LiftLab lets DuckDB parse ISO dates only, because a ``03/04/2024`` column
could be read either way. This module samples each text column, and for the ones that look like
numbers or dates checks *every* value in SQL before converting: numbers when all values are
numbers; dates when every value matches a known format and day/month order is unambiguous.
Ambiguous day/month columns stay text and are reported, never silently swapped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb

from core.warehouse import quote_ident

_SAMPLE_ROWS = 2000
_INT = r"[-+]?(0|[1-9][0-9]*)"
_NUM = r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?"
_ISO = r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
_ISO_TIME = _ISO + r"[ T][0-9]{1,2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?"
_DMY = r"([0-9]{1,2})[/-]([0-9]{1,2})[/-][0-9]{4}"
_DOT = r"([0-9]{1,2})\.([0-9]{1,2})\.[0-9]{4}"
_LOOKS_NUMERIC = re.compile(_NUM)
_LOOKS_DATE = re.compile(f"{_ISO}|{_ISO_TIME}|{_DMY}|{_DOT}")


@dataclass(frozen=True)
class DateCounts:
    """Counts of one text column's values by date pattern (all over the whole column).

    Attributes:
        n: Non-missing values.
        iso: ``yyyy-mm-dd`` values (with or without a time).
        timed: Values with a time of day.
        slash: ``a/b/yyyy`` or ``a-b-yyyy`` values.
        first_gt12: Slash values whose first part is above 12 (so it is the day).
        second_gt12: Slash values whose second part is above 12 (so it is the day).
        dot: ``dd.mm.yyyy`` values.
        dot_second_gt12: Dot values whose second part is above 12 (not day-first after all).
    """

    n: int
    iso: int
    timed: int
    slash: int
    first_gt12: int
    second_gt12: int
    dot: int
    dot_second_gt12: int


def _text_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [r[0] for r in con.execute(f"DESCRIBE {quote_ident(table)}").fetchall()
            if r[1] == "VARCHAR"]


def _candidates(con, table: str, columns: list[str]) -> tuple[list[str], list[str]]:
    """Split text columns into (looks numeric, looks like dates) from a random sample."""
    if not columns:
        return [], []
    select = ", ".join(quote_ident(c) for c in columns)
    sample = con.execute(
        f"SELECT {select} FROM {quote_ident(table)} USING SAMPLE {_SAMPLE_ROWS} ROWS"
    ).fetchall()
    numeric, dates = [], []
    for i, col in enumerate(columns):
        values = [str(r[i]).strip() for r in sample if r[i] is not None]
        if all(_LOOKS_NUMERIC.fullmatch(v) for v in values):
            numeric.append(col)
        elif all(_LOOKS_DATE.fullmatch(v) for v in values):
            dates.append(col)
    return numeric, dates


def _fix_numeric(con, table: str, col: str) -> str | None:
    q, t = quote_ident(col), quote_ident(table)
    n, n_int, n_num = con.execute(
        f"SELECT count({q}), count_if(regexp_full_match(trim({q}), ?)), "
        f"count_if(regexp_full_match(trim({q}), ?)) FROM {t}", [_INT, _NUM]
    ).fetchone()
    if n == 0 or n_num < n:
        return None
    target = "BIGINT" if n_int == n else "DOUBLE"
    try:
        con.execute(f"ALTER TABLE {t} ALTER {q} SET DATA TYPE {target} USING trim({q})::{target}")
    except duckdb.ConversionException:
        con.execute(f"ALTER TABLE {t} ALTER {q} SET DATA TYPE DOUBLE USING trim({q})::DOUBLE")
        target = "DOUBLE"
    return f"'{col}' holds only numbers (the first rows were empty); read as {target}."


def date_counts(con: duckdb.DuckDBPyConnection, table: str, col: str) -> DateCounts:
    """Count a text column's values by date pattern over the whole table.

    Args:
        con: Open connection.
        table: Table name.
        col: Text column.

    Returns:
        The :class:`DateCounts`.
    """
    q = f"trim({quote_ident(col)})"
    row = con.execute(
        f"""SELECT count({q}),
            count_if(regexp_full_match({q}, $iso) OR regexp_full_match({q}, $isot)),
            count_if(regexp_full_match({q}, $isot)),
            count_if(regexp_full_match({q}, $dmy)),
            count_if(regexp_full_match({q}, $dmy)
                     AND TRY_CAST(regexp_extract({q}, $dmy, 1) AS INT) > 12),
            count_if(regexp_full_match({q}, $dmy)
                     AND TRY_CAST(regexp_extract({q}, $dmy, 2) AS INT) > 12),
            count_if(regexp_full_match({q}, $dot)),
            count_if(regexp_full_match({q}, $dot)
                     AND TRY_CAST(regexp_extract({q}, $dot, 2) AS INT) > 12)
        FROM {quote_ident(table)}""",
        {"iso": _ISO, "isot": _ISO_TIME, "dmy": _DMY, "dot": _DOT},
    ).fetchone()
    return DateCounts(*[int(v) for v in row])


def date_formats(c: DateCounts) -> tuple[list[str], str | None]:
    """strptime formats that read every value of a column unambiguously, or why there are none.

    Args:
        c: The column's :class:`DateCounts`.

    Returns:
        ``(formats, problem)``: formats to try in order (empty when the column is not read as
        dates) and a sentence naming the problem, or None.
    """
    if c.n == 0 or c.iso + c.slash + c.dot < c.n:
        return [], None
    formats = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"] if c.iso else []
    if c.dot:
        if c.dot_second_gt12:
            return [], "has dd.mm.yyyy dates whose month part is above 12"
        formats.append("%d.%m.%Y")
    if c.slash:
        if c.first_gt12 and c.second_gt12:
            return [], "mixes day-first and month-first dates (e.g. 25/01 and 01/25)"
        if not (c.first_gt12 or c.second_gt12):
            return [], ("holds dates like 03/04/2024 where day and month cannot be told apart "
                        "(no part is above 12)")
        order = ("%d", "%m") if c.first_gt12 else ("%m", "%d")
        formats += [f"{order[0]}/{order[1]}/%Y", f"{order[0]}-{order[1]}-%Y"]
    return formats, None


def _fix_dates(con, table: str, col: str) -> str | None:
    counts = date_counts(con, table, col)
    formats, problem = date_formats(counts)
    if problem:
        return (f"'{col}' {problem}; it was kept as text. Convert it in Prepare (date parts) "
                f"choosing day-first or month-first.")
    if not formats:
        return None
    q, t = quote_ident(col), quote_ident(table)
    parsed = f"try_strptime(trim({q}), $formats)"
    ok = con.execute(f"SELECT count({parsed}) FROM {t}", {"formats": formats}).fetchone()[0]
    if ok < counts.n:
        return (f"'{col}' looks like dates but {counts.n - ok} value(s) are not valid dates "
                f"(e.g. 31/02); it was kept as text.")
    target = "TIMESTAMP" if counts.timed else "DATE"
    # ALTER cannot take parameters; the formats are this module's own constants, not user input.
    literal = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in formats) + "]"
    con.execute(f"ALTER TABLE {t} ALTER {q} SET DATA TYPE {target} "
                f"USING CAST(try_strptime(trim({q}), {literal}) AS {target})")
    kinds = [k for k, v in (("yyyy-mm-dd", counts.iso), ("dd.mm.yyyy", counts.dot),
                            ("day-first" if counts.first_gt12 else "month-first", counts.slash))
             if v]
    return f"'{col}' read as {target} ({', '.join(kinds)} formats)."


def refine_text_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """Convert text columns of a fresh table that hold only numbers or unambiguous dates.

    Args:
        con: Open connection inside the ingest's transaction.
        table: The freshly loaded table.

    Returns:
        One plain-language note per converted or deliberately unconverted column.
    """
    numeric, dates = _candidates(con, table, _text_columns(con, table))
    notes = [_fix_numeric(con, table, c) for c in numeric]
    notes += [_fix_dates(con, table, c) for c in dates]
    return [n for n in notes if n]
