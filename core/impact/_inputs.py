"""Scenario inputs: whom to contact (decision), what it costs and brings (economics), money.

Frozen, validated configurations that the Impact page, saved scenarios and the command line
build; :func:`money` prices confusion counts under an :class:`Economics`. The current policy's
rule is evaluated in the warehouse's sandbox (:func:`core.warehouse.policy_rule_mask`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from core.errors import SimulationError
from core.specs import MAX_MONEY, Economics

DECISION_RULES = ("fraction", "top_n", "threshold", "budget")
DECISION_LABELS = {"fraction": "Top share", "top_n": "Top N customers",
                   "threshold": "Score above a threshold", "budget": "As many as a budget allows"}


@dataclass(frozen=True)
class Decision:
    """Whom to contact, best scores first.

    Attributes:
        rule: ``fraction`` (share of the population, in (0, 1]), ``top_n`` (a number of
            customers), ``threshold`` (everyone whose score is at least ``value``) or
            ``budget`` (as many as ``value`` currency units pay for, after the fixed cost).
        value: The rule's parameter.
    """

    rule: str = "fraction"
    value: float = 0.2

    def __post_init__(self) -> None:
        finite = bool(np.isfinite(self.value)) and abs(self.value) <= MAX_MONEY
        ok = {"fraction": 0.0 < self.value <= 1.0, "top_n": finite and self.value >= 1,
              "threshold": finite, "budget": finite and self.value > 0}
        allowed = {"fraction": "in (0, 1], e.g. 0.2 for the top 20%",
                   "top_n": f"a whole number in [1, {MAX_MONEY:.0e}]",
                   "threshold": "a finite score", "budget": f"in (0, {MAX_MONEY:.0e}]"}
        if self.rule not in DECISION_RULES:
            raise SimulationError(f"decision rule must be one of {', '.join(DECISION_RULES)}; "
                                  f"got {self.rule!r}.")
        if not ok[self.rule]:
            raise SimulationError(f"The {self.rule} decision needs a value {allowed[self.rule]}; "
                                  f"got {self.value}.")

    def label(self) -> str:
        """The rule in words, e.g. ``"top 20%"``."""
        return {"fraction": f"top {self.value:.0%}", "top_n": f"top {int(self.value):,}",
                "threshold": f"score ≥ {self.value:.3g}",
                "budget": f"budget {self.value:,.0f}"}[self.rule]


@dataclass(frozen=True)
class ScenarioInputs:
    """Everything that defines a scenario besides its population.

    Attributes:
        decision: Whom to contact.
        economics: Costs and values.
        policy: The current policy as an SQL boolean expression over the population's columns
            (e.g. ``age < 30 AND previous > 0``), or None.
        n_bootstrap: Resamples for the 95% intervals (0 skips them), at most 10,000.
        seed: Seed of the resampling.
    """

    decision: Decision = field(default_factory=Decision)
    economics: Economics = field(default_factory=Economics)
    policy: str | None = None
    n_bootstrap: int = 1000
    seed: int = 42

    def __post_init__(self) -> None:
        if not 0 <= self.n_bootstrap <= 10000:
            raise SimulationError(f"n_bootstrap must be in [0, 10000]; got {self.n_bootstrap}.")

    @classmethod
    def top_share(cls, fraction: float, economics: Economics | None = None,
                  n_bootstrap: int = 1000, seed: int = 42) -> ScenarioInputs:
        """Contact the best-scored ``fraction`` of the population (the simplest scenario)."""
        return cls(Decision("fraction", fraction), economics or Economics(), None, n_bootstrap,
                   seed)

    @property
    def fraction(self) -> float:
        """The share contacted, for decisions made as a share.

        Raises:
            SimulationError: The decision is not a ``fraction`` rule.
        """
        if self.decision.rule != "fraction":
            raise SimulationError(f"This simulation needs the decision as a share of the "
                                  f"population; got the {self.decision.rule} rule.")
        return float(self.decision.value)

    def to_dict(self) -> dict:
        """JSON-ready form (see :meth:`from_dict`)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ScenarioInputs:
        """Rebuild inputs saved with :meth:`to_dict`."""
        econ = dict(data.get("economics", {}))
        if econ.get("payoff") is not None:
            econ["payoff"] = tuple(econ["payoff"])
        return cls(Decision(**data.get("decision", {})), Economics(**econ), data.get("policy"),
                   int(data.get("n_bootstrap", 1000)), int(data.get("seed", 42)))


def money(tp, fp, tn, fn, revenue, targeted, econ: Economics, cost_mult: float = 1.0,
          value_mult: float = 1.0) -> tuple:
    """Revenue, cost and profit of confusion counts (scalars or arrays of one shape).

    Cost and value mode: revenue = value of the contacted converters (``revenue``) times
    ``1 − econ.organic_share`` (the share that converts only because of the contact), cost =
    targeted × contact cost + fixed cost. Payoff mode: each cell's count × its payoff; positive
    payoffs add to revenue, negative ones to cost, and the fixed cost to cost.

    Args:
        tp, fp, tn, fn: Confusion counts (contacted = predicted positive).
        revenue: Value of the contacted converters (cost and value mode only).
        targeted: Customers contacted.
        econ: The economics.
        cost_mult: Multiplier on every cost (sensitivity analysis).
        value_mult: Multiplier on every value.

    Returns:
        ``(revenue, cost, profit)``.
    """
    if econ.payoff is None:  # only the conversions the contact causes earn their value
        rev = np.asarray(revenue, dtype=float) * value_mult * (1.0 - econ.organic_share)
        cost = (np.asarray(targeted, dtype=float) * econ.contact_cost + econ.fixed_cost) * cost_mult
        return rev, cost, rev - cost
    rev, cost = 0.0, econ.fixed_cost * cost_mult
    for count, pay in zip((tp, fp, tn, fn), econ.payoff):
        contrib = np.asarray(count, dtype=float) * pay
        if pay >= 0:
            rev = rev + contrib * value_mult
        else:
            cost = cost - contrib * cost_mult
    return rev, cost, rev - cost


def targeted_count(decision: Decision, scores_sorted: np.ndarray, econ: Economics) -> int:
    """How many customers a decision contacts.

    Args:
        decision: The rule.
        scores_sorted: Scores of shape (n_customers,), highest first.
        econ: The economics (a budget buys contacts at the contact cost after the fixed cost).

    Returns:
        The number contacted, in [1, n_customers].

    Raises:
        SimulationError: Nobody reaches the threshold, the budget buys no contact, or a budget
            meets a payoff matrix (which has no contact cost).
    """
    n = scores_sorted.size
    if decision.rule == "fraction":
        return max(1, int(round(decision.value * n)))
    if decision.rule == "top_n":
        return min(n, int(decision.value))
    if decision.rule == "threshold":
        k = int(np.count_nonzero(scores_sorted >= decision.value))
        if k == 0:
            raise SimulationError(f"No customer scores {decision.value:.3g} or more (the highest "
                                  f"score is {scores_sorted[0]:.3g}). Lower the threshold.")
        return k
    if econ.payoff is not None:
        raise SimulationError("A budget decision needs a contact cost; switch the economics from "
                              "a payoff matrix to cost and value.")
    if econ.contact_cost == 0:
        return n
    k = int((decision.value - econ.fixed_cost) // econ.contact_cost)
    if k < 1:
        raise SimulationError(
            f"A budget of {decision.value:,.0f} does not cover the fixed cost "
            f"({econ.fixed_cost:,.0f}) plus one contact ({econ.contact_cost:,.2f}). Raise it.")
    return min(n, k)
