"""Scenario plumbing: the population, the current-policy rule, saved scenarios, the targeted list.

- A population is the run's test split or any table the run can score; without the target
  column its outcomes are expected from the scores.
- The current policy is an SQL boolean expression over the population's columns, evaluated in
  a sandbox (:mod:`core.warehouse`). A mistake in it (syntax, an unknown column) is a
  :class:`~core.warehouse.PolicyRuleError` that names the columns; reading anything else
  stays a refusal.
- Scenarios are saved by name in ``liftlab.scenarios`` with every input, so they survive restarts
  and can be re-run, listed and compared.
- The targeted list holds ranks, ids and scores; columns marked as personal data are replaced by
  keyed pseudonyms (:mod:`core.tables`) before it is downloaded or written to a table.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from core.config import Settings
from core.errors import SchemaError, SimulationError
from core.features import label_text
from core.impact._simulate import ImpactResult, ScenarioInputs, simulate_scenario
from core.runs import LABEL_COL, SCORE_COL, Run
from core.tables import hmac_pads, load_marks, personal_key, pseudonym_sql
from core.warehouse import (
    META_SCHEMA,
    claim_output,
    connect,
    original_names,
    policy_rule_mask,
    quote_ident,
    read_table,
    sandbox_connection,
    write_frame_output,
)

SCENARIOS_DDL = f"""
CREATE TABLE IF NOT EXISTS {META_SCHEMA}.scenarios (
    name VARCHAR PRIMARY KEY, run_id VARCHAR, population VARCHAR, created_at TIMESTAMP,
    inputs_json VARCHAR, summary_json VARCHAR, curve_json VARCHAR);
"""


@dataclass(frozen=True)
class Population:
    """The customers a scenario is simulated on.

    Attributes:
        source: ``"test split"`` or the table's name.
        table: The warehouse table the rows come from (for personal-data marks).
        frame: Raw columns of shape (n_customers, n_columns), for the policy rule, the value
            column and the targeted list.
        y: Observed 0/1 outcomes of shape (n_customers,), or None when unknown.
        scores: The run's scores of shape (n_customers,).
        notes: Plain-language remarks about the population.
        warnings: Reasons to distrust its numbers, e.g. rows the run was trained on.
        original_names: Clean (SQL) column name → the header of the analyst's file.
    """

    source: str
    table: str
    frame: pd.DataFrame
    y: np.ndarray | None
    scores: np.ndarray
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    original_names: dict = field(default_factory=dict)

    @property
    def expected(self) -> bool:
        """True when outcomes are unknown and come from the scores."""
        return self.y is None

    def outcomes(self) -> np.ndarray:
        """Observed outcomes, or the scores as conversion probabilities."""
        return self.scores if self.y is None else self.y


def load_population(settings: Settings, run: Run, table: str | None = None) -> Population:
    """The run's test split, or a table scored by the run.

    Args:
        settings: Workspace settings.
        run: A binary run.
        table: A table with the run's features (target optional); None for the test split.

    Returns:
        The :class:`Population`.

    Raises:
        SimulationError: The run does not predict a yes/no outcome.
        SchemaError: The table does not exist or lacks a feature of the run.
    """
    c = run.config
    if c.task != "binary":
        raise SimulationError(f"Targeting scenarios need a binary run (convert or not); run "
                              f"{run.run_id} is {c.task}. Pick a binary run.")
    if table is None:
        t = run.test_frame
        frame = t.drop(columns=[c for c in t.columns if c.startswith("__")])
        with connect(settings) as con:
            names = original_names(con, c.table)
        return Population("test split", c.table, frame, t[LABEL_COL].to_numpy(),
                          t[SCORE_COL].to_numpy(dtype=float), original_names=names)
    with connect(settings) as con:
        frame = read_table(con, table)
        names = original_names(con, table)
    missing = [c for c in run.features if c not in frame.columns]
    if missing:
        raise SchemaError(f"Table '{table}' lacks feature column(s) the run was trained on: "
                          f"{', '.join(missing)}. Pick a table with the same columns.")
    target, notes = c.target, []
    if target in frame.columns and frame[target].notna().any():
        frame = frame[frame[target].notna()].reset_index(drop=True)
        y = (frame[target].map(label_text) == c.positive_class).to_numpy(np.int64)
    else:
        y = None
        if c.class_weight == "balanced":
            notes.append("This run was trained with balanced class weights, so its scores "
                         "overstate probabilities: expected conversions will be too high.")
    warnings = (_trained_on(run, table, len(frame)),) if table == c.table else ()
    return Population(table, table, frame, y, run.predict(frame), tuple(notes), warnings, names)


def _trained_on(run: Run, table: str, n: int) -> str:
    rows = run.config.rows
    fitted = int(rows.get("train", 0)) + int(rows.get("valid", 0))
    used = (f"{fitted:,} of its {int(rows.get('table', n)):,} rows were" if fitted else
            "most of its rows were")
    return (f"'{table}' is the table run {run.run_id} was trained on: {used} used to fit and "
            f"tune the model, so the scores, lift and profit shown here are optimistic. For an "
            f"honest estimate use the run's test split, or a table of customers the run has "
            f"not seen.")


def describe_population(run: Run, pop: Population) -> str:
    """The population in words, e.g. "the run's test split: 8,238 rows of 'bank' held out …".

    Args:
        run: The run that scored it.
        pop: From :func:`load_population`.

    Returns:
        One phrase without a final full stop.
    """
    n = len(pop.frame)
    if pop.source == "test split":
        share = float(run.config.spec_fields.get("test_size") or 0)
        part = f" ({share:.0%} of it)" if share else ""
        return (f"the run's test split: {n:,} rows of '{pop.table}'{part} held out from "
                f"training, numbered 0–{n - 1:,} as on the Explain page")
    outcome = "expected from the scores" if pop.expected else "observed"
    return f"table '{pop.table}': {n:,} customers scored by the run, outcomes {outcome}"


def id_columns(frame: pd.DataFrame) -> list[str]:
    """Columns that identify a customer: named like an id and without repeats or gaps.

    Args:
        frame: The population's columns.

    Returns:
        Candidate names, best first (e.g. ``["customer_id"]``); empty when none fits.
    """
    named = [c for c in frame.columns
             if re.search(r"(^|[_\s.])(id|key|uuid|number|no|nr)$|^id[_\s.]|"
                          r"^(customer|client|account)$", str(c), re.IGNORECASE)]
    unique = [c for c in named if frame[c].notna().all() and frame[c].is_unique]
    return sorted(unique, key=lambda c: (not str(c).lower().endswith("id"), str(c)))


def _values(pop: Population, column: str) -> np.ndarray:
    if column not in pop.frame.columns:
        raise SchemaError(f"The population has no column '{column}' for per-customer values; "
                          f"its columns are: {', '.join(map(str, pop.frame.columns))}.")
    values = pd.to_numeric(pop.frame[column], errors="coerce").to_numpy(np.float64)
    if not np.isfinite(values).any():
        raise SchemaError(f"Column '{column}' has no numbers; choose a numeric value column.")
    return values


def simulate_population(pop: Population, inputs: ScenarioInputs) -> ImpactResult:
    """Evaluate the policy rule and simulate a scenario on a loaded population.

    Args:
        pop: From :func:`load_population`.
        inputs: The scenario's inputs.

    Returns:
        The result; the population's notes are added to its notes.

    Raises:
        SimulationError: An invalid scenario.
        SchemaError: A missing value column.
        PolicyRuleError: The policy rule has a mistake.
        QueryError: The policy rule is refused.
    """
    econ = inputs.economics
    values = _values(pop, econ.value_column) if econ.value_column else None
    mask = (policy_rule_mask(pop.frame, inputs.policy, pop.original_names) if inputs.policy
            else None)
    result = simulate_scenario(pop.outcomes(), pop.scores, inputs, values, mask, pop.expected)
    return dataclasses.replace(result, notes=result.notes + pop.warnings + pop.notes)


def run_scenario(settings: Settings, run: Run, table: str | None,
                 inputs: ScenarioInputs) -> tuple[Population, ImpactResult]:
    """Load the population (the run's test split, or ``table``) and simulate the scenario.

    Returns:
        ``(population, result)``.

    Raises:
        SimulationError: The run is not binary, or the scenario is invalid.
        SchemaError: A missing table or column.
        QueryError: The policy rule is refused.
    """
    pop = load_population(settings, run, table)
    return pop, simulate_population(pop, inputs)


def _store(con) -> None:
    con.execute(SCENARIOS_DDL)


def save_scenario(settings: Settings, name: str, run_id: str, population: str | None,
                  inputs: ScenarioInputs, result: ImpactResult) -> None:
    """Save (or replace) a scenario by name with all its inputs and headline numbers.

    Args:
        settings: Workspace settings.
        name: The scenario's name (1–80 characters).
        run_id: The run that scores.
        population: The scored table, or None for the run's test split.
        inputs: Every input of the scenario.
        result: Its simulation (headline numbers and profit curve are stored).

    Raises:
        SimulationError: Empty or too long name.
    """
    name = (name or "").strip()
    if not 1 <= len(name) <= 80:
        raise SimulationError("Give the scenario a name of 1 to 80 characters.")
    curve = {k: result.curve[k] for k in ("fraction", "profit_model", "profit_random")}
    with connect(settings) as con:
        _store(con)
        con.execute(f"INSERT OR REPLACE INTO {META_SCHEMA}.scenarios VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [name, run_id, population, datetime.now(), json.dumps(inputs.to_dict()),
                     json.dumps(result.summary(), default=float), json.dumps(curve)])


def list_scenarios(settings: Settings) -> list[dict]:
    """Saved scenarios, newest first: name, run_id, population, created_at, inputs, summary,
    curve (``fraction``, ``profit_model``, ``profit_random``)."""
    with connect(settings) as con:
        _store(con)
        rows = con.execute(f"SELECT name, run_id, population, created_at, inputs_json, "
                           f"summary_json, curve_json FROM {META_SCHEMA}.scenarios "
                           f"ORDER BY created_at DESC").fetchall()
    return [{"name": r[0], "run_id": r[1], "population": r[2], "created_at": r[3],
             "inputs": ScenarioInputs.from_dict(json.loads(r[4])), "summary": json.loads(r[5]),
             "curve": json.loads(r[6])} for r in rows]


def delete_scenario(settings: Settings, name: str) -> None:
    """Delete a saved scenario (no error when it does not exist)."""
    with connect(settings) as con:
        _store(con)
        con.execute(f"DELETE FROM {META_SCHEMA}.scenarios WHERE name = ?", [name])


def compare_scenarios(scenarios: list[dict]) -> pd.DataFrame:
    """Side-by-side table of saved scenarios (from :func:`list_scenarios`).

    Returns:
        One row per scenario: name, run, population, decision, economics, policy, targeted,
        conversions, conversion rate, lift, profit, profit 95% CI, ROI, best share.
    """
    rows = []
    for sc in scenarios:
        s, inp = sc["summary"], sc["inputs"]
        ci = (s.get("ci95") or {}).get("profit_model")
        rows.append({
            "scenario": sc["name"], "run": sc["run_id"], "population": sc["population"] or
            "test split", "decision": s.get("decision"), "economics": inp.economics.label(),
            "policy": inp.policy or "", "targeted": s["targeted"],
            "conversions": s["conversions_model"], "conversion rate": s["conversion_rate_model"],
            "lift": s["conversion_lift"], "profit": s["profit_model"],
            "profit 95% CI": f"{ci[0]:,.0f} – {ci[1]:,.0f}" if ci else "",
            "ROI": s.get("roi_model"), "best share": s["best_fraction"]})
    return pd.DataFrame(rows)


def targeted_list(settings: Settings, population: Population, result: ImpactResult,
                  id_column: str | None = None, extra: tuple[str, ...] = ()) -> pd.DataFrame:
    """The customers a scenario contacts, best first, ready to hand over.

    Columns marked as personal data for the population's table (``core.tables``) are replaced
    by their keyed pseudonyms, the same ones a protected copy of the table holds (columns
    marked "drop" are left out).

    Args:
        settings: Workspace settings (for the marks and the pseudonymisation key).
        population: The simulated population.
        result: The simulated scenario (its ``targeted`` count is used).
        id_column: Column identifying a customer; None numbers rows of the population.
        extra: More columns to include.

    Returns:
        A DataFrame of shape (targeted, 3 + len(extra)): ``rank``, the id (without one:
        ``test_row`` for the test split, ``row`` for a table, numbered from 0), ``score`` and
        ``extra``.

    Raises:
        SchemaError: An unknown column.
    """
    cols = [c for c in (id_column, *extra) if c]
    unknown = [c for c in cols if c not in population.frame.columns]
    if unknown:
        raise SchemaError(f"The population has no column(s) {', '.join(unknown)}.")
    order = np.argsort(-population.scores, kind="mergesort")[: result.targeted]
    out = pd.DataFrame({"rank": np.arange(1, order.size + 1)})
    row = "test_row" if population.source == "test split" else "row"
    out[id_column or row] = population.frame[id_column].to_numpy()[order] if id_column else order
    out["score"] = population.scores[order]
    for c in extra:
        out[c] = population.frame[c].to_numpy()[order]
    return _pseudonymise(settings, population.table, out)


def _pseudonymise(settings: Settings, table: str, frame: pd.DataFrame) -> pd.DataFrame:
    with connect(settings) as con:
        marks = {m.column: m.action for m in load_marks(con, table)}
    marked = [c for c in frame.columns if c in marks]
    if not marked:
        return frame
    hashed = [c for c in marked if marks[c] != "drop"]
    parts = [f"{pseudonym_sql(c)} AS {quote_ident(c)}" if c in hashed else quote_ident(c)
             for c in frame.columns if marks.get(c) != "drop"]
    params = dict(zip(("ipad", "opad"), hmac_pads(personal_key(settings)))) if hashed else {}
    con = sandbox_connection()
    try:
        con.register("targeted", frame)
        return con.execute(f"SELECT {', '.join(parts)} FROM targeted", params).df()
    finally:
        con.close()


def write_targeted_table(settings: Settings, frame: pd.DataFrame, name: str,
                         replace: bool = False, source: str | None = None) -> str:
    """Write a targeted list into the warehouse as a new table.

    Args:
        settings: Workspace settings.
        frame: From :func:`targeted_list`.
        name: The new table's name.
        replace: Replace an earlier output of that name instead of refusing (a raw table or
            the population's own table is never replaced).
        source: The population's table (its original column names follow; its personal
            columns are pseudonymised in the list already).

    Returns:
        The table's name.

    Raises:
        SchemaError: Empty name, or the table exists and ``replace`` is False (or it is a
            raw table or the source).
    """
    if not (name or "").strip():
        raise SchemaError("Give the targeted-list table a name, e.g. campaign_may_targets.")
    with connect(settings) as con:
        name = claim_output(con, name.strip(), (source,) if source else (), replace,
                            "targeted list")
        write_frame_output(con, name, frame, source, "targeted list", carry_marks=False)
    return name
