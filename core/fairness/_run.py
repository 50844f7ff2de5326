"""Fairness of a saved binary run: its test rows' sensitive values (a feature of the run, or a
column it never learned from, read back from the table for exactly the test rows) and the
report at a threshold."""

from __future__ import annotations

import numpy as np

from core.config import Settings
from core.errors import SchemaError
from core.fairness._metrics import FairnessReport, fairness_report
from core.features import label_text, split_indices
from core.runs import LABEL_COL, SCORE_COL, Run
from core.warehouse import connect, read_table, table_columns


def _check_binary(run: Run) -> None:
    c = run.config
    if c.kind != "tabular" or c.task != "binary":
        raise SchemaError(f"Fairness compares decisions of a binary classifier; run "
                          f"'{run.run_id}' is a {c.task} run.")


def sensitive_values(settings: Settings, run: Run, by: str) -> np.ndarray:
    """The sensitive column's value for each of the run's test rows, in test-split order.

    A feature of the run is read from the saved test rows. Any other column of the run's table
    (e.g. ``sex`` left out as personal data) is read from the table and matched to the test
    rows by replaying the run's seeded split over the same rows; the labels must then agree
    row for row, so a table changed since training is refused rather than misaligned.

    Args:
        settings: Workspace settings.
        run: A binary run.
        by: Column name (as the table names it).

    Returns:
        Object array of shape (n_test,).

    Raises:
        SchemaError: Not a binary run, unknown column, a streamed run (its hash split cannot
            be replayed), or a table that no longer matches the run's test rows.
    """
    _check_binary(run)
    test = run.test_frame
    if by in test.columns and by not in (LABEL_COL, SCORE_COL):
        return test[by].to_numpy(dtype=object)
    c = run.config
    with connect(settings) as con:
        columns = [name for name, _ in table_columns(con, c.table)]
        if by not in columns:
            raise SchemaError(f"Table '{c.table}' has no column '{by}'. Its columns are: "
                              f"{', '.join(columns)}.")
        if c.data_pipeline == "stream":
            raise SchemaError(f"'{by}' is not a feature of this streamed run, and its split "
                              f"cannot be replayed to find the test rows. Train with '{by}' "
                              f"as a feature, or on the in-memory pipeline.")
        frame = read_table(con, c.table, [c.target, by])
    frame = frame[frame[c.target].notna()].reset_index(drop=True)
    y = (frame[c.target].map(label_text) == c.positive_class).to_numpy(np.int32)
    spec = c.spec
    splits = split_indices(y, spec.test_size, spec.valid_size, spec.seed)
    if len(splits.test) != len(test) or not np.array_equal(y[splits.test],
                                                           test[LABEL_COL].to_numpy()):
        raise SchemaError(f"Table '{c.table}' has changed since run '{run.run_id}' was "
                          f"trained, so its test rows cannot be matched to '{by}'. Retrain "
                          f"the run, or choose one of its features.")
    return frame[by].to_numpy(dtype=object)[splits.test]


def run_fairness(settings: Settings, run: Run, by: str, threshold: float = 0.5,
                 n_boot: int = 500, seed: int = 42) -> FairnessReport:
    """The :class:`FairnessReport` of a binary run's test split at a threshold.

    Args:
        settings: Workspace settings.
        run: A binary run.
        by: The sensitive column (a feature, or another column of the run's table).
        threshold: Decision threshold in [0, 1].
        n_boot: Bootstrap resamples for the 95% intervals.
        seed: Seed of the resamples.

    Raises:
        SchemaError: See :func:`sensitive_values`; a threshold outside [0, 1].
    """
    if not 0.0 <= threshold <= 1.0:
        raise SchemaError(f"The threshold must be in [0, 1]; got {threshold}.")
    groups = sensitive_values(settings, run, by)
    test = run.test_frame
    return fairness_report(test[LABEL_COL].to_numpy(), test[SCORE_COL].to_numpy(), groups,
                           threshold, by, n_boot, seed)
