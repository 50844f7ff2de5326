"""AppTest of the Train page's jobs (issue 13): a reloaded page (a new session) reattaches to
the running job and shows its settings; the Train button is disabled while those settings
train; the uplift section leaves out leaking and post-treatment columns by default."""

from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest

from core.specs import DatasetSpec, ModelConfig
from tests.conftest import ROOT

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


def test_reloaded_page_reattaches_to_the_running_job_and_its_settings(app_env):
    from ui.resources import job_manager

    s, _ = app_env
    jobs = job_manager(str(s.data_dir))
    features = ("age", "job", "campaign", "euribor3m")
    spec = DatasetSpec("bank", "y", "yes", features, seed=7, task="binary")
    cfg = ModelConfig.of(model="mlp", hidden_units=(8, 4), epochs=400, batch_size=64,
                         dropout=0.3)
    job_id = jobs.submit_training(spec, cfg)
    try:
        at = _run("pages/train.py")  # a new browser session: nothing in its state
        assert not at.exception
        assert at.session_state["active_job"] == job_id
        assert at.selectbox(key="train__table").value == "bank"
        assert at.multiselect(key="train__features_bank_y").value == list(features)
        assert at.text_input(key="train__layers").value == "8,4"
        assert at.number_input(key="train__epochs").value == 400
        assert at.number_input(key="train__batch_net").value == 64  # the MLP family's own key
        assert at.slider(key="train__dropout").value == pytest.approx(0.3)
        assert at.number_input(key="train__seed").value == 7
        assert at.button(key="train__go").disabled  # these settings are training now
        assert any(b.label == "Cancel training" for b in at.button)
        at.number_input(key="train__epochs").set_value(3).run()  # other settings: enabled
        assert not at.button(key="train__go").disabled
    finally:
        jobs.cancel(job_id)
        assert jobs.wait(job_id, timeout=120).state == "cancelled"


def test_running_job_shows_its_loss_curve_once_from_the_slower_chart_fragment(app_env):
    # The curve moved out of the progress fragment (a Plotly redraw each second cost the
    # browser ~0.15 CPU-s/s next to the job); it must still be drawn, once, while the job runs.
    from ui.resources import job_manager

    s, _ = app_env
    jobs = job_manager(str(s.data_dir))
    spec = DatasetSpec("bank", "y", "yes", ("age", "campaign", "euribor3m"), task="binary")
    job_id = jobs.submit_training(spec, ModelConfig.of(model="mlp", hidden_units=(4,),
                                                       epochs=400, batch_size=256))
    try:
        deadline = time.monotonic() + TIMEOUT
        while len(jobs.get(job_id).history) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        at = _run("pages/train.py", active_job=job_id)
        assert not at.exception and jobs.get(job_id).state == "running"
        assert [e.key for e in at.get("plotly_chart")] == ["train__loss"]
        assert any(c.value.startswith("Loss curve up to epoch ") for c in at.caption)
        assert any(b.label == "Cancel training" for b in at.button)  # from its own fragment
        assert any(p.proto.text.startswith("Epoch ") for p in at.get("progress"))
    finally:
        jobs.cancel(job_id)
        assert jobs.wait(job_id, timeout=120).state == "cancelled"


def test_reloaded_page_reattaches_to_a_running_leaderboard_and_its_settings(app_env):
    # The reload said "with the settings it was started with" but showed the default table and
    # features, and offered "Stop and keep the best so far", which a leaderboard lacks.
    from core.app import leaderboard_job
    from ui.resources import job_manager

    s, _ = app_env
    jobs = job_manager(str(s.data_dir))
    features = ("age", "job", "euribor3m")
    spec = DatasetSpec("bank_full", "y", "yes", features, task="binary")
    job_id = jobs.submit(**leaderboard_job(s, spec, ("mlp", "logreg"), 0, 200, 400))
    try:
        at = _run("pages/train.py", active_table="bank")  # a new session on another table
        assert not at.exception
        assert at.session_state["active_job"] == job_id
        assert at.selectbox(key="train__table").value == "bank_full"
        assert at.multiselect(key="train__features_bank_full_y").value == list(features)
        assert at.multiselect(key="train__board_models").value == ["mlp", "logreg"]
        assert at.number_input(key="train__board_epochs").value == 400
        note = at.info[0].value
        assert "table, target, features and families" in note
        assert "Stop and keep" not in note
        assert any("is running: [jump to its progress and Cancel](#training-job)" in c.value
                   for c in at.caption)  # under the disabled button, where the eye is
        assert at.button(key="train__board_go").disabled
        cancel = at.button(key="train__cancel")
        assert cancel.label == "Cancel the leaderboard" and "no family's run" in cancel.help
    finally:
        jobs.cancel(job_id)
        assert jobs.wait(job_id, timeout=120).state == "cancelled"


def test_train_button_starts_one_job_for_one_settings(app_env):
    from ui.resources import job_manager

    s, _ = app_env
    at = _run("pages/train.py", active_table="bank")
    at.selectbox(key="train__model").select("mlp").run()
    at.number_input(key="train__epochs").set_value(300)
    at.text_input(key="train__layers").input("8")
    at.button(key="train__go").click().run()
    first = at.session_state["active_job"]
    jobs = job_manager(str(s.data_dir))
    try:
        assert at.button(key="train__go").disabled
        same = jobs.submit_training(*_submitted(jobs, first))
        assert same == first
        assert sum(j.state in ("queued", "running") for j in jobs.list()) == 1
    finally:
        jobs.cancel(first)
        jobs.wait(first, timeout=120)


def _submitted(jobs, job_id):
    from core.specs import from_dict

    params = jobs.get(job_id).params
    return (from_dict(DatasetSpec, params["spec"]), from_dict(ModelConfig, params["model_config"]),
            params["cv"], params["tune_trials"], params["tune_timeout_s"] or 300.0)


def test_uplift_section_leaves_out_leaking_and_post_treatment_columns(tmp_path, monkeypatch):
    from core.config import load_settings
    from core.warehouse import connect
    from tests.core.tables.test_exclusions import email_experiment

    s = load_settings(tmp_path / "ws")
    with connect(s) as con:
        con.register("f", email_experiment(4000))
        con.execute("CREATE TABLE mail AS SELECT * FROM f")
    monkeypatch.setenv("LIFTLAB_DATA_DIR", str(s.data_dir))
    at = _run("pages/train.py", active_table="mail")
    at.selectbox(key="train__target").select("conversion").run()
    assert at.multiselect(key="train__features_mail_conversion").value == [
        "recency", "history", "channel", "newbie", "emailed", "visit"]
    at.checkbox(key="train__uplift").check().run()
    assert not at.exception
    assert at.selectbox(key="uplift__treatment_mail").value == "emailed"
    assert at.multiselect(key="uplift__exclude_mail_emailed").value == ["visit", "spend"]
    assert any("**visit** (post-treatment)" in c.value for c in at.caption)


def test_leaderboard_section_runs_a_job_and_shows_the_ranking(app_env):
    from ui.resources import job_manager

    s, _ = app_env
    at = _run("pages/train.py", active_table="bank")
    at.multiselect(key="train__board_models").set_value(["logreg", "hgb"])
    at.button(key="train__board_go").click().run()
    assert not at.exception
    job_id = at.session_state["active_job"]
    job = job_manager(str(s.data_dir)).wait(job_id, timeout=300)
    assert job.state == "done" and job.kind == "leaderboard", job.message
    at.run()
    assert not at.exception
    assert any(m.value.startswith("**Best: ") for m in at.markdown)
    ranking = next(d.value for d in at.dataframe if "tied with best" in d.value.columns)
    assert list(ranking["rank"]) == [1, 2]
    assert "train__board_chart" in [e.key for e in at.get("plotly_chart")]


def test_leaderboard_says_which_family_could_not_be_trained(app_env):
    # The board's notes (a family that failed, what was left out) were never shown: a family
    # could vanish from the ranking without a word.
    from core.leaderboard import build_leaderboard

    s, _ = app_env
    spec = DatasetSpec("bank", "y", "yes", ("age", "job", "euribor3m"), task="binary")
    board = build_leaderboard(s, spec, ("mlp", "logreg", "hgb"), n_boot=100,
                              network_settings={"epochs": 0})  # the network cannot train
    assert {m["model"] for m in board.models} == {"logreg", "hgb"}
    at = _run("pages/train.py", active_table="bank", train__features_bank_y=list(spec.features))
    assert not at.exception
    warnings = [w.value for w in at.warning]
    assert any(w.startswith("mlp could not be trained: epochs must be an integer")
               for w in warnings), warnings


class _Fails:
    def __call__(self, progress, should_stop):
        from core.errors import TrainingError

        raise TrainingError("'age' has no usable values: every row is missing.")


def test_a_failed_job_says_why_once(app_env):
    from ui.resources import job_manager

    s, _ = app_env
    jobs = job_manager(str(s.data_dir))
    job = jobs.wait(jobs.submit("train", "mlp on bank (target y)", _Fails()), timeout=60)
    assert job.state == "failed"
    at = _run("pages/train.py", active_table="bank", active_job=job.job_id)
    assert not at.exception
    said = [e.value for e in at.error] + [c.value for c in at.caption]
    assert said.count("'age' has no usable values: every row is missing.") == 1, said


class _Reports:
    def __call__(self, progress, should_stop):
        progress({"message": "Training tabm (4 of 7)"})
        while not should_stop():
            time.sleep(0.05)
        from core.errors import AppError

        raise AppError("The leaderboard was cancelled; nothing was kept.")


def test_recent_jobs_show_a_running_job_s_latest_message(app_env):
    # The table read "Starting" (the warehouse's first record) while the job was at 4 of 7.
    from ui.resources import job_manager

    s, _ = app_env
    jobs = job_manager(str(s.data_dir))
    job_id = jobs.submit("leaderboard", "leaderboard of 7 families", _Reports())
    try:
        while jobs.get(job_id).message != "Training tabm (4 of 7)":
            time.sleep(0.05)
        at = _run("pages/train.py", active_table="bank")
        table = next(d.value for d in at.dataframe if "message" in d.value.columns)
        row = table[table["job"] == "leaderboard of 7 families"].iloc[0]
        assert (row["state"], row["message"]) == ("running", "Training tabm (4 of 7)")
    finally:
        jobs.cancel(job_id)
        assert jobs.wait(job_id, timeout=60).state == "cancelled"


def test_sidebar_names_a_running_job_with_its_latest_message_and_drops_it_after(app_env):
    from ui.resources import job_manager

    s, _ = app_env
    jobs = job_manager(str(s.data_dir))
    job_id = jobs.submit("leaderboard", "leaderboard of 7 families", _Reports())
    try:
        while jobs.get(job_id).message != "Training tabm (4 of 7)":
            time.sleep(0.05)
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
        assert not at.exception
        assert any(c.value.endswith("leaderboard of 7 families: Training tabm (4 of 7)")
                   for c in at.sidebar.caption), [c.value for c in at.sidebar.caption]
    finally:
        jobs.cancel(job_id)
        assert jobs.wait(job_id, timeout=60).state == "cancelled"
    at.run()
    assert not any("leaderboard of 7 families" in c.value for c in at.sidebar.caption)
