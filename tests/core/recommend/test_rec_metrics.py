"""Full-ranking metrics against hand computations, ties, seen items, bootstrap, value simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest

import core.recommend._metrics as rm
from core.errors import SimulationError
from core.recommend import rank_users, summarize
from core.recommend._metrics import (
    RankStats,
    bootstrap_ci,
    coverage,
    mask_scores,
    per_user,
    rank_stats,
    top_k,
)
from core.recommend._value import ValueInputs, simulate_value, target_values
from core.specs import Economics

NEG = -np.inf


def _stats(scores, targets, seen=None, max_k=5):
    s = mask_scores(np.array(scores, dtype=np.float64), seen)
    return rank_stats(s, np.array(targets), max_k)


def test_hand_computed_without_ties():
    scores = [[0, .9, .8, .7, .6, .5]] * 3
    stats = _stats(scores, [3, 1, 5])  # true items at positions 3, 1 and 5
    assert stats.greater.tolist() == [2, 0, 4] and stats.ties.tolist() == [0, 0, 0]
    u = per_user(stats, (1, 3, 5))
    assert u["hit_rate@1"].tolist() == [0, 1, 0]
    assert u["hit_rate@3"].tolist() == [1, 1, 0]
    assert u["hit_rate@5"].tolist() == [1, 1, 1]
    assert u["ndcg@3"] == pytest.approx([1 / math.log2(4), 1.0, 0.0])
    assert u["ndcg@5"][2] == pytest.approx(1 / math.log2(6))
    assert u["mrr"] == pytest.approx([1 / 3, 1.0, 1 / 5])
    m = summarize(stats, (3,))
    assert m["hit_rate@3"] == pytest.approx(2 / 3)
    assert m["ndcg@3"] == pytest.approx((0.5 + 1.0) / 3)
    assert m["mrr"] == pytest.approx((1 / 3 + 1 + 0.2) / 3)
    assert m["coverage@3"] == pytest.approx(3 / 5)  # everyone gets items 1, 2, 3


def test_ties_are_ordered_at_random_in_expectation():
    stats = _stats([[0, .9, .5, .5, .1]], [3])  # one item above, one tied: position 2 or 3
    assert (stats.greater[0], stats.ties[0]) == (1, 1)
    u = per_user(stats, (1, 2, 3))
    assert u["hit_rate@1"][0] == 0 and u["hit_rate@2"][0] == 0.5 and u["hit_rate@3"][0] == 1
    assert u["ndcg@2"][0] == pytest.approx(0.5 / math.log2(3))
    assert u["ndcg@3"][0] == pytest.approx(0.5 * (1 / math.log2(3) + 1 / math.log2(4)))
    assert u["mrr"][0] == pytest.approx((1 / 2 + 1 / 3) / 2)
    assert stats.expected_rank()[0] == 2.5
    flat = per_user(_stats([[0, 1, 1, 1, 1, 1]], [4]), (1, 5))  # a model that learned nothing
    assert flat["hit_rate@1"][0] == pytest.approx(1 / 5) and flat["hit_rate@5"][0] == 1
    assert flat["mrr"][0] == pytest.approx(sum(1 / p for p in range(1, 6)) / 5)


def test_seen_items_excluded_or_unreachable():
    scores = [[0, .9, .8, .7], [0, .9, .8, .7]]
    stats = _stats(scores, [3, 1], seen=[np.array([1]), np.array([1, 2])])
    assert stats.reachable.tolist() == [True, False]
    assert stats.greater[0] == 1  # item 1 is masked, item 2 is still above
    u = per_user(stats, (1, 2))
    assert u["hit_rate@2"].tolist() == [1.0, 0.0] and u["mrr"].tolist() == [0.5, 0.0]
    assert stats.expected_rank()[1] == np.inf
    assert stats.top_items[0, :2].tolist() == [2, 3]  # padding and seen items never shown


def test_top_k_breaks_ties_by_index_and_coverage():
    assert top_k(np.array([[NEG, 1, 3, 3, 2]]), 3).tolist() == [[2, 3, 4]]
    stats = RankStats(np.zeros(2, int), np.zeros(2, int), np.ones(2, bool),
                      np.array([[1, 2], [1, 4]]), 10)
    assert coverage(stats, 1) == 0.1 and coverage(stats, 2) == 0.3


def test_batched_ranking_equals_one_pass(monkeypatch):
    rng = np.random.default_rng(0)
    scores = rng.random((7, 12))
    histories = [rng.integers(1, 12, 3) for _ in range(7)]
    targets = rng.integers(1, 12, 7)

    def score_fn(batch):
        idx = [next(i for i, h in enumerate(histories) if h is b) for b in batch]
        return scores[idx]

    whole = rank_users(score_fn, histories, targets, exclude_seen=True)
    monkeypatch.setattr(rm, "BATCH_USERS", 2)
    parts = rank_users(score_fn, histories, targets, exclude_seen=True)
    for field in ("greater", "ties", "reachable", "top_items"):
        assert getattr(whole, field).tolist() == getattr(parts, field).tolist()


def test_nan_scores_never_rank_first():
    stats = rank_users(lambda b: np.full((len(b), 4), np.nan), [np.array([1])], np.array([2]),
                       exclude_seen=False)
    assert per_user(stats, (1,))["hit_rate@1"][0] == 0.0


def test_bootstrap_intervals():
    assert bootstrap_ci({"x": np.full(50, 0.3)}, 200) == {"x": [pytest.approx(0.3)] * 2}
    values = {"x": np.random.default_rng(1).random(400)}
    ci = bootstrap_ci(values, 300, seed=7)
    assert ci == bootstrap_ci(values, 300, seed=7)
    assert ci["x"][0] < values["x"].mean() < ci["x"][1]
    assert 0.04 < ci["x"][1] - ci["x"][0] < 0.08  # ≈ 2 × 1.96 × 0.289 / √400 = 0.057
    assert bootstrap_ci(values, 0) == {}


def _ranks(greater):
    n = len(greater)
    return RankStats(np.array(greater), np.zeros(n, int), np.ones(n, bool),
                     np.zeros((n, 1), int), 10)


def test_value_simulation_by_hand():
    model, popular = _ranks([0, 0, 5, 5]), _ranks([0, 5, 5, 5])  # hits@1: 2 of 4 vs 1 of 4
    values = np.array([10.0, 20.0, 30.0, 40.0])
    inputs = ValueInputs(ctr=0.5, conversion_rate=0.2, users=100, impressions=2, k=1)
    assert inputs.scale == 20.0  # 100 users × 2 lists × 0.5 × 0.2
    r = simulate_value(model, popular, values, inputs, n_boot=200)
    assert r.conversions == {"personalised": 10.0, "popular": 5.0}
    assert r.revenue == {"personalised": 150.0, "popular": 50.0}
    assert (r.incremental_conversions, r.incremental_revenue) == ({"popular": 5.0},
                                                                  {"popular": 100.0})
    assert r.by_k["k"][0] == 1 and r.by_k["personalised"][0] == 150.0
    assert r.by_k["popular"][-1] == 20.0 * values.mean()  # K = 20: everyone's item is listed
    lo, hi = r.ci95["incremental_revenue_popular"]
    assert 0.0 <= lo <= 100.0 <= hi <= 20.0 * 40.0
    assert r.value_source == "item prices"


def test_target_values_and_inputs():
    item_values = np.array([np.nan, 10.0, np.nan, 30.0])
    assert target_values(item_values, np.array([1, 2, 3]), None).tolist() == [10.0, 20.0, 30.0]
    assert target_values(item_values, np.array([1, 2]), 7.5).tolist() == [7.5, 7.5]
    with pytest.raises(SimulationError, match="average order value"):
        target_values(np.full(3, np.nan), np.array([1]), None)
    with pytest.raises(SimulationError, match=r"ctr must be in \(0, 1\]; got 1.5"):
        ValueInputs(ctr=1.5)
    with pytest.raises(SimulationError, match="conversion_value must be a finite number in"):
        ValueInputs(economics=Economics(0.0, 0.0))
    assert ValueInputs(economics=Economics(0.0, 25.0)).order_value == 25.0
    with pytest.raises(SimulationError, match="same test users"):
        simulate_value(_ranks([0]), _ranks([0, 1]), np.ones(1), ValueInputs())
    with pytest.raises(SimulationError, match="at least one baseline"):
        simulate_value(_ranks([0]), {}, np.ones(1), ValueInputs())
