"""Group fairness of a binary decision with Fairlearn (Bird et al., 2020, "Fairlearn: A toolkit
for assessing and improving fairness in AI"): per-group metrics with
:class:`fairlearn.metrics.MetricFrame`, demographic parity and equalised odds (Hardt, Price &
Srebro, 2016) differences and ratios with Fairlearn's own functions, and percentile bootstrap
intervals over resampled test rows.

The bootstrap recomputes the same quantities from per-group confusion counts (``numpy``
``bincount``), which is what Fairlearn's definitions reduce to: selection rate = predicted
positives / rows, recall (true-positive rate) = TP / positives, false-positive rate = FP /
negatives, precision = TP / predicted positives; a difference is the largest minus the
smallest group value, a ratio the smallest over the largest (``method="between_groups"``);
equalised odds takes the worse of the recall and false-positive-rate disparities.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.errors import SchemaError

MISSING = "(missing)"
SMALL_GROUP = 30
GROUP_METRICS = ("selection_rate", "recall", "false_positive_rate", "precision")
DISPARITIES = ("demographic_parity_difference", "demographic_parity_ratio",
               "equalized_odds_difference", "equalized_odds_ratio")


@dataclass(frozen=True)
class FairnessReport:
    """Per-group metrics and disparities of one decision rule.

    Attributes:
        by: The sensitive column.
        threshold: Score at or above which a row is predicted positive.
        groups: One dict per group, largest first: ``group``, ``rows``, ``positives``,
            ``selection_rate``, ``recall``, ``false_positive_rate``, ``precision``, ``roc_auc``
            (None where undefined) and ``ci95`` (metric → ``[low, high]``).
        disparities: :data:`DISPARITIES` → value (None where undefined).
        ci95: :data:`DISPARITIES` → ``[low, high]`` 95% percentile bootstrap interval.
        n_boot: Bootstrap resamples.
        notes: Plain-language caveats (small groups, undefined metrics).
    """

    by: str
    threshold: float
    groups: list[dict]
    disparities: dict
    ci95: dict
    n_boot: int
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON-ready: ``by``, ``threshold``, ``groups``, the four disparities at the top
        level, ``ci95``, ``n_boot``, ``notes``."""
        return {"by": self.by, "threshold": self.threshold, "groups": self.groups,
                **self.disparities, "ci95": self.ci95, "n_boot": self.n_boot,
                "notes": self.notes}


def group_labels(values) -> np.ndarray:
    """Sensitive values as text, missing as ``(missing)`` (its own group)."""
    s = pd.Series(values)
    return s.map(lambda v: MISSING if pd.isna(v) else str(v).strip() or repr(str(v))) \
        .to_numpy(dtype=object)


def _nan_to_none(value) -> float | None:
    value = float(value)
    return None if not np.isfinite(value) else value


def _roc_auc(y, s) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, s)) if len(np.unique(y)) == 2 else float("nan")


def _frame(y, pred, score, groups):
    from fairlearn.metrics import (
        MetricFrame,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import precision_score

    def precision(y_true, y_pred):
        return precision_score(y_true, y_pred, zero_division=np.nan)

    rates = MetricFrame(metrics={"selection_rate": selection_rate, "recall": true_positive_rate,
                                 "false_positive_rate": false_positive_rate,
                                 "precision": precision},
                        y_true=y, y_pred=pred, sensitive_features=pd.Series(groups, name="group"))
    auc = MetricFrame(metrics={"roc_auc": _roc_auc}, y_true=y, y_pred=score,
                      sensitive_features=pd.Series(groups, name="group"))
    return rates, auc


def _counts(codes: np.ndarray, y: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    """Per-group confusion counts, shape (k, 4): TN, FP, FN, TP."""
    return np.bincount(codes * 4 + y * 2 + pred, minlength=4 * k).reshape(k, 4).astype(float)


def _rates(c: np.ndarray) -> dict[str, np.ndarray]:
    tn, fp, fn, tp = c[..., 0], c[..., 1], c[..., 2], c[..., 3]
    with np.errstate(divide="ignore", invalid="ignore"):
        return {"selection_rate": (fp + tp) / (tn + fp + fn + tp),
                "recall": tp / (tp + fn), "false_positive_rate": fp / (fp + tn),
                "precision": tp / (tp + fp)}


def _disparities(r: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Between-group disparities along the last axis (groups), NaN groups ignored."""
    def diff(v):
        return np.nanmax(v, axis=-1) - np.nanmin(v, axis=-1)

    def ratio(v):  # 0 / 0 is undefined (NaN), as in Fairlearn
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.nanmin(v, axis=-1) / np.nanmax(v, axis=-1)

    sel, tpr, fpr = r["selection_rate"], r["recall"], r["false_positive_rate"]
    return {"demographic_parity_difference": diff(sel), "demographic_parity_ratio": ratio(sel),
            "equalized_odds_difference": np.maximum(diff(tpr), diff(fpr)),
            "equalized_odds_ratio": np.minimum(ratio(tpr), ratio(fpr))}


def _bootstrap(codes, y, pred, k, n_boot, seed) -> tuple[dict, dict]:
    """95% percentile intervals of the group rates and the disparities."""
    rng = np.random.default_rng(seed)
    n = len(y)
    counts = np.empty((n_boot, k, 4))
    for b in range(n_boot):
        idx = rng.integers(0, n, n)
        counts[b] = _counts(codes[idx], y[idx], pred[idx], k)
    with np.errstate(all="ignore"):
        rates = _rates(counts)
        disp = _disparities(rates)

    def interval(v):
        v = v[np.isfinite(v)]
        return [float(np.quantile(v, 0.025)), float(np.quantile(v, 0.975))] if len(v) > 1 \
            else None

    per_group = {m: [interval(rates[m][:, g]) for g in range(k)] for m in GROUP_METRICS}
    return per_group, {m: interval(disp[m]) for m in DISPARITIES}


def fairness_report(y, score, groups, threshold: float, by: str, n_boot: int = 500,
                    seed: int = 42) -> FairnessReport:
    """Fairness of "score ≥ threshold → positive" across the groups of a sensitive column.

    Args:
        y: 0/1 labels, shape (n,).
        score: Positive-class scores, shape (n,).
        groups: Sensitive value of each row, shape (n,) (missing is its own group).
        threshold: Decision threshold in [0, 1].
        by: The sensitive column's name (for the report).
        n_boot: Bootstrap resamples for the intervals (0 to skip).
        seed: Seed of the resamples.

    Returns:
        The :class:`FairnessReport`; point values are Fairlearn's.

    Raises:
        SchemaError: Lengths differ, or fewer than two groups.
    """
    from fairlearn.metrics import (
        demographic_parity_difference,
        demographic_parity_ratio,
        equalized_odds_difference,
        equalized_odds_ratio,
    )

    y = np.asarray(y).astype(np.int64)
    score = np.asarray(score, dtype=float)
    labels = group_labels(groups)
    if not len(y) == len(score) == len(labels):
        raise SchemaError("Labels, scores and the sensitive column must have one value per row.")
    pred = (score >= threshold).astype(np.int64)
    names, codes = np.unique(labels, return_inverse=True)
    if len(names) < 2:
        raise SchemaError(f"'{by}' has a single value ({names[0] if len(names) else 'none'}) "
                          f"on the test rows; fairness compares at least two groups.")
    rates, auc = _frame(y, pred, score, labels)
    kw = {"sensitive_features": labels}
    disparities = {
        "demographic_parity_difference": demographic_parity_difference(y, pred, **kw),
        "demographic_parity_ratio": demographic_parity_ratio(y, pred, **kw),
        "equalized_odds_difference": equalized_odds_difference(y, pred, **kw),
        "equalized_odds_ratio": equalized_odds_ratio(y, pred, **kw)}
    disparities = {k: _nan_to_none(v) for k, v in disparities.items()}
    per_group, ci = (_bootstrap(codes, y, pred, len(names), n_boot, seed) if n_boot
                     else ({m: [None] * len(names) for m in GROUP_METRICS},
                           dict.fromkeys(DISPARITIES)))
    rows = np.bincount(codes, minlength=len(names))
    positives = np.bincount(codes, weights=y, minlength=len(names))
    table = []
    for g, name in enumerate(names):
        by_group = rates.by_group.loc[name].to_dict()
        if positives[g] == 0:  # Fairlearn (via scikit-learn's normalised confusion) says 0
            by_group["recall"] = float("nan")
        if positives[g] == rows[g]:
            by_group["false_positive_rate"] = float("nan")
        table.append({"group": str(name), "rows": int(rows[g]), "positives": int(positives[g]),
                      **{m: _nan_to_none(by_group[m]) for m in GROUP_METRICS},
                      "roc_auc": _nan_to_none(auc.by_group.loc[name, "roc_auc"]),
                      "ci95": {m: per_group[m][g] for m in GROUP_METRICS}})
    table.sort(key=lambda r: -r["rows"])
    return FairnessReport(by, float(threshold), table, disparities, ci, int(n_boot),
                          _notes(table, by))


def _notes(table: list[dict], by: str) -> list[str]:
    notes = []
    small = [r["group"] for r in table if r["rows"] < SMALL_GROUP]
    if small:
        notes.append(f"Groups of '{by}' under {SMALL_GROUP} test rows ({', '.join(small)}): "
                     f"their metrics and the disparities move a lot by chance; read the "
                     f"intervals.")
    one_class = [r["group"] for r in table if r["roc_auc"] is None]
    if one_class:
        notes.append(f"ROC-AUC is undefined where a group has one class only "
                     f"({', '.join(one_class)}).")
    if any(r["recall"] is None for r in table):
        notes.append("Recall is undefined for a group without positives, and equalised odds "
                     "then rests on the other groups.")
    return notes
