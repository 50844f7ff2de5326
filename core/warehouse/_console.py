"""A safe SQL console over the warehouse: one read-only SELECT, no files, no settings.

Each query opens its own DuckDB instance on the warehouse file, read-only, with external access
disabled and the configuration locked (DuckDB's "Securing DuckDB" recipe): ``read_csv('/etc/…')``,
``COPY … TO``, ``ATTACH``, ``INSTALL``/``LOAD`` and ``SET`` all fail inside DuckDB itself. On top,
only a single SELECT-type statement is accepted, the result is capped at a row limit, and a timer
interrupts queries that run too long. Columns marked as personal data are hidden behind temporary
views of the same name, and fully qualified references to such tables are refused.

DuckDB refuses a second, differently configured instance on a file that is open in the same
process; the opener waits for the other connection to close (app connections are short-lived),
as it does for another process's write lock.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb

from core.config import Settings
from core.errors import QueryError
from core.warehouse._connection import (
    META_SCHEMA,
    connect,
    open_database,
    original_names,
    quote_ident,
)
from core.warehouse._names import clean_name
from core.warehouse._sandbox import SANDBOX_CONFIG, unsafe_functions

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 1000
MAX_LIMIT = 100_000
DEFAULT_TIMEOUT_S = 8.0
_NOT_ALLOWED = (
    "The SQL console only reads the tables of this workspace with one SELECT query: it cannot "
    "read or write files, attach databases, install extensions, change settings or modify "
    "tables. To load a file use the Data page (or python -m core ingest); to change data use "
    "Prepare."
)


REFUSED = "The query was refused"
FAILED = "The query failed"
STOPPED = "The query was stopped"
_MAX_LISTED = 40
_UNKNOWN_NAME = re.compile(r"Referenced (column|table) .* not found|Table with name .* does not "
                           r"exist|Column with name .* does not exist", re.IGNORECASE)


class QueryFailed(QueryError):
    """A safe query that DuckDB could not run (a typo, an unknown name, a type mismatch).

    Unlike a refusal, nothing unsafe was asked for: the query only needs fixing.

    Args:
        detail: What DuckDB reported, e.g. ``The query failed: Binder Error: …``.
        hint: What to do about it (the columns to choose from, …); may be empty.
    """

    default_title = FAILED

    def __init__(self, detail: str, hint: str = "") -> None:
        super().__init__(f"{detail} {hint}".strip())
        self.detail = detail
        self.hint = hint


@dataclass(frozen=True)
class QueryResult:
    """The first rows of a query's result.

    Attributes:
        columns: Column names, in order.
        rows: Result rows as tuples, at most ``limit``.
        truncated: More rows exist than ``limit``.
        limit: The row cap applied.
        seconds: Time the query took.
        notes: Remarks, e.g. which personal columns were hidden.
    """

    columns: list[str]
    rows: list[tuple]
    truncated: bool
    limit: int
    seconds: float
    notes: tuple[str, ...] = ()

    def frame(self) -> pd.DataFrame:
        """The rows as a DataFrame of shape (len(rows), len(columns))."""
        import pandas as pd

        return pd.DataFrame.from_records(self.rows, columns=self.columns)

    def to_csv(self) -> bytes:
        """The rows as UTF-8 CSV bytes (for a download)."""
        return self.frame().to_csv(index=False).encode("utf-8")


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


def _check_statement(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as err:
        raise QueryFailed(f"The query is not valid SQL: {_first_line(err)}") from err
    if len(statements) != 1:
        raise QueryError(f"Run one statement at a time (found {len(statements)}). {_NOT_ALLOWED}",
                         REFUSED)
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        name = str(kind).split(".")[-1].replace("LOAD", "INSTALL/LOAD")
        raise QueryError(f"{name} statements are not allowed. {_NOT_ALLOWED}", REFUSED)
    unsafe = unsafe_functions(con, sql)
    if unsafe:
        raise QueryError(f"The console does not run {', '.join(unsafe)}(…): it builds a whole "
                         f"list or text in memory at once, beyond the console's memory limit. "
                         f"Query the tables' rows instead.", REFUSED)


def _personal_columns(con) -> dict[str, list[str]]:
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? "
        "AND table_name = 'personal'", [META_SCHEMA]).fetchone()[0]
    if not exists:
        return {}
    out: dict[str, list[str]] = {}
    for table, column in con.execute(
            f"SELECT table_name, column_name FROM {META_SCHEMA}.personal").fetchall():
        out.setdefault(table, []).append(column)
    return out


def _hide_personal(con, sql: str, catalog: str) -> tuple[str, ...]:
    """Shadow tables with personal columns by temp views without them; refuse bypasses."""
    personal = _personal_columns(con)
    if not personal:
        return ()
    lowered = {t.lower(): t for t in personal}
    for ref in con.get_table_names(sql, qualified=True):
        parts = [p.strip('"').lower() for p in ref.split(" ")[0].split(".")]
        if len(parts) >= 2 and parts[0] == catalog.lower() and parts[-1] in lowered:
            raise QueryError(
                f"Table '{lowered[parts[-1]]}' has columns marked as personal data; refer to it "
                f"by its plain name (personal columns are hidden) or query its protected copy.",
                REFUSED)
    used = {t.strip('"').lower() for t in con.get_table_names(sql)}
    notes = []
    for table, hidden in personal.items():
        if table.lower() not in used:
            continue
        cols = [c for (c,) in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_catalog = ? AND "
            "table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
            [catalog, table]).fetchall() if c not in hidden]
        if not cols:
            continue
        select = ", ".join(quote_ident(c) for c in cols)
        source = f"{quote_ident(catalog)}.main.{quote_ident(table)}"
        con.execute(f"CREATE TEMP VIEW {quote_ident(table)} AS SELECT {select} FROM {source}")
        notes.append(f"Personal columns of '{table}' are hidden: {', '.join(hidden)}.")
    return tuple(notes)


def _sandbox(settings: Settings) -> duckdb.DuckDBPyConnection:
    if not settings.warehouse_path.exists():
        with connect(settings):
            pass  # creates the file and LiftLab's bookkeeping
    return open_database(settings, read_only=True, config=dict(SANDBOX_CONFIG))


def _user_tables(con, catalog: str) -> list[str]:
    return [t for (t,) in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = ? AND "
        "table_schema = 'main' ORDER BY table_name", [catalog]).fetchall()]


def _listed(names: list[str]) -> str:
    shown = ", ".join(names[:_MAX_LISTED])
    return shown + (f", … ({len(names) - _MAX_LISTED} more)" if len(names) > _MAX_LISTED else "")


def _suggestion(err: Exception) -> str:
    """DuckDB's own 'did you mean' (its first candidate), reworded."""
    m = re.search(r'(?:Candidate bindings: |Did you mean )("[^"\n]+")', str(err))
    return f"Did you mean {m.group(1)}? " if m else ""


def _spelled_names(sql: str, err: Exception) -> set[str]:
    """Names the query may mean as columns: the unknown one, dotted and quoted names."""
    found = set(re.findall(r'"([^"]+)"', _first_line(err)))
    found |= set(re.findall(r'"([^"]+)"', sql))
    found |= set(re.findall(r"\b[^\W\d][\w]*(?:\.[\w]+)+", sql))
    return found


def _renamed(con, sql: str, err: Exception, table: str, cols: list[str]) -> list[str]:
    """``'emp.var.rate' is "emp_var_rate"`` for each file header or spelling the query uses."""
    lowered = {c.lower(): c for c in cols}
    pairs = {orig: clean for clean, orig in original_names(con, table).items()
             if orig != clean and clean in cols and orig.lower() in sql.lower()}
    for name in _spelled_names(sql, err):
        clean = lowered.get(clean_name(name, "").lower())
        if clean and name.lower() not in lowered:
            pairs.setdefault(name, clean)
    return [f"'{orig}' is {quote_ident(clean)}" for orig, clean in sorted(pairs.items())]


def name_hint(con: duckdb.DuckDBPyConnection, sql: str, err: Exception, catalog: str) -> str:
    """Help for a query naming a table or column that does not exist ('' for other errors).

    Lists the tables of the workspace, or the columns of the tables the query reads (personal
    columns left out), maps any header of the original file that the query spells as written
    (``emp.var.rate``) to its SQL name (``emp_var_rate``), and reminds that names are quoted with
    double quotes.

    Args:
        con: The sandboxed connection the query failed on.
        sql: The query.
        err: DuckDB's error.
        catalog: The warehouse's catalog name.

    Returns:
        One or more sentences, or an empty string.
    """
    if not _UNKNOWN_NAME.search(_first_line(err)):
        return ""
    suggestion = _suggestion(err)
    try:
        tables = _user_tables(con, catalog)
        by_lower = {t.lower(): t for t in tables}
        used = [by_lower[t.strip('"').lower()] for t in sorted(con.get_table_names(sql))
                if t.strip('"').lower() in by_lower]
        if not used:
            return suggestion + f"Tables in this workspace: {_listed(tables) or 'none yet'}."
        personal = _personal_columns(con)
        parts, renamed, example = [suggestion], [], None
        for table in used:
            hidden = set(personal.get(table, []))
            cols = [c for (c,) in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_catalog = ? AND "
                "table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
                [catalog, table]).fetchall() if c not in hidden]
            parts.append(f"Columns of {table}: {_listed(cols)}. ")
            renamed += _renamed(con, sql, err, table, cols)
            example = example or (table, cols[0] if cols else "column")
    except duckdb.Error:  # the hint is a courtesy; never hide the real error behind another
        return suggestion
    column = renamed[0].split(" is ")[-1] if renamed else quote_ident(example[1])
    parts.append("SQL uses the cleaned column names shown in the Columns tab, not the file's "
                 "headers" + (f" ({'; '.join(renamed)})" if renamed else "") +
                 f"; quote names with double quotes, e.g. SELECT {column} FROM "
                 f"{quote_ident(example[0])}.")
    return "".join(parts)


@contextlib.contextmanager
def _duckdb_errors(con, sql: str, catalog: str, timeout_s: float) -> Iterator[None]:
    """Turn DuckDB's errors into :class:`QueryError` messages that say what to do.

    File access and other sandbox violations are refusals; everything else (unknown names,
    type mismatches, …) is a plain failure of the query, with a hint for unknown names.
    """
    try:
        yield
    except duckdb.InterruptException as err:
        raise QueryError(f"The query ran longer than {timeout_s:g} s and was stopped. Add a "
                         f"WHERE filter or aggregate, or query a smaller table.", STOPPED) from err
    except duckdb.PermissionException as err:
        raise QueryError(f"Not allowed: {_first_line(err)}. {_NOT_ALLOWED}", REFUSED) from err
    except duckdb.Error as err:
        raise QueryFailed(f"The query failed: {_first_line(err)}",
                          name_hint(con, sql, err, catalog)) from err


def _execute(con, sql: str, limit: int, timeout_s: float) -> tuple[list[str], list[tuple], bool]:
    timer = threading.Timer(timeout_s, con.interrupt)
    timer.start()
    try:
        cur = con.execute(sql)
        columns = [d[0] for d in cur.description or []]
        rows = cur.fetchmany(limit + 1)
    finally:
        timer.cancel()
    return columns, rows[:limit], len(rows) > limit


def run_query(settings: Settings, sql: str, limit: int = DEFAULT_LIMIT,
              timeout_s: float = DEFAULT_TIMEOUT_S) -> QueryResult:
    """Run one read-only SELECT on the workspace in the sandbox.

    Args:
        settings: Workspace settings.
        sql: One SELECT-type statement (``SELECT``, ``WITH``, ``FROM``, ``DESCRIBE``, ``SHOW``,
            ``SUMMARIZE``, ``VALUES``).
        limit: Return at most this many rows (1 to ``MAX_LIMIT``).
        timeout_s: Stop the query after this many seconds.

    Returns:
        The :class:`QueryResult`.

    Raises:
        QueryError: Empty, invalid, not a single SELECT, touching files or settings (title
            :data:`REFUSED`), too slow (:data:`STOPPED`), or failing in DuckDB
            (:data:`FAILED`; unknown names come with the columns to choose from); the message
            says what to do instead.
        WorkspaceBusyError: Another process is writing the warehouse for too long.
    """
    text = (sql or "").strip().rstrip(";").strip()
    if not text:
        raise QueryError("Type a SELECT query, e.g. SELECT * FROM my_table LIMIT 10.",
                         "There is no query to run")
    if not 1 <= int(limit) <= MAX_LIMIT:
        raise QueryError(f"limit must be between 1 and {MAX_LIMIT:,}; got {limit}.", FAILED)
    started = time.perf_counter()
    con = _sandbox(settings)
    try:
        _check_statement(con, text)
        catalog = settings.warehouse_path.stem
        with _duckdb_errors(con, text, catalog, timeout_s):
            notes = _hide_personal(con, text, catalog)
            columns, rows, truncated = _execute(con, text, int(limit), timeout_s)
    finally:
        con.close()
    seconds = time.perf_counter() - started
    if truncated:
        notes += (f"Only the first {limit:,} rows are shown.",)
    log.info("sql console: %d rows in %.2f s", len(rows), seconds)
    return QueryResult(columns, rows, truncated, int(limit), seconds, notes)
