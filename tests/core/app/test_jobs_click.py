"""Jobs that survive a click (issue 13): one click one job, a reloaded page finds its job and
settings, "stop and keep the best so far" saves the best epoch (Keras and the recommender), and
the time left comes from measured epochs, not from the time spent loading."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from sklearn.metrics import log_loss

from core.app import JobManager, training_params
from core.runs import StopSignal, load_run
from core.specs import DatasetSpec, ModelConfig
from core.training import train

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


def _blocking(release: threading.Event, started: list):
    def work(progress, should_stop):
        started.append(1)
        while not release.wait(0.01):
            if should_stop():
                from core.training import TrainingCancelled

                raise TrainingCancelled("cancelled")
        return "run-x"

    return work


def test_a_double_click_queues_one_job(settings):
    jobs = JobManager(settings)
    release, started = threading.Event(), []
    spec, cfg = DatasetSpec("t", "y", features=("a",)), ModelConfig.of(model="logreg")
    params = training_params(spec, cfg)
    first = jobs.submit("train", "logreg on t", _blocking(release, started), params=params)
    second = jobs.submit("train", "logreg on t", _blocking(release, started), params=params)
    assert second == first  # the copy was never queued
    assert jobs.find("train", params).job_id == first
    other = training_params(spec, cfg.replace(model="hgb"))
    assert jobs.find("train", other) is None
    third = jobs.submit("train", "hgb on t", _blocking(release, started), params=other)
    assert third != first
    assert jobs.active("train").params == params or jobs.active("train").params == other
    release.set()
    assert jobs.wait(first).state == "done" and jobs.wait(third).state == "done"
    assert jobs.find("train", params) is None  # finished: the button is enabled again
    assert jobs.submit("train", "again", _blocking(release, started), params=params) != first
    jobs.shutdown()


class FakeClock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def test_time_left_comes_from_measured_epochs(settings):
    # 946 s were shown at epoch 1 of a 149 s run: the estimate divided the time since the job
    # started (loading and the first epoch's graph tracing included) by the epochs done.
    clock, ready, release = FakeClock(), threading.Event(), threading.Event()

    def work(progress, should_stop):
        clock.t += 120.0  # reading and encoding the table
        progress({"stage": "fit", "message": "Training"})
        for epoch, seconds, loss in ((1, 9.0, 0.50), (2, 3.0, 0.40), (3, 3.2, 0.45),
                                     (4, 2.8, 0.47)):
            clock.t += seconds
            progress({"stage": "epoch", "epoch": epoch, "epochs": 60,
                      "logs": {"loss": loss, "val_loss": loss}})
        ready.set()
        release.wait(10)
        return "run-x"

    jobs = JobManager(settings, clock=clock)
    job_id = jobs.submit("train", "mlp", work, epochs=60, patience=5)
    assert ready.wait(10)
    job = jobs.get(job_id)
    assert job.epoch_seconds == pytest.approx([9.0, 3.0, 3.2, 2.8])
    assert job.seconds_per_epoch() == pytest.approx(3.0)  # the first epoch also traced
    # best epoch 2, two epochs without improvement since: early stopping (patience 5) ends it
    # after 3 more at the soonest, after all 56 left at the latest
    assert job.epochs_left() == (3, 56)
    assert job.eta_range() == pytest.approx((9.0, 168.0))
    old_way = (clock.t - job.started_at) / job.epoch * (job.epochs - job.epoch)
    assert old_way > 5 * job.eta_seconds()
    release.set()
    jobs.wait(job_id)
    jobs.shutdown()


def test_stop_and_keep_saves_the_best_epoch(bank_ws):
    s, _ = bank_ws
    stop = StopSignal()

    def progress(event):
        if event.get("stage") == "epoch" and event["epoch"] == 4:
            stop.keep_best()

    cfg = ModelConfig.of(model="mlp", hidden_units=(16,), epochs=40, batch_size=256,
                         learning_rate=0.01)
    r = train(s, DatasetSpec("bank", "y", exclude=("duration",)), cfg, progress, stop)
    run = load_run(s, r.run_id)
    history = run.history
    assert len(history) == 4
    best = int(np.argmin([h["val_loss"] for h in history]))
    note = [n for n in r.metrics["notes"] if n.startswith("Stopped by the analyst")]
    assert note == [f"Stopped by the analyst after epoch 4 of at most 40; the weights of epoch "
                    f"{best + 1} (best validation loss {history[best]['val_loss']:.4f}) were "
                    f"kept and evaluated."]
    v = run.valid_scores  # the saved model's validation scores are the best epoch's
    assert log_loss(v["__label"], v["__score"]) == pytest.approx(history[best]["val_loss"],
                                                                  abs=2e-3)


def test_cancel_saves_nothing_and_keep_finishes_the_epoch(bank_ws):
    from core.runs import list_runs
    from core.training import TrainingCancelled

    s, _ = bank_ws
    before = len(list_runs(s))
    spec = DatasetSpec("bank", "y", exclude=("duration",))
    cfg = ModelConfig.of(model="mlp", hidden_units=(8,), epochs=5)
    stop = StopSignal()
    with pytest.raises(TrainingCancelled):
        train(s, spec, cfg, lambda e: e.get("stage") == "fit" and stop.cancel(), stop)
    assert len(list_runs(s)) == before
    stop = StopSignal()  # asked during the first epoch: that epoch finishes, then it stops
    r = train(s, spec, cfg, lambda e: e.get("stage") == "fit" and stop.keep_best(), stop)
    assert r.config.epochs_run == 1
    assert any(n.startswith("Stopped by the analyst after epoch 1 of at most 5; the weights "
                            "of epoch 1") for n in r.metrics["notes"])


def test_job_manager_stop_and_keep_ends_done_with_the_run(bank_ws):
    s, _ = bank_ws
    jobs = JobManager(s)
    cfg = ModelConfig.of(model="mlp", hidden_units=(8,), epochs=200, batch_size=512)
    job_id = jobs.submit_training(DatasetSpec("bank", "y", exclude=("duration",)), cfg, cv=2)
    job = jobs.get(job_id)
    assert job.can_keep and job.patience == cfg.fit.patience
    while jobs.get(job_id).epoch < 2:
        assert jobs.get(job_id).state in ("queued", "running")
        threading.Event().wait(0.05)
    jobs.stop_and_keep(job_id)
    job = jobs.wait(job_id, timeout=300)
    assert job.state == "done" and "best epoch so far was kept" in job.message
    run = load_run(s, job.run_id)
    assert 2 <= run.config.epochs_run < 200
    assert run.metrics["cv"] is None  # the folds were skipped, not half-run
    jobs.shutdown()


def test_recommender_stop_and_keep(rec_ws):
    from core.recommend import (
        EventColumns,
        RecModelConfig,
        SequenceOptions,
        load_rec_run,
        train_recommender,
    )

    s, _ = rec_ws
    stop = StopSignal()

    def progress(event):
        if event.get("stage") == "epoch" and event["epoch"] == 2:
            stop.keep_best()

    r = train_recommender(s, EventColumns("clicks", "user_id", "item", "ts"),
                          SequenceOptions(min_item=1, min_user=3),
                          RecModelConfig("gru4rec", epochs=30, embed_dim=16, window=8),
                          progress, stop, n_boot=20)
    run = load_rec_run(s, r.run_id)
    assert run.config.epochs_run == 2
    assert r.metrics["notes"][0].startswith("Stopped by the analyst after epoch 2 of at most 30;")
    assert "best validation ndcg@10" in r.metrics["notes"][0]


def test_epoch_times_come_from_the_workers_stamps_not_the_servers_polling(settings):
    # a Ray worker's events reach the server up to 0.25 s late and in bunches; each carries
    # the worker's own time stamp ("at"), which the job's epoch times use
    clock, ready, release = FakeClock(), threading.Event(), threading.Event()

    def work(progress, should_stop):
        progress({"stage": "fit", "message": "Training", "at": 5000.0})
        for epoch, at in ((1, 5002.5), (2, 5003.75), (3, 5005.0)):
            progress({"stage": "epoch", "epoch": epoch, "epochs": 10, "at": at,
                      "logs": {"loss": 0.5, "val_loss": 0.5}})  # all arrive at one clock time
        ready.set()
        release.wait(10)
        return "run-x"

    jobs = JobManager(settings, clock=clock)
    job_id = jobs.submit("train", "mlp", work, epochs=10)
    assert ready.wait(10)
    assert jobs.get(job_id).epoch_seconds == pytest.approx([2.5, 1.25, 1.25])
    release.set()
    jobs.wait(job_id)
    jobs.shutdown()


def test_other_processes_see_a_running_jobs_latest_message(settings):
    # `python -m core jobs` read "Starting" for a job at family 4 of 7: progress reached the
    # warehouse only with a state change
    from core.app import recent_jobs

    ready, release = threading.Event(), threading.Event()

    def work(progress, should_stop):
        progress({"message": "Family 4 of 7: hgb"})
        ready.set()
        release.wait(10)
        return "run-x"

    jobs = JobManager(settings)
    job_id = jobs.submit("leaderboard", "every family", work)
    assert ready.wait(10)
    row = {j["job_id"]: j for j in recent_jobs(settings)}[job_id]
    assert row["state"] == "running" and row["message"] == "Family 4 of 7: hgb"
    release.set()
    jobs.wait(job_id)
    jobs.shutdown()
