"""AppTest for every page: renders without exceptions, shows the right numbers."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core.runs import load_run
from tests.conftest import ROOT
from tests.pages.navigation import open_via_app

pytestmark = pytest.mark.slow
TIMEOUT = 120


@pytest.fixture
def app_env(bank_ws, monkeypatch):
    s, runs = bank_ws
    monkeypatch.setenv("LIFTLAB_DATA_DIR", str(s.data_dir))
    return s, runs


def _run(path: str, **state) -> AppTest:
    at = AppTest.from_file(str(ROOT / path), default_timeout=TIMEOUT)
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def test_app_entry_renders_data_page(app_env):
    at = _run("app.py")
    assert not at.exception
    assert at.title[0].value == "Data"
    assert any("Training device" in c.value for c in at.sidebar.caption)


def test_data_page_lists_tables(app_env):
    at = _run("pages/data.py")
    assert not at.exception
    tables = at.dataframe[0].value
    assert set(tables["table"]) >= {"bank", "bank_full"}
    assert int(tables.set_index("table").loc["bank", "rows"]) == 6000
    at.selectbox(key="data__table").select("bank_full").run()
    types = at.dataframe[2].value
    assert "emp_var_rate" in set(types["column"])
    assert types.set_index("column").loc["emp_var_rate", "header in file"] == "emp.var.rate"


def test_train_page_defaults(app_env):
    at = _run("pages/train.py", active_table="bank")
    assert not at.exception
    assert at.selectbox(key="train__target").value == "y"
    assert at.radio(key="train__positive_y").value == "yes"
    features = at.multiselect(key="train__features_bank_y").value
    assert "duration" not in features and "age" in features and "y" not in features
    assert at.checkbox(key="train__weights").value is False  # offered, not imposed
    assert any("of rows. **Class weights (balanced)** are offered" in i.value for i in at.info)
    assert any("Left out by default because it leaks" in c.value for c in at.caption)
    at.multiselect(key="train__features_bank_y").set_value([*features, "duration"]).run()
    assert any(w.value.startswith("duration is a feature, but it is usually only known after")
               for w in at.warning)


def test_train_form_survives_a_page_change(app_env):
    # The form went back to the DNN with 60 epochs after a visit to another page, while the
    # finished job shown under it was the analyst's own run.
    at = open_via_app("pages/train.py", TIMEOUT, active_table="bank")
    assert at.selectbox(key="train__model").value == "tabm"  # the default family
    at.selectbox(key="train__model").select("mlp").run()
    features = [f for f in at.multiselect(key="train__features_bank_y").value if f != "age"]
    at.multiselect(key="train__features_bank_y").set_value(features).run()
    at.text_input(key="train__layers").input("8")
    at.number_input(key="train__epochs").set_value(2)
    at.slider(key="train__dropout").set_value(0.4)
    at.button[0].click().run()  # a form commits its values on submit
    assert not at.exception
    at.switch_page("pages/evaluate.py").run()
    at.switch_page("pages/train.py").run()
    assert not at.exception
    assert at.multiselect(key="train__features_bank_y").value == features
    assert at.text_input(key="train__layers").value == "8"
    assert at.number_input(key="train__epochs").value == 2
    assert at.slider(key="train__dropout").value == 0.4
    at.selectbox(key="train__model").select("hgb").run()
    at.switch_page("pages/runs.py").run()
    at.switch_page("pages/train.py").run()
    assert at.selectbox(key="train__model").value == "hgb"


def test_train_page_trains_a_baseline(app_env):
    s, _ = app_env
    at = _run("pages/train.py", active_table="bank")
    at.selectbox(key="train__model").select("logreg")
    at.button[0].click()  # the form's submit button
    at.run()
    assert not at.exception
    job_id = at.session_state["active_job"]
    from ui.resources import job_manager

    job = job_manager(str(s.data_dir)).wait(job_id, timeout=120)
    assert job.state == "done", job.message
    at.run()
    assert at.session_state["active_run"] == job.run_id
    assert any(m.label == "ROC-AUC" for m in at.metric)


def test_train_page_streams_a_dnn(app_env):
    s, _ = app_env
    at = _run("pages/train.py", active_table="bank")
    assert at.selectbox(key="train__pipeline").value == "auto"
    at.selectbox(key="train__model").select("mlp").run()
    at.text_input(key="train__layers").input("16")
    at.number_input(key="train__epochs").set_value(2)
    at.selectbox(key="train__pipeline").select("stream")
    at.button[0].click()
    at.run()
    assert not at.exception
    from ui.resources import job_manager

    job = job_manager(str(s.data_dir)).wait(at.session_state["active_job"], timeout=120)
    assert job.state == "done", job.message
    config = load_run(s, job.run_id).config
    assert config.data_pipeline == "stream" and config.model_config.mlp.hidden_units == (16,)
    assert config.epochs_run == 2


def test_train_page_trains_the_ensemble(app_env):
    s, _ = app_env
    at = _run("pages/train.py", active_table="bank")
    at.selectbox(key="train__model").select("ensemble").run()
    assert any("averages their scores" in c.value for c in at.caption)
    at.number_input(key="train__members").set_value(4)
    at.number_input(key="train__width").set_value(16)
    at.number_input(key="train__epochs").set_value(3)
    at.button[0].click()
    at.run()
    assert not at.exception
    from ui.resources import job_manager

    job = job_manager(str(s.data_dir)).wait(at.session_state["active_job"], timeout=300)
    assert job.state == "done", job.message
    at.run()
    run = load_run(s, job.run_id)
    assert run.config.model == "ensemble" and run.config.model_config.tabm.members == 4
    assert any(w.value.startswith("Ensemble: tabm weight") for w in at.warning)
    assert any(m.label == "ROC-AUC" for m in at.metric)


def test_evaluate_page_threshold_updates_metrics(app_env):
    s, runs = app_env
    at = _run("pages/evaluate.py", active_run=runs["hgb"])
    assert not at.exception
    labels = {m.label: m.value for m in at.metric}
    run = load_run(s, runs["hgb"])
    assert labels["ROC-AUC"] == f"{run.metrics['metrics']['roc_auc']:.3f}"
    recall_05 = labels["Recall"]
    at.slider(key="evaluate__threshold").set_value(0.05).run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Recall"] > recall_05
    assert len(at.get("plotly_chart")) == 8  # 5 threshold charts, calibration, gains, lift


def test_evaluate_run_switch_resets_threshold_and_policy_note(app_env):
    s, runs = app_env
    at = _run("pages/evaluate.py", active_run=runs["hgb"])
    at.radio(key="evaluate__policy").set_value("top_k").run()
    at.button(key="evaluate__apply").click().run()
    flagged = at.slider(key="evaluate__threshold").value
    assert flagged != 0.5 and "flags" in at.success[0].value
    assert at.success[0].value.startswith("Chosen on the validation split (600 rows")
    at.selectbox(key="evaluate__run").select(runs["mlp"]).run()
    assert not at.exception
    assert at.slider(key="evaluate__threshold").value == 0.5
    assert not at.success  # the other run's policy note is gone
    mlp = load_run(s, runs["mlp"]).metrics["metrics"]
    assert {m.label: m.value for m in at.metric}["Recall"] == f"{mlp['recall']:.3f}"


def test_sidebar_names_the_run_chosen_on_the_page_at_once(app_env):
    # The sidebar was drawn before the page ran, so it named the previous run until the
    # next rerun.
    _, runs = app_env
    at = open_via_app("pages/evaluate.py", TIMEOUT, active_run=runs["hgb"])
    at.selectbox(key="evaluate__run").select(runs["mlp"]).run()
    assert not at.exception
    active = [c.value for c in at.sidebar.caption if c.value.startswith("Active run")]
    assert active == [f"Active run: `{runs['mlp']}`"]


def test_sidebar_lists_running_jobs(app_env):
    from tests.core.app.test_jobs import _slow_work
    from ui.resources import job_manager

    s, _ = app_env
    jobs = job_manager(str(s.data_dir))
    started: list[float] = []
    job_id = jobs.submit("train", "slow job for the sidebar", _slow_work(started))
    try:
        at = _run("app.py")
        assert not at.exception
        lines = [c.value for c in at.sidebar.caption if "hourglass_top" in c.value]
        assert len(lines) == 1 and lines[0].startswith(":material/hourglass_top: slow job for")
    finally:
        jobs.cancel(job_id)
        assert jobs.wait(job_id, timeout=60).state == "cancelled"


def test_train_page_does_not_undo_the_chosen_run(app_env):
    s, runs = app_env
    at = _run("pages/train.py", active_table="bank")
    at.selectbox(key="train__model").select("logreg")
    at.button[0].click()
    at.run()
    from ui.resources import job_manager

    job = job_manager(str(s.data_dir)).wait(at.session_state["active_job"], timeout=120)
    at.run()
    assert at.session_state["active_run"] == job.run_id  # a finished job's run, once
    at.session_state["active_run"] = runs["hgb"]  # the analyst picks another run elsewhere
    at.run()
    assert at.session_state["active_run"] == runs["hgb"]


def test_explain_page_computes_and_caches(app_env):
    s, runs = app_env
    at = _run("pages/explain.py", active_run=runs["logreg"])
    assert not at.exception
    at.number_input(key="explain__rows").set_value(100).run()
    at.button(key="explain__go").click().run()
    assert not at.exception
    assert any("LinearExplainer" in c.value for c in at.caption)
    assert any("Additivity" in c.value for c in at.caption)
    assert len(at.get("plotly_chart")) == 5  # importance, beeswarm, dependence, PD/ICE, waterfall


def test_impact_page_shows_lift(app_env):
    s, runs = app_env
    at = _run("pages/impact.py", active_run=runs["hgb"])
    assert not at.exception
    lift = next(m for m in at.metric if m.label == "Conversion lift")
    assert lift.value.endswith("×") and float(lift.value[:-1]) > 1.5
    at.slider(key="impact__fraction").set_value(0.5).run()
    lift2 = next(m for m in at.metric if m.label == "Conversion lift")
    assert float(lift2.value[:-1]) < float(lift.value[:-1])


def test_pages_without_runs_point_to_train(tmp_path, monkeypatch):
    monkeypatch.setenv("LIFTLAB_DATA_DIR", str(tmp_path / "empty"))
    for page in ("pages/evaluate.py", "pages/explain.py", "pages/impact.py"):
        at = _run(page)
        assert not at.exception, page
        assert any("No trained run" in i.value for i in at.info)
    at = _run("pages/train.py")
    assert not at.exception and any("Load a table" in i.value for i in at.info)


def test_runs_page_compares_and_scores(app_env):
    s, runs = app_env
    at = _run("pages/runs.py")
    assert not at.exception
    table = at.dataframe[0].value
    assert set(runs.values()) <= set(table["run"])
    at.multiselect(key="runs__compare").set_value([runs["mlp"], runs["hgb"]]).run()
    assert not at.exception
    metrics = at.dataframe[1].value
    assert list(metrics.columns) == [runs["mlp"], runs["hgb"]]
    charts = [c.key for c in at.get("plotly_chart")]
    # ROC and PR of the compared runs; the privacy/utility curve joins when the session's
    # workspace holds DP runs of the same table and target
    assert charts[:2] == ["runs__roc", "runs__pr"] and set(charts[2:]) <= {"runs__privacy_curve"}
    at.selectbox(key="runs__manage").select(runs["logreg"]).run()
    assert at.button(key="runs__delete").disabled
    at.selectbox(key="runs__score_table").select("bank").run()
    at.checkbox(key="runs__score_replace").check()  # an earlier test wrote bank_scored
    at.button(key="runs__score").click().run()
    assert not at.exception
    assert any("6,000 scored rows" in m.value for m in at.success)
