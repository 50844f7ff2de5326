"""Run housekeeping: compare, delete, export as zip and import a zip from another LiftLab.

Imports never unpickle: Keras models load with ``safe_mode=True``, scikit-learn models are skops
files checked against a list of trusted types, everything else is JSON, Parquet or ``.npz``
(loaded without pickle). A bad archive is refused whole and leaves nothing behind.
"""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path, PurePosixPath

import pandas as pd

from core.config import Settings
from core.errors import AppError
from core.runs import Run, load_run, run_folder
from core.warehouse import META_SCHEMA, connect

IMPORT_SUFFIXES = {".json", ".parquet", ".keras", ".skops", ".npz"}
MAX_IMPORT_BYTES = 2 << 30


class ImportRunError(AppError):
    """An archive is not a LiftLab run."""

    default_title = "The run could not be imported"


def delete_run(settings: Settings, run_id: str) -> None:
    """Delete a run folder and its registry row (the UI asks for confirmation first).

    Raises:
        RunNotFoundError: No such run.
    """
    folder = run_folder(settings, run_id)
    trash = folder.with_name(f".deleting-{run_id}")
    folder.rename(trash)
    shutil.rmtree(trash, ignore_errors=True)
    with connect(settings) as con:
        con.execute(f"DELETE FROM {META_SCHEMA}.runs WHERE run_id = ?", [run_id])


def export_run(settings: Settings, run_id: str) -> bytes:
    """A zip archive of a run folder (flat: one entry per artefact file).

    Raises:
        RunNotFoundError: No such run.
    """
    folder = run_folder(settings, run_id)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.suffix in IMPORT_SUFFIXES:
                zf.write(path, arcname=path.name)
    return buffer.getvalue()


def _check_members(zf: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    members = [m for m in zf.infolist() if not m.is_dir()]
    names = {m.filename for m in members}
    if "config.json" not in names or "metrics.json" not in names:
        raise ImportRunError("The archive has no config.json and metrics.json: it is not a "
                             "LiftLab run. Export runs from the Runs page or python -m core.")
    for m in members:
        p = PurePosixPath(m.filename)
        if len(p.parts) != 1 or p.name.startswith(".") or p.suffix not in IMPORT_SUFFIXES:
            raise ImportRunError(f"The archive holds '{m.filename}', which a LiftLab run never "
                                 f"contains; nothing was imported.")
    if sum(m.file_size for m in members) > MAX_IMPORT_BYTES:
        raise ImportRunError("The archive unpacks to more than 2 GB; nothing was imported.")
    return members


def _validate(folder: Path) -> Run:
    try:
        run = Run(folder)
        _ = run.config["spec"]["table"], run.config["model"], run.metrics["metrics"]
        if (folder / "preprocessor.json").exists():
            _ = run.preprocessor
        if (folder / "model.keras").exists() or (folder / "model.skops").exists():
            _ = run.model
    except AppError:
        raise
    except Exception as err:  # any parse or load failure means a bad archive
        raise ImportRunError(f"The run's files could not be read ({type(err).__name__}: "
                             f"{err}); nothing was imported.") from err
    return run


def import_run(settings: Settings, data: bytes) -> str:
    """Import a run archive made by :func:`export_run`.

    The run keeps its id unless that id exists here, in which case ``-imported`` (and a
    number) is appended.

    Args:
        settings: Workspace settings.
        data: The zip archive's bytes.

    Returns:
        The imported run's id.

    Raises:
        ImportRunError: Not a zip, unexpected files, or files that do not load.
    """
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as err:
        raise ImportRunError("The file is not a zip archive of a LiftLab run.") from err
    settings.runs_dir.mkdir(parents=True, exist_ok=True)
    with zf:
        members = _check_members(zf)
        original = json.loads(zf.read("config.json")).get("run_id", "imported")
        tmp = settings.runs_dir / f".import-{original}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        try:
            for m in members:
                (tmp / m.filename).write_bytes(zf.read(m))
            run = _validate(tmp)
            run_id = _free_id(settings, str(original))
            config = dict(run.config, run_id=run_id, imported_from=original)
            (tmp / "config.json").write_text(json.dumps(config, indent=2))
            tmp.rename(settings.runs_dir / run_id)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    _register(settings, load_run(settings, run_id))
    return run_id


def _free_id(settings: Settings, run_id: str) -> str:
    safe = "".join(ch for ch in run_id if ch.isalnum() or ch in "-_") or "imported"
    candidate, k = safe, 1
    while (settings.runs_dir / candidate).exists():
        candidate = f"{safe}-imported" + (f"-{k}" if k > 1 else "")
        k += 1
    return candidate


def _register(settings: Settings, run: Run) -> None:
    from datetime import datetime

    c = run.config
    with connect(settings) as con:
        con.execute(f"INSERT OR REPLACE INTO {META_SCHEMA}.runs VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [run.run_id, datetime.fromisoformat(c["created_at"]), c["spec"]["table"],
                     c["spec"]["target"], c["model"], c.get("task"),
                     json.dumps(run.metrics["metrics"])])


def compare_runs(settings: Settings, run_ids: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Side-by-side metrics and the parameters that differ between 2–4 runs.

    Returns:
        ``(metrics, params)``: metrics indexed by metric name with one column per run; params
        with one row per differing setting (model config, spec, device, rows).

    Raises:
        AppError: Fewer than 2 or more than 4 runs.
    """
    if not 2 <= len(run_ids) <= 4:
        raise AppError(f"Compare 2 to 4 runs; {len(run_ids)} selected.")
    runs = [load_run(settings, r) for r in run_ids]
    metrics = pd.DataFrame({r.run_id: r.metrics["metrics"] for r in runs})
    flat = {}
    for r in runs:
        c = r.config
        values = {f"model.{k}": v for k, v in c.get("model_config", {}).items()}
        values.update({f"data.{k}": v for k, v in c["spec"].items()})
        values.update({"model": c["model"], "task": c.get("task"), "device": c.get("device"),
                       "rows.train": c.get("rows", {}).get("train"),
                       "duration_s": c.get("duration_s")})
        flat[r.run_id] = {k: json.dumps(v) if isinstance(v, list | dict) else v
                          for k, v in values.items()}
    params = pd.DataFrame(flat)
    differs = params.astype(str).nunique(axis=1) > 1
    return metrics, params[differs]

