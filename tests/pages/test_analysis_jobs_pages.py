"""AppTest of large analyses as jobs (issue 17), thread engine: with the thresholds lowered, a
SHAP request on Explain and scoring a table on Runs are submitted as background jobs, and
their result shows on the page once they end (values as the synchronous path's)."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.app import _analysis_work as analysis
from core.app import export_run, import_run, score_table
from core.config import load_settings
from core.errors import AppError
from core.explain import explain_run, load_explanation
from core.runs import load_run
from core.warehouse import connect, read_table
from tests.conftest import ROOT

pytestmark = pytest.mark.slow
TIMEOUT = 120


@pytest.fixture
def job_ws(bank_ws, tmp_path, monkeypatch):
    """A workspace of its own with the bank logreg run and the ``bank`` table (6,000 rows)."""
    s, runs = bank_ws
    ws = load_settings(tmp_path / "job_ws")
    run_id = import_run(ws, export_run(s, runs["logreg"]))
    with connect(s) as con:
        bank = read_table(con, "bank")
    with connect(ws) as con:
        con.register("bank_rows", bank)
        con.execute("CREATE TABLE bank AS SELECT * FROM bank_rows")
        con.unregister("bank_rows")
    monkeypatch.setenv("LIFTLAB_DATA_DIR", str(ws.data_dir))
    return ws, run_id


def _page(path: str, run_id: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / path), default_timeout=TIMEOUT)
    at.session_state["active_run"] = run_id
    return at.run()


def _wait(ws, job_id: str):
    from ui.resources import job_manager

    job = job_manager(str(ws.data_dir)).wait(job_id, timeout=TIMEOUT)
    assert job.state == "done", job.message
    return job


def test_a_large_shap_request_runs_as_a_job_and_its_values_show(job_ws, monkeypatch):
    ws, run_id = job_ws
    monkeypatch.setattr(analysis, "SHAP_JOB_SECONDS", 0.0)  # every request is large
    at = _page("pages/explain.py", run_id)
    at.number_input(key="explain__rows").set_value(300).run()
    at.button(key="explain__go").click().run()
    assert not at.exception
    assert any("computing in the background" in i.value for i in at.info)
    job = _wait(ws, at.session_state["explain__job"])
    at.run()
    assert not at.exception
    assert any(s.value == job.message == "SHAP values for 300 rows saved (LinearExplainer)."
               for s in at.success)
    assert any("Explainer: **LinearExplainer**" in c.value and "**300 test rows**" in c.value
               for c in at.caption)
    run = load_run(ws, run_id)
    reference = explain_run(run, 300)
    np.testing.assert_allclose(load_explanation(run).values, reference.values, rtol=0,
                               atol=1e-6)


def test_scoring_a_large_table_runs_as_a_job_and_the_table_shows(job_ws, monkeypatch):
    ws, run_id = job_ws
    monkeypatch.setattr(analysis, "SCORE_JOB_ROWS", 1000)  # bank's 6,000 rows are large
    at = _page("pages/runs.py", run_id)
    at.selectbox(key="runs__score_table").select("bank").run()
    at.button(key="runs__score").click().run()
    assert not at.exception
    assert any("scored in the background" in i.value for i in at.info)
    job = _wait(ws, at.session_state["runs__score_job"])
    at.run()
    assert not at.exception
    assert any(s.value == "Wrote 6,000 scored rows to table 'bank_scored'." for s in at.success)
    head = at.dataframe[-1].value
    assert len(head) == 20 and {"score", "predicted_positive"} <= set(head.columns)
    reference = score_table(ws, load_run(ws, run_id), "bank", "bank_sync")
    with connect(ws) as con:
        a, b = read_table(con, reference["table"]), read_table(con, job.result["table"])
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=0, atol=1e-12)


def test_a_raw_output_name_is_refused_on_the_page_before_a_job_starts(job_ws, monkeypatch):
    from ui.resources import job_manager

    ws, run_id = job_ws
    monkeypatch.setattr(analysis, "SCORE_JOB_ROWS", 1000)
    with connect(ws) as con:  # made with SQL: no catalog row, so a raw table
        con.execute("CREATE TABLE other AS SELECT 1 AS a")
    at = _page("pages/runs.py", run_id)
    at.selectbox(key="runs__score_table").select("bank").run()
    at.text_input(key="runs__score_out_bank").set_value("OTHER").run()  # case-insensitive
    at.button(key="runs__score").click().run()
    assert any("'other' is a raw table; LiftLab never replaces raw data with a scored table"
               in e.value for e in at.error)
    assert "runs__score_job" not in at.session_state
    assert [j for j in job_manager(str(ws.data_dir)).list() if j.kind == "score"] == []


class _UntilCancelled:
    """A job that reports one progress message and runs until it is cancelled."""

    def __call__(self, progress, should_stop):
        progress({"message": "Scoring rows 1,000/6,000", "step": 1500, "steps": 6000})
        while not should_stop():
            time.sleep(0.05)
        raise AppError("Cancelled; nothing was saved.")


def test_a_job_of_another_run_is_pointed_to_not_hidden(job_ws, bank_ws):
    # A reloaded Runs page opened on its default run, where the running scoring job of the
    # run the analyst had chosen was invisible: no progress, no Cancel, no word of it.
    from ui.resources import job_manager

    ws, run_id = job_ws
    other = import_run(ws, export_run(bank_ws[0], bank_ws[1]["mlp"]))
    jobs = job_manager(str(ws.data_dir))
    job_id = jobs.submit("score", "Scoring bank with run X into bank_scored", _UntilCancelled(),
                         params={"run_id": other, "table": "bank"})
    try:
        at = _page("pages/runs.py", run_id)
        assert not at.exception
        assert at.selectbox(key="runs__manage").value == run_id
        note = next(i.value for i in at.info if "is running in the background" in i.value)
        assert f"Choose run `{other}` above to follow it" in note
        assert "Scoring rows 1,000/6,000" in note
        at.selectbox(key="runs__manage").select(other).run()
        assert not at.exception
        assert any(b.label == "Cancel" for b in at.button)  # followed under its own run
        bar = next(p for p in at.get("progress") if "Scoring rows" in p.proto.text)
        assert bar.proto.value == 25  # from step/steps (1,500 of 6,000), not the message's 1/6
        assert not any("is running in the background" in i.value for i in at.info)
    finally:
        jobs.cancel(job_id)
        assert jobs.wait(job_id, timeout=60).state == "cancelled"


def test_a_shap_job_over_its_time_budget_says_the_budget_stops_it(job_ws, bank_ws,
                                                                   monkeypatch):
    # "About 6,427 s estimated" was shown for a request whose 120 s budget stops it first.
    from core.explain import explain_cost

    ws, _ = job_ws
    run_id = import_run(ws, export_run(bank_ws[0], bank_ws[1]["mlp"]))  # a Keras network
    monkeypatch.setattr(analysis, "SHAP_JOB_SECONDS", 0.0)
    run = load_run(ws, run_id)
    rows = len(run.test_frame)
    assert explain_cost(run, rows, "kernel").seconds > 20  # far over the 5 s budget below
    at = _page("pages/explain.py", run_id)
    at.number_input(key="explain__rows").set_value(rows)
    at.selectbox(key="explain__method").select("kernel")
    at.number_input(key="explain__budget").set_value(5).run()
    at.button(key="explain__go").click().run()
    assert not at.exception
    note = next(i.value for i in at.info if "computing in the background" in i.value)
    assert "Your time budget of 5 s is shorter than this estimate and stops the explainer " \
           f"when spent, so fewer than the {rows:,} rows asked may be explained" in note
    job = _wait(ws, at.session_state["explain__job"])
    assert load_explanation(run).requested_rows == rows and job.state == "done"
    assert len(load_explanation(run).rows) < rows  # the budget did stop it
