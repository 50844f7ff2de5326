"""Run housekeeping: compare, delete, export as zip and import a zip from another LiftLab.

Imports never unpickle: Keras models load with ``safe_mode=True``, scikit-learn models are skops
files checked against a list of trusted types, everything else is JSON, Parquet or ``.npz``
(loaded without pickle). A bad archive is refused whole and leaves nothing behind.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime

import pandas as pd

from core.config import Settings
from core.errors import AppError
from core.runs._store import PENDING_FILE, Run, is_run_id, load_run, run_folder
from core.specs import MODELS, ModelConfig
from core.warehouse import META_SCHEMA, connect, pid_tag, transaction


def delete_run(settings: Settings, run_id: str) -> None:
    """Delete a run folder and its registry row (the UI asks for confirmation first).

    Raises:
        RunNotFoundError: No such run.
    """
    folder = run_folder(settings, run_id)
    trash = folder.with_name(f".deleting-{pid_tag()}-{run_id}")
    folder.rename(trash)
    shutil.rmtree(trash, ignore_errors=True)
    with connect(settings) as con:
        con.execute(f"DELETE FROM {META_SCHEMA}.runs WHERE run_id = ?", [run_id])


def register_run(settings: Settings, run: Run) -> None:
    """Register (or re-register) a run folder in the warehouse's run list, in one transaction.

    Raises:
        WorkspaceBusyError: Another process kept the warehouse past ``lock_timeout_s``.
    """
    with connect(settings) as con, transaction(con):
        _insert_run(con, run)


def _insert_run(con, run: Run) -> None:
    c = run.config
    con.execute(f"INSERT OR REPLACE INTO {META_SCHEMA}.runs VALUES (?, ?, ?, ?, ?, ?, ?)",
                [run.run_id, datetime.fromisoformat(c.created_at), c.table, c.target,
                 c.model, c.task, json.dumps(run.metrics["metrics"])])


class RegistrationFailed(AppError):
    """A job's run was trained but could not be registered; its folder was removed."""


def register_saved_run(settings: Settings, run_id: str) -> None:
    """Register a run a job's worker saved (the server side of a job; the worker never
    writes the warehouse), or remove its folder: a run is listed and registered, or gone.

    Args:
        settings: The server's workspace settings.
        run_id: The run the worker returned.

    Raises:
        RegistrationFailed: The folder could not be read or the warehouse not written (the
            reason is in the message); nothing of the run is left.
    """
    try:
        register_run(settings, load_run(settings, run_id))
        (settings.runs_dir / run_id / PENDING_FILE).unlink(missing_ok=True)
    except Exception as err:  # noqa: BLE001 -- any failure: the run must not stay half-there
        folder = settings.runs_dir / run_id
        if is_run_id(run_id) and folder.is_dir():
            trash = folder.with_name(f".deleting-{pid_tag()}-{run_id}")
            folder.rename(trash)
            shutil.rmtree(trash, ignore_errors=True)
        raise RegistrationFailed(f"Run {run_id} trained but could not be registered in the "
                                 f"warehouse ({err}); it was removed, nothing was kept. Train "
                                 f"it again.") from err


def register_saved_runs(settings: Settings, run_ids: list[str], also=None):
    """Register several runs a job saved, and write what goes with them, in one transaction
    (the server side of a job that made more than one run, or runs plus other records); on
    any failure every one of the runs is removed: all are listed and registered, or none is.

    Args:
        settings: The server's workspace settings.
        run_ids: The runs to register (folders under ``runs_dir``; in a job run on the
            server's own thread they may be registered already: registering again is a no-op).
        also: Called as ``also(con)`` inside the same transaction after the runs' rows are
            written (e.g. a lineage record, a table, model-registry versions); its return
            value is returned.

    Returns:
        What ``also`` returned (None without it).

    Raises:
        RegistrationFailed: A folder could not be read or the warehouse not written, or
            ``also`` raised (the reason is in the message); none of the runs is left.
    """
    try:
        runs = [load_run(settings, run_id) for run_id in run_ids]
        with connect(settings) as con, transaction(con):
            for run in runs:
                _insert_run(con, run)
            out = also(con) if also is not None else None
        for run_id in run_ids:
            (settings.runs_dir / run_id / PENDING_FILE).unlink(missing_ok=True)
        return out
    except Exception as err:  # noqa: BLE001 -- any failure: no run may stay half-there
        _discard_runs(settings, run_ids)
        raise RegistrationFailed(f"Run{'s' if len(run_ids) != 1 else ''} "
                                 f"{', '.join(run_ids)} finished but could not be registered "
                                 f"in the warehouse ({err}); removed, nothing was kept. Start "
                                 f"it again.") from err


def _discard_runs(settings: Settings, run_ids: list[str]) -> None:
    """Remove run folders and any row they already had (best effort: the folder goes first)."""
    for run_id in run_ids:
        folder = settings.runs_dir / run_id
        if is_run_id(run_id) and folder.is_dir():
            trash = folder.with_name(f".deleting-{pid_tag()}-{run_id}")
            folder.rename(trash)
            shutil.rmtree(trash, ignore_errors=True)
    try:
        with connect(settings) as con:
            for run_id in run_ids:
                con.execute(f"DELETE FROM {META_SCHEMA}.runs WHERE run_id = ?", [run_id])
    except AppError:  # the warehouse is busy: the row stays, but list_runs lists folders only
        pass


def remove_pending_runs(settings: Settings, snapshot) -> list[str]:
    """Remove the run folders a job's worker saved but the server never registered (the worker
    died or was killed between saving and returning): a run is listed and registered, or gone.

    Args:
        settings: The server's workspace settings.
        snapshot: The job's snapshot folder (what the worker wrote into ``.pending``).

    Returns:
        The removed run ids.
    """
    removed = []
    for marker in sorted(settings.runs_dir.glob(f"*/{PENDING_FILE}")):
        try:
            owner = marker.read_text()
        except OSError:
            continue
        folder = marker.parent
        if owner == str(snapshot) and is_run_id(folder.name):
            trash = folder.with_name(f".deleting-{pid_tag()}-{folder.name}")
            folder.rename(trash)
            shutil.rmtree(trash, ignore_errors=True)
            removed.append(folder.name)
    return removed


TASK_LABELS = {"binary": "binary classifier", "multiclass": "multiclass classifier",
               "regression": "regression model", "next_item": "next-item recommender",
               "uplift": "uplift model"}

_REC_NEURAL = ("epochs", "batch_size", "learning_rate", "embed_dim", "window", "seed",
               "net.dropout", "net.softmax", "net.negatives", "net.patience")
MODEL_PARAMETERS: dict[str, tuple[str, ...]] = {
    **{m: tuple(ModelConfig.of(model=m).used_options()) for m in MODELS},
    "popular": ("seed",),
    "transitions": ("seed",),
    "gru4rec": (*_REC_NEURAL, "net.cell"),
    "sasrec": (*_REC_NEURAL, "net.blocks", "net.heads"),
}
NOT_USED = "—"


def _flatten(values: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in values.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def model_parameters(model: str, model_config: dict) -> dict:
    """The settings of a run's model config that its model family actually uses.

    A histogram gradient boosting run carries the form's epochs and batch size in its config,
    but never used them; they are left out here. Nested settings are flattened
    (``net.cell``) and the model name itself is not repeated.

    Args:
        model: The model family (``mlp``, ``hgb``, ``sasrec``, …).
        model_config: The run's ``model_config`` as saved in config.json.

    Returns:
        Setting name -> value, in the family's order; every setting (but ``model``) for a
        family LiftLab does not know.
    """
    flat = _flatten(model_config)
    flat.pop("model", None)
    used = MODEL_PARAMETERS.get(model)
    if used is None:
        return flat
    return {k: flat[k] for k in used if k in flat}


def default_comparison(runs: list[dict]) -> list[str]:
    """The two runs the Runs page compares by default: the newest comparable pair.

    Runs of the same task on the same table and target are preferred; failing that, two runs
    of the same task. Runs of different tasks share no metric, so they are never paired.

    Args:
        runs: Run summaries, newest first (as :func:`core.runs.list_runs` returns them).

    Returns:
        Two run ids (newer first), or an empty list when no two runs are comparable.
    """
    rules = (lambda r: (r["task"], r["table"], r["target"]), lambda r: r["task"])
    for key in rules:
        for i, a in enumerate(runs):
            for b in runs[i + 1:]:
                if key(a) == key(b):
                    return [a["run_id"], b["run_id"]]
    return []


def comparison_problem(runs: list[dict]) -> tuple[str, str] | None:
    """Why the chosen runs cannot be compared metric by metric, or only with care.

    Args:
        runs: Summaries of the chosen runs (dicts with ``run_id``, ``task``, ``table``,
            ``target`` and ``model``).

    Returns:
        None when they are comparable; ``("error", message)`` when their tasks differ (they
        share no metric); ``("note", message)`` when they learn different tables or targets.
    """
    tasks = {r["task"] for r in runs}
    if len(tasks) > 1:
        kinds = "; ".join(f"{r['run_id']} is a {TASK_LABELS.get(r['task'], r['task'])}"
                          for r in runs)
        return "error", (f"These runs cannot be compared: they solve different tasks and share "
                         f"no metric ({kinds}). Pick runs of the same task.")
    problems = {f"{r['table']} → {r['target']}" for r in runs}
    if len(problems) > 1:
        return "note", (f"These runs learn different data ({', '.join(sorted(problems))}): "
                        f"their metrics measure different problems, so compare them with care.")
    return None


def _shown(value) -> str:
    if value is None:
        return NOT_USED
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return ", ".join(_shown(v) for v in value) if value else "(none)"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _run_parameters(run: Run) -> dict[str, str]:
    c = run.config
    values = {"model": c.model, "task": c.task}
    if c.uplift is not None:
        values["learner"] = c.uplift.learner
    values.update({f"model.{k}": v for k, v in model_parameters(c.model, c.model_fields).items()})
    values.update({f"data.{k}": v for k, v in c.spec_fields.items()})
    if values.get("data.features"):  # the same set in another order is the same features
        values["data.features"] = sorted(values["data.features"])
    if values.get("data.features") == []:
        values["data.features"] = "all but the target and excluded columns"
    if c.extra.get("estimator"):
        est = c.extra["estimator"]
        values["model.estimator"] = est["class"] + (
            f" ({est['iterations']} iterations)" if est.get("iterations") is not None else "")
    if "excluded_columns" in c.to_dict():
        values["data.excluded_columns"] = list(c.excluded_columns)
    values.update({"device": c.device, "rows.train": c.rows.get("train"),
                   "training time (s)": c.duration_s})
    return {k: _shown(v) for k, v in values.items()}


def compare_runs(settings: Settings, run_ids: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Side-by-side metrics and the parameters that differ between 2–4 runs.

    Only the settings each run's model family uses are listed (see :func:`model_parameters`);
    a setting one run does not use reads ``—`` in its column.

    Returns:
        ``(metrics, params)``: metrics (floats) indexed by metric name with one column per run,
        metrics no chosen run has left out; params (text) with one row per differing setting
        (model, model config, data spec, device, training rows, seconds).

    Raises:
        AppError: Fewer than 2 or more than 4 runs.
    """
    if not 2 <= len(run_ids) <= 4:
        raise AppError(f"Compare 2 to 4 runs; {len(run_ids)} selected.")
    runs = [load_run(settings, r) for r in run_ids]
    numbers = {r.run_id: {k: float(v) for k, v in r.metrics["metrics"].items()
                          if isinstance(v, int | float) and not isinstance(v, bool)}
               for r in runs}
    metrics = pd.DataFrame(numbers, columns=run_ids, dtype=float).dropna(how="all")
    params = pd.DataFrame({r.run_id: _run_parameters(r) for r in runs}, columns=run_ids)
    params = params.fillna(NOT_USED)
    return metrics, params[params.nunique(axis=1) > 1]
