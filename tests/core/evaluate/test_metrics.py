"""Metrics against scikit-learn on the same arrays; undefined values explained."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from core.errors import SchemaError
from core.evaluate import ThresholdTable, evaluate_multiclass, evaluate_regression
from core.evaluate._binary import (
    binary_labels,
    evaluate_binary,
    gains_curve,
    ranking_ci,
    threshold_ci,
)


@pytest.fixture
def scored():
    rng = np.random.default_rng(3)
    y = (rng.random(2000) < 0.15).astype(int)
    s = np.clip(rng.normal(0.3 + 0.3 * y, 0.2), 0, 1).round(3)  # rounding makes ties
    return y, s


@pytest.mark.parametrize("t", [0.0, 0.2, 0.35, 0.5, 0.9, 1.0])
def test_threshold_metrics_match_sklearn(scored, t):
    y, s = scored
    rep = evaluate_binary(y, s, t)
    pred = (s >= t).astype(int)
    tn, fp, fn, tp = skm.confusion_matrix(y, pred, labels=[0, 1]).ravel()
    assert rep.confusion == [[tn, fp], [fn, tp]]
    assert rep.metrics["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert rep.metrics["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert rep.metrics["recall"] == pytest.approx(skm.recall_score(y, pred))
    assert rep.metrics["specificity"] == pytest.approx(skm.recall_score(y, pred, pos_label=0))
    assert rep.metrics["f1"] == pytest.approx(skm.f1_score(y, pred))
    if pred.sum():
        assert rep.metrics["precision"] == pytest.approx(skm.precision_score(y, pred))
    else:
        assert rep.metrics["precision"] is None and any("undefined" in n for n in rep.notes)
    assert rep.metrics["roc_auc"] == pytest.approx(skm.roc_auc_score(y, s))
    assert rep.metrics["pr_auc"] == pytest.approx(skm.average_precision_score(y, s))
    assert rep.metrics["log_loss"] == pytest.approx(skm.log_loss(y, s))
    assert rep.metrics["brier"] == pytest.approx(skm.brier_score_loss(y, s))


def test_threshold_table_is_reused(scored):
    y, s = scored
    table = ThresholdTable.build(y, s)
    assert table.n_pos == y.sum() and table.tp[-1] == y.sum()
    assert table.confusion(2.0).tolist() == [[len(y) - y.sum(), 0], [y.sum(), 0]]


def test_single_class_ranking_undefined():
    rep = evaluate_binary(np.zeros(10, int), np.linspace(0, 1, 10), 0.5, positive="yes",
                          negative="no")
    assert rep.metrics["roc_auc"] is None and rep.metrics["recall"] is None
    assert rep.metrics["pr_auc"] is None and rep.metrics["balanced_accuracy"] is None
    note = next(n for n in rep.notes if "one class" in n)
    assert "no 'yes' rows" in note and "stratified" in note


def test_no_predicted_positive_precision_undefined_not_zero():
    y = np.array([0, 1, 0, 1, 0])
    rep = evaluate_binary(y, np.array([0.1, 0.2, 0.3, 0.4, 0.45]), 0.9, positive="yes")
    assert rep.metrics["precision"] is None
    assert rep.metrics["f1"] == 0.0 and rep.metrics["recall"] == 0.0  # defined: nothing found
    assert any("nothing is predicted 'yes'" in n and "0.900" in n for n in rep.notes)
    ci = threshold_ci(np.asarray(rep.confusion))
    assert ci["precision"] is None


def test_scores_outside_unit_interval_have_no_log_loss():
    rep = evaluate_binary(np.array([0, 1, 0, 1]), np.array([-2.0, 3.0, 0.5, 1.5]), 0.0)
    assert rep.metrics["log_loss"] is None and rep.metrics["brier"] is None
    assert rep.metrics["roc_auc"] == pytest.approx(1.0)
    assert any("not probabilities" in n for n in rep.notes)


def test_string_labels_use_the_chosen_positive_class():
    labels = np.array(["yes", "no", "no", "yes", "no", "no"])
    s = np.array([0.9, 0.8, 0.3, 0.4, 0.2, 0.1])
    y = binary_labels(labels, "no")  # the analyst picked "no": not the alphabetical last
    rep = evaluate_binary(y, 1 - s, 0.5)
    pred = np.where(1 - s >= 0.5, "no", "yes")
    assert rep.metrics["precision"] == pytest.approx(skm.precision_score(labels, pred,
                                                                         pos_label="no"))
    assert rep.metrics["roc_auc"] == pytest.approx(skm.roc_auc_score(labels == "no", 1 - s))
    with pytest.raises(SchemaError, match="'maybe' is not among the labels"):
        binary_labels(labels, "maybe")


def test_ranking_ci_matches_a_row_bootstrap(scored):
    y, s = scored
    ci = ranking_ci(ThresholdTable.build(y, s), n_boot=400, seed=1)
    rng = np.random.default_rng(7)
    aucs, aps = [], []
    for _ in range(400):
        i = rng.integers(0, len(y), len(y))
        aucs.append(skm.roc_auc_score(y[i], s[i]))
        aps.append(skm.average_precision_score(y[i], s[i]))
    for key, ref in (("roc_auc", aucs), ("pr_auc", aps)):
        lo, hi = np.percentile(ref, [2.5, 97.5])
        assert ci[key][0] == pytest.approx(lo, abs=0.012)
        assert ci[key][1] == pytest.approx(hi, abs=0.012)
    point = skm.roc_auc_score(y, s)
    assert ci["roc_auc"][0] < point < ci["roc_auc"][1]


def test_ranking_ci_with_merged_groups_stays_centred():
    rng = np.random.default_rng(5)
    y = (rng.random(20000) < 0.2).astype(int)
    s = rng.normal(0.3 * y, 0.5)  # 20,000 distinct scores, merged to 500 groups
    table = ThresholdTable.build(y, s)
    exact = skm.roc_auc_score(y, s)
    fine = ranking_ci(table, n_boot=300, seed=0)
    coarse = ranking_ci(table, n_boot=300, seed=0, max_groups=500)
    assert coarse["roc_auc"][0] < exact < coarse["roc_auc"][1]
    assert coarse["roc_auc"] == pytest.approx(fine["roc_auc"], abs=0.004)


def test_f1_ci_matches_a_row_bootstrap(scored):
    y, s = scored
    rep = evaluate_binary(y, s, 0.4)
    ci = threshold_ci(np.asarray(rep.confusion), n_boot=3000, seed=2)
    rng = np.random.default_rng(8)
    pred = (s >= 0.4).astype(int)
    ref = [skm.f1_score(y[i], pred[i]) for i in rng.integers(0, len(y), (600, len(y)))]
    lo, hi = np.percentile(ref, [2.5, 97.5])
    assert ci["f1"][0] == pytest.approx(lo, abs=0.015)
    assert ci["f1"][1] == pytest.approx(hi, abs=0.015)


def test_gains_curve_hand_computed():
    y = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 0])
    s = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0])
    g = gains_curve(y, s, points=10)
    assert g["positives"].tolist() == [1, 1, 2, 2, 2, 2, 2, 2, 2, 2]
    assert g["gain"][2] == pytest.approx(1.0)
    assert g["lift"][0] == pytest.approx(0.5 / 0.1)


def test_multiclass_matches_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    logits = rng.normal(size=(300, 3)) + 1.5 * np.eye(3)[y]
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    rep = evaluate_multiclass(y, proba, ["a", "b", "c"])
    pred = proba.argmax(axis=1)
    m = rep.metrics
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert m["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert m["f1_macro"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert m["f1_weighted"] == pytest.approx(skm.f1_score(y, pred, average="weighted"))
    assert m["precision_macro"] == pytest.approx(skm.precision_score(y, pred, average="macro"))
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, proba))
    assert m["roc_auc_ovr"] == pytest.approx(skm.roc_auc_score(y, proba, multi_class="ovr"))
    assert rep.confusion == skm.confusion_matrix(y, pred).tolist()
    f1 = skm.f1_score(y, pred, average=None)
    assert [c["f1"] for c in rep.per_class] == pytest.approx(list(f1))
    assert [c["class"] for c in rep.per_class] == ["a", "b", "c"] and rep.notes == []


def test_multiclass_undefined_classes_explained():
    y = np.array([0, 0, 1, 1, 0, 1])
    proba = np.array([[0.8, 0.1, 0.1], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1],
                      [0.3, 0.6, 0.1], [0.9, 0.05, 0.05], [0.1, 0.8, 0.1]])
    rep = evaluate_multiclass(y, proba, ["x", "y", "z"])
    z = rep.per_class[2]
    assert z["support"] == 0 and z["recall"] is None and z["precision"] is None
    assert rep.metrics["roc_auc_ovr"] is None
    assert any("z have no rows" in n and "stratified" in n for n in rep.notes)
    with pytest.raises(SchemaError):
        evaluate_multiclass(np.array([0, 3]), proba[:2])


def test_regression_matches_sklearn():
    rng = np.random.default_rng(1)
    y = rng.normal(10, 3, 500)
    p = y + rng.normal(0.5, 1, 500)
    m = evaluate_regression(y, p).metrics
    assert m["mae"] == pytest.approx(skm.mean_absolute_error(y, p))
    assert m["rmse"] == pytest.approx(skm.root_mean_squared_error(y, p))
    assert m["r2"] == pytest.approx(skm.r2_score(y, p))
    assert m["median_ae"] == pytest.approx(skm.median_absolute_error(y, p))
    assert m["mape"] == pytest.approx(skm.mean_absolute_percentage_error(y, p))
    assert m["bias"] == pytest.approx(np.mean(p - y))


def test_regression_undefined_values_explained():
    rep = evaluate_regression(np.array([0.0, 0.0, 0.0]), np.array([0.1, -0.2, 0.0]))
    assert rep.metrics["r2"] is None and rep.metrics["mape"] is None
    assert rep.metrics["mae"] == pytest.approx(0.1)
    assert len(rep.notes) == 3 and any("MAPE" in n for n in rep.notes)
    assert rep.notes[-1].startswith("Unreliable: the evaluation set has only 3 rows")
