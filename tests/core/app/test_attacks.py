"""Hostile names, paths, rules, archives and numbers, replayed (issue 12): each of these lost or
leaked data, or misbehaved, before its fix."""

from __future__ import annotations

import io
import json
import os
import zipfile

import pandas as pd
import pytest

from core.app import ImportRunError, export_run, import_run, main
from core.config import load_settings
from core.errors import AppError, QueryError
from core.ingest import IngestOptions, ingest_file
from core.runs import load_run
from core.tables import PersonalMark, Recipe, Step, apply_recipe, save_marks
from core.warehouse import (
    OutputTableError,
    clean_litter,
    connect,
    policy_mask,
    private_dir,
    run_query,
    scratch_root,
)
from tests.conftest import CASES


def _cli(capsys, data_dir, *args) -> tuple[int, dict | None, str]:
    code = main(["--data-dir", str(data_dir), *args])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def _zip(files: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


# -------------------------------------------------------------- 1. run import path traversal


@pytest.mark.slow
def test_import_cannot_climb_out_of_the_data_directory(bank_ws, tmp_path):
    s, runs = bank_ws
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("precious")
    other = load_settings(tmp_path / "ws")
    other.runs_dir.mkdir(parents=True)
    blob = export_run(s, runs["logreg"])
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    config = json.loads(files["config.json"])
    for bad_id in ("x/../../../victim", "../victim", "a/b", "..", "", "run id with spaces"):
        # a leftover folder of the name the old code built, as after a kill
        (other.runs_dir / f".import-{bad_id.split('/')[0] or 'x'}").mkdir(exist_ok=True)
        evil = dict(files, **{"config.json": json.dumps(dict(config, run_id=bad_id))})
        with pytest.raises(ImportRunError, match="not a run id|not a LiftLab run"):
            import_run(other, _zip(evil))
    assert (victim / "keep.txt").read_text() == "precious"
    for member in ("../evil.json", "/abs.json", "arms/../x.json", "arms/evil/x.json",
                   "a\\b.json", "model.pkl"):
        with pytest.raises(ImportRunError, match="never contains"):
            import_run(other, _zip(dict(files, **{member: b"{}"})))
    with pytest.raises(ImportRunError, match="not JSON"):
        import_run(other, _zip(dict(files, **{"config.json": b"{not json"})))
    broken = dict(files, **{"model.skops": b"not a model"})
    with pytest.raises(ImportRunError, match="could not be read"):
        import_run(other, _zip(broken))
    bomb = _zip(dict(files, **{"history.json": b"[" + b" " * (64 << 20) + b"]"}))
    with pytest.raises(ImportRunError, match="unpacks to"):
        import_run(other, bomb)
    left = {p.name for p in other.runs_dir.iterdir()}
    assert all(n.startswith(".import-") and "-p" not in n for n in left)  # only our leftovers
    good = import_run(other, blob)
    assert load_run(other, good).predict(load_run(s, runs["logreg"]).test_frame.head(3)).shape \
        == (3,)


# ------------------------------------------------- 2, 3. outputs never replace what they must not


def test_scored_and_prepared_outputs_never_replace_raw_tables_or_inputs(tmp_path, capsys):
    s = load_settings(tmp_path / "ws")
    with connect(s) as con:
        ingest_file(con, CASES / "telco_totalcharges_blank.csv", IngestOptions(table="sales"))
        # a file named SALES is the same DuckDB table: it must not replace 'sales' silently
        report = ingest_file(con, CASES / "telco_totalcharges_blank.csv",
                             IngestOptions(table="SALES"))
        assert report.table == "SALES_2"
        recipe = Recipe("fill", (Step("impute", ("TotalCharges",), "median"),))
        with pytest.raises(OutputTableError, match="raw table"):
            apply_recipe(con, "sales", recipe, "SALES_2")  # another raw table, other case
        with pytest.raises(OutputTableError, match="computed from"):
            apply_recipe(con, "sales", recipe, "SaLeS")
        apply_recipe(con, "sales", recipe, "sales_ready")
        with pytest.raises(OutputTableError, match="--replace"):
            apply_recipe(con, "sales", recipe, "SALES_READY")
        assert apply_recipe(con, "sales", recipe, "SALES_READY", replace=True).table \
            == "sales_ready"
        rows = con.execute("SELECT count(*) FROM sales").fetchone()[0]
    code, _, err = _cli(capsys, s.data_dir, "sql", "SELECT 1")
    assert code == 0
    with connect(s) as con:
        assert con.execute("SELECT count(*) FROM sales").fetchone()[0] == rows


@pytest.mark.slow
def test_score_out_never_replaces_raw_or_input_and_needs_replace(bank_ws, capsys):
    s, runs = bank_ws
    d, run = s.data_dir, runs["logreg"]
    for out, message in (("bank", "computed from"), ("BANK", "computed from"),
                         ("bank_full", "raw table"), ("liftlab_x", "cannot name")):
        code, js, err = _cli(capsys, d, "score", run, "--table", "bank", "--out", out)
        assert code == 2 and js is None and message in err, (out, err)
    code, js, _ = _cli(capsys, d, "score", run, "--table", "bank", "--out", "attack_scored")
    assert code == 0 and js == {"table": "attack_scored", "rows": 6000}
    code, _, err = _cli(capsys, d, "score", run, "--table", "bank", "--out", "ATTACK_SCORED")
    assert code == 2 and "--replace" in err
    code, js, _ = _cli(capsys, d, "score", run, "--table", "bank", "--out", "ATTACK_SCORED",
                       "--replace")
    assert code == 0 and js["table"] == "attack_scored"


# ------------------------------------------------------------- 4. report --out


@pytest.mark.slow
def test_report_out_cannot_destroy_the_workspace(bank_ws, tmp_path, capsys):
    s, runs = bank_ws
    d, run = s.data_dir, runs["logreg"]
    warehouse = (s.data_dir / "warehouse.duckdb").read_bytes()[:64]
    for out in (s.data_dir / "warehouse.duckdb", s.runs_dir / run / "config.json",
                s.data_dir / "review.html"):
        code, _, err = _cli(capsys, d, "report", run, "--out", str(out), "--rows", "20")
        assert code == 2 and "inside the workspace's data directory" in err, err
    assert (s.data_dir / "warehouse.duckdb").read_bytes()[:64] == warehouse
    assert load_run(s, run).config.run_id == run
    code, _, err = _cli(capsys, d, "report", run, "--out", str(tmp_path), "--rows", "20")
    assert code == 2 and "is a folder" in err
    target = tmp_path / "review.html"
    target.write_text("mine")
    code, _, err = _cli(capsys, d, "report", run, "--out", str(target), "--rows", "20")
    assert code == 2 and "--force" in err and target.read_text() == "mine"
    code, js, _ = _cli(capsys, d, "report", run, "--out", str(target), "--rows", "20",
                       "--force")
    assert code == 0 and js["out"] == str(target) and target.read_text().startswith("<!DOCTYPE")


# ------------------------------------------------------------- 5. personal data follows the data


@pytest.mark.slow
def test_personal_marks_follow_the_data_into_scored_tables(bank_ws, capsys):
    s, runs = bank_ws
    with connect(s) as con:
        con.execute("CREATE OR REPLACE TABLE bank_people AS SELECT * FROM bank LIMIT 300")
        save_marks(con, "bank_people", [PersonalMark("age", "drop")])
    code, js, _ = _cli(capsys, s.data_dir, "score", runs["hgb"], "--table", "bank_people",
                       "--out", "people_scored")
    assert code == 0
    result = run_query(s, "SELECT * FROM people_scored LIMIT 3")
    assert "age" not in result.columns and "score" in result.columns
    assert any("age" in n for n in result.notes)


# ------------------------------------------------------------- 6. policy rules


def test_policy_rules_stay_one_expression_and_within_memory():
    frame = pd.DataFrame({"f1": [1, 2, 3], "age": [25, 35, 45]})
    with pytest.raises(QueryError, match="one condition"):
        policy_mask(frame, "f1 > 100) AS a, (SELECT 1")  # used to target everyone
    for rule in ("len(range(300000000)) > 0", "length(repeat('x', 1000000000)) > 0"):
        with pytest.raises(QueryError, match="exhaust memory"):
            policy_mask(frame, rule)
    assert policy_mask(frame, "age > (SELECT avg(age) FROM population)").tolist() == [
        False, False, True]


def test_the_console_refuses_what_its_memory_limit_cannot_stop(tmp_path):
    s = load_settings(tmp_path / "ws")
    with connect(s) as con:
        con.execute("CREATE TABLE t AS SELECT 1 AS a")
    with pytest.raises(QueryError, match="range"):
        run_query(s, "SELECT len(range(300000000)) FROM t")
    assert run_query(s, "SELECT count(*) FROM range(5)").rows == [(5,)]  # streamed: fine


# ------------------------------------------------------------- 9. litter after a kill


def test_litter_of_dead_processes_is_cleaned_and_live_work_kept(tmp_path):
    s = load_settings(tmp_path / "ws")
    s.runs_dir.mkdir(parents=True)
    dead = 2 ** 22 + 12345  # above Linux's default pid_max: never a running process
    stale = [scratch_root(s) / f"ingest-p{dead}-abc", s.runs_dir / f".tmp-p{dead}-run",
             s.runs_dir / f".import-p{dead}-xyz"]
    for p in stale:
        p.mkdir()
    mine = private_dir(scratch_root(s), "stream")
    legacy = s.runs_dir / ".import-20261201-101500-mlp-3f9a"
    legacy.mkdir()
    os.utime(legacy, (0, 0))  # an earlier version's leftover, long ago
    removed = clean_litter(s)
    assert sorted(removed) == sorted(str(p.relative_to(s.data_dir)) for p in [*stale, legacy])
    assert mine.exists()


def test_cli_keeps_temporary_files_inside_the_workspace(tmp_path, capsys, monkeypatch):
    system_tmp = tmp_path / "system_tmp"
    system_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(system_tmp))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(system_tmp))
    code, _, _ = _cli(capsys, tmp_path / "ws", "ingest", str(CASES / "cp1252_excel_export.csv"))
    assert code == 0
    assert list(system_tmp.iterdir()) == []  # transcoded copies stayed in the workspace
    assert list((tmp_path / "ws" / "tmp").iterdir()) == []  # and were removed


def test_bad_input_never_prints_a_traceback(capsys, tmp_path):
    for args in (("score", "../../etc", "--table", "x"), ("evaluate", "a/b"),
                 ("report", "x", "--out", "")):
        code, js, err = _cli(capsys, tmp_path / "ws", *args)
        assert code == 2 and js is None and err.startswith("error: ") and "Traceback" not in err
    with pytest.raises(AppError):
        raise OutputTableError("x")
