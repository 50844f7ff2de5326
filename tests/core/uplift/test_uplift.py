"""Uplift metrics against scikit-uplift 0.5.1, and the incremental simulation against a known
true uplift per customer."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from core.errors import SchemaError, SimulationError
from core.impact import ScenarioInputs
from core.specs import Economics
from core.uplift import simulate_uplift, uplift_segments
from core.uplift._metrics import qini_curve, uplift_at_k, uplift_curve, uplift_report, uplift_scores
from core.uplift._simulate import simulate_uplift_expected

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from sklift import metrics as sk

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")  # sklift's stable_cumsum


def _sample(n, seed, ties=False):
    rng = np.random.default_rng(seed)
    t = rng.integers(0, 2, n)
    s = rng.random(n)
    if ties:
        s = np.round(s, 1)
    y = (rng.random(n) < 0.1 + 0.15 * t * s - 0.08 * t * (s < 0.3)).astype(int)
    return y, t, s


@pytest.mark.parametrize("n,seed,ties", [(2000, 0, False), (3000, 1, True), (300, 2, False),
                                         (5000, 3, True)])
def test_metrics_match_scikit_uplift(n, seed, ties):
    y, t, s = _sample(n, seed, ties)
    ours = uplift_scores(y, t, s)
    assert ours["auuc"] == pytest.approx(sk.uplift_auc_score(y, s, t), abs=1e-12)
    assert ours["qini_coefficient"] == pytest.approx(sk.qini_auc_score(y, s, t), abs=1e-12)
    for k in (0.1, 0.3, 0.5):
        assert uplift_at_k(y, t, s, k) == pytest.approx(
            sk.uplift_at_k(y, s, t, strategy="overall", k=k), abs=1e-12)
    for ours_curve, theirs in ((uplift_curve, sk.uplift_curve), (qini_curve, sk.qini_curve)):
        x1, v1 = ours_curve(y, t, s)
        x2, v2 = theirs(y, s, t)
        np.testing.assert_allclose(x1, x2)
        np.testing.assert_allclose(v1, v2, atol=1e-9)


def test_hand_computed_curve_values():
    # ranked: (y, t) = (1,1), (0,0), (1,1), (0,1), (1,0), (0,0)
    y = np.array([1, 0, 1, 0, 1, 0])
    t = np.array([1, 0, 1, 1, 0, 0])
    s = np.array([6, 5, 4, 3, 2, 1.0])
    x, up = uplift_curve(y, t, s)
    # after 4 customers: treated 2/3 convert, control 0/1 -> (2/3 - 0) × 4
    assert up[4] == pytest.approx(8 / 3)
    # after all 6: treated 2/3, control 1/3 -> (1/3) × 6
    assert up[6] == pytest.approx(2.0)
    _, qini = qini_curve(y, t, s)
    assert qini[6] == pytest.approx(2 - 1 * 3 / 3)
    assert uplift_at_k(y, t, s, 0.5) == pytest.approx(1.0 - 0.0)


def test_report_intervals_are_seeded_and_contain_the_estimate():
    y, t, s = _sample(3000, 5)
    a = uplift_report(y, t, s, n_boot=150, seed=1)
    b = uplift_report(y, t, s, n_boot=150, seed=1)
    assert a.ci95 == b.ci95
    for key in ("qini_coefficient", "auuc", "uplift_at_10", "uplift_at_30"):
        lo, hi = a.ci95[key]
        assert lo <= a.metrics[key] <= hi
    assert a.metrics["treated_share"] == pytest.approx(t.mean())
    assert a.curves["fraction"][0] == 0 and a.curves["fraction"][-1] == 1


def _world(n, seed):
    """Customers with a known uplift: young ones are persuadable (+15 points), old ones are
    sleeping dogs (−6 points), frequent visitors convert anyway (sure things)."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, n)
    visits = rng.poisson(3, n)
    p_c = 0.05 + 0.40 * (visits >= 5)
    tau = 0.15 * (age < 35) - 0.06 * (age >= 65)
    p_t = p_c + tau
    t = rng.integers(0, 2, n)
    y = (rng.random(n) < np.where(t == 1, p_t, p_c)).astype(int)
    noisy_tau = tau + rng.normal(0, 0.03, n)       # a decent uplift model
    return y, t, p_t, p_c, tau, noisy_tau


def test_incremental_conversions_cover_the_truth_and_beat_propensity():
    y, t, p_t, p_c, tau, est = _world(20000, 0)
    inputs = ScenarioInputs.top_share(0.3, Economics(contact_cost=1, conversion_value=40),
                                      n_bootstrap=1000, seed=2)
    sim = simulate_uplift(y, t, est, inputs, propensity=p_t)
    k = sim.treated
    truth_uplift = tau[np.argsort(est, kind="mergesort")[::-1][:k]].sum()
    truth_prop = tau[np.argsort(p_t, kind="mergesort")[::-1][:k]].sum()
    lo, hi = sim.incremental_conversions_ci95
    assert lo <= truth_uplift <= hi
    lo, hi = sim.propensity["incremental_conversions_ci95"]
    assert lo <= truth_prop <= hi
    assert truth_uplift > 1.5 * truth_prop
    assert sim.incremental_conversions > sim.propensity["incremental_conversions"]
    assert sim.incremental_profit == pytest.approx(sim.incremental_conversions * 40 - k)
    assert sim.everyone["incremental_conversions"] == pytest.approx(
        (y[t == 1].mean() - y[t == 0].mean()) * 20000)


def test_interval_coverage_over_repeated_campaigns():
    """The 95% interval holds the true incremental conversions in most of 40 campaigns."""
    hits = 0
    for seed in range(40):
        y, t, _, _, tau, est = _world(3000, 100 + seed)
        sim = simulate_uplift(y, t, est, _share(0.3, n_bootstrap=300, seed=seed))
        truth = tau[np.argsort(est, kind="mergesort")[::-1][:sim.treated]].sum()
        lo, hi = sim.incremental_conversions_ci95
        hits += lo <= truth <= hi
    assert hits >= 34  # 95% nominal; 34 of 40 fails with probability < 2%


def test_simulation_is_reproducible_and_curves_are_consistent():
    y, t, p_t, _, _, est = _world(5000, 3)
    a = simulate_uplift(y, t, est, _share(0.2, n_bootstrap=200, seed=9), propensity=p_t)
    b = simulate_uplift(y, t, est, _share(0.2, n_bootstrap=200, seed=9), propensity=p_t)
    assert a.summary() == b.summary()
    assert len(a.curve["fraction"]) == 100
    assert a.curve["uplift"][-1] == pytest.approx(a.everyone["incremental_conversions"])
    assert a.best_profit >= a.incremental_profit


def test_expected_incremental_conversions_without_outcomes():
    p_t = np.array([0.5, 0.4, 0.3, 0.2])
    p_c = np.array([0.1, 0.35, 0.3, 0.25])
    sim = simulate_uplift_expected(p_t, p_c, p_t - p_c, ScenarioInputs.top_share(0.5, Economics(2, 10, 0), 1, 0))
    assert sim.treated == 2 and sim.outcomes == "expected"
    assert sim.incremental_conversions == pytest.approx(0.4 + 0.05)
    sd = np.sqrt(0.5 * 0.5 + 0.1 * 0.9 + 0.4 * 0.6 + 0.35 * 0.65)
    assert sim.incremental_conversions_ci95 == pytest.approx([0.45 - 1.96 * sd, 0.45 + 1.96 * sd])
    assert sim.incremental_profit == pytest.approx(0.45 * 10 - 2 * 2)


def test_segments_split_customers_by_predicted_outcomes():
    p_t = np.array([0.6, 0.5, 0.1, 0.2, 0.52])
    p_c = np.array([0.1, 0.5, 0.1, 0.4, 0.5])
    seg = uplift_segments(p_t, p_c, y=np.array([1, 1, 0, 0, 1]), t=np.array([1, 0, 1, 1, 0]))
    counts = dict(zip(seg["segment"], seg["customers"]))
    assert counts == {"persuadables": 2, "sure things": 1, "lost causes": 1, "sleeping dogs": 1}
    dogs = seg.set_index("segment").loc["sleeping dogs"]
    assert dogs["uplift"] == pytest.approx(-0.2) and dogs["treated_rate"] == 0


def test_invalid_uplift_inputs():
    with pytest.raises(SchemaError, match="both treated and control"):
        uplift_scores([1, 0], [1, 1], [0.2, 0.1])
    with pytest.raises(SchemaError, match="0/1"):
        uplift_scores([2, 0], [1, 0], [0.2, 0.1])
    with pytest.raises(SimulationError, match="treated and control"):
        simulate_uplift(np.array([1, 0]), np.array([1, 1]), np.array([.2, .1]), _share(0.3))
    with pytest.raises(SimulationError, match="fraction"):
        _share(0)


def _share(fraction: float, n_bootstrap: int = 1000, seed: int = 42) -> ScenarioInputs:
    """Treat the top ``fraction`` at a cost of 1 per customer and a value of 50 per conversion."""
    return ScenarioInputs.top_share(fraction, Economics(1.0, 50.0), n_bootstrap, seed)
