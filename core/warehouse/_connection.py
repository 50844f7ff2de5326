"""The DuckDB warehouse: short-lived connections, identifier quoting, LiftLab's own bookkeeping.

Connections are opened per operation and closed right after, so the app and the command line can
share one data directory: DuckDB allows one writing process per file, and a process that finds the
lock taken waits and retries (``Settings.lock_timeout_s``) before raising
:class:`~core.errors.WorkspaceBusyError` with the holder's PID. Within one process DuckDB shares the
database instance between connections, so threads each open their own.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from core.config import Settings
from core.errors import SchemaError, WorkspaceBusyError

if TYPE_CHECKING:  # pandas is only needed by callers of read_table (DuckDB's .df())
    import pandas as pd

META_SCHEMA = "liftlab"

_BOOKKEEPING = f"""
CREATE SCHEMA IF NOT EXISTS {META_SCHEMA};
CREATE TABLE IF NOT EXISTS {META_SCHEMA}.catalog (
    table_name VARCHAR PRIMARY KEY, source VARCHAR, created_at TIMESTAMP,
    rows BIGINT, columns_json VARCHAR, report_json VARCHAR);
ALTER TABLE {META_SCHEMA}.catalog ADD COLUMN IF NOT EXISTS origin VARCHAR;
ALTER TABLE {META_SCHEMA}.catalog ADD COLUMN IF NOT EXISTS derived_from VARCHAR;
CREATE TABLE IF NOT EXISTS {META_SCHEMA}.meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS {META_SCHEMA}.runs (
    run_id VARCHAR PRIMARY KEY, created_at TIMESTAMP, table_name VARCHAR, target VARCHAR,
    model VARCHAR, task VARCHAR, metrics_json VARCHAR);
CREATE TABLE IF NOT EXISTS {META_SCHEMA}.jobs (
    job_id VARCHAR PRIMARY KEY, kind VARCHAR, state VARCHAR, created_at TIMESTAMP,
    updated_at TIMESTAMP, run_id VARCHAR, message VARCHAR);
ALTER TABLE {META_SCHEMA}.jobs ADD COLUMN IF NOT EXISTS label VARCHAR;
CREATE TABLE IF NOT EXISTS {META_SCHEMA}.personal (
    table_name VARCHAR, column_name VARCHAR, action VARCHAR, param DOUBLE,
    PRIMARY KEY (table_name, column_name));
CREATE TABLE IF NOT EXISTS {META_SCHEMA}.recipes (
    name VARCHAR PRIMARY KEY, created_at TIMESTAMP, source_table VARCHAR, recipe_json VARCHAR);
"""


def quote_ident(name: str) -> str:
    """Quote an SQL identifier for DuckDB.

    Args:
        name: A table or column name, possibly with spaces, quotes or SQL keywords.

    Returns:
        The name wrapped in double quotes with inner quotes doubled.

    Example:
        >>> quote_ident("select")
        '"select"'
    """
    return '"' + str(name).replace('"', '""') + '"'


_LOCK_PID = re.compile(r"PID (\d+)")


def _busy(err: Exception) -> bool:
    """Whether ``err`` means another holder has the file: another process's lock, or (in this
    process) a connection opened with a different configuration, e.g. the read-only SQL sandbox."""
    text = str(err).lower()
    return ("lock" in text and isinstance(err, duckdb.IOException)) or (
        isinstance(err, duckdb.ConnectionException) and "different configuration" in text)


def open_database(settings: Settings, read_only: bool = False,
                  config: dict | None = None) -> duckdb.DuckDBPyConnection:
    """Open the warehouse file, waiting up to ``lock_timeout_s`` while another holder has it.

    Args:
        settings: Workspace settings.
        read_only: Open read-only (the file must exist); always so in a job's worker
            (``settings.snapshot_dir`` set).
        config: DuckDB configuration options (e.g. ``enable_external_access``).

    Returns:
        A new connection; the caller closes it.

    Raises:
        WorkspaceBusyError: Another process (or a differently configured connection of this
            process) kept the file past ``lock_timeout_s``.
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    read_only = read_only or settings.snapshot_dir is not None  # a worker never writes
    deadline = time.monotonic() + settings.lock_timeout_s
    while True:
        try:
            return duckdb.connect(str(settings.warehouse_path), read_only=read_only,
                                  config=config or {})
        except (duckdb.IOException, duckdb.ConnectionException) as err:
            if not _busy(err):
                raise
            if time.monotonic() >= deadline:
                pid = _LOCK_PID.search(str(err))
                holder = f"process {pid.group(1)}" if pid else "another process"
                if isinstance(err, duckdb.ConnectionException):
                    holder = "a long query in this app (SQL console)"
                raise WorkspaceBusyError(
                    f"The data directory {settings.data_dir} is in use by {holder} (a LiftLab app "
                    f"or command still working). Wait for it to finish and try again, or use "
                    f"another --data-dir."
                ) from err
            time.sleep(0.2)


SNAPSHOT_MANIFEST = "snapshot.json"
"""The file of a snapshot folder listing its tables (see :func:`core.warehouse.export_snapshot`)."""


def _open(settings: Settings) -> duckdb.DuckDBPyConnection:
    if settings.snapshot_dir is not None:
        return open_snapshot(Path(settings.snapshot_dir))
    return open_database(settings)


def sql_literal(text: str) -> str:
    """A string as an SQL literal (single quotes doubled), for statements that take no
    parameters (``CREATE VIEW``, ``COPY``)."""
    return "'" + str(text).replace("'", "''") + "'"


def open_snapshot(folder: Path) -> duckdb.DuckDBPyConnection:
    """A worker's own DuckDB file built from a snapshot folder, as a job's worker sees the
    warehouse.

    On the first open in a process, the bookkeeping tables (``liftlab.*``, with their keys) and
    each user table are copied from the snapshot's Parquet files into ``worker-<pid>.duckdb``
    in the folder (built under a temporary name, then renamed, so a crash leaves no half-built
    file in use); later opens in the process connect to it. User tables are real tables, so
    ``rowid`` (the streamed pipeline's split key) exists as in the warehouse, and DuckDB keeps
    them on disk, not in memory. Writes stay in the worker's file, removed with the folder; the
    analyst's warehouse file is never opened.

    Args:
        folder: A folder written by :func:`core.warehouse.export_snapshot`.

    Returns:
        A new connection; the caller closes it.

    Raises:
        WorkspaceBusyError: The folder holds no snapshot (removed while the job ran).
    """
    try:
        manifest = json.loads((folder / SNAPSHOT_MANIFEST).read_text())
    except (OSError, ValueError) as err:
        raise WorkspaceBusyError(f"The job's data snapshot {folder} is gone ({err}); the server "
                                 f"removes it when a job ends. Start the job again.") from err
    config = {"temp_directory": str(folder / "spill")}
    db = folder / f"worker-{os.getpid()}.duckdb"
    if not db.exists():
        building = folder / f"worker-{os.getpid()}.building.duckdb"
        building.unlink(missing_ok=True)
        con = duckdb.connect(str(building), config=config)
        try:
            _fill_snapshot(con, folder, manifest)
        finally:
            con.close()
        building.replace(db)
    return duckdb.connect(str(db), config=config)


def _fill_snapshot(con: duckdb.DuckDBPyConnection, folder: Path, manifest: dict) -> None:
    con.execute(_BOOKKEEPING)
    for name in manifest["meta"]:
        path = str(folder / f"{META_SCHEMA}.{name}.parquet")
        target = f"{META_SCHEMA}.{quote_ident(name)}"
        known = con.execute("SELECT count(*) FROM information_schema.tables WHERE "
                            "table_schema = ? AND table_name = ?", [META_SCHEMA, name]).fetchone()
        if known[0]:
            con.execute(f"INSERT INTO {target} BY NAME SELECT * FROM read_parquet(?)", [path])
        else:
            con.execute(f"CREATE TABLE {target} AS SELECT * FROM read_parquet(?)", [path])
    for table, file in manifest["tables"].items():  # in file order: rowid follows the rows
        con.execute(f"CREATE TABLE {quote_ident(table)} AS SELECT * FROM "
                    f"read_parquet({sql_literal(folder / file)})")


@contextlib.contextmanager
def connect(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the workspace warehouse for one operation and close it afterwards.

    Creates the data directory and LiftLab's ``liftlab`` bookkeeping schema when missing. In a
    job's worker (``settings.snapshot_dir`` set) it opens the server's Parquet snapshot
    instead (:func:`open_snapshot`) and never the warehouse file.

    Args:
        settings: Workspace settings.

    Yields:
        A DuckDB connection owned by the caller for the duration of the block.

    Raises:
        WorkspaceBusyError: Another process kept the write lock past ``lock_timeout_s``.
    """
    con = _open(settings)
    try:
        con.execute(_BOOKKEEPING)
        yield con
    finally:
        con.close()


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Run the block in one transaction: committed when it ends, rolled back on any error.

    Args:
        con: Open connection not already inside a transaction.

    Yields:
        Nothing; use ``con`` inside the block.
    """
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    try:
        con.execute("COMMIT")
    except duckdb.Error:
        with contextlib.suppress(duckdb.Error):  # a failed commit may leave it open
            con.execute("ROLLBACK")
        raise


_CAP_LOCK = threading.Lock()
_CAP_USERS: dict[str, int] = {}


@contextlib.contextmanager
def capped_memory(con: duckdb.DuckDBPyConnection, mb: int) -> Iterator[list[int]]:
    """Cap DuckDB's memory while a large load or export runs, then lift the cap.

    DuckDB keeps every block it reads or writes in its buffer pool (up to 80% of RAM by
    default), so a plain load or export grows with the table. Under a cap it evicts and
    spills to disk instead. The cap is per database instance, which every connection of this
    process to the same file shares; capped work running at once shares it too (the last cap
    set wins; an out-of-memory error raises it, see :func:`with_memory_retry`), and the last
    one to finish lifts it (``RESET memory_limit``; LiftLab sets no other limit).

    Args:
        con: Open connection.
        mb: The cap in MiB.

    Yields:
        A one-item list holding the cap in force, for :func:`with_memory_retry`.
    """
    key = str(con.execute("SELECT path FROM duckdb_databases() WHERE database_name = "
                          "current_database()").fetchone()[0] or ":memory:")
    with _CAP_LOCK:
        _CAP_USERS[key] = _CAP_USERS.get(key, 0) + 1
        con.execute(f"SET memory_limit = '{int(mb)}MiB'")
    cap = [int(mb)]
    try:
        yield cap
    finally:
        with _CAP_LOCK:
            _CAP_USERS[key] -= 1
            if not _CAP_USERS[key]:
                del _CAP_USERS[key]
                con.execute("RESET memory_limit")


def with_memory_retry(con: duckdb.DuckDBPyConnection, run, cap: list[int],
                      max_mb: int = 4096):
    """Run one step under :func:`capped_memory`; on DuckDB's out-of-memory error double the
    cap and run it again, up to ``max_mb``.

    Args:
        con: The connection the cap was set on.
        run: A callable without arguments; it must be safe to run again after a failure
            (e.g. a whole transaction, rolled back).
        cap: The list :func:`capped_memory` yielded (raised in place).
        max_mb: The highest cap tried.

    Returns:
        What ``run`` returns.

    Raises:
        duckdb.Error: Still out of memory at ``max_mb`` (see :func:`is_memory_error`), or any
            other DuckDB error at once.
    """
    while True:
        try:
            return run()
        except duckdb.Error as err:
            if not is_memory_error(err) or cap[0] * 2 > max_mb:
                raise
            cap[0] *= 2
            con.execute(f"SET memory_limit = '{cap[0]}MiB'")


def is_memory_error(err: BaseException) -> bool:
    """Whether a DuckDB error means the memory cap was too low (an out-of-memory error, or a
    commit that could not pin a block)."""
    return isinstance(err, duckdb.OutOfMemoryException) or (
        isinstance(err, duckdb.Error) and ("Out of Memory" in str(err)
                                           or "failed to pin block" in str(err)))


@dataclass(frozen=True)
class TableInfo:
    """One user table in the warehouse.

    Attributes:
        table: Table name (SQL-safe).
        rows: Number of rows.
        columns: Number of columns.
        source: The file it was loaded from, if known.
    """

    table: str
    rows: int
    columns: int
    source: str | None = None


def list_tables(con: duckdb.DuckDBPyConnection) -> list[TableInfo]:
    """List user tables of the main schema with their sizes.

    Args:
        con: Open warehouse connection.

    Returns:
        One :class:`TableInfo` per table, sorted by name.
    """
    names = con.execute(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = 'main' AND table_type = 'BASE TABLE' ORDER BY table_name"
    ).fetchall()
    sources = dict(con.execute(f"SELECT table_name, source FROM {META_SCHEMA}.catalog").fetchall())
    out = []
    for (name,) in names:
        rows = con.execute(f"SELECT count(*) FROM {quote_ident(name)}").fetchone()[0]
        ncols = len(table_columns(con, name))
        out.append(TableInfo(name, int(rows), ncols, sources.get(name)))
    return out


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether a user table of that name exists in the main schema (DuckDB names are
    case-insensitive: ``SALES`` exists when ``sales`` does)."""
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' "
        "AND lower(table_name) = lower(?)",
        [table],
    ).fetchone()
    return bool(row[0])


def require_table(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Raise :class:`SchemaError` when ``table`` does not exist, naming the tables that do."""
    if not table_exists(con, table):
        known = ", ".join(t.table for t in list_tables(con)) or "none yet"
        raise SchemaError(
            f"There is no table named '{table}'. Tables in this workspace: {known}. "
            f"Load a file first (python -m core ingest FILE) or pick one of these."
        )


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    """Column names and DuckDB types of a table, in table order.

    Args:
        con: Open warehouse connection.
        table: Table name.

    Returns:
        A list of ``(name, type)`` pairs.
    """
    return [
        (r[0], r[1])
        for r in con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
            [table],
        ).fetchall()
    ]


def original_names(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    """Map each clean column name of ``table`` to the header the analyst's file had."""
    row = con.execute(
        f"SELECT columns_json FROM {META_SCHEMA}.catalog WHERE lower(table_name) = lower(?)", [table]
    ).fetchone()
    if not row:
        return {}
    return {c["name"]: c["original_name"] for c in json.loads(row[0])}


def read_table(
    con: duckdb.DuckDBPyConnection, table: str, columns: list[str] | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """Read a table (or some of its columns) into pandas.

    Args:
        con: Open warehouse connection.
        table: Table name.
        columns: Columns to read, in this order; all when None.
        limit: Read at most this many rows.

    Returns:
        A DataFrame of shape (rows, len(columns)).

    Raises:
        SchemaError: The table or a column does not exist.
    """
    require_table(con, table)
    known = [c for c, _ in table_columns(con, table)]
    cols = columns if columns is not None else known
    missing = [c for c in cols if c not in known]
    if missing:
        raise SchemaError(
            f"Table '{table}' has no column(s) {', '.join(missing)}. Its columns are: "
            f"{', '.join(known)}."
        )
    select = ", ".join(quote_ident(c) for c in cols)
    sql = f"SELECT {select} FROM {quote_ident(table)}"
    if limit is not None:
        return con.execute(sql + " LIMIT ?", [int(limit)]).df()
    return con.execute(sql).df()


def get_meta(con: duckdb.DuckDBPyConnection, key: str) -> str | None:
    """Read one value of LiftLab's key/value bookkeeping."""
    row = con.execute(f"SELECT value FROM {META_SCHEMA}.meta WHERE key = ?", [key]).fetchone()
    return row[0] if row else None


def set_meta(con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    """Write one value of LiftLab's key/value bookkeeping."""
    con.execute(f"INSERT OR REPLACE INTO {META_SCHEMA}.meta VALUES (?, ?)", [key, value])
