"""Metrics against scikit-learn on the same arrays."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from core.metrics import ThresholdTable, evaluate_binary, gains_curve


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
    assert rep.metrics["recall"] == pytest.approx(skm.recall_score(y, pred))
    assert rep.metrics["f1"] == pytest.approx(skm.f1_score(y, pred))
    if pred.sum():
        assert rep.metrics["precision"] == pytest.approx(skm.precision_score(y, pred))
    else:
        assert rep.metrics["precision"] is None and any("undefined" in n for n in rep.notes)
    assert rep.metrics["roc_auc"] == pytest.approx(skm.roc_auc_score(y, s))
    assert rep.metrics["pr_auc"] == pytest.approx(skm.average_precision_score(y, s))


def test_threshold_table_is_reused(scored):
    y, s = scored
    table = ThresholdTable.build(y, s)
    assert table.n_pos == y.sum() and table.tp[-1] == y.sum()
    assert table.confusion(2.0).tolist() == [[len(y) - y.sum(), 0], [y.sum(), 0]]


def test_single_class_ranking_undefined():
    rep = evaluate_binary(np.zeros(10, int), np.linspace(0, 1, 10), 0.5)
    assert rep.metrics["roc_auc"] is None and rep.metrics["recall"] is None
    assert any("one class" in n for n in rep.notes)


def test_gains_curve_hand_computed():
    y = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 0])
    s = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0])
    g = gains_curve(y, s, points=10)
    assert g["positives"].tolist() == [1, 1, 2, 2, 2, 2, 2, 2, 2, 2]
    assert g["gain"][2] == pytest.approx(1.0)
    assert g["lift"][0] == pytest.approx(0.5 / 0.1)
