"""SHAP for many rows and scoring a large table as jobs (issue 17): on Ray the worker computes in
its own process and the server commits (the SHAP cache, the output table with its lineage);
the values equal the synchronous path's; an output name that would replace a raw table is
refused before the job starts; a cancel leaves no table and no temporary file.

One local Ray instance (2 CPUs) serves the module; the data is a 3,000-row synthetic table
(``toy``: y follows a logistic rule of x1, x2 and seg) with a logistic-regression run.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd
import pytest

from core.app import AnalysisCancelled, JobManager, score_is_large, score_job, score_table, shap_job
from core.app import _analysis_work as analysis
from core.app._engine import ensure_engine, shutdown_engine
from core.config import load_settings
from core.explain import ExplainCancelled, explain_cost, explain_run, load_explanation
from core.runs import load_run
from core.specs import DatasetSpec, ModelConfig
from core.training import train
from core.warehouse import META_SCHEMA, OutputTableError, connect, read_table, table_exists

ROWS = 3000
SPEC = DatasetSpec("toy", "y", features=("x1", "x2", "seg"))


def _make_tables(settings) -> None:
    """``toy`` (3,000 rows) and ``big`` (200,000 rows, the same columns)."""
    with connect(settings) as con:
        con.execute("SELECT setseed(0.42)")
        con.execute("CREATE TABLE base AS SELECT sqrt(-2 * ln(random())) * cos(2 * pi() * "
                    "random()) AS x1, random() * 2 - 1 AS x2, CASE WHEN random() < 0.5 "
                    "THEN 'a' ELSE 'b' END AS seg, random() AS u FROM range(200000)")
        con.execute("CREATE TABLE big AS SELECT x1, x2, seg, CASE WHEN u < 1 / (1 + exp(-(2 * "
                    "x1 - x2 + CASE seg WHEN 'a' THEN 1 ELSE -1 END))) THEN 'yes' ELSE 'no' "
                    "END AS y FROM base")
        con.execute(f"CREATE TABLE toy AS SELECT * FROM big LIMIT {ROWS}")
        con.execute("DROP TABLE base")


@pytest.fixture(scope="module")
def ray_ws(tmp_path_factory):
    """A workspace with ``toy``, ``big``, a logreg run on ``toy`` and the module's local Ray
    instance (2 CPUs)."""
    os.environ["LIFTLAB_RAY_CPUS"] = "2"
    s = load_settings(tmp_path_factory.mktemp("analysis_ws"))
    _make_tables(s)
    run_id = train(s, SPEC, ModelConfig.of(model="logreg")).run_id
    assert ensure_engine() == "local"
    yield s, load_run(s, run_id)
    shutdown_engine()


@pytest.fixture
def jobs(ray_ws):
    manager = JobManager(ray_ws[0], engine="ray")
    yield manager
    manager.shutdown()


def _litter(settings) -> list[str]:
    """Temporary entries a job left: its snapshot, or a worker's score/SHAP folder."""
    tmp = settings.data_dir / "tmp"
    return sorted(p.name for p in tmp.iterdir() if p.name.startswith(("job-", "score-", "shap-"))
                  ) if tmp.is_dir() else []


def test_shap_job_on_ray_equals_the_synchronous_values_from_another_process(jobs, ray_ws):
    s, run = ray_ws
    job = jobs.wait(jobs.submit(**shap_job(s, run, 400)), timeout=180)
    assert job.state == "done", job.message
    assert job.result["pid"] != os.getpid() and job.engine["ray"] == "local"
    assert job.message == f"SHAP values for 400 rows saved ({job.result['explainer']})."
    cached = load_explanation(run)  # the server moved the worker's values into the cache
    reference = explain_run(run, 400)  # the synchronous path, same rows and seed
    assert cached.method == reference.method == "linear"
    np.testing.assert_array_equal(cached.row_ids, reference.row_ids)
    np.testing.assert_allclose(cached.values, reference.values, rtol=0, atol=1e-6)
    np.testing.assert_allclose(cached.encoded_values, reference.encoded_values, rtol=0,
                               atol=1e-6)
    assert cached.base_value == pytest.approx(reference.base_value, abs=1e-6)
    assert _litter(s) == []


def test_scoring_job_writes_the_synchronous_table_and_its_lineage(jobs, ray_ws):
    s, run = ray_ws
    sync = score_table(s, run, "toy", "toy_sync")
    kwargs = score_job(s, run, "toy", "Toy_Job", batch_rows=700)  # 5 batches
    job = jobs.wait(jobs.submit(**kwargs), timeout=180)
    assert job.state == "done", job.message
    assert job.result["pid"] != os.getpid()
    assert job.message == "Wrote 3,000 scored rows to table 'Toy_Job'."
    assert job.result["table"] == "Toy_Job" and job.result["rows"] == sync["rows"] == ROWS
    with connect(s) as con:
        a, b = read_table(con, "toy_sync"), read_table(con, "Toy_Job")
        lineage = con.execute(f"SELECT origin, derived_from, source, rows FROM {META_SCHEMA}"
                              f".catalog WHERE table_name = 'Toy_Job'").fetchall()
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=0, atol=1e-12)
    assert list(b.columns) == ["x1", "x2", "seg", "y", "score", "predicted_positive"]
    assert lineage == [("derived", "toy", f"scored by run {run.run_id} from toy", ROWS)]
    assert _litter(s) == []


def test_monitoring_job_stores_the_synchronous_result_from_another_process(jobs, ray_ws):
    from core.app import monitor_job
    from core.monitor import Chunking, cli_view, load_monitor, monitor

    s, run = ray_ws
    kwargs = monitor_job(s, run, "BIG", Chunking(n_chunks=4))  # names without case
    assert kwargs["work"].tables == ("big", "toy")  # the new rows and the run's own table
    job = jobs.wait(jobs.submit(**kwargs), timeout=300)
    assert job.state == "done", job.message
    assert job.result["pid"] != os.getpid() and job.engine["ray"] == "local"
    stored = load_monitor(s, job.result["monitor_id"])  # saved by the server
    reference = monitor(s, run, "big", Chunking(n_chunks=4), save=False)  # in this process
    ours, theirs = cli_view(stored), cli_view(reference)
    ours.pop("monitor_id"), theirs.pop("monitor_id")
    assert ours == theirs
    assert job.result["dataset_drift"] is stored["dataset_drift"]
    assert job.message == (f"Monitored run {run.run_id} on 'big': "
                           f"{'dataset drift' if stored['dataset_drift'] else 'no dataset drift'}"
                           f", {len(stored['alerts'])} alert(s) (result "
                           f"{job.result['monitor_id']}).")
    assert _litter(s) == []


def test_an_output_name_of_a_raw_table_is_refused_before_the_job_starts(jobs, ray_ws):
    s, run = ray_ws
    with pytest.raises(OutputTableError, match="'big' is a raw table; LiftLab never replaces "
                                               "raw data with a scored table"):
        score_job(s, run, "toy", "BIG")  # names compared without case
    with pytest.raises(OutputTableError, match="would replace 'toy', which it is computed from"):
        score_job(s, run, "toy", "TOY")
    assert jobs.list() == []


def test_cancel_leaves_no_output_table_and_no_temporary_file(jobs, ray_ws):
    s, run = ray_ws
    job_id = jobs.submit(**score_job(s, run, "big", "big_cancelled", batch_rows=100))
    deadline = time.monotonic() + 120
    while not (jobs.get(job_id).message or "").startswith("Scoring rows"):
        assert time.monotonic() < deadline, jobs.get(job_id).message
        time.sleep(0.05)
    jobs.cancel(job_id)
    job = jobs.wait(job_id, timeout=60)
    assert job.state == "cancelled", job.message
    with connect(s) as con:
        assert not table_exists(con, "big_cancelled")
    assert _litter(s) == []


def test_a_cancelled_worker_removes_its_file_before_the_next_batch(ray_ws):
    s, run = ray_ws
    work = score_job(s, run, "toy", "toy_stop", batch_rows=500)["work"]
    events = []
    with pytest.raises(AnalysisCancelled, match="no table was written"):
        work(events.append, lambda: len(events) >= 2)
    assert [e["message"] for e in events] == ["Scoring rows 500/3,000", "Scoring rows 1,000/3,000"]
    assert [(e["step"], e["steps"]) for e in events] == [(500, 3000), (1000, 3000)]
    assert _litter(s) == []
    with connect(s) as con:
        assert not table_exists(con, "toy_stop")


def test_a_cancelled_shap_work_saves_nothing(ray_ws):
    s, run = ray_ws
    before = load_explanation(run)
    work = shap_job(s, run, 200, method="permutation")["work"]  # 50 rows per chunk
    events = []
    with pytest.raises(ExplainCancelled):
        work(events.append, lambda: len(events) >= 1)
    assert events[0]["message"].startswith("SHAP: rows 50/200 (")
    assert (events[0]["step"], events[0]["steps"]) == (50, 200)  # the bar's share, not text
    after = load_explanation(run)
    assert (before is None) == (after is None)
    if before is not None:
        np.testing.assert_array_equal(before.values, after.values)
    assert _litter(s) == []


def test_large_is_decided_by_the_cost_estimate(ray_ws, monkeypatch):
    _, run = ray_ws
    assert not score_is_large(100_000) and score_is_large(100_001)
    cost = explain_cost(run, 400)
    assert cost.method == "linear" and cost.rows == 400
    assert cost.evaluations == 400 * 100 and cost.seconds > 0  # 100 background rows a row
    monkeypatch.setattr(analysis, "SHAP_JOB_SECONDS", cost.seconds / 2)
    assert analysis.shap_is_large(cost)
    monkeypatch.setattr(analysis, "SHAP_JOB_SECONDS", cost.seconds * 2)
    assert not analysis.shap_is_large(cost)


def test_the_speed_is_measured_on_the_explainer_s_batch_for_one_row(ray_ws, monkeypatch):
    # Speed measured on 512 rows made Kernel SHAP's estimate ~40x too long for a network (its
    # per-call overhead paid 20 times where Kernel SHAP pays it once per explained row).
    from core.explain._explainers import SPEED_ROWS, Output

    _, run = ray_ws
    batches: list[int] = []
    scorer = Output.scorer

    def recording(self, model):
        score = scorer(self, model)
        return lambda x: (batches.append(len(x)), score(x))[1]

    monkeypatch.setattr(Output, "scorer", recording)
    kernel = explain_cost(run, 10, method="kernel")
    linear = explain_cost(run, 10)
    assert kernel.evaluations == 10 * (2 * 3 + 512) * 20  # 3 columns, 20 k-means centres
    # Kernel and permutation SHAP score one row's evaluations per call; LinearExplainer the
    # chunk's 10 rows x 100 background rows at once
    assert batches == [(2 * 3 + 512) * 20, 10 * 100]
    assert linear.evaluations == 10 * 100
    assert explain_cost(run, 10, method="permutation").evaluations == 10 * 7 * 100
    assert batches[-1] == 7 * 100
    explain_cost(run, 1)  # never fewer than SPEED_ROWS rows timed
    assert batches[-1] == SPEED_ROWS


def test_a_time_budget_under_the_threshold_keeps_shap_on_the_page():
    from core.explain import ExplainCost

    cost = ExplainCost("kernel", 800, 800 * 2048, 6427.0, 1024)  # a pessimistic estimate
    assert analysis.shap_is_large(cost, budget_s=120.0)  # the page would wait 120 s
    assert not analysis.shap_is_large(cost, budget_s=5.0)  # the budget stops it within 5 s


def test_cli_score_background_commits_the_same_table_from_its_own_process(ray_ws, capsys):
    import json

    from core.app import main, recent_jobs

    s, run = ray_ws
    base = ["--data-dir", str(s.data_dir)]
    assert main([*base, "score", run.run_id, "--table", "toy", "--out", "Big",
                 "--background"]) == 2  # refused before a process starts
    assert "'big' is a raw table" in capsys.readouterr().err
    assert main([*base, "score", run.run_id, "--table", "toy", "--out", "toy_bg",
                 "--background"]) == 0
    started = json.loads(capsys.readouterr().out)
    assert started["state"] == "queued" and started["table"] == "toy_bg"
    deadline = time.monotonic() + 120
    while (row := {j["job_id"]: j for j in recent_jobs(s)}[started["job_id"]])["state"] in (
            "queued", "running"):
        assert time.monotonic() < deadline, row
        time.sleep(0.2)
    assert row["state"] == "done" and row["kind"] == "score", row
    assert row["message"] == "Wrote 3,000 scored rows to table 'toy_bg'."
    assert not any("into Big" in (j["label"] or "") for j in recent_jobs(s, limit=100))
    score_table(s, run, "toy", "toy_cli_sync")
    with connect(s) as con:
        pd.testing.assert_frame_equal(read_table(con, "toy_cli_sync"), read_table(con, "toy_bg"),
                                      check_exact=False, rtol=0, atol=1e-12)
        lineage = con.execute(f"SELECT derived_from FROM {META_SCHEMA}.catalog WHERE "
                              f"table_name = 'toy_bg'").fetchall()
    assert lineage == [("toy",)]
