"""A tabular run's splits again: the table re-read and split with the run's own seed, so that
audits, pruning and distillation see exactly the rows the run trained, validated and was tested
on."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.config import Settings
from core.errors import RunNotFoundError
from core.features import load_task_data, split_indices
from core.runs._store import Run
from core.warehouse import connect


@dataclass(frozen=True)
class RunSplits:
    """Raw rows and targets of a run's splits.

    Attributes:
        x: Raw features of the whole table (n_rows, n_features).
        y: Targets (n_rows,) as the run encodes them (0/1, class index or value).
        train: Row indices of the training split.
        valid: Row indices of the validation split.
        test: Row indices of the test split.
    """

    x: pd.DataFrame
    y: np.ndarray
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray


def run_splits(settings: Settings, run: Run) -> RunSplits:
    """Re-read a tabular in-memory run's table and split it as training did.

    Raises:
        RunNotFoundError: Not a tabular run, a streamed run (its split was made in DuckDB),
            or a table whose row count changed since training (the rows would not match).
    """
    c = run.config
    if not c.is_tabular or c.data_pipeline == "stream":
        what = "a streamed run" if c.is_tabular else f"a {c.kind} run"
        raise RunNotFoundError(f"Run '{run.run_id}' is {what}; this needs a tabular run trained "
                               f"in memory, whose split can be made again.")
    spec = dataclasses.replace(c.spec, positive_class=c.positive_class, task=c.task)
    with connect(settings) as con:
        data = load_task_data(con, spec)
    expected = c.rows.get("table")
    if expected is not None and int(expected) != len(data.y):
        raise RunNotFoundError(
            f"Table '{c.table}' has {len(data.y):,} rows now but {int(expected):,} when run "
            f"'{run.run_id}' trained; its training rows can no longer be told apart.")
    s = split_indices(data.y, spec.test_size, spec.valid_size, spec.seed,
                      stratify=data.task != "regression")
    return RunSplits(data.x, data.y, s.train, s.valid, s.test)
