"""What treating the top of an uplift ranking brings: incremental conversions and profit.

On a randomised sample (observed outcomes and treatment flags), treating the top k customers
brings (treated conversion rate − control conversion rate among them) × k incremental
conversions (the uplift curve of :mod:`core.uplift`), against ranking by propensity (the
predicted conversion probability if treated) and against treating everyone (the average
treatment effect × n). Intervals: percentile 95% of an exact Poisson bootstrap over customers
(:mod:`core.bootstrap`), each resample treating the same share.

On a population without outcomes (next month's customers) the incremental conversions are the
sum of predicted uplifts, with a normal 95% interval from the outcome variance
Σ p_t(1 − p_t) + p_c(1 − p_c) (independent potential outcomes; excludes model error).

Profit: incremental conversions × value − treated × contact cost − fixed cost (cf.
scikit-uplift's ``max_prof_uplift``, after Devriendt et al., 2021).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.bootstrap import percentile_ci, prefix_bootstrap
from core.errors import SimulationError
from core.impact import ScenarioInputs
from core.uplift._metrics import CURVE_POINTS, rank_order

SEGMENTS = ("persuadables", "sure things", "lost causes", "sleeping dogs")


@dataclass(frozen=True)
class UpliftSimulation:
    """Incremental outcome of treating the top share ranked by predicted uplift.

    Attributes:
        population: Customers in the population.
        treated: Customers treated (the top share).
        fraction: treated ÷ population.
        incremental_conversions: Conversions caused by the treatment among them.
        incremental_conversions_ci95: Its 95% interval ``[low, high]`` (None without resampling).
        incremental_profit: Incremental conversions × value − treatment and fixed costs.
        incremental_profit_ci95: Its 95% interval.
        propensity: The same three numbers when ranking by propensity (None without it).
        everyone: ``incremental_conversions`` and ``incremental_profit`` of treating everyone.
        best_fraction: Share with the highest incremental profit when ranking by uplift.
        best_profit: That profit.
        curve: Per share (<= 100 points): ``fraction``, ``uplift``, ``propensity``,
            ``random`` (incremental conversions) and ``profit_uplift``,
            ``profit_propensity``, ``profit_random`` (lists).
        outcomes: ``"observed"`` (randomised sample) or ``"expected"`` (from predictions).
    """

    population: int
    treated: int
    fraction: float
    incremental_conversions: float
    incremental_conversions_ci95: list | None
    incremental_profit: float
    incremental_profit_ci95: list | None
    propensity: dict | None
    everyone: dict
    best_fraction: float
    best_profit: float
    curve: dict
    outcomes: str

    def summary(self) -> dict:
        """JSON-ready headline numbers (no curve)."""
        return {k: v for k, v in self.__dict__.items() if k != "curve"}


def _cumulative(y, t, order) -> tuple[np.ndarray, ...]:
    """Incremental conversions when treating the first k = 0..n customers of ``order``."""
    ys, ts = y[order], t[order]
    k = np.arange(y.size + 1)
    n_t = np.r_[0.0, np.cumsum(ts)]
    y_t = np.r_[0.0, np.cumsum(ys * ts)]
    y_c = np.r_[0.0, np.cumsum(ys * (1 - ts))]
    n_c = k - n_t
    with np.errstate(divide="ignore", invalid="ignore"):
        inc = np.where((n_t > 0) & (n_c > 0), (y_t / n_t - y_c / n_c) * k, 0.0)
    return inc


def _boot(y, t, order, k, inputs: ScenarioInputs) -> np.ndarray:
    """Bootstrap draws of the incremental conversions of the first k customers of ``order``."""
    ys, ts = y[order], t[order]
    d = prefix_bootstrap(ys + 2 * ts, k / y.size, inputs.n_bootstrap, inputs.seed, n_cells=4)
    top = d.top
    with np.errstate(divide="ignore", invalid="ignore"):
        rate_t = top[:, 3] / (top[:, 2] + top[:, 3])
        rate_c = top[:, 1] / (top[:, 0] + top[:, 1])
    return (rate_t - rate_c) * k


def _grid(n: int) -> np.ndarray:
    g = np.linspace(1.0 / CURVE_POINTS, 1.0, CURVE_POINTS)
    return np.unique(np.maximum(1, np.round(g * n).astype(int)))


def _result(n, k, inc_by_k: dict, ci: dict, inputs: ScenarioInputs, outcomes: str,
            everyone: float) -> UpliftSimulation:
    grid = _grid(n)
    profit_all = inputs.economics.profit(inc_by_k["uplift"], np.arange(n + 1))
    best = int(np.argmax(profit_all[1:])) + 1

    def block(name):
        inc = float(inc_by_k[name][k])
        lo_hi = ci.get(name)
        return {"incremental_conversions": inc, "incremental_conversions_ci95": lo_hi,
                "incremental_profit": float(inputs.economics.profit(inc, k)),
                "incremental_profit_ci95": None if lo_hi is None else
                [float(inputs.economics.profit(v, k)) for v in lo_hi]}

    main = block("uplift")
    curve = {"fraction": (grid / n).tolist(), "random": (everyone * grid / n).tolist()}
    for name, values in inc_by_k.items():
        curve[name] = values[grid].tolist()
        curve[f"profit_{name}"] = inputs.economics.profit(values[grid], grid).tolist()
    curve["profit_random"] = inputs.economics.profit(everyone * grid / n, grid).tolist()
    return UpliftSimulation(
        population=n, treated=k, fraction=k / n, **main,
        propensity=block("propensity") if "propensity" in inc_by_k else None,
        everyone={"incremental_conversions": float(everyone),
                  "incremental_profit": float(inputs.economics.profit(everyone, n))},
        best_fraction=best / n, best_profit=float(profit_all[best]), curve=curve,
        outcomes=outcomes)


def simulate_uplift(y: np.ndarray, t: np.ndarray, uplift: np.ndarray, inputs: ScenarioInputs,
                    propensity: np.ndarray | None = None) -> UpliftSimulation:
    """Treat the top share of a randomised sample ranked by predicted uplift.

    Args:
        y: 0/1 outcomes of shape (n,).
        t: 0/1 treatment flags of shape (n,) (randomised).
        uplift: Predicted uplift of shape (n,); higher is treated first.
        inputs: Share treated, costs, value, resampling.
        propensity: Predicted conversion probability if treated, shape (n,), for the
            comparison ranking.

    Returns:
        The :class:`UpliftSimulation`.

    Raises:
        SimulationError: Empty sample, or an arm without customers.
    """
    y = np.asarray(y, dtype=np.float64).ravel()
    t = np.asarray(t, dtype=np.float64).ravel()
    n = y.size
    if n == 0 or t.min() == t.max():
        raise SimulationError("Incremental conversions need treated and control customers with "
                              "observed outcomes (a randomised test split).")
    k = max(1, int(round(inputs.fraction * n)))
    orders = {"uplift": rank_order(np.asarray(uplift, dtype=float))}
    if propensity is not None:
        orders["propensity"] = rank_order(np.asarray(propensity, dtype=float))
    inc = {name: _cumulative(y, t, o) for name, o in orders.items()}
    ci = {}
    if inputs.n_bootstrap:
        ci = {name: percentile_ci(_boot(y, t, o, k, inputs)) for name, o in orders.items()}
    everyone = (y[t == 1].mean() - y[t == 0].mean()) * n
    return _result(n, k, inc, ci, inputs, "observed", everyone)


def simulate_uplift_expected(p_treated: np.ndarray, p_control: np.ndarray, uplift: np.ndarray,
                             inputs: ScenarioInputs) -> UpliftSimulation:
    """Expected incremental conversions on customers whose outcomes are not known yet.

    Args:
        p_treated: Predicted conversion probability if treated, shape (n,).
        p_control: Predicted conversion probability if not treated, shape (n,).
        uplift: Predicted uplift used for the ranking, shape (n,).
        inputs: Share treated, costs, value (``n_bootstrap`` 0 skips the interval).

    Returns:
        The :class:`UpliftSimulation` with ``outcomes="expected"``.
    """
    pt, pc = np.asarray(p_treated, float).ravel(), np.asarray(p_control, float).ravel()
    tau = np.asarray(uplift, float).ravel()
    n = tau.size
    if n == 0:
        raise SimulationError("The population is empty.")
    k = max(1, int(round(inputs.fraction * n)))
    var = pt * (1 - pt) + pc * (1 - pc)
    inc, ci = {}, {}
    for name, order in (("uplift", rank_order(tau)), ("propensity", rank_order(pt))):
        inc[name] = np.r_[0.0, np.cumsum(tau[order])]
        sd = float(np.sqrt(var[order][:k].sum()))
        if inputs.n_bootstrap:
            ci[name] = [float(inc[name][k] - 1.96 * sd), float(inc[name][k] + 1.96 * sd)]
    return _result(n, k, inc, ci, inputs, "expected", float(tau.sum()))


def uplift_segments(p_treated: np.ndarray, p_control: np.ndarray, y: np.ndarray | None = None,
                    t: np.ndarray | None = None, margin: float = 0.01) -> pd.DataFrame:
    """Persuadables, sure things, lost causes and sleeping dogs by predicted outcomes.

    A customer is a *persuadable* when the predicted uplift is at least ``margin``, a *sleeping
    dog* when it is at most −``margin`` (the treatment hurts), and otherwise a *sure thing* when
    the predicted control probability is at least its mean (converts anyway) or a *lost cause*
    (converts neither way). With observed outcomes each segment also shows its treated and
    control conversion rates, so the split can be checked on the randomised sample.

    Args:
        p_treated: Predicted conversion probability if treated, shape (n,).
        p_control: Predicted conversion probability if not treated, shape (n,).
        y: Observed 0/1 outcomes, shape (n,), or None.
        t: Observed 0/1 treatment flags, shape (n,), or None.
        margin: Smallest absolute uplift that counts as an effect.

    Returns:
        One row per segment: ``segment``, ``customers``, ``share``, ``p_treated``,
        ``p_control``, ``uplift`` (means), and with outcomes ``treated_rate``,
        ``control_rate``, ``observed_uplift`` (NaN for an empty arm).
    """
    pt, pc = np.asarray(p_treated, float).ravel(), np.asarray(p_control, float).ravel()
    tau = pt - pc
    label = np.where(tau >= margin, 0, np.where(tau <= -margin, 3,
                                                np.where(pc >= pc.mean(), 1, 2)))
    rows = []
    for code, name in enumerate(SEGMENTS):
        m = label == code
        row = {"segment": name, "customers": int(m.sum()), "share": float(m.mean()),
               "p_treated": _mean(pt[m]), "p_control": _mean(pc[m]), "uplift": _mean(tau[m])}
        if y is not None and t is not None:
            yy, tt = np.asarray(y)[m], np.asarray(t)[m]
            row["treated_rate"] = _mean(yy[tt == 1])
            row["control_rate"] = _mean(yy[tt == 0])
            row["observed_uplift"] = row["treated_rate"] - row["control_rate"]
        rows.append(row)
    return pd.DataFrame(rows)


def _mean(a: np.ndarray) -> float:
    return float(a.mean()) if a.size else float("nan")
