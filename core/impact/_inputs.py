"""Scenario inputs: whom to contact (decision), what it costs and brings (economics), money,
and the current-policy rule.

Frozen, validated configurations that the Impact page, saved scenarios and the command line
build; :func:`money` prices confusion counts under an :class:`Economics`;
:func:`policy_rule_mask` evaluates the current policy on a population and tells a mistake in the
rule (:class:`PolicyRuleError`, which names the columns) from a refusal (:mod:`core.warehouse`).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import asdict, dataclass, field

import duckdb
import numpy as np
import pandas as pd

from core.errors import QueryError, SchemaError, SimulationError
from core.warehouse import policy_mask

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
        ok = {"fraction": 0.0 < self.value <= 1.0, "top_n": self.value >= 1,
              "threshold": bool(np.isfinite(self.value)), "budget": self.value > 0}
        allowed = {"fraction": "in (0, 1], e.g. 0.2 for the top 20%", "top_n": ">= 1",
                   "threshold": "a finite score", "budget": "> 0"}
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
class Economics:
    """What contacts cost and conversions bring, in currency units.

    Attributes:
        contact_cost: Cost of contacting one customer (>= 0).
        conversion_value: Value of one conversion (> 0); replaced by ``value_column`` if set.
        fixed_cost: Campaign cost paid once whatever its size (>= 0).
        payoff: Instead of cost and value, the value of each outcome per customer:
            ``(tp, fp, tn, fn)`` = contacted converter, contacted non-converter, not contacted
            non-converter, not contacted converter (DataRobot's payoff matrix).
        value_column: Column with each customer's value if they convert (e.g. expected spend).
    """

    contact_cost: float = 5.0
    conversion_value: float = 100.0
    fixed_cost: float = 0.0
    payoff: tuple[float, float, float, float] | None = None
    value_column: str | None = None

    def __post_init__(self) -> None:
        checks = [("contact_cost", self.contact_cost >= 0, ">= 0"),
                  ("conversion_value", self.conversion_value > 0, "> 0"),
                  ("fixed_cost", self.fixed_cost >= 0, ">= 0")]
        for name, ok, allowed in checks:
            if not ok:
                raise SimulationError(f"{name} must be {allowed}; got {getattr(self, name)}.")
        if self.payoff is not None:
            if len(self.payoff) != 4 or not np.all(np.isfinite(self.payoff)):
                raise SimulationError(f"payoff needs four finite numbers (TP, FP, TN, FN); got "
                                      f"{self.payoff!r}.")
            if self.value_column:
                raise SimulationError("A per-customer value column works with cost and value, "
                                      "not with a payoff matrix; clear one of them.")

    def label(self) -> str:
        """The economics in words."""
        if self.payoff is not None:
            tp, fp, tn, fn = self.payoff
            text = f"payoff TP {tp:g} / FP {fp:g} / TN {tn:g} / FN {fn:g}"
        else:
            value = f"'{self.value_column}'" if self.value_column else f"{self.conversion_value:g}"
            text = f"contact {self.contact_cost:g}, conversion {value}"
        return text + (f", fixed {self.fixed_cost:g}" if self.fixed_cost else "")


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

    Cost and value mode: revenue = value of the contacted converters (``revenue``), cost =
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
    if econ.payoff is None:
        rev = np.asarray(revenue, dtype=float) * value_mult
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


def sql_column_names(columns, original_names: dict | None = None, limit: int = 80) -> str:
    """Columns as an SQL rule must spell them, with the file's header where it differs.

    Args:
        columns: The population's column names (clean SQL names).
        original_names: Clean name → the header of the analyst's file.
        limit: Names listed before "and N more".

    Returns:
        E.g. ``"age, emp_var_rate (file header: emp.var.rate)"``.
    """
    names = [f"{c} (file header: {original_names[c]})"
             if (original_names or {}).get(c, c) != c else str(c) for c in columns]
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


class PolicyRuleError(SchemaError):
    """The current-policy rule has a mistake (syntax, an unknown column, not true/false)."""

    default_title = "The current-policy rule has a mistake"


_MISTAKES = (duckdb.BinderException, duckdb.CatalogException, duckdb.ParserException,
             duckdb.ConversionException, duckdb.InvalidInputException,
             duckdb.OutOfRangeException)


def policy_rule_mask(frame: pd.DataFrame, rule: str,
                     original_names: dict | None = None) -> np.ndarray:
    """Evaluate the current-policy rule on a population, telling mistakes from refusals.

    Args:
        frame: The population's columns, shape (n_customers, n_columns).
        rule: An SQL boolean expression over them, e.g. ``age < 30 AND previous > 0``.
        original_names: Clean column name → the file's header, for hints such as "write
            emp_var_rate for the file's header emp.var.rate".

    Returns:
        A bool array of shape (n_customers,), as :func:`core.warehouse.policy_mask`.

    Raises:
        PolicyRuleError: Invalid SQL, an unknown column or function, or values that are not
            true/false; the message lists the columns in their SQL spelling.
        QueryError: A refusal: the rule reads anything but the population's columns (files,
            other tables), holds ``;`` or comments, or runs too long.
    """
    try:
        return policy_mask(frame, rule)
    except QueryError as err:
        text = str(err)
        mistake = isinstance(err.__cause__, _MISTAKES) or text.startswith(
            "The policy rule is not valid SQL") or "not true/false" in text
        if not mistake:  # anything not known to be a slip stays a refusal
            raise
        raise PolicyRuleError(_mistake_text(list(frame.columns), rule, err,
                                            original_names or {})) from err


def _mistake_text(columns: list, rule: str, err: QueryError, originals: dict) -> str:
    cause = err.__cause__
    if cause is not None:
        what = f"could not be evaluated: {str(cause).strip().splitlines()[0].rstrip('.!')}"
    else:  # core.warehouse's own checks: "is not valid SQL: …", "gives … values, not true/false"
        what = str(err).split(". Write the current policy")[0].removeprefix("The policy rule ")
    hints = [f"write {clean} for the file's header {orig}" for clean, orig in originals.items()
             if orig != clean and clean in columns and orig in rule]
    unknown = re.search(r'Referenced (?:column|table) "([^"]+)" not found', what)
    if unknown and not hints:
        by_name = {str(c).lower(): str(c) for c in columns}
        by_name.update({o.lower(): c for c, o in originals.items() if c in columns})
        close = list(dict.fromkeys(by_name[c] for c in difflib.get_close_matches(
            unknown.group(1).lower(), list(by_name), 3, 0.6)))
        if close:
            hints.append(f"the closest column name{'s are' if len(close) > 1 else ' is'} "
                         f"{', '.join(close)}")
    hint = f" Hint: {'; '.join(dict.fromkeys(hints))}." if hints else ""
    return (f"The rule `{rule}` {what.rstrip('.')}.{hint} Write a condition on the "
            f"population's columns, e.g. age < 30 AND previous > 0. Their SQL names: "
            f"{sql_column_names(columns, originals)}.")
