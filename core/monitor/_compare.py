"""Champion against challenger on the same labelled rows, with paired bootstrap intervals.

Both runs score every labelled row of a table. Each bootstrap resample draws the rows once
(multinomial weights) and computes the metric for both runs on that same resample, so the
interval of the difference keeps the pairing: the runs' errors on the same customers are
correlated, and an unpaired comparison would overstate the uncertainty (Efron & Tibshirani,
1993, ch. 10; for ROC-AUC the paired bootstrap is the standard alternative to DeLong's test).
Metrics at each run's own threshold; profit is the newest saved Impact scenario (of the first
run, else the second) applied to each run's ranking.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np

from core.config import Settings
from core.errors import MonitorError, SchemaError
from core.monitor._cbpe import METRICS, metrics_from
from core.monitor._meta import run_meta
from core.monitor._registry import comparable
from core.monitor._scoring import label_vector, run_output
from core.monitor._store import save_comparison
from core.monitor._value import latest_scenario, priced
from core.warehouse import connect, original_names, quote_ident, require_table, table_columns

N_BOOT = 1000
BLOCK_CELLS = 2_000_000  # weights drawn at once (resamples × rows)


def _scores(settings: Settings, run_a, run_b, table: str, target: str, positive: str):
    """Labels and both runs' scores of the labelled rows, scored in batches."""
    with connect(settings) as con:
        require_table(con, table)
        names = {**original_names(con, table)}
        cols = {c for c, _ in table_columns(con, table)}
        need = list(dict.fromkeys([*run_a.features, *run_b.features]))
        missing = [c for c in need if c not in cols]
        if missing or target not in cols:
            what = ", ".join(names.get(c, c) for c in missing) + (
                f"{', ' if missing else ''}the target '{target}'" if target not in cols else "")
            raise SchemaError(f"Table '{table}' lacks {what}; comparing runs needs their "
                              f"features and observed outcomes on the same rows.")
        res = con.execute(f"SELECT {', '.join(quote_ident(c) for c in [*need, target])} FROM "
                          f"{quote_ident(table)} WHERE {quote_ident(target)} IS NOT NULL")
        ys, sa, sb = [], [], []
        while True:
            batch = res.fetch_df_chunk(50)
            if batch is None or not len(batch):
                break
            ys.append(label_vector(batch[target], positive))
            sa.append(run_output(run_a, batch[run_a.features]))
            sb.append(run_output(run_b, batch[run_b.features]))
    if not ys:
        raise SchemaError(f"Table '{table}' has no row with a known '{target}'; comparing needs "
                          f"observed outcomes.")
    return np.concatenate(ys), np.concatenate(sa), np.concatenate(sb)


class _Ranked:
    """One run's rows grouped by distinct score, increasing, for weighted metrics."""

    def __init__(self, scores: np.ndarray, y: np.ndarray, threshold: float) -> None:
        self.order = np.argsort(scores, kind="mergesort")
        s = scores[self.order]
        self.starts = np.r_[0, np.flatnonzero(np.diff(s)) + 1]
        self.values = s[self.starts]
        self.t_cell = int(np.searchsorted(self.values, threshold, side="left"))
        self.y = y[self.order]

    def cells(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weighted positives and negatives per score group, shape (b, groups)."""
        ws = w[:, self.order]
        return (np.add.reduceat(ws * self.y, self.starts, axis=1),
                np.add.reduceat(ws * (1 - self.y), self.starts, axis=1))

    def metrics(self, w: np.ndarray) -> dict[str, np.ndarray]:
        """Metrics at the run's threshold for each weight row, each of shape (b,)."""
        return metrics_from(*self.cells(w), self.t_cell)

    def profit(self, w: np.ndarray, inputs) -> np.ndarray:
        """The scenario's profit for each weight row, shape (b,)."""
        pos, neg = self.cells(w)
        n = pos + neg
        out = np.empty(len(w))
        above_cell = int(np.searchsorted(self.values, float(inputs.decision.value)))
        for i in range(len(w)):
            above = n[i, above_cell:].sum() if inputs.decision.rule == "threshold" else None
            out[i] = priced(inputs, n[i, ::-1], pos[i, ::-1], above)["profit"]
        return out


def _ci(values: np.ndarray) -> list[float] | None:
    v = values[np.isfinite(values)]
    return [float(x) for x in np.percentile(v, [2.5, 97.5])] if v.size >= 10 else None


def _paired(ra: _Ranked, rb: _Ranked, n: int, n_boot: int, seed: int, inputs) -> dict:
    keys = [*METRICS, *(("profit",) if inputs is not None else ())]
    draws = {k: [] for k in keys}
    rng = np.random.default_rng(seed)
    block = max(1, min(n_boot, BLOCK_CELLS // n))
    for start in range(0, n_boot, block):
        w = rng.multinomial(n, np.full(n, 1.0 / n), size=min(block, n_boot - start)).astype(float)
        ma, mb = ra.metrics(w), rb.metrics(w)
        for k in METRICS:
            draws[k].append(mb[k] - ma[k])
        if inputs is not None:
            draws["profit"].append(rb.profit(w, inputs) - ra.profit(w, inputs))
    return {k: _ci(np.concatenate(v)) for k, v in draws.items()}


def _num(v) -> float | None:
    v = float(v)
    return v if np.isfinite(v) else None


def compare_runs_on(settings: Settings, run_a, run_b, table: str, n_boot: int = N_BOOT,
                    seed: int = 0, save: bool = True) -> dict:
    """Compare two binary runs on the labelled rows of ``table``.

    Args:
        settings: Workspace settings.
        run_a: The champion (or first run).
        run_b: The challenger.
        table: A table with both runs' features and the target.
        n_boot: Paired bootstrap resamples.
        seed: Seed of the resampling.
        save: Store the comparison in ``liftlab.comparisons`` (promotion evidence).

    Returns:
        ``{"run_a", "run_b", "table", "rows", "positives", "metrics": {metric: {"a", "b",
        "diff", "ci95"}}, "profit": {"scenario", "decision", "a", "b", "diff", "ci95"} |
        {"note"}, "warnings", "comparison_id"}``; diff = b − a; a warning when a run was
        trained on ``table``.

    Raises:
        MonitorError: The runs differ in task, target or positive class, or are not binary.
        SchemaError: The table lacks a feature or the target, or has no labelled row.
    """
    a, b = run_meta(run_a), run_meta(run_b)
    reason = comparable(a, b)
    if reason:
        raise MonitorError(f"These runs cannot be compared: {reason}. Compare runs that "
                           f"predict the same outcome.")
    if a.task != "binary":
        raise MonitorError(f"Comparing on new rows is available for binary runs; these are "
                           f"{a.task}.")
    y, sa, sb = _scores(settings, run_a, run_b, table, a.target, a.positive_class)
    n = y.size
    ra, rb = _Ranked(sa, y, a.threshold), _Ranked(sb, y, b.threshold)
    ones = np.ones((1, n))
    pa, pb = ra.metrics(ones), rb.metrics(ones)
    scenario = latest_scenario(settings, a.run_id) or latest_scenario(settings, b.run_id)
    inputs = scenario["inputs"] if scenario and not scenario["inputs"].economics.value_column \
        else None
    ci = _paired(ra, rb, n, n_boot, seed, inputs) if n_boot else {}
    metrics = {k: {"a": _num(pa[k][0]), "b": _num(pb[k][0]),
                   "diff": _num(pb[k][0] - pa[k][0]), "ci95": ci.get(k)} for k in METRICS}
    profit = _profit_entry(scenario, inputs, ra, rb, ones, ci)
    warnings = [f"Run {m.run_id} was trained on '{table}': its numbers here are optimistic. "
                f"Compare on rows neither run was trained on." for m in (a, b) if m.table == table]
    result = {"run_a": a.run_id, "run_b": b.run_id, "table": table, "rows": int(n),
              "positives": int(y.sum()), "metrics": metrics, "profit": profit,
              "warnings": warnings,
              "created_at": datetime.now().isoformat(timespec="seconds"),
              "note": "diff = b − a; 95% intervals from a paired bootstrap over rows."}
    if save:
        with connect(settings) as con:
            save_comparison(con, result)
    return result


def _profit_entry(scenario, inputs, ra, rb, ones, ci) -> dict:
    if scenario is None:
        return {"scenario": None, "note": "Neither run has a saved Impact scenario; save one on "
                                          "the Impact page to compare profit."}
    if inputs is None:
        return {"scenario": scenario["name"], "note": "The scenario values customers by a "
                                                      "column; profit is not compared."}
    a, b = float(ra.profit(ones, inputs)[0]), float(rb.profit(ones, inputs)[0])
    return {"scenario": scenario["name"], "decision": inputs.decision.label(), "a": a, "b": b,
            "diff": b - a, "ci95": ci.get("profit")}
