"""The rows to monitor, split into chunks, as a temporary DuckDB view.

The current table is seen through a temporary view holding only the run's features, the
target (when the table has it) and a chunk number ``__chunk``; every later query reads that
view, so nothing is copied. Chunks are periods of a time column (day, ISO week, month, quarter) or a number of
equal chunks in table order (DuckDB's ``rowid``). Periods between the first and the last date
without any row are empty chunks: they are skipped and said so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.errors import MonitorError, SchemaError
from core.warehouse import quote_ident, require_table, table_columns

CURRENT = "__monitor_current"
REFERENCE = "__monitor_reference"
TARGET = "__target"
PERIODS = ("day", "week", "month", "quarter")
MAX_CHUNKS = 200
_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
            "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "REAL")
_DATES = ("DATE", "TIMESTAMP")
_LABEL = {"day": "%Y-%m-%d", "week": "%G-W%V", "month": "%Y-%m", "quarter": None}
_STEP = {"day": "1 day", "week": "7 days", "month": "1 month", "quarter": "3 months"}


@dataclass(frozen=True)
class Chunking:
    """How new rows are split into chunks.

    Attributes:
        time_column: A date or timestamp column, or None for chunks in table order.
        period: ``day``, ``week`` (ISO weeks), ``month`` or ``quarter`` (with a time column).
        n_chunks: Number of equal chunks in table order (without a time column), 1–200.
    """

    time_column: str | None = None
    period: str | None = None
    n_chunks: int | None = None

    def __post_init__(self) -> None:
        if self.time_column:
            if self.period not in PERIODS:
                raise MonitorError(f"With a time column, chunk by one of {', '.join(PERIODS)}; "
                                   f"got {self.period!r}.")
            if self.n_chunks:
                raise MonitorError("Choose either a time column with a period, or a number "
                                   "of equal chunks, not both.")
        elif self.period:
            raise MonitorError(f"Chunking by {self.period} needs a time column (--time COL).")
        elif not (self.n_chunks is None or 1 <= int(self.n_chunks) <= MAX_CHUNKS):
            raise MonitorError(f"The number of chunks must be between 1 and {MAX_CHUNKS}; got "
                               f"{self.n_chunks}.")

    def label(self) -> str:
        """In words, e.g. ``"by month of 'date'"`` or ``"4 equal chunks in table order"``."""
        if self.time_column:
            return f"by {self.period} of '{self.time_column}'"
        return f"{self.n_chunks or 4} equal chunks in table order"

    def to_dict(self) -> dict:
        """JSON form."""
        return {"time_column": self.time_column, "period": self.period,
                "n_chunks": None if self.time_column else (self.n_chunks or 4)}


@dataclass
class ChunkPlan:
    """The chunks of the current table.

    Attributes:
        labels: Label of each chunk number (empty chunks included), e.g. ``"2024-03"``.
        rows: Rows per chunk number.
        notes: Plain-language remarks (rows without a date, empty chunks).
        target: The run's target column when the table has it (``__target``), else None.
    """

    labels: list[str]
    rows: list[int]
    notes: list[str] = field(default_factory=list)
    target: str | None = None

    @property
    def has_target(self) -> bool:
        """Whether the table has the run's target column."""
        return self.target is not None

    @property
    def kept(self) -> list[int]:
        """Chunk numbers with at least one row."""
        return [i for i, n in enumerate(self.rows) if n > 0]


def is_numeric_type(duck_type: str) -> bool:
    """Whether a DuckDB column type holds numbers."""
    t = duck_type.upper()
    return t.startswith(_NUMERIC) or t.startswith("DECIMAL")


def check_columns(con, table: str, features: list[str], numeric: set[str],
                  names: dict[str, str]) -> dict[str, str]:
    """Refuse a table that lacks a feature or holds text where the run learned numbers.

    Args:
        con: Open connection.
        table: The table of new rows.
        features: The run's feature columns (SQL names).
        numeric: Those the run encodes as numbers.
        names: SQL name → the file's header, for messages.

    Returns:
        Column name → DuckDB type of the table.

    Raises:
        SchemaError: No such table, missing features (named as in the file), or features with
            values that are not numbers where the run learned numbers (named, with an example).
    """
    require_table(con, table)
    types = dict(table_columns(con, table))
    missing = [f for f in features if f not in types]
    if missing:
        shown = ", ".join(names.get(f, f) for f in missing)
        raise SchemaError(f"Table '{table}' lacks {len(missing)} feature column(s) the run was "
                          f"trained on: {shown}. Load new rows with the same columns as the "
                          f"training table (or rename them) and monitor again.")
    retyped = []
    for f in features:
        if f in numeric and not is_numeric_type(types[f]):
            q = quote_ident(f)
            bad = con.execute(f"SELECT CAST({q} AS VARCHAR) FROM {quote_ident(table)} WHERE {q} "
                              f"IS NOT NULL AND TRY_CAST({q} AS DOUBLE) IS NULL LIMIT 1").fetchone()
            if bad:
                retyped.append(f"{names.get(f, f)} (e.g. '{bad[0]}')")
    if retyped:
        raise SchemaError(f"In table '{table}' these columns hold text where the run learned "
                          f"numbers: {'; '.join(retyped)}. Clean them (Prepare page) or load the "
                          f"file again with the same column types.")
    return types


def build_current(con, table: str, columns: list[str], target: str | None,
                  chunking: Chunking) -> ChunkPlan:
    """Expose the table's ``columns`` (and ``target`` as ``__target``) with a chunk number as
    the temporary view ``__monitor_current`` (a temporary table when table order needs a
    window, i.e. after rows were deleted).

    Args:
        con: Open connection (the temporary table lives as long as it).
        table: The table of new rows.
        columns: Feature columns to copy.
        target: The run's target column when the table has it, else None.
        chunking: How to split.

    Returns:
        The :class:`ChunkPlan`.

    Raises:
        SchemaError: The table is empty, or the time column is missing or not a date.
    """
    src = quote_ident(table)
    cols = ", ".join(quote_ident(c) for c in columns)
    if target:
        cols += f", {quote_ident(target)} AS {TARGET}"
    if chunking.time_column:
        chunk, labels, where, notes = _time_chunks(con, table, chunking)
    else:
        chunk, labels, where, notes = _equal_chunks(con, table, chunking.n_chunks or 4)
    # a view when the chunk number is a plain expression of the row: nothing is copied, so
    # memory does not grow with the table; a table when it needs a window over all rows
    kind = "TABLE" if "OVER" in chunk else "VIEW"
    con.execute(f"CREATE OR REPLACE TEMP {kind} {CURRENT} AS SELECT {chunk} AS __chunk, {cols} "
                f"FROM {src}{where}")
    counts = dict(con.execute(f"SELECT __chunk, count(*) FROM {CURRENT} GROUP BY 1").fetchall())
    rows = [int(counts.get(i, 0)) for i in range(len(labels))]
    empty = [labels[i] for i, n in enumerate(rows) if n == 0]
    if empty:
        shown = ", ".join(empty[:10]) + (f" and {len(empty) - 10} more" if len(empty) > 10 else "")
        notes.append(f"{len(empty)} chunk(s) have no rows and were skipped: {shown}.")
    return ChunkPlan(labels, rows, notes, target)


def _equal_chunks(con, table: str, n_chunks: int) -> tuple[str, list[str], str, list[str]]:
    src = quote_ident(table)
    n, top = con.execute(f"SELECT count(*), max(rowid) FROM {src}").fetchone()
    if not n:
        raise SchemaError(f"Table '{table}' has no rows to monitor.")
    k = int(n_chunks)
    # table order is DuckDB's rowid; without deletions it runs 0..n-1 and needs no window
    pos = "rowid" if top == n - 1 else "(row_number() OVER (ORDER BY rowid) - 1)"
    chunk = f"CAST(floor({pos} * {k} / {int(n)}) AS INTEGER)"
    width = len(str(k))
    labels = [f"{i + 1:0{width}d}/{k}" for i in range(k)]
    return chunk, labels, "", []


def _time_chunks(con, table: str, chunking: Chunking) -> tuple[str, list[str], str, list[str]]:
    col, period = chunking.time_column, chunking.period
    types = dict(table_columns(con, table))
    if col not in types:
        raise SchemaError(f"Table '{table}' has no time column '{col}'. Its columns are: "
                          f"{', '.join(types)}.")
    q, src = quote_ident(col), quote_ident(table)
    t = types[col].upper()
    if t.startswith(_DATES):
        ts = f"CAST({q} AS TIMESTAMP)"
    elif t.startswith("VARCHAR"):
        ts = f"TRY_CAST({q} AS TIMESTAMP)"
        bad = con.execute(f"SELECT {q} FROM {src} WHERE {q} IS NOT NULL AND {ts} IS NULL "
                          f"LIMIT 1").fetchone()
        if bad:
            raise SchemaError(f"The time column '{col}' is not a date: it holds '{bad[0]}'. "
                              f"Choose a date or timestamp column, or chunk by a number of "
                              f"equal chunks instead.")
    else:
        raise SchemaError(f"The time column '{col}' is not a date (its type is {types[col]}). "
                          f"Choose a date or timestamp column, or chunk by a number of equal "
                          f"chunks instead.")
    unit = "week" if period == "week" else period
    lo, hi, missing = con.execute(
        f"SELECT date_trunc('{unit}', min({ts})), date_trunc('{unit}', max({ts})), "
        f"count(*) FILTER (WHERE {ts} IS NULL) FROM {src}").fetchone()
    if lo is None:
        raise SchemaError(f"The time column '{col}' of table '{table}' has no dates; nothing to "
                          f"chunk.")
    starts = [r[0] for r in con.execute(
        f"SELECT unnest(generate_series(?::TIMESTAMP, ?::TIMESTAMP, INTERVAL '{_STEP[period]}'))",
        [lo, hi]).fetchall()]
    if len(starts) > MAX_CHUNKS:
        raise MonitorError(f"Chunking '{col}' by {period} gives {len(starts)} chunks (at most "
                           f"{MAX_CHUNKS}); choose a longer period.")
    labels = [_period_label(s, period) for s in starts]
    chunk = f"CAST(date_diff('{unit}', TIMESTAMP '{lo}', date_trunc('{unit}', {ts})) AS INTEGER)"
    if period == "quarter":
        chunk = f"CAST(date_diff('month', TIMESTAMP '{lo}', date_trunc('quarter', {ts})) / 3 AS INTEGER)"
    notes = [f"{missing:,} row(s) without a date in '{col}' were left out."] if missing else []
    return chunk, labels, f" WHERE {ts} IS NOT NULL", notes


def _period_label(start, period: str) -> str:
    if period == "quarter":
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    return start.strftime(_LABEL[period])


def build_reference(con, path: str, columns: list[str]) -> int:
    """Copy the run's test split (its ``test.parquet``) into the temporary table
    ``__monitor_reference`` (features, ``__label``, ``__score``).

    Returns:
        Reference rows.
    """
    cols = ", ".join(quote_ident(c) for c in [*columns, "__label", "__score"])
    con.execute(f"CREATE OR REPLACE TEMP TABLE {REFERENCE} AS SELECT {cols} FROM read_parquet(?)",
                [path])
    return int(con.execute(f"SELECT count(*) FROM {REFERENCE}").fetchone()[0])
