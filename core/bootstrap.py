"""Exact Poisson bootstrap of "contact the best-ranked share" in O(n_boot·√n), not O(n_boot·n).

The Poisson bootstrap draws every customer Poisson(1) times (Hanley & MacGibbon, 2006; Chamandy
et al., 2012). Targeting the top ``fraction`` of a resample only needs, per resample, the weighted
count of each customer cell (e.g. converter × in-policy) inside the top share and in total. Two
facts make that cheap without changing the distribution:

- a sum of independent Poisson(1) weights over ``m`` customers is Poisson(``m``), so a block of
  customers with the same cell needs one draw per resample, not ``m``;
- the boundary of the top share in a resample lies within a few standard deviations
  (σ = √(f(1−f)n) ranks) of ``f × n``, so only a window of ±8σ customers around it needs
  individual weights to place the boundary exactly.

Customers before the window are inside the top share in every resample, those after it outside
(checked per resample; the window widens and the draw repeats in the rare case it was too
narrow). Customers that carry a value (e.g. revenue of a converter) outside the window are
resampled one by one through Poisson splitting (N ~ Poisson(m) uniform draws with replacement
stand for m Poisson(1) weights), so value sums stay exact. The result has the same distribution
as drawing all ``n_boot × n`` weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

WINDOW_SIGMAS = 8
MAX_CHUNK_CELLS = 4_000_000


@dataclass(frozen=True)
class PrefixDraws:
    """Bootstrap sums for contacting the top share of each resample.

    Attributes:
        top: Weighted customers of each cell inside the top share, shape (n_boot, n_cells);
            the customer on the boundary counts with the fraction of its weight inside.
        total: Weighted customers of each cell in the resample, shape (n_boot, n_cells).
        top_value: Weighted sums of ``values`` inside the top share, shape (n_boot,) or
            (n_boot, n_values) like ``values``, or None.
        total_value: Weighted sums of ``values`` in the resample, same shape, or None.
        n: Customers in the original population.
    """

    top: np.ndarray
    total: np.ndarray
    top_value: np.ndarray | None
    total_value: np.ndarray | None
    n: int

    @property
    def scale(self) -> np.ndarray:
        """Factor turning resample sums into population units: n ÷ resample size, (n_boot,)."""
        return self.n / np.maximum(self.total.sum(axis=1), 1.0)


def prefix_bootstrap(cells: np.ndarray, fraction: float, n_boot: int, seed: int,
                     values: np.ndarray | None = None, n_cells: int | None = None,
                     half_window: int | None = None) -> PrefixDraws:
    """Poisson-bootstrap the cells and values of the top ``fraction`` of a ranked population.

    In each resample the top share holds ``fraction`` × the resample's size, best-ranked first.

    Args:
        cells: Cell code of each customer in rank order (best first), ints in
            [0, n_cells), shape (n_customers,).
        fraction: Share of each resample inside the top, in (0, 1].
        n_boot: Number of resamples (>= 1).
        seed: Seed of the generator; equal inputs give equal draws.
        values: Optional per-customer values in rank order, shape (n_customers,) or
            (n_customers, n_values); customers whose values are all 0 are aggregated, the
            others weighted one by one.
        n_cells: Number of cells (default ``cells.max() + 1``).
        half_window: Customers on each side of ``fraction × n`` weighted one by one (default
            ``8σ + 64`` with σ = √(f(1−f)n); tests pass ``n`` to weight everyone).

    Returns:
        The :class:`PrefixDraws`.

    Example:
        >>> d = prefix_bootstrap(np.array([1, 1, 0, 0]), 0.5, n_boot=3, seed=0)
        >>> d.top.shape
        (3, 2)
    """
    cells = np.asarray(cells, dtype=np.int64).ravel()
    n = cells.size
    c = int(n_cells or (cells.max() + 1))
    sigma = math.sqrt(fraction * (1.0 - fraction) * n)  # sd of the boundary's rank offset
    h = half_window if half_window is not None else int(WINDOW_SIGMAS * sigma) + 64
    while True:
        draws = _draw(cells, c, values, fraction, h, n_boot, seed)
        if draws is not None:
            return draws
        h *= 4  # the boundary left the window in some resample: widen and redraw


def _onehot(cells: np.ndarray, n_cells: int) -> np.ndarray:
    out = np.zeros((cells.size, n_cells), dtype=np.float64)
    out[np.arange(cells.size), cells] = 1.0
    return out


@dataclass(frozen=True)
class _Layout:
    """Which customers are weighted one by one, and the cell counts of the aggregated rest."""

    window: np.ndarray          # positions lo..hi-1
    pre_units: np.ndarray       # valued positions before the window
    post_units: np.ndarray      # valued positions after the window
    pre_counts: np.ndarray      # (n_cells,) aggregated customers before the window
    post_counts: np.ndarray     # (n_cells,) aggregated customers after the window


def styled(cells, n_cells, values, fraction, h) -> _Layout:
    n = cells.size
    k0 = fraction * n
    lo, hi = max(0, math.floor(k0) - h), min(n, math.ceil(k0) + h)
    valued = np.zeros(n, bool) if values is None else np.any(values != 0, axis=1)
    pos = np.arange(n)
    pre, post = pos < lo, pos >= hi
    return _Layout(
        window=pos[lo:hi], pre_units=pos[pre & valued], post_units=pos[post & valued],
        pre_counts=np.bincount(cells[pre & ~valued], minlength=n_cells).astype(float),
        post_counts=np.bincount(cells[post & ~valued], minlength=n_cells).astype(float))


def _draw(cells, n_cells, values, fraction, h, n_boot, seed) -> PrefixDraws | None:
    rng = np.random.default_rng(seed)
    v = None if values is None else np.asarray(values, dtype=np.float64).reshape(cells.size, -1)
    lay = styled(cells, n_cells, v, fraction, h)
    width = lay.window.size + lay.pre_units.size + lay.post_units.size
    step = max(1, min(n_boot, MAX_CHUNK_CELLS // max(width, 1)))
    parts = []
    for start in range(0, n_boot, step):
        part = _draw_chunk(rng, min(step, n_boot - start), cells, n_cells, v, fraction, lay)
        if part is None:
            return None
        parts.append(part)
    top, total, top_v, total_v = (np.concatenate([p[i] for p in parts]) if parts[0][i] is not
                                  None else None for i in range(4))
    if top_v is not None and np.ndim(values) == 1:
        top_v, total_v = top_v[:, 0], total_v[:, 0]
    return PrefixDraws(top, total, top_v, total_v, cells.size)


def _block(rng, b: int, units: np.ndarray, cells, n_cells: int, v) -> tuple:
    """Cell counts and value sums of Poisson(1)-weighted valued customers outside the window.

    Poisson splitting: weighting m customers by independent Poisson(1) draws is the same as
    drawing N ~ Poisson(m) customers uniformly with replacement, which needs N cheap integers
    instead of m Poisson draws per resample.

    Returns:
        ``(counts (b, n_cells), sums (b, n_values) or None)``.
    """
    counts = np.zeros((b, n_cells))
    if units.size == 0:
        return counts, None if v is None else np.zeros((b, v.shape[1]))
    size = rng.poisson(units.size, b)
    idx = rng.integers(0, units.size, int(size.sum()))
    owner = np.repeat(np.arange(b), size)
    counts += np.bincount(owner * n_cells + cells[units][idx],
                          minlength=b * n_cells).reshape(b, -1)
    columns = np.ascontiguousarray(v[units].T)  # (n_values, m): fast gathers
    sums = np.column_stack([np.bincount(owner, weights=col[idx], minlength=b)
                            for col in columns])
    return counts, sums


def _draw_chunk(rng, b, cells, n_cells, v, fraction, lay: _Layout):
    w_win = rng.poisson(1.0, (b, lay.window.size)).astype(np.float64)
    pre_cells, pre_v = _block(rng, b, lay.pre_units, cells, n_cells, v)
    post_cells, post_v = _block(rng, b, lay.post_units, cells, n_cells, v)
    agg_pre = rng.poisson(lay.pre_counts, (b, n_cells)).astype(np.float64)
    agg_post = rng.poisson(lay.post_counts, (b, n_cells)).astype(np.float64)
    oh_win = _onehot(cells[lay.window], n_cells)
    top_fixed = agg_pre + pre_cells
    total = top_fixed + agg_post + post_cells + w_win @ oh_win
    target = fraction * total.sum(axis=1)
    before = top_fixed.sum(axis=1)
    cum = before[:, None] + np.cumsum(w_win, axis=1)
    reach = cum[:, -1] if lay.window.size else before
    if np.any(before > target + 1e-9) or np.any(reach < target - 1e-9):
        return None
    v_win = None if v is None else v[lay.window]
    total_v = None if v is None else pre_v + w_win @ v_win + post_v
    if lay.window.size == 0:
        return top_fixed, total, pre_v, total_v
    j = np.argmax(cum >= target[:, None] - 1e-9, axis=1)
    over = cum[np.arange(b), j] - target
    inside = w_win * (np.arange(lay.window.size)[None, :] <= j[:, None])
    top = top_fixed + inside @ oh_win - over[:, None] * oh_win[j]
    top_v = None if v is None else pre_v + inside @ v_win - over[:, None] * v_win[j]
    return top, total, top_v, total_v


def percentile_ci(draws: np.ndarray) -> list[float] | None:
    """The percentile 95% interval ``[2.5th, 97.5th]`` of bootstrap draws, ignoring NaN.

    Args:
        draws: Statistic of each resample, shape (n_boot,).

    Returns:
        ``[low, high]``, or None when every draw is NaN.
    """
    draws = np.asarray(draws, dtype=np.float64)
    if not np.isfinite(draws).any():
        return None
    lo, hi = np.nanpercentile(draws[np.isfinite(draws)], [2.5, 97.5])
    return [float(lo), float(hi)]
