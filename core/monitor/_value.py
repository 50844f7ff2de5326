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

from core.impact import list_scenarios
from core.monitor._cbpe import _top
from core.monitor._cells import Cells


def latest_scenario(settings, run_id: str) -> dict | None:
    """The newest Impact scenario saved for the run, or None.

    Returns:
        ``{"name", "inputs"}`` with a :class:`core.impact.ScenarioInputs`.
    """

    for sc in list_scenarios(settings):
        if sc["run_id"] == run_id:
            return {"name": sc["name"], "inputs": sc["inputs"]}
    return None


def scenario_threshold(scenario: dict | None) -> tuple[float, ...]:
    """The scenario's score threshold as an extra support point (empty for other rules)."""
    if scenario and scenario["inputs"].decision.rule == "threshold":
        return (float(scenario["inputs"].decision.value),)
    return ()


def targeted(inputs, n_desc: np.ndarray, above_threshold: float | None = None) -> float:
    """How many rows the scenario's decision contacts (as ``core.impact.targeted_count``).

    Args:
        inputs: The scenario's :class:`core.impact.ScenarioInputs`.
        n_desc: Rows per score cell, best scores first, shape (k,).
        above_threshold: Rows scoring at least the decision's threshold (threshold rule).
    """
    d, econ = inputs.decision, inputs.economics
    n = float(n_desc.sum())
    if d.rule == "fraction":
        return float(max(1, round(d.value * n)))
    if d.rule == "top_n":
        return float(min(n, int(d.value)))
    if d.rule == "threshold":
        return float(above_threshold or 0.0)
    if econ.payoff is not None or econ.contact_cost == 0:
        return n
    return float(max(0, min(n, (d.value - econ.fixed_cost) // econ.contact_cost)))


def _money(econ, k: float, conv: float, positives: float, n: float) -> tuple[float, float]:
    if econ.payoff is None:
        revenue = conv * econ.conversion_value
        return revenue, revenue - (k * econ.contact_cost + econ.fixed_cost)
    cells = (conv, k - conv, n - k - (positives - conv), positives - conv)  # tp, fp, tn, fn
    total = sum(c * pay for c, pay in zip(cells, econ.payoff))
    revenue = sum(c * pay for c, pay in zip(cells, econ.payoff) if pay > 0)
    return float(revenue), float(total - econ.fixed_cost)


def priced(inputs, n_desc: np.ndarray, pos_desc: np.ndarray,
           above_threshold: float | None = None) -> dict:
    """Contacts, conversions, revenue and profit of the scenario on one population.

    Args:
        inputs: The scenario's inputs.
        n_desc: Rows per score cell, best first, shape (k,).
        pos_desc: Positives (or summed probabilities) per cell, same shape.
        above_threshold: Rows scoring at least the decision's threshold (threshold rule).

    Returns:
        ``{"targeted", "conversions", "revenue", "profit"}``.
    """
    k = targeted(inputs, n_desc, above_threshold)
    conv = _top(n_desc, pos_desc, k) if k else 0.0
    revenue, profit = _money(inputs.economics, k, conv, float(pos_desc.sum()),
                             float(n_desc.sum()))
    return {"targeted": k, "conversions": conv, "revenue": revenue, "profit": profit}


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
    above = None
    if inputs.decision.rule == "threshold":
        above = float(n[cells.threshold_cell(float(inputs.decision.value)):].sum())
    out = priced(inputs, n[::-1], pos[::-1], above)
    return {**base, **out, "targeted": round(out["targeted"])}
