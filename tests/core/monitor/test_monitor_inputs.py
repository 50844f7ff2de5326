"""Bad input is refused with names and reasons; empty chunks are skipped and said; an old run
without calibration data still monitors; nothing is stored for a refused table."""

from __future__ import annotations

import pytest

from core.app import export_run, import_run
from core.errors import MonitorError, SchemaError
from core.monitor import Chunking, monitor, monitor_history
from core.runs import load_run
from core.warehouse import connect


@pytest.fixture(scope="module")
def ws(mon_ws):
    s, runs = mon_ws
    with connect(s) as con:
        con.execute("CREATE OR REPLACE TABLE no_macro AS SELECT * EXCLUDE (emp_var_rate, "
                    "euribor3m) FROM bank_second")
        con.execute("CREATE OR REPLACE TABLE texty AS SELECT * REPLACE (CASE WHEN rowid = 7 "
                    "THEN 'n/a' ELSE CAST(age AS VARCHAR) END AS age) FROM bank_second")
        con.execute("CREATE OR REPLACE TABLE dated AS SELECT *, DATE '2024-01-01' + "
                    "CAST(CASE WHEN rowid < 300 THEN 0 ELSE 70 END AS INTEGER) AS day, "
                    "'soon' AS note FROM bank_second WHERE rowid < 600")
        con.execute("CREATE OR REPLACE TABLE all_no AS SELECT * FROM bank_second WHERE y = 'no' "
                    "LIMIT 400")
        con.execute("CREATE OR REPLACE TABLE unlabelled AS SELECT * EXCLUDE (y) FROM bank_second "
                    "LIMIT 2000")
    return s, load_run(s, runs["hgb"])


def test_missing_feature_columns_are_named_as_the_file_had_them(ws):
    s, run = ws
    before = len(monitor_history(s))
    with pytest.raises(SchemaError, match=r"lacks 2 feature column\(s\).*emp\.var\.rate, "
                                          r"euribor3m"):
        monitor(s, run, "no_macro", multivariate=False)
    assert len(monitor_history(s)) == before  # nothing half-written


def test_text_where_numbers_were_learned_is_refused(ws):
    s, run = ws
    with pytest.raises(SchemaError, match=r"hold text where the run learned numbers: age "
                                          r"\(e\.g\. 'n/a'\)"):
        monitor(s, run, "texty", multivariate=False)


def test_time_column_must_be_a_date(ws):
    s, run = ws
    with pytest.raises(SchemaError, match="'note' is not a date: it holds 'soon'"):
        monitor(s, run, "dated", Chunking("note", "month"), multivariate=False)
    with pytest.raises(SchemaError, match="'age' is not a date"):
        monitor(s, run, "dated", Chunking("age", "month"), multivariate=False)
    with pytest.raises(MonitorError, match="needs a time column"):
        Chunking(period="month")


def test_empty_chunks_are_skipped_and_said(ws):
    s, run = ws
    res = monitor(s, run, "dated", Chunking("day", "month"), multivariate=False)
    assert [c["chunk"] for c in res["chunks"]] == ["2024-01", "2024-03"]
    assert [c["rows"] for c in res["chunks"]] == [300, 300]
    assert any("1 chunk(s) have no rows and were skipped: 2024-02" in a for a in res["alerts"])
    weeks = monitor(s, run, "dated", Chunking("day", "week"), multivariate=False, save=False)
    assert weeks["chunks"][0]["chunk"] == "2024-W01" and len(weeks["chunks"]) == 2


def test_single_class_chunk_says_why_metrics_are_undefined(ws):
    s, run = ws
    res = monitor(s, run, "all_no", Chunking(n_chunks=2), multivariate=False, save=False)
    for c in res["chunks"]:
        assert c["realized"]["roc_auc"] is None and c["realized"]["f1"] is None
        assert "no 'yes' outcome" in c["realized"]["undefined"]
        assert any(a.startswith("Realised metrics undefined") for a in c["alerts"])
        assert c["estimated"]["roc_auc"] is not None  # the estimate needs no labels


def test_table_without_target_is_estimated_only(ws):
    s, run = ws
    res = monitor(s, run, "unlabelled", Chunking(n_chunks=2), multivariate=False, save=False)
    assert all(c["realized"] is None for c in res["chunks"])
    assert any("has no target column 'y'" in n for n in res["notes"])


def test_an_old_run_without_calibration_data_still_monitors(ws, tmp_path):
    s, run = ws
    old = import_run(s, export_run(s, run.run_id))
    folder = load_run(s, old).folder
    (folder / "valid_scores.parquet").unlink()
    (folder / "calibration.json").unlink(missing_ok=True)
    res = monitor(s, load_run(s, old), "bank_second", Chunking(n_chunks=2), multivariate=False,
                  save=False)
    assert res["calibration"]["method"] == "none" and not res["calibration"]["checked"]
    assert any("no validation scores" in n for n in res["notes"])
    assert all(c["estimated"]["roc_auc"] is not None for c in res["chunks"])
    assert not (folder / "calibration.json").exists()


def test_equal_chunks_reject_a_bad_count(ws):
    with pytest.raises(MonitorError, match="between 1 and 200"):
        Chunking(n_chunks=0)
    s, run = ws
    res = monitor(s, run, "all_no", Chunking(n_chunks=3), multivariate=False, save=False)
    assert [c["rows"] for c in res["chunks"]] == [134, 133, 133]
