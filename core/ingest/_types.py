"""Second look at text columns after a load: numbers with missing markers, and dates.

LiftLab reads CSVs with DuckDB's default NULL handling (empty cells, plus the words ``NaN``/``nan``
that DuckDB would otherwise read as a number), because a long list of NULL strings slows the
reader on every field of every row. The file's first rows then propose candidates among the text
columns: columns whose values, missing markers (``NA``, ``N/A``, ``null``, ``-`` …) aside, all
look like numbers (or are all empty), or all look like dates. Every value of a candidate is
checked in SQL before it is converted: to BIGINT/DOUBLE when all values are numbers or markers
(this also covers a column that DuckDB's own sample saw empty), to DATE/TIMESTAMP when every
value matches a known format and the day/month order is unambiguous; the markers become NULL.
Ambiguous day/month columns stay text and are reported, never silently swapped. Other text
columns keep their values as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb

from core.warehouse import quote_ident

_INT = r"[-+]?(0|[1-9][0-9]*)"
# No leading zeros (``007`` is a code, not a number), as in DuckDB's own type detection.
_NUM = r"[-+]?((0|[1-9][0-9]*)(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?"
_ISO = r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
_ISO_TIME = _ISO + r"[ T][0-9]{1,2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?"
_DMY = r"([0-9]{1,2})[/-]([0-9]{1,2})[/-][0-9]{4}"
_DOT = r"([0-9]{1,2})\.([0-9]{1,2})\.[0-9]{4}"
_LOOKS_NUMERIC = re.compile(_NUM)
_DECIMAL_COMMA = re.compile(r"[-+]?([1-9][0-9]{0,2}(\.[0-9]{3})+|0|[1-9][0-9]*)(,[0-9]+)?")
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


def _candidates(con, table: str, markers: list[str], number: re.Pattern,
                head_rows: tuple[tuple[str, ...], ...]) -> tuple[list[str], list[str]]:
    """Text columns whose first values (markers aside) all look like numbers, or like dates.

    The first rows only propose (a column empty there is proposed as numbers); every value is
    checked in SQL before a column is converted.
    """
    described = con.execute(f"DESCRIBE {quote_ident(table)}").fetchall()
    skip = set(markers)
    numeric, dates = [], []
    for i, (col, typ, *_) in enumerate(described):
        if typ != "VARCHAR":
            continue
        values = [r[i].strip() for r in head_rows
                  if len(r) > i and r[i].strip() and r[i] not in skip]
        if all(number.fullmatch(v) for v in values):
            numeric.append(col)
        elif all(_LOOKS_DATE.fullmatch(v) for v in values):
            dates.append(col)
    return numeric, dates


def _markers_to_null(con, table: str, col: str, markers: list[str]) -> None:
    q = quote_ident(col)
    con.execute(f"UPDATE {quote_ident(table)} SET {q} = NULL WHERE {q} IN (SELECT unnest($m))",
                {"m": markers})


def _numeric_sql(col: str, decimal_comma: bool) -> str:
    value = f"trim({quote_ident(col)})"
    if decimal_comma:
        value = f"replace(replace({value}, '.', ''), ',', '.')"
    return value


def _fix_numeric(con, table: str, col: str, markers: list[str], decimal_comma: bool) -> None:
    """Convert a text column to BIGINT/DOUBLE when every value is a number or a missing marker
    (checked in SQL over the whole column); the markers become NULL."""
    q, t = quote_ident(col), quote_ident(table)
    value = _numeric_sql(col, decimal_comma)
    n, n_marker, n_int, n_num = con.execute(
        f"SELECT count({q}), count_if({q} IN (SELECT unnest($m))), "
        f"count_if(regexp_full_match({value}, $int)), count_if(regexp_full_match({value}, $num)) "
        f"FROM {t}", {"int": _INT, "num": _NUM, "m": markers}).fetchone()
    if n == n_marker or n_num < n - n_marker:
        return
    if n_marker:
        _markers_to_null(con, table, col, markers)
    target = "BIGINT" if n_int == n - n_marker else "DOUBLE"
    try:
        con.execute(f"ALTER TABLE {t} ALTER {q} SET DATA TYPE {target} USING {value}::{target}")
    except duckdb.ConversionException:  # an integer too large for BIGINT
        con.execute(f"ALTER TABLE {t} ALTER {q} SET DATA TYPE DOUBLE USING {value}::DOUBLE")


def date_counts(con: duckdb.DuckDBPyConnection, table: str, col: str,
                markers: list[str] | None = None) -> DateCounts:
    """Count a text column's values by date pattern over the whole table.

    Args:
        con: Open connection.
        table: Table name.
        col: Text column.
        markers: Missing-value markers, left out of every count.

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
        FROM {quote_ident(table)} WHERE NOT {quote_ident(col)} IN (SELECT unnest($m))""",
        {"iso": _ISO, "isot": _ISO_TIME, "dmy": _DMY, "dot": _DOT, "m": markers or []},
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
    dated = c.iso + c.slash + c.dot
    if c.n == 0 or dated < c.n / 2:
        return [], None
    if dated < c.n:
        return [], (f"mixes date formats: {dated:,} of {c.n:,} values are dates written "
                    f"yyyy-mm-dd, dd/mm/yyyy or dd.mm.yyyy, the other {c.n - dated:,} another way")
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


def _fix_dates(con, table: str, col: str, markers: list[str]) -> str | None:
    counts = date_counts(con, table, col, markers)
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
    _markers_to_null(con, table, col, markers)
    # ALTER cannot take parameters; the formats are this module's own constants, not user input.
    literal = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in formats) + "]"
    con.execute(f"ALTER TABLE {t} ALTER {q} SET DATA TYPE {target} "
                f"USING CAST(try_strptime(trim({q}), {literal}) AS {target})")
    kinds = [k for k, v in (("yyyy-mm-dd", counts.iso), ("dd.mm.yyyy", counts.dot),
                            ("day-first" if counts.first_gt12 else "month-first", counts.slash))
             if v]
    return f"'{col}' read as {target} ({', '.join(kinds)} formats)."


def refine_text_columns(con: duckdb.DuckDBPyConnection, table: str, markers: list[str],
                        decimal_comma: bool = False,
                        head_rows: tuple[tuple[str, ...], ...] = (),
                        text_markers: list[str] | None = None,
                        names: dict[str, str] | None = None) -> list[str]:
    """Convert text columns that hold only numbers or clear dates (and missing markers).

    Markers become NULL in the columns converted to numbers or dates; other text columns keep
    their values as written (only empty cells are missing there).

    Args:
        con: Open connection inside the ingest's transaction.
        table: The freshly loaded table.
        markers: Missing-value markers (``NA``, ``-`` …).
        decimal_comma: Numbers are written ``1.234,56``.
        head_rows: The file's first data rows as written, one tuple per row in column order.
        text_markers: Markers that also mean missing in the columns that stay text (``?``,
            ``NA`` …): their cells become NULL and each conversion is noted.
        names: SQL column name → the header as written, for the notes.

    Returns:
        Notes on dates that were (or deliberately were not) converted, and on markers read
        as missing in text columns.
    """
    number = _DECIMAL_COMMA if decimal_comma else _LOOKS_NUMERIC
    numeric, dates = _candidates(con, table, markers, number, head_rows)
    for col in numeric:
        _fix_numeric(con, table, col, markers, decimal_comma)
    notes = [_fix_dates(con, table, col, markers) for col in dates]
    if text_markers:
        notes += _text_markers(con, table, [m for m in text_markers if m.strip()], names or {})
    return [n for n in notes if n]


def _text_markers(con: duckdb.DuckDBPyConnection, table: str, markers: list[str],
                  names: dict[str, str]) -> list[str]:
    """Read missing-value markers (``?``, ``NA`` …) as NULL in the columns that are still
    text, one note per column saying which markers and how many cells."""
    q = quote_ident(table)
    text_cols = [r[0] for r in con.execute(f"DESCRIBE {q}").fetchall() if r[1] == "VARCHAR"]
    notes = []
    for col in text_cols:
        c = quote_ident(col)
        found = con.execute(f"SELECT trim({c}) AS m, count(*) FROM {q} WHERE trim({c}) IN "
                            f"(SELECT unnest(?)) OR (trim({c}) = '' AND {c} IS NOT NULL) "
                            f"GROUP BY m ORDER BY 2 DESC", [markers]).fetchall()
        if not found:
            continue
        con.execute(f"UPDATE {q} SET {c} = NULL WHERE trim({c}) IN (SELECT unnest(?)) "
                    f"OR trim({c}) = ''", [markers])
        what = ", ".join(f"'{m}' ×{n:,}" if m else f"blank ×{n:,}" for m, n in found)
        notes.append(f"'{names.get(col, col)}': {sum(n for _, n in found):,} cell(s) read as "
                     f"missing ({what}).")
    return notes
