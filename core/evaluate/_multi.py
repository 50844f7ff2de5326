"""Multiclass and regression metrics on arrays (scikit-learn), with undefined values explained.

Binary metrics live in :mod:`core.evaluate`. Every value that cannot be computed is ``None`` and
comes with a plain-language note.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import SchemaError
from core.evaluate._binary import small_sample_notes


def _nan_to_none(values) -> list[float | None]:
    return [None if not np.isfinite(v) else float(v) for v in np.asarray(values, dtype=float)]


@dataclass(frozen=True)
class MulticlassReport:
    """Metrics of a multiclass evaluation set (prediction = most probable class).

    Attributes:
        metrics: accuracy, balanced_accuracy, precision/recall/f1 macro and weighted, log_loss,
            roc_auc_ovr (macro one-vs-rest); None = undefined.
        per_class: One dict per class: class, precision, recall, f1, support, roc_auc_ovr.
        confusion: Counts of shape (k, k); rows actual, columns predicted.
        classes: Class names, length k.
        notes: Plain-language explanations of undefined values.
    """

    metrics: dict[str, float | None]
    per_class: list[dict]
    confusion: list[list[int]]
    classes: list[str]
    notes: list[str]


def _per_class_auc(y: np.ndarray, proba: np.ndarray) -> list[float | None]:
    from sklearn.metrics import roc_auc_score

    out = []
    for k in range(proba.shape[1]):
        hit = (y == k).astype(int)
        out.append(float(roc_auc_score(hit, proba[:, k])) if 0 < hit.sum() < hit.size else None)
    return out


def evaluate_multiclass(y_true: np.ndarray, proba: np.ndarray,
                        classes: list[str] | None = None) -> MulticlassReport:
    """Per-class and averaged metrics via scikit-learn.

    Args:
        y_true: Class indices of shape (n_samples,), in ``range(k)``.
        proba: Class probabilities of shape (n_samples, k).
        classes: Class names, length k (default ``"0" … "k-1"``).

    Returns:
        The :class:`MulticlassReport`.

    Raises:
        SchemaError: Shapes disagree or a label is outside ``range(k)``.
    """
    from sklearn import metrics as skm

    y, proba = np.asarray(y_true).astype(int).ravel(), np.asarray(proba, dtype=np.float64)
    k = proba.shape[1] if proba.ndim == 2 else 0
    if proba.ndim != 2 or len(proba) != y.size or y.size == 0 or y.min() < 0 or y.max() >= k:
        raise SchemaError(f"Multiclass evaluation needs labels in 0..k-1 and probabilities of "
                          f"shape (n, k); got {y.size} labels and shape {proba.shape}.")
    classes = [str(c) for c in (classes or range(k))]
    pred, labels = proba.argmax(axis=1), list(range(k))
    p, r, f, support = skm.precision_recall_fscore_support(y, pred, labels=labels,
                                                           zero_division=np.nan)
    aucs = _per_class_auc(y, proba)
    metrics = {"accuracy": float(skm.accuracy_score(y, pred)),
               "balanced_accuracy": float(np.nanmean(np.where(support > 0, r, np.nan))),
               "log_loss": float(skm.log_loss(y, proba, labels=labels))}
    for avg in ("macro", "weighted"):
        ap, ar, af, _ = skm.precision_recall_fscore_support(y, pred, labels=labels, average=avg,
                                                            zero_division=np.nan)
        metrics.update({f"precision_{avg}": ap, f"recall_{avg}": ar, f"f1_{avg}": af})
    metrics["roc_auc_ovr"] = None if None in aucs else float(np.mean(aucs))
    metrics = {key: _nan_to_none([v])[0] for key, v in metrics.items()}
    per_class = [{"class": c, "precision": pc, "recall": rc, "f1": fc, "support": int(s),
                  "roc_auc_ovr": a}
                 for c, pc, rc, fc, s, a in zip(classes, _nan_to_none(p), _nan_to_none(r),
                                                _nan_to_none(f), support, aucs)]
    confusion = skm.confusion_matrix(y, pred, labels=labels).tolist()
    return MulticlassReport(metrics, per_class, confusion, classes,
                            _multiclass_notes(per_class) + small_sample_notes(y, "multiclass"))


def _multiclass_notes(per_class: list[dict]) -> list[str]:
    notes = []
    absent = [c["class"] for c in per_class if c["support"] == 0]
    never = [c["class"] for c in per_class if c["precision"] is None and c["support"] > 0]
    if absent:
        notes.append(f"Class(es) {', '.join(absent)} have no rows in the evaluation set: their "
                     f"recall and one-vs-rest ROC-AUC are undefined, so the macro ROC-AUC is too. "
                     f"A stratified split keeps every class in the test set.")
    if never:
        notes.append(f"The model never predicts class(es) {', '.join(never)}: their precision is "
                     f"undefined and left out of the averages.")
    return notes


@dataclass(frozen=True)
class RegressionReport:
    """Metrics of a regression evaluation set.

    Attributes:
        metrics: mae, rmse, r2, median_ae, mape (None when a true value is 0), bias (mean of
            prediction − actual).
        notes: Plain-language explanations of undefined values.
    """

    metrics: dict[str, float | None]
    notes: list[str]


def evaluate_regression(y_true: np.ndarray, y_pred: np.ndarray) -> RegressionReport:
    """MAE, RMSE, R², median absolute error, MAPE and bias via scikit-learn.

    Args:
        y_true: Actual values of shape (n_samples,).
        y_pred: Predictions of shape (n_samples,).

    Returns:
        The :class:`RegressionReport`.

    Raises:
        SchemaError: Empty, different lengths, or non-finite values.
    """
    from sklearn import metrics as skm

    y = np.asarray(y_true, dtype=np.float64).ravel()
    p = np.asarray(y_pred, dtype=np.float64).ravel()
    if y.size == 0 or y.size != p.size or not (np.isfinite(y).all() and np.isfinite(p).all()):
        raise SchemaError(f"Regression evaluation needs equal-length finite values; got {y.size} "
                          f"actual and {p.size} predicted.")
    notes = []
    metrics = {"mae": float(skm.mean_absolute_error(y, p)),
               "rmse": float(np.sqrt(skm.mean_squared_error(y, p))),
               "r2": None, "median_ae": float(skm.median_absolute_error(y, p)),
               "mape": None, "bias": float(np.mean(p - y))}
    if y.size > 1 and np.ptp(y) > 0:
        metrics["r2"] = float(skm.r2_score(y, p))
    else:
        notes.append("R² is undefined: every actual value is the same, so there is no variance "
                     "to explain.")
    if np.all(y != 0):
        metrics["mape"] = float(skm.mean_absolute_percentage_error(y, p))
    else:
        notes.append("MAPE is undefined: some actual values are 0 (a percentage of 0 has no "
                     "meaning). Read MAE instead.")
    return RegressionReport(metrics, notes + small_sample_notes(y, "regression"))
