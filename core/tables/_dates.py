"""Dates written as text: the formats a day-first or month-first reading tries, and how many
values of a column each reading parses (with examples of those it cannot).

A text column of dates such as ``03/04/2024`` cannot be read without knowing whether the day
or the month comes first; ingest keeps such columns (and columns mixing formats) as text. The
``date_parts`` step then reads them with the order the analyst chooses, trying the formats
below in order with DuckDB's ``try_strptime`` (the first that parses wins; two-digit years
first, because ``%Y`` also accepts ``24`` as the year 24). ISO dates (``2024-01-15``, with or
without a time) read the same either way.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from core.errors import SchemaError
from core.warehouse import quote_ident, require_table, table_columns

ISO_FORMATS = ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M",
               "%Y/%m/%d")
_ORDERS = {"day_first": ("%d", "%m"), "month_first": ("%m", "%d")}
EXAMPLES = 5


def text_date_formats(order: str) -> list[str]:
    """The strptime formats tried, in order, for ``day_first`` or ``month_first`` text dates.

    Args:
        order: ``day_first`` (``25/12/2023``) or ``month_first`` (``12/25/2023``).

    Returns:
        Formats with ``/``, ``-`` and ``.`` separators, two-digit years first, with and without
        a time of day, then the ISO formats.
    """
    a, b = _ORDERS[order]
    out = []
    for year in ("%y", "%Y"):
        for sep in ("/", "-", "."):
            out.append(f"{a}{sep}{b}{sep}{year}")
    for time in (" %H:%M", " %H:%M:%S"):
        out += [f"{a}/{b}/%Y{time}", f"{a}-{b}-%Y{time}", f"{a}.{b}.%Y{time}"]
    return out + list(ISO_FORMATS)


def parse_sql(expr: str, formats_param: str) -> str:
    """SQL reading a text expression as a DATE with the formats bound as ``formats_param``.

    Args:
        expr: An SQL expression of type text (already quoted).
        formats_param: Placeholder of the bound list of formats (``$p3``).

    Returns:
        An SQL expression, NULL where no format parses.
    """
    return f"CAST(try_strptime(trim({expr}), {formats_param}) AS DATE)"


def formats_in_use(con: duckdb.DuckDBPyConnection, source: str, params: dict, column: str,
                   formats: list[str]) -> list[str]:
    """The formats, in order, that read at least one value of ``column`` (each distinct value
    tried once with each format).

    Trying only these gives every value the date the whole list would give it (the first
    format that reads a value is always kept), and parsing a large column stays fast: each
    format tried costs about a microsecond per value.

    Args:
        con: Open connection.
        source: A quoted table name or a parenthesised subquery with an alias.
        params: Named parameters of ``source`` (none may start with ``fmt_``).
        column: The text column.
        formats: The candidate strptime formats, in order.
    """
    q = f"trim(CAST({quote_ident(column)} AS VARCHAR))"
    counts = ", ".join(f"count(try_strptime(v, $fmt_{i}))" for i in range(len(formats)))
    row = con.execute(f"SELECT {counts} FROM (SELECT DISTINCT {q} AS v FROM {source}) AS d",
                      {**params, **{f"fmt_{i}": f for i, f in enumerate(formats)}}).fetchone()
    return [f for f, n in zip(formats, row) if n]


@dataclass(frozen=True)
class DateReadings:
    """How a text column of dates reads day-first and month-first.

    Attributes:
        column: The column.
        values: Non-empty values (rows).
        day_first: Values a day-first reading parses.
        month_first: Values a month-first reading parses.
        iso: Values in an ISO format (``2024-01-15``, four-digit year first), which read the
            same either way.
        unparsed_day_first: Up to ``EXAMPLES`` distinct values day-first cannot read.
        unparsed_month_first: Up to ``EXAMPLES`` distinct values month-first cannot read.
    """

    column: str
    values: int
    day_first: int
    month_first: int
    iso: int
    unparsed_day_first: tuple[str, ...] = ()
    unparsed_month_first: tuple[str, ...] = ()

    @property
    def looks_like_dates(self) -> bool:
        """At least half of the values read as dates one way or the other."""
        return self.values > 0 and max(self.day_first, self.month_first) >= 0.5 * self.values

    @property
    def suggested(self) -> str:
        """The order that reads more values (``day_first`` on a tie)."""
        return "month_first" if self.month_first > self.day_first else "day_first"

    def sentence(self) -> str:
        """E.g. ``day-first reads 4 of 5 values, month-first 3 of 5 (2 are ISO dates)``."""
        iso = f" ({self.iso:,} are ISO dates, read the same either way)" if self.iso else ""
        return (f"day-first reads {self.day_first:,} of {self.values:,} values, month-first "
                f"{self.month_first:,}{iso}")


def unparsed_examples(con: duckdb.DuckDBPyConnection, source: str, params: dict, column: str,
                      formats: list[str]) -> tuple[str, ...]:
    """Up to ``EXAMPLES`` distinct non-empty values of ``column`` no format parses, sorted.

    Args:
        con: Open connection.
        source: A quoted table name or a parenthesised subquery with an alias.
        params: Named parameters of ``source`` (none may be called ``fmts``).
        column: The text column.
        formats: The strptime formats tried.
    """
    q = quote_ident(column)
    rows = con.execute(
        f"SELECT DISTINCT trim(CAST({q} AS VARCHAR)) AS v FROM {source} "
        f"WHERE trim(CAST({q} AS VARCHAR)) <> '' AND {parse_sql(q, '$fmts')} IS NULL "
        f"ORDER BY v LIMIT {EXAMPLES}", {**params, "fmts": formats}).fetchall()
    return tuple(r[0] for r in rows)


def date_readings(con: duckdb.DuckDBPyConnection, source: str, column: str,
                  params: dict | None = None, examples: bool = True) -> DateReadings:
    """Count how many values of a text column each reading parses (one scan; each distinct
    value is parsed once).

    Args:
        con: Open connection.
        source: A quoted table name or a parenthesised subquery with an alias.
        column: The text column.
        params: Named parameters of ``source`` (none may be called ``df``, ``mf`` or ``iso``).
        examples: Also fetch a few values each reading cannot parse (two more scans, only
            when there are such values).

    Returns:
        The :class:`DateReadings`.
    """
    iso_only = len(ISO_FORMATS)
    p = {**(params or {}), "df": text_date_formats("day_first")[:-iso_only],
         "mf": text_date_formats("month_first")[:-iso_only], "iso": list(ISO_FORMATS)}
    # each distinct value is parsed once and weighted by its rows (dates repeat a lot); a
    # value written year first is tried with the ISO formats only, which read it the same way
    # whatever the order (the full lists give the same dates, only slower)
    iso_like = "regexp_full_match(v, '[0-9]{4}[-/].*')"
    iso = f"{parse_sql('v', '$iso')} IS NOT NULL"
    read = {o: f"CASE WHEN {iso_like} THEN {iso} ELSE {parse_sql('v', '$' + o)} IS NOT NULL END"
            for o in ("df", "mf")}
    n, df, mf, iso = con.execute(
        f"SELECT sum(n), sum(n) FILTER ({read['df']}), sum(n) FILTER ({read['mf']}), "
        f"sum(n) FILTER ({iso_like} AND {iso}) "
        f"FROM (SELECT trim(CAST({quote_ident(column)} AS VARCHAR)) AS v, count(*) AS n "
        f"FROM {source} GROUP BY 1) AS d WHERE v <> ''", p).fetchone()
    n, df, mf, iso = (int(x or 0) for x in (n, df, mf, iso))
    bad_df = bad_mf = ()
    if examples and df < n:
        bad_df = unparsed_examples(con, source, params or {}, column,
                                   text_date_formats("day_first"))
    if examples and mf < n:
        bad_mf = unparsed_examples(con, source, params or {}, column,
                                   text_date_formats("month_first"))
    return DateReadings(column, n, df, mf, iso, bad_df, bad_mf)


def column_date_readings(con: duckdb.DuckDBPyConnection, table: str,
                         column: str) -> DateReadings:
    """How a table's text column reads day-first and month-first, with unreadable examples.

    Args:
        con: Open warehouse connection.
        table: Table name.
        column: A text column of the table.

    Returns:
        The :class:`DateReadings`.

    Raises:
        SchemaError: Unknown table or column.
    """
    require_table(con, table)
    if column not in dict(table_columns(con, table)):
        raise SchemaError(f"Table '{table}' has no column '{column}'.")
    return date_readings(con, quote_ident(table), column)
