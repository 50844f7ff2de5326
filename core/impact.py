"""Business impact of targeting by model score: conversions, lift and profit against random.

Contacting the top-scored fraction of a population with known outcomes (the run's test split, or
any scored table with the target) gives the conversions the campaign would have reached; random
targeting of the same size reaches ``base_rate × contacted`` in expectation. Intervals are
percentile bootstrap 95% intervals over customers (Efron & Tibshirani, 1993).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import SimulationError
from core.metrics import gains_curve
from core.specs import ImpactInputs


@dataclass(frozen=True)
class ImpactResult:
    """Outcome of one targeting scenario.

    Attributes:
        population: Customers in the population.
        base_rate: Share of converters in the population.
        fraction: Fraction contacted.
        targeted: Customers contacted.
        conversions_model: Converters among the top-scored ``targeted`` customers.
        conversions_random: Expected converters when contacting ``targeted`` at random.
        conversion_rate_model: conversions_model ÷ targeted.
        conversion_lift: conversion_rate_model ÷ base_rate.
        profit_model: conversions_model × value − targeted × contact cost (currency).
        profit_random: The same for random targeting.
        best_fraction: Fraction with the highest model profit.
        best_profit: That profit.
        break_even_fraction: Largest fraction whose model profit is still >= 0 (None if none).
        ci95: ``{"conversions_model": [lo, hi], "conversion_lift": [...], "profit_model": [...]}``.
        curve: Per fraction (100 points): ``fraction``, ``gain``, ``lift``, ``profit_model``,
            ``profit_random``, ``conversions_model``.
    """

    population: int
    base_rate: float
    fraction: float
    targeted: int
    conversions_model: int
    conversions_random: float
    conversion_rate_model: float
    conversion_lift: float
    profit_model: float
    profit_random: float
    best_fraction: float
    best_profit: float
    break_even_fraction: float | None
    ci95: dict
    curve: dict

    def summary(self) -> dict:
        """JSON-ready headline numbers (no curve)."""
        keys = ("fraction", "targeted", "conversions_model", "conversions_random",
                "conversion_rate_model", "conversion_lift", "profit_model", "profit_random",
                "best_fraction", "best_profit", "break_even_fraction", "base_rate", "population",
                "ci95")
        return {k: getattr(self, k) for k in keys}


def _top_conversions(y_sorted: np.ndarray, weights: np.ndarray, targeted: np.ndarray) -> np.ndarray:
    """Converters among the first ``targeted[b]`` resampled customers of each weight row b."""
    cw = np.cumsum(weights, axis=1)
    cy = np.cumsum(weights * y_sorted, axis=1)
    k = np.argmax(cw >= targeted[:, None], axis=1)  # first position reaching the contact count
    over = cw[np.arange(len(k)), k] - targeted
    return cy[np.arange(len(k)), k] - over * y_sorted[k]


def _bootstrap(y_sorted: np.ndarray, targeted: int, inputs: ImpactInputs) -> dict:
    """Poisson bootstrap (each customer drawn Poisson(1) times; Hanley & MacGibbon, 2006).

    Results are scaled to the original population size so intervals read in its units.
    """
    n = y_sorted.size
    if inputs.n_bootstrap == 0:
        return {}
    rng = np.random.default_rng(inputs.seed)
    conv, lift = [], []
    chunk = max(1, min(inputs.n_bootstrap, 2_000_000 // max(n, 1)))
    done = 0
    while done < inputs.n_bootstrap:
        b = min(chunk, inputs.n_bootstrap - done)
        w = rng.poisson(1.0, size=(b, n)).astype(np.int32)
        total = np.maximum(w.sum(axis=1), 1)
        t_b = np.maximum(1, np.round(inputs.fraction * total)).astype(np.int64)
        c = _top_conversions(y_sorted, w, t_b)
        rate = (w * y_sorted).sum(axis=1) / total
        conv.append(c * targeted / t_b)
        lift.append(np.where(rate > 0, (c / t_b) / np.where(rate > 0, rate, 1), np.nan))
        done += b
    conv, lift = np.concatenate(conv), np.concatenate(lift)
    profit = conv * inputs.conversion_value - targeted * inputs.contact_cost

    def ci(a):
        return [float(v) for v in np.nanpercentile(a, [2.5, 97.5])]

    return {"conversions_model": ci(conv), "conversion_lift": ci(lift), "profit_model": ci(profit)}


def simulate_targeting(y_true: np.ndarray, scores: np.ndarray, inputs: ImpactInputs) -> ImpactResult:
    """Simulate contacting the top-scored fraction of a population.

    Args:
        y_true: 0/1 outcomes of shape (n_customers,).
        scores: Model scores of shape (n_customers,); higher is contacted first.
        inputs: Costs, value, fraction and bootstrap settings.

    Returns:
        The :class:`ImpactResult`.

    Raises:
        SimulationError: Empty population or no converters at all.
    """
    y = np.asarray(y_true).astype(np.int64).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.size == 0 or y.size != s.size:
        raise SimulationError("The population is empty or labels and scores differ in length.")
    n, positives = y.size, int(y.sum())
    if positives == 0:
        raise SimulationError(
            "Nobody in this population converted, so lift and profit are undefined. Use a "
            "population with observed conversions (e.g. the run's test split)."
        )
    base = positives / n
    order = np.argsort(-s, kind="mergesort")
    y_sorted = y[order]
    targeted = max(1, int(round(inputs.fraction * n)))
    conv = int(y_sorted[:targeted].sum())
    curve = _curve(y, s, base, inputs)
    best = int(np.argmax(curve["profit_model"]))
    ok = np.flatnonzero(curve["profit_model"] >= 0)
    rate = conv / targeted
    return ImpactResult(
        population=n, base_rate=base, fraction=float(inputs.fraction), targeted=targeted,
        conversions_model=conv, conversions_random=base * targeted, conversion_rate_model=rate,
        conversion_lift=rate / base,
        profit_model=conv * inputs.conversion_value - targeted * inputs.contact_cost,
        profit_random=base * targeted * inputs.conversion_value - targeted * inputs.contact_cost,
        best_fraction=float(curve["fraction"][best]), best_profit=float(curve["profit_model"][best]),
        break_even_fraction=float(curve["fraction"][ok[-1]]) if ok.size else None,
        ci95=_bootstrap(y_sorted, targeted, inputs),
        curve={k: v.tolist() for k, v in curve.items()},
    )


def _curve(y: np.ndarray, s: np.ndarray, base: float, inputs: ImpactInputs) -> dict:
    g = gains_curve(y, s, points=100)
    contacted = g["contacted"].astype(float)
    return {
        "fraction": g["fraction"], "gain": g["gain"], "lift": g["lift"],
        "conversions_model": g["positives"].astype(float),
        "profit_model": g["positives"] * inputs.conversion_value - contacted * inputs.contact_cost,
        "profit_random": base * contacted * inputs.conversion_value - contacted * inputs.contact_cost,
    }
