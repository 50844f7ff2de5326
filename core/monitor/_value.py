"""The run's saved Impact scenario on each chunk: expected and realised conversions and profit.

The scenario's decision (top share, top N, a score threshold or a budget) picks the best-scored
rows of the chunk; conversions are the calibrated probabilities summed over them (expected, the
CBPE view) or the observed positives among the labelled rows (realised). Money is priced as the
Impact page prices it (``core.impact``): revenue = conversions × value, cost = contacts × contact
cost + fixed cost; or, with a payoff matrix, each confusion cell × its payoff, less the fixed
cost. A boundary that falls inside a cell of tied scores takes the cell pro rata.
"""

from __future__ import annotations

import numpy as np

from core.monitor._cbpe import _top
from core.monitor._cells import Cells


def latest_scenario(settings, run_id: str) -> dict | None:
    """The newest Impact scenario saved for the run, or None.

    Returns:
        ``{"name", "inputs"}`` with a :class:`core.impact.ScenarioInputs`.
    """
    from core.impact import list_scenarios

    for sc in list_scenarios(settings):
        if sc["run_id"] == run_id:
            return {"name": sc["name"], "inputs": sc["inputs"]}
    return None


def scenario_threshold(scenario: dict | None) -> tuple[float, ...]:
    """The scenario's score threshold as an extra support point (empty for other rules)."""
    if scenario and scenario["inputs"].decision.rule == "threshold":
        return (float(scenario["inputs"].decision.value),)
    return ()


def _targeted(inputs, cells: Cells, n_desc: np.ndarray) -> float:
    d, econ = inputs.decision, inputs.economics
    n = float(n_desc.sum())
    if d.rule == "fraction":
        return float(max(1, int(round(d.value * n))))
    if d.rule == "top_n":
        return float(min(n, int(d.value)))
    if d.rule == "threshold":
        tc = cells.threshold_cell(float(d.value))
        return float(n_desc[: n_desc.size - tc].sum())
    if econ.payoff is not None or econ.contact_cost == 0:
        return n
    return float(max(0, min(n, (d.value - econ.fixed_cost) // econ.contact_cost)))


def _money(econ, k: float, conv: float, positives: float, n: float) -> tuple[float, float]:
    if econ.payoff is None:
        revenue = conv * econ.conversion_value
        return revenue, revenue - (k * econ.contact_cost + econ.fixed_cost)
    tp, fp = conv, k - conv
    fn = positives - conv
    tn = n - k - fn
    total = sum(c * pay for c, pay in zip((tp, fp, tn, fn), econ.payoff))
    revenue = sum(c * pay for c, pay in zip((tp, fp, tn, fn), econ.payoff) if pay > 0)
    return float(revenue), float(total - econ.fixed_cost)


def scenario_value(scenario: dict | None, cells: Cells, realised: bool) -> dict | None:
    """Conversions and profit of the saved scenario on a chunk.

    Args:
        scenario: From :func:`latest_scenario`, or None.
        cells: The chunk's cells.
        realised: Count observed positives among labelled rows; else expected from the
            calibrated probabilities over all rows.

    Returns:
        ``{"scenario", "decision", "targeted", "conversions", "revenue", "profit"}``, with
        ``note`` instead of numbers when the scenario uses a per-customer value column; None
        without a scenario (or, realised, without labelled rows).
    """
    if scenario is None:
        return None
    inputs = scenario["inputs"]
    base = {"scenario": scenario["name"], "decision": inputs.decision.label()}
    if inputs.economics.value_column:
        return {**base, "note": f"The scenario values each customer by the column "
                                f"'{inputs.economics.value_column}'; monitoring prices fixed "
                                f"values only."}
    if realised:
        pos, n = cells.pos, cells.pos + cells.neg
        if not n.sum():
            return None
    else:
        pos, n = cells.sum_p, cells.n
    n_desc, pos_desc = n[::-1], pos[::-1]
    k = _targeted(inputs, cells, n_desc)
    conv = _top(n_desc, pos_desc, k) if k else 0.0
    revenue, profit = _money(inputs.economics, k, conv, float(pos.sum()), float(n.sum()))
    return {**base, "targeted": int(round(k)), "conversions": conv, "revenue": revenue,
            "profit": profit}
