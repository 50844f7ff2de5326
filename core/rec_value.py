"""What better recommendations are worth: conversions and revenue of personalised top-K lists
against most-popular top-K lists.

The scenario, per impression (one top-K list shown to one customer):

- the customer wants one item next — in the test split, the item they actually took next;
- if that item is in the list, they click it with probability ``ctr`` (the click-through rate of
  a shown recommendation the customer wants); other shown items earn nothing;
- a click converts with probability ``conversion_rate`` and earns the item's value: its mean
  revenue per purchase in the data (unit price × quantity), or a fixed average order value.

So expected conversions = users × impressions × ctr × conversion_rate × mean HitRate@K, and
revenue weights each user's hit by the value of the item they wanted. Both strategies are scored
on the same test users; intervals are percentile bootstrap 95% intervals over those users
(paired, so the difference has its own interval). They carry the uncertainty of the ranking
quality, not the randomness of clicks, which averages out over many impressions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import SimulationError
from core.rec_metrics import RankStats, bootstrap_ci, per_user
from core.sequences import check_fields

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
        order_value: Value of one conversion in currency units; None uses each item's mean
            revenue per purchase from the data.
    """

    ctr: float = 0.3
    conversion_rate: float = 0.1
    users: int = 10_000
    impressions: int = 4
    k: int = 10
    order_value: float | None = None

    def __post_init__(self) -> None:
        check_fields(self, SimulationError, [
            ("ctr", 0.0 < self.ctr <= 1.0, "in (0, 1]"),
            ("conversion_rate", 0.0 < self.conversion_rate <= 1.0, "in (0, 1]"),
            ("users", self.users >= 1, "a whole number >= 1"),
            ("impressions", self.impressions >= 1, "a whole number >= 1"),
            ("k", 1 <= self.k <= 100, "a whole number in [1, 100]"),
            ("order_value", self.order_value is None or self.order_value > 0,
             "> 0 (or empty to use item prices)"),
        ])

    @property
    def scale(self) -> float:
        """Expected conversions per unit of HitRate: users × impressions × ctr × conversion."""
        return self.users * self.impressions * self.ctr * self.conversion_rate


@dataclass(frozen=True)
class ValueResult:
    """Expected outcome of both strategies over the chosen users and impressions.

    Attributes:
        inputs: The scenario.
        conversions: ``{"personalised": float, "popular": float}``.
        revenue: ``{"personalised": float, "popular": float}`` in currency units.
        incremental_conversions: Personalised minus popular conversions.
        incremental_revenue: Personalised minus popular revenue.
        ci95: ``[low, high]`` for conversions_*, revenue_* and incremental_* keys.
        by_k: Revenue per list length: ``{"k": [1..20], "personalised": [...],
            "popular": [...]}``.
        value_source: ``"item prices"`` or ``"average order value"``.
    """

    inputs: ValueInputs
    conversions: dict
    revenue: dict
    incremental_conversions: float
    incremental_revenue: float
    ci95: dict
    by_k: dict
    value_source: str


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


def simulate_value(model: RankStats, popular: RankStats, values: np.ndarray,
                   inputs: ValueInputs, n_boot: int = 500, seed: int = 42) -> ValueResult:
    """Expected conversions and revenue of personalised against most-popular top-K lists.

    Args:
        model: Test-split ranks of the personalised model.
        popular: Test-split ranks of the most-popular baseline (same users, same order).
        values: Value of each user's wanted item, shape (n_users,) (see :func:`target_values`).
        inputs: The scenario.
        n_boot: Bootstrap resamples over users.
        seed: Seed of the bootstrap.

    Returns:
        The :class:`ValueResult`.

    Raises:
        SimulationError: The two rankings cover different numbers of users.
    """
    if len(model.greater) != len(popular.greater) or len(values) != len(model.greater):
        raise SimulationError("Both strategies must be scored on the same test users.")
    k, scale = inputs.k, inputs.scale
    hit_m = per_user(model, (k,))[f"hit_rate@{k}"]
    hit_p = per_user(popular, (k,))[f"hit_rate@{k}"]
    per = {"conversions_personalised": scale * hit_m, "conversions_popular": scale * hit_p,
           "revenue_personalised": scale * hit_m * values,
           "revenue_popular": scale * hit_p * values}
    per["incremental_conversions"] = per["conversions_personalised"] - per["conversions_popular"]
    per["incremental_revenue"] = per["revenue_personalised"] - per["revenue_popular"]
    means = {name: float(v.mean()) for name, v in per.items()}
    ks = tuple(range(1, MAX_K_CURVE + 1))
    curve = {name: [float(scale * (u[f"hit_rate@{j}"] * values).mean()) for j in ks]
             for name, u in (("personalised", per_user(model, ks)),
                             ("popular", per_user(popular, ks)))}
    return ValueResult(
        inputs,
        {"personalised": means["conversions_personalised"],
         "popular": means["conversions_popular"]},
        {"personalised": means["revenue_personalised"], "popular": means["revenue_popular"]},
        means["incremental_conversions"], means["incremental_revenue"],
        bootstrap_ci(per, n_boot, seed), {"k": list(ks), **curve},
        "average order value" if inputs.order_value is not None else "item prices",
    )


def simulate_run_value(run, inputs: ValueInputs, n_boot: int = 500,
                       seed: int = 42) -> ValueResult:
    """:func:`simulate_value` on a saved :class:`core.rec_runs.RecRun`'s test users, each
    wanting their held-out last item (raises :class:`SimulationError` as it does)."""
    values = target_values(run.sequences.item_values, run.test_targets, inputs.order_value)
    return simulate_value(run.ranks["model"], run.ranks["popular"], values, inputs, n_boot, seed)
