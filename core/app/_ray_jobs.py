"""Run one job's work as a Ray task in its own worker process, bridging progress and stop.

The server side (:func:`run_remote`) starts the task and a small channel actor
(:class:`_Channel`, no CPU reserved); the task pushes its progress events into the channel and
polls it for a stop request (at most every :data:`POLL_S` seconds, so a Keras batch loop stays
fast); the server drains the events at the same rate into the job, forwards cancel / "stop and
keep" and, when the task has not stopped :data:`CANCEL_GRACE_S` seconds after a cancel, kills
it (``ray.cancel(force=True)``).

A task runs at most once in its process (``max_calls=1``): each job gets a fresh interpreter,
so TensorFlow's memory is returned when it ends and a crash (out of memory, a segfault in a
native library) ends that process only. Its death surfaces as a Ray error that
:func:`run_remote` turns into :class:`WorkerDied` with the reason; the server then removes what
the dead writer left (:func:`core.warehouse.clean_litter`): run folders are written under a
temporary name and renamed into place, so nothing half-written remains.

A training worker never opens the warehouse file: :func:`run_job` exports the job's table to a
Parquet snapshot first, the worker reads it and writes the run folder only, and the server
registers the run it returns in one transaction.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from collections.abc import Callable

from core.app._engine import cancel_requested, ensure_engine, note_engine
from core.config import Settings
from core.errors import AppError
from core.runs import register_saved_run, remove_pending_runs
from core.warehouse import clean_litter, export_snapshot

POLL_S = 0.25
CANCEL_GRACE_S = 5.0
CANCELLED_MESSAGE = "Cancelled; nothing was saved."  # any kind: scoring, SHAP, training …


class WorkerDied(AppError):
    """The worker process running a job died (out of memory, crashed or killed)."""


class RemoteError(AppError):
    """An :class:`AppError` raised inside the worker, carried back by message."""


class _Channel:
    """Progress events from the worker, stop requests from the server (a Ray actor)."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self.request: str | None = None
        self.pid: int | None = None

    def push(self, event: dict) -> None:
        self.events.append(event)

    def drain(self) -> list[dict]:
        out, self.events = self.events, []
        return out

    def ask(self, request: str) -> None:
        self.request = request

    def requested(self) -> str | None:
        return self.request

    def started(self, pid: int) -> None:
        self.pid = pid

    def worker_pid(self) -> int | None:
        return self.pid


class _RemoteStop:
    """``should_stop`` inside the worker: a :class:`core.runs.StopSignal` look-alike that asks
    the channel at most every :data:`POLL_S` seconds."""

    def __init__(self, channel) -> None:
        self._channel = channel
        self._seen: str | None = None
        self._asked = 0.0

    def _poll(self) -> str | None:
        import ray

        now = time.monotonic()
        if self._seen is None and now - self._asked >= POLL_S:
            self._asked = now
            self._seen = ray.get(self._channel.requested.remote())
        return self._seen

    def __call__(self) -> bool:
        return self._poll() is not None

    @property
    def keep(self) -> bool:
        return self._poll() == "keep"


def _jsonable(event: dict) -> dict:
    """Events as plain data (numpy floats in Keras logs become floats); the worker stamps each
    with ``at`` (``time.time()`` when it happened), so epoch times are not those of the
    server's polling."""
    out = dict(event)
    if isinstance(out.get("logs"), dict):
        out["logs"] = {k: float(v) for k, v in out["logs"].items()}
    return out


def _execute(work, channel) -> dict:
    """The Ray task: run ``work`` and report ``{"result"}`` (what it returned: a run id, or a
    JSON-ready dict for the server's :meth:`commit`) or ``{"error", "bug"}``.

    Ray sets ``OMP_NUM_THREADS`` to the CPUs a task reserves (1), which TensorFlow's oneDNN
    kernels follow: a job then computed on one core while ``python -m core train`` used all of
    them (``bench/engine.py`` scenario 0: 0.5× the command line's throughput). The task is the
    only job's work in a fresh process that has not loaded TensorFlow yet, so it sets the
    variable back to the cores this process may run on, as the command line has them.
    """
    import ray

    os.environ["OMP_NUM_THREADS"] = str(len(os.sched_getaffinity(0)))
    ray.get(channel.started.remote(os.getpid()))
    try:
        result = work(lambda e: channel.push.remote({**_jsonable(e), "at": time.time()}),
                      _RemoteStop(channel))
        ray.get(channel.requested.remote())  # calls run in order: every event has arrived
        return {"result": result, "pid": os.getpid()}
    except AppError as err:
        return {"error": str(err), "bug": False}
    except Exception as err:  # noqa: BLE001 -- a bug in the worker: reported, server kept
        return {"error": f"{type(err).__name__}: {err}", "bug": True}


def _died(err: Exception) -> str:
    """Why a worker died, in words."""
    import ray

    if isinstance(err, ray.exceptions.OutOfMemoryError):
        return "it ran out of memory (Ray's memory monitor stopped it)"
    if isinstance(err, ray.exceptions.TaskCancelledError):
        return "it was stopped"
    return f"it crashed or was killed ({type(err).__name__})"


def run_remote(work, progress: Callable[[dict], None], stop, *, num_cpus: float = 1.0,
               on_start: Callable[[int], None] | None = None,
               external: Callable[[], bool] | None = None):
    """Run ``work(progress, should_stop)`` as a Ray task and wait for it (call from a thread).

    Args:
        work: A picklable callable (cloudpickle), e.g. :class:`core.app._workflows.TrainWork`.
        progress: Receives the worker's events, in order, at most :data:`POLL_S` s late.
        stop: The job's :class:`core.runs.StopSignal`; a request is forwarded to the worker.
        num_cpus: CPUs the task reserves (0 for a coordinator that starts Ray Train workers).
        on_start: Called with the worker's process id once it runs.
        external: Polled with the events; True cancels (a request from another process).

    Returns:
        What the work returned (a saved run id, or a JSON-ready dict).

    Raises:
        RemoteError: The work raised an :class:`AppError` (its message), e.g. a cancelled fit.
        WorkerDied: The worker process died; the message says why.
    """
    import ray

    channel = ray.remote(num_cpus=0)(_Channel).remote()
    task = ray.remote(num_cpus=num_cpus, max_calls=1, max_retries=0)(_execute)
    ref = task.remote(work, channel)
    forwarded, asked_at, pid = None, None, None
    try:
        while True:
            done, _ = ray.wait([ref], timeout=POLL_S)
            for event in ray.get(channel.drain.remote()):
                progress(event)
            if pid is None:
                pid = ray.get(channel.worker_pid.remote())
                if pid is not None and on_start is not None:
                    on_start(pid)
            if done:
                break
            if external is not None and not stop() and external():
                stop.cancel()
            if stop() and forwarded is None:
                forwarded = "keep" if getattr(stop, "keep", False) else "cancel"
                ray.get(channel.ask.remote(forwarded))
                asked_at = time.monotonic()
            elif forwarded == "keep" and stop() and not getattr(stop, "keep", False):
                forwarded = "cancel"  # a cancel after "stop and keep" overrides it
                ray.get(channel.ask.remote("cancel"))
                asked_at = time.monotonic()
            if forwarded == "cancel" and time.monotonic() - asked_at > CANCEL_GRACE_S:
                ray.cancel(ref, force=True)
        try:
            result = ray.get(ref)
        except ray.exceptions.RayError as err:
            if forwarded == "cancel":
                raise RemoteError(CANCELLED_MESSAGE) from err
            raise WorkerDied(f"The job's worker process died: {_died(err)}. Nothing was "
                             f"saved; the app keeps running. Try again, with a smaller "
                             f"batch or fewer rows if it ran out of memory.") from err
        for event in ray.get(channel.drain.remote()):
            progress(event)
    finally:
        ray.kill(channel)
    if "error" in result:
        if result["bug"]:
            raise RuntimeError(result["error"])
        raise RemoteError(result["error"])
    return result["result"]


def job_tables(work) -> tuple[str, ...]:
    """The warehouse tables a job's work reads (its ``tables``, or its one ``table``); none
    when it reads no table or carries no ``settings`` to point at a snapshot."""
    if not hasattr(work, "settings"):
        return ()
    tables = getattr(work, "tables", None)
    if tables is None and hasattr(work, "table"):
        tables = (work.table,)
    return tuple(tables or ())


def run_job(settings: Settings, job_id: str, work, engine: dict, progress, stop,
            on_pid: Callable[[int], None]):
    """:func:`run_remote` for a :class:`core.app.JobManager` job: starts the engine, records
    where the job runs (:func:`core.app._engine.note_engine`), honours a cancel request from
    another process, and removes what a dead worker left under a temporary name.

    Work that reads tables (it has ``settings`` and ``table`` or ``tables``, as
    :class:`core.app._workflows.TrainWork` and :class:`core.app._workflows.RecommendWork`)
    never opens the warehouse file in the worker: the
    server first exports the tables and the bookkeeping to a Parquet snapshot
    (:func:`core.warehouse.export_snapshot`), the worker reads it (``Settings.snapshot_dir``)
    and writes files only. Then, on the server: work with a ``commit(settings, result)``
    method commits what the worker returned (registers several runs, loads an output table,
    writes lineage) and its return value is the job's; otherwise the result is a run id the
    server registers in one transaction (:func:`core.runs.register_saved_run`; on failure the
    folder is removed). The snapshot is removed when the job ends, and so are run folders the
    worker saved but that were never registered (a worker killed between saving and
    returning: :func:`core.runs.remove_pending_runs`).

    A coordinator of Ray Train workers (``engine["workers"] > 1``) reserves no CPU: its
    workers reserve their own.

    Raises:
        RemoteError, WorkerDied: As :func:`run_remote`.
        RegistrationFailed: The run could not be registered (nothing kept).
        SchemaError: The table to export does not exist.
    """
    ensure_engine()

    def started(pid: int) -> None:
        on_pid(pid)
        note_engine(settings.data_dir, job_id, engine, pid)

    snapshot = None
    tables = job_tables(work)
    try:
        if tables:
            progress({"stage": "load", "message": f"Exporting {', '.join(tables)} for the worker"})
            snapshot = export_snapshot(settings, tables, job_id)
            work = dataclasses.replace(
                work, settings=dataclasses.replace(work.settings, snapshot_dir=snapshot))
        result = run_remote(work, progress, stop, num_cpus=0 if engine["workers"] > 1 else 1,
                            on_start=started,
                            external=lambda: cancel_requested(settings.data_dir, job_id))
        if hasattr(work, "commit"):
            return work.commit(settings, result)
        if snapshot is not None:
            register_saved_run(settings, result)
        return result
    finally:
        if snapshot is not None:
            remove_pending_runs(settings, snapshot)
            shutil.rmtree(snapshot, ignore_errors=True)
        clean_litter(settings)
