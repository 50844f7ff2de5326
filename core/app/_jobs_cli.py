"""``python -m core jobs``, ``jobs cancel JOB_ID``, ``train --background`` / ``--workers N`` and
``score --background``.

A background training from the command line runs in a detached process of its own (``python -m
core jobs run JOB_ID``, started with a new session so that it outlives the shell's command) and
keeps its row of ``liftlab.jobs`` up to date: queued, running with the epoch in the message,
then done, failed or cancelled. A background scoring runs :class:`core.app._analysis_work.ScoreWork`
there and commits its output table as the app's server does (same name checks, lineage). ``jobs cancel`` asks it (or a job of the app's server) to stop
through a flag file in ``<data dir>/jobs/``, which both poll, and waits a few seconds for the
state to change.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from datetime import datetime

from core.app._analysis_work import ScoreWork, score_job
from core.app._engine import (
    cancel_requested,
    engine_info,
    ensure_engine,
    job_file,
    note_engine,
    read_engine_note,
)
from core.app._job_records import recent_jobs
from core.app._jobs import ACTIVE_STATES
from core.app._workflows import train_workflow, training_params
from core.config import Settings
from core.errors import AppError
from core.runs import Run, StopSignal
from core.specs import DatasetSpec, ModelConfig, from_dict
from core.warehouse import META_SCHEMA, connect

CANCEL_WAIT_S = 15.0
PROGRESS_EVERY_S = 1.0


def add_engine_arguments(parser) -> None:
    """``--workers N`` and ``--background`` on the ``train`` parser."""
    parser.add_argument("--workers", type=int,
                        help="data-parallel Ray Train workers for a Keras network or the ensemble, "
                             "in-memory or streamed (default 1)")
    parser.add_argument("--tune-parallel", type=int, default=1,
                        help="tuning trials at once, as Ray Tune trials (default 1)")
    parser.add_argument("--background", action="store_true",
                        help="start the training in a background process and print its job id")


def add_jobs_parsers(sub) -> None:
    """``jobs``, ``jobs cancel JOB_ID`` (and the internal ``jobs run JOB_ID``)."""
    s = sub.add_parser("jobs", help="background jobs: list them, or cancel one")
    s.add_argument("action", nargs="?", choices=["cancel", "run"],
                   help="cancel JOB_ID (run: internal, the background process)")
    s.add_argument("job_id", nargs="?")


def engine_json(cfg: ModelConfig, tune_parallel: int = 1) -> dict:
    """The ``engine`` key of the train JSON: ``{"ray", "workers", "strategy", "devices"}``
    (starts Ray when the training needs it: several workers or parallel tuning trials)."""
    if tune_parallel < 1:
        raise AppError(f"--tune-parallel must be at least 1; got {tune_parallel}.")
    if cfg.fit.workers > 1 or tune_parallel > 1:
        ensure_engine()
    return engine_info(cfg.fit.workers, remote=tune_parallel > 1).to_dict()


def _record(settings: Settings, job_id: str, state: str, message: str, label: str,
            run_id: str | None = None, kind: str = "train") -> None:
    with connect(settings) as con:
        con.execute(
            f"INSERT OR REPLACE INTO {META_SCHEMA}.jobs (job_id, kind, state, created_at, "
            f"updated_at, run_id, message, label) VALUES (?, ?, ?, COALESCE((SELECT "
            f"created_at FROM {META_SCHEMA}.jobs WHERE job_id = ?), ?), ?, ?, ?, ?)",
            [job_id, kind, state, job_id, datetime.now(), datetime.now(), run_id, message,
             label])


def start_background(settings: Settings, spec: DatasetSpec, cfg: ModelConfig, cv: int,
                     tune_trials: int, tune_timeout_s: float) -> dict:
    """Record a queued job, start ``python -m core jobs run JOB_ID`` detached, return
    ``{"job_id", "state", "engine"}``."""
    label = f"{cfg.model} on {spec.table} (target {spec.target}, command line)"
    params = {**training_params(spec, cfg, cv, tune_trials, tune_timeout_s), "label": label}
    return _detach(settings, params, engine_info(cfg.fit.workers, remote=False).to_dict())


def start_score_background(settings: Settings, run: Run, table: str, out: str | None,
                           replace: bool) -> dict:
    """``score --background``: check the output name now (a name that would replace an
    input or a raw table is refused before anything starts), then score in a detached process
    (:class:`core.app._analysis_work.ScoreWork`, committed there). Returns ``{"job_id",
    "state", "engine", "table"}``."""
    job = score_job(settings, run, table, out, replace)
    params = {**job["params"], "kind": "score", "label": f"{job['label']} (command line)"}
    return {**_detach(settings, params, engine_info(1, remote=False).to_dict()),
            "table": job["params"]["out"]}


def _detach(settings: Settings, params: dict, engine: dict) -> dict:
    """Record the queued job and start ``python -m core jobs run JOB_ID`` detached."""
    job_id = uuid.uuid4().hex[:12]
    path = job_file(settings.data_dir, job_id, "params.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(params))
    note_engine(settings.data_dir, job_id, engine, None)
    _record(settings, job_id, "queued", "Starting a background process", params["label"],
            kind=params.get("kind", "train"))
    log = (settings.data_dir / "jobs" / f"{job_id}.log").open("w")
    subprocess.Popen([sys.executable, "-m", "core", "--data-dir", str(settings.data_dir),
                      "jobs", "run", job_id], stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                     start_new_session=True, env={**os.environ, "LIFTLAB_LOAD_SAMPLE": "0"})
    return {"job_id": job_id, "state": "queued", "engine": engine}


def _run_background(settings: Settings, job_id: str) -> dict:
    """The background process: train, keeping the job's row up to date."""
    try:
        params = json.loads(job_file(settings.data_dir, job_id, "params.json").read_text())
    except (OSError, ValueError) as err:
        raise AppError(f"No background job {job_id} to run ({err}).") from err
    if params.get("kind") == "score":
        return _score_background(settings, job_id, params)
    spec = from_dict(DatasetSpec, params["spec"])
    cfg = from_dict(ModelConfig, params["model_config"])
    label = params["label"]
    note_engine(settings.data_dir, job_id, engine_json(cfg), os.getpid())
    stop, last = StopSignal(), [0.0]

    def should_stop() -> bool:
        if not stop() and cancel_requested(settings.data_dir, job_id):
            stop.cancel()
        return stop()

    def progress(event: dict) -> None:
        if event.get("stage") == "epoch" and time.monotonic() - last[0] >= PROGRESS_EVERY_S:
            last[0] = time.monotonic()
            loss = event["logs"].get("val_loss", event["logs"].get("loss"))
            _record(settings, job_id, "running", f"Epoch {event['epoch']}/{event['epochs']} · "
                    f"validation loss {loss:.4f}", label)

    _record(settings, job_id, "running", "Starting", label)
    try:
        result, _ = train_workflow(settings, spec, cfg, cv=params["cv"],
                                   tune_trials=params["tune_trials"],
                                   tune_timeout_s=params["tune_timeout_s"] or 300.0,
                                   progress=progress, should_stop=should_stop)
    except AppError as err:
        _record(settings, job_id, "cancelled" if stop() else "failed", str(err), label)
        raise
    _record(settings, job_id, "done", f"Finished: run {result.run_id}", label, result.run_id)
    return {"job_id": job_id, "state": "done", "run_id": result.run_id}


def _score_background(settings: Settings, job_id: str, params: dict) -> dict:
    """The background process of ``score --background``: score in batches, then commit."""
    label, stop = params["label"], StopSignal()
    note_engine(settings.data_dir, job_id, engine_info(1, remote=False).to_dict(), os.getpid())

    def should_stop() -> bool:
        if not stop() and cancel_requested(settings.data_dir, job_id):
            stop.cancel()
        return stop()

    work = ScoreWork(settings, params["run_id"], params["table"], params["out"],
                     params["replace"])
    _record(settings, job_id, "running", "Starting", label, kind="score")
    try:
        out = work.commit(settings, work(lambda e: _record(settings, job_id, "running",
                                                           e["message"], label, kind="score"),
                                         should_stop))
    except AppError as err:
        _record(settings, job_id, "cancelled" if stop() else "failed", str(err), label,
                kind="score")
        raise
    _record(settings, job_id, "done", out["message"], label, kind="score")
    return {"job_id": job_id, "state": "done", "table": out["table"], "rows": out["rows"]}


def _job_row(settings: Settings, job_id: str) -> dict:
    rows = {j["job_id"]: j for j in recent_jobs(settings, limit=10_000)}
    if job_id not in rows:
        raise AppError(f"No job {job_id}; `python -m core jobs` lists them.")
    return rows[job_id]


def _cancel(settings: Settings, job_id: str) -> dict:
    row = _job_row(settings, job_id)
    if row["state"] in ACTIVE_STATES:
        flag = job_file(settings.data_dir, job_id, "cancel")
        flag.parent.mkdir(parents=True, exist_ok=True)
        flag.touch()
        deadline = time.monotonic() + CANCEL_WAIT_S
        while row["state"] in ACTIVE_STATES and time.monotonic() < deadline:
            time.sleep(0.2)
            row = _job_row(settings, job_id)
    return {"job_id": job_id, "state": row["state"]}


def cmd_jobs(args, settings: Settings) -> dict:
    """``jobs`` -> ``{"jobs": [{"job_id", "kind", "state", "run_id", "message", "engine",
    "label", "created_at"}]}``; ``jobs cancel JOB_ID`` -> ``{"job_id", "state"}``."""
    if args.action and not (args.job_id or "").isalnum():
        raise AppError(f"jobs {args.action} needs a JOB_ID (letters and digits); "
                       f"`python -m core jobs` lists them.")
    if args.action == "cancel":
        return _cancel(settings, args.job_id)
    if args.action == "run":
        return _run_background(settings, args.job_id)
    out = []
    for j in recent_jobs(settings, limit=100):
        out.append({k: j[k] for k in ("job_id", "kind", "state", "run_id", "message", "label")}
                   | {"created_at": str(j["created_at"]),
                      "engine": read_engine_note(settings.data_dir, j["job_id"])["engine"]})
    return {"jobs": out}


JOBS_COMMANDS = {"jobs": cmd_jobs}
