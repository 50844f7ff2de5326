"""Tables LiftLab writes for the analyst (scores, recipe outputs, protected copies, targeted
lists): their names checked, raw tables and inputs never replaced, and their lineage recorded.

DuckDB table names are case-insensitive (``SALES`` and ``sales`` are one table), so every check
here compares names without case. A *raw* table is one loaded from a file (a catalog row
without an ``origin``, or ``origin = 'raw'``); a *derived* table has ``origin = 'derived'``
and names the table it came from. :func:`record_output` also copies the input's original
column names (for display) and its personal-data marks, so a column marked personal stays
hidden and refused in every table made from it.
"""

from __future__ import annotations

import json
from datetime import datetime

import duckdb

from core.errors import SchemaError
from core.warehouse._connection import (
    META_SCHEMA,
    original_names,
    quote_ident,
    sql_literal,
    table_columns,
    transaction,
)
from core.warehouse._names import clean_name


class OutputTableError(SchemaError):
    """An output name would replace a table it must not, or is not a usable name."""

    default_title = "The output table name cannot be used"


def existing_table(con: duckdb.DuckDBPyConnection, name: str) -> str | None:
    """The existing user table that ``name`` denotes, ignoring case, or None."""
    row = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
        "AND lower(table_name) = lower(?)", [name]).fetchone()
    return row[0] if row else None


def table_origin(con: duckdb.DuckDBPyConnection, name: str) -> tuple[str, str | None]:
    """``(origin, source)`` of an existing table: ``raw`` (loaded from a file, or of unknown
    origin: treated as raw) or ``derived``, and the file or table it came from."""
    row = con.execute(f"SELECT origin, source FROM {META_SCHEMA}.catalog WHERE "
                      f"lower(table_name) = lower(?)", [name]).fetchone()
    if row is None or row[0] != "derived":
        return "raw", row[1] if row else None
    return "derived", row[1]


def claim_output(con: duckdb.DuckDBPyConnection, wanted: str, inputs: tuple[str, ...] = (),
                 replace: bool = False, what: str = "output") -> str:
    """Check an output table name before anything is written.

    Args:
        con: Open warehouse connection.
        wanted: The name the analyst asked for.
        inputs: Tables the output is computed from (never replaced).
        replace: The analyst confirmed replacing an earlier derived table of that name.
        what: What is written, for messages (e.g. ``"scored table"``).

    Returns:
        The clean name to write (the existing table's own spelling when it is replaced).

    Raises:
        OutputTableError: An empty or reserved name; the name of an input or of a raw table
            (never replaced); an earlier derived table without ``replace``.
    """
    name = clean_name(str(wanted or ""), "")
    if not name or name.lower().startswith("liftlab"):
        raise OutputTableError(f"'{wanted}' cannot name a {what}: use letters, digits and "
                               f"underscores, not starting with 'liftlab'.")
    existing = existing_table(con, name)
    if existing is None:
        return name
    if existing.lower() in {t.lower() for t in inputs}:
        raise OutputTableError(f"The {what} would replace '{existing}', which it is computed "
                               f"from. Choose another name.")
    origin, source = table_origin(con, existing)
    if origin == "raw":
        came = f" (loaded from {source})" if source else ""
        raise OutputTableError(f"'{existing}' is a raw table{came}; LiftLab never replaces raw "
                               f"data with a {what}. Choose another name.")
    if not replace:
        raise OutputTableError(f"A table '{existing}' already exists ({source or 'derived'}). "
                               f"Choose another name, or replace it (--replace on the command "
                               f"line; confirm in the app).")
    return existing


def write_frame_output(con: duckdb.DuckDBPyConnection, name: str, frame,
                       source_table: str | None, how: str, carry_marks: bool = True) -> int:
    """Write a DataFrame as a derived table and record it, in one transaction.

    Args:
        con: Open warehouse connection.
        name: A name checked with :func:`claim_output`.
        frame: The rows, shape (n_rows, n_columns).
        source_table: The table the rows come from (its marks and names follow).
        how: How it was made, for the catalog.
        carry_marks: Copy the source's personal-data marks (see :func:`record_output`).

    Returns:
        The number of rows written.
    """
    con.register("__liftlab_output", frame)
    try:
        return _create_output(con, name, "SELECT * FROM __liftlab_output", source_table, how,
                              carry_marks)
    finally:
        con.unregister("__liftlab_output")


def write_parquet_output(con: duckdb.DuckDBPyConnection, name: str, path,
                         source_table: str | None, how: str, carry_marks: bool = True) -> int:
    """Load a Parquet file (a job's worker wrote it) as a derived table and record it, in one
    transaction: what :func:`write_frame_output` does for a DataFrame, without the rows passing
    through this process's memory.

    Args:
        con: Open warehouse connection.
        name: A name checked with :func:`claim_output`.
        path: The Parquet file (one or more row groups), shape (n_rows, n_columns).
        source_table: The table the rows come from (its marks and names follow).
        how: How it was made, for the catalog.
        carry_marks: Copy the source's personal-data marks (see :func:`record_output`).

    Returns:
        The number of rows written.
    """
    return _create_output(con, name, f"SELECT * FROM read_parquet({sql_literal(str(path))})",
                          source_table, how, carry_marks)


def _create_output(con: duckdb.DuckDBPyConnection, name: str, select: str,
                   source_table: str | None, how: str, carry_marks: bool) -> int:
    """``CREATE OR REPLACE TABLE name AS select`` and its catalog record, in one transaction;
    returns the rows written."""
    with transaction(con):
        con.execute(f"CREATE OR REPLACE TABLE {quote_ident(name)} AS {select}")
        record_output(con, name, source_table, how, carry_marks)
        return int(con.execute(f"SELECT count(*) FROM {quote_ident(name)}").fetchone()[0])


def record_output(con: duckdb.DuckDBPyConnection, name: str, source_table: str | None,
                  how: str, carry_marks: bool = True,
                  names: dict[str, str] | None = None) -> None:
    """Record a derived table written by LiftLab: lineage, original names, personal marks.

    Args:
        con: Open connection, inside the writer's transaction.
        name: The table just written.
        source_table: The table it was computed from (None for none).
        how: How it was made, e.g. ``"scored by run 2026…-mlp-3f9a"``.
        carry_marks: Copy the source's personal-data marks (False for a protected copy,
            whose marked columns were dropped or protected already).
        names: Column → the name the analyst reads, for columns whose source name does not
            apply (a column renamed in a recipe shows its new name).
    """
    originals = original_names(con, source_table) if source_table else {}
    originals.update(names or {})
    columns = [{"name": c, "type": t, "original_name": originals.get(c, c), "missing": 0}
               for c, t in table_columns(con, name)]
    rows = con.execute(f"SELECT count(*) FROM {quote_ident(name)}").fetchone()[0]
    source = f"{how} from {source_table}" if source_table else how
    con.execute(f"DELETE FROM {META_SCHEMA}.catalog WHERE lower(table_name) = lower(?)", [name])
    con.execute(f"INSERT INTO {META_SCHEMA}.catalog (table_name, source, created_at, rows, "
                f"columns_json, report_json, origin, derived_from) VALUES (?, ?, ?, ?, ?, ?, "
                f"'derived', ?)", [name, source, datetime.now(), rows, json.dumps(columns),
                                   None, source_table])
    con.execute(f"DELETE FROM {META_SCHEMA}.personal WHERE lower(table_name) = lower(?)",
                [name])
    if source_table and carry_marks:
        kept = [c for c, _ in table_columns(con, name)]
        con.execute(f"INSERT INTO {META_SCHEMA}.personal SELECT ?, column_name, action, param "
                    f"FROM {META_SCHEMA}.personal WHERE lower(table_name) = lower(?) AND "
                    f"list_contains(?, column_name)", [name, source_table, kept])
