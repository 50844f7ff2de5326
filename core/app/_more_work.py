"""Jobs beyond one training run: the leaderboard, a monitored model's challenger and a
compressed run, each as plain, picklable work that runs in a Ray worker
(:func:`core.app._ray_jobs.run_job`) and commits on the server.

Each work reads only the tables it names (``table`` or ``tables``, exported by the server to
the worker's Parquet snapshot) and never writes the warehouse: its runs are saved as folders
the server has not registered yet, and what else it made comes back as data (the
leaderboard) or as a Parquet file in the snapshot folder (a retrain's window table). Its
``commit(settings, result)`` then runs on the server and writes everything in one transaction
(:func:`core.runs.register_saved_runs`); a job cancelled or failed in its worker leaves no run
folder and nothing registered. On the thread engine (``LIFTLAB_ENGINE=thread``) the same work
runs in the server's process, then its commit.

The ``*_job`` functions give the keyword arguments of :meth:`core.app.JobManager.submit`
(kind, label, work, settings as ``params``, epochs where a network trains), as
:func:`core.app._workflows.recommend_job` does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from core.compress import check_request, compress_run
from core.config import Settings
from core.leaderboard import Leaderboard, rank_families, save_leaderboard
from core.monitor import commit_challenger, train_challenger
from core.runs import load_run, register_saved_runs
from core.specs import DatasetSpec, to_dict


@dataclass(frozen=True)
class LeaderboardWork:
    """Train and rank every family (:func:`core.leaderboard.rank_families`) in the worker;
    the server registers every family's run and saves the leaderboard, in one transaction.

    Attributes:
        settings: Workspace settings (the worker's carry ``snapshot_dir``).
        spec: The split shared by every family.
        models: The families.
        cv: Cross-validation folds per family (0 = none).
        n_boot: Bootstrap resamples.
        network_settings: Flat settings of the Keras families (e.g. ``{"epochs": 20}``).
        remote: Whether the job may leave the server's process.
    """

    settings: Settings
    spec: DatasetSpec
    models: tuple[str, ...]
    cv: int = 0
    n_boot: int = 1000
    network_settings: dict | None = None
    remote: bool = True

    @property
    def table(self) -> str:
        """The table every family trains on (exported to the worker's snapshot)."""
        return self.spec.table

    def __call__(self, progress, should_stop) -> dict:
        board = rank_families(self.settings, self.spec, self.models, self.cv, self.n_boot,
                              self.network_settings, progress, should_stop)
        return {"board": board.to_dict(), "worker_pid": os.getpid()}

    def commit(self, settings: Settings, result: dict) -> dict:
        """Register the families' runs and save the leaderboard (server side).

        Returns:
            ``{"board_id", "run_ids", "run_id" (the best family's run), "best", "message",
            "worker_pid"}``.

        Raises:
            RegistrationFailed: Nothing was kept (the reason is in the message).
        """
        board = Leaderboard(**result["board"])
        run_ids = [m["run_id"] for m in board.models]
        register_saved_runs(settings, run_ids, lambda con: save_leaderboard(settings, board))
        best = board.models[0]
        return {"board_id": board.board_id, "run_ids": run_ids, "run_id": best["run_id"],
                "best": board.best, "worker_pid": result["worker_pid"],
                "message": f"Leaderboard ready: {len(run_ids)} families, best {board.best} "
                           f"({board.metric} {best[board.metric]:.4f})"}


@dataclass(frozen=True)
class RetrainWork:
    """Train a challenger of a monitored run (:func:`core.monitor.train_challenger`) in the
    worker; the server writes the window table, the run, its lineage and its model-registry
    versions in one transaction (:func:`core.monitor.commit_challenger`).

    Attributes:
        settings: Workspace settings (the worker's carry ``snapshot_dir``).
        run_id: The champion run.
        new_table: The table of new labelled rows.
        with_reference: Train on the champion's own table plus ``new_table``.
        remote: Whether the job may leave the server's process.
    """

    settings: Settings
    run_id: str
    new_table: str
    with_reference: bool = False
    remote: bool = True

    @property
    def tables(self) -> tuple[str, ...]:
        """The new rows, and the champion's table with ``with_reference`` (read on the
        server, where the champion's configuration says which table it is)."""
        if not self.with_reference:
            return (self.new_table,)
        return (self.new_table, load_run(self.settings, self.run_id).config.table)

    def __call__(self, progress, should_stop) -> dict:
        run = load_run(self.settings, self.run_id)
        out = train_challenger(self.settings, run, self.new_table, self.with_reference,
                               progress, should_stop)
        return {**out, "worker_pid": os.getpid()}

    def commit(self, settings: Settings, result: dict) -> dict:
        """Record the challenger (server side); returns :func:`core.monitor.commit_challenger`'s
        dict with ``message`` and ``worker_pid``."""
        out = commit_challenger(settings, result)
        return {**out, "worker_pid": result["worker_pid"],
                "message": f"Challenger trained: run {out['run_id']} on {out['table']}"}


@dataclass(frozen=True)
class CompressWork:
    """Compress a run (:func:`core.compress.compress_run`) in the worker; the server registers
    the new run.

    Attributes:
        settings: Workspace settings (the worker's carry ``snapshot_dir``).
        run_id: The parent run.
        method: ``int8``, ``prune`` or ``distill``.
        sparsity: Share of zero weights after pruning.
        units: The distilled student's hidden units.
        seed: Seed of the fine-tune or the student.
        remote: Whether the job may leave the server's process.
    """

    settings: Settings
    run_id: str
    method: str
    sparsity: float = 0.8
    units: tuple[int, ...] = (32, 16)
    seed: int = 42
    remote: bool = True

    @property
    def table(self) -> str:
        """The parent's table (its split is made again from the worker's snapshot)."""
        return load_run(self.settings, self.run_id).config.table

    def __call__(self, progress, should_stop) -> dict:
        out = compress_run(self.settings, self.run_id, self.method, self.sparsity,
                           self.units, self.seed, progress, should_stop)
        return {**out, "worker_pid": os.getpid()}

    def commit(self, settings: Settings, result: dict) -> dict:
        """Register the compressed run (server side); the result gains ``message``."""
        register_saved_runs(settings, [result["run_id"]])
        return {**result, "message": f"Saved run {result['run_id']} (parent "
                                     f"{result['parent']})"}


def leaderboard_job(settings: Settings, spec: DatasetSpec, models: tuple[str, ...],
                    cv: int = 0, n_boot: int = 1000, epochs: int | None = None) -> dict:
    """:meth:`core.app.JobManager.submit`'s keyword arguments for a leaderboard (kind
    ``"leaderboard"``); ``epochs`` (None: each family's default) applies to the networks."""
    network = {"epochs": int(epochs)} if epochs else {}
    return {"kind": "leaderboard",
            "label": f"leaderboard of {len(models)} families on {spec.table} "
                     f"(target {spec.target})",
            "work": LeaderboardWork(settings, spec, tuple(models), int(cv), int(n_boot),
                                    network),
            "params": {"spec": to_dict(spec), "models": list(models), "cv": int(cv),
                       "n_boot": int(n_boot), "epochs": epochs}}


def retrain_job(settings: Settings, run_id: str, new_table: str,
                with_reference: bool = False) -> dict:
    """:meth:`core.app.JobManager.submit`'s keyword arguments for a challenger (kind
    ``"retrain"``), with the champion's planned epochs when it is a network."""
    run = load_run(settings, run_id)
    cfg = run.config.model_config
    epochs = cfg.fit.epochs if cfg is not None and cfg.is_keras else 0
    where = f"{new_table} plus {run.config.table}" if with_reference else new_table
    return {"kind": "retrain", "label": f"challenger of {run_id} on {where}",
            "work": RetrainWork(settings, run_id, new_table, bool(with_reference)),
            "epochs": epochs,
            "params": {"run_id": run_id, "table": new_table,
                       "with_reference": bool(with_reference)}}


def compress_job(settings: Settings, run_id: str, method: str, sparsity: float = 0.8,
                 units: tuple[int, ...] = (32, 16), seed: int = 42) -> dict:
    """:meth:`core.app.JobManager.submit`'s keyword arguments for a compression (kind
    ``"compress"``).

    Raises:
        CompressError: A request that cannot run (refused here, before a job starts).
        RunNotFoundError: No such run.
    """
    check_request(load_run(settings, run_id), method, sparsity, tuple(units))
    work = CompressWork(settings, run_id, method, float(sparsity), tuple(units), int(seed))
    return {"kind": "compress", "label": f"{method} of {run_id}", "work": work,
            "params": {"run_id": run_id, "method": method, "sparsity": work.sparsity,
                       "units": list(work.units), "seed": work.seed}}
