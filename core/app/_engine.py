"""Where long work runs: an embedded Ray instance by default, an existing cluster on request.

Ray (https://docs.ray.io) is started lazily, on the first job that needs it, never at import:
``ray.init`` starts a local instance bounded to ``LIFTLAB_RAY_CPUS`` CPUs (default: the machine's,
at most 8) and ``LIFTLAB_RAY_MEMORY_MB`` of object store (default 512 MiB), without the
dashboard, and :func:`shutdown_engine` stops it at interpreter exit. ``LIFTLAB_RAY_ADDRESS``
(``auto`` for the cluster this machine belongs to, or ``ray://host:10001`` for a Ray Client
connection) attaches to an existing cluster instead; its workers must see the same data
directory (``LIFTLAB_DATA_DIR``, e.g. an NFS mount) because they read Parquet snapshots and
write run folders there.

``LIFTLAB_ENGINE=thread`` runs jobs on a thread inside the calling process, as before Ray (the
test suite uses it for jobs that do not test the engine).
"""

from __future__ import annotations

import atexit
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

ENGINE_ENV = "LIFTLAB_ENGINE"
ADDRESS_ENV = "LIFTLAB_RAY_ADDRESS"
CPUS_ENV = "LIFTLAB_RAY_CPUS"
MEMORY_ENV = "LIFTLAB_RAY_MEMORY_MB"
MAX_LOCAL_CPUS = 8
OBJECT_STORE_MB = 512
ROOT = Path(__file__).resolve().parent.parent.parent

_lock = threading.Lock()
_state: dict = {"started": False, "address": None}


@dataclass(frozen=True)
class EngineInfo:
    """Where a job runs, as the Train page and the CLI show it.

    Attributes:
        ray: ``"local"`` (an embedded instance), the cluster address, or ``"off"`` (a thread
            in this process).
        workers: Training workers (1: one process; N: Ray Train data-parallel workers).
        strategy: The ``tf.distribute`` strategy, e.g. ``"MultiWorkerMirroredStrategy"``.
        devices: What the workers compute on, e.g. ``"CPU"`` or ``"2 × GPU"``.
    """

    ray: str
    workers: int = 1
    strategy: str = "default"
    devices: str = "CPU"

    def to_dict(self) -> dict:
        """JSON-ready: ``{"ray", "workers", "strategy", "devices"}``."""
        return {"ray": self.ray, "workers": self.workers, "strategy": self.strategy,
                "devices": self.devices}

    def caption(self) -> str:
        """One line, e.g. ``"Runs on Ray (local) · 2 workers · MultiWorkerMirroredStrategy · CPU"``."""
        where = "in this process" if self.ray == "off" else f"on Ray ({self.ray})"
        workers = f"{self.workers} worker" + ("s" if self.workers != 1 else "")
        return f"Runs {where} · {workers} · {self.strategy} · {self.devices}"


def engine_kind() -> str:
    """``"ray"`` (default) or ``"thread"`` (``LIFTLAB_ENGINE=thread``)."""
    kind = os.environ.get(ENGINE_ENV, "ray").strip().lower()
    return "thread" if kind in {"thread", "off", "0", "none"} else "ray"


def ray_address() -> str:
    """``"local"`` or the cluster address from ``LIFTLAB_RAY_ADDRESS``."""
    return os.environ.get(ADDRESS_ENV, "").strip() or "local"


def local_cpus() -> int:
    """CPUs the embedded instance may use (``LIFTLAB_RAY_CPUS``, default the machine's, ≤ 8)."""
    raw = os.environ.get(CPUS_ENV, "")
    if raw.strip().isdigit() and int(raw) > 0:
        return int(raw)
    return max(1, min(os.cpu_count() or 1, MAX_LOCAL_CPUS))


def ensure_engine() -> str:
    """Start the embedded Ray instance, or connect to ``LIFTLAB_RAY_ADDRESS``, once per process.

    Returns:
        ``"local"`` or the cluster address.

    Raises:
        ConnectionError: The cluster at ``LIFTLAB_RAY_ADDRESS`` cannot be reached (Ray's
            message, with the address).
    """
    import ray

    with _lock:
        if ray.is_initialized():
            return _state["address"] or "local"
        address = ray_address()
        env = {"PYTHONPATH": os.pathsep.join(p for p in (str(ROOT),
                                                          os.environ.get("PYTHONPATH")) if p),
               "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
        common = {"include_dashboard": False, "log_to_driver": False,
                  "configure_logging": False, "ignore_reinit_error": True}
        if address == "local":
            mb = int(os.environ.get(MEMORY_ENV, "") or OBJECT_STORE_MB)
            # Ray runs workers at niceness 15 by default: a job, the analyst's foreground work,
            # then yielded the CPU to the server, the browser and Ray's own daemons
            ray.init(num_cpus=local_cpus(), object_store_memory=mb * 2**20,
                     runtime_env={"env_vars": env}, _system_config={"worker_niceness": 0},
                     **common)
        else:
            try:
                ray.init(address=address, runtime_env={
                    "working_dir": str(ROOT), "env_vars": {"TF_CPP_MIN_LOG_LEVEL": "2"},
                    "excludes": ["data/", ".venv/", "tests/", "bench/", "*.duckdb"]}, **common)
            except Exception as err:
                raise ConnectionError(f"Cannot reach the Ray cluster at {address} "
                                      f"({ADDRESS_ENV}): {err}") from err
        _state.update(started=True, address=address)
        atexit.register(shutdown_engine)
        return address


def shutdown_engine() -> None:
    """Stop the embedded instance (or leave the cluster) if this process started it."""
    with _lock:
        if not _state["started"]:
            return
        import ray

        if ray.is_initialized():
            ray.shutdown()
        _state.update(started=False, address=None)


def cluster_devices() -> str:
    """What the Ray instance offers, e.g. ``"2 CPUs"`` or ``"16 CPUs, 1 GPU"`` (starts nothing;
    ``"not started"`` before the first job)."""
    import ray

    if not ray.is_initialized():
        return "not started"
    res = ray.cluster_resources()
    cpus, gpus = int(res.get("CPU", 0)), int(res.get("GPU", 0))
    return f"{cpus} CPUs" + (f", {gpus} GPU" + ("s" if gpus != 1 else "") if gpus else "")


def engine_info(workers: int = 1, remote: bool | None = None) -> EngineInfo:
    """Where a training job with ``workers`` workers runs (starts nothing).

    Args:
        workers: Training workers (above 1 always on Ray).
        remote: Whether the job leaves this process; default: ``LIFTLAB_ENGINE`` says.
    """
    remote = engine_kind() == "ray" if remote is None else remote
    ray = ray_address() if remote or workers > 1 else "off"
    strategy = "MultiWorkerMirroredStrategy" if workers > 1 else "default"
    gpus = _gpus_per_worker()
    devices = f"{workers} × GPU" if gpus else "CPU"
    return EngineInfo(ray, max(1, int(workers)), strategy, devices)


def _gpus_per_worker() -> int:
    """1 when the Ray instance (if running) has at least one GPU, else 0."""
    import ray

    if not ray.is_initialized():
        return 0
    return 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0


def job_file(data_dir: Path, job_id: str, suffix: str) -> Path:
    """``<data dir>/jobs/<job_id>.<suffix>``: a job's engine note (``json``), its settings for
    a background process (``params.json``) or a cancel request from another process
    (``cancel``)."""
    if not job_id.isalnum():
        raise ValueError(f"not a job id: {job_id!r}")
    return Path(data_dir) / "jobs" / f"{job_id}.{suffix}"


def note_engine(data_dir: Path, job_id: str, engine: dict, pid: int | None) -> None:
    """Record where a job runs (``{"engine", "pid"}``) beside the warehouse's ``jobs`` row."""
    path = job_file(data_dir, job_id, "json")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps({"engine": engine, "pid": pid}))
    os.replace(tmp, path)


def read_engine_note(data_dir: Path, job_id: str) -> dict:
    """``{"engine", "pid"}`` of a job, or ``{"engine": None, "pid": None}`` when unknown."""
    try:
        return json.loads(job_file(data_dir, job_id, "json").read_text())
    except (OSError, ValueError):
        return {"engine": None, "pid": None}


def cancel_requested(data_dir: Path, job_id: str) -> bool:
    """Whether another process (``python -m core jobs cancel``) asked this job to stop."""
    return job_file(data_dir, job_id, "cancel").exists()


def job_alive(data_dir: Path, job_id: str) -> bool:
    """Whether a job's recorded process (a ``train --background`` process) is still running
    and is not this one (a server restarted in this process marks its own jobs)."""
    pid = read_engine_note(data_dir, job_id).get("pid") if job_id.isalnum() else None
    if not pid or pid == os.getpid() or read_engine_note(data_dir, job_id)["engine"] is None:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return job_file(data_dir, job_id, "params.json").exists()
