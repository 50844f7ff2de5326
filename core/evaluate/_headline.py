"""Headline test metrics per task, stored in each run's metrics.json (via scikit-learn)."""

from __future__ import annotations

import numpy as np

from core.evaluate._binary import evaluate_binary, is_reliable, small_sample_notes, to_jsonable

METRIC_NAMES = {
    "accuracy": "Accuracy", "balanced_accuracy": "Balanced accuracy", "precision": "Precision",
    "recall": "Recall", "specificity": "Specificity", "f1": "F1", "roc_auc": "ROC-AUC",
    "pr_auc": "PR-AUC (average precision)", "log_loss": "Log loss (cross-entropy)",
    "brier": "Brier score", "f1_macro": "F1 (macro)", "f1_weighted": "F1 (weighted)",
    "mae": "MAE", "rmse": "RMSE", "r2": "R²", "qini_coefficient": "Qini coefficient",
    "auuc": "AUUC", "mrr": "MRR",
}
THRESHOLD_METRICS = frozenset(
    {"accuracy", "balanced_accuracy", "precision", "recall", "specificity", "f1"})


def metric_name(key: str, threshold: float | None = 0.5) -> str:
    """The field's name of a stored metric key, with the threshold for threshold metrics.

    Args:
        key: A key of a run's ``metrics.json``, e.g. ``"roc_auc"`` or ``"hit_rate@10"``.
        threshold: The binary threshold the stored value was computed at (0.5 at training).

    Returns:
        E.g. ``"ROC-AUC"``, ``"F1 @0.5"``, ``"HitRate@10"``; an unknown key is returned as is.
    """
    if key.startswith("hit_rate@"):
        return "HitRate@" + key.split("@", 1)[1]
    if key.startswith("ndcg@"):
        return "NDCG@" + key.split("@", 1)[1]
    name = METRIC_NAMES.get(key, key)
    if key in THRESHOLD_METRICS and threshold is not None:
        name += f" @{threshold:g}"
    return name


def _sanity(scores: np.ndarray) -> list[str]:
    notes = []
    predicted_pos = float((scores >= 0.5).mean())
    if predicted_pos in (0.0, 1.0):
        which = "negative" if predicted_pos == 0.0 else "positive"
        notes.append(
            f"At threshold 0.5 the model predicts every test row as {which}. Rank-based numbers "
            f"(ROC-AUC, lift) still hold; pick a threshold on the Evaluate page, or train with "
            f"class weights."
        )
    if float(np.std(scores)) < 1e-6:
        notes.append("All scores are identical: the model learned nothing useful.")
    return notes


def headline_metrics(task: str, y: np.ndarray, out: np.ndarray) -> dict:
    """Metrics of a test split in the run's metrics.json shape.

    Args:
        task: binary, multiclass or regression.
        y: True targets of shape (n,): 0/1, class index or value.
        out: Model output: (n,) probability, (n, k) probabilities, or (n,) prediction.

    Returns:
        ``{"threshold", "metrics", "confusion", "notes", "reliable", "cv"}`` (``reliable`` is
        False when the test split is too small, see :func:`small_sample_notes`); binary metrics are accuracy,
        precision, recall, specificity, F1, ROC-AUC, PR-AUC at threshold 0.5; multiclass:
        accuracy, macro/weighted F1, log loss; regression: MAE, RMSE, R².
    """
    from sklearn import metrics as skm

    if task == "binary":
        rep = evaluate_binary(y, out, 0.5)
        notes = rep.notes + _sanity(out)
        return {"threshold": 0.5, "metrics": to_jsonable(rep.metrics), "confusion": rep.confusion,
                "notes": notes, "reliable": is_reliable(notes), "cv": None}
    if task == "multiclass":
        pred = out.argmax(axis=1)
        k = out.shape[1]
        values = {
            "accuracy": skm.accuracy_score(y, pred),
            "f1_macro": skm.f1_score(y, pred, average="macro"),
            "f1_weighted": skm.f1_score(y, pred, average="weighted"),
            "log_loss": skm.log_loss(y, out, labels=list(range(k))),
        }
        confusion = skm.confusion_matrix(y, pred, labels=list(range(k))).tolist()
        notes = [] if len(np.unique(pred)) > 1 else ["The model predicts a single class."]
        notes += small_sample_notes(y, "multiclass")
        return {"threshold": None, "metrics": to_jsonable(values), "confusion": confusion,
                "notes": notes, "reliable": is_reliable(notes), "cv": None}
    values = {"mae": skm.mean_absolute_error(y, out),
              "rmse": float(np.sqrt(skm.mean_squared_error(y, out))),
              "r2": skm.r2_score(y, out)}
    notes = small_sample_notes(y, "regression")
    return {"threshold": None, "metrics": to_jsonable(values), "confusion": None, "notes": notes,
            "reliable": is_reliable(notes), "cv": None}
