"""Jobs on Ray: each in its own worker process, progress per epoch, cancel within seconds, a
killed worker, two jobs at once, workers reading a snapshot while the server holds the
warehouse (the server registers runs), multi-worker training and parallel Optuna trials.

One local Ray instance (2 CPUs) serves the whole module; the data is a 3,000-row synthetic table
whose label follows a known logistic rule, so the trained ROC-AUC is well above chance.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from core.app import JobManager, mark_interrupted, recent_jobs, recommend_job
from core.app._engine import engine_info, ensure_engine, shutdown_engine
from core.config import load_settings
from core.errors import WorkspaceBusyError
from core.recommend import (
    EventColumns,
    RecModelConfig,
    SequenceOptions,
    leave_last_out,
    load_rec_run,
    rank_users,
    summarize,
)
from core.runs import SCORE_COL, list_runs, load_run, new_run_id, write_run_folder
from core.runs import _admin as runs_admin
from core.specs import DatasetSpec, ModelConfig
from core.warehouse import META_SCHEMA, connect
from tests.conftest import make_cycle_events

ROWS = 3000
SPEC = DatasetSpec("toy", "y", features=("x1", "x2", "seg"))  # x1 would be flagged as leakage


def _make_table(settings) -> None:
    """``toy``: x1 ~ N(0, 1), x2 ~ U(-1, 1), seg in {a, b}; P(y = yes) = σ(2·x1 − x2 ± 1)."""
    with connect(settings) as con:
        con.execute("SELECT setseed(0.42)")
        con.execute(f"CREATE TABLE base AS SELECT sqrt(-2 * ln(random())) * cos(2 * pi() * "
                    f"random()) AS x1, random() * 2 - 1 AS x2, CASE WHEN random() < 0.5 "
                    f"THEN 'a' ELSE 'b' END AS seg, random() AS u FROM range({ROWS})")
        con.execute("CREATE TABLE toy AS SELECT x1, x2, seg, CASE WHEN u < 1 / (1 + exp(-(2 * "
                    "x1 - x2 + CASE seg WHEN 'a' THEN 1 ELSE -1 END))) THEN 'yes' ELSE 'no' "
                    "END AS y FROM base")
        con.execute("DROP TABLE base")


@pytest.fixture(scope="module")
def ray_ws(tmp_path_factory):
    """A workspace with the table ``toy`` and the module's local Ray instance (2 CPUs)."""
    os.environ["LIFTLAB_RAY_CPUS"] = "2"
    s = load_settings(tmp_path_factory.mktemp("ray_ws"))
    _make_table(s)
    assert ensure_engine() == "local"
    yield s
    shutdown_engine()


@pytest.fixture
def jobs(ray_ws):
    manager = JobManager(ray_ws, engine="ray")
    yield manager
    manager.shutdown()


def _slow_net(**kw) -> ModelConfig:
    return ModelConfig.of(model="mlp", hidden_units=(16,), epochs=200, batch_size=32,
                          early_stopping=False, **kw)


def _wait_for(pred, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_a_job_runs_in_a_worker_process_and_saves_a_run(jobs, ray_ws):
    cfg = ModelConfig.of(model="mlp", hidden_units=(16,), epochs=3, batch_size=128)
    job_id = jobs.submit_training(SPEC, cfg)
    job = jobs.wait(job_id, timeout=180)
    assert job.state == "done", job.message
    assert job.pid is not None and job.pid != os.getpid()
    assert job.engine == {"ray": "local", "workers": 1, "strategy": "default", "devices": "CPU"}
    assert job.epoch == 3 and len(job.history) == 3 and "val_loss" in job.history[0]
    assert (ray_ws.runs_dir / job.run_id / "model.keras").exists()
    recorded = {j["job_id"]: j for j in recent_jobs(ray_ws)}
    assert recorded[job_id]["state"] == "done" and recorded[job_id]["run_id"] == job.run_id


def test_a_streamed_job_splits_the_workers_snapshot_by_rowid(jobs, ray_ws):
    # the streamed pipeline splits on rowid: the worker's snapshot tables must have it
    cfg = ModelConfig.of(model="mlp", hidden_units=(16,), epochs=2, batch_size=128,
                         data_pipeline="stream")
    job = jobs.wait(jobs.submit_training(SPEC, cfg), timeout=180)
    assert job.state == "done", job.message
    assert job.pid != os.getpid()
    config = json.loads((ray_ws.runs_dir / job.run_id / "config.json").read_text())
    assert config["data_pipeline"] == "stream" and config["rows"]["table"] == 3000
    assert job.run_id in {r["run_id"] for r in _registered(ray_ws)}


def test_cancel_stops_the_worker_within_seconds_and_saves_nothing(jobs, ray_ws):
    before = set(os.listdir(ray_ws.runs_dir)) if ray_ws.runs_dir.exists() else set()
    job_id = jobs.submit_training(SPEC, _slow_net())
    _wait_for(lambda: jobs.get(job_id).epoch >= 2)  # progress arrives once per epoch
    t = time.monotonic()
    jobs.cancel(job_id)
    job = jobs.wait(job_id, timeout=30)
    assert time.monotonic() - t < 12  # the worker is killed 5 s after an unanswered cancel
    assert job.state == "cancelled" and job.run_id is None
    after = set(os.listdir(ray_ws.runs_dir)) if ray_ws.runs_dir.exists() else set()
    assert after == before
    assert {r["run_id"] for r in _registered(ray_ws)} <= before  # nothing registered
    assert not _snapshots(ray_ws, job_id)


def _registered(settings) -> list[dict]:
    with connect(settings) as con:
        rows = con.execute(f"SELECT run_id, table_name, target, model, task, metrics_json "
                           f"FROM {META_SCHEMA}.runs").fetchall()
    keys = ("run_id", "table", "target", "model", "task", "metrics")
    return [dict(zip(keys, r)) for r in rows]


def _snapshots(settings, job_id: str) -> list[str]:
    tmp = settings.data_dir / "tmp"
    return [p.name for p in tmp.iterdir() if p.name.startswith(f"job-{job_id}-")] \
        if tmp.is_dir() else []


def test_a_job_trains_while_the_server_holds_the_warehouse_and_the_server_registers_it(
        jobs, ray_ws):
    """The worker reads the server's Parquet snapshot: with the warehouse file held open by
    this (the server's) process for the whole job, any worker opening it, even read-only,
    would wait for the lock and fail; the server then registers the run."""
    cfg = ModelConfig.of(model="mlp", hidden_units=(8,), epochs=2, batch_size=256)
    with connect(ray_ws) as held:
        probe = subprocess.run(  # another process cannot open the file now, not even to read
            [sys.executable, "-c", "import duckdb, sys; duckdb.connect(sys.argv[1], "
             "read_only=True)", str(ray_ws.warehouse_path)], capture_output=True, text=True)
        assert probe.returncode != 0 and "lock" in probe.stderr.lower()
        job_id = jobs.submit_training(SPEC, cfg)
        job = jobs.wait(job_id, timeout=180)
        assert held.execute("SELECT count(*) FROM toy").fetchone()[0] == ROWS
    assert job.state == "done", job.message
    assert job.pid != os.getpid()
    run = load_run(ray_ws, job.run_id)
    assert run.config.rows["table"] == ROWS  # every row of the snapshot, in the table's order
    row = {r["run_id"]: r for r in _registered(ray_ws)}[job.run_id]
    assert (row["table"], row["target"], row["model"], row["task"]) == ("toy", "y", "mlp",
                                                                      "binary")
    assert json.loads(row["metrics"]) == run.metrics["metrics"]
    assert not _snapshots(ray_ws, job_id)  # the server removed the job's snapshot


def test_a_run_the_server_cannot_register_is_removed_whole(jobs, ray_ws, monkeypatch):
    def refuse(settings, run):
        raise WorkspaceBusyError("The data directory is in use by process 1.")

    monkeypatch.setattr(runs_admin, "register_run", refuse)  # the server side, this process
    job_id = jobs.submit_training(SPEC, ModelConfig.of(model="logreg"))
    job = jobs.wait(job_id, timeout=120)
    assert job.state == "failed" and job.run_id is None
    assert "could not be registered" in job.message and "in use by process 1" in job.message
    listed = {r["run_id"] for r in list_runs(ray_ws)}
    assert listed == {r["run_id"] for r in _registered(ray_ws)}  # no folder without its row
    assert not [p for p in ray_ws.runs_dir.iterdir() if p.name.startswith(".")]
    assert not _snapshots(ray_ws, job_id)


def test_a_killed_worker_fails_its_job_and_the_manager_keeps_working(jobs, ray_ws):
    job_id = jobs.submit_training(SPEC, _slow_net())
    _wait_for(lambda: jobs.get(job_id).epoch >= 1)
    os.kill(jobs.get(job_id).pid, signal.SIGKILL)  # as the kernel's OOM killer would
    job = jobs.wait(job_id, timeout=60)
    assert job.state == "failed"
    assert "worker process died" in job.message and "crashed or was killed" in job.message
    assert not [p for p in ray_ws.runs_dir.iterdir() if p.name.startswith(".tmp-")]
    again = jobs.submit_training(SPEC, ModelConfig.of(model="logreg"))
    assert jobs.wait(again, timeout=120).state == "done"


def test_two_jobs_run_at_once_in_two_processes(jobs):
    a = jobs.submit_training(SPEC, _slow_net(learning_rate=1e-3))
    b = jobs.submit_training(SPEC, _slow_net(learning_rate=2e-3))
    _wait_for(lambda: jobs.get(a).epoch >= 1 and jobs.get(b).epoch >= 1)
    ja, jb = jobs.get(a), jobs.get(b)
    assert ja.state == jb.state == "running" and ja.pid != jb.pid
    for job_id in (a, b):
        jobs.cancel(job_id)
    assert {jobs.wait(a, 30).state, jobs.wait(b, 30).state} == {"cancelled"}


def test_restart_recovery_marks_a_running_job_interrupted(ray_ws):
    manager = JobManager(ray_ws, engine="ray")
    job_id = manager.submit_training(SPEC, _slow_net(learning_rate=3e-3))
    _wait_for(lambda: manager.get(job_id).state == "running")
    manager._closing.set()  # the server dies without telling its jobs
    assert mark_interrupted(ray_ws) >= 1
    state = {j["job_id"]: j["state"] for j in recent_jobs(ray_ws)}[job_id]
    assert state == "interrupted"
    manager._closing.clear()
    manager.shutdown()


def test_engine_info_says_where_a_job_runs():
    info = engine_info(2)
    assert info.to_dict() == {"ray": "local", "workers": 2,
                              "strategy": "MultiWorkerMirroredStrategy", "devices": "CPU"}
    assert info.caption() == "Runs on Ray (local) · 2 workers · MultiWorkerMirroredStrategy · CPU"


@pytest.mark.slow
def test_two_workers_match_one_worker_roc_auc(ray_ws):
    """Ray Train, 2 workers under MultiWorkerMirroredStrategy, global batch 64 = one worker's
    batch: same seed, ROC-AUC within 0.01 and the same loss curve within noise."""
    from core.training import train

    out = {}
    for workers in (1, 2):
        cfg = ModelConfig.of(model="mlp", hidden_units=(16,), epochs=5, batch_size=64,
                             learning_rate=1e-2, workers=workers, data_pipeline="memory",
                             early_stopping=False)
        out[workers] = train(ray_ws, SPEC, cfg)
    auc = {w: r.metrics["metrics"]["roc_auc"] for w, r in out.items()}
    assert auc[1] > 0.75
    assert abs(auc[1] - auc[2]) < 0.01
    assert out[2].config.model_config.fit.workers == 2


def _one_and_two_workers(settings, **kw) -> dict:
    """The same configuration (seed, global batch) trained on 1 and on 2 workers."""
    from core.training import train

    out = {}
    for workers in (1, 2):
        out[workers] = train(settings, SPEC, ModelConfig.of(workers=workers, **kw))
    return out


SAMPLE = pd.DataFrame({"x1": [2.0, -2.0], "x2": [0.0, 0.0], "seg": ["a", "b"]})


def _auc(result) -> float:
    return result.metrics["metrics"]["roc_auc"]


@pytest.mark.slow
def test_two_workers_match_one_worker_roc_auc_for_tabm_and_the_run_scores_and_explains(ray_ws):
    """TabM (the default family) on 2 workers: each member trained on its own loss in the
    custom step; ROC-AUC within 0.01 of one worker's (same seed, global batch 64); the run is an
    ordinary TabM run: it loads, scores its saved test rows again, and SHAP adds up."""
    from core.explain import explain_run
    from models.tabm import is_tabm

    out = _one_and_two_workers(ray_ws, model="tabm", members=4, width=32, epochs=5,
                               batch_size=64, learning_rate=5e-3, early_stopping=False,
                               data_pipeline="memory")
    assert _auc(out[1]) > 0.75
    assert abs(_auc(out[1]) - _auc(out[2])) < 0.01
    assert out[2].config.model_config.fit.workers == 2 and out[2].config.epochs_run == 5
    run = load_run(ray_ws, out[2].run_id)
    assert is_tabm(run.model) and run.model.output_shape == (None, 1)
    assert np.allclose(run.predict(run.test_frame), run.test_frame[SCORE_COL], atol=1e-5)
    exp = explain_run(run, n_rows=50)
    assert exp.additivity_ok and exp.values.shape == (50, 3)


@pytest.mark.slow
def test_two_workers_match_one_worker_on_the_streamed_pipeline(ray_ws):
    """The streamed pipeline on 2 workers (each reads rows r, r + 2, … of the encoded training
    split chunk by chunk): ROC-AUC within 0.01 of one streamed worker's."""
    out = _one_and_two_workers(ray_ws, model="mlp", hidden_units=(16,), epochs=5, batch_size=64,
                               learning_rate=1e-2, early_stopping=False, data_pipeline="stream")
    assert {r.config.data_pipeline for r in out.values()} == {"stream"}
    assert out[2].config.extra["encoded_on_disk"] is True
    assert _auc(out[1]) > 0.75
    assert abs(_auc(out[1]) - _auc(out[2])) < 0.01


@pytest.mark.slow
def test_tabm_variants_and_the_ensemble_train_on_two_workers(ray_ws, monkeypatch):
    """tabm_mini (streamed, encoded once to disk), tabm_lite (streamed, the disk too short: the
    workers encode their snapshot rows on the fly) and the ensemble (its TabM on the workers,
    its gradient boosting on the coordinator) on 2 workers: saved runs that learn the rule."""
    from collections import namedtuple

    from core.training import _stream as training_stream
    from core.training import train

    usage = namedtuple("usage", "total used free")
    real = training_stream.shutil.disk_usage
    for kw, short_disk in (({"variant": "tabm_mini", "data_pipeline": "stream"}, False),
                           ({"variant": "tabm_lite", "data_pipeline": "stream"}, True),
                           ({"model": "ensemble", "data_pipeline": "memory"}, False)):
        monkeypatch.setattr(training_stream.shutil, "disk_usage",
                            (lambda _: usage(1, 1, 1000)) if short_disk else real)
        cfg = ModelConfig.of(**{"model": "tabm", **kw}, members=2, width=16, epochs=3,
                             batch_size=128, workers=2)
        result = train(ray_ws, SPEC, cfg)
        assert _auc(result) > 0.75, kw
        assert result.config.model_config.tabm.variant == kw.get("variant", "tabm")
        if kw["data_pipeline"] == "stream":
            assert result.config.extra["encoded_on_disk"] is not short_disk
        else:
            assert len(result.config.extra["ensemble"]["weights"]) == 2
            high, low = load_run(ray_ws, result.run_id).predict(SAMPLE)  # σ(5) and σ(-5)
            assert high > 0.8 and low < 0.2


def test_multi_worker_training_refuses_dp_and_baselines_with_a_reason():
    from core.errors import TrainingError
    from core.training._distributed import check_distributable

    for family in ("tabm", "mlp", "ensemble"):  # no longer refused
        check_distributable(ModelConfig.of(model=family, workers=2))
    with pytest.raises(TrainingError, match="not available with differential privacy "
                                            "\\(DP-SGD clips each example's gradient"):
        check_distributable(ModelConfig.of(model="mlp", workers=2, dp=True, dp_epsilon=3.0))
    with pytest.raises(TrainingError, match="hgb is fitted by scikit-learn in one process"):
        check_distributable(ModelConfig.of(model="hgb", workers=2))


@pytest.mark.slow
def test_optuna_study_with_two_parallel_ray_tune_trials(ray_ws):
    from core.training import tune

    base = ModelConfig.of(model="mlp", hidden_units=(8,), epochs=2, batch_size=128)
    events: list[dict] = []
    result = tune(ray_ws, SPEC, base, n_trials=2, timeout_s=300, parallel=2,
                  progress=events.append)
    tuning = result.config.extra["tuning"]
    assert tuning["parallel"] == 2 and len(tuning["trials"]) == 2 and tuning["pruned"] == []
    trials = [e for e in events if e.get("stage") == "trial"]
    assert [e["trial"] for e in trials] == [1, 2]  # one event as each trial ended
    assert trials[-1]["best"] == max(t["value"] for t in tuning["trials"])
    assert {"number", "value", "params"} <= set(tuning["trials"][0])
    best = max(tuning["trials"], key=lambda t: t["value"])
    assert tuning["best_params"] == best["params"] and 0.5 < best["value"] <= 1.0
    assert {"dropout", "learning_rate", "n_layers", "units"} <= set(best["params"])


@pytest.mark.slow
def test_cli_background_job_is_listed_cancelled_and_survives_a_server_restart(ray_ws, capsys):
    import json

    from core.app import main

    base = ["--data-dir", str(ray_ws.data_dir)]
    assert main([*base, "train", "--table", "toy", "--target", "y", "--features", "x1,x2,seg",
                 "--model", "mlp", "--epochs", "300", "--batch-size", "32",
                 "--background"]) == 0
    started = json.loads(capsys.readouterr().out)
    job_id = started["job_id"]
    assert started["state"] == "queued" and started["engine"]["workers"] == 1

    def listed() -> dict:
        assert main([*base, "jobs"]) == 0
        jobs = json.loads(capsys.readouterr().out)["jobs"]
        return {j["job_id"]: j for j in jobs}[job_id]

    _wait_for(lambda: listed()["message"].startswith("Epoch"))  # its own process trains
    assert set(listed()) >= {"job_id", "kind", "state", "run_id", "message", "engine"}
    assert mark_interrupted(ray_ws) == 0  # a server starting now leaves the live job alone
    assert main([*base, "jobs", "cancel", job_id]) == 0
    assert json.loads(capsys.readouterr().out) == {"job_id": job_id, "state": "cancelled"}
    assert main([*base, "jobs", "cancel", "not-an-id"]) == 2


def test_a_recommender_job_runs_on_ray_and_the_server_registers_its_run(jobs, ray_ws):
    with connect(ray_ws) as con:
        make_cycle_events(con)  # 30 users walking the 8-item cycle, 10 events each
    cols, opts = EventColumns("clicks", "user_id", "item", "ts"), SequenceOptions(min_item=1,
                                                                                  min_user=3)
    cfg = RecModelConfig("gru4rec", epochs=3, embed_dim=16, window=8)
    job_id = jobs.submit(**recommend_job(ray_ws, cols, opts, cfg))
    job = jobs.wait(job_id, timeout=300)
    assert job.state == "done", job.message
    assert job.kind == "recommend" and job.epochs == 3 and job.can_keep
    assert job.pid is not None and job.pid != os.getpid()  # trained in a Ray worker
    assert job.engine["ray"] == "local"
    assert len(job.history) == 3 and all("val_ndcg@10" in h for h in job.history)
    registered = {r["run_id"]: r for r in _registered(ray_ws)}[job.run_id]
    assert (registered["table"], registered["target"], registered["model"],
            registered["task"]) == ("clicks", "item", "gru4rec", "next_item")
    run = load_rec_run(ray_ws, job.run_id)  # the worker's network, loaded by the server
    assert run.config.rows == {"users": 30, "items": 8, "events": 300, "train_events": 240,
                                "valid": 30, "test": 30}
    split = leave_last_out(run.sequences)
    fresh = summarize(rank_users(run.scorer(), split.test_histories, split.test_targets,
                                 run.exclude_seen))
    assert fresh == pytest.approx(run.metrics["metrics"])
    assert run.metrics["baselines"]["transitions"]["metrics"]["hit_rate@5"] == 1.0  # the cycle
    assert not _snapshots(ray_ws, job_id)


@dataclasses.dataclass
class _SaveThenDie:
    """Work that saves a run folder in its worker, then dies before returning (SIGKILL)."""

    settings: object
    table: str = "toy"
    remote: bool = True

    def __call__(self, progress, should_stop) -> str:
        run_id = new_run_id("logreg")
        config = {"created_at": "2026-12-03T12:00:00", "spec": {"table": "toy", "target": "y"},
                  "model": "logreg", "task": "binary"}
        write_run_folder(self.settings, run_id, config, {"metrics": {}}, lambda folder: None)
        progress({"message": f"saved {run_id}"})
        time.sleep(1.0)  # the test sees the folder before the process dies
        os.kill(os.getpid(), signal.SIGKILL)
        return run_id


def test_a_worker_killed_after_saving_leaves_no_unregistered_run(jobs, ray_ws):
    before = {p.name for p in ray_ws.runs_dir.iterdir()} if ray_ws.runs_dir.exists() else set()
    job_id = jobs.submit("train", "save then die", _SaveThenDie(ray_ws))
    _wait_for(lambda: list(ray_ws.runs_dir.glob("*/.pending")), timeout=60)  # saved, unregistered
    job = jobs.wait(job_id, timeout=60)
    assert job.state == "failed" and "worker process died" in job.message
    assert job.run_id is None
    after = {p.name for p in ray_ws.runs_dir.iterdir()}
    assert after == before  # the saved folder was removed with the job
    listed = {r["run_id"] for r in list_runs(ray_ws)}
    assert listed == {r["run_id"] for r in _registered(ray_ws)}


@dataclasses.dataclass
class _CountRows:
    """Work reading two tables in its worker; the server's ``commit`` adds what it returned."""

    settings: object
    tables: tuple = ("toy", "toy_b")
    remote: bool = True

    def __call__(self, progress, should_stop) -> dict:
        with connect(self.settings) as con:
            counts = [con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                      for t in self.tables]
        return {"counts": counts, "pid": os.getpid(), "snapshot": bool(self.settings.snapshot_dir)}

    def commit(self, settings, result: dict) -> dict:
        assert settings.snapshot_dir is None  # the server's own settings
        return {**result, "message": f"Counted {sum(result['counts'])} rows"}


@pytest.mark.parametrize("engine", ["ray", "thread"])
def test_work_with_several_tables_and_a_server_commit(ray_ws, engine):
    with connect(ray_ws) as con:
        con.execute("CREATE OR REPLACE TABLE toy_b AS SELECT * FROM toy LIMIT 120")
    manager = JobManager(ray_ws, engine=engine)
    try:
        job = manager.wait(manager.submit("count", "count rows", _CountRows(ray_ws)), 120)
    finally:
        manager.shutdown()
    assert job.state == "done", job.message
    assert job.result["counts"] == [ROWS, 120] and job.message == f"Counted {ROWS + 120} rows"
    assert job.result["snapshot"] is (engine == "ray")
    assert (job.result["pid"] != os.getpid()) is (engine == "ray")
    assert job.run_id is None


class _PruneAllButFirst:
    """A pruner that lets the first trial it hears of finish and prunes every other one at
    its second epoch (which trial Ray Tune starts first is not fixed)."""

    def __init__(self) -> None:
        self.first = None

    def epoch(self, key, epoch: int, val_loss: float) -> bool:
        self.first = self.first or key
        return key != self.first and epoch >= 2

    def finish(self, key, pruned: bool) -> None:
        return None


@pytest.mark.slow
def test_ray_tune_trials_pruned_mid_fit_are_recorded_and_reported(ray_ws, monkeypatch):
    from core.training import _tune_ray, tune

    monkeypatch.setattr(_tune_ray, "EpochPruner", _PruneAllButFirst)
    base = ModelConfig.of(model="mlp", hidden_units=(8,), epochs=6, batch_size=128,
                          early_stopping=False)
    events: list[dict] = []
    result = tune(ray_ws, SPEC, base, n_trials=3, timeout_s=300, parallel=2,
                  progress=events.append)
    tuning = result.config.extra["tuning"]
    assert len(tuning["trials"]) == 1 and len(tuning["pruned"]) == 2
    assert [p["epoch"] for p in tuning["pruned"]] == [2, 2]  # stopped at epoch 2 of 6
    assert all(0 < p["val_loss"] < 2 for p in tuning["pruned"])  # the loss it was pruned on
    assert tuning["best_params"] == tuning["trials"][0]["params"]
    trials = [e for e in events if e.get("stage") == "trial"]
    assert sorted(e["pruned_at"] or 0 for e in trials) == [0, 2, 2]
    assert "MedianPruner" in tuning["pruner"]


@pytest.mark.slow
def test_a_cancel_stops_parallel_tuning_while_trials_run(ray_ws):
    from core.training import TrainingCancelled, tune

    base = ModelConfig.of(model="mlp", hidden_units=(8,), epochs=400, batch_size=32,
                          early_stopping=False)
    seen: list[dict] = []
    before = {r["run_id"] for r in list_runs(ray_ws)}

    def stop() -> bool:  # the analyst cancels once trials report their epochs
        return len(seen) >= 4

    with pytest.raises(TrainingCancelled, match="cancelled"):
        tune(ray_ws, SPEC, base, n_trials=2, timeout_s=600, parallel=2, should_stop=stop,
             progress=seen.append)
    assert {r["run_id"] for r in list_runs(ray_ws)} == before


class _Deaf:
    """A remote job that never looks at its stop signal (one long library call, say)."""

    remote = True

    def __call__(self, progress, should_stop) -> dict:
        progress({"message": "busy"})
        time.sleep(300)
        return {"message": "not reached"}


def test_a_job_deaf_to_its_stop_signal_is_ended_and_said_cancelled_whatever_its_kind(jobs):
    # A cancelled scoring job read "Training cancelled; nothing was saved."
    from core.app._ray_jobs import CANCELLED_MESSAGE

    job_id = jobs.submit("score", "scoring, deaf to Cancel", _Deaf(), params={"n": 1})
    _wait_for(lambda: jobs.get(job_id).message == "busy")
    jobs.cancel(job_id)
    job = jobs.wait(job_id, timeout=60)
    assert (job.state, job.message) == ("cancelled", CANCELLED_MESSAGE)
    assert "Training" not in job.message
