"""Background jobs for long work (training), with progress, cancel and restart recovery.

One :class:`JobManager` per server process runs jobs one at a time on a worker thread (Keras
keeps global state, so two fits in one process must not interleave); a second job waits in the
queue and both finish. Each job's state is mirrored into ``liftlab.jobs`` so that a job that was
running when the server died shows as *interrupted* after the next start.

The worker is a daemon thread and the manager stops its jobs when the interpreter exits
(:func:`atexit`): the running job is asked to stop at its next batch and recorded as
*interrupted*, so Ctrl+C or ``SIGTERM`` ends the server in seconds instead of waiting for the
training to finish (a ``ThreadPoolExecutor`` worker is joined at exit).
"""

from __future__ import annotations

import atexit
import copy
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from core.app._workflows import train_workflow
from core.config import Settings
from core.errors import AppError
from core.specs import DatasetSpec, ModelConfig
from core.warehouse import META_SCHEMA, connect

log = logging.getLogger(__name__)

ACTIVE_STATES = ("queued", "running")
SHUTDOWN_MESSAGE = "The server stopped while this job ran; start it again."
Work = Callable[[Callable[[dict], None], Callable[[], bool]], str]


@dataclass
class JobState:
    """A job as the UI sees it (a copy; mutate nothing).

    Attributes:
        job_id: Unique id.
        kind: ``"train"`` or ``"recommend"``.
        label: What is being done, e.g. ``"mlp on bank (target y)"``.
        state: queued, running, done, failed, cancelled or interrupted.
        message: Latest progress or error message.
        epoch: Last finished epoch (0 before the first).
        epochs: Planned epochs (0 when not epoch-based).
        history: One dict of Keras logs per finished epoch.
        run_id: The saved run when done.
        started_at: ``time.time()`` when it began running.
        finished_at: ``time.time()`` when it ended.
    """

    job_id: str
    kind: str
    label: str
    state: str = "queued"
    message: str = "Waiting for the worker"
    epoch: int = 0
    epochs: int = 0
    history: list[dict] = field(default_factory=list)
    run_id: str | None = None
    started_at: float | None = None
    finished_at: float | None = None

    def eta_seconds(self) -> float | None:
        """Estimated seconds left from the mean epoch time, or None when unknown."""
        if self.state != "running" or not self.epoch or not self.epochs or not self.started_at:
            return None
        per_epoch = (time.time() - self.started_at) / self.epoch
        return per_epoch * max(self.epochs - self.epoch, 0)


class JobManager:
    """Run training jobs in the background and report their progress.

    Args:
        settings: Workspace settings (jobs are mirrored into its warehouse).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._jobs: dict[str, JobState] = {}
        self._cancel: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue = queue.Queue()
        self._closing = threading.Event()
        self._worker = threading.Thread(target=self._serve, name="liftlab-job", daemon=True)
        self._worker.start()
        atexit.register(self.shutdown)

    def submit_training(self, spec: DatasetSpec, cfg: ModelConfig, cv: int = 0,
                        tune_trials: int = 0, tune_timeout_s: float = 300.0) -> str:
        """Queue a training job.

        Args:
            spec: Dataset specification.
            cfg: Model configuration.
            cv: Also run k-fold cross-validation and store it in the run (0 = no).
            tune_trials: Search hyper-parameters with this many Optuna trials first (0 = no).
            tune_timeout_s: Time budget of the search, in seconds.

        Returns:
            The job id.
        """
        def work(progress, should_stop) -> str:
            result, _ = train_workflow(self.settings, spec, cfg, cv=cv, tune_trials=tune_trials,
                                       tune_timeout_s=tune_timeout_s, progress=progress,
                                       should_stop=should_stop)
            return result.run_id

        extra = (f", {tune_trials} tuning trials" if tune_trials else "") + \
            (f", {cv}-fold CV" if cv else "")
        return self.submit("train", f"{cfg.model} on {spec.table} (target {spec.target}{extra})",
                           work, epochs=cfg.fit.epochs if cfg.is_keras and not tune_trials else 0)

    def submit(self, kind: str, label: str, work: Work, epochs: int = 0) -> str:
        """Queue any long task (e.g. a next-item recommender) on the same worker.

        Args:
            kind: What it is, e.g. ``"recommend"``.
            label: One line for the UI.
            work: Called as ``work(progress, should_stop)``; returns the saved run id. Progress
                events are those of :func:`core.training.train` (``stage``, ``message``, and for
                epochs ``epoch``, ``epochs``, ``logs``).
            epochs: Planned epochs (0 when not epoch-based).

        Returns:
            The job id.
        """
        job = JobState(uuid.uuid4().hex[:12], kind, label, epochs=epochs)
        with self._lock:
            self._jobs[job.job_id] = job
            self._cancel[job.job_id] = threading.Event()
        self._record(job)
        if self._closing.is_set():
            self._update(job.job_id, state="interrupted", message=SHUTDOWN_MESSAGE,
                         finished_at=time.time())
        else:
            self._queue.put((job.job_id, work))
        return job.job_id

    def get(self, job_id: str) -> JobState | None:
        """A snapshot of one job, or None when unknown to this process."""
        with self._lock:
            job = self._jobs.get(job_id)
            return copy.deepcopy(job) if job else None

    def list(self) -> list[JobState]:
        """Snapshots of this process's jobs, newest first."""
        with self._lock:
            jobs = [copy.deepcopy(j) for j in self._jobs.values()]
        return sorted(jobs, key=lambda j: j.started_at or float("inf"), reverse=True)

    def cancel(self, job_id: str) -> None:
        """Ask a queued or running job to stop; it ends as *cancelled* and saves nothing."""
        event = self._cancel.get(job_id)
        if event is not None:
            event.set()

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop every queued and running job and end the worker (called at interpreter exit).

        The running job stops at its next batch; it and the queued ones are recorded as
        *interrupted*. Idempotent.

        Args:
            timeout: Seconds to wait for the running job to stop before giving up on it (the
                daemon worker then dies with the process; the next start marks it).
        """
        if self._closing.is_set():
            return
        self._closing.set()
        with self._lock:
            events = list(self._cancel.values())
        for event in events:
            event.set()
        self._queue.put(None)
        self._worker.join(timeout)

    def wait(self, job_id: str, timeout: float = 600.0) -> JobState:
        """Block until a job ends (for tests and scripts).

        Raises:
            TimeoutError: The job did not end within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.get(job_id)
            if job is not None and job.state not in ACTIVE_STATES:
                return job
            time.sleep(0.05)
        raise TimeoutError(f"Job {job_id} still running after {timeout} s")

    def _update(self, job_id: str, **changes) -> None:
        """Apply changes; a state change is written to the warehouse before it is visible."""
        if "state" in changes:
            with self._lock:
                snapshot = copy.deepcopy(self._jobs[job_id])
            for key, value in changes.items():
                setattr(snapshot, key, value)
            self._record(snapshot)
        with self._lock:
            job = self._jobs[job_id]
            for key, value in changes.items():
                setattr(job, key, value)

    def _on_progress(self, job_id: str, event: dict) -> None:
        if event.get("stage") == "epoch":
            with self._lock:
                job = self._jobs[job_id]
                job.epoch = event["epoch"]
                job.history.append(event["logs"])
                loss = event["logs"].get("val_loss", event["logs"].get("loss", float("nan")))
                job.message = event.get("message") or (
                    f"Epoch {event['epoch']}/{event['epochs']} · validation loss {loss:.4f}")
        elif event.get("stage") == "trial":
            best = event.get("best")
            self._update(job_id, message=f"Tuning: trial {event['trial']}/{event['trials']}"
                         + (f" · best so far {best:.4f}" if best is not None else ""))
        elif event.get("stage") == "fold":
            self._update(job_id, message=f"Cross-validation: fold {event['fold']}/{event['folds']}")
        elif "message" in event:
            self._update(job_id, message=event["message"])

    def _serve(self) -> None:
        """The worker loop: one job at a time, until :meth:`shutdown` queues ``None``."""
        while True:
            item = self._queue.get()
            if item is None:
                break
            self._run(*item)
        while not self._queue.empty():  # jobs queued behind the shutdown never start
            item = self._queue.get()
            if item is not None:
                self._update(item[0], state="interrupted", message=SHUTDOWN_MESSAGE,
                             finished_at=time.time())

    def _run(self, job_id: str, work: Work) -> None:
        stop = self._cancel[job_id]
        if self._closing.is_set():
            self._update(job_id, state="interrupted", message=SHUTDOWN_MESSAGE,
                         finished_at=time.time())
            return
        if stop.is_set():
            self._update(job_id, state="cancelled", message="Cancelled before it started.",
                         finished_at=time.time())
            return
        self._update(job_id, state="running", started_at=time.time(), message="Starting")
        try:
            run_id = work(lambda e: self._on_progress(job_id, e), stop.is_set)
            self._update(job_id, state="done", run_id=run_id, finished_at=time.time(),
                         message=f"Finished: run {run_id}")
        except AppError as err:
            if self._closing.is_set():
                self._update(job_id, state="interrupted", message=SHUTDOWN_MESSAGE,
                             finished_at=time.time())
                return
            state = "cancelled" if stop.is_set() else "failed"
            self._update(job_id, state=state, message=str(err), finished_at=time.time())
        except Exception as err:  # a bug: keep the server alive, show it, log the traceback
            log.exception("job %s crashed", job_id)
            self._update(job_id, state="failed", finished_at=time.time(),
                         message=f"Unexpected error ({type(err).__name__}: {err}). This is a bug.")

    def _record(self, job: JobState) -> None:
        try:
            with connect(self.settings) as con:
                con.execute(
                    f"INSERT OR REPLACE INTO {META_SCHEMA}.jobs (job_id, kind, state, "
                    f"created_at, updated_at, run_id, message, label) VALUES (?, ?, ?, "
                    f"COALESCE((SELECT created_at FROM {META_SCHEMA}.jobs WHERE job_id = ?), ?), "
                    f"?, ?, ?, ?)",
                    [job.job_id, job.kind, job.state, job.job_id, datetime.now(), datetime.now(),
                     job.run_id, job.message, job.label],
                )
        except AppError as err:  # bookkeeping must never kill a job
            log.warning("could not record job %s: %s", job.job_id, err)


def mark_interrupted(settings: Settings) -> int:
    """Mark jobs left *queued* or *running* by a dead server as *interrupted*.

    Call once when a server process starts, before it submits jobs.

    Returns:
        The number of jobs marked.
    """
    with connect(settings) as con:
        n = con.execute(
            f"SELECT count(*) FROM {META_SCHEMA}.jobs WHERE state IN ('queued', 'running')"
        ).fetchone()[0]
        con.execute(
            f"UPDATE {META_SCHEMA}.jobs SET state = 'interrupted', updated_at = ?, "
            f"message = 'The server stopped while this job ran; start it again.' "
            f"WHERE state IN ('queued', 'running')",
            [datetime.now()],
        )
    return int(n)


def recent_jobs(settings: Settings, limit: int = 20) -> list[dict]:
    """Jobs recorded in the warehouse (any process), newest first: job_id, kind, state,
    created_at, updated_at, run_id, message and label (what was trained; None for jobs
    recorded before 2026-12-01)."""
    with connect(settings) as con:
        rows = con.execute(
            f"SELECT job_id, kind, state, created_at, updated_at, run_id, message, label "
            f"FROM {META_SCHEMA}.jobs ORDER BY created_at DESC LIMIT ?", [limit]
        ).fetchall()
    keys = ("job_id", "kind", "state", "created_at", "updated_at", "run_id", "message", "label")
    return [dict(zip(keys, r)) for r in rows]
