"""The windowed Poisson bootstrap equals drawing every customer's weight."""

from __future__ import annotations

import numpy as np
import pytest

from core.bootstrap import percentile_ci, prefix_bootstrap


def _naive(cells, values, fraction, n_boot, seed, n_cells):
    """Every customer weighted Poisson(1); the top share holds fraction × the resample."""
    rng = np.random.default_rng(seed)
    w = rng.poisson(1.0, (n_boot, cells.size)).astype(float)
    cw = np.cumsum(w, axis=1)
    target = fraction * cw[:, -1]
    j = np.argmax(cw >= target[:, None] - 1e-9, axis=1)
    over = cw[np.arange(n_boot), j] - target
    inside = w * (np.arange(cells.size) <= j[:, None])
    onehot = np.eye(n_cells)[cells]
    top = inside @ onehot - over[:, None] * onehot[j]
    top_v = inside @ values - over * values[j]
    return top, w @ onehot, top_v, w @ values


def _data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    cells = rng.integers(0, 4, n)
    values = np.where(cells % 2 == 1, rng.gamma(2.0, 30.0, n), 0.0)
    return cells, values


def test_weighting_everyone_reproduces_the_naive_bootstrap_exactly():
    cells, values = _data()
    d = prefix_bootstrap(cells, 0.3, 50, 7, values=values, n_cells=4, half_window=cells.size)
    # with every customer in the window, the first draw is the full weight matrix
    top, total, top_v, total_v = _naive(cells, values, 0.3, 50, 7, 4)
    # the valued customers are all in the window here, so the streams coincide
    np.testing.assert_allclose(d.top, top, atol=1e-9)
    np.testing.assert_allclose(d.total, total, atol=1e-9)
    np.testing.assert_allclose(d.top_value, top_v, rtol=1e-12)
    np.testing.assert_allclose(d.total_value, total_v, rtol=1e-12)


def test_top_share_holds_the_fraction_of_every_resample():
    cells, _ = _data(3000, 1)
    d = prefix_bootstrap(cells, 0.2, 200, 3, n_cells=4)
    np.testing.assert_allclose(d.top.sum(axis=1), 0.2 * d.total.sum(axis=1), rtol=1e-9)
    np.testing.assert_allclose(d.scale * d.total.sum(axis=1), 3000)
    assert (d.top >= -1e-9).all() and (d.top <= d.total + 1e-9).all()


@pytest.mark.parametrize("fraction", [0.05, 0.3, 0.9])
def test_windowed_draws_have_the_naive_distribution(fraction):
    """Same distribution: quantiles of the top share's converters agree within Monte Carlo
    error (3,000 resamples each, independent streams)."""
    rng = np.random.default_rng(2)
    n = 4000
    score = rng.random(n)
    y = (rng.random(n) < 0.03 + 0.3 * score).astype(int)[np.argsort(-score)]
    fast = prefix_bootstrap(y, fraction, 3000, 11)
    conv_fast = fast.top[:, 1] * fast.scale
    top, total, _, _ = _naive(y, np.zeros(n), fraction, 3000, 12, 2)
    conv_naive = top[:, 1] * n / total.sum(axis=1)
    sd = conv_naive.std()
    assert abs(conv_fast.mean() - conv_naive.mean()) < 0.1 * sd
    assert conv_fast.std() == pytest.approx(sd, rel=0.08)
    for q in (2.5, 97.5):
        assert abs(np.percentile(conv_fast, q) - np.percentile(conv_naive, q)) < 0.15 * sd


def test_a_too_narrow_window_widens_and_stays_exact():
    cells, values = _data(200, 4)
    narrow = prefix_bootstrap(cells, 0.5, 30, 5, values=values, n_cells=4, half_window=1)
    assert np.allclose(narrow.top.sum(axis=1), 0.5 * narrow.total.sum(axis=1))
    assert (narrow.top_value <= narrow.total_value + 1e-9).all()


def test_seeded_and_percentile_interval():
    cells, _ = _data()
    a = prefix_bootstrap(cells, 0.4, 100, 9, n_cells=4)
    b = prefix_bootstrap(cells, 0.4, 100, 9, n_cells=4)
    np.testing.assert_array_equal(a.top, b.top)
    assert percentile_ci(np.arange(1001.0)) == [25.0, 975.0]
    assert percentile_ci(np.array([np.nan, np.nan])) is None
