"""Preparation recipes: ordered steps the analyst builds, previews, applies and replays.

Fitting walks the steps over the source table and learns each step's numbers (means, clip
bounds, categories, bin edges) from the data as it is at that step; applying writes a *new*
table (the raw table is never modified) and stores the fitted recipe by name, so the same
recipe replays on next month's file with the same numbers. Replaying refuses, naming the
columns, when the new table lacks one the recipe needs. All work is SQL in DuckDB.

Example:
    >>> recipe = Recipe("clean", (Step("impute", ("age",), "median"),
    ...                           Step("encode", ("job",), "onehot")))
    >>> result = apply_recipe(con, "bank", recipe, "bank_clean")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import duckdb

from core.errors import SchemaError
from core.tables._apply import apply_step, checked_apply
from core.tables._steps import Rel, Step, fit_step
from core.warehouse import (
    META_SCHEMA,
    claim_output,
    quote_ident,
    record_output,
    require_table,
    table_columns,
    transaction,
)

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

PREVIEW_ROWS = 50


@dataclass(frozen=True)
class Recipe:
    """A named, ordered list of steps.

    Attributes:
        name: Recipe name (letters, digits, ``_``), used to replay it later.
        steps: The steps in order.
    """

    name: str
    steps: tuple[Step, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise SchemaError("Give the recipe a name, e.g. 'clean_customers'.")
        object.__setattr__(self, "steps", tuple(self.steps))

    @classmethod
    def from_dict(cls, data) -> Recipe:
        """A recipe from its JSON form ``{"name", "steps": [{"kind", "columns", "method",
        "value"}]}`` (``method`` and ``value`` optional), checked key by key.

        Raises:
            SchemaError: What is malformed (not an object, a missing or unknown key, columns
                that are not a list of names, a value that is neither text nor a number), or
                a step that is not valid (see :class:`Step`).
        """
        if not isinstance(data, dict) or set(data) - {"name", "steps"} or "steps" not in data:
            raise SchemaError('A recipe is a JSON object {"name": ..., "steps": [{"kind": ..., '
                              '"columns": [...], "method": ..., "value": ...}, ...]}.')
        if not isinstance(data["steps"], list) or not data["steps"]:
            raise SchemaError('The recipe\'s "steps" must be a non-empty list of steps.')
        return cls(data.get("name", ""), tuple(_step_from_dict(i, d)
                                              for i, d in enumerate(data["steps"], 1)))


def _step_from_dict(i: int, d) -> Step:
    where = f"Step {i} of the recipe"
    if not isinstance(d, dict) or "kind" not in d:
        raise SchemaError(f'{where} must be an object with a "kind" (and "columns", '
                          f'"method", "value").')
    unknown = sorted(set(d) - {"kind", "columns", "method", "value"})
    if unknown:
        raise SchemaError(f"{where} has unknown key(s) {', '.join(unknown)}; a step has kind, "
                          f"columns, method and value.")
    cols = d.get("columns", [])
    if not isinstance(cols, list) or not all(isinstance(c, str) for c in cols):
        raise SchemaError(f'{where}: "columns" must be a list of column names, e.g. ["age"].')
    method, value = d.get("method"), d.get("value")
    if method is not None and not isinstance(method, str):
        raise SchemaError(f'{where}: "method" must be text; got {method!r}.')
    if value is not None and (isinstance(value, bool) or not isinstance(value, str | int | float)):
        raise SchemaError(f'{where}: "value" must be text or a number; got {value!r}.')
    if not isinstance(d["kind"], str):
        raise SchemaError(f'{where}: "kind" must be text; got {d["kind"]!r}.')
    return Step(d["kind"], tuple(cols), method, float(value) if isinstance(value, int) else value)


@dataclass(frozen=True)
class FittedRecipe:
    """A recipe with what each step learned from the data it was fitted on.

    Attributes:
        recipe: The recipe.
        params: One dict per step (learned numbers, JSON-ready).
        source_table: Table it was fitted on.
        needs: Source columns the recipe reads, which any table it replays on must have.
    """

    recipe: Recipe
    params: tuple[dict, ...]
    source_table: str
    needs: tuple[str, ...]

    def to_json(self) -> str:
        """Serialise (steps, learned numbers, source, needed columns) to JSON."""
        return json.dumps({"name": self.recipe.name,
                           "steps": [asdict(s) for s in self.recipe.steps],
                           "params": list(self.params), "source_table": self.source_table,
                           "needs": list(self.needs)})

    @classmethod
    def from_json(cls, text: str) -> FittedRecipe:
        """Rebuild a fitted recipe from :meth:`to_json` output."""
        d = json.loads(text)
        steps = tuple(Step(s["kind"], tuple(s["columns"]), s["method"], s["value"])
                      for s in d["steps"])
        return cls(Recipe(d["name"], steps), tuple(d["params"]), d["source_table"],
                   tuple(d["needs"]))


@dataclass(frozen=True)
class PrepResult:
    """What a preview or an apply produced.

    Attributes:
        table: The table written (None for a preview).
        rows: Rows after the last step.
        columns: Column names after the last step.
        preview: The first rows after the last step in file order, shape
            (<= PREVIEW_ROWS, len(columns)).
        steps: Per step ``(label, rows after it, columns after it)``.
        fitted: The fitted recipe.
        step_notes: Per step, what it changed in words (values filled, clipped, set to 0,
            dates not read, unseen categories), counted on this table.
    """

    table: str | None
    rows: int
    columns: list[str]
    preview: pd.DataFrame
    steps: list[tuple[str, int, int]]
    fitted: FittedRecipe
    step_notes: list[list[str]] = field(default_factory=list)

    @property
    def notes(self) -> list[str]:
        """Every step's notes, each prefixed with its step (``Step 2 (log log1p: x): ...``)."""
        return [f"Step {i} ({label}): {note}" for i, ((label, _, _), notes)
                in enumerate(zip(self.steps, self.step_notes), 1) for note in notes]


def _refuse_personal(con, table: str) -> None:
    """Raw personal values must not flow into prepared tables (and from there into models)."""
    marked = [c for (c,) in con.execute(
        f"SELECT column_name FROM {META_SCHEMA}.personal WHERE lower(table_name) = lower(?) "
        f"ORDER BY 1",
        [table]).fetchall()]
    if marked:
        raise SchemaError(
            f"Table '{table}' has columns marked as personal data ({', '.join(marked)}). Prepare "
            f"its protected copy instead (Data → Personal data → Write protected copy), so "
            f"personal values never reach a prepared table or a model.")


def _needs(steps: tuple[Step, ...], source: list[str]) -> tuple[str, ...]:
    """Source columns read by the steps (columns created by earlier steps are not needed)."""
    known = set(source)
    return tuple(dict.fromkeys(c for s in steps for c in s.columns if c in known))


def fit_recipe(con: duckdb.DuckDBPyConnection, table: str, recipe: Recipe) -> FittedRecipe:
    """Fit every step on ``table`` in order.

    Args:
        con: Open warehouse connection.
        table: Source table.
        recipe: The recipe.

    Returns:
        The :class:`FittedRecipe`.

    Raises:
        SchemaError: Unknown table, a table with columns marked as personal data, or a step
            that does not fit the data (named in the message).
    """
    require_table(con, table)
    _refuse_personal(con, table)
    rel = Rel.of_table(con, table)
    params = []
    for step in recipe.steps:
        try:
            learned = fit_step(con, rel, step)
            params.append(learned)
            rel = apply_step(rel, step, learned, rel.columns(con))
        except duckdb.Error as err:
            raise SchemaError(f"Step '{step.label()}' does not fit the data: "
                              f"{str(err).splitlines()[0]}.") from err
    source = [c for c, _ in table_columns(con, table)]
    return FittedRecipe(recipe, tuple(params), table, _needs(recipe.steps, source))


def _relation(con, table: str, fitted: FittedRecipe
              ) -> tuple[Rel, list[tuple[str, int, int]], list[list[str]]]:
    require_table(con, table)
    _refuse_personal(con, table)
    have = {c for c, _ in table_columns(con, table)}
    missing = [c for c in fitted.needs if c not in have]
    if missing:
        raise SchemaError(
            f"Recipe '{fitted.recipe.name}' needs column(s) {', '.join(missing)} that table "
            f"'{table}' does not have. Load a file with the same columns as "
            f"'{fitted.source_table}', or build a new recipe for this table.")
    rel = Rel.of_table(con, table)
    counts, notes = [], []
    for step, learned in zip(fitted.recipe.steps, fitted.params):
        rel, said = checked_apply(con, rel, step, learned)
        rows = rel.one(con, "count(*)")[0]
        counts.append((step.label(), int(rows), len(rel.columns(con))))
        notes.append(said)
    return rel, counts, notes


def _run(con, table: str, fitted: FittedRecipe, out: str | None) -> PrepResult:
    try:
        rel, counts, notes = _relation(con, table, fitted)
        cols = [c for c, _ in rel.columns(con)]
        rows = int(rel.one(con, "count(*)")[0])
        preview = con.execute(f"{rel.ordered_sql()} LIMIT {PREVIEW_ROWS}", rel.params).df()
        if out is not None:
            con.execute(f"CREATE OR REPLACE TABLE {quote_ident(out)} AS {rel.ordered_sql()}",
                        rel.params)
    except duckdb.Error as err:
        raise SchemaError(
            f"Recipe '{fitted.recipe.name}' failed on table '{table}': "
            f"{str(err).splitlines()[0]}. Check that the columns have the types the recipe "
            f"expects.") from err
    return PrepResult(out, rows, cols, preview, counts, fitted, notes)


def preview_recipe(con: duckdb.DuckDBPyConnection, table: str, recipe: Recipe) -> PrepResult:
    """Fit the recipe and show its result without writing anything.

    Returns:
        The :class:`PrepResult` with ``table`` None.

    Raises:
        SchemaError: See :func:`fit_recipe`.
    """
    return _run(con, table, fit_recipe(con, table, recipe), None)


def _store(con, fitted: FittedRecipe) -> None:
    con.execute(f"DELETE FROM {META_SCHEMA}.recipes WHERE name = ?", [fitted.recipe.name])
    con.execute(f"INSERT INTO {META_SCHEMA}.recipes VALUES (?, ?, ?, ?)",
                [fitted.recipe.name, datetime.now(), fitted.source_table, fitted.to_json()])


def apply_recipe(con: duckdb.DuckDBPyConnection, table: str, recipe: Recipe,
                 out: str, replace: bool = False) -> PrepResult:
    """Fit the recipe on ``table``, write the result as table ``out`` and store the recipe.

    The new table and the stored recipe are written in one transaction.

    Args:
        con: Open warehouse connection.
        table: Source table (left untouched).
        recipe: The recipe (stored under ``recipe.name``, replacing an older one).
        out: Name of the table to write.
        replace: Replace an earlier prepared table of that name (raw tables and the input
            never).

    Returns:
        The :class:`PrepResult`.

    Raises:
        SchemaError: A step does not fit the data.
        OutputTableError: ``out`` names the input, a raw table, or (without ``replace``) an
            existing output.
    """
    out = claim_output(con, out, (table,), replace, "prepared table")
    fitted = fit_recipe(con, table, recipe)
    return _write(con, table, fitted, out, store=True)


def _write(con, table: str, fitted: FittedRecipe, out: str, store: bool) -> PrepResult:
    renamed = {p["to"]: p["to"] for s, p in zip(fitted.recipe.steps, fitted.params)
               if s.kind == "rename" and "to" in p}
    with transaction(con):
        result = _run(con, table, fitted, out)
        record_output(con, out, table, f"recipe {fitted.recipe.name}", names=renamed)
        if store:
            _store(con, fitted)
    log.info("recipe %s: %s -> %s (%d rows)", fitted.recipe.name, table, out, result.rows)
    return result


def list_recipes(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, datetime]]:
    """Stored recipes as ``(name, source table, created_at)``, newest first."""
    return [tuple(r) for r in con.execute(
        f"SELECT name, source_table, created_at FROM {META_SCHEMA}.recipes "
        f"ORDER BY created_at DESC").fetchall()]


def load_recipe(con: duckdb.DuckDBPyConnection, name: str) -> FittedRecipe:
    """A stored recipe by name.

    Raises:
        SchemaError: No recipe of that name (the message lists the stored ones).
    """
    row = con.execute(f"SELECT recipe_json FROM {META_SCHEMA}.recipes WHERE name = ?",
                      [name]).fetchone()
    if row is None:
        known = ", ".join(r[0] for r in list_recipes(con)) or "none yet"
        raise SchemaError(f"There is no recipe named '{name}'. Stored recipes: {known}.")
    return FittedRecipe.from_json(row[0])


def replay_recipe(con: duckdb.DuckDBPyConnection, name: str, table: str,
                  out: str, replace: bool = False) -> PrepResult:
    """Apply a stored recipe, with the numbers it learned, to another table.

    Args:
        con: Open warehouse connection.
        name: Stored recipe name.
        table: Table with the same columns as the one the recipe was fitted on.
        out: Name of the table to write.
        replace: Replace an earlier prepared table of that name.

    Returns:
        The :class:`PrepResult`.

    Raises:
        SchemaError: Unknown recipe, or a needed column missing (named).
        OutputTableError: ``out`` names the input, the table the recipe was fitted on, a raw
            table, or (without ``replace``) an existing output.
    """
    fitted = load_recipe(con, name)
    out = claim_output(con, out, (table, fitted.source_table), replace, "prepared table")
    return _write(con, table, fitted, out, store=False)
