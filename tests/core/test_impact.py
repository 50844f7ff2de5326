"""Impact simulation against hand computations."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import SimulationError
from core.impact import simulate_targeting
from core.specs import ImpactInputs


def test_hand_computed_scenario():
    y = np.array([1, 1, 0, 1, 0, 0, 0, 0, 0, 0])
    s = np.linspace(1, 0, 10)
    r = simulate_targeting(y, s, ImpactInputs(contact_cost=10, conversion_value=100, fraction=0.3,
                                              n_bootstrap=0))
    assert r.targeted == 3 and r.conversions_model == 2
    assert r.base_rate == pytest.approx(0.3)
    assert r.conversions_random == pytest.approx(0.9)
    assert r.conversion_lift == pytest.approx((2 / 3) / 0.3)
    assert r.profit_model == pytest.approx(2 * 100 - 3 * 10)
    assert r.profit_random == pytest.approx(0.9 * 100 - 30)
    assert r.best_fraction == pytest.approx(0.4) and r.best_profit == pytest.approx(260)
    assert r.break_even_fraction == pytest.approx(1.0)


def test_bootstrap_interval_contains_estimate_and_is_seeded():
    rng = np.random.default_rng(0)
    s = rng.random(5000)
    y = (rng.random(5000) < 0.05 + 0.3 * s).astype(int)
    inp = ImpactInputs(5, 100, 0.2, n_bootstrap=300, seed=1)
    r = simulate_targeting(y, s, inp)
    lo, hi = r.ci95["conversions_model"]
    assert lo < r.conversions_model < hi
    assert r.ci95["conversion_lift"][0] > 1.0
    assert simulate_targeting(y, s, inp).ci95 == r.ci95


def test_random_scores_give_lift_near_one():
    rng = np.random.default_rng(5)
    y = (rng.random(20000) < 0.1).astype(int)
    r = simulate_targeting(y, rng.random(20000), ImpactInputs(1, 10, 0.5, n_bootstrap=0))
    assert r.conversion_lift == pytest.approx(1.0, abs=0.05)


def test_invalid_inputs():
    with pytest.raises(SimulationError, match="fraction"):
        ImpactInputs(fraction=1.5)
    with pytest.raises(SimulationError, match="contact_cost"):
        ImpactInputs(contact_cost=-1)
    with pytest.raises(SimulationError, match="converted"):
        simulate_targeting(np.zeros(5), np.ones(5), ImpactInputs(n_bootstrap=0))
