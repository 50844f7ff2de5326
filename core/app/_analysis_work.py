"""Long analyses as background jobs: SHAP values for many rows, scoring a large table, and
monitoring a run on a large table of new rows.

Small requests run at once in the server, as before; a request above a threshold (SHAP:
:data:`SHAP_JOB_SECONDS` estimated by :func:`core.explain.explain_cost`; scoring: more than
:data:`SCORE_JOB_ROWS` rows) (monitoring: as scoring) is submitted to the :class:`core.app.JobManager` instead, where it
runs in a Ray worker process (a thread with ``LIFTLAB_ENGINE=thread``).

The worker never writes the warehouse:

- :class:`ScoreWork` reads the table (from the job's Parquet snapshot on Ray), scores it in
  batches of :data:`SCORE_BATCH_ROWS` rows (progress and cancel between batches) and writes the
  scored rows to a temporary Parquet file; its :meth:`ScoreWork.commit`, on the server, checks
  the output name again (:func:`core.warehouse.claim_output`: never an input or a raw table,
  names compared without case, an earlier derived table only with ``replace``), loads the
  file as the output table and records its lineage in one transaction
  (:func:`core.warehouse.write_parquet_output`), and removes the file.
- :class:`ShapWork` reads only the run folder, explains the rows (progress and cancel between
  chunks) and saves the explanation to a temporary folder; :meth:`ShapWork.commit` moves it
  into the run's SHAP cache (``explain.json`` …, what the Explain page and the report read)
  and removes the folder.

- :class:`MonitorWork` checks a run on a table of new rows (drift, data quality, estimated and
  realised performance: :func:`core.monitor.monitor`) on the job's snapshot of that table and
  of the run's training table, without saving; its :meth:`MonitorWork.commit` stores the
  result in the warehouse on the server.

A cancelled or failed worker removes its temporary files itself; one that was killed left them
in a folder named after its process (``<data dir>/tmp/*-p<pid>-*``, removed by
:func:`core.warehouse.clean_litter` once that process is gone) or in the job's snapshot
(removed with it).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.app._workspace import require_features, scored_rows
from core.config import Settings
from core.errors import AppError, ExplainError
from core.explain import (
    BACKGROUND_MAX,
    ExplainCancelled,
    ExplainCost,
    explain_run,
    load_explanation,
    save_explanation,
)
from core.monitor import Chunking, monitor, save_monitor
from core.runs import Run, load_run
from core.warehouse import (
    claim_output,
    connect,
    existing_table,
    private_dir,
    read_table,
    require_table,
    scratch_root,
    write_parquet_output,
)

SCORE_JOB_ROWS = 100_000  # tables with more rows are scored as a background job
SCORE_BATCH_ROWS = 200_000  # rows scored between two progress reports and cancel checks
SHAP_JOB_SECONDS = 10.0  # SHAP requests estimated longer run as a background job


class AnalysisCancelled(AppError):
    """The analyst cancelled a background analysis; nothing was written."""


def score_is_large(rows: int) -> bool:
    """Whether scoring a table of ``rows`` rows runs as a background job."""
    return rows > SCORE_JOB_ROWS


def shap_is_large(cost: ExplainCost, budget_s: float | None = None) -> bool:
    """Whether an explanation of this estimated cost runs as a background job: it would keep
    the page waiting over :data:`SHAP_JOB_SECONDS`, the explainer's time budget
    (``budget_s``, seconds) capping the wait (it stops the explainer first)."""
    seconds = cost.seconds if budget_s is None else min(cost.seconds, float(budget_s))
    return seconds > SHAP_JOB_SECONDS


def _temp_folder(settings: Settings, what: str) -> Path:
    """A folder for the worker's file: inside the job's snapshot (removed with it) on Ray,
    else a folder of the workspace's scratch space named after this process."""
    return private_dir(settings.snapshot_dir or scratch_root(settings), what)


@dataclass(frozen=True)
class ScoreWork:
    """Scoring a table with a run as a job's work (plain data, picklable for a Ray worker).

    Attributes:
        settings: Workspace settings (the worker's carry ``snapshot_dir``).
        run_id: The scoring run.
        table: The table scored (exported to the worker's snapshot).
        out: The output table's name, checked with :func:`core.warehouse.claim_output`.
        replace: Replace an earlier derived table of that name.
        batch_rows: Rows per batch.
        remote: Whether the job may leave the server's process.
    """

    settings: Settings
    run_id: str
    table: str
    out: str
    replace: bool = False
    batch_rows: int = SCORE_BATCH_ROWS
    remote: bool = True

    def __call__(self, progress, should_stop) -> dict:
        """Score every row into a temporary Parquet file.

        Returns:
            ``{"path", "rows", "pid"}``: the file, its rows and the worker's process id.

        Raises:
            AnalysisCancelled: ``should_stop`` was True between two batches.
            SchemaError: The table lacks a feature of the run.
        """
        run = load_run(self.settings, self.run_id)
        with connect(self.settings) as con:
            frame = read_table(con, self.table)
        require_features(run, frame, self.table)
        folder = _temp_folder(self.settings, "score")
        try:
            n, parts = len(frame), []
            for start in range(0, n, self.batch_rows):
                if should_stop():
                    raise AnalysisCancelled("Scoring cancelled; no table was written.")
                parts.append(np.asarray(run.predict(frame.iloc[start:start + self.batch_rows])))
                done = min(start + self.batch_rows, n)
                progress({"message": f"Scoring rows {done:,}/{n:,}", "step": done, "steps": n})
            scores = np.concatenate(parts) if parts else None
            path = folder / "scored.parquet"
            scored_rows(run, frame, scores).to_parquet(path, index=False)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return {"path": str(path), "rows": n, "pid": os.getpid()}

    def commit(self, settings: Settings, result: dict) -> dict:
        """On the server: load the scored rows as the output table, with its lineage, in one
        transaction, and remove the temporary file (also when that fails).

        Returns:
            ``{"table", "rows", "pid", "message"}``.

        Raises:
            OutputTableError: The name now denotes an input, a raw table or (without
                ``replace``) an earlier output.
        """
        path = Path(result["path"])
        try:
            with connect(settings) as con:
                require_table(con, self.table)
                source = existing_table(con, self.table)
                out = claim_output(con, self.out, (source,), self.replace, "scored table")
                rows = write_parquet_output(con, out, path, source,
                                            f"scored by run {self.run_id}")
        finally:
            shutil.rmtree(path.parent, ignore_errors=True)
        return {"table": out, "rows": rows, "pid": result["pid"],
                "message": f"Wrote {rows:,} scored rows to table '{out}'."}


@dataclass(frozen=True)
class ShapWork:
    """SHAP values for test rows of a run as a job's work (plain data, picklable). It reads
    the run folder only, so no table is exported for it.

    Attributes:
        settings: Workspace settings.
        run_id: The explained run.
        rows: Test rows to explain (a seeded sample, as :func:`core.explain.explain_run`).
        method: ``"auto"`` or an explainer's key.
        seed: Seed of the row sample.
        background_rows: Background rows (<= 100).
        budget_s: Time budget in seconds (None: no limit).
        target_class: The class explained (multiclass runs).
        remote: Whether the job may leave the server's process.
    """

    settings: Settings
    run_id: str
    rows: int
    method: str = "auto"
    seed: int = 42
    background_rows: int = BACKGROUND_MAX
    budget_s: float | None = None
    target_class: str | None = None
    remote: bool = True

    def __call__(self, progress, should_stop) -> dict:
        """Explain the rows and save the explanation to a temporary folder.

        Returns:
            ``{"folder", "rows", "explainer", "pid"}``.

        Raises:
            ExplainCancelled: ``should_stop`` was True after a chunk.
            ExplainError: As :func:`core.explain.explain_run`.
        """
        run = load_run(self.settings, self.run_id)

        def chunk_done(done: int, total: int, name: str) -> None:
            progress({"message": f"SHAP: rows {done:,}/{total:,} ({name})", "step": done,
                      "steps": total})
            if should_stop():
                raise ExplainCancelled("SHAP cancelled; nothing was saved.")

        exp = explain_run(run, self.rows, self.seed, self.method, self.background_rows,
                          self.budget_s, chunk_done, self.target_class)
        folder = _temp_folder(self.settings, "shap")
        try:
            save_explanation(run, exp, folder)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return {"folder": str(folder), "rows": len(exp.rows), "explainer": exp.explainer,
                "pid": os.getpid()}

    def commit(self, settings: Settings, result: dict) -> dict:
        """On the server: move the explanation into the run's SHAP cache, remove the folder.

        Returns:
            ``{"run", "rows", "explainer", "pid", "message"}``.

        Raises:
            ExplainError: The worker's files could not be read back.
        """
        folder = Path(result["folder"])
        try:
            run = load_run(settings, self.run_id)
            exp = load_explanation(run, folder)
            if exp is None:
                raise ExplainError("The job's SHAP values could not be read back; compute "
                                   "them again.")
            save_explanation(run, exp)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return {"run": self.run_id, "rows": result["rows"], "explainer": result["explainer"],
                "pid": result["pid"], "message": f"SHAP values for {result['rows']:,} rows "
                                                 f"saved ({result['explainer']})."}


def score_job(settings: Settings, run: Run, table: str, out: str | None = None,
              replace: bool = False, batch_rows: int = SCORE_BATCH_ROWS) -> dict:
    """The keyword arguments of :meth:`core.app.JobManager.submit` for scoring a table, after
    the output name was checked, so that a name that would replace an input or a raw table
    is refused before the job starts.

    Returns:
        ``{"kind": "score", "label", "work", "params"}``.

    Raises:
        SchemaError: No such table.
        OutputTableError: As :func:`core.warehouse.claim_output`.
        AppError: An uplift run (scored in the app's process, :func:`score_table`).
    """
    if run.config.kind != "tabular":
        raise AppError(f"Run {run.run_id} is a {run.config.kind} run; background scoring "
                       f"covers classifiers and regressions. Score it with `python -m core "
                       f"score`.")
    with connect(settings) as con:
        require_table(con, table)
        table = existing_table(con, table)
        out = claim_output(con, out or f"{table}_scored", (table,), replace, "scored table")
    params = {"run_id": run.run_id, "table": table, "out": out, "replace": bool(replace)}
    return {"kind": "score", "label": f"Scoring {table} with run {run.run_id} into {out}",
            "work": ScoreWork(settings, run.run_id, table, out, replace, batch_rows),
            "params": params}


def shap_job(settings: Settings, run: Run, rows: int, method: str = "auto",
             budget_s: float | None = None, target_class: str | None = None) -> dict:
    """The keyword arguments of :meth:`core.app.JobManager.submit` for SHAP values of
    ``rows`` test rows of a run (``{"kind": "shap", "label", "work", "params"}``)."""
    rows = min(int(rows), len(run.test_frame))
    params = {"run_id": run.run_id, "rows": rows, "method": method, "budget_s": budget_s,
              "target_class": target_class}
    return {"kind": "shap", "label": f"SHAP values for {rows:,} test rows of run {run.run_id}",
            "work": ShapWork(settings, run.run_id, rows, method, budget_s=budget_s,
                             target_class=target_class),
            "params": params}


@dataclass(frozen=True)
class MonitorWork:
    """Monitoring a run on a table of new rows as a job's work (plain data, picklable).

    Attributes:
        settings: Workspace settings (the worker's carry ``snapshot_dir``).
        run_id: The monitored run.
        table: The table of new rows.
        chunking: :class:`core.monitor.Chunking`'s fields.
        tables: Tables exported to the worker: ``table`` and, when it is still in the
            warehouse, the run's training table (whose values tell what the run has seen).
        remote: Whether the job may leave the server's process.
    """

    settings: Settings
    run_id: str
    table: str
    chunking: dict
    tables: tuple[str, ...] = ()
    remote: bool = True

    def __call__(self, progress, should_stop) -> dict:
        """Monitor without saving.

        Returns:
            ``{"result", "pid"}``: the monitoring result (:func:`core.monitor.monitor`) and
            the worker's process id.

        Raises:
            SchemaError, MonitorError: As :func:`core.monitor.monitor`.
        """
        progress({"message": f"Scoring '{self.table}' and testing every feature"})
        run = load_run(self.settings, self.run_id)
        result = monitor(self.settings, run, self.table, Chunking(**self.chunking), save=False)
        return {"result": result, "pid": os.getpid()}

    def commit(self, settings: Settings, result: dict) -> dict:
        """On the server: store the result in the warehouse.

        Returns:
            ``{"monitor_id", "dataset_drift", "alerts", "pid", "message"}``.
        """
        res = result["result"]
        mid = save_monitor(settings, res)
        drift = "dataset drift" if res["dataset_drift"] else "no dataset drift"
        return {"monitor_id": mid, "dataset_drift": bool(res["dataset_drift"]),
                "alerts": len(res["alerts"]), "pid": result["pid"],
                "message": f"Monitored run {self.run_id} on '{self.table}': {drift}, "
                           f"{len(res['alerts'])} alert(s) (result {mid})."}


def monitor_job(settings: Settings, run: Run, table: str, chunking: Chunking) -> dict:
    """The keyword arguments of :meth:`core.app.JobManager.submit` for monitoring ``run`` on
    ``table`` (``{"kind": "monitor", "label", "work", "params"}``).

    Raises:
        SchemaError: No such table.
    """
    with connect(settings) as con:
        require_table(con, table)
        table = existing_table(con, table)
        own = run.config.table
        tables = (table,) + ((existing_table(con, own),) if own and _exists(con, own)
                             and existing_table(con, own) != table else ())
    params = {"run_id": run.run_id, "table": table, "chunking": dataclasses.asdict(chunking)}
    return {"kind": "monitor", "label": f"Monitoring run {run.run_id} on {table}",
            "work": MonitorWork(settings, run.run_id, table, params["chunking"], tables),
            "params": params}


def _exists(con, table: str) -> bool:
    try:
        require_table(con, table)
    except AppError:
        return False
    return True
