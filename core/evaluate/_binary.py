"""Binary evaluation metrics, computed once and cut at any threshold.

Threshold-independent numbers (ROC-AUC, PR-AUC, log loss, Brier score) come from scikit-learn.
Threshold-dependent ones come from a :class:`ThresholdTable` of cumulative counts over the sorted
scores, so moving the threshold is a binary search, not a pass over the data. Bootstrap 95%
intervals (Efron & Tibshirani, 1993, percentile method) resample the cells of the table: drawing
n rows with replacement gives multinomial counts per (score, class) cell, so a resample costs
O(cells), not O(rows).

A value that is undefined (precision with nothing predicted positive, ROC-AUC on one class) is
``None`` and comes with a plain-language note; it is never shown as 0 or NaN. Multiclass and
regression metrics live in :mod:`core.evaluate`, per-run precomputation, threshold policies
and segments in :mod:`core.evaluate`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from core.errors import SchemaError

THRESHOLD_KEYS = ("accuracy", "balanced_accuracy", "precision", "recall", "specificity", "f1")
RANKING_KEYS = ("roc_auc", "pr_auc", "log_loss", "brier")
CI_GROUPS = 10_000


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


def binary_labels(labels, positive: str) -> np.ndarray:
    """0/1 labels from text (or any) labels, with the analyst's positive class as 1.

    The positive class is always the one chosen, never the later one in sort order.

    Args:
        labels: Labels of shape (n_samples,), e.g. ``["no", "yes", ...]``.
        positive: The positive class, compared as text.

    Returns:
        int8 array of shape (n_samples,).

    Raises:
        SchemaError: The positive class is not one of the labels.
    """
    text = np.asarray([str(v) for v in np.asarray(labels, dtype=object).ravel()])
    if positive not in set(text.tolist()):
        shown = ", ".join(sorted(set(text.tolist()))[:8])
        raise SchemaError(f"The positive class '{positive}' is not among the labels ({shown}). "
                          f"Choose one of them as the positive class.")
    return (text == positive).astype(np.int8)


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
        tp = np.cumsum(y, dtype=np.int64)[last]
        fp = (last + 1) - tp
        return cls(s[last], tp, fp, int(y.sum()), int(y.size - y.sum()))

    def index(self, threshold: float) -> int:
        """How many distinct scores are ``>= threshold`` (0 = nothing predicted positive)."""
        return int(np.searchsorted(-self.thresholds, -threshold, side="right"))

    def confusion(self, threshold: float) -> np.ndarray:
        """Confusion matrix ``[[tn, fp], [fn, tp]]`` for ``score >= threshold``."""
        k = self.index(threshold)
        tp = int(self.tp[k - 1]) if k else 0
        fp = int(self.fp[k - 1]) if k else 0
        return np.array([[self.n_neg - fp, fp], [self.n_pos - tp, tp]])

    def counts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(tn, fp, fn, tp)`` at every distinct threshold, each of shape (n_distinct,)."""
        return self.n_neg - self.fp, self.fp, self.n_pos - self.tp, self.tp


def _ratio(num: float, den: float) -> float | None:
    return float(num / den) if den else None


def threshold_metrics(confusion: np.ndarray) -> dict[str, float | None]:
    """Accuracy, balanced accuracy, precision, recall, specificity and F1 from a confusion matrix.

    Args:
        confusion: ``[[tn, fp], [fn, tp]]``.

    Returns:
        A dict; a value is None when undefined (e.g. precision with no predicted positive).
    """
    (tn, fp), (fn, tp) = np.asarray(confusion).tolist()
    recall = _ratio(tp, tp + fn)
    specificity = _ratio(tn, tn + fp)
    balanced = None if recall is None or specificity is None else (recall + specificity) / 2
    return {
        "accuracy": _ratio(tp + tn, tn + fp + fn + tp),
        "balanced_accuracy": balanced,
        "precision": _ratio(tp, tp + fp),
        "recall": recall,
        "specificity": specificity,
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
    }


def ranking_metrics(y_true: np.ndarray, y_score: np.ndarray) -> dict[str, float | None]:
    """Threshold-independent metrics via scikit-learn.

    ROC-AUC, PR-AUC (average precision), log loss and Brier score. The last two need scores that
    are probabilities in [0, 1].

    Args:
        y_true: 0/1 labels of shape (n_samples,).
        y_score: Positive-class scores of shape (n_samples,).

    Returns:
        ``{"roc_auc", "pr_auc", "log_loss", "brier"}``; None when undefined (one class only, or
        scores outside [0, 1]).
    """
    from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

    y_true, y_score = _check(y_true, y_score)
    out: dict[str, float | None] = dict.fromkeys(RANKING_KEYS)
    if len(np.unique(y_true)) == 2:
        out["roc_auc"] = float(roc_auc_score(y_true, y_score))
        out["pr_auc"] = float(average_precision_score(y_true, y_score))
    if y_score.min() >= 0.0 and y_score.max() <= 1.0:
        out["log_loss"] = float(log_loss(y_true, y_score, labels=[0, 1]))
        out["brier"] = float(brier_score_loss(y_true, y_score, pos_label=1))
    return out


def _grouped_cells(table: ThresholdTable, max_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Positives and negatives per distinct score (highest first), merged into at most
    ``max_groups`` consecutive groups of about equal row count."""
    pos = np.diff(np.r_[0, table.tp])
    neg = np.diff(np.r_[0, table.fp])
    if pos.size <= max_groups:
        return pos, neg
    rows = np.cumsum(pos + neg)
    edges = np.searchsorted(rows, np.linspace(0, rows[-1], max_groups + 1)[1:], side="left")
    edges = np.unique(np.minimum(edges, rows.size - 1))
    cum_p, cum_n = np.cumsum(pos)[edges], np.cumsum(neg)[edges]
    return np.diff(np.r_[0, cum_p]), np.diff(np.r_[0, cum_n])


def auc_from_counts(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ROC-AUC and average precision from per-score counts, ties handled as scikit-learn does.

    Args:
        pos: Positives per distinct score, highest score first; shape (..., n_groups).
        neg: Negatives per distinct score, same shape.

    Returns:
        ``(roc_auc, average_precision)``, each of shape ``pos.shape[:-1]``; NaN where a class
        is absent.
    """
    pos, neg = np.asarray(pos, dtype=np.float64), np.asarray(neg, dtype=np.float64)
    cp, cn = np.cumsum(pos, axis=-1), np.cumsum(neg, axis=-1)
    n_pos, n_neg = cp[..., -1], cn[..., -1]
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = ((cp - pos / 2) * neg).sum(axis=-1) / (n_pos * n_neg)
        precision = np.where(cp + cn > 0, cp / np.maximum(cp + cn, 1), 0.0)
        ap = (pos * precision).sum(axis=-1) / n_pos
    bad = (n_pos == 0) | (n_neg == 0)
    return np.where(bad, np.nan, auc), np.where(bad, np.nan, ap)


def _percentile_ci(samples: np.ndarray) -> list[float] | None:
    samples = samples[np.isfinite(samples)]
    if samples.size < 10:
        return None
    return [float(v) for v in np.percentile(samples, [2.5, 97.5])]


def ranking_ci(table: ThresholdTable, n_boot: int = 200, seed: int = 0,
               max_groups: int = CI_GROUPS) -> dict[str, list[float] | None]:
    """Bootstrap 95% intervals of ROC-AUC and PR-AUC.

    Each resample draws multinomial counts over the (distinct score, class) cells, which is the
    same distribution as resampling rows. Above ``max_groups`` distinct scores, neighbouring
    scores are merged into equal-count groups and the resampled values are shifted by the
    merge's effect on the full-data value, so intervals stay centred on the exact estimate.

    Args:
        table: The :class:`ThresholdTable` of the evaluation set.
        n_boot: Resamples (0 skips).
        seed: Random seed.
        max_groups: Most score groups resampled.

    Returns:
        ``{"roc_auc": [lo, hi] | None, "pr_auc": [lo, hi] | None}``.
    """
    if n_boot <= 0 or table.n_pos == 0 or table.n_neg == 0:
        return {"roc_auc": None, "pr_auc": None}
    exact_auc, exact_ap = auc_from_counts(*_grouped_cells(table, table.thresholds.size))
    pos, neg = _grouped_cells(table, max_groups)
    grouped_auc, grouped_ap = auc_from_counts(pos, neg)
    cells = np.r_[pos, neg].astype(np.float64)
    n = int(cells.sum())
    rng = np.random.default_rng(seed)
    aucs, aps = [], []
    for start in range(0, n_boot, 50):
        draws = rng.multinomial(n, cells / n, size=min(50, n_boot - start))
        a, p = auc_from_counts(draws[:, :pos.size], draws[:, pos.size:])
        aucs.append(a)
        aps.append(p)
    return {"roc_auc": _percentile_ci(np.concatenate(aucs) + (exact_auc - grouped_auc)),
            "pr_auc": _percentile_ci(np.concatenate(aps) + (exact_ap - grouped_ap))}


def threshold_ci(confusion: np.ndarray, n_boot: int = 2000,
                 seed: int = 0) -> dict[str, list[float] | None]:
    """Bootstrap 95% intervals of F1, precision and recall at one threshold.

    Resampling rows at a fixed threshold only moves rows between the four confusion cells, so a
    resample is one multinomial draw over ``[tn, fp, fn, tp]``: instant at any data size.

    Args:
        confusion: ``[[tn, fp], [fn, tp]]``.
        n_boot: Resamples.
        seed: Random seed.

    Returns:
        ``{"f1", "precision", "recall"}``, each ``[lo, hi]`` or None when undefined.
    """
    cells = np.asarray(confusion, dtype=np.float64).ravel()
    n = int(cells.sum())
    if n_boot <= 0 or n == 0:
        return {"f1": None, "precision": None, "recall": None}
    tn, fp, fn, tp = np.random.default_rng(seed).multinomial(n, cells / n, size=n_boot).T
    with np.errstate(invalid="ignore", divide="ignore"):
        out = {"f1": 2 * tp / (2 * tp + fp + fn), "precision": tp / (tp + fp),
               "recall": tp / (tp + fn)}
    point = threshold_metrics(np.asarray(confusion))
    return {k: _percentile_ci(v) if point[k] is not None else None for k, v in out.items()}


@dataclass(frozen=True)
class MetricsReport:
    """Metrics of a scored binary evaluation set at one threshold.

    Attributes:
        threshold: Scores ``>=`` this are predicted positive.
        metrics: ``THRESHOLD_KEYS`` + ``RANKING_KEYS`` (None = undefined, see ``notes``).
        confusion: ``[[tn, fp], [fn, tp]]``.
        notes: Plain-language explanations of undefined values.
        ci95: Bootstrap 95% intervals ``{"roc_auc", "pr_auc", "f1", ...: [lo, hi] | None}``;
            empty when not computed.
    """

    threshold: float
    metrics: dict[str, float | None]
    confusion: list[list[int]]
    notes: list[str]
    ci95: dict = field(default_factory=dict)


def undefined_notes(metrics: dict, threshold: float, positive: str = "positive",
                    negative: str = "negative") -> list[str]:
    """Plain-language reasons for every undefined metric.

    Args:
        metrics: Metric values, None where undefined.
        threshold: The decision threshold.
        positive: Name of the positive class.
        negative: Name of the negative class.
    """
    notes = []
    if metrics.get("recall") is None:
        notes.append(f"The evaluation set has only one class (no '{positive}' rows): recall is "
                     f"undefined, and so are ROC-AUC and PR-AUC. A stratified split keeps both "
                     f"classes in the test set; retrain with more data or a stratified split.")
    elif metrics.get("specificity") is None:
        notes.append(f"The evaluation set has only one class (no '{negative}' rows): "
                     f"specificity is undefined, and so are ROC-AUC and PR-AUC. A stratified "
                     f"split keeps both classes in the test set; retrain with more data or a "
                     f"stratified split.")
    if metrics.get("precision") is None:
        notes.append(f"Precision is undefined: no row scores at or above {threshold:.3f}, so "
                     f"nothing is predicted '{positive}'. Lower the threshold.")
    if "log_loss" in metrics and metrics["log_loss"] is None:
        notes.append("Log loss and Brier score are undefined: the scores are not probabilities "
                     "in [0, 1].")
    return notes


def evaluate_binary(
    y_true: np.ndarray, y_score: np.ndarray, threshold: float = 0.5,
    table: ThresholdTable | None = None, ranking: dict | None = None,
    positive: str = "positive", negative: str = "negative",
) -> MetricsReport:
    """Evaluate scores at a threshold.

    Args:
        y_true: 0/1 labels of shape (n_samples,) (see :func:`binary_labels` for text labels).
        y_score: Positive-class scores of shape (n_samples,).
        threshold: Decision threshold in [0, 1].
        table: A prebuilt :class:`ThresholdTable` for these arrays (faster).
        ranking: Prebuilt :func:`ranking_metrics` for these arrays (faster).
        positive: Name of the positive class, for notes.
        negative: Name of the negative class, for notes.

    Returns:
        The :class:`MetricsReport` (without intervals; see :func:`ranking_ci` and
        :func:`threshold_ci`).
    """
    table = table or ThresholdTable.build(y_true, y_score)
    ranking = ranking or ranking_metrics(y_true, y_score)
    conf = table.confusion(threshold)
    metrics = {**threshold_metrics(conf), **ranking}
    notes = undefined_notes(metrics, threshold, positive, negative)
    notes += small_sample_notes(np.asarray(y_true), "binary", positive)
    return MetricsReport(float(threshold), metrics, conf.tolist(), notes)


MIN_EVAL_ROWS = 100
MIN_EVAL_CLASS_ROWS = 20


def small_sample_notes(y: np.ndarray, task: str, positive: str = "positive") -> list[str]:
    """A warning when an evaluation set is too small for its metrics to mean much.

    Below :data:`MIN_EVAL_ROWS` rows, or (classification) below :data:`MIN_EVAL_CLASS_ROWS`
    rows of the rarest class, one row more or less moves ROC-AUC, precision and recall by
    several points: the metrics are flagged unreliable wherever they are shown.

    Args:
        y: Targets of the evaluation set, shape (n,): 0/1, class index or value.
        task: binary, multiclass or regression.
        positive: Name of the positive class (binary), for the message.

    Returns:
        One note starting with ``"Unreliable:"``, or an empty list.
    """
    n = int(len(y))
    if task == "regression":
        rare, what = n, ""
    else:
        counts = np.bincount(np.asarray(y, dtype=np.int64)) if n else np.zeros(1, int)
        rare = int(counts[1]) if task == "binary" and len(counts) > 1 else int(
            counts[counts > 0].min() if (counts > 0).any() else 0)
        label = "of the positive class" if positive == "positive" else f"'{positive}'"
        what = (f" ({rare} {label})" if task == "binary" else f" (the rarest class has {rare})")
    if n >= MIN_EVAL_ROWS and (task == "regression" or rare >= MIN_EVAL_CLASS_ROWS):
        return []
    return [f"Unreliable: the evaluation set has only {n:,} rows{what}, so a few rows more or "
            f"less move these metrics by several points. Treat them as a rough guide; use "
            f"cross-validation or more data before relying on them."]


def is_reliable(notes: list[str]) -> bool:
    """Whether a list of metric notes carries no :func:`small_sample_notes` warning."""
    return not any(n.startswith("Unreliable:") for n in notes)


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


def gains_curve(y_true: np.ndarray, y_score: np.ndarray,
                points: int = 100) -> dict[str, np.ndarray]:
    """Cumulative gains and lift over the contacted fraction, best scores first.

    Ties are broken by a stable sort, so the curve is deterministic.

    Args:
        y_true: 0/1 labels of shape (n_samples,).
        y_score: Scores of shape (n_samples,).
        points: Number of fractions, evenly spaced in (0, 1] (fewer when there are fewer
            customers); each is rounded to a whole number of customers.

    Returns:
        ``fraction`` (n_points,), exact share contacted, ``gain`` (share of all positives
        captured), ``lift`` (gain ÷ fraction), ``positives`` (positives captured, count), ``contacted`` (count).
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
