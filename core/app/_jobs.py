"""Background jobs for long work (training), with progress, cancel and restart recovery.

One :class:`JobManager` per server process runs each job as a Ray task in its own worker
process (:mod:`core.app._ray_jobs`, engine in :mod:`core.app._engine`), up to :attr:`slots`
at once, so the server stays responsive and a crash stays in the worker; with
``LIFTLAB_ENGINE=thread`` (or work that cannot leave the process) one job at a time runs on a
worker thread, as Keras keeps global state. Each job's state is mirrored into ``liftlab.jobs`` so that a job that was
running when the server died shows as *interrupted* after the next start.

The workers are daemon threads and the manager stops its jobs at interpreter exit
(:func:`atexit`): a running job stops at its next batch and is recorded as *interrupted*, so
Ctrl+C or ``SIGTERM`` ends the server in seconds (a ``ThreadPoolExecutor`` is joined at exit).

A job keeps the settings it was started with (``params``): a second submit of the same settings
while it is queued or running returns it (one click, one job), and a page reloaded in a new
browser session finds it with :meth:`JobManager.active` and shows its settings again. A running
epoch-based job can be cancelled (nothing saved) or stopped with its best epoch kept
(:meth:`JobManager.stop_and_keep`); the time left comes from the measured epoch times, never
from the time spent loading.

The record (:class:`JobState`) and the calls a page makes (``submit``, ``get``, ``list``,
``active``, ``find``, ``cancel``, ``stop_and_keep``) are the whole API.
"""

from __future__ import annotations

import atexit
import copy
import hashlib
import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from core.app._engine import engine_info, engine_kind, local_cpus
from core.app._ray_jobs import run_job
from core.app._workflows import TrainWork, training_params
from core.config import Settings
from core.errors import AppError
from core.runs import StopSignal
from core.specs import DatasetSpec, ModelConfig
from core.warehouse import META_SCHEMA, connect

log = logging.getLogger(__name__)

ACTIVE_STATES = ("queued", "running")
RECORD_EVERY_S = 5.0
"""A running job's latest message reaches the warehouse at most this often (seconds), so that
``python -m core jobs`` and other processes see its progress, not only its state changes."""
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
        params: The settings it was started with (JSON-ready), so that a page reloaded in a
            new browser session can reattach to it and show its settings.
        fingerprint: Identifies those settings; a second submit with the same fingerprint
            while this job is queued or running returns this job instead of a copy.
        epoch_seconds: Measured wall time of each finished epoch, in seconds, from the start
            of fitting (loading and preprocessing excluded).
        patience: Epochs without improvement after which early stopping ends the fit (0: no
            early stopping).
        monitor: The validation metric early stopping watches (a key of ``history``).
        higher_is_better: Whether a larger ``monitor`` is better.
        can_keep: Whether "stop and keep the best so far" applies (epoch-based trainers).
        stop_request: None, ``"cancel"`` or ``"keep"``.
        engine: Where it runs (:meth:`core.app._engine.EngineInfo.to_dict`); ``pid``: the
            worker process's id once it runs.
        result: What a job that is more than one run returned (e.g. ``{"run_ids": [...]}``
            or ``{"table": ...}``); empty for a plain training job.
        step, steps: The last step begun and the steps planned, for work that reports them
            (a leaderboard's families, a compression's steps); 0 otherwise.
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
    params: dict = field(default_factory=dict)
    fingerprint: str | None = None
    epoch_seconds: list[float] = field(default_factory=list)
    patience: int = 0
    monitor: str = "val_loss"
    higher_is_better: bool = False
    can_keep: bool = False
    stop_request: str | None = None
    engine: dict = field(default_factory=dict)
    pid: int | None = None
    result: dict = field(default_factory=dict)
    step: int = 0
    steps: int = 0
    _mark: float | None = field(default=None, repr=False)

    def seconds_per_epoch(self) -> float | None:
        """Measured seconds per epoch: the mean of the epochs after the first (the first also
        builds and traces the network), or the first epoch's time while it is the only one."""
        if not self.epoch_seconds:
            return None
        later = self.epoch_seconds[1:]
        return float(sum(later) / len(later)) if later else float(self.epoch_seconds[0])

    def epochs_left(self) -> tuple[int, int]:
        """``(fewest, most)`` epochs still to run: the most is the plan; with early stopping
        the fewest is what is left of the patience since the best epoch (the fit ends then if
        the validation metric does not improve again)."""
        most = max(self.epochs - self.epoch, 0)
        if not self.patience or not self.history:
            return most, most
        values = [h.get(self.monitor) for h in self.history]
        known = [i for i, v in enumerate(values) if v is not None]
        if not known:
            return most, most
        pick = max if self.higher_is_better else min
        best = pick(known, key=lambda i: values[i])
        since = len(self.history) - 1 - best
        return min(max(self.patience - since, 0), most), most

    def eta_range(self) -> tuple[float, float] | None:
        """``(fewest, most)`` seconds left from the measured epoch time, or None before an
        epoch has been timed or when the job is not running."""
        per = self.seconds_per_epoch()
        if self.state != "running" or per is None or not self.epochs:
            return None
        fewest, most = self.epochs_left()
        return per * fewest, per * most

    def eta_seconds(self) -> float | None:
        """The most seconds left (see :meth:`eta_range`), or None when unknown."""
        span = self.eta_range()
        return None if span is None else span[1]


class JobManager:
    """Run training jobs in the background and report their progress.

    Args:
        settings: Workspace settings (jobs are mirrored into its warehouse).
        clock: Wall clock in seconds (``time.time``); tests pass a fake one.
        engine: ``"ray"`` or ``"thread"``; default ``LIFTLAB_ENGINE`` (``ray``).
    """

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time,
                 engine: str | None = None) -> None:
        self.engine = engine or engine_kind()
        self.slots = 1 if self.engine == "thread" else max(2, min(local_cpus(), 4))
        self.settings = settings
        self._clock = clock
        self._jobs: dict[str, JobState] = {}
        self._cancel: dict[str, StopSignal] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue = queue.Queue()
        self._recorded: dict[str, float] = {}
        self._closing = threading.Event()
        self._workers = [threading.Thread(target=self._serve, name=f"liftlab-job-{i}",
                                          daemon=True) for i in range(self.slots)]
        for worker in self._workers:
            worker.start()
        atexit.register(self.shutdown)

    def submit_training(self, spec: DatasetSpec, cfg: ModelConfig, cv: int = 0,
                        tune_trials: int = 0, tune_timeout_s: float = 300.0) -> str:
        """Queue a training job, or return the queued or running job with the same settings
        (a double click starts one job, not two).

        Args:
            spec: Dataset specification.
            cfg: Model configuration.
            cv: Also run k-fold cross-validation and store it in the run (0 = no).
            tune_trials: Search hyper-parameters with this many Optuna trials first (0 = no).
            tune_timeout_s: Time budget of the search, in seconds.

        Returns:
            The job id.
        """
        work = TrainWork(self.settings, spec, cfg, cv, tune_trials, tune_timeout_s)
        extra = (f", {tune_trials} tuning trials" if tune_trials else "") + \
            (f", {cv}-fold CV" if cv else "")
        params = training_params(spec, cfg, cv, tune_trials, tune_timeout_s)
        epoch_based = cfg.is_keras and not tune_trials
        return self.submit("train", f"{cfg.model} on {spec.table} (target {spec.target}{extra})",
                           work, epochs=cfg.fit.epochs if epoch_based else 0, params=params,
                           patience=cfg.fit.patience if cfg.fit.early_stopping else 0,
                           can_keep=epoch_based)

    def submit(self, kind: str, label: str, work: Work, epochs: int = 0,
               params: dict | None = None, patience: int = 0, can_keep: bool = False,
               monitor: str = "val_loss", higher_is_better: bool = False) -> str:
        """Queue any long task (e.g. a next-item recommender) on the same worker.

        Args:
            kind: What it is, e.g. ``"recommend"``.
            label: One line for the UI.
            work: Called as ``work(progress, should_stop)``; returns the saved run id, or a
                JSON-ready result that its ``commit(settings, result)`` method turns into the
                job's (on the server, after the worker: see :func:`core.app._ray_jobs.run_job`;
                a dict's ``run_id`` and ``message`` become the job's). Progress
                events are those of :func:`core.training.train` (``stage``, ``message``, and for
                epochs ``epoch``, ``epochs``, ``logs``). ``should_stop`` is a
                :class:`core.runs.StopSignal`: ``should_stop.keep`` says the analyst asked to
                stop and keep the best so far.
            epochs: Planned epochs (0 when not epoch-based).
            params: The settings, JSON-ready (shown again when a page reattaches). A job with
                the same ``kind`` and ``params`` already queued or running is returned instead
                of a new one.
            patience: Early-stopping patience in epochs (0: none), for the time left.
            can_keep: Whether the work honours "stop and keep the best so far".
            monitor: The validation metric early stopping watches (a key of the epoch logs).
            higher_is_better: Whether a larger ``monitor`` is better.

        Returns:
            The job id.
        """
        fingerprint = None if params is None else _fingerprint(kind, params)
        with self._lock:
            same = [j for j in self._jobs.values()
                    if fingerprint and j.fingerprint == fingerprint and j.state in ACTIVE_STATES]
            if same:
                return same[0].job_id
            job = JobState(uuid.uuid4().hex[:12], kind, label, epochs=epochs,
                           params=dict(params or {}), fingerprint=fingerprint, patience=patience,
                           monitor=monitor, higher_is_better=higher_is_better,
                           can_keep=can_keep, engine=self._engine_of(work))
            self._jobs[job.job_id] = job
            self._cancel[job.job_id] = StopSignal()
        self._record(job)
        if self._closing.is_set():
            self._update(job.job_id, state="interrupted", message=SHUTDOWN_MESSAGE,
                         finished_at=self._clock())
        else:
            self._queue.put((job.job_id, work))
        return job.job_id

    def active(self, kind: str | None = None) -> JobState | None:
        """The newest queued or running job (of one kind), or None: what a page reloaded in a
        new browser session reattaches to."""
        jobs = [j for j in self.list() if j.state in ACTIVE_STATES and kind in (None, j.kind)]
        return jobs[0] if jobs else None

    def find(self, kind: str, params: dict) -> JobState | None:
        """The queued or running job started with these settings, or None (to disable a
        button that would start it again)."""
        fingerprint = _fingerprint(kind, params)
        with self._lock:
            same = [copy.deepcopy(j) for j in self._jobs.values()
                    if j.fingerprint == fingerprint and j.state in ACTIVE_STATES]
        return same[0] if same else None

    def get(self, job_id: str) -> JobState | None:
        """A snapshot of one job, or None when unknown to this process."""
        with self._lock:
            job = self._jobs.get(job_id)
            return copy.deepcopy(job) if job else None

    def list(self) -> list[JobState]:
        """Snapshots of this process's jobs, newest first (queued ones first of all)."""
        with self._lock:
            jobs = [copy.deepcopy(j) for j in self._jobs.values()]
        return sorted(jobs, key=lambda j: j.started_at or float("inf"), reverse=True)

    def cancel(self, job_id: str) -> None:
        """Ask a queued or running job to stop; it ends as *cancelled* and saves nothing."""
        signal = self._cancel.get(job_id)
        if signal is not None:
            signal.cancel()
            self._set_request(job_id, "cancel")

    def stop_and_keep(self, job_id: str) -> None:
        """Ask a running epoch-based job to stop and save the run with the best weights so far
        (a note in the run says so): a tabular network finishes its current epoch first, the
        recommender stops at its next batch and keeps its best validated epoch; a job with no
        epoch to keep is cancelled instead."""
        signal = self._cancel.get(job_id)
        if signal is not None:
            signal.keep_best()
            self._set_request(job_id, "keep" if signal.keep else "cancel")

    def _set_request(self, job_id: str, request: str) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None and job.state in ACTIVE_STATES:
                job.stop_request = request
                job.message = ("Stopping after this epoch; the best epoch so far will be saved"
                               if request == "keep" else "Cancelling …")

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
            signals = list(self._cancel.values())
        for signal in signals:
            signal.cancel()
        for _ in self._workers:
            self._queue.put(None)
        for worker in self._workers:
            worker.join(timeout)

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
        self._apply_progress(job_id, event)
        now = time.monotonic()
        if now - self._recorded.get(job_id, 0.0) >= RECORD_EVERY_S:  # other processes see it
            self._recorded[job_id] = now
            with self._lock:
                snapshot = copy.deepcopy(self._jobs[job_id])
            self._record(snapshot)

    def _apply_progress(self, job_id: str, event: dict) -> None:
        stage = event.get("stage")
        if stage == "epoch":
            now = event.get("at") or self._clock()  # a worker's own time stamp
            with self._lock:
                job = self._jobs[job_id]
                job.epoch = event["epoch"]
                job.history.append(event["logs"])
                job.epoch_seconds.append(max(now - (job._mark or job.started_at or now), 0.0))
                job._mark = now
                if job.stop_request is None:
                    job.message = event.get("message") or _epoch_message(event)
        elif stage == "fit":  # fitting starts: epochs are timed from here, loading excluded
            with self._lock:
                self._jobs[job_id]._mark = event.get("at") or self._clock()
            self._update(job_id, message=event.get("message", "Fitting"))
        elif stage == "trial":
            best = event.get("best")
            pruned = f" (pruned at epoch {event['pruned_at']})" if event.get("pruned_at") else ""
            self._update(job_id, message=f"Tuning: trial {event['trial']}/{event['trials']}"
                         + pruned + (f" · best so far {best:.4f}" if best is not None else ""))
        elif stage == "fold":
            self._update(job_id, message=f"Cross-validation: fold {event['fold']}/{event['folds']}")
        elif "message" in event:
            self._update(job_id, message=event["message"],
                         **{k: int(event[k]) for k in ("step", "steps") if k in event})

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
                             finished_at=self._clock())

    def _run(self, job_id: str, work: Work) -> None:
        stop = self._cancel[job_id]
        if self._closing.is_set():
            self._update(job_id, state="interrupted", message=SHUTDOWN_MESSAGE,
                         finished_at=self._clock())
            return
        if stop():
            self._update(job_id, state="cancelled", message="Cancelled before it started.",
                         finished_at=self._clock())
            return
        self._update(job_id, state="running", started_at=self._clock(), message="Starting")
        try:
            out = self._call(job_id, work, stop)
            result = out if isinstance(out, dict) else {}
            run_id = result.get("run_id") if result else out
            kept = " (stopped at your request; the best epoch so far was kept)" if stop.keep \
                else ""
            done = result.get("message") or f"Finished: run {run_id}{kept}"
            self._update(job_id, state="done", run_id=run_id, result=result,
                         finished_at=self._clock(), message=done)
        except AppError as err:
            if self._closing.is_set():
                self._update(job_id, state="interrupted", message=SHUTDOWN_MESSAGE,
                             finished_at=self._clock())
                return
            state = "cancelled" if stop() else "failed"
            self._update(job_id, state=state, message=str(err), finished_at=self._clock())
        except Exception as err:  # a bug: keep the server alive, show it, log the traceback
            log.exception("job %s crashed", job_id)
            self._update(job_id, state="failed", finished_at=self._clock(),
                         message=f"Unexpected error ({type(err).__name__}: {err}). This is a bug.")

    def _engine_of(self, work: Work) -> dict:
        cfg = getattr(work, "cfg", None)
        remote = self.engine == "ray" and getattr(work, "remote", False)
        return engine_info(cfg.fit.workers if cfg is not None else 1, remote).to_dict()

    def _call(self, job_id: str, work: Work, stop: StopSignal) -> str | dict:
        """Run the work in a Ray worker process when it can leave this one, else here (then
        its ``commit``, when it has one, runs right after it)."""
        progress = (lambda e: self._on_progress(job_id, e))
        if self._jobs[job_id].engine.get("ray") == "off":
            out = work(progress, stop)
            return work.commit(self.settings, out) if hasattr(work, "commit") else out
        return run_job(self.settings, job_id, work, self._jobs[job_id].engine, progress, stop,
                       lambda pid: self._update(job_id, pid=pid))

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


def _fingerprint(kind: str, params: dict) -> str:
    return hashlib.sha256(json.dumps([kind, params], sort_keys=True,
                                     default=str).encode()).hexdigest()[:16]


def _epoch_message(event: dict) -> str:
    logs = event["logs"]
    loss = logs.get("val_loss", logs.get("loss", float("nan")))
    return f"Epoch {event['epoch']}/{event['epochs']} · validation loss {loss:.4f}"
