"""AppTest of the Monitor page: monitor a run on new rows, read the verdict, timelines and the
drift drill-down, compare champion and challenger, promote with a confirmation and a reason."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core.app import export_run, import_run
from core.config import load_settings
from core.ingest import IngestOptions, ingest_file
from core.monitor import list_models
from core.warehouse import connect
from tests.conftest import BANK, ROOT
from tests.pages.navigation import open_via_app

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::FutureWarning")]


@pytest.fixture
def monitor_ws(bank_ws, tmp_path, monkeypatch):
    """The bank hgb and logreg runs (trained on a random 6,000 rows) in a new workspace that
    holds the full file in time order as ``bank_new`` (the runs' own table is not there)."""
    s, runs = bank_ws
    ws = load_settings(tmp_path / "monitor_ws")
    ids = {m: import_run(ws, export_run(s, runs[m])) for m in ("hgb", "logreg")}
    with connect(ws) as con:
        ingest_file(con, BANK, IngestOptions(table="bank_new"))
    monkeypatch.setenv("LIFTLAB_DATA_DIR", str(ws.data_dir))
    return ws, ids


def _page(**state) -> AppTest:
    # the page on its own: AppTest does not deliver button clicks through app.py's navigation
    at = AppTest.from_file(str(ROOT / "pages" / "monitor.py"), default_timeout=180)
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def test_monitor_compare_and_promote(monitor_ws):
    ws, ids = monitor_ws
    nav = open_via_app("pages/monitor.py", active_run=ids["hgb"])  # listed after Runs
    assert not nav.exception and "Press Monitor" in nav.caption[0].value
    at = _page(active_run=ids["hgb"])
    assert not at.exception
    assert at.selectbox(key="monitor__run").value == ids["hgb"]
    assert at.selectbox(key=f"monitor__table_{ids['hgb']}").value == "bank_new"
    at.button(key="monitor__go").click().run()
    assert not at.exception and not at.get("exception")
    alerts = at.error[0].value
    assert "features drifted" in alerts and "Chunk 4/4" in alerts
    labels = {m.label: m.value for m in at.metric}
    assert labels["Dataset drift"] in ("yes", "no")
    assert float(labels["ROC-AUC realised, 4/4"]) > 0.5
    assert len(at.tabs) == 3 and len(at.get("plotly_chart")) >= 3
    drift = next(d.value for d in at.dataframe if "test (drift when)" in d.value.columns)
    assert "euribor3m" in drift.index and "emp.var.rate" in drift.index  # the file's names
    at.selectbox(key="monitor__feature").select("nr.employed").run()
    assert not at.exception
    # the result survives: a new session shows the stored one without pressing Monitor
    again = open_via_app("pages/monitor.py", active_run=ids["hgb"])
    assert "features drifted" in again.error[0].value

    at.selectbox(key="monitor__challenger").select(ids["logreg"]).run()
    at.selectbox(key="monitor__compare_table").select("bank_new").run()
    at.button(key="monitor__compare").click().run()
    assert not at.exception
    table = next(d.value for d in at.dataframe if "95% CI of the difference" in d.value.columns)
    assert list(table["metric"])[:4] == ["ROC-AUC", "Precision", "Recall", "F1"]

    assert at.button(key="monitor__promote").disabled  # no reason, no confirmation yet
    at.text_input(key="monitor__model_name").input("campaign").run()
    assert at.selectbox(key=f"monitor__promote_run_{ids['logreg']}").value == ids["logreg"]
    at.text_area(key="monitor__why").input("better on the full file").run()
    at.checkbox(key="monitor__confirm").check().run()
    at.button(key="monitor__promote").click().run()
    assert not at.exception
    assert "'campaign' champion" in at.success[-1].value
    (model,) = list_models(ws)
    assert model["champion"] == ids["logreg"]
    assert model["history"][0]["why"] == "better on the full file"
    assert model["history"][0]["evidence"]["comparison"] is None  # no champion before


def test_a_large_table_is_monitored_in_the_background_and_its_result_shows(monitor_ws,
                                                                           monkeypatch):
    # Monitoring ran while the page waited, whatever the table's size; a large table is now a
    # job (Ray in the app; the thread engine here), its result the page's once it is stored.
    from core.app import _analysis_work as analysis
    from core.monitor import Chunking, cli_view, load_monitor, monitor
    from core.runs import load_run
    from ui.resources import job_manager

    ws, ids = monitor_ws
    monkeypatch.setattr(analysis, "SCORE_JOB_ROWS", 10_000)  # bank_new: 41,188 rows
    at = _page(active_run=ids["logreg"])
    at.button(key="monitor__go").click().run()
    assert not at.exception
    assert any("41,188 rows: it is monitored in the background" in i.value for i in at.info)
    job = job_manager(str(ws.data_dir)).wait(at.session_state["monitor__check_job"], timeout=300)
    assert job.state == "done" and job.kind == "monitor", job.message
    at.run()
    assert not at.exception
    assert at.session_state["monitor__result"] == job.result["monitor_id"]
    assert any(s.value == job.message for s in at.success)
    labels = {m.label: m.value for m in at.metric}
    assert labels["Dataset drift"] == ("yes" if job.result["dataset_drift"] else "no")
    stored = cli_view(load_monitor(ws, job.result["monitor_id"]))
    reference = cli_view(monitor(ws, load_run(ws, ids["logreg"]), "bank_new",
                                 Chunking(n_chunks=4), save=False))
    stored.pop("monitor_id"), reference.pop("monitor_id")
    assert stored == reference  # what the job stored is what the page computed before
