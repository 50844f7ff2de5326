"""Drift statistics on fixed-size summaries of a column, with scipy doing the statistics.

A numeric column is summarised against a sorted *support* (points taken from the reference):
the count of values equal to each support point, and the count and sum of the values in each
open gap between neighbouring points (below the first, above the last). DuckDB fills these in
one ``ASOF JOIN`` per column (:mod:`core.monitor._sql`), so a million rows come back as a few
thousand numbers. Each gap's mass is then placed at the gap's mean.

What that keeps exact (tested against scipy on raw values):

- the two-sample Kolmogorov–Smirnov statistic and p-value, whenever every reference value is a
  support point (always so for a reference of at most 1,000 rows): the reference's ECDF only
  jumps at support points and the current ECDF is monotone inside a gap, so the largest gap
  between the two ECDFs is reached at a gap's ends, which the summary keeps;
- every statistic, when the support holds every distinct value of both samples (LiftLab uses
  the union of distinct values when there are at most 2,000);
- the Wasserstein distance also whenever the two ECDFs do not cross inside a gap.

Methods and defaults follow Evidently's automatic choice ("Automatic stattest selection",
evidently 0.1.50): a reference of at most 1,000 rows gets the two-sample Kolmogorov–Smirnov test
(numeric columns with more than 5 distinct values, ``scipy.stats.ks_2samp``) or the chi-squared
test (categorical columns and numeric ones with at most 5 values; here the test of homogeneity
``scipy.stats.chi2_contingency`` on the 2 × k table of counts), drift when p < 0.05; a larger
reference gets the Wasserstein distance divided by the reference's standard deviation
(``scipy.stats.wasserstein_distance``) or the Jensen–Shannon distance of the category shares
(``scipy.spatial.distance.jensenshannon``, natural logarithm), drift when >= 0.1. The population
stability index stands beside every test (reference deciles, or categories; shares floored at
1e-4 as Evidently does), with the usual reading: >= 0.25 is a major shift (Siddiqi, 2006,
"Credit Risk Scorecards"; Yurdakul, 2018).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SMALL_REFERENCE = 1000
FEW_VALUES = 5
P_THRESHOLD = 0.05
DISTANCE_THRESHOLD = 0.1
PSI_THRESHOLD = 0.25
PSI_FLOOR = 1e-4
KS_EXACT_MAX_N = 10000  # scipy's ks_2samp(method="auto") is exact up to this sample size
METHOD_LABELS = {"ks": "Kolmogorov–Smirnov p-value", "chi2": "chi-squared p-value",
                 "wasserstein": "Wasserstein distance (normed)",
                 "jensenshannon": "Jensen–Shannon distance"}


@dataclass(frozen=True)
class NumericSummary:
    """A numeric sample summarised on a support.

    Attributes:
        support: Sorted distinct points, shape (m,).
        at: Values equal to each support point, shape (m,).
        gap_n: Values inside each open gap, shape (m + 1,): gap 0 lies below ``support[0]``,
            gap i between ``support[i-1]`` and ``support[i]``, gap m above ``support[-1]``.
        gap_sum: Sum of the values inside each gap, shape (m + 1,).
    """

    support: np.ndarray
    at: np.ndarray
    gap_n: np.ndarray
    gap_sum: np.ndarray

    @property
    def n(self) -> int:
        """Values summarised (missing ones are not)."""
        return int(self.at.sum() + self.gap_n.sum())

    @classmethod
    def empty(cls, support: np.ndarray) -> NumericSummary:
        """A summary of no values on ``support``."""
        m = len(support)
        return cls(np.asarray(support, dtype=np.float64), np.zeros(m), np.zeros(m + 1),
                   np.zeros(m + 1))

    @classmethod
    def from_values(cls, support: np.ndarray, values: np.ndarray) -> NumericSummary:
        """Summarise raw values (NaN and infinities are left out) on ``support``.

        Args:
            support: Sorted distinct points, shape (m,).
            values: Shape (n,).
        """
        s = np.asarray(support, dtype=np.float64)
        v = np.asarray(values, dtype=np.float64)
        v = v[np.isfinite(v)]
        k = np.searchsorted(s, v, side="right") - 1  # greatest support point <= v, or -1
        hit = (k >= 0) & (s[np.maximum(k, 0)] == v) if s.size else np.zeros(v.size, bool)
        m = s.size
        at = np.bincount(k[hit], minlength=m).astype(np.float64)
        gap = k[~hit] + 1
        gap_n = np.bincount(gap, minlength=m + 1).astype(np.float64)
        gap_sum = np.bincount(gap, weights=v[~hit], minlength=m + 1)
        return cls(s, at, gap_n, gap_sum)

    def __add__(self, other: NumericSummary) -> NumericSummary:
        return NumericSummary(self.support, self.at + other.at, self.gap_n + other.gap_n,
                              self.gap_sum + other.gap_sum)

    def points(self) -> tuple[np.ndarray, np.ndarray]:
        """``(values, weights)``: the support points and the mean of each non-empty gap."""
        filled = self.gap_n > 0
        means = self.gap_sum[filled] / self.gap_n[filled]
        values = np.r_[self.support, means]
        weights = np.r_[self.at, self.gap_n[filled]]
        keep = weights > 0
        return values[keep], weights[keep]

    def sample(self) -> np.ndarray:
        """The sample the summary stands for: each point repeated by its weight, sorted."""
        values, weights = self.points()
        return np.sort(np.repeat(values, weights.astype(np.int64)))

    def below(self, edges: np.ndarray) -> np.ndarray:
        """Values strictly below each edge; every edge must be a support point.

        Args:
            edges: Support points, shape (k,).

        Returns:
            Counts, shape (k,).
        """
        j = np.searchsorted(self.support, edges)
        cum_at = np.r_[0.0, np.cumsum(self.at)]
        cum_gap = np.cumsum(self.gap_n)  # gaps 0..j lie below support[j]
        return cum_at[j] + cum_gap[j]

    def mean(self) -> float | None:
        """The exact mean of the summarised values (None when there are none)."""
        n = self.n
        return float((self.at @ self.support + self.gap_sum.sum()) / n) if n else None


def _ecdf(values: np.ndarray, weights: np.ndarray, at: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="mergesort")
    cum = np.cumsum(weights[order]) / weights.sum()
    idx = np.searchsorted(values[order], at, side="right")
    return np.where(idx > 0, cum[np.maximum(idx - 1, 0)], 0.0)


def ks_statistic(ref: NumericSummary, cur: NumericSummary) -> float:
    """The two-sample Kolmogorov–Smirnov statistic D = sup |F_ref − F_cur|, as scipy computes it
    (ECDFs evaluated at every point of both samples)."""
    rv, rw = ref.points()
    cv, cw = cur.points()
    grid = np.unique(np.r_[rv, cv])
    return float(np.max(np.abs(_ecdf(rv, rw, grid) - _ecdf(cv, cw, grid))))


def ks_test(ref: NumericSummary, cur: NumericSummary) -> tuple[float, float]:
    """Two-sample Kolmogorov–Smirnov test (``scipy.stats.ks_2samp``, two-sided, method auto).

    Up to 10,000 values per side scipy runs on the samples the summaries stand for (its exact
    method); above, D comes from the summaries and the p-value from Smirnov's asymptotic
    distribution ``scipy.stats.kstwo.sf(D, round(n·m/(n+m)))``, as ``ks_2samp`` does.

    Returns:
        ``(statistic, p_value)``.
    """
    from scipy import stats

    n1, n2 = ref.n, cur.n
    if max(n1, n2) <= KS_EXACT_MAX_N:
        res = stats.ks_2samp(ref.sample(), cur.sample())
        return float(res.statistic), float(res.pvalue)
    d = ks_statistic(ref, cur)
    m, n = sorted([float(n1), float(n2)], reverse=True)
    p = float(np.clip(stats.kstwo.sf(d, np.round(m * n / (m + n))), 0.0, 1.0))
    return d, p


def wasserstein_normed(ref: NumericSummary, cur: NumericSummary, ref_std: float) -> float:
    """First Wasserstein distance divided by the reference's standard deviation (floored at
    0.001, as Evidently's ``wasserstein`` test does); ``scipy.stats.wasserstein_distance`` on
    the weighted points of both summaries."""
    from scipy import stats

    rv, rw = ref.points()
    cv, cw = cur.points()
    return float(stats.wasserstein_distance(rv, cv, rw, cw) / max(float(ref_std), 0.001))


def chi2_test(ref_counts: np.ndarray, cur_counts: np.ndarray) -> tuple[float, float]:
    """Chi-squared test of homogeneity of two samples' category counts
    (``scipy.stats.chi2_contingency`` on the 2 × k table, categories seen in neither dropped).

    Returns:
        ``(statistic, p_value)``; ``(0.0, 1.0)`` when fewer than two categories occur.
    """
    from scipy import stats

    table = np.vstack([ref_counts, cur_counts]).astype(np.float64)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 0.0, 1.0
    res = stats.chi2_contingency(table)
    return float(res.statistic), float(res.pvalue)


def js_distance(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """Jensen–Shannon distance of the two category distributions
    (``scipy.spatial.distance.jensenshannon``, natural logarithm; 0 = identical)."""
    from scipy.spatial import distance

    p = np.asarray(ref_counts, dtype=np.float64)
    q = np.asarray(cur_counts, dtype=np.float64)
    return float(distance.jensenshannon(p / p.sum(), q / q.sum()))


def psi(ref_counts: np.ndarray, cur_counts: np.ndarray, floor: float = PSI_FLOOR) -> float:
    """Population stability index Σ (c − r) · ln(c / r) over bins, with r and c the reference
    and current shares, each floored at ``floor`` so that empty bins stay finite.

    Args:
        ref_counts: Reference counts per bin, shape (k,).
        cur_counts: Current counts per bin, shape (k,).
        floor: Smallest share used (Evidently's 0.0001).
    """
    r = np.asarray(ref_counts, dtype=np.float64)
    c = np.asarray(cur_counts, dtype=np.float64)
    r = np.maximum(r / r.sum(), floor)
    c = np.maximum(c / c.sum(), floor)
    return float(np.sum((c - r) * np.log(c / r)))


def psi_edges(ref: NumericSummary, bins: int = 10) -> np.ndarray:
    """Edges of the reference's quantile bins: the smallest support point with at least a
    share 1/bins … (bins−1)/bins of the reference strictly below it, deduplicated (discrete
    columns get fewer bins). Bins are ``(-inf, e1), [e1, e2), …, [ek, inf)``."""
    below = np.r_[0.0, np.cumsum(ref.at)[:-1]] + np.cumsum(ref.gap_n)[:-1]
    cdf = below / max(ref.n, 1)
    levels = np.arange(1, bins) / bins
    idx = np.minimum(np.searchsorted(cdf, levels - 1e-12), ref.support.size - 1)
    edges = np.unique(ref.support[idx]) if ref.support.size else ref.support
    return edges[edges > ref.support[0]] if edges.size else edges


def psi_counts(summary: NumericSummary, edges: np.ndarray) -> np.ndarray:
    """Counts per PSI bin of :func:`psi_edges`."""
    below = summary.below(edges)
    return np.diff(np.r_[0.0, below, float(summary.n)])


def numeric_as_levels(summary: NumericSummary) -> np.ndarray:
    """A numeric column with few values as category counts: one per support point, then one
    for every other value."""
    return np.r_[summary.at, summary.gap_n.sum()]


def choose_method(n_ref: int, kind: str, n_unique: int) -> str:
    """Evidently's automatic choice of test (see the module docstring).

    Args:
        n_ref: Non-missing reference values.
        kind: ``numeric`` or ``categorical``.
        n_unique: Distinct reference values.

    Returns:
        ``ks``, ``chi2``, ``wasserstein`` or ``jensenshannon``.
    """
    few = kind == "categorical" or n_unique <= FEW_VALUES
    if n_ref <= SMALL_REFERENCE:
        return "chi2" if few else "ks"
    return "jensenshannon" if few else "wasserstein"


@dataclass(frozen=True)
class FeatureDrift:
    """One feature's drift in one chunk.

    Attributes:
        feature: The column name as the analyst's file had it.
        column: The warehouse (SQL) column name.
        method: ``ks``, ``chi2``, ``wasserstein`` or ``jensenshannon``.
        statistic: The test statistic or distance.
        p_value: The p-value (tests), else None.
        threshold: p-value below, or distance at or above, which the feature drifted.
        drifted: Whether it did.
        psi: Population stability index beside it.
    """

    feature: str
    column: str
    method: str
    statistic: float
    p_value: float | None
    threshold: float
    drifted: bool
    psi: float

    @property
    def severity(self) -> float:
        """A number to rank drifted features by: 1 − p for tests, the distance otherwise,
        with PSI to break ties."""
        base = (1.0 - self.p_value) if self.p_value is not None else self.statistic
        return base + 1e-3 * min(self.psi, 10.0)

    def to_dict(self) -> dict:
        """The JSON form of the command line."""
        return {"feature": self.feature, "method": self.method, "statistic": self.statistic,
                "p_value": self.p_value, "threshold": self.threshold, "drifted": self.drifted,
                "psi": self.psi}


def numeric_drift(name: str, column: str, ref: NumericSummary, cur: NumericSummary,
                  ref_std: float) -> FeatureDrift:
    """Drift of a numeric column (see :func:`choose_method`).

    Args:
        name: The file's column name.
        column: The SQL column name.
        ref: Reference summary.
        cur: Current summary on the same support.
        ref_std: Reference standard deviation (population, ddof 0).
    """
    method = choose_method(ref.n, "numeric", int((ref.at > 0).sum() + (ref.gap_n > 0).sum()))
    if method in ("chi2", "jensenshannon"):
        r, c = numeric_as_levels(ref), numeric_as_levels(cur)
        return _levels_drift(name, column, method, r, c)
    edges = psi_edges(ref)
    index = psi(psi_counts(ref, edges), psi_counts(cur, edges))
    if method == "ks":
        stat, p = ks_test(ref, cur)
        return FeatureDrift(name, column, method, stat, p, P_THRESHOLD, p < P_THRESHOLD, index)
    dist = wasserstein_normed(ref, cur, ref_std)
    return FeatureDrift(name, column, method, dist, None, DISTANCE_THRESHOLD,
                        dist >= DISTANCE_THRESHOLD, index)


def categorical_drift(name: str, column: str, ref_counts: np.ndarray,
                      cur_counts: np.ndarray) -> FeatureDrift:
    """Drift of a categorical column from counts per level (same levels, same order)."""
    method = choose_method(int(np.sum(ref_counts)), "categorical", int(np.sum(ref_counts > 0)))
    return _levels_drift(name, column, method, ref_counts, cur_counts)


def _levels_drift(name, column, method, r, c) -> FeatureDrift:
    index = psi(r, c)
    if method == "chi2":
        stat, p = chi2_test(r, c)
        return FeatureDrift(name, column, method, stat, p, P_THRESHOLD, p < P_THRESHOLD, index)
    dist = js_distance(r, c)
    return FeatureDrift(name, column, method, dist, None, DISTANCE_THRESHOLD,
                        dist >= DISTANCE_THRESHOLD, index)
