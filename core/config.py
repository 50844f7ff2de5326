"""Workspace settings read from the environment; importing this module touches nothing."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent / "data"
SAMPLES_DIR = DEFAULT_DATA_DIR / "samples"


@dataclass(frozen=True)
class Settings:
    """Where LiftLab keeps its state and a few global limits.

    Attributes:
        data_dir: The workspace folder holding ``warehouse.duckdb`` and ``runs/``.
        seed: Default random seed for splits, training and sampling.
        lock_timeout_s: Seconds to wait for another process's write lock before giving up.
        load_sample: Whether to load the shipped bank-marketing sample on first start.
        snapshot_dir: Set only inside a job's worker process: a folder holding a Parquet
            snapshot of the warehouse's table and bookkeeping, exported by the server
            (:func:`core.warehouse.export_snapshot`). Every ``connect`` then opens the worker's
            own DuckDB file built from it and never the warehouse file, and a saved run is not registered
            (the server registers it). None (default): the warehouse file itself.
    """

    data_dir: Path
    seed: int = 42
    lock_timeout_s: float = 10.0
    load_sample: bool = True
    snapshot_dir: Path | None = None

    @property
    def warehouse_path(self) -> Path:
        """Path of the DuckDB file."""
        return self.data_dir / "warehouse.duckdb"

    @property
    def runs_dir(self) -> Path:
        """Folder that holds one sub-folder per run."""
        return self.data_dir / "runs"


def load_settings(data_dir: str | os.PathLike | None = None) -> Settings:
    """Build :class:`Settings` from an explicit folder or ``LIFTLAB_DATA_DIR``.

    Args:
        data_dir: Workspace folder; when None, ``LIFTLAB_DATA_DIR`` or ``data/`` is used.

    Returns:
        The settings. No folder is created here.
    """
    chosen = data_dir or os.environ.get("LIFTLAB_DATA_DIR") or DEFAULT_DATA_DIR
    load_sample = os.environ.get("LIFTLAB_LOAD_SAMPLE", "1") not in {"0", "false", "no"}
    return Settings(data_dir=Path(chosen).expanduser().resolve(), load_sample=load_sample)
