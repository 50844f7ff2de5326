"""A run's evaluation, computed once: curves, calibration, deciles, and the scored test split.

:func:`evaluate_scores` does every threshold-independent computation on a scored evaluation set
once (one sort, then cumulative counts), so cutting it at any threshold with
:meth:`BinaryEvaluation.at` is a binary search plus a few multinomial draws, instant on a million
rows. Threshold policies (:mod:`core.evaluate`) and per-segment tables (:mod:`core.evaluate`)
reuse the same cumulative counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import SchemaError
from core.evaluate._binary import (
    MetricsReport,
    ThresholdTable,
    evaluate_binary,
    ranking_ci,
    ranking_metrics,
    threshold_ci,
)
from core.runs import LABEL_COL, SCORE_COL

CURVE_POINTS = 2000


def _thin(n: int, points: int = CURVE_POINTS) -> np.ndarray:
    """Indices of at most ``points`` evenly spaced positions of ``range(n)``, ends included."""
    if n <= points:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, points).round().astype(int))


def counts_at(table: ThresholdTable, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """True and false positives for ``score >= t`` at many thresholds at once.

    Args:
        table: The evaluation set's :class:`ThresholdTable`.
        thresholds: Thresholds of shape (n_thresholds,).

    Returns:
        ``(tp, fp)``, each of shape (n_thresholds,).
    """
    k = np.searchsorted(-table.thresholds, -np.asarray(thresholds, dtype=float), side="right")
    tp = np.where(k > 0, table.tp[np.maximum(k - 1, 0)], 0)
    fp = np.where(k > 0, table.fp[np.maximum(k - 1, 0)], 0)
    return tp, fp


def rate_curves(tp, fp, n_pos: int) -> dict[str, np.ndarray]:
    """Precision, recall and F1 from true/false positive counts (NaN where undefined)."""
    tp, fp = np.asarray(tp, dtype=float), np.asarray(fp, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), np.nan)
        recall = tp / n_pos if n_pos else np.full_like(tp, np.nan)
        f1 = np.where(tp + fp + n_pos > 0, 2 * tp / (tp + fp + n_pos), np.nan)
    return {"precision": precision, "recall": recall, "f1": f1}


def curves_from_table(table: ThresholdTable) -> dict[str, dict[str, np.ndarray]]:
    """ROC and precision-recall points from cumulative counts (one point per distinct score).

    Equal to scikit-learn's ``roc_curve(drop_intermediate=False)`` and
    ``precision_recall_curve`` (in reverse order), thinned to at most ``CURVE_POINTS`` points.

    Returns:
        ``{"roc": {"fpr", "tpr", "thresholds"}, "pr": {"precision", "recall", "thresholds"}}``.
    """
    keep = _thin(table.thresholds.size)
    tp, fp, thr = table.tp[keep], table.fp[keep], table.thresholds[keep]
    with np.errstate(invalid="ignore", divide="ignore"):
        roc = {"fpr": np.r_[0.0, fp / table.n_neg] if table.n_neg else np.r_[0.0, 0 * fp],
               "tpr": np.r_[0.0, tp / table.n_pos] if table.n_pos else np.r_[0.0, 0 * tp],
               "thresholds": np.r_[np.inf, thr]}
    rates = rate_curves(tp, fp, table.n_pos)
    pr = {"precision": np.r_[1.0, rates["precision"]], "recall": np.r_[0.0, rates["recall"]],
          "thresholds": np.r_[np.inf, thr]}
    return {"roc": roc, "pr": pr}


def calibration_bins(y: np.ndarray, s: np.ndarray, n_bins: int = 10,
                     strategy: str = "quantile") -> dict[str, np.ndarray]:
    """Reliability curve: mean score and observed positive rate per score bin.

    Bins as scikit-learn's ``calibration_curve`` (Niculescu-Mizil & Caruana, 2005), plus the
    row count of each bin and the expected calibration error.

    Args:
        y: 0/1 labels of shape (n_samples,).
        s: Scores in [0, 1] of shape (n_samples,).
        n_bins: Bins.
        strategy: ``"quantile"`` (equal counts) or ``"uniform"`` (equal widths).

    Returns:
        ``prob_pred``, ``prob_true``, ``count`` (non-empty bins only) and ``ece`` (a float:
        count-weighted mean of |prob_true − prob_pred|).
    """
    if strategy == "quantile":
        edges = np.percentile(s, np.linspace(0, 100, n_bins + 1))
    else:
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    ids = np.searchsorted(edges[1:-1], s)
    count = np.bincount(ids, minlength=n_bins)
    sums = np.bincount(ids, weights=s, minlength=n_bins)
    trues = np.bincount(ids, weights=y, minlength=n_bins)
    nz = count > 0
    pred, true = sums[nz] / count[nz], trues[nz] / count[nz]
    ece = float(np.sum(count[nz] * np.abs(true - pred)) / max(count.sum(), 1))
    return {"prob_pred": pred, "prob_true": true, "count": count[nz], "ece": ece}


def score_histogram(y: np.ndarray, s: np.ndarray, bins: int = 40) -> dict[str, np.ndarray]:
    """Counts of scores per bin for each class (``edges`` (bins+1,), ``pos``, ``neg`` (bins,))."""
    lo, hi = (0.0, 1.0) if s.min() >= 0 and s.max() <= 1 else (float(s.min()), float(s.max()))
    edges = np.linspace(lo, hi if hi > lo else lo + 1, bins + 1)
    return {"edges": edges, "pos": np.histogram(s[y == 1], edges)[0],
            "neg": np.histogram(s[y == 0], edges)[0]}


def decile_table(y: np.ndarray, s: np.ndarray, groups: int = 10) -> pd.DataFrame:
    """Gains and lift by score decile, best scores first (stable sort for ties).

    Args:
        y: 0/1 labels of shape (n_samples,).
        s: Scores of shape (n_samples,).
        groups: Number of equal-size groups (10 = deciles).

    Returns:
        One row per group: ``decile``, ``rows``, ``positives``, ``response_rate``,
        ``lift`` (group rate ÷ base rate), ``cum_share`` (rows contacted so far), ``cum_gain``
        (share of all positives reached), ``cum_lift`` and ``perfect_gain`` (a perfect model).
    """
    order = np.argsort(-s, kind="mergesort")
    parts = np.array_split(y[order], groups)
    rows = np.array([p.size for p in parts])
    pos = np.array([int(p.sum()) for p in parts])
    n, total = y.size, max(int(y.sum()), 1)
    base = total / n
    cum_rows = np.cumsum(rows)
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame({
            "decile": np.arange(1, len(parts) + 1), "rows": rows, "positives": pos,
            "response_rate": pos / np.maximum(rows, 1), "lift": pos / np.maximum(rows, 1) / base,
            "cum_share": cum_rows / n, "cum_gain": np.cumsum(pos) / total,
            "cum_lift": (np.cumsum(pos) / total) / (cum_rows / n),
            "perfect_gain": np.minimum(cum_rows / total, 1.0),
        })


@dataclass(frozen=True)
class BinaryEvaluation:
    """Everything threshold-independent about a scored binary evaluation set, computed once.

    Attributes:
        y: 0/1 labels, shape (n,).
        s: Scores, shape (n,).
        positive: Name of the positive class (the one the analyst chose).
        negative: Name of the negative class.
        table: Cumulative counts per distinct score.
        ranking: ROC-AUC, PR-AUC, log loss, Brier (None = undefined).
        ranking_ci: Bootstrap 95% intervals of ROC-AUC and PR-AUC.
        curves: ROC and precision-recall points (:func:`curves_from_table`).
        sweep: ``threshold`` (101 points in [0, 1]), ``precision``, ``recall``, ``f1``.
        calibration: :func:`calibration_bins` output.
        histogram: :func:`score_histogram` output.
        deciles: :func:`decile_table` output.
        base_rate: Share of positives.
    """

    y: np.ndarray
    s: np.ndarray
    positive: str
    negative: str
    table: ThresholdTable
    ranking: dict
    ranking_ci: dict
    curves: dict
    sweep: dict
    calibration: dict
    histogram: dict
    deciles: pd.DataFrame
    base_rate: float

    def at(self, threshold: float, n_boot: int = 2000, seed: int = 0) -> MetricsReport:
        """Every metric at a threshold, with bootstrap 95% intervals (instant)."""
        rep = evaluate_binary(self.y, self.s, threshold, self.table, self.ranking,
                              self.positive, self.negative)
        ci = {**self.ranking_ci, **threshold_ci(np.asarray(rep.confusion), n_boot, seed)}
        return MetricsReport(rep.threshold, rep.metrics, rep.confusion, rep.notes, ci)

    def point(self, threshold: float) -> dict[str, float]:
        """The threshold's position on the charts: ``fpr``, ``tpr`` (= recall), ``precision``."""
        (tn, fp), (fn, tp) = self.table.confusion(threshold).tolist()
        return {"fpr": fp / (fp + tn) if fp + tn else 0.0,
                "tpr": tp / (tp + fn) if tp + fn else 0.0,
                "precision": tp / (tp + fp) if tp + fp else 1.0}


def evaluate_scores(y: np.ndarray, s: np.ndarray, positive: str = "positive",
                    negative: str = "negative", n_boot: int = 200,
                    seed: int = 0) -> BinaryEvaluation:
    """Precompute a binary evaluation once (about a second on a million rows).

    Args:
        y: 0/1 labels of shape (n_samples,).
        s: Positive-class scores of shape (n_samples,).
        positive: Name of the positive class.
        negative: Name of the negative class.
        n_boot: Bootstrap resamples for the ROC-AUC / PR-AUC intervals.
        seed: Bootstrap seed.

    Returns:
        The :class:`BinaryEvaluation`.
    """
    table = ThresholdTable.build(y, s)
    y = np.asarray(y).astype(np.int8).ravel()
    s = np.asarray(s, dtype=np.float64).ravel()
    grid = np.linspace(0.0, 1.0, 101)
    tp, fp = counts_at(table, grid)
    probability = s.min() >= 0 and s.max() <= 1
    return BinaryEvaluation(
        y=y, s=s, positive=positive, negative=negative, table=table,
        ranking=ranking_metrics(y, s), ranking_ci=ranking_ci(table, n_boot, seed),
        curves=curves_from_table(table),
        sweep={"threshold": grid, **rate_curves(tp, fp, table.n_pos)},
        calibration=calibration_bins(y, s) if probability else {},
        histogram=score_histogram(y, s), deciles=decile_table(y, s),
        base_rate=float(y.mean()),
    )


@dataclass(frozen=True)
class ScoredSet:
    """A run's scored test split, whatever its task.

    Attributes:
        task: ``binary``, ``multiclass`` or ``regression``.
        y: Labels: 0/1, class index, or actual value; shape (n,).
        output: Binary: positive-class score (n,); multiclass: probabilities (n, k);
            regression: prediction (n,).
        classes: Class names (binary: ``[negative, positive]``; empty for regression).
        frame: Raw feature columns of the test rows, shape (n, n_features), for segments.
    """

    task: str
    y: np.ndarray
    output: np.ndarray
    classes: list[str]
    frame: pd.DataFrame


def scored_set(run) -> ScoredSet:
    """Read a run's test split (``__label`` plus ``__score`` or ``__proba_<k>`` columns).

    Raises:
        SchemaError: The task is not one LiftLab evaluates, or its columns are missing.
    """

    t, task = run.test_frame, run.config.task
    features = t[[c for c in run.features if c in t.columns]]
    if task == "binary":
        classes = [str(run.config.negative_class or "negative"),
                   str(run.config.positive_class or "positive")]
        return ScoredSet(task, t[LABEL_COL].to_numpy(), t[SCORE_COL].to_numpy(), classes, features)
    if task == "multiclass":
        cols = sorted((c for c in t.columns if c.startswith("__proba_")),
                      key=lambda c: int(c.rsplit("_", 1)[1]))
        if not cols:
            raise SchemaError(f"Run {run.run_id} has no class probabilities (__proba_<k> columns) "
                              f"in its test split; retrain it.")
        classes = [str(c) for c in (run.config.classes or range(len(cols)))]
        return ScoredSet(task, t[LABEL_COL].to_numpy(), t[cols].to_numpy(), classes, features)
    if task == "regression":
        return ScoredSet(task, t[LABEL_COL].to_numpy(float), t[SCORE_COL].to_numpy(float), [],
                         features)
    raise SchemaError(f"Run {run.run_id} is a '{task}' run; the Evaluate step covers binary, "
                      f"multiclass and regression runs.")
