"""Uplift metrics and campaign simulation for randomised treatment/control data.

Propensity answers "who will convert"; uplift answers "who converts *because* we contacted
them": τ(x) = P(convert | treated, x) − P(convert | control, x). Customers are ranked by predicted
uplift and the ranking is judged on a randomised test split:

- uplift curve: incremental conversions when treating the top k, estimated as
  (treated rate − control rate among the top k) × k (Gutierrez & Gérardy, 2017);
- Qini curve: treated conversions − control conversions × n_treated ÷ n_control among the top k
  (Radcliffe, 2007), with the random line from (0, 0) to its end;
- AUUC and Qini coefficient: area between each curve and the random line, divided by the same
  area of the perfect ranking (scikit-uplift 0.5.1's ``uplift_auc_score`` and
  ``qini_auc_score`` with ``negative_effect=True``; the tests check against it);
- uplift at k: treated minus control conversion rate among the top k of all customers
  (scikit-uplift's ``strategy="overall"``).

Ties in the ranking are broken as scikit-uplift does (reverse of a stable ascending sort), and
curves step only at the end of a run of equal scores. Intervals are percentile 95% intervals of
a Poisson bootstrap over customers with the ranking held fixed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.bootstrap import percentile_ci
from core.errors import SchemaError

CURVE_POINTS = 100
AT_K = (0.1, 0.3)


def _check(y, t, score=None) -> tuple[np.ndarray, ...]:
    y = np.asarray(y).astype(np.int64).ravel()
    t = np.asarray(t).astype(np.int64).ravel()
    arrays = (y, t) if score is None else (y, t, np.asarray(score, dtype=np.float64).ravel())
    if len({a.size for a in arrays}) != 1 or y.size == 0:
        raise SchemaError("Outcomes, treatment flags and scores must be non-empty and of equal "
                          "length.")
    if not (np.isin(y, (0, 1)).all() and np.isin(t, (0, 1)).all()):
        raise SchemaError("Outcomes and treatment flags must be 0/1.")
    if t.min() == t.max():
        raise SchemaError("Uplift needs both treated and control customers; this data has only "
                          f"{'treated' if t[0] else 'control'} ones.")
    return arrays


def rank_order(score: np.ndarray) -> np.ndarray:
    """Positions sorted best first, ties in scikit-uplift's order (reversed stable sort)."""
    return np.argsort(score, kind="mergesort")[::-1]


def _ends(sorted_score: np.ndarray) -> np.ndarray:
    """Last position of each run of equal scores (where the curves step)."""
    return np.r_[np.flatnonzero(np.diff(sorted_score)), sorted_score.size - 1]


def _curves(w: np.ndarray, y: np.ndarray, t: np.ndarray, ends: np.ndarray) -> tuple:
    """Weighted uplift and Qini curves of rows in rank order.

    Args:
        w: Weights of shape (n_boot, n) (1 for the plain estimate).
        y, t: Outcome and treatment in rank order, shape (n,).
        ends: Positions where the curves step.

    Returns:
        ``(x, uplift, qini)``, each of shape (n_boot, len(ends) + 1), starting at 0.
    """
    def cum(a):
        return np.cumsum(a, axis=1)[:, ends]

    n_all, n_t = cum(w), cum(w * t)
    y_t, y_c = cum(w * (y * t)), cum(w * (y * (1 - t)))
    n_c = n_all - n_t
    with np.errstate(divide="ignore", invalid="ignore"):
        rate_t = np.where(n_t > 0, y_t / n_t, 0.0)
        rate_c = np.where(n_c > 0, y_c / n_c, 0.0)
        qini = y_t - y_c * np.where(n_c > 0, n_t / n_c, 0.0)
    zero = np.zeros((w.shape[0], 1))
    return (np.hstack([zero, n_all]), np.hstack([zero, (rate_t - rate_c) * n_all]),
            np.hstack([zero, qini]))


def _area(x: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Area between a curve and the straight line from (0, 0) to its end, per row."""
    return np.trapezoid(v, x, axis=1) - x[:, -1] * v[:, -1] / 2.0


def _perfect_keys(y, t, w) -> tuple[np.ndarray, np.ndarray]:
    """Ranking keys of the perfect uplift and Qini curves (scikit-uplift's definitions)."""
    cr = (w * ((y == 1) & (t == 0))).sum()  # control responders
    tn = (w * ((y == 0) & (t == 1))).sum()  # treated non-responders
    summand = y if cr > tn else t
    return 2 * (y == t) + summand, y * t - y * (1 - t)


def _scores(w: np.ndarray, y: np.ndarray, t: np.ndarray, score: np.ndarray) -> dict:
    """AUUC and Qini coefficient for each weight row; arrays of shape (n_boot,)."""
    order = rank_order(score)
    x, up, qi = _curves(w[:, order], y[order], t[order], _ends(score[order]))
    auuc, qini = np.empty(len(w)), np.empty(len(w))
    for b in range(len(w)):  # the perfect rankings depend on each resample's composition
        key_u, key_q = _perfect_keys(y, t, w[b])
        o_u, o_q = rank_order(key_u), rank_order(key_q)
        xu, pu, _ = _curves(w[b:b + 1, o_u], y[o_u], t[o_u], _ends(key_u[o_u]))
        xq, _, pq = _curves(w[b:b + 1, o_q], y[o_q], t[o_q], _ends(key_q[o_q]))
        with np.errstate(divide="ignore", invalid="ignore"):
            auuc[b] = _area(x[b:b + 1], up[b:b + 1])[0] / _area(xu, pu)[0]
            qini[b] = _area(x[b:b + 1], qi[b:b + 1])[0] / _area(xq, pq)[0]
    return {"auuc": auuc, "qini_coefficient": qini}


def _at_k(w: np.ndarray, y: np.ndarray, t: np.ndarray, order: np.ndarray, k: float) -> np.ndarray:
    """Treated minus control conversion rate among the first ``int(k × size)`` customers."""
    ws, ys, ts = w[:, order], y[order], t[order]
    cw = np.cumsum(ws, axis=1)
    size = np.floor(k * cw[:, -1])
    inside = ws * (cw <= size[:, None] + 1e-9)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate_t = (inside * ys * ts).sum(1) / (inside * ts).sum(1)
        rate_c = (inside * ys * (1 - ts)).sum(1) / (inside * (1 - ts)).sum(1)
    return rate_t - rate_c


def uplift_curve(y, t, score) -> tuple[np.ndarray, np.ndarray]:
    """Uplift curve: incremental conversions against customers treated, best first.

    Args:
        y: 0/1 outcomes of shape (n,).
        t: 0/1 treatment flags of shape (n,).
        score: Predicted uplift of shape (n,).

    Returns:
        ``(treated_count, incremental_conversions)``, 1-D, starting at (0, 0).
    """
    return _plain_curve(y, t, score, 1)


def qini_curve(y, t, score) -> tuple[np.ndarray, np.ndarray]:
    """Qini curve (Radcliffe, 2007): same arguments as :func:`uplift_curve`.

    Returns:
        ``(treated_count, qini)``, 1-D, starting at (0, 0).
    """
    return _plain_curve(y, t, score, 2)


def _plain_curve(y, t, score, which: int) -> tuple[np.ndarray, np.ndarray]:
    y, t, s = _check(y, t, score)
    o = rank_order(s)
    curves = _curves(np.ones((1, y.size)), y[o], t[o], _ends(s[o]))
    return curves[0][0], curves[which][0]


def uplift_at_k(y, t, score, k: float) -> float:
    """Treated minus control conversion rate among the top ``k`` share (0 < k < 1)."""
    y, t, s = _check(y, t, score)
    return float(_at_k(np.ones((1, y.size)), y, t, rank_order(s), k)[0])


def uplift_scores(y, t, score) -> dict[str, float]:
    """AUUC and Qini coefficient (normalised by the perfect ranking) of an uplift ranking."""
    y, t, s = _check(y, t, score)
    return {k: float(v[0]) for k, v in _scores(np.ones((1, y.size)), y, t, s).items()}


@dataclass(frozen=True)
class UpliftReport:
    """How well a ranking finds the customers who convert because they were treated.

    Attributes:
        metrics: ``qini_coefficient``, ``auuc``, ``uplift_at_10``, ``uplift_at_30``,
            ``ate`` (treated − control rate overall), ``treated_share``.
        ci95: Percentile 95% bootstrap intervals of the first four.
        curves: ``fraction``, ``uplift`` (incremental conversions), ``qini``, ``random_uplift``
            and ``random_qini`` (straight lines to the curves' ends), at <= 101 points.
    """

    metrics: dict
    ci95: dict
    curves: dict


def uplift_report(y, t, score, n_boot: int = 200, seed: int = 42) -> UpliftReport:
    """Metrics, bootstrap intervals and curves of an uplift ranking on a randomised sample.

    Args:
        y: 0/1 outcomes of shape (n,).
        t: 0/1 treatment flags of shape (n,).
        score: Predicted uplift of shape (n,).
        n_boot: Poisson-bootstrap resamples (0 skips the intervals).
        seed: Seed of the resampling.

    Returns:
        The :class:`UpliftReport`.
    """
    y, t, s = _check(y, t, score)
    ones = np.ones((1, y.size))
    order = rank_order(s)
    point = {**{k: v[0] for k, v in _scores(ones, y, t, s).items()},
             **{f"uplift_at_{int(k * 100)}": _at_k(ones, y, t, order, k)[0] for k in AT_K}}
    ci = {}
    if n_boot:
        rng = np.random.default_rng(seed)
        draws: dict[str, list] = {k: [] for k in point}
        step = max(1, 2_000_000 // y.size)
        for start in range(0, n_boot, step):
            w = rng.poisson(1.0, (min(step, n_boot - start), y.size)).astype(np.float64)
            for k, v in _scores(w, y, t, s).items():
                draws[k].append(v)
            for k in AT_K:
                draws[f"uplift_at_{int(k * 100)}"].append(_at_k(w, y, t, order, k))
        ci = {k: percentile_ci(np.concatenate(v)) for k, v in draws.items()}
    ate = y[t == 1].mean() - y[t == 0].mean()
    metrics = {**{k: float(v) for k, v in point.items()}, "ate": float(ate),
               "treated_share": float(t.mean())}
    return UpliftReport(metrics, ci, _report_curves(y, t, s))


def _report_curves(y, t, s) -> dict:
    o = rank_order(s)
    x, up, qi = (a[0] for a in _curves(np.ones((1, y.size)), y[o], t[o], np.arange(y.size)))
    idx = np.unique(np.round(np.linspace(0, 1, CURVE_POINTS + 1) * y.size).astype(int))
    frac = x[idx] / y.size
    return {"fraction": frac.tolist(), "uplift": up[idx].tolist(), "qini": qi[idx].tolist(),
            "random_uplift": (frac * up[-1]).tolist(), "random_qini": (frac * qi[-1]).tolist()}
