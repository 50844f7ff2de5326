"""The leaderboard, a challenger's retrain and a compression as Ray jobs: each runs in a worker
process on the server's snapshot, gives the results the thread engine gives on the same data
and seed, is registered by the server, and a cancel leaves no run folder and nothing
registered.

One local Ray instance (2 CPUs) serves the module; the data is a 1,200-row synthetic table
whose label follows a known logistic rule (as in ``test_engine.py``), and a second draw of it
as new labelled rows.
"""

from __future__ import annotations

import json
import os
import time

import pytest

from core.app import JobManager, compress_job, leaderboard_job, retrain_job
from core.app._engine import ensure_engine, shutdown_engine
from core.compress import compress_run
from core.config import load_settings
from core.leaderboard import load_leaderboard
from core.monitor import list_models, promote
from core.runs import StopSignal, load_run
from core.specs import DatasetSpec, ModelConfig
from core.training import train
from core.warehouse import META_SCHEMA, connect

ROWS = 1200
SPEC = DatasetSpec("toy", "y", features=("x1", "x2", "seg"))


def _draw(con, name: str, seed: float, rows: int) -> None:
    """``name``: x1 ~ N(0, 1), x2 ~ U(-1, 1), seg in {a, b}; P(y = yes) = σ(2·x1 − x2 ± 1)."""
    con.execute(f"SELECT setseed({seed})")
    con.execute(f"CREATE TABLE base AS SELECT sqrt(-2 * ln(random())) * cos(2 * pi() * "
                f"random()) AS x1, random() * 2 - 1 AS x2, CASE WHEN random() < 0.5 "
                f"THEN 'a' ELSE 'b' END AS seg, random() AS u FROM range({rows})")
    con.execute(f"CREATE TABLE {name} AS SELECT x1, x2, seg, CASE WHEN u < 1 / (1 + exp(-(2 * "
                f"x1 - x2 + CASE seg WHEN 'a' THEN 1 ELSE -1 END))) THEN 'yes' ELSE 'no' "
                f"END AS y FROM base")
    con.execute("DROP TABLE base")


@pytest.fixture(scope="module")
def ray_ws(tmp_path_factory):
    """A workspace with ``toy`` (1,200 rows), ``toy_new`` (600 new rows) and ``toy_small``
    (200 rows), and the module's local Ray instance (2 CPUs)."""
    os.environ["LIFTLAB_RAY_CPUS"] = "2"
    s = load_settings(tmp_path_factory.mktemp("more_jobs"))
    with connect(s) as con:
        _draw(con, "toy", 0.42, ROWS)
        _draw(con, "toy_new", 0.17, 600)
        _draw(con, "toy_small", 0.29, 200)
    assert ensure_engine() == "local"
    yield s
    shutdown_engine()


def _run_job(settings, engine: str, kwargs: dict, timeout: float = 300):
    manager = JobManager(settings, engine=engine)
    try:
        return manager.wait(manager.submit(**kwargs), timeout)
    finally:
        manager.shutdown()


def _registered(settings) -> dict[str, dict]:
    with connect(settings) as con:
        rows = con.execute(f"SELECT run_id, table_name, model, metrics_json "
                           f"FROM {META_SCHEMA}.runs").fetchall()
    return {r[0]: {"table": r[1], "model": r[2], "metrics": json.loads(r[3])} for r in rows}


def _folders(settings) -> set[str]:
    return {p.name for p in settings.runs_dir.iterdir()} if settings.runs_dir.exists() else set()


def _in_worker(job) -> None:
    assert job.state == "done", job.message
    assert job.engine["ray"] == "local"
    assert job.pid is not None and job.pid != os.getpid()
    assert job.result["worker_pid"] == job.pid


def _cancel_when(settings, kwargs: dict, ready) -> None:
    """Start a Ray job, cancel it once ``ready(job)``; nothing may be left of it."""
    folders, registered = _folders(settings), set(_registered(settings))
    manager = JobManager(settings, engine="ray")
    try:
        job_id = manager.submit(**kwargs)
        deadline = time.monotonic() + 180
        while not ready(manager.get(job_id)):
            assert manager.get(job_id).state in ("queued", "running"), manager.get(job_id)
            assert time.monotonic() < deadline, "timed out"
            time.sleep(0.05)
        manager.cancel(job_id)
        job = manager.wait(job_id, 60)
    finally:
        manager.shutdown()
    assert job.state == "cancelled", job.message
    assert job.pid is not None and job.pid != os.getpid()
    assert job.run_id is None and job.result == {}
    assert _folders(settings) == folders  # no folder, hidden or pending
    assert set(_registered(settings)) == registered
    tmp = settings.data_dir / "tmp"
    assert not [p for p in tmp.iterdir() if p.name.startswith(f"job-{job_id}-")]


def test_leaderboard_on_ray_equals_the_thread_engine_and_the_server_registers_it(ray_ws):
    kwargs = leaderboard_job(ray_ws, SPEC, ("logreg", "hgb"), n_boot=50)
    ray_job = _run_job(ray_ws, "ray", kwargs)
    _in_worker(ray_job)
    thread_job = _run_job(ray_ws, "thread", leaderboard_job(ray_ws, SPEC, ("logreg", "hgb"),
                                                            n_boot=50))
    assert thread_job.state == "done" and thread_job.pid is None
    assert (ray_job.step, ray_job.steps) == (2, 2)  # one step per family
    boards = [load_leaderboard(ray_ws, j.result["board_id"]) for j in (ray_job, thread_job)]
    strip = ("run_id", "seconds")
    assert [{k: v for k, v in m.items() if k not in strip} for m in boards[0].models] == \
        [{k: v for k, v in m.items() if k not in strip} for m in boards[1].models]
    assert boards[0].models[0]["roc_auc"] > 0.75
    registered = _registered(ray_ws)
    for m in boards[0].models:
        assert registered[m["run_id"]]["model"] == m["model"]
        assert registered[m["run_id"]]["metrics"]["roc_auc"] == m["roc_auc"]
        assert not (ray_ws.runs_dir / m["run_id"] / ".pending").exists()
    assert ray_job.run_id == boards[0].models[0]["run_id"]
    assert ray_job.result["run_ids"] == [m["run_id"] for m in boards[0].models]


def test_a_cancelled_leaderboard_on_ray_keeps_nothing(ray_ws):
    kwargs = leaderboard_job(ray_ws, SPEC, ("logreg", "mlp"), epochs=400)
    boards = set((ray_ws.data_dir / "leaderboards").glob("*"))
    _cancel_when(ray_ws, kwargs, lambda job: job.step == 2)  # logreg saved, mlp fitting
    assert set((ray_ws.data_dir / "leaderboards").glob("*")) == boards


@pytest.fixture(scope="module")
def champion(ray_ws):
    """A logistic regression on ``toy``, version 1 of the model name ``toy_model``."""
    run_id = train(ray_ws, SPEC, ModelConfig.of(model="logreg")).run_id
    promote(ray_ws, "toy_model", run_id, "first model")
    return run_id


def _window(settings, table: str) -> list[tuple]:
    with connect(settings) as con:
        return con.execute(f"SELECT * FROM {table}").fetchall()


def test_retrain_on_ray_equals_the_thread_engine_and_the_server_records_it(ray_ws, champion):
    ray_job = _run_job(ray_ws, "ray", retrain_job(ray_ws, champion, "toy_new", True))
    _in_worker(ray_job)
    thread_job = _run_job(ray_ws, "thread", retrain_job(ray_ws, champion, "toy_new", True))
    assert thread_job.state == "done", thread_job.message
    runs = [load_run(ray_ws, j.run_id) for j in (ray_job, thread_job)]
    assert runs[0].metrics["metrics"] == runs[1].metrics["metrics"]
    assert runs[0].features == runs[1].features == ["x1", "x2", "seg"]
    window = ray_job.result["table"]  # written by the server from the worker's Parquet file
    assert window.startswith("toy_new_plus_toy_") and window == runs[0].config.table
    rows = _window(ray_ws, window)
    assert len(rows) == ROWS + 600 == runs[0].config.rows["table"]
    assert rows == _window(ray_ws, thread_job.result["table"])
    assert ray_job.result["models"] == {"toy_model": 2}
    assert thread_job.result["models"] == {"toy_model": 3}
    versions = {v["run_id"]: v["version"] for v in list_models(ray_ws)[0]["versions"]}
    assert versions == {champion: 1, ray_job.run_id: 2, thread_job.run_id: 3}
    with connect(ray_ws) as con:
        lineage = con.execute(f"SELECT parent_run, table_name FROM {META_SCHEMA}.lineage "
                              f"WHERE run_id = ?", [ray_job.run_id]).fetchone()
    assert lineage == (champion, window)
    assert _registered(ray_ws)[ray_job.run_id]["table"] == window
    assert not (ray_ws.runs_dir / ray_job.run_id / ".pending").exists()


def test_a_cancelled_retrain_on_ray_keeps_nothing(ray_ws):
    cfg = ModelConfig.of(model="mlp", hidden_units=(8,), epochs=300, batch_size=200,
                         early_stopping=False)
    stop = StopSignal()  # a champion planned for 300 epochs, stopped (and kept) after one
    small = train(ray_ws, DatasetSpec("toy_small", "y", features=("x1", "x2", "seg")), cfg,
                  lambda e: stop.keep_best() if e.get("stage") == "epoch" else None,
                  stop).run_id
    assert load_run(ray_ws, small).config.model_config.fit.epochs == 300
    with connect(ray_ws) as con:
        tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
    kwargs = retrain_job(ray_ws, small, "toy", True)
    assert kwargs["epochs"] == 300
    _cancel_when(ray_ws, kwargs, lambda job: job.epoch >= 1)
    with connect(ray_ws) as con:  # no window table, no lineage, no version
        assert {r[0] for r in con.execute("SHOW TABLES").fetchall()} == tables
        known = con.execute("SELECT count(*) FROM information_schema.tables WHERE "
                            "table_schema = ? AND table_name = 'lineage'", [META_SCHEMA])
        if known.fetchone()[0]:  # made by the other retrain test, when it ran first
            assert con.execute(f"SELECT count(*) FROM {META_SCHEMA}.lineage WHERE "
                               f"parent_run = ?", [small]).fetchone()[0] == 0


@pytest.fixture(scope="module")
def parent(ray_ws):
    cfg = ModelConfig.of(model="mlp", hidden_units=(16,), epochs=3, batch_size=64)
    return train(ray_ws, SPEC, cfg).run_id


def test_compression_on_ray_equals_the_synchronous_function(ray_ws, parent):
    ray_job = _run_job(ray_ws, "ray", compress_job(ray_ws, parent, "int8"))
    _in_worker(ray_job)
    assert (ray_job.step, ray_job.steps) == (5, 5)
    thread_job = _run_job(ray_ws, "thread", compress_job(ray_ws, parent, "int8"))
    direct = compress_run(ray_ws, parent, "int8")
    assert ray_job.result["metrics"] == thread_job.result["metrics"] == direct["metrics"]
    assert ray_job.result["weights_bytes"] == direct["weights_bytes"]
    child = load_run(ray_ws, ray_job.run_id)
    assert child.config.extra["parent"] == parent
    assert child.metrics["metrics"] == load_run(ray_ws, direct["run_id"]).metrics["metrics"]
    assert _registered(ray_ws)[ray_job.run_id]["metrics"] == child.metrics["metrics"]
    assert not (ray_ws.runs_dir / ray_job.run_id / ".pending").exists()


def test_a_cancelled_compression_on_ray_keeps_nothing(ray_ws, parent):
    kwargs = compress_job(ray_ws, parent, "prune", sparsity=0.5)
    _cancel_when(ray_ws, kwargs, lambda job: job.pid is not None)


def test_a_commit_that_fails_keeps_none_of_the_runs(settings, monkeypatch):
    """The thread engine (the runs are registered as they train): the leaderboard's file cannot
    be written, so the transaction rolls back and both families' runs are removed."""
    import core.app._more_work as more_work

    def refuse(settings, board):
        raise OSError("disk full")

    with connect(settings) as con:
        _draw(con, "toy", 0.42, 400)
    monkeypatch.setattr(more_work, "save_leaderboard", refuse)
    job = _run_job(settings, "thread", leaderboard_job(settings, SPEC, ("logreg", "hgb"),
                                                       n_boot=20))
    assert job.state == "failed" and job.run_id is None
    assert "could not be registered" in job.message and "disk full" in job.message
    assert _folders(settings) == set() and _registered(settings) == {}
