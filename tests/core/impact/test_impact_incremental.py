"""Response-model profit is incremental once the analyst says which share of conversions
happens without contact (issue 13): only the other share of the reached converters' value is
credited to the contact, in every figure (profit, curve, best share, intervals)."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import SimulationError
from core.impact import ScenarioInputs, simulate_scenario
from core.specs import Economics

Y10 = np.array([1, 1, 0, 1, 0, 0, 0, 0, 0, 0])
S10 = np.linspace(1, 0, 10)


def test_every_converter_reached_was_credited_to_the_contact():
    full = simulate_scenario(Y10, S10, ScenarioInputs.top_share(
        0.3, Economics(10, 100), n_bootstrap=0))
    assert full.profit_model == pytest.approx(2 * 100 - 3 * 10)  # the trap: all 2 credited
    r = simulate_scenario(Y10, S10, ScenarioInputs.top_share(
        0.3, Economics(10, 100, organic_share=0.4), n_bootstrap=0))
    assert r.conversions_model == 2  # still the converters reached
    assert r.profit_model == pytest.approx(2 * 100 * 0.6 - 3 * 10)
    assert r.profit_random == pytest.approx(0.9 * 100 * 0.6 - 30)
    # the best depth moves: the 4th customer (a converter, +60 net of 10) still pays, the rest
    # only cost; by hand over k = 1..10
    profits = [np.sum(Y10[:k]) * 60 - 10 * k for k in range(1, 11)]
    assert r.best_profit == pytest.approx(max(profits))
    assert r.best_fraction == pytest.approx((int(np.argmax(profits)) + 1) / 10)


def test_intervals_and_round_trip_and_bad_input():
    rng = np.random.default_rng(0)
    y = (rng.random(2000) < 0.2).astype(int)
    s = y * 0.3 + rng.random(2000)
    econ = Economics(2, 50, organic_share=0.5)
    inputs = ScenarioInputs.top_share(0.2, econ, n_bootstrap=200)
    r = simulate_scenario(y, s, inputs)
    lo, hi = r.ci95["profit_model"]
    assert lo <= r.profit_model <= hi
    assert ScenarioInputs.from_dict(inputs.to_dict()).economics.organic_share == 0.5
    assert "50% of conversions without contact" in econ.label()
    with pytest.raises(SimulationError, match=r"must be in \[0, 1\)"):
        Economics(organic_share=1.0)
    with pytest.raises(SimulationError, match="payoff matrix"):
        Economics(payoff=(1, -1, 0, 0), organic_share=0.2)
