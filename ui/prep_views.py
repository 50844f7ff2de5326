"""Prepare page glue: the recipe under construction, its preview, apply and replay.

The recipe being built lives in ``st.session_state["prep__steps"]`` as plain dicts (kind,
columns, method, value) for the table in ``prep__steps_table``; switching table starts a new
recipe. Widget keys are prefixed ``prep__``.
"""

from __future__ import annotations

import json

import streamlit as st

from core.config import Settings, load_settings
from core.errors import AppError
from core.tables import (
    DEFAULT_VALUE,
    METHODS,
    STEP_KINDS,
    PrepResult,
    Recipe,
    Step,
    apply_recipe,
    column_date_readings,
    list_recipes,
    preview_recipe,
    replay_recipe,
)
from core.warehouse import connect, list_tables, table_columns
from ui import state
from ui.widgets import errors_shown, show_error

_STEPS = "prep__steps"
_STEPS_TABLE = "prep__steps_table"
_VALUE_LABEL = {"impute": "Constant (for 'constant')", "filter": "Value",
                "clip": "IQR multiplier (iqr) or lower quantile (quantile)",
                "encode": "Most categories kept", "bin": "Number of bins", "rename": "New name"}
_METHOD_HELP = {
    "log": "log1p: ln(1 + x), for values >= 0 (refused when the table has negative values; on "
           "replay a value below 0 is set to 0 and counted). signed: sign(x)·ln(1 + |x|), "
           "for columns with negative values.",
    "date_parts": "Dates written as text need the order of day and month: day-first reads "
                  "25/12/2023, month-first 12/25/2023. Values that cannot be read are counted "
                  "in the step's notes.",
    "drop_duplicates": "Keeps the first row of each key in file order.",
}


def steps() -> list[Step]:
    """The recipe under construction, as validated steps."""
    return [Step(d["kind"], tuple(d["columns"]), d["method"], d["value"])
            for d in st.session_state.get(_STEPS, [])]


def pick_table(settings: Settings) -> str:
    """Choose the source table (stops the page when there is none); resets the recipe on change."""
    with errors_shown(), connect(settings) as con:
        names = [t.table for t in list_tables(con)]
    if not names:
        st.info("Load a table on the Data page first.")
        st.stop()
    current = state.active_table()
    table = st.selectbox("Source table (left untouched)", names,
                         index=names.index(current) if current in names else 0,
                         key="prep__table")
    state.set_active_table(table)
    if st.session_state.get(_STEPS_TABLE) != table:
        st.session_state[_STEPS] = []
        st.session_state[_STEPS_TABLE] = table
    return table


@st.cache_data(max_entries=16, ttl=600, show_spinner="Previewing the recipe …")
def _preview(data_dir: str, table: str, steps_json: str, stamp: tuple) -> PrepResult:
    """Cached preview; ``stamp`` changes when the source table changes."""
    items = [Step(d["kind"], tuple(d["columns"]), d["method"], d["value"])
             for d in json.loads(steps_json)]
    with connect(load_settings(data_dir)) as con:
        return preview_recipe(con, table, Recipe("preview", tuple(items)))


def preview(settings: Settings, table: str) -> PrepResult | None:
    """Fit the current steps on the table and return the result (None without steps)."""
    if not st.session_state.get(_STEPS):
        return None
    with connect(settings) as con:
        info = next(t for t in list_tables(con) if t.table == table)
    try:
        return _preview(str(settings.data_dir), table, json.dumps(st.session_state[_STEPS]),
                        (info.rows, info.columns))
    except AppError as err:
        show_error(err)
        return None


def _parse_value(kind: str, text: str):
    if text.strip() == "":
        return None
    return text if kind in ("impute", "filter", "rename") else float(text)


def _date_offer(settings: Settings, table: str, chosen: list[str]) -> None:
    """For text columns picked for date parts: how each day/month order reads them."""
    with connect(settings) as con:
        text = {c for c, t in table_columns(con, table) if t == "VARCHAR"}
        readings = [column_date_readings(con, table, c) for c in chosen if c in text]
    for r in readings:
        bad = r.unparsed_day_first if r.suggested == "day_first" else r.unparsed_month_first
        st.caption(f":material/calendar_month: `{r.column}` is text: {r.sentence()}; "
                   f"{r.suggested.replace('_', '-')} reads more"
                   + (f" (not read: {', '.join(repr(v) for v in bad)})" if bad else "") + ".")


def step_builder(settings: Settings, table: str, columns: list[str]) -> None:
    """Widgets to add a step, and the list of steps with remove buttons."""
    for i, step in enumerate(steps()):
        c1, c2 = st.columns([6, 1])
        c1.markdown(f"**{i + 1}.** {step.label()}")
        if c2.button("Remove", key=f"prep__remove_{i}"):
            st.session_state[_STEPS].pop(i)
            st.rerun()
    st.subheader("Add a step")
    if st.session_state.pop("prep__reset", False):
        st.session_state["prep__columns"] = []  # a new step starts with no columns chosen
    kind = st.selectbox("Step", STEP_KINDS, format_func=lambda k: k.replace("_", " "),
                        key="prep__kind")
    chosen = st.multiselect("Columns", columns, key="prep__columns",
                            help="drop duplicates: key columns (all when empty)")
    c1, c2 = st.columns(2)
    method = (c1.selectbox("Method", METHODS[kind], key="prep__method", help=_METHOD_HELP.get(kind))
              if kind in METHODS else None)
    if kind == "drop_duplicates":
        st.caption(_METHOD_HELP[kind])
    if kind == "date_parts" and chosen:
        try:
            _date_offer(settings, table, chosen)
        except AppError:
            pass  # a column made by an earlier step: the preview's notes will count it
    value = ""
    if kind in _VALUE_LABEL:
        value = c2.text_input(_VALUE_LABEL[kind], str(DEFAULT_VALUE.get(kind, "")),
                              key=f"prep__value_{kind}")
    if st.button("Add step", key="prep__add"):
        try:
            step = Step(kind, tuple(chosen), method, _parse_value(kind, value))
        except (AppError, ValueError) as err:
            show_error(err if isinstance(err, AppError) else AppError(f"Not a number: {value}"))
            return
        st.session_state[_STEPS].append({"kind": step.kind, "columns": list(step.columns),
                                         "method": step.method, "value": step.value})
        st.session_state["prep__reset"] = True
        st.rerun()


def show_notes(result: PrepResult) -> None:
    """What the steps changed (values filled, clipped or set to 0, dates not read, unseen
    categories), one line each."""
    if result.notes:
        st.warning("What the steps changed:\n\n" + "\n".join(f"- {n}" for n in result.notes))


def show_result(result: PrepResult) -> None:
    """Rows and columns after every step with its notes, and the first rows of the result."""
    st.dataframe([{"step": label, "rows after": rows, "columns after": cols,
                   "notes": " · ".join(notes)}
                  for (label, rows, cols), notes in zip(result.steps, result.step_notes)],
                 hide_index=True, width="stretch")
    show_notes(result)
    st.caption(f"Result: {result.rows:,} rows × {len(result.columns)} columns in file order "
               f"(first {len(result.preview)} rows below).")
    st.dataframe(result.preview, hide_index=True, width="stretch")


def apply_section(settings: Settings, table: str) -> None:
    """Name the recipe and the output table, then write it."""
    c1, c2 = st.columns(2)
    name = c1.text_input("Recipe name", f"{table}_recipe", key="prep__recipe_name")
    out = c2.text_input("Output table", f"{table}_prepared", key="prep__out")
    replace = c2.checkbox("Replace my earlier table of that name", key="prep__replace",
                          help="Only prepared tables can be replaced; raw tables never.")
    if st.button("Apply and save recipe", type="primary", key="prep__apply"):
        with st.spinner("Writing the prepared table …"), errors_shown(), connect(settings) as con:
            result = apply_recipe(con, table, Recipe(name, tuple(steps())), out, replace)
        state.set_active_table(table)
        st.success(f"Wrote `{result.table}` ({result.rows:,} rows × {len(result.columns)} "
                   f"columns) and saved recipe `{name}`. `{table}` is unchanged.")
        show_notes(result)


def replay_section(settings: Settings) -> None:
    """Apply a saved recipe, with the numbers it learned, to another table."""
    with errors_shown(), connect(settings) as con:
        recipes = list_recipes(con)
        names = [t.table for t in list_tables(con)]
    if not recipes:
        return
    with st.expander("Replay a saved recipe on new data (e.g. next month's customers)"):
        labels = {r[0]: f"{r[0]} (fitted on {r[1]})" for r in recipes}
        recipe = st.selectbox("Recipe", list(labels), format_func=labels.get,
                              key="prep__replay_recipe")
        table = st.selectbox("Table", names, key="prep__replay_table")
        out = st.text_input("Output table", f"{table}_prepared", key="prep__replay_out")
        replace = st.checkbox("Replace my earlier table of that name",
                              key="prep__replay_replace")
        if st.button("Replay", key="prep__replay"):
            with errors_shown(), connect(settings) as con:
                result = replay_recipe(con, recipe, table, out, replace)
            st.success(f"Wrote `{result.table}` ({result.rows:,} rows) with recipe `{recipe}`.")
            show_notes(result)


def source_columns(settings: Settings, table: str, result: PrepResult | None) -> list[str]:
    """Columns a new step can use: those after the current steps."""
    if result is not None:
        return result.columns
    with errors_shown(), connect(settings) as con:
        return [c for c, _ in table_columns(con, table)]
