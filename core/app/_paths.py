"""Files the command line writes for the analyst (a review report, a run archive): the path
is checked before anything is written.

A path is refused when it is a folder, when it lies inside the workspace's data directory (the
warehouse, runs, keys and temporary files are LiftLab's own: an HTML report written over
``warehouse.duckdb`` would destroy every table), when its folder does not exist, or when the
file exists and the analyst did not ask to overwrite it (``--force``).
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from core.config import Settings
from core.errors import AppError


class OutputPathError(AppError):
    """An output file path that LiftLab will not write to."""

    default_title = "The output file cannot be written"


def output_file(settings: Settings, out: str, force: bool = False,
                suffixes: tuple[str, ...] = ()) -> Path:
    """Check an output file path given by the analyst.

    Args:
        settings: Workspace settings (their data directory is off limits).
        out: The path as typed.
        force: Overwrite an existing file.
        suffixes: Allowed suffixes (lower case, with the dot); empty allows any.

    Returns:
        The absolute path to write.

    Raises:
        OutputPathError: A folder, a path inside the data directory, a missing folder, a
            suffix not allowed, or an existing file without ``force``.
    """
    if not str(out or "").strip():
        raise OutputPathError("Give an output file name, e.g. --out review.html.")
    path = Path(out).expanduser()
    if path.is_dir():
        raise OutputPathError(f"'{out}' is a folder; give a file name inside it, e.g. "
                              f"{path / 'review.html'}.")
    target = path.parent.resolve() / path.name
    if target.is_symlink() or (target.exists() and target.resolve() != target):
        target = target.resolve()
    data = settings.data_dir.resolve()
    if target == data or data in target.parents:
        raise OutputPathError(f"'{out}' is inside the workspace's data directory ({data}), "
                              f"which holds LiftLab's own files (warehouse, runs, keys). Write "
                              f"the file somewhere else.")
    if not target.parent.is_dir():
        raise OutputPathError(f"The folder {target.parent} does not exist; create it or choose "
                              f"another output path.")
    if suffixes and target.suffix.lower() not in suffixes:
        raise OutputPathError(f"'{out}' should end with {' or '.join(suffixes)}.")
    if target.exists() and not force:
        raise OutputPathError(f"{target} exists already; pass --force to overwrite it, or "
                              f"choose another name.")
    return target


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to a hidden sibling, then rename it over ``path`` (a crash leaves the old
    file or the new one, never half of either)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def finite_float(text: str) -> float:
    """An ``argparse`` type: a finite number (``inf``, ``nan`` and ``1e400`` are refused, so no
    command computes with them or prints them)."""
    try:
        value = float(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from err
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"'{text}' is not a finite number")
    return value
