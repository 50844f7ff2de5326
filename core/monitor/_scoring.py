"""Score the current rows batch by batch and keep only cell counts per chunk.

Batches of about 100,000 rows stream out of DuckDB (``fetch_df_chunk``), the run scores them
with its own preprocessor (:meth:`core.runs.Run.predict`), and each batch is folded into a
:class:`~core.monitor._cells.CellAccumulator` and dropped, so memory does not grow with the
number of rows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.features import label_text
from core.monitor._cells import CellAccumulator
from core.monitor._chunks import CURRENT, TARGET
from core.warehouse import quote_ident

BATCH_VECTORS = 50  # DuckDB vectors of 2,048 rows per batch: about 100,000 rows


def label_vector(values: pd.Series, positive: str) -> np.ndarray:
    """0/1 labels of a target column as the run reads it (``core.features.label_text``), NaN
    where missing.

    Args:
        values: The raw target values, shape (n,).
        positive: The positive class as text.

    Returns:
        float array of shape (n,).
    """

    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    hit = np.array([label_text(u) == positive for u in uniques], dtype=np.float64)
    return np.where(codes >= 0, hit[np.maximum(codes, 0)] if hit.size else 0.0, np.nan)


def run_output(run, frame: pd.DataFrame) -> np.ndarray:
    """One number per row: the positive-class probability (binary), the top class's
    probability (multiclass) or the prediction (regression)."""
    out = np.asarray(run.predict(frame))
    return out.max(axis=1) if out.ndim == 2 else out.astype(np.float64)


@dataclass(frozen=True)
class ScoringPass:
    """The outcome of scoring the current rows.

    Attributes:
        cells: Cell counts per chunk.
        predict_s: Seconds spent in the run's own scoring (preprocessor and model).
        total_s: Seconds of the whole pass (reading batches, scoring, counting).
        rows: Rows scored.
    """

    cells: CellAccumulator
    predict_s: float
    total_s: float
    rows: int


def score_current(con, run, features: list[str], positive: str | None, support: np.ndarray,
                  calibrate, n_chunks: int, has_target: bool,
                  batch_vectors: int = BATCH_VECTORS) -> ScoringPass:
    """Score ``__monitor_current`` with the run and count scores per chunk and cell.

    Args:
        con: The connection holding the temporary table.
        run: The :class:`core.runs.Run`.
        features: Its feature columns.
        positive: The positive class (binary runs), for labels; None otherwise.
        support: Score support (:func:`core.monitor._cells.score_support`).
        calibrate: Raw scores → probabilities.
        n_chunks: Number of chunk numbers.
        has_target: The table has the target column (as ``__target``).
        batch_vectors: DuckDB vectors (2,048 rows) per batch.

    Returns:
        The :class:`ScoringPass`.
    """
    started = time.perf_counter()
    cols = ["__chunk", *features] + ([TARGET] if has_target else [])
    res = con.execute(f"SELECT {', '.join(quote_ident(c) for c in cols)} FROM {CURRENT}")
    acc = CellAccumulator(support, n_chunks)
    predict_s, rows = 0.0, 0
    while True:
        batch = res.fetch_df_chunk(batch_vectors)
        if batch is None or not len(batch):
            break
        t = time.perf_counter()
        scores = run_output(run, batch[features])
        predict_s += time.perf_counter() - t
        labels = (label_vector(batch[TARGET], positive)
                  if has_target and positive is not None else None)
        acc.add(batch["__chunk"].to_numpy(), scores, calibrate(scores), labels)
        rows += len(batch)
    return ScoringPass(acc, predict_s, time.perf_counter() - started, rows)
