"""Prove a scenario with an experiment: plan an A/B test, then read its result.

Planner: the customers per arm needed to detect a change from the base conversion rate ``p_a``
to the rate the scenario predicts ``p_b`` with the test the readout uses, the two-sided pooled
two-proportion z-test: n = (z₁₋α/₂·√(2·p̄·q̄) + z₁₋β·√(p_a·q_a + p_b·q_b))² ÷ (p_b − p_a)² (Fleiss,
Levin & Paik, 2003, §4.2, without continuity correction), so the power achieved is the power
asked (Cohen's arcsine approximation gave 0.795 for 0.80); and the days it takes at a daily
volume.

Readout: the relative lift p_b ÷ p_a − 1 with a 95% interval (statsmodels
``confint_proportions_2indep``, ratio with the Koopman score method; difference with Newcombe's
hybrid score), the two-sided p-value of the pooled z-test (``proportions_ztest``) — or of
Fisher's exact test (``scipy.stats.fisher_exact``) when a cell's expected count is below 5,
where the normal approximation does not hold — and whether the scenario's predicted lift lies
inside the interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from core.errors import SchemaError, SimulationError
from core.features import label_text
from core.warehouse import read_table


@dataclass(frozen=True)
class ABPlan:
    """Sample size of an A/B test.

    Attributes:
        base_rate: Conversion rate of arm A (e.g. random targeting), in (0, 1).
        expected_rate: Conversion rate the scenario predicts for arm B, in (0, 1).
        relative_lift: expected_rate ÷ base_rate − 1.
        alpha: Significance level (two-sided).
        power: Chance of detecting the lift if it is real.
        effect_size: Cohen's h (for reference).
        per_arm: Customers needed in each arm (rounded up).
        total: Customers in both arms.
        days: Days to reach ``total`` at ``daily_volume`` (None without a volume).
        daily_volume: Customers who can enter the test per day.
        achieved_power: The z-test's power with ``per_arm`` customers per arm (>= ``power``).
        test: The test the readout will use (``"pooled z-test"``).
    """

    base_rate: float
    expected_rate: float
    relative_lift: float
    alpha: float
    power: float
    effect_size: float
    per_arm: int
    total: int
    days: int | None
    daily_volume: float | None
    achieved_power: float = 0.0
    test: str = "pooled z-test"


def _rate(name: str, value: float) -> None:
    if not 0.0 < value < 1.0:
        raise SimulationError(f"{name} must be a conversion rate in (0, 1), e.g. 0.11; got "
                              f"{value}.")


def plan_ab(base_rate: float, expected_rate: float, alpha: float = 0.05, power: float = 0.8,
            daily_volume: float | None = None) -> ABPlan:
    """Customers per arm to detect ``base_rate`` → ``expected_rate`` (two-sided, equal arms).

    Args:
        base_rate: Arm A's conversion rate, in (0, 1).
        expected_rate: Arm B's predicted conversion rate, in (0, 1), not equal to base_rate.
        alpha: Significance level, in (0, 0.5).
        power: Desired power, in (0.5, 1).
        daily_volume: Customers per day entering the test (both arms), or None.

    Returns:
        The :class:`ABPlan`.

    Raises:
        SimulationError: A rate, alpha, power or volume out of range, or equal rates.

    Example:
        >>> plan_ab(0.10, 0.12).per_arm
        3841
    """
    from statsmodels.stats.proportion import proportion_effectsize

    _rate("base_rate", base_rate)
    _rate("expected_rate", expected_rate)
    if expected_rate == base_rate:
        raise SimulationError("The scenario predicts no change in conversion rate, so no test "
                              "can detect one. Check the scenario's lift.")
    if not 0 < alpha < 0.5 or not 0.5 < power < 1:
        raise SimulationError(f"alpha must be in (0, 0.5) and power in (0.5, 1); got alpha "
                              f"{alpha} and power {power}.")
    if daily_volume is not None and daily_volume <= 0:
        raise SimulationError(f"daily_volume must be > 0; got {daily_volume}.")
    h = float(proportion_effectsize(expected_rate, base_rate))
    z_a, z_b = _z(1 - alpha / 2), _z(power)
    pa, pb = base_rate, expected_rate
    pbar = (pa + pb) / 2
    n = ((z_a * math.sqrt(2 * pbar * (1 - pbar)) + z_b * math.sqrt(pa * (1 - pa) + pb * (1 - pb)))
         / abs(pb - pa)) ** 2
    per_arm = int(math.ceil(n))
    days = int(math.ceil(2 * per_arm / daily_volume)) if daily_volume else None
    return ABPlan(base_rate, expected_rate, expected_rate / base_rate - 1, alpha, power, h,
                  per_arm, 2 * per_arm, days, daily_volume,
                  ztest_power(base_rate, expected_rate, per_arm, alpha))


def _z(q: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(q))


def ztest_power(base_rate: float, expected_rate: float, per_arm: int,
                alpha: float = 0.05) -> float:
    """Power of the two-sided pooled two-proportion z-test with ``per_arm`` customers in each
    arm when the true rates are ``base_rate`` and ``expected_rate`` (normal approximation;
    Fleiss, Levin & Paik, 2003, §4.2)."""
    from scipy.stats import norm

    pa, pb = base_rate, expected_rate
    pbar = (pa + pb) / 2
    se0 = math.sqrt(2 * pbar * (1 - pbar) / per_arm)
    se1 = math.sqrt((pa * (1 - pa) + pb * (1 - pb)) / per_arm)
    z = _z(1 - alpha / 2)
    d = abs(pb - pa)
    return float(norm.cdf((d - z * se0) / se1) + norm.cdf((-d - z * se0) / se1))


@dataclass(frozen=True)
class ABReadout:
    """Result of an A/B test.

    Attributes:
        conversions_a, customers_a, conversions_b, customers_b: The counts.
        rate_a, rate_b: Conversion rates.
        lift: Relative lift rate_b ÷ rate_a − 1.
        lift_ci95: Its 95% interval ``[low, high]`` (Koopman score interval of the ratio).
        difference: rate_b − rate_a (percentage points as a fraction).
        difference_ci95: Its 95% interval (Newcombe's hybrid score).
        p_value: Two-sided p-value of the pooled two-proportion z-test, or of Fisher's exact
            test when an expected cell count is below 5 (see ``test``).
        significant: p_value < alpha.
        predicted_lift: The scenario's predicted relative lift, or None.
        prediction_inside: Whether predicted_lift lies inside lift_ci95 (None without it).
        alpha: Significance level.
        test: ``"pooled z-test"`` or ``"Fisher's exact test"``.
    """

    conversions_a: int
    customers_a: int
    conversions_b: int
    customers_b: int
    rate_a: float
    rate_b: float
    lift: float | None
    lift_ci95: list[float] | None
    difference: float
    difference_ci95: list[float]
    p_value: float
    significant: bool
    predicted_lift: float | None
    prediction_inside: bool | None
    alpha: float
    test: str = "pooled z-test"


def read_ab(conversions_a: int, customers_a: int, conversions_b: int, customers_b: int,
            predicted_lift: float | None = None, alpha: float = 0.05) -> ABReadout:
    """Lift of arm B over arm A with its interval and p-value.

    Args:
        conversions_a: Converters in arm A (control, e.g. random targeting).
        customers_a: Customers in arm A.
        conversions_b: Converters in arm B (the model's targeting).
        customers_b: Customers in arm B.
        predicted_lift: The scenario's relative lift (e.g. 0.8 for +80%), to check.
        alpha: Significance level (the interval is 1 − alpha).

    Returns:
        The :class:`ABReadout`.

    Raises:
        SimulationError: Counts that are negative, exceed their arm, or an empty arm.
    """
    from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

    for c, n, arm in ((conversions_a, customers_a, "A"), (conversions_b, customers_b, "B")):
        if n <= 0 or c < 0 or c > n:
            raise SimulationError(f"Arm {arm} needs customers > 0 and 0 <= conversions <= "
                                  f"customers; got {c} of {n}.")
    ra, rb = conversions_a / customers_a, conversions_b / customers_b
    table = [[conversions_b, customers_b - conversions_b],
             [conversions_a, customers_a - conversions_a]]
    total = customers_a + customers_b
    wins = conversions_a + conversions_b
    expected = [n * k / total for n in (customers_a, customers_b) for k in (wins, total - wins)]
    if min(expected) < 5:
        from scipy.stats import fisher_exact

        test, p = "Fisher's exact test", float(fisher_exact(table)[1])
    else:
        test = "pooled z-test"
        _, p = proportions_ztest([conversions_b, conversions_a], [customers_b, customers_a])
    diff = confint_proportions_2indep(conversions_b, customers_b, conversions_a, customers_a,
                                      method="newcomb", compare="diff", alpha=alpha)
    lift = lift_ci = None
    if conversions_a > 0:
        lo, hi = confint_proportions_2indep(conversions_b, customers_b, conversions_a,
                                            customers_a, method="score", compare="ratio",
                                            alpha=alpha)
        lift, lift_ci = rb / ra - 1, [float(lo) - 1, float(hi) - 1]
    p = float(p) if math.isfinite(p) else 1.0
    inside = None
    if predicted_lift is not None and lift_ci is not None:
        inside = bool(lift_ci[0] <= predicted_lift <= lift_ci[1])
    return ABReadout(int(conversions_a), int(customers_a), int(conversions_b), int(customers_b),
                     ra, rb, lift, lift_ci, rb - ra, [float(diff[0]), float(diff[1])], p,
                     p < alpha, predicted_lift, inside, alpha, test)


def ab_counts_frame(frame: pd.DataFrame, group: str, outcome: str, positive: str,
                    control_value: str) -> tuple[int, int, int, int]:
    """Count customers and converters per arm in results with one row per customer.

    Args:
        frame: The results, e.g. an uploaded CSV or a warehouse table.
        group: Column naming the arm.
        outcome: Column with the outcome.
        positive: The outcome value that counts as a conversion (compared as text).
        control_value: The value of ``group`` for arm A; every other value is arm B.

    Returns:
        ``(conversions_a, customers_a, conversions_b, customers_b)``; rows with a missing arm
        or outcome are left out.

    Raises:
        SchemaError: Unknown column, or an arm without rows.
    """
    missing = [c for c in (group, outcome) if c not in frame.columns]
    if missing:
        raise SchemaError(f"The results have no column(s) {', '.join(missing)}; their columns "
                          f"are {', '.join(map(str, frame.columns))}.")
    rows = frame[[group, outcome]].dropna()
    is_a = rows[group].map(label_text) == str(control_value)
    won = rows[outcome].map(label_text) == str(positive)
    if is_a.all() or not is_a.any():
        raise SchemaError(f"Both arms need rows: '{group}' = '{control_value}' for A and any "
                          f"other value for B.")
    return int(won[is_a].sum()), int(is_a.sum()), int(won[~is_a].sum()), int((~is_a).sum())


def ab_counts(con, table: str, group: str, outcome: str, positive: str,
              control_value: str) -> tuple[int, int, int, int]:
    """:func:`ab_counts_frame` on a warehouse table.

    Raises:
        SchemaError: Unknown table or column, or an arm without rows.
    """
    return ab_counts_frame(read_table(con, table, [group, outcome]), group, outcome, positive,
                           control_value)
