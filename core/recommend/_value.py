"""What better recommendations are worth: conversions and revenue of personalised top-K lists
against the top-K lists of each baseline (most popular, item-to-item), so the model is judged
against the best of them, not only the weakest.

The scenario, per impression (one top-K list shown to one customer):

- the customer wants one item next — in the test split, the item they actually took next;
- if that item is in the list, they click it with probability ``ctr`` (the click-through rate of
  a shown recommendation the customer wants); other shown items earn nothing;
- a click converts with probability ``conversion_rate`` and earns the item's value: its mean
  revenue per purchase in the data (unit price × quantity), or a fixed average order value.

So expected conversions = users × impressions × ctr × conversion_rate × mean HitRate@K, and
revenue weights each user's hit by the value of the item they wanted. All strategies are scored
on the same test users; intervals are percentile bootstrap 95% intervals over those users
(paired, so the difference has its own interval). They carry the uncertainty of the ranking
quality, not the randomness of clicks, which averages out over many impressions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import SimulationError
from core.recommend._metrics import RankStats, bootstrap_ci, per_user
from core.recommend._sequences import check_fields
from core.specs import Economics

MAX_K_CURVE = 20


@dataclass(frozen=True)
class ValueInputs:
    """Economics of showing recommendations.

    Attributes:
        ctr: Chance that a shown recommendation the customer wants is clicked, in (0, 1].
        conversion_rate: Chance that a click becomes a purchase, in (0, 1].
        users: Customers who see recommendations, >= 1.
        impressions: Top-K lists shown per customer over the period, >= 1.
        k: Items per list, 1–100.
        economics: Value of one conversion (``conversion_value`` of the shared
            :class:`~core.specs.Economics`, validated there); None uses each item's mean
            revenue per purchase from the data. Showing a list costs nothing here.
    """

    ctr: float = 0.3
    conversion_rate: float = 0.1
    users: int = 10_000
    impressions: int = 4
    k: int = 10
    economics: Economics | None = None

    def __post_init__(self) -> None:
        check_fields(self, SimulationError, [
            ("ctr", 0.0 < self.ctr <= 1.0, "in (0, 1]"),
            ("conversion_rate", 0.0 < self.conversion_rate <= 1.0, "in (0, 1]"),
            ("users", self.users >= 1, "a whole number >= 1"),
            ("impressions", self.impressions >= 1, "a whole number >= 1"),
            ("k", 1 <= self.k <= 100, "a whole number in [1, 100]"),
        ])

    @property
    def order_value(self) -> float | None:
        """The fixed value of one conversion, or None to use item prices."""
        return None if self.economics is None else self.economics.conversion_value

    @property
    def scale(self) -> float:
        """Expected conversions per unit of HitRate: users × impressions × ctr × conversion."""
        return self.users * self.impressions * self.ctr * self.conversion_rate


STRATEGY_LABELS = {"personalised": "personalised", "popular": "most popular",
                   "transitions": "item-to-item"}


@dataclass(frozen=True)
class ValueResult:
    """Expected outcome of the personalised lists and of each baseline's lists over the chosen
    users and impressions.

    Attributes:
        inputs: The scenario.
        conversions: Expected conversions per strategy: ``"personalised"`` (the run's model)
            and each baseline compared with (``"popular"``, ``"transitions"``).
        revenue: Expected revenue per strategy, in currency units.
        incremental_conversions: Personalised minus each baseline's conversions, keyed by
            baseline (negative: the baseline wins).
        incremental_revenue: Personalised minus each baseline's revenue, keyed by baseline.
        ci95: ``[low, high]`` for ``conversions_<strategy>``, ``revenue_<strategy>``,
            ``incremental_conversions_<baseline>`` and ``incremental_revenue_<baseline>``.
        by_k: Revenue per list length: ``{"k": [1..20], "<strategy>": [...]}``.
        value_source: ``"item prices"`` or ``"average order value"``.
        best_baseline: The baseline with the highest expected revenue: the one to beat.
    """

    inputs: ValueInputs
    conversions: dict
    revenue: dict
    incremental_conversions: dict
    incremental_revenue: dict
    ci95: dict
    by_k: dict
    value_source: str
    best_baseline: str

    def verdict(self, baseline: str | None = None) -> str:
        """How the personalised lists compare with a baseline's (default: the best one).

        Returns:
            ``"better"`` or ``"worse"`` when the 95% interval of the revenue difference lies
            above or below 0, ``"unclear"`` when it contains 0 (or has no interval).
        """
        baseline = baseline or self.best_baseline
        low, high = self.ci95.get(f"incremental_revenue_{baseline}", [0.0, 0.0])
        return "better" if low > 0 else "worse" if high < 0 else "unclear"


def target_values(item_values: np.ndarray, targets: np.ndarray,
                  order_value: float | None) -> np.ndarray:
    """Value of each user's wanted item, shape (n_users,).

    Args:
        item_values: Mean revenue per purchase by item index, shape (n_items + 1,), NaN unknown.
        targets: Wanted item per user, shape (n_users,).
        order_value: A fixed value per conversion, or None to use ``item_values``.

    Returns:
        Currency units per conversion; unknown item values take the mean of the known ones.

    Raises:
        SimulationError: No order value given and the data has no prices.
    """
    if order_value is not None:
        return np.full(len(targets), float(order_value))
    known = item_values[np.isfinite(item_values)]
    if not len(known):
        raise SimulationError(
            "The data has no price column, so item values are unknown. Enter an average order "
            "value, or rebuild the sequences with a price column."
        )
    values = item_values[targets]
    return np.where(np.isfinite(values), values, known.mean())


def simulate_value(model: RankStats, baselines: dict[str, RankStats] | RankStats,
                   values: np.ndarray, inputs: ValueInputs, n_boot: int = 500,
                   seed: int = 42) -> ValueResult:
    """Expected conversions and revenue of personalised top-K lists against each baseline's.

    Args:
        model: Test-split ranks of the personalised model.
        baselines: Test-split ranks of the baselines to compare with (same users, same order),
            e.g. ``{"popular": ..., "transitions": ...}``; a lone :class:`RankStats` is the
            most-popular baseline.
        values: Value of each user's wanted item, shape (n_users,) (see :func:`target_values`).
        inputs: The scenario.
        n_boot: Bootstrap resamples over users (paired: the same users for every strategy).
        seed: Seed of the bootstrap.

    Returns:
        The :class:`ValueResult`.

    Raises:
        SimulationError: No baseline, or the rankings cover different numbers of users.
    """
    if isinstance(baselines, RankStats):
        baselines = {"popular": baselines}
    if not baselines:
        raise SimulationError("Compare with at least one baseline.")
    ranked = {"personalised": model, **baselines}
    if any(len(r.greater) != len(model.greater) for r in ranked.values()) or \
            len(values) != len(model.greater):
        raise SimulationError("Every strategy must be scored on the same test users.")
    k, scale = inputs.k, inputs.scale
    hits = {name: per_user(r, (k,))[f"hit_rate@{k}"] for name, r in ranked.items()}
    per = {}
    for name, hit in hits.items():
        per[f"conversions_{name}"] = scale * hit
        per[f"revenue_{name}"] = scale * hit * values
    for name in baselines:
        for what in ("conversions", "revenue"):
            per[f"incremental_{what}_{name}"] = (per[f"{what}_personalised"]
                                                 - per[f"{what}_{name}"])
    means = {name: float(v.mean()) for name, v in per.items()}
    ks = tuple(range(1, MAX_K_CURVE + 1))
    curve = {}
    for name, r in ranked.items():
        u = per_user(r, ks)
        curve[name] = [float(scale * (u[f"hit_rate@{j}"] * values).mean()) for j in ks]
    return ValueResult(
        inputs, {n: means[f"conversions_{n}"] for n in ranked},
        {n: means[f"revenue_{n}"] for n in ranked},
        {n: means[f"incremental_conversions_{n}"] for n in baselines},
        {n: means[f"incremental_revenue_{n}"] for n in baselines},
        bootstrap_ci(per, n_boot, seed), {"k": list(ks), **curve},
        "average order value" if inputs.order_value is not None else "item prices",
        max(baselines, key=lambda n: means[f"revenue_{n}"]),
    )


def simulate_run_value(run, inputs: ValueInputs, n_boot: int = 500,
                       seed: int = 42) -> ValueResult:
    """:func:`simulate_value` on a saved :class:`core.recommend.RecRun`'s test users, each
    wanting their held-out last item, against every baseline that is not the run's own model
    (raises :class:`SimulationError` as it does)."""
    values = target_values(run.sequences.item_values, run.test_targets, inputs.order_value)
    baselines = {name: run.ranks[name] for name in ("transitions", "popular")
                 if name != run.model_name}
    return simulate_value(run.ranks["model"], baselines, values, inputs, n_boot, seed)


def value_verdict(result: ValueResult, model: str) -> tuple[str, str]:
    """One plain statement of how the model's lists compare with the best baseline's.

    The model is called the winner only when the 95% interval of the revenue difference lies
    above 0; when a baseline earns more, the statement says so first, with both revenues.

    Args:
        result: The value simulation.
        model: The run's model name.

    Returns:
        ``(kind, markdown)``: kind ``"better"``, ``"worse"`` (the baseline earns more, or the
        difference is unclear but negative) or ``"unclear"``.
    """
    best = result.best_baseline
    label = STRATEGY_LABELS[best]
    diff = result.incremental_revenue[best]
    low, high = result.ci95.get(f"incremental_revenue_{best}", [diff, diff])
    facts = (f"{model}: revenue {result.revenue['personalised']:,.0f}; {label} (the best "
             f"baseline): {result.revenue[best]:,.0f}; difference {diff:+,.0f} (95% CI "
             f"{low:+,.0f} to {high:+,.0f}).")
    kind = result.verdict()
    if kind == "worse" or (kind == "unclear" and diff < 0):
        return "worse", (f"**The {label} baseline earns more than {model}: {-diff:,.0f} more "
                         f"revenue.** {facts} Do not roll the model out on this evidence: show "
                         f"the baseline's lists, or improve the model and compare again.")
    if kind == "better":
        return "better", (f"**{model} earns {diff:,.0f} more than the best baseline "
                          f"({label}).** {facts}")
    return "unclear", (f"**No clear difference between {model} and the best baseline "
                       f"({label}).** {facts}")


def value_table(result: ValueResult, model: str) -> pd.DataFrame:
    """One row per strategy, the model first, for display.

    Args:
        result: The value simulation.
        model: The run's model name (the label of the personalised row).

    Returns:
        Columns ``conversions``, ``revenue`` (whole currency units), ``95% CI`` (of the
        revenue) and ``<model> − this`` (revenue difference; empty on the model's own row).
    """
    rows = {}
    for name in result.revenue:
        label = model if name == "personalised" else STRATEGY_LABELS[name] + (
            " (best baseline)" if name == result.best_baseline else "")
        low, high = result.ci95.get(f"revenue_{name}", [np.nan, np.nan])
        rows[label] = {"conversions": round(result.conversions[name]),
                       "revenue": round(result.revenue[name]),
                       "95% CI": f"{low:,.0f} – {high:,.0f}",
                       f"{model} − this": (None if name == "personalised"
                                           else round(result.incremental_revenue[name]))}
    return pd.DataFrame.from_dict(rows, orient="index")
