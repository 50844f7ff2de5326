"""The SQL console: read-only, no files, no settings, capped, timed; CLI contract; concurrency."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import duckdb
import pytest

from core.app import main
from core.errors import QueryError
from core.ingest import ingest_file
from core.ingest._ingest import ingest_bytes
from core.tables import PersonalMark, save_marks
from core.warehouse import QueryFailed, connect, run_query
from core.warehouse._console import FAILED, REFUSED
from tests.conftest import CASES, ROOT

NOT_ALLOWED = "The SQL console only reads the tables of this workspace"


@pytest.fixture
def ws(settings):
    with connect(settings) as con:
        ingest_file(con, CASES / "special_char_headers.csv")
    return settings


def _statements(path) -> list[str]:
    return [s.query.strip() for s in duckdb.connect().extract_statements(path.read_text())]


def test_every_local_file_statement_is_refused(ws, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # COPY ... TO 'written_by_sql.csv' would land here
    statements = _statements(CASES / "local_file_read.sql")
    assert len(statements) == 3
    messages = []
    for sql in statements:
        with pytest.raises(QueryError) as err:
            run_query(ws, sql)
        messages.append(str(err.value))
    assert 'Cannot access file ".streamlit/secrets.toml"' in messages[0]
    assert 'Cannot access file "/etc/passwd"' in messages[1]
    assert messages[2].startswith("COPY statements are not allowed.")
    assert all(NOT_ALLOWED in m for m in messages)
    assert not (tmp_path / "written_by_sql.csv").exists()
    assert sorted(p.name for p in ws.data_dir.iterdir()) == ["warehouse.duckdb"]


@pytest.mark.parametrize("sql, start, title", [
    ("ATTACH 'other.duckdb' AS o", "ATTACH statements are not allowed.", REFUSED),
    ("INSTALL httpfs", "INSTALL/LOAD statements are not allowed.", REFUSED),
    ("SET enable_external_access = true", "SET statements are not allowed.", REFUSED),
    ("CREATE TABLE t AS SELECT 1", "CREATE statements are not allowed.", REFUSED),
    ("INSERT INTO special_char_headers VALUES (1,1,1,1,1,1,1)", "INSERT statements are not "
     "allowed.", REFUSED),
    ("DROP TABLE special_char_headers", "DROP statements are not allowed.", REFUSED),
    ("COPY special_char_headers TO 'x.csv'", "COPY statements are not allowed.", REFUSED),
    ("SELECT 1; SELECT 2", "Run one statement at a time (found 2).", REFUSED),
    ("SELECT * FROM glob('/etc/*')", "Not allowed: Permission Error", REFUSED),
    ("SELECT * FROM 'data.csv'", "Not allowed: Permission Error", REFUSED),
    ("SELEC 1", "The query is not valid SQL: Parser Error", FAILED),
    ("SELECT * FROM nope", "The query failed: Catalog Error", FAILED),
    ("SELECT customer_id + 'a' FROM special_char_headers", "The query failed: Conversion Error",
     FAILED),
    ("   ", "Type a SELECT query", "There is no query to run"),
])
def test_refusals_and_failures_say_why(ws, sql, start, title):
    with pytest.raises(QueryError) as err:
        run_query(ws, sql)
    assert str(err.value).startswith(start)
    assert err.value.title == title
    assert (NOT_ALLOWED in str(err.value)) == (title == REFUSED)  # refusals say what is allowed


@pytest.fixture
def rates_ws(ws):
    with connect(ws) as con:
        ingest_bytes(con, b"emp.var.rate,age,Client Name\n1.1,30,Ann\n-1.8,41,Bob\n",
                     "rates.csv")
        save_marks(con, "rates", [PersonalMark("Client_Name", "drop")])
    return ws


def test_unknown_column_is_a_failure_with_the_columns_and_clean_names(rates_ws):
    with pytest.raises(QueryFailed) as err:
        run_query(rates_ws, "SELECT emp.var.rate FROM rates")
    e = err.value
    assert e.title == FAILED == "The query failed"
    assert e.detail == 'The query failed: Binder Error: Referenced table "emp.var" not found!'
    assert e.hint == (
        "Columns of rates: emp_var_rate, age. SQL uses the cleaned column names shown in the "
        "Columns tab, not the file's headers ('emp.var.rate' is \"emp_var_rate\"); quote names "
        'with double quotes, e.g. SELECT "emp_var_rate" FROM "rates".')
    assert str(e) == f"{e.detail} {e.hint}"
    assert "Client_Name" not in e.hint  # personal columns stay hidden in the help too


def test_quoted_original_header_and_typos_get_duckdbs_suggestion(rates_ws):
    with pytest.raises(QueryFailed) as err:
        run_query(rates_ws, 'SELECT "emp.var.rate" FROM rates')
    assert err.value.hint.startswith('Did you mean "emp_var_rate"? Columns of rates: '
                                     'emp_var_rate, age.')
    with pytest.raises(QueryFailed) as err:
        run_query(rates_ws, "SELECT agee FROM rates")
    assert err.value.hint.startswith('Did you mean "age"? Columns of rates:')
    assert err.value.hint.endswith('e.g. SELECT "emp_var_rate" FROM "rates".')
    with pytest.raises(QueryFailed) as err:
        run_query(rates_ws, "SELECT * FROM rate")
    assert err.value.hint == ('Did you mean "rates"? Tables in this workspace: rates, '
                              'special_char_headers.')


def test_other_failures_have_no_name_hint(rates_ws):
    with pytest.raises(QueryFailed) as err:
        run_query(rates_ws, "SELECT age + 'a' FROM rates")
    assert err.value.hint == ""
    assert str(err.value) == err.value.detail


def test_select_with_quoted_identifiers_and_row_cap(ws):
    r = run_query(ws, 'SELECT "客户等级", "select", "a_quoted_name" FROM special_char_headers '
                      'ORDER BY customer_id', limit=2)
    assert r.columns == ["客户等级", "select", "a_quoted_name"]
    assert r.rows == [("A", 0, "x"), ("B", 1, "y")]
    assert r.truncated and r.notes == ("Only the first 2 rows are shown.",)
    assert r.to_csv().decode().splitlines() == ["客户等级,select,a_quoted_name", "A,0,x", "B,1,y"]


def test_describe_show_and_liftlab_schema_are_readable(ws):
    assert ("special_char_headers",) in run_query(ws, "SHOW TABLES").rows
    r = run_query(ws, "SELECT rows FROM liftlab.catalog WHERE table_name = 'special_char_headers'")
    assert r.rows == [(3,)]


def test_time_limit_interrupts(ws):
    with pytest.raises(QueryError, match="ran longer than 0.5 s"):
        run_query(ws, "SELECT count(*) FROM range(100000000) a, range(1000) b "
                      "WHERE a.range + b.range = 3", timeout_s=0.5)


def test_limit_is_validated(ws):
    with pytest.raises(QueryError, match="limit must be between 1 and 100,000; got 0"):
        run_query(ws, "SELECT 1", limit=0)


def test_cli_sql_contract(ws, capsys):
    d = str(ws.data_dir)
    assert main(["--data-dir", d, "sql", "SELECT customer_id, Churn FROM special_char_headers "
                                         "ORDER BY 1", "--limit", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["columns"] == ["customer_id", "Churn"] and out["rows"] == [[1, "No"], [2, "Yes"]]
    assert main(["--data-dir", d, "sql", "COPY special_char_headers TO 'x.csv'"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: COPY statements are not allowed.") and err.count("\n") == 1


def test_console_waits_for_an_app_connection_in_the_same_process(ws):
    def hold():
        with connect(ws):
            time.sleep(1.0)

    th = threading.Thread(target=hold)
    th.start()
    time.sleep(0.2)
    assert run_query(ws, "SELECT count(*) FROM special_char_headers").rows == [(3,)]
    th.join()


def test_cli_and_app_share_a_data_directory(ws):
    """A CLI process reads while this process writes: it waits, no raw lock error."""
    def write():
        with connect(ws) as con:
            con.execute("CREATE TABLE busy AS SELECT range AS x FROM range(10)")
            time.sleep(1.5)

    th = threading.Thread(target=write)
    th.start()
    time.sleep(0.2)
    proc = subprocess.run([sys.executable, "-m", "core", "--data-dir", str(ws.data_dir), "sql",
                           "SELECT count(*) AS n FROM busy"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    th.join()
    assert proc.returncode == 0, proc.stderr
    assert "lock" not in proc.stderr.lower()
    assert json.loads(proc.stdout)["rows"] == [[10]]
