"""Each drift statistic equals scipy's on the raw values, through the DuckDB summaries."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.spatial import distance

from core.monitor import NumericSummary, chi2_test, js_distance, ks_test, psi, wasserstein_normed
from core.monitor._chunks import CURRENT, REFERENCE
from core.monitor._stats import (
    categorical_drift,
    choose_method,
    numeric_drift,
    psi_counts,
    psi_edges,
)
from core.monitor._summaries import (
    level_counts,
    numeric_profile,
    numeric_summaries,
    reference_levels,
    support_for,
)
from tests.core.monitor.conftest import duck_samples


def _summaries(ref, cur):
    con = duck_samples({"x": ref}, {"x": cur})
    profile = numeric_profile(con, "x")
    support = support_for(con, "x", profile)
    r = numeric_summaries(con, REFERENCE, "x", support, chunked=False)[0]
    c = numeric_summaries(con, CURRENT, "x", support, chunked=True)[0]
    return r, c, profile, support


@pytest.mark.parametrize("n_cur", [5000, 50000])  # scipy's exact method, then its asymptotic one
def test_ks_equals_scipy_on_a_small_reference(n_cur):
    rng = np.random.default_rng(1)
    ref = rng.normal(size=300)
    cur = rng.normal(0.15, 1.1, size=n_cur)  # continuous: most values fall in gaps
    r, c, profile, support = _summaries(ref, cur)
    assert support.size == 300  # the reference's own values (a small reference)
    assert c.n == n_cur and r.n == 300
    want = stats.ks_2samp(ref, cur)
    got = ks_test(r, c)
    assert got[0] == pytest.approx(want.statistic, abs=1e-12)
    assert got[1] == pytest.approx(want.pvalue, rel=1e-9, abs=1e-300)
    d = numeric_drift("x", "x", r, c, profile.std)
    assert d.method == "ks" and d.threshold == 0.05 and d.drifted == (want.pvalue < 0.05)


def test_ks_with_ties_and_values_outside_the_reference():
    rng = np.random.default_rng(2)
    ref = rng.integers(0, 40, size=800).astype(float)
    cur = np.r_[rng.integers(-5, 50, size=3000), [-100.5, 77.25]].astype(float)
    r, c, _, _ = _summaries(ref, cur)
    want = stats.ks_2samp(ref, cur)
    assert ks_test(r, c) == pytest.approx((want.statistic, want.pvalue), rel=1e-9)


def test_wasserstein_normed_equals_scipy_when_the_support_holds_every_value():
    rng = np.random.default_rng(3)
    ref = np.round(rng.gamma(2.0, 3.0, size=20000), 1)  # a large reference, < 2,000 values
    cur = np.round(rng.gamma(2.4, 3.0, size=15000), 1)
    r, c, profile, support = _summaries(ref, cur)
    assert support.size == np.unique(np.r_[ref, cur]).size
    want = stats.wasserstein_distance(ref, cur) / np.std(ref)
    assert wasserstein_normed(r, c, profile.std) == pytest.approx(want, rel=1e-9)
    assert profile.std == pytest.approx(np.std(ref), rel=1e-9)
    d = numeric_drift("x", "x", r, c, profile.std)
    assert d.method == "wasserstein" and d.threshold == 0.1 and d.p_value is None
    assert d.statistic == pytest.approx(want, rel=1e-9) and d.drifted == (want >= 0.1)


def test_wasserstein_on_quantile_support_is_close_to_scipy():
    rng = np.random.default_rng(4)
    ref = rng.normal(size=100000)
    cur = rng.normal(0.2, 1.3, size=200000)
    r, c, profile, support = _summaries(ref, cur)
    assert 900 <= support.size <= 1001  # the reference's quantiles: continuous values
    want = stats.wasserstein_distance(ref, cur) / np.std(ref)
    assert wasserstein_normed(r, c, profile.std) == pytest.approx(want, rel=0.01)
    # no reference value is lost, and the summary keeps the exact mean
    assert r.n == ref.size and r.mean() == pytest.approx(ref.mean(), rel=1e-9, abs=1e-12)


def test_chi2_and_jensen_shannon_equal_scipy_on_category_counts():
    rng = np.random.default_rng(5)
    levels = np.array(["admin.", "blue-collar", "technician", "services", "retired"])
    ref_small = rng.choice(levels, size=900, p=[0.3, 0.25, 0.2, 0.15, 0.1])
    cur = rng.choice(np.r_[levels, ["student"]], size=2000, p=[0.2, 0.2, 0.2, 0.2, 0.1, 0.1])
    con = duck_samples({"job": ref_small}, {"job": cur})
    known, n_ref, missing = reference_levels(con, "job")
    r = level_counts(con, REFERENCE, "job", known, chunked=False)[0]
    c = level_counts(con, CURRENT, "job", known, chunked=True)[0]
    assert n_ref == 900 and missing == 0 and c[-1] == np.sum(cur == "student")
    table = np.array([[np.sum(ref_small == v) for v in [*known, "student"]],
                      [np.sum(cur == v) for v in [*known, "student"]]])
    want = stats.chi2_contingency(table)
    assert chi2_test(r, c) == pytest.approx((want.statistic, want.pvalue), rel=1e-9)
    d = categorical_drift("job", "job", r, c)
    assert d.method == "chi2" and d.drifted == (want.pvalue < 0.05)
    js = distance.jensenshannon(table[0] / table[0].sum(), table[1] / table[1].sum())
    assert js_distance(r, c) == pytest.approx(js, rel=1e-12)


def test_a_large_reference_switches_to_distances():
    assert choose_method(1000, "numeric", 300) == "ks"
    assert choose_method(1001, "numeric", 300) == "wasserstein"
    assert choose_method(1000, "categorical", 3) == "chi2"
    assert choose_method(5000, "categorical", 3) == "jensenshannon"
    assert choose_method(5000, "numeric", 5) == "jensenshannon"  # few values: as categories
    assert choose_method(500, "numeric", 4) == "chi2"


def test_psi_equals_a_hand_computation():
    r, c = np.array([50, 30, 20]), np.array([30, 30, 40])
    hand = (0.3 - 0.5) * np.log(0.3 / 0.5) + 0.0 + (0.4 - 0.2) * np.log(0.4 / 0.2)
    assert psi(r, c) == pytest.approx(hand, rel=1e-12)
    assert hand == pytest.approx(0.240795, rel=1e-5)
    # an empty bin counts with a share of 0.0001, as Evidently floors it
    floored = (0.5 - 1e-4) * np.log(0.5 / 1e-4) + (0.5 - 1.0) * np.log(0.5 / 1.0)
    assert psi(np.array([0, 10]), np.array([5, 5])) == pytest.approx(floored, rel=1e-12)


def test_psi_bins_are_the_reference_deciles():
    ref = np.arange(1000, dtype=float)           # deciles at 100, 200, …, 900
    cur = np.r_[np.arange(0, 500), np.arange(500, 1000, 2)].astype(float)  # fewer high values
    r, c, _, _ = _summaries(ref, cur)
    edges = psi_edges(r)
    assert edges.tolist() == [100.0 * k for k in range(1, 10)]
    counts = psi_counts(c, edges)
    hand = np.array([np.sum((cur >= lo) & (cur < hi))
                     for lo, hi in zip([-np.inf, *edges], [*edges, np.inf])])
    assert counts.tolist() == hand.tolist()
    shares_r, shares_c = np.full(10, 0.1), hand / hand.sum()
    assert numeric_drift("x", "x", r, c, np.std(ref)).psi == pytest.approx(
        np.sum((shares_c - shares_r) * np.log(shares_c / shares_r)), rel=1e-12)


def test_summary_from_values_matches_the_sql_summary():
    rng = np.random.default_rng(6)
    ref, cur = rng.normal(size=500), rng.normal(size=3000)
    _, c, _, support = _summaries(ref, cur)
    local = NumericSummary.from_values(support, cur)
    for a, b in ((local.at, c.at), (local.gap_n, c.gap_n)):
        assert a.tolist() == b.tolist()
    assert np.allclose(local.gap_sum, c.gap_sum)
    assert np.array_equal(np.sort(cur), np.sort(cur))  # sanity of the inputs
