"""A job's Parquet snapshot: what a Ray worker reads instead of the warehouse file."""

from __future__ import annotations

import dataclasses
import json

import duckdb
import pandas as pd
import pytest

from core.errors import SchemaError
from core.warehouse import (
    META_SCHEMA,
    connect,
    export_snapshot,
    original_names,
    read_table,
    set_meta,
    table_columns,
)
from core.warehouse._connection import open_database

COLUMNS = [{"name": "age", "original_name": "Age (years)"},
           {"name": "it's", "original_name": "It's"}]


def _fill(settings) -> pd.DataFrame:
    with connect(settings) as con:
        con.execute("CREATE TABLE t (age BIGINT, \"it's\" VARCHAR, score DOUBLE, seen DATE, "
                    "stamp TIMESTAMP, ok BOOLEAN, price DECIMAL(10, 2))")
        con.execute("INSERT INTO t VALUES (41, 'a''b', 0.5, DATE '2026-01-02', "
                    "TIMESTAMP '2026-01-02 03:04:05', true, 12.34), (NULL, NULL, NULL, NULL, "
                    "NULL, NULL, NULL), (7, 'z', -1.25, DATE '1999-12-31', "
                    "TIMESTAMP '1999-12-31 23:59:59', false, 0.01)")
        con.execute(f"INSERT INTO {META_SCHEMA}.catalog BY NAME SELECT 't' AS table_name, "
                    f"'t.csv' AS source, 3 AS rows, ? AS columns_json", [json.dumps(COLUMNS)])
        con.execute(f"INSERT INTO {META_SCHEMA}.personal VALUES ('t', 'age', 'drop', NULL)")
        set_meta(con, "k", "v")
        return read_table(con, "t")


def test_the_worker_reads_the_snapshot_and_never_the_warehouse_file(settings):
    expected = _fill(settings)
    with connect(settings) as con:
        types = table_columns(con, "t")
    folder = export_snapshot(settings, "t", "abc123")
    assert folder.parent == settings.data_dir / "tmp" and folder.name.startswith("job-abc123-p")
    moved = settings.warehouse_path.rename(settings.data_dir / "elsewhere.duckdb")
    worker = dataclasses.replace(settings, snapshot_dir=folder)
    with connect(worker) as con:
        got = read_table(con, "t")
        assert table_columns(con, "t") == types
        assert original_names(con, "T") == {"age": "Age (years)", "it's": "It's"}
        assert con.execute(f"SELECT table_name, column_name, action FROM {META_SCHEMA}."
                           f"personal").fetchall() == [("t", "age", "drop")]
        assert con.execute(f"SELECT value FROM {META_SCHEMA}.meta WHERE key = 'k'"
                           ).fetchone() == ("v",)
        con.execute(f"INSERT OR REPLACE INTO {META_SCHEMA}.meta VALUES ('k', 'w')")  # keys kept
    pd.testing.assert_frame_equal(got, expected)  # rows in order, values and dtypes
    assert not settings.warehouse_path.exists()  # nothing opened (nor created) the file
    moved.rename(settings.warehouse_path)
    with connect(settings) as con:  # the worker's write stayed in its memory
        assert con.execute(f"SELECT value FROM {META_SCHEMA}.meta WHERE key = 'k'"
                           ).fetchone() == ("v",)


def test_a_worker_opens_the_file_itself_only_read_only(settings):
    _fill(settings)
    folder = export_snapshot(settings, "t", "abc124")
    con = open_database(dataclasses.replace(settings, snapshot_dir=folder))
    try:
        with pytest.raises(duckdb.InvalidInputException, match="read-only"):
            con.execute("CREATE TABLE u (x INT)")
    finally:
        con.close()


def test_exporting_a_missing_table_says_so_and_leaves_no_folder(settings):
    _fill(settings)
    with pytest.raises(SchemaError, match="no table named 'nope'.*Tables in this workspace: t"):
        export_snapshot(settings, "nope", "abc125")
    assert not [p for p in (settings.data_dir / "tmp").iterdir() if "abc125" in p.name]
