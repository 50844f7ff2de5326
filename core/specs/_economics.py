"""The one economics type of targeting, uplift and recommendation scenarios."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from core.errors import SimulationError

MAX_MONEY = 1e12  # larger amounts are taken for a typing mistake (and overflow sums of them)


def _finite(value) -> bool:
    try:
        return math.isfinite(float(value)) and abs(float(value)) <= MAX_MONEY
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class Economics:
    """What contacts cost and conversions bring, in currency units: the one economics type of
    targeting scenarios (:mod:`core.impact`), uplift campaigns (:mod:`core.uplift`) and the
    value of recommendations (:mod:`core.recommend`), validated here once.

    Attributes:
        contact_cost: Cost of contacting one customer (>= 0).
        conversion_value: Value of one conversion (> 0); replaced by ``value_column`` if set.
        fixed_cost: Campaign cost paid once whatever its size (>= 0).
        payoff: Instead of cost and value, the value of each outcome per customer:
            ``(tp, fp, tn, fn)`` = contacted converter, contacted non-converter, not contacted
            non-converter, not contacted converter (DataRobot's payoff matrix).
        value_column: Column with each customer's value if they convert (e.g. expected spend).
        organic_share: Share of the contacted converters who would have converted without the
            contact, in [0, 1). A response model cannot tell them apart, so its scenario
            credits every converter reached to the contact; with this share, only the other
            ``1 − organic_share`` of their value counts (incremental profit). An uplift run
            measures the incremental conversions instead. Cost-and-value mode only.
    """

    contact_cost: float = 5.0
    conversion_value: float = 100.0
    fixed_cost: float = 0.0
    payoff: tuple[float, float, float, float] | None = None
    value_column: str | None = None
    organic_share: float = 0.0

    def __post_init__(self) -> None:
        checks = [("contact_cost", _finite(self.contact_cost) and self.contact_cost >= 0,
                   f"a finite number in [0, {MAX_MONEY:.0e}]"),
                  ("conversion_value", _finite(self.conversion_value)
                   and self.conversion_value > 0, f"a finite number in (0, {MAX_MONEY:.0e}]"),
                  ("fixed_cost", _finite(self.fixed_cost) and self.fixed_cost >= 0,
                   f"a finite number in [0, {MAX_MONEY:.0e}]")]
        for name, ok, allowed in checks:
            if not ok:
                raise SimulationError(f"{name} must be {allowed}; got {getattr(self, name)}.")
        if not (_finite(self.organic_share) and 0.0 <= self.organic_share < 1.0):
            raise SimulationError(f"organic_share (the share of conversions that happen without "
                                  f"contact) must be in [0, 1); got {self.organic_share}.")
        if self.payoff is not None and self.organic_share:
            raise SimulationError("The share of conversions without contact works with cost and "
                                  "value; a payoff matrix states each outcome's value itself "
                                  "(put the organic conversions into its TP value).")
        if self.payoff is not None:
            if len(self.payoff) != 4 or not all(_finite(v) for v in self.payoff):
                raise SimulationError(f"payoff needs four finite numbers (TP, FP, TN, FN), each "
                                      f"within ±{MAX_MONEY:.0e}; got {self.payoff!r}.")
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
        return (text + (f", fixed {self.fixed_cost:g}" if self.fixed_cost else "")
                + (f", {self.organic_share:.0%} of conversions without contact"
                   if self.organic_share else ""))

    def profit(self, conversions, contacted):
        """Profit of contacting ``contacted`` customers who bring ``conversions`` conversions:
        conversions × value − contacted × cost − fixed cost (arrays broadcast). With incremental
        conversions (an uplift run) this is the incremental profit."""
        return (np.asarray(conversions, dtype=np.float64) * self.conversion_value
                - np.asarray(contacted, dtype=np.float64) * self.contact_cost - self.fixed_cost)
