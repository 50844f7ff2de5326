"""A/B planner and readout against hand computations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from core.errors import SchemaError, SimulationError
from core.impact import plan_ab, read_ab
from core.impact._abtest import ab_counts


def _hand_n(p1, p2, alpha=0.05, power=0.8):
    """Fleiss, Levin & Paik (2003), 4.14 without continuity correction: the pooled z-test."""
    pbar = (p1 + p2) / 2
    return ((norm.ppf(1 - alpha / 2) * math.sqrt(2 * pbar * (1 - pbar))
             + norm.ppf(power) * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) / (p2 - p1)) ** 2


@pytest.mark.parametrize("p1,p2,alpha,power", [(0.10, 0.12, 0.05, 0.8), (0.11, 0.37, 0.05, 0.9),
                                               (0.30, 0.25, 0.01, 0.8)])
def test_sample_size_is_the_z_tests_own(p1, p2, alpha, power):
    plan = plan_ab(p1, p2, alpha, power, daily_volume=500)
    assert plan.per_arm - 1 <= _hand_n(p1, p2, alpha, power) <= plan.per_arm
    assert power <= plan.achieved_power < power + 0.005  # Cohen's h gave 0.795 for 0.80
    assert plan.total == 2 * plan.per_arm
    assert plan.days == math.ceil(plan.total / 500)
    assert plan.relative_lift == pytest.approx(p2 / p1 - 1)


def test_the_planned_size_gives_the_asked_power_in_simulated_readouts():
    """Simulate 4,000 experiments of the planned size and read each one with the readout's
    own test (statsmodels' pooled z-test): the share found significant is the power asked."""
    from statsmodels.stats.proportion import proportions_ztest

    plan = plan_ab(0.10, 0.14)
    rng = np.random.default_rng(0)
    a = rng.binomial(plan.per_arm, 0.10, 4000)
    b = rng.binomial(plan.per_arm, 0.14, 4000)
    p = np.array([proportions_ztest([y, x], [plan.per_arm] * 2)[1] for x, y in zip(a, b)])
    assert abs((p < 0.05).mean() - 0.80) < 0.02  # ± 1.6 standard errors of 4,000 draws


def test_tiny_counts_use_fishers_exact_test():
    from scipy.stats import fisher_exact

    r = read_ab(0, 500, 5, 500)
    assert r.test == "Fisher's exact test" and not r.significant
    assert r.p_value == pytest.approx(fisher_exact([[5, 495], [0, 500]])[1])  # 0.062, not 0.025
    assert read_ab(100, 1000, 130, 1000).test == "pooled z-test"


def test_readout_against_a_pooled_z_test():
    r = read_ab(100, 1000, 130, 1000, predicted_lift=0.5)
    pooled = 230 / 2000
    z = (0.13 - 0.10) / math.sqrt(pooled * (1 - pooled) * (2 / 1000))
    assert r.p_value == pytest.approx(2 * norm.sf(z), rel=1e-9)
    assert r.lift == pytest.approx(0.3) and r.difference == pytest.approx(0.03)
    assert r.lift_ci95[0] < 0.3 < r.lift_ci95[1] and r.significant
    assert r.difference_ci95[0] < 0.03 < r.difference_ci95[1]
    assert r.prediction_inside is True
    assert read_ab(100, 1000, 130, 1000, predicted_lift=0.9).prediction_inside is False


def test_readout_interval_agrees_with_statsmodels():
    from statsmodels.stats.proportion import confint_proportions_2indep

    r = read_ab(48, 900, 70, 880)
    lo, hi = confint_proportions_2indep(70, 880, 48, 900, method="score", compare="ratio")
    assert r.lift_ci95 == pytest.approx([lo - 1, hi - 1])
    assert not read_ab(100, 1000, 104, 1000).significant


def test_counts_from_a_results_table(con):
    frame = pd.DataFrame({"arm": ["control"] * 4 + ["model"] * 6,
                          "bought": ["yes", "no", "no", "no", "yes", "yes", "yes", "no", "no",
                                     None]})
    con.register("f", frame)
    con.execute("CREATE TABLE results AS SELECT * FROM f")
    assert ab_counts(con, "results", "arm", "bought", "yes", "control") == (1, 4, 3, 5)
    with pytest.raises(SchemaError, match="Both arms"):
        ab_counts(con, "results", "arm", "bought", "yes", "nobody")


def test_invalid_ab_inputs():
    with pytest.raises(SimulationError, match="no change"):
        plan_ab(0.1, 0.1)
    with pytest.raises(SimulationError, match="conversion rate"):
        plan_ab(0.0, 0.1)
    with pytest.raises(SimulationError, match="Arm B"):
        read_ab(10, 100, 120, 100)


def test_counts_from_an_uploaded_frame_with_numeric_codes():
    from core.impact import ab_counts_frame

    frame = pd.DataFrame({"group": [0, 0, 0, 1, 1, 1, 1], "converted": [1.0, 0, 0, 1, 1, 0,
                                                                        None]})
    assert ab_counts_frame(frame, "group", "converted", "1", "0") == (1, 3, 2, 3)
    with pytest.raises(SchemaError, match="no column"):
        ab_counts_frame(frame, "arm", "converted", "1", "0")
