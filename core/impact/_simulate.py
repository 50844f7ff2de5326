"""Business impact of targeting by model score: conversions, lift, money, against random and policy.

A scenario contacts the best-scored customers of a population (the run's test split, or any
table a run scored) by one of four decision rules, and prices the result with either a contact
cost and a value per conversion (optionally a per-customer value column) or a payoff matrix, plus
a fixed campaign cost. Two references stand beside it: random targeting of the same size, and the
current policy written as a rule (see :func:`core.warehouse.policy_mask`).

Uncertainty: with observed outcomes, percentile 95% intervals of an exact Poisson bootstrap over
customers (Efron & Tibshirani, 1993; Hanley & MacGibbon, 2006; see :mod:`core.bootstrap`), in
which each resample contacts the same share. Without outcomes (a table of next month's customers)
conversions are the sum of predicted probabilities and the intervals draw each customer's outcome
from them (a parametric bootstrap), so they hold only as far as the scores are calibrated.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.bootstrap import percentile_ci, prefix_bootstrap
from core.errors import SimulationError
from core.impact._inputs import Decision, ScenarioInputs, money, targeted_count
from core.specs import Economics

CURVE_POINTS = 100


@dataclass(frozen=True)
class ImpactResult:
    """Outcome of one targeting scenario. Money is in currency units, counts in customers.

    Attributes:
        population: Customers in the population.
        base_rate: Share of converters in the population.
        fraction: Share contacted (targeted ÷ population).
        targeted: Customers contacted.
        conversions_model: Converters among them (expected, a float, without outcomes).
        conversions_random: Expected converters when contacting ``targeted`` at random.
        conversion_rate_model: conversions_model ÷ targeted.
        conversion_lift: conversion_rate_model ÷ base_rate.
        profit_model: Revenue − cost of the scenario.
        profit_random: The same for random targeting of the same size.
        best_fraction: Share with the highest model profit (any whole number of customers).
        best_profit: That profit.
        break_even_fraction: Largest share whose model profit is still >= 0 (None if none).
        ci95: 95% intervals ``[low, high]`` of conversions_model, conversion_rate_model,
            conversion_lift, profit_model, revenue_model, profit_vs_random and, with a policy,
            conversion_lift_policy and profit_vs_policy (empty without resampling).
        curve: Per share (<= 100 points): fraction, contacted, score (lowest contacted), gain,
            lift, conversions_model, revenue_model, profit_model, profit_random (lists).
        decision: The decision rule in words.
        revenue_model: Value brought by the scenario.
        cost_model: Contact and fixed cost (with a payoff matrix: the negative payoffs).
        roi_model: profit_model ÷ cost_model (None when nothing is spent).
        best_targeted: Customers contacted at the best share.
        min_score: Lowest score contacted.
        counts: ``{"tp", "fp", "tn", "fn", "revenue"}`` of the scenario.
        policy: The current policy's ``rule``, ``targeted``, ``conversions``,
            ``conversion_rate``, ``conversion_lift`` (over base), ``revenue``, ``cost``,
            ``profit``, and ``model_same_size``: the same numbers (``targeted``,
            ``conversions``, ``conversion_rate``, ``revenue``, ``cost``, ``profit``) for the
            model's top customers of the policy's size (None when the policy selects nobody);
            None without a policy.
        conversion_lift_policy: conversion_rate_model ÷ the policy's rate (None if undefined);
            the two may contact different numbers of customers, see ``policy``.
        outcomes: ``"observed"`` or ``"expected"`` (from scores, no outcomes known).
        notes: Plain-language remarks.
    """

    population: int
    base_rate: float
    fraction: float
    targeted: int
    conversions_model: float
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
    decision: str = ""
    revenue_model: float = 0.0
    cost_model: float = 0.0
    roi_model: float | None = None
    best_targeted: int = 0
    min_score: float | None = None
    counts: dict = field(default_factory=dict)
    policy: dict | None = None
    conversion_lift_policy: float | None = None
    outcomes: str = "observed"
    notes: tuple[str, ...] = ()

    def summary(self) -> dict:
        """JSON-ready headline numbers (no curve)."""
        keys = ("fraction", "targeted", "conversions_model", "conversions_random",
                "conversion_rate_model", "conversion_lift", "profit_model", "profit_random",
                "best_fraction", "best_profit", "break_even_fraction", "base_rate", "population",
                "ci95", "decision", "revenue_model", "cost_model", "roi_model", "best_targeted",
                "min_score", "policy", "conversion_lift_policy", "outcomes", "notes")
        return {k: getattr(self, k) for k in keys}


@dataclass(frozen=True)
class _Ranked:
    """A population sorted by score, best first, with cumulative sums (index k = first k)."""

    y: np.ndarray          # outcomes or probabilities, (n,)
    scores: np.ndarray     # (n,)
    value: np.ndarray      # value of each customer if converting, (n,)
    mask: np.ndarray | None
    cum_y: np.ndarray      # (n + 1,)
    cum_rev: np.ndarray    # (n + 1,)
    valued: bool           # values vary per customer (a value column)

    @classmethod
    def build(cls, y, scores, values, mask, econ: Economics) -> _Ranked:
        order = np.argsort(-scores, kind="mergesort")
        y, s = y[order], scores[order]
        v = np.full(y.size, econ.conversion_value) if values is None else values[order]
        return cls(y, s, v, None if mask is None else mask[order],
                   np.r_[0.0, np.cumsum(y)], np.r_[0.0, np.cumsum(y * v)], values is not None)

    def counts(self, k) -> dict:
        """Confusion counts and revenue when contacting the first ``k`` (scalar or array)."""
        n, p = self.y.size, self.cum_y[-1]
        tp = self.cum_y[k]
        return {"tp": tp, "fp": k - tp, "fn": p - tp, "tn": n - k - (p - tp),
                "revenue": self.cum_rev[k]}


def _check_inputs(y, scores, values, mask) -> tuple[np.ndarray, ...]:
    y = np.asarray(y, dtype=np.float64).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.size == 0 or y.size != s.size:
        raise SimulationError("The population is empty or labels and scores differ in length.")
    if not np.isfinite(s).all():
        raise SimulationError("Some scores are missing or infinite; score the table again.")
    if values is not None:
        values = np.nan_to_num(np.asarray(values, dtype=np.float64).ravel(), nan=0.0)
    if mask is not None:
        mask = np.asarray(mask, dtype=bool).ravel()
    return y, s, values, mask


def simulate_scenario(y: np.ndarray, scores: np.ndarray, inputs: ScenarioInputs,
                      values: np.ndarray | None = None, policy_mask: np.ndarray | None = None,
                      expected: bool = False) -> ImpactResult:
    """Simulate one targeting scenario on a population.

    Args:
        y: 0/1 outcomes of shape (n_customers,), or conversion probabilities when
            ``expected`` (a population whose outcomes are not known yet).
        scores: Model scores of shape (n_customers,); higher is contacted first.
        inputs: Decision, economics, policy text (for the label), resampling.
        values: Per-customer value of a conversion, shape (n_customers,), when
            ``inputs.economics.value_column`` is set (missing values count as 0).
        policy_mask: Customers the current policy contacts, bool of shape (n_customers,).
        expected: ``y`` holds probabilities, not outcomes.

    Returns:
        The :class:`ImpactResult`.

    Raises:
        SimulationError: Empty population, no converters, or a decision that contacts nobody.
    """
    y, s, values, mask = _check_inputs(y, scores, values, policy_mask)
    econ = inputs.economics
    n, positives = y.size, float(y.sum())
    if positives <= 0:
        raise SimulationError(
            "Nobody in this population converted, so lift and profit are undefined. Use a "
            "population with observed conversions (e.g. the run's test split).")
    r = _Ranked.build(y, s, values, mask, econ)
    base = positives / n
    k = targeted_count(inputs.decision, r.scores, econ)
    counts = r.counts(k)
    rev, cost, profit = money(**{c: counts[c] for c in ("tp", "fp", "tn", "fn", "revenue")},
                              targeted=k, econ=econ)
    profit_all = _profit_by_k(r, econ)
    best = int(np.argmax(profit_all[1:])) + 1
    ok = np.flatnonzero(profit_all[1:] >= 0)
    random = _random_counts(r, k)
    policy = _policy(r, econ, inputs.policy, base) if mask is not None else None
    rate = counts["tp"] / k
    boot = _intervals(r, k, econ, inputs, expected, policy)
    notes = _notes(r, k, inputs.decision, policy, expected)
    return ImpactResult(
        population=n, base_rate=base, fraction=k / n, targeted=k,
        conversions_model=float(counts["tp"]) if expected else int(round(counts["tp"])),
        conversions_random=base * k, conversion_rate_model=rate, conversion_lift=rate / base,
        profit_model=float(profit), profit_random=float(money(**random, econ=econ)[2]),
        best_fraction=best / n, best_profit=float(profit_all[best]),
        break_even_fraction=float((ok[-1] + 1) / n) if ok.size else None,
        ci95=boot, curve=_curve(r, econ, base), decision=inputs.decision.label(),
        revenue_model=float(rev), cost_model=float(cost),
        roi_model=float(profit / cost) if cost > 0 else None, best_targeted=best,
        min_score=float(r.scores[k - 1]), counts={c: float(v) for c, v in counts.items()},
        policy=policy, outcomes="expected" if expected else "observed", notes=notes,
        conversion_lift_policy=(rate / policy["conversion_rate"]
                                if policy and policy["conversion_rate"] else None),
    )


def _random_counts(r: _Ranked, k) -> dict:
    n, p = r.y.size, r.cum_y[-1]
    tp = p * k / n
    return {"tp": tp, "fp": k - tp, "fn": p - tp, "tn": n - k - (p - tp),
            "revenue": r.cum_rev[-1] * k / n, "targeted": k}


def _profit_by_k(r: _Ranked, econ: Economics) -> np.ndarray:
    k = np.arange(r.y.size + 1)
    c = r.counts(k)
    return money(c["tp"], c["fp"], c["tn"], c["fn"], c["revenue"], k, econ)[2]


def _policy(r: _Ranked, econ: Economics, rule: str | None, base: float) -> dict:
    k = int(r.mask.sum())
    tp = float(r.y[r.mask].sum())
    p = r.cum_y[-1]
    rev_in = float((r.y * r.value)[r.mask].sum())
    rev, cost, profit = money(tp, k - tp, r.y.size - k - (p - tp), p - tp, rev_in, k, econ)
    rate = tp / k if k else None
    return {"rule": rule, "targeted": k, "conversions": tp, "conversion_rate": rate,
            "conversion_lift": rate / base if rate is not None else None,
            "revenue": float(rev), "cost": float(cost), "profit": float(profit),
            "model_same_size": _model_at(r, econ, k) if k else None}


def _model_at(r: _Ranked, econ: Economics, k: int) -> dict:
    """The model's best-scored ``k`` customers: the like-for-like rival of a policy of size k."""
    c = r.counts(k)
    rev, cost, profit = money(**c, targeted=k, econ=econ)
    return {"targeted": k, "conversions": float(c["tp"]), "conversion_rate": float(c["tp"]) / k,
            "revenue": float(rev), "cost": float(cost), "profit": float(profit)}


def _curve(r: _Ranked, econ: Economics, base: float) -> dict:
    n = r.y.size
    grid = np.linspace(1.0 / CURVE_POINTS, 1.0, CURVE_POINTS)
    k = np.unique(np.maximum(1, np.round(grid * n).astype(int)))
    c = r.counts(k)
    gain = c["tp"] / r.cum_y[-1]
    rnd = _random_counts(r, k)
    out = {"fraction": k / n, "contacted": k, "score": r.scores[k - 1], "gain": gain,
           "lift": gain / (k / n), "conversions_model": c["tp"], "revenue_model": c["revenue"],
           "profit_model": money(c["tp"], c["fp"], c["tn"], c["fn"], c["revenue"], k, econ)[2],
           "profit_random": money(**rnd, econ=econ)[2]}
    return {key: np.asarray(v, dtype=float).tolist() for key, v in out.items()}


def _notes(r: _Ranked, k: int, decision: Decision, policy: dict | None, expected: bool) -> tuple:
    notes = []
    if decision.rule == "top_n" and decision.value > r.y.size:
        notes.append(f"The population has only {r.y.size:,} customers; everyone is contacted.")
    if policy is not None and not policy["targeted"]:
        notes.append("The current-policy rule selects nobody in this population.")
    if expected:
        notes.append("No outcomes are known for this population: conversions are the sum of "
                     "predicted probabilities, which holds only if the scores are calibrated. "
                     "Intervals reflect the chance in each customer's outcome, not model error.")
    return tuple(notes)


def _intervals(r: _Ranked, k: int, econ: Economics, inputs: ScenarioInputs, expected: bool,
               policy: dict | None) -> dict:
    if inputs.n_bootstrap == 0:
        return {}
    sums = (_outcome_draws if expected else _customer_draws)(r, k, econ, inputs)
    n = r.y.size
    tp, p, rev, rev_all = sums["tp"], sums["p"], sums["rev"], sums["rev_all"]
    counts = {"tp": tp, "fp": k - tp, "fn": p - tp, "tn": n - k - (p - tp), "revenue": rev}
    profit = money(**counts, targeted=k, econ=econ)[2]
    rnd_tp = p * k / n
    profit_rnd = money(rnd_tp, k - rnd_tp, n - k - (p - rnd_tp), p - rnd_tp, rev_all * k / n, k,
                       econ)[2]
    rate = tp / k
    with np.errstate(divide="ignore", invalid="ignore"):
        lift = rate / (p / n)
    out = {"conversions_model": tp, "conversion_rate_model": rate, "conversion_lift": lift,
           "profit_model": profit, "revenue_model": money(**counts, targeted=k, econ=econ)[0],
           "profit_vs_random": profit - profit_rnd}
    if policy is not None and policy["targeted"]:
        kp, tpp, revp = sums["k_pol"], sums["tp_pol"], sums["rev_pol"]
        profit_pol = money(tpp, kp - tpp, n - kp - (p - tpp), p - tpp, revp, kp, econ)[2]
        with np.errstate(divide="ignore", invalid="ignore"):
            out["conversion_lift_policy"] = rate / (tpp / kp)
        out["profit_vs_policy"] = profit - profit_pol
    return {key: percentile_ci(v) for key, v in out.items()}


def _customer_draws(r: _Ranked, k: int, econ: Economics, inputs: ScenarioInputs) -> dict:
    """Poisson bootstrap over customers; sums rescaled to the population's size."""
    y = np.rint(r.y).astype(np.int64)
    pol = np.zeros_like(y) if r.mask is None else r.mask.astype(np.int64)
    rev = y * r.value
    vals = None
    if r.valued and econ.payoff is None:
        vals = np.column_stack([rev, rev * pol]) if r.mask is not None else rev[:, None]
    d = prefix_bootstrap(y + 2 * pol, k / y.size, inputs.n_bootstrap, inputs.seed,
                         values=vals, n_cells=4)
    sc = d.scale
    out = {"tp": (d.top[:, 1] + d.top[:, 3]) * sc, "p": (d.total[:, 1] + d.total[:, 3]) * sc,
           "k_pol": (d.total[:, 2] + d.total[:, 3]) * sc, "tp_pol": d.total[:, 3] * sc}
    if vals is None:  # one value per conversion: revenue follows the counts
        v = econ.conversion_value
        return {**out, "rev": out["tp"] * v, "rev_all": out["p"] * v, "rev_pol": out["tp_pol"] * v}
    rev_pol = d.total_value[:, 1] * sc if r.mask is not None else np.zeros_like(sc)
    return {**out, "rev": d.top_value[:, 0] * sc, "rev_all": d.total_value[:, 0] * sc,
            "rev_pol": rev_pol}


def _outcome_draws(r: _Ranked, k: int, econ: Economics, inputs: ScenarioInputs) -> dict:
    """Parametric bootstrap: each customer converts with its probability, independently."""
    n = r.y.size
    top = (np.arange(n) < k).astype(np.float32)
    pol = np.zeros(n, np.float32) if r.mask is None else r.mask.astype(np.float32)
    v = r.value.astype(np.float32)
    f = np.column_stack([top, np.ones(n, np.float32), top * v, v, pol, pol * v])
    rng = np.random.default_rng(inputs.seed)
    p = r.y.astype(np.float32)
    step = max(1, 8_000_000 // n)
    parts = [(rng.random((min(step, inputs.n_bootstrap - i), n), dtype=np.float32) < p)
             .astype(np.float32) @ f for i in range(0, inputs.n_bootstrap, step)]
    s = np.concatenate(parts).astype(np.float64)
    kp = float(pol.sum())
    return {"tp": s[:, 0], "p": s[:, 1], "rev": s[:, 2], "rev_all": s[:, 3],
            "k_pol": np.full(len(s), kp), "tp_pol": s[:, 4], "rev_pol": s[:, 5]}


def sensitivity(result: ImpactResult, econ: Economics, spread: float = 0.2,
                steps: int = 9) -> pd.DataFrame:
    """Profit of the chosen scenario as costs, values and the conversion rate move ±``spread``.

    Each line moves one driver and keeps the others: costs (contact and fixed cost, or the
    negative payoffs), values (value per conversion, or the positive payoffs), and the
    conversion rate of the contacted customers (more converters, fewer non-converters).

    Args:
        result: A simulated scenario.
        econ: Its economics.
        spread: Largest relative change, e.g. 0.2 for ±20% (in (0, 1]).
        steps: Points per line (odd, so 0% is one of them).

    Returns:
        A DataFrame with columns ``driver``, ``change`` (relative, e.g. -0.2) and ``profit``;
        ``steps`` rows per driver.

    Raises:
        SimulationError: ``spread`` outside (0, 1].
    """
    if not 0 < spread <= 1:
        raise SimulationError(f"spread must be in (0, 1], e.g. 0.2 for ±20%; got {spread}.")
    c, k = result.counts, result.targeted
    changes = np.linspace(-spread, spread, steps)
    rows = []
    for d in changes:
        tp = min(c["tp"] * (1 + d), k)
        ratio = tp / c["tp"] if c["tp"] else 0.0
        moved = {"costs": money(**c, targeted=k, econ=econ, cost_mult=1 + d)[2],
                 "values": money(**c, targeted=k, econ=econ, value_mult=1 + d)[2],
                 "conversion rate": money(tp, k - tp, c["tn"], c["fn"], c["revenue"] * ratio, k,
                                          econ)[2]}
        rows += [{"driver": name, "change": float(d), "profit": float(p)}
                 for name, p in moved.items()]
    return pd.DataFrame(rows)
