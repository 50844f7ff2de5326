"""Background jobs: shutdown stops the running job, so the server process can exit."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

from core.app import JobManager, recent_jobs
from core.app._jobs import SHUTDOWN_MESSAGE
from tests.conftest import ROOT


def _slow_work(started):
    """A job that runs until asked to stop, checking like a Keras batch loop does."""
    from core.training import TrainingCancelled

    def work(progress, should_stop):
        started.append(time.monotonic())
        for _ in range(6000):  # at most 60 s
            if should_stop():
                raise TrainingCancelled("Training cancelled; nothing was saved.")
            time.sleep(0.01)
        return "never"

    return work


def test_shutdown_interrupts_the_running_and_the_queued_jobs(settings):
    jobs = JobManager(settings)
    started: list[float] = []
    running = jobs.submit("train", "slow", _slow_work(started))
    queued = jobs.submit("train", "behind it", _slow_work(started))
    while not started:
        time.sleep(0.01)
    t = time.monotonic()
    jobs.shutdown()
    assert time.monotonic() - t < 5
    assert len(started) == 1  # the queued job never ran
    for job_id in (running, queued):
        job = jobs.get(job_id)
        assert job.state == "interrupted" and job.message == SHUTDOWN_MESSAGE
    recorded = {j["job_id"]: (j["state"], j["label"]) for j in recent_jobs(settings)}
    assert recorded == {running: ("interrupted", "slow"), queued: ("interrupted", "behind it")}
    late = jobs.submit("train", "after", _slow_work(started))
    assert jobs.get(late).state == "interrupted" and len(started) == 1
    jobs.shutdown()  # idempotent


def test_process_exits_while_a_job_runs(tmp_path):
    # A ThreadPoolExecutor worker is joined at interpreter exit, so a server with a running
    # training job did not stop on Ctrl+C or SIGTERM until the training ended.
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from core.config import load_settings
        from core.app import JobManager
        from tests.core.app.test_jobs import _slow_work
        jobs = JobManager(load_settings({str(tmp_path / "ws")!r}))
        started = []
        jobs.submit("train", "slow", _slow_work(started))
        while not started:
            time.sleep(0.01)
        print("running", flush=True)
    """)
    t = time.monotonic()
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=50, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "running"
    assert time.monotonic() - t < 30  # start-up included; the job alone would run 60 s
    from core.config import load_settings

    assert [j["state"] for j in recent_jobs(load_settings(tmp_path / "ws"))] == ["interrupted"]
