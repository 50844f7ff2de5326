"""Binary-classification metrics, curves and gains, computed once per run and cut at any threshold.

Threshold-independent numbers (ROC-AUC, PR-AUC) come from scikit-learn. Threshold-dependent ones
come from a :class:`ThresholdTable` of cumulative counts over the sorted scores, so moving the
threshold is a binary search, not a pass over the data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from core.errors import SchemaError


def _check(y_true: np.ndarray, y_score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y_true = np.asarray(y_true).astype(np.int8).ravel()
    y_score = np.asarray(y_score, dtype=np.float64).ravel()
    if y_true.shape != y_score.shape or y_true.size == 0:
        raise SchemaError(
            f"Labels and scores must be non-empty and of equal length; got {y_true.size} labels "
            f"and {y_score.size} scores."
        )
    if not np.isfinite(y_score).all():
        raise SchemaError("Some scores are NaN or infinite; the model output is not usable.")
    return y_true, y_score


@dataclass(frozen=True)
class ThresholdTable:
    """Cumulative confusion counts for every distinct score, highest first.

    Attributes:
        thresholds: Distinct scores in decreasing order, shape (n_distinct,).
        tp: True positives when predicting positive for ``score >= thresholds[i]``.
        fp: False positives at the same cut.
        n_pos: Positives in the data.
        n_neg: Negatives in the data.
    """

    thresholds: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    n_pos: int
    n_neg: int

    @classmethod
    def build(cls, y_true: np.ndarray, y_score: np.ndarray) -> ThresholdTable:
        """Sort once and accumulate.

        Args:
            y_true: 0/1 labels of shape (n_samples,).
            y_score: Scores of shape (n_samples,); higher means more likely positive.
        """
        y_true, y_score = _check(y_true, y_score)
        order = np.argsort(-y_score, kind="mergesort")
        s, y = y_score[order], y_true[order]
        last = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]
        tp = np.cumsum(y)[last]
        fp = (last + 1) - tp
        return cls(s[last], tp, fp, int(y.sum()), int(y.size - y.sum()))

    def confusion(self, threshold: float) -> np.ndarray:
        """Confusion matrix ``[[tn, fp], [fn, tp]]`` for ``score >= threshold``."""
        k = int(np.searchsorted(-self.thresholds, -threshold, side="right"))
        tp = int(self.tp[k - 1]) if k else 0
        fp = int(self.fp[k - 1]) if k else 0
        return np.array([[self.n_neg - fp, fp], [self.n_pos - tp, tp]])


def _ratio(num: float, den: float) -> float | None:
    return float(num / den) if den else None


def threshold_metrics(confusion: np.ndarray) -> dict[str, float | None]:
    """Accuracy, precision, recall, specificity and F1 from a confusion matrix.

    Args:
        confusion: ``[[tn, fp], [fn, tp]]``.

    Returns:
        A dict; a value is None when undefined (e.g. precision with no predicted positive).
    """
    (tn, fp), (fn, tp) = confusion.tolist()
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    f1 = _ratio(2 * tp, 2 * tp + fp + fn)
    return {
        "accuracy": _ratio(tp + tn, tn + fp + fn + tp),
        "precision": precision,
        "recall": recall,
        "specificity": _ratio(tn, tn + fp),
        "f1": f1,
    }


def ranking_metrics(y_true: np.ndarray, y_score: np.ndarray) -> dict[str, float | None]:
    """ROC-AUC and PR-AUC (average precision), via scikit-learn.

    Returns:
        ``{"roc_auc", "pr_auc"}``; None when only one class is present (undefined).
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    y_true, y_score = _check(y_true, y_score)
    if len(np.unique(y_true)) < 2:
        return {"roc_auc": None, "pr_auc": None}
    return {
        "roc_auc": float(roc_auc_score(y_true, y_score)),
        "pr_auc": float(average_precision_score(y_true, y_score)),
    }


@dataclass(frozen=True)
class MetricsReport:
    """Metrics of a scored evaluation set at one threshold.

    Attributes:
        threshold: Scores ``>=`` this are predicted positive.
        metrics: accuracy, precision, recall, specificity, f1, roc_auc, pr_auc (None = undefined).
        confusion: ``[[tn, fp], [fn, tp]]``.
        notes: Plain-language explanations of undefined values.
    """

    threshold: float
    metrics: dict[str, float | None]
    confusion: list[list[int]]
    notes: list[str]


def evaluate_binary(
    y_true: np.ndarray, y_score: np.ndarray, threshold: float = 0.5,
    table: ThresholdTable | None = None, ranking: dict | None = None,
) -> MetricsReport:
    """Evaluate scores at a threshold.

    Args:
        y_true: 0/1 labels of shape (n_samples,).
        y_score: Positive-class scores of shape (n_samples,).
        threshold: Decision threshold in [0, 1].
        table: A prebuilt :class:`ThresholdTable` for these arrays (faster).
        ranking: Prebuilt :func:`ranking_metrics` for these arrays (faster).

    Returns:
        The :class:`MetricsReport`.
    """
    table = table or ThresholdTable.build(y_true, y_score)
    ranking = ranking or ranking_metrics(y_true, y_score)
    conf = table.confusion(threshold)
    metrics = {**threshold_metrics(conf), **ranking}
    notes = []
    if ranking["roc_auc"] is None:
        notes.append("ROC-AUC and PR-AUC are undefined: the evaluation set has one class only.")
    if metrics["precision"] is None:
        notes.append(f"Precision is undefined: no row scores at or above {threshold:.3f}.")
    if metrics["recall"] is None:
        notes.append("Recall is undefined: the evaluation set has no positive rows.")
    return MetricsReport(float(threshold), metrics, conf.tolist(), notes)


def roc_points(y_true: np.ndarray, y_score: np.ndarray) -> dict[str, np.ndarray]:
    """ROC curve points via scikit-learn: ``fpr``, ``tpr``, ``thresholds`` (1-D arrays)."""
    from sklearn.metrics import roc_curve

    fpr, tpr, thr = roc_curve(*_check(y_true, y_score))
    return {"fpr": fpr, "tpr": tpr, "thresholds": thr}


def pr_points(y_true: np.ndarray, y_score: np.ndarray) -> dict[str, np.ndarray]:
    """Precision-recall curve via scikit-learn: ``precision``, ``recall``, ``thresholds``."""
    from sklearn.metrics import precision_recall_curve

    p, r, thr = precision_recall_curve(*_check(y_true, y_score))
    return {"precision": p, "recall": r, "thresholds": thr}


def gains_curve(y_true: np.ndarray, y_score: np.ndarray, points: int = 100) -> dict[str, np.ndarray]:
    """Cumulative gains and lift over the contacted fraction, best scores first.

    Ties are broken by a stable sort, so the curve is deterministic.

    Args:
        y_true: 0/1 labels of shape (n_samples,).
        y_score: Scores of shape (n_samples,).
        points: Number of fractions, evenly spaced in (0, 1] (fewer when there are fewer
            customers); each is rounded to a whole number of customers.

    Returns:
        ``fraction`` (n_points,), exact share contacted, ``gain`` (share of all positives captured), ``lift``
        (gain ÷ fraction), ``positives`` (positives captured, count), ``contacted`` (count).
    """
    y_true, y_score = _check(y_true, y_score)
    order = np.argsort(-y_score, kind="mergesort")
    cum = np.cumsum(y_true[order])
    n = y_true.size
    grid = np.linspace(1.0 / points, 1.0, points)
    contacted = np.unique(np.maximum(1, np.round(grid * n).astype(int)))
    fraction = contacted / n
    positives = cum[contacted - 1]
    total = max(int(cum[-1]), 1)
    gain = positives / total
    return {"fraction": fraction, "gain": gain, "lift": gain / fraction,
            "positives": positives, "contacted": contacted}


def to_jsonable(values: dict) -> dict:
    """Replace NaN with None and numpy scalars with floats, for JSON output."""
    out = {}
    for k, v in values.items():
        if v is None or (isinstance(v, float) and math.isnan(v)):
            out[k] = None
        else:
            out[k] = float(v)
    return out
