"""Scores of each chunk as counts per score cell, filled batch by batch while the run scores.

The cells are the gaps and points of a support of reference scores (see
:class:`~core.monitor._stats.NumericSummary`), in increasing score order: cell ``2g`` is gap
``g``, cell ``2k + 1`` the point ``support[k]``. The run's threshold is a support point, so
"score >= threshold" is exactly the cells from its point on. Per cell and chunk: rows, the sum of
raw scores, the sum of calibrated probabilities, and labelled positives and negatives. That is
all the estimated and realised metrics need, at any number of rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.monitor._stats import NumericSummary

SUPPORT_POINTS = 1000
# probabilities also get a grid even in log-odds (steps of 0.02 from -12 to 12), so that scores
# far outside the reference's range (a drifted chunk) still rank finely instead of tying
LOGIT_GRID = 1.0 / (1.0 + np.exp(-np.linspace(-12.0, 12.0, 1201)))


def score_support(reference: np.ndarray, extra: tuple[float, ...] = (),
                  probabilities: bool = True) -> np.ndarray:
    """Support points for scores: the reference's distinct scores when at most 1,000, else its
    quantiles at i/1000; for probabilities also a grid even in log-odds; plus ``extra`` points
    (the run's threshold, a scenario threshold).

    Args:
        reference: The reference's scores, shape (n,).
        extra: Points that must be on the support.
        probabilities: The scores are probabilities in [0, 1].

    Returns:
        Sorted distinct points, shape (m,).
    """
    r = np.asarray(reference, dtype=np.float64)
    r = r[np.isfinite(r)]
    points = np.unique(r)
    if points.size > SUPPORT_POINTS:
        points = np.unique(np.quantile(r, np.arange(SUPPORT_POINTS + 1) / SUPPORT_POINTS,
                                       method="inverted_cdf"))
    grid = LOGIT_GRID if probabilities else np.empty(0)
    return np.unique(np.r_[points, grid, np.asarray(extra, dtype=np.float64)])


def cell_index(support: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """The cell of each score, shape (n,) (non-finite scores fall into gap 0)."""
    s = np.asarray(scores, dtype=np.float64)
    k = np.searchsorted(support, s, side="right") - 1
    hit = (k >= 0) & (support[np.maximum(k, 0)] == s)
    return np.where(hit, 2 * k + 1, 2 * (k + 1))


@dataclass(frozen=True)
class Cells:
    """One population's scores as cell counts (all arrays of shape (2m + 1,), increasing score).

    Attributes:
        support: The support, shape (m,).
        n: Rows per cell.
        sum_s: Sum of raw scores per cell.
        sum_p: Sum of calibrated probabilities per cell.
        pos: Labelled positives per cell.
        neg: Labelled negatives per cell.
    """

    support: np.ndarray
    n: np.ndarray
    sum_s: np.ndarray
    sum_p: np.ndarray
    pos: np.ndarray
    neg: np.ndarray

    @classmethod
    def build(cls, support: np.ndarray, scores: np.ndarray, probs: np.ndarray,
              labels: np.ndarray | None = None) -> Cells:
        """Cells of raw rows.

        Args:
            support: Sorted support, shape (m,).
            scores: Raw scores, shape (n,).
            probs: Calibrated probabilities, shape (n,).
            labels: 0/1 labels with NaN for unknown, shape (n,), or None.
        """
        acc = CellAccumulator(support, 1)
        acc.add(np.zeros(len(scores), dtype=np.int64), scores, probs, labels)
        return acc.chunk(0)

    def threshold_cell(self, threshold: float) -> int:
        """First cell whose scores are >= ``threshold`` (a support point)."""
        j = int(np.searchsorted(self.support, threshold))
        return 2 * j + 1 if j < self.support.size and self.support[j] == threshold else 2 * j

    def summary(self) -> NumericSummary:
        """The raw scores as a :class:`NumericSummary` on the support."""
        return NumericSummary(self.support, self.n[1::2], self.n[0::2], self.sum_s[0::2])

    @property
    def rows(self) -> int:
        """Rows."""
        return int(self.n.sum())

    @property
    def labelled(self) -> int:
        """Rows with a known label."""
        return int(self.pos.sum() + self.neg.sum())


class CellAccumulator:
    """Cell counts of several chunks, filled one batch of scored rows at a time.

    Args:
        support: Sorted support, shape (m,).
        n_chunks: Number of chunks.
    """

    def __init__(self, support: np.ndarray, n_chunks: int) -> None:
        self.support = np.asarray(support, dtype=np.float64)
        self.k = 2 * self.support.size + 1
        self.c = n_chunks
        self.arrays = np.zeros((5, n_chunks * self.k))

    def add(self, chunks: np.ndarray, scores: np.ndarray, probs: np.ndarray,
            labels: np.ndarray | None) -> None:
        """Add a batch.

        Args:
            chunks: Chunk number of each row, shape (n,).
            scores: Raw scores, shape (n,).
            probs: Calibrated probabilities, shape (n,).
            labels: 0/1 with NaN for unknown, shape (n,), or None.
        """
        idx = np.asarray(chunks, dtype=np.int64) * self.k + cell_index(self.support, scores)
        size = self.c * self.k
        self.arrays[0] += np.bincount(idx, minlength=size)
        self.arrays[1] += np.bincount(idx, weights=np.nan_to_num(scores), minlength=size)
        self.arrays[2] += np.bincount(idx, weights=probs, minlength=size)
        if labels is not None:
            y = np.asarray(labels, dtype=np.float64)
            self.arrays[3] += np.bincount(idx, weights=(y == 1).astype(float), minlength=size)
            self.arrays[4] += np.bincount(idx, weights=(y == 0).astype(float), minlength=size)

    def chunk(self, c: int) -> Cells:
        """The cells of chunk ``c``."""
        a = self.arrays[:, c * self.k:(c + 1) * self.k]
        return Cells(self.support, *(a[i].copy() for i in range(5)))
