"""Export a run as a zip archive and import one from another LiftLab, treating the archive as
hostile until every part of it has been checked.

An import never builds a path from the archive before checking it: member names must be one of
the file names a run holds (``config.json``, ``model.keras``, …, or ``arms/<arm>/<file>`` for an
uplift run), the run id must be a plain id, and the sizes are capped. The files are extracted
into a fresh private folder (``runs/.import-p<pid>-<random>``), the run is loaded and scores a
few of its own test rows, and only then is it renamed into place and registered. Nothing is
unpickled: Keras models load in safe mode, scikit-learn models are skops files of trusted
types. Every failure raises :class:`ImportRunError` and leaves nothing behind.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import zipfile
from pathlib import Path, PurePosixPath

import numpy as np

from core.config import Settings
from core.errors import AppError
from core.recommend import RecRun
from core.runs import Run, is_run_id, load_run, load_run_config, register_run, run_folder
from core.uplift import predict_uplift
from core.warehouse import private_dir

SUFFIXES = {".json", ".parquet", ".keras", ".skops", ".npz"}
ARMS = ("control", "ct", "treated")
MAX_MEMBERS = 64
MAX_MEMBER_BYTES = 1 << 30
MAX_TOTAL_BYTES = 2 << 30
MAX_RATIO = 200  # a member unpacking to more than 200x its compressed size is a zip bomb
_NAME = re.compile(r"^[a-z_]+\.[a-z]+$")


class ImportRunError(AppError):
    """An archive is not a LiftLab run."""

    default_title = "The run could not be imported"


def export_run(settings: Settings, run_id: str) -> bytes:
    """A zip archive of a run folder: its files, and an uplift run's ``arms/<arm>/`` files.

    Raises:
        RunNotFoundError: No such run.
    """
    folder = run_folder(settings, run_id)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder).as_posix()
            if path.is_file() and _allowed(rel):
                zf.write(path, arcname=rel)
    return buffer.getvalue()


def _allowed(name: str) -> bool:
    """Whether a member name is one a run can hold (checked as text, before any path)."""
    if "\\" in name or name.startswith("/") or "\x00" in name:
        return False
    parts = PurePosixPath(name).parts
    if len(parts) == 3 and parts[0] == "arms" and parts[1] in ARMS:
        parts = parts[2:]
    return (len(parts) == 1 and bool(_NAME.match(parts[0]))
            and PurePosixPath(parts[0]).suffix in SUFFIXES)


def _check_members(zf: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    members = [m for m in zf.infolist() if not m.is_dir()]
    names = [m.filename for m in members]
    if "config.json" not in names or "metrics.json" not in names:
        raise ImportRunError("The archive has no config.json and metrics.json: it is not a "
                             "LiftLab run. Export runs from the Runs page or python -m core.")
    if len(members) > MAX_MEMBERS or len(set(names)) != len(names):
        raise ImportRunError(f"The archive holds {len(members)} entries (or repeats one); a "
                             f"LiftLab run has at most {MAX_MEMBERS}. Nothing was imported.")
    for m in members:
        if not _allowed(m.filename):
            raise ImportRunError(f"The archive holds '{m.filename[:120]}', which a LiftLab run "
                                 f"never contains; nothing was imported.")
        if m.file_size > MAX_MEMBER_BYTES or (
                m.compress_size and m.file_size > MAX_RATIO * m.compress_size
                and m.file_size > 1 << 20):
            raise ImportRunError(f"'{m.filename}' unpacks to {m.file_size:,} bytes, more than "
                                 f"a run's file can be; nothing was imported.")
    if sum(m.file_size for m in members) > MAX_TOTAL_BYTES:
        raise ImportRunError("The archive unpacks to more than 2 GB; nothing was imported.")
    return members


def _read(zf: zipfile.ZipFile, m: zipfile.ZipInfo) -> bytes:
    """A member's bytes, refusing more than it declared (a lying header)."""
    with zf.open(m) as fh:
        data = fh.read(m.file_size + 1)
    if len(data) > m.file_size:
        raise ImportRunError(f"'{m.filename}' holds more bytes than its header declares; "
                             f"nothing was imported.")
    return data


def _original_id(zf: zipfile.ZipFile, member: zipfile.ZipInfo) -> str:
    try:
        config = load_run_config(json.loads(_read(zf, member)))
    except AppError as err:
        raise ImportRunError(f"{err} Nothing was imported.") from err
    except (ValueError, UnicodeDecodeError) as err:
        raise ImportRunError(f"The archive's config.json is not JSON ({err}); nothing was "
                             f"imported.") from err
    if not is_run_id(config.run_id):
        raise ImportRunError(f"The archive names its run '{config.run_id[:80]}', which is not a "
                             f"run id (letters, digits, '-', '_' and '.'); nothing was "
                             f"imported.")
    return config.run_id


def _validate(folder: Path) -> Run:
    """Load the extracted run and score a few of its own test rows."""
    try:
        run = Run(folder)
        _ = run.metrics["metrics"]
        if run.config.kind == "next_item":
            _ = RecRun(folder).sequences
            return run
        if run.config.kind == "uplift":
            out = np.concatenate(predict_uplift(run, run.test_frame.head(5)))
        else:
            out = np.asarray(run.predict(run.test_frame.head(5)), dtype=float)
        if not np.all(np.isfinite(out)):
            raise ImportRunError("The imported model scores its own test rows as NaN or "
                                 "infinite; nothing was imported.")
    except AppError as err:
        if isinstance(err, ImportRunError):
            raise
        raise ImportRunError(f"The run's files could not be read ({err}); nothing was "
                             f"imported.") from err
    except Exception as err:  # any parse or load failure means a bad archive
        raise ImportRunError(f"The run's files could not be read ({type(err).__name__}: "
                             f"{str(err)[:200]}); nothing was imported.") from err
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
        ImportRunError: Not a zip, unexpected or oversized members, a bad run id or
            configuration, or files that do not load and score.
    """
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as err:
        raise ImportRunError("The file is not a zip archive of a LiftLab run.") from err
    with zf:
        members = _check_members(zf)
        original = _original_id(zf, next(m for m in members if m.filename == "config.json"))
        tmp = private_dir(settings.runs_dir, ".import")
        try:
            for m in members:
                target = tmp.joinpath(*PurePosixPath(m.filename).parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(_read(zf, m))
            run = _validate(tmp)
            run_id = _free_id(settings, original)
            config = dict(run.config.to_dict(), run_id=run_id, imported_from=original)
            (tmp / "config.json").write_text(json.dumps(config, indent=2))
            tmp.rename(settings.runs_dir / run_id)
        except BaseException as err:
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(err, OSError):
                raise ImportRunError(f"The run could not be written ({err}); nothing was "
                                     f"imported.") from err
            raise
    register_run(settings, load_run(settings, run_id))
    return run_id


def _free_id(settings: Settings, run_id: str) -> str:
    taken = {p.name.lower() for p in settings.runs_dir.iterdir()}
    candidate, k = run_id, 1
    while candidate.lower() in taken:
        candidate = f"{run_id}-imported" + (f"-{k}" if k > 1 else "")
        k += 1
    return candidate
