"""Workspace start-up: first-start sample, recovery of interrupted jobs, run scoring helpers."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from core.config import SAMPLES_DIR, Settings
from core.errors import SchemaError
from core.features import label_text
from core.ingest import IngestOptions, ingest_file
from core.runs import LABEL_COL, SCORE_COL, Run
from core.uplift import score_uplift_table
from core.warehouse import (
    claim_output,
    connect,
    existing_table,
    get_meta,
    read_table,
    require_table,
    scratch_root,
    set_meta,
    write_frame_output,
)

log = logging.getLogger(__name__)

SAMPLE_FILE = "bank-additional-full.csv"
SAMPLE_TABLE = "bank_marketing"
RETAIL_SAMPLE_FILE = "online_retail.parquet"
RETAIL_SAMPLE_TABLE = "online_retail"
# (file in data/samples, table, bookkeeping key): each is loaded once per workspace
SAMPLES = ((SAMPLE_FILE, SAMPLE_TABLE, "sample_loaded"),
           (RETAIL_SAMPLE_FILE, RETAIL_SAMPLE_TABLE, "sample_loaded_online_retail"))


def ensure_sample(settings: Settings) -> str | None:
    """Load the shipped samples (bank marketing, Online Retail) once per workspace.

    Each sample is loaded the first time a workspace starts without it having been loaded; if
    the analyst deletes the table later it is not re-created.

    Returns:
        The first sample table loaded now, else None.
    """
    if not settings.load_sample:
        return None
    loaded = [_load_sample_once(settings, *sample) for sample in SAMPLES]
    return next((table for table in loaded if table), None)


def _load_sample_once(settings: Settings, filename: str, table: str, key: str) -> str | None:
    path = SAMPLES_DIR / filename
    if not path.exists():
        return None
    with connect(settings) as con:
        if get_meta(con, key):
            return None
        report = ingest_file(con, path, IngestOptions(table=table, if_exists="replace"),
                             workdir=scratch_root(settings))
        set_meta(con, key, report.table)
    log.info("loaded sample %s", report.table)
    return report.table


def population_for(settings: Settings, run: Run, table: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Labels and scores of the population a scenario is simulated on.

    Args:
        settings: Workspace settings.
        run: The run that scores.
        table: A table with the run's features and target; None for the run's test split.

    Returns:
        ``(y, scores)``, both of shape (n_customers,).

    Raises:
        SchemaError: The table lacks the target or a feature.
    """
    if table is None:
        test = run.test_frame
        return test[LABEL_COL].to_numpy(), test[SCORE_COL].to_numpy()
    target = run.config.target
    with connect(settings) as con:
        require_table(con, table)
        frame = read_table(con, table)
    if target not in frame.columns:
        raise SchemaError(
            f"Table '{table}' has no target column '{target}', so conversions cannot be counted. "
            f"Simulate on the run's test split, or on a table with observed outcomes."
        )
    frame = frame[frame[target].notna()]
    y = (frame[target].map(label_text) == run.config.positive_class).to_numpy(dtype=np.int64)
    return y, run.predict(frame)


def score_table(settings: Settings, run: Run, table: str, out: str | None = None,
                replace: bool = False) -> dict:
    """Score every row of a table with a run and write ``<out>`` = the table plus scores.

    Adds ``score`` (probability of the positive class) and ``predicted_positive`` (score >= the
    run's threshold, 0.5) columns; an uplift run adds ``p_treated``, ``p_control`` and
    ``uplift`` instead (see :func:`core.uplift.score_uplift_table`).

    The output never replaces the input or a raw table, and replaces an earlier output only
    with ``replace``; it carries the input's original column names and personal-data marks.

    Returns:
        ``{"table": out, "rows": n}``.

    Raises:
        SchemaError: The table lacks a feature of the run.
        OutputTableError: ``out`` names the input, a raw table, or (without ``replace``) an
            earlier output.
    """
    with connect(settings) as con:
        require_table(con, table)
        table = existing_table(con, table)
        out = claim_output(con, out or f"{table}_scored", (table,), replace, "scored table")
    if run.config.kind == "uplift":  # p_treated, p_control and uplift columns
        return score_uplift_table(settings, run, table, out)
    with connect(settings) as con:
        frame = read_table(con, table)
    require_features(run, frame, table)
    with connect(settings) as con:
        rows = write_frame_output(con, out, scored_rows(run, frame), table,
                                  f"scored by run {run.run_id}")
    return {"table": out, "rows": rows}


def require_features(run: Run, frame: pd.DataFrame, table: str) -> None:
    """Raise unless ``frame`` has every feature column of the run.

    Raises:
        SchemaError: Naming the missing columns.
    """
    missing = [c for c in run.features if c not in frame.columns]
    if missing:
        raise SchemaError(
            f"Table '{table}' lacks feature column(s) the run was trained on: {', '.join(missing)}."
        )


def scored_rows(run: Run, frame: pd.DataFrame, scores: np.ndarray | None = None) -> pd.DataFrame:
    """Rows plus the run's ``score`` and ``predicted_positive`` (score >= the run's threshold),
    what :func:`score_table` writes.

    Args:
        run: A tabular run.
        frame: Rows with the run's features, shape (n_rows, n_columns).
        scores: ``run.predict(frame)`` computed already (e.g. batch by batch: the model scores
            row by row, so the batches give the same), shape (n_rows,); None computes it.

    Returns:
        Shape (n_rows, n_columns + 2).
    """
    scores = run.predict(frame) if scores is None else scores
    return pd.DataFrame(frame.assign(score=scores,
                                     predicted_positive=scores >= run.metrics["threshold"]))
