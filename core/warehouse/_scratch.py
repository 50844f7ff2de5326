"""Scratch space inside the workspace, and the clean-up of what a killed process left behind.

Temporary files (transcoded uploads, sniffed heads, streamed snapshots, runs being written or
imported) live in the data directory, never in the system's temp folder, under names that carry
the writing process's id: ``tmp/<what>-p<pid>-<random>``, ``runs/.tmp-p<pid>-<run>``,
``runs/.import-p<pid>-<random>``. :func:`clean_litter` removes the entries of processes that no
longer run (a ``kill -9``, a power cut), and leaves live processes' work alone, so the app and the
command line may share a workspace and both clean at start.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from core.config import Settings

_PID = re.compile(r"-p(\d+)-")
STALE_UPLOAD_S = 24 * 3600  # an upload staged but never loaded is dropped after a day
LEGACY_STALE_S = 3600  # entries of earlier versions carry no process id


def scratch_root(settings: Settings) -> Path:
    """``<data_dir>/tmp``, created if needed."""
    root = settings.data_dir / "tmp"
    root.mkdir(parents=True, exist_ok=True)
    return root


def private_dir(parent: Path, prefix: str) -> Path:
    """A new folder ``<parent>/<prefix>-p<pid>-<random>`` only this process writes to.

    Args:
        parent: Where to create it (created if needed).
        prefix: What it is for, e.g. ``"ingest"`` or ``".import"``.

    Returns:
        The new, empty folder.
    """
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}-{pid_tag()}-", dir=parent))


def pid_tag() -> str:
    """``p<pid>``: the mark that tells :func:`clean_litter` whose entry a name is."""
    return f"p{os.getpid()}"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stale(path: Path, now: float) -> bool:
    match = _PID.search(path.name)
    if match:
        return not _alive(int(match.group(1)))
    try:
        return now - path.stat().st_mtime > LEGACY_STALE_S
    except FileNotFoundError:
        return False


def clean_litter(settings: Settings) -> list[str]:
    """Remove temporary entries whose writer is gone.

    Looks at ``tmp/*``, ``runs/.tmp-*``, ``runs/.import-*``, ``runs/.deleting-*`` (the writer's
    process id is in the name; entries of earlier versions without one are removed after an
    hour) and at ``uploads/*`` staged more than a day ago.

    Args:
        settings: Workspace settings.

    Returns:
        The names removed (relative to the data directory).
    """
    now, removed = time.time(), []
    candidates = []
    if (settings.data_dir / "tmp").is_dir():
        candidates += list((settings.data_dir / "tmp").iterdir())
    if settings.runs_dir.is_dir():
        candidates += [p for p in settings.runs_dir.iterdir()
                       if p.name.startswith((".tmp-", ".import-", ".deleting-"))]
    for path in candidates:
        if _stale(path, now):
            _remove(path)
            removed.append(str(path.relative_to(settings.data_dir)))
    uploads = settings.data_dir / "uploads"
    if uploads.is_dir():
        for path in uploads.iterdir():
            try:
                old = now - path.stat().st_mtime > STALE_UPLOAD_S
            except FileNotFoundError:
                continue
            if old:
                _remove(path)
                removed.append(str(path.relative_to(settings.data_dir)))
    return removed


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
