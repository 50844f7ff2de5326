"""Impact simulation against hand computations."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import SimulationError
from core.impact import Decision, ScenarioInputs, sensitivity, simulate_scenario
from core.impact._simulate import money
from core.specs import Economics

Y10 = np.array([1, 1, 0, 1, 0, 0, 0, 0, 0, 0])
S10 = np.linspace(1, 0, 10)


def _sim(decision=Decision(), econ=Economics(10, 100), **kw):
    return simulate_scenario(Y10, S10, ScenarioInputs(decision, econ, n_bootstrap=0), **kw)


def test_hand_computed_scenario():
    r = simulate_scenario(Y10, S10, ScenarioInputs.top_share(
        0.3, Economics(contact_cost=10, conversion_value=100), n_bootstrap=0))
    assert r.targeted == 3 and r.conversions_model == 2
    assert r.base_rate == pytest.approx(0.3)
    assert r.conversions_random == pytest.approx(0.9)
    assert r.conversion_lift == pytest.approx((2 / 3) / 0.3)
    assert r.profit_model == pytest.approx(2 * 100 - 3 * 10)
    assert r.profit_random == pytest.approx(0.9 * 100 - 30)
    assert r.best_fraction == pytest.approx(0.4) and r.best_profit == pytest.approx(260)
    assert r.break_even_fraction == pytest.approx(1.0)
    assert r.revenue_model == 200 and r.cost_model == 30
    assert r.roi_model == pytest.approx(170 / 30)
    assert r.min_score == pytest.approx(S10[2])


@pytest.mark.parametrize("decision,targeted", [
    (Decision("top_n", 4), 4), (Decision("top_n", 50), 10),
    (Decision("threshold", 0.5), 5),            # scores 1, .89, .78, .67, .56 reach 0.5
    (Decision("budget", 35), 3),                 # 35 buys three contacts at 10
])
def test_decision_rules_count_contacts(decision, targeted):
    assert _sim(decision).targeted == targeted


def test_budget_pays_the_fixed_cost_first():
    r = _sim(Decision("budget", 100), Economics(10, 100, fixed_cost=60))
    assert r.targeted == 4
    assert r.profit_model == pytest.approx(3 * 100 - 4 * 10 - 60)
    with pytest.raises(SimulationError, match="does not cover"):
        _sim(Decision("budget", 65), Economics(10, 100, fixed_cost=60))


def test_payoff_matrix_prices_every_cell():
    econ = Economics(payoff=(90.0, -10.0, 1.0, -50.0))
    r = _sim(Decision("top_n", 4), econ)
    tp, fp, tn, fn = 3, 1, 6, 0
    assert r.profit_model == pytest.approx(tp * 90 - fp * 10 + tn * 1 - fn * 50)
    assert r.revenue_model == pytest.approx(3 * 90 + 6) and r.cost_model == pytest.approx(10)
    r2 = _sim(Decision("top_n", 2), econ)
    assert r2.profit_model == pytest.approx(2 * 90 + 7 * 1 - 1 * 50)
    rnd = 0.3 * 2  # expected converters among 2 random contacts
    assert r2.profit_random == pytest.approx(rnd * 90 - (2 - rnd) * 10 + (7 - (2 - rnd)) * 1
                                             - (3 - rnd) * 50)


def test_per_customer_value_column():
    values = np.array([500, 20, 999, 80, 0, 0, 0, 0, 0, 0], dtype=float)
    r = _sim(Decision("top_n", 3), Economics(10, 100, value_column="spend"), values=values)
    assert r.revenue_model == pytest.approx(500 + 20)   # the third contact did not convert
    assert r.profit_model == pytest.approx(520 - 30)
    assert r.profit_random == pytest.approx(600 * 3 / 10 - 30)


def test_current_policy_reference():
    mask = np.array([0, 0, 1, 1, 1, 0, 0, 0, 0, 0], dtype=bool)
    r = _sim(Decision("fraction", 0.3), policy_mask=mask)
    p = r.policy
    assert p["targeted"] == 3 and p["conversions"] == 1
    assert p["conversion_rate"] == pytest.approx(1 / 3)
    assert p["profit"] == pytest.approx(100 - 30)
    assert r.conversion_lift_policy == pytest.approx((2 / 3) / (1 / 3))


def test_policy_is_matched_by_the_model_at_the_same_size():
    """Policy of 4 (rows 3, 5, 6, 7: one converter) against the model's top 4 (3 converters),
    while the scenario contacts 2: the like-for-like numbers are the model's top 4."""
    mask = np.zeros(10, dtype=bool)
    mask[[3, 5, 6, 7]] = True
    r = _sim(Decision("top_n", 2), policy_mask=mask)
    p, same = r.policy, r.policy["model_same_size"]
    assert r.targeted == 2 and p["targeted"] == 4 and p["conversions"] == 1
    assert same["targeted"] == 4 and same["conversions"] == 3
    assert same["conversion_rate"] == pytest.approx(3 / 4)
    assert same["profit"] == pytest.approx(3 * 100 - 4 * 10)
    assert p["profit"] == pytest.approx(1 * 100 - 4 * 10)
    # a policy that picks exactly the converters beats the model at its size
    best = _sim(Decision("top_n", 2), policy_mask=Y10.astype(bool)).policy
    assert best["conversion_rate"] == 1.0
    assert best["model_same_size"]["conversion_rate"] == pytest.approx(2 / 3)
    assert best["model_same_size"]["profit"] < best["profit"]
    nobody = _sim(policy_mask=np.zeros(10, dtype=bool)).policy
    assert nobody["targeted"] == 0 and nobody["model_same_size"] is None


def test_expected_outcomes_sum_probabilities():
    p = np.array([0.9, 0.5, 0.2, 0.1])
    r = simulate_scenario(p, p, ScenarioInputs(Decision("top_n", 2), Economics(1, 10),
                                               n_bootstrap=2000, seed=3), expected=True)
    assert r.outcomes == "expected" and r.conversions_model == pytest.approx(1.4)
    assert r.base_rate == pytest.approx(1.7 / 4)
    lo, hi = r.ci95["conversions_model"]
    assert lo == 0 or lo == 1 and hi == 2  # integer outcomes of two Bernoulli draws
    assert any("calibrated" in n for n in r.notes)


def test_curve_and_best_point_agree_with_a_brute_force_search():
    rng = np.random.default_rng(1)
    s = rng.random(500)
    y = (rng.random(500) < 0.05 + 0.4 * s ** 3).astype(int)
    r = simulate_scenario(y, s, ScenarioInputs(Decision(), Economics(3, 40), n_bootstrap=0))
    order = np.argsort(-s, kind="mergesort")
    profits = [y[order][:k].sum() * 40 - 3 * k for k in range(1, 501)]
    assert r.best_targeted == int(np.argmax(profits)) + 1
    assert r.best_profit == pytest.approx(max(profits))
    be = max(k for k, p in enumerate(profits, 1) if p >= 0)
    assert r.break_even_fraction == pytest.approx(be / 500)
    assert len(r.curve["fraction"]) == 100 and r.curve["fraction"][-1] == 1.0
    assert r.curve["profit_model"][-1] == pytest.approx(profits[-1])


def test_bootstrap_interval_contains_estimate_and_is_seeded():
    rng = np.random.default_rng(0)
    s = rng.random(5000)
    y = (rng.random(5000) < 0.05 + 0.3 * s).astype(int)
    inp = ScenarioInputs.top_share(0.2, Economics(5, 100), n_bootstrap=300, seed=1)
    r = simulate_scenario(y, s, inp)
    lo, hi = r.ci95["conversions_model"]
    assert lo < r.conversions_model < hi
    assert r.ci95["conversion_lift"][0] > 1.0
    assert simulate_scenario(y, s, inp).ci95 == r.ci95
    other = ScenarioInputs.top_share(0.2, Economics(5, 100), 300, seed=2)
    assert simulate_scenario(y, s, other).ci95 != r.ci95


def test_random_scores_give_lift_near_one():
    rng = np.random.default_rng(5)
    y = (rng.random(20000) < 0.1).astype(int)
    r = simulate_scenario(y, rng.random(20000),
                          ScenarioInputs.top_share(0.5, Economics(1, 10), n_bootstrap=0))
    assert r.conversion_lift == pytest.approx(1.0, abs=0.05)


def test_sensitivity_moves_one_driver_at_a_time():
    r = _sim(Decision("top_n", 4), Economics(10, 100, fixed_cost=20))
    t = sensitivity(r, Economics(10, 100, fixed_cost=20), spread=0.5, steps=3)
    by = {(d, c): p for d, c, p in t[["driver", "change", "profit"]].itertuples(index=False)}
    assert by[("costs", 0.0)] == pytest.approx(300 - 40 - 20)
    assert by[("costs", 0.5)] == pytest.approx(300 - 1.5 * 60)
    assert by[("values", -0.5)] == pytest.approx(150 - 60)
    assert by[("conversion rate", 0.5)] == pytest.approx(4 * 100 - 60)  # capped at 4 of 4


def test_money_is_consistent_between_modes():
    rev, cost, profit = money(3, 2, 4, 1, 300.0, 5, Economics(7, 100, 11))
    assert (rev, cost, profit) == (300.0, 46.0, 254.0)
    rev, cost, profit = money(3, 2, 4, 1, 0.0, 5, Economics(payoff=(93, -7, 0, 0), fixed_cost=11))
    assert profit == pytest.approx(254.0)


def test_invalid_inputs():
    with pytest.raises(SimulationError, match="fraction"):
        ScenarioInputs.top_share(1.5)
    with pytest.raises(SimulationError, match="contact_cost"):
        Economics(contact_cost=-1)
    for bad in (float("inf"), float("nan"), 1e308):
        with pytest.raises(SimulationError, match="conversion_value must be a finite number"):
            Economics(conversion_value=bad)
    with pytest.raises(SimulationError, match="payoff"):
        Economics(payoff=(1, 2, 3, float("inf")))
    with pytest.raises(SimulationError, match="converted"):
        simulate_scenario(np.zeros(5), np.ones(5), ScenarioInputs.top_share(0.2, n_bootstrap=0))
    with pytest.raises(SimulationError, match="threshold"):
        _sim(Decision("threshold", 2.0))
    with pytest.raises(SimulationError, match="payoff"):
        _sim(Decision("budget", 100), Economics(payoff=(1, -1, 0, 0)))
    with pytest.raises(SimulationError, match="four finite"):
        Economics(payoff=(1, 2, 3))
    with pytest.raises(SimulationError, match="rule"):
        Decision("everyone", 1)


def test_inputs_round_trip_through_json():
    import json

    inp = ScenarioInputs(Decision("budget", 5000), Economics(2, 80, 100, (1, -2, 0, 0)),
                         "age < 30", 200, 7)
    assert ScenarioInputs.from_dict(json.loads(json.dumps(inp.to_dict()))) == inp
