"""AppTest of the jobs on Monitor and Runs (issue 17): a challenger's retrain and a compression
start as background jobs, show their progress and result, and a page opened in a new session
(a reload) follows the job again."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core.app import export_run, import_run
from core.config import load_settings
from core.runs import load_run
from core.warehouse import connect, read_table
from tests.conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::FutureWarning")]
TIMEOUT = 180


@pytest.fixture
def jobs_ws(bank_ws, tmp_path, monkeypatch):
    """The bank mlp and logreg runs in a new workspace that also holds their table ``bank``
    (the same 6,000 rows in the same order) and ``bank_second`` (its last 2,000 rows)."""
    s, runs = bank_ws
    ws = load_settings(tmp_path / "jobs_ws")
    ids = {m: import_run(ws, export_run(s, runs[m])) for m in ("mlp", "logreg")}
    with connect(s) as con:
        bank = read_table(con, "bank")
    with connect(ws) as con:
        con.register("frame", bank)
        con.execute("CREATE TABLE bank AS SELECT * FROM frame")
        con.execute("CREATE TABLE bank_second AS SELECT * FROM bank WHERE rowid >= 4000")
    monkeypatch.setenv("LIFTLAB_DATA_DIR", str(ws.data_dir))
    return ws, ids


def _page(path: str, **state) -> AppTest:
    at = AppTest.from_file(str(ROOT / path), default_timeout=TIMEOUT)
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def test_compression_runs_as_a_job_and_a_new_session_follows_it(jobs_ws):
    from ui.resources import job_manager

    ws, ids = jobs_ws
    at = _page("pages/runs.py", active_run=ids["mlp"])
    assert not at.exception
    at.selectbox(key="runs__compress_method").select("int8").run()
    at.button(key="runs__compress").click().run()
    assert not at.exception
    job_id = at.session_state["runs__compress_job"]
    job = job_manager(str(ws.data_dir)).wait(job_id, timeout=TIMEOUT)
    assert job.state == "done" and job.kind == "compress", job.message
    assert (job.step, job.steps) == (5, 5)
    at.run()
    assert not at.exception
    assert any(f"Saved run `{job.run_id}`" in s.value for s in at.success)
    assert not any(c.value == job.message for c in at.caption)  # said once, in the box
    assert load_run(ws, job.run_id).config.extra["parent"] == ids["mlp"]
    again = _page("pages/runs.py", active_run=ids["mlp"], runs__compress_job=job_id)
    assert any(f"Saved run `{job.run_id}`" in s.value for s in again.success)


def test_int8_of_a_non_network_is_refused_with_the_page_own_words(jobs_ws):
    # The refusal told the analyst on the Runs page to use "--method distill", a CLI flag.
    from ui.resources import job_manager

    ws, ids = jobs_ws
    at = _page("pages/runs.py", active_run=ids["logreg"])
    at.selectbox(key="runs__compress_method").select("int8").run()
    at.button(key="runs__compress").click().run()
    assert not at.exception
    (error,) = [e.value for e in at.error]
    assert f"run '{ids['logreg']}' is 'logreg', which has no weight matrices" in error
    assert '"Distil into a small MLP" on the Runs page' in error
    assert "runs__compress_job" not in at.session_state
    assert [j for j in job_manager(str(ws.data_dir)).list() if j.kind == "compress"] == []


def test_retrain_runs_as_a_job_and_preselects_the_challenger(jobs_ws):
    from ui.resources import job_manager

    ws, ids = jobs_ws
    at = _page("pages/monitor.py", active_run=ids["logreg"])
    at.button(key="monitor__go").click().run()  # the challenger's form follows a result
    assert not at.exception
    at.selectbox(key="monitor__retrain_table").select("bank_second").run()
    at.button(key="monitor__retrain").click().run()
    assert not at.exception
    job_id = at.session_state["monitor__job"]
    job = job_manager(str(ws.data_dir)).wait(job_id, timeout=TIMEOUT)
    assert job.state == "done" and job.kind == "retrain", job.message
    at.run()
    assert not at.exception
    assert any(f"Challenger trained: run `{job.run_id}` on `bank_second`" in s.value
               for s in at.success)
    assert at.session_state["monitor__job_done"] == job.run_id
    # preselected although the Challenger box was drawn (with another run) before it ended
    assert at.selectbox(key="monitor__challenger").value == job.run_id
    assert at.selectbox(key=f"monitor__promote_run_{job.run_id}").value == job.run_id
    at.selectbox(key="monitor__challenger").select(ids["mlp"]).run()  # the analyst's choice
    assert at.selectbox(key="monitor__challenger").value == ids["mlp"]  # then stays
    assert load_run(ws, job.run_id).config.table == "bank_second"
