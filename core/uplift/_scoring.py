"""Use a saved uplift run: predict both probabilities and the uplift, score tables, populations.

An uplift run (see :mod:`core.uplift`) predicts, for each customer, the probability of
converting if treated, if not treated, and their difference (the uplift; the class-transformation
learner's own estimate for ``ct`` runs).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from core.config import Settings
from core.errors import SchemaError, SimulationError
from core.features import TabularPreprocessor, label_text
from core.impact import Decision, ScenarioInputs, simulate_scenario, targeted_count
from core.runs import LABEL_COL, SCORE_COL, Run, load_model, predict_output
from core.uplift._simulate import simulate_uplift, simulate_uplift_expected
from core.uplift._training import P_CONTROL_COL, TREATMENT_COL, UPLIFT_COL
from core.warehouse import connect, read_table, write_frame_output


def is_uplift(run: Run) -> bool:
    """Whether a run is an uplift run."""
    return run.config.kind == "uplift"


class _Arm:
    """A model saved beside an uplift run's main one (``arms/<name>/``): its features,
    preprocessor and model, loaded lazily as a :class:`~core.runs.Run`'s are."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.features = list(json.loads((folder / "config.json").read_text())["features"])

    @cached_property
    def preprocessor(self) -> TabularPreprocessor:
        return TabularPreprocessor.from_json((self.folder / "preprocessor.json").read_text())

    @cached_property
    def model(self):
        return load_model(self.folder)


def _arm(run: Run, name: str) -> _Arm:
    return _Arm(run.folder / "arms" / name)


def _proba(run: Run | _Arm, rows: pd.DataFrame) -> np.ndarray:
    """Positive-class probability of one saved model (the run's own task is "uplift")."""
    x = run.preprocessor.transform(rows[run.features])
    return predict_output(run.model, x, "binary")


def predict_uplift(run: Run, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Predicted conversion probability if treated, if not, and the uplift, for raw rows.

    Args:
        run: An uplift run.
        frame: Rows with the run's source features, shape (n_rows, n_columns).

    Returns:
        ``(p_treated, p_control, uplift)``, each of shape (n_rows,).

    Raises:
        SchemaError: A feature is missing.
    """
    up = run.config.uplift
    features = list(run.config.source_features)
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise SchemaError(f"The data lacks feature column(s) the run was trained on: "
                          f"{', '.join(missing)}.")
    rows = frame[features]
    if up.learner == "s":
        p_t, p_c = (_proba(run, rows.assign(**{up.treatment: arm})) for arm in (1, 0))
        return p_t, p_c, p_t - p_c
    p_t, p_c = _proba(run, rows), _proba(_arm(run, "control"), rows)
    uplift = 2.0 * _proba(_arm(run, "ct"), rows) - 1.0 if up.learner == "ct" else p_t - p_c
    return p_t, p_c, uplift


def score_uplift_table(settings: Settings, run: Run, table: str, out: str | None = None) -> dict:
    """Write ``<out>`` = the table plus ``p_treated``, ``p_control`` and ``uplift`` columns.

    ``out`` must already be checked (:func:`core.warehouse.claim_output`; the command line and
    :func:`core.app.score_table` do).

    Returns:
        ``{"table": out, "rows": n}``.

    Raises:
        SchemaError: The table lacks a feature of the run.
    """
    out = out or f"{table}_scored"
    with connect(settings) as con:
        frame = read_table(con, table)
    p_t, p_c, uplift = predict_uplift(run, frame)
    scored = frame.assign(p_treated=p_t, p_control=p_c, uplift=uplift)
    with connect(settings) as con:
        rows = write_frame_output(con, out, scored, table, f"uplift-scored by run {run.run_id}")
    return {"table": out, "rows": rows}


@dataclass(frozen=True)
class UpliftPopulation:
    """Customers an uplift scenario is simulated on.

    Attributes:
        source: ``"test split"`` or a table name.
        frame: Raw columns, shape (n, n_columns).
        y: Observed 0/1 outcomes (n,), or None when unknown.
        t: Observed 0/1 treatment flags (n,), or None when unknown.
        p_treated: Predicted conversion probability if treated (n,).
        p_control: Predicted conversion probability if not treated (n,).
        uplift: Predicted uplift (n,).
    """

    source: str
    frame: pd.DataFrame
    y: np.ndarray | None
    t: np.ndarray | None
    p_treated: np.ndarray
    p_control: np.ndarray
    uplift: np.ndarray

    @property
    def observed(self) -> bool:
        """Outcomes and treatment flags are known (a randomised sample)."""
        return self.y is not None and self.t is not None


def uplift_population(settings: Settings, run: Run, table: str | None = None) -> UpliftPopulation:
    """The run's test split, or a table with the run's features.

    A table with the target and the treatment column (a new randomised campaign) is measured
    on its outcomes; otherwise outcomes are expected from the predictions.

    Raises:
        SchemaError: The table lacks a feature of the run.
    """
    if table is None:
        t = run.test_frame
        frame = t.drop(columns=[c for c in t.columns if c.startswith("__")])
        return UpliftPopulation("test split", frame, t[LABEL_COL].to_numpy(),
                                t[TREATMENT_COL].to_numpy(), t[SCORE_COL].to_numpy(float),
                                t[P_CONTROL_COL].to_numpy(float), t[UPLIFT_COL].to_numpy(float))
    with connect(settings) as con:
        frame = read_table(con, table)
    up, target = run.config.uplift, run.config.target
    y = t = None
    if {target, up.treatment} <= set(frame.columns):
        known = frame[target].notna() & frame[up.treatment].notna()
        if known.any():
            frame = frame[known].reset_index(drop=True)
            y = (frame[target].map(label_text) == run.config.positive_class).to_numpy(np.int64)
            t = (frame[up.treatment].map(label_text) == up.treated_value).to_numpy(np.int64)
    p_t, p_c, uplift = predict_uplift(run, frame)
    return UpliftPopulation(table, frame, y, t, p_t, p_c, uplift)


def simulate_uplift_run(settings: Settings, run: Run, table: str | None,
                        inputs: ScenarioInputs) -> tuple[UpliftPopulation, dict]:
    """Load an uplift run's population and simulate (see :func:`simulate_uplift_population`).

    Returns:
        ``(population, summary)``.
    """
    pop = uplift_population(settings, run, table)
    return pop, simulate_uplift_population(pop, inputs)


def simulate_uplift_population(pop: UpliftPopulation, inputs: ScenarioInputs) -> dict:
    """Simulate treating the top of an uplift ranking; JSON-ready summary.

    The decision picks how many customers are treated (ranked by predicted uplift). The
    standard targeting numbers (``conversions_model``, ``conversion_lift``, ``profit_model``…)
    are measured on the treated customers, the only ones whose outcome under contact is
    observed (or expected from ``p_treated`` without outcomes); the incremental numbers compare
    treated and control customers (see :mod:`core.uplift`).

    Args:
        pop: From :func:`uplift_population`.
        inputs: Decision and cost/value economics (no payoff matrix, value column or policy).

    Returns:
        The summary: it holds the standard keys plus
        ``incremental_conversions``, ``incremental_conversions_ci95``, ``incremental_profit``,
        ``incremental_profit_ci95``, ``propensity``, ``everyone`` and ``uplift`` (the full
        :class:`~core.uplift.UpliftSimulation` summary with its ``curve``).

    Raises:
        SimulationError: Unsupported economics or an invalid decision.
    """
    econ = inputs.economics
    if econ.payoff is not None or econ.value_column or inputs.policy:
        raise SimulationError("Uplift scenarios price incremental conversions with a contact "
                              "cost, a value per conversion and a fixed cost; payoff matrices, "
                              "value columns and policy rules apply to propensity runs.")
    k = targeted_count(inputs.decision, np.sort(pop.uplift)[::-1], econ)
    frac = k / pop.uplift.size
    share = dataclasses.replace(inputs, decision=Decision("fraction", frac))
    if pop.observed:
        sim = simulate_uplift(pop.y, pop.t, pop.uplift, share, propensity=pop.p_treated)
        arm = pop.t == 1
        std = _to_population(simulate_scenario(pop.y[arm], pop.uplift[arm], share).summary(),
                             k, pop.uplift.size, econ)
    else:
        sim = simulate_uplift_expected(pop.p_treated, pop.p_control, pop.uplift, share)
        std = simulate_scenario(pop.p_treated, pop.uplift, share, expected=True).summary()
    s = sim.summary()
    keys = ("incremental_conversions", "incremental_conversions_ci95", "incremental_profit",
            "incremental_profit_ci95", "propensity", "everyone")
    return {**std, **{k: s[k] for k in keys}, "uplift": {**s, "curve": sim.curve}}


def _to_population(arm: dict, k: int, n: int, econ) -> dict:
    """Scale treated-arm targeting numbers to ``k`` customers treated out of ``n``.

    Rates, lift and shares carry over; counts scale by ``k`` ÷ the arm's targeted count, and
    money is recomputed for ``k`` contacts (cost and value economics, so profit is linear in
    conversions).
    """
    g = k / arm["targeted"]
    conv = arm["conversions_model"] * g

    def profit(c):
        return c * econ.conversion_value - k * econ.contact_cost - econ.fixed_cost

    ci = dict(arm["ci95"])
    if "conversions_model" in ci:
        ci["conversions_model"] = [v * g for v in ci["conversions_model"]]
        ci["profit_model"] = [profit(v) for v in ci["conversions_model"]]
        ci["revenue_model"] = [v * econ.conversion_value for v in ci["conversions_model"]]
        ci["profit_vs_random"] = [v * g for v in ci["profit_vs_random"]]
    cost = k * econ.contact_cost + econ.fixed_cost
    return {**arm, "population": n, "targeted": k, "conversions_model": conv,
            "conversions_random": arm["conversions_random"] * g, "profit_model": profit(conv),
            "profit_random": profit(arm["conversions_random"] * g), "revenue_model":
            conv * econ.conversion_value, "cost_model": cost,
            "roi_model": profit(conv) / cost if cost else None, "ci95": ci,
            "best_targeted": round(arm["best_fraction"] * n), "basis": "treated arm"}
