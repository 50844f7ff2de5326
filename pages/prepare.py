"""Prepare: build a recipe of cleaning steps, preview it, write it to a new table, and replay
a saved recipe on new data. The raw table is never changed."""

import streamlit as st

from ui import resources
from ui.prep_views import (
    apply_section,
    pick_table,
    preview,
    replay_section,
    show_result,
    source_columns,
    step_builder,
    steps,
)
from ui.widgets import page_setup

data_dir = page_setup()
settings = resources.settings()
st.title("Prepare")
st.caption("Build a recipe step by step and see its effect before anything is written. "
           "Numbers a step learns (means, bounds, categories) come from this table and are "
           "stored with the recipe, so it replays on next month's file unchanged.")

table = pick_table(settings)
result = preview(settings, table)
st.subheader("Recipe")
if not steps():
    st.caption("No steps yet: add the first one below.")
step_builder(settings, table, source_columns(settings, table, result))
if result is not None:
    st.subheader("Preview")
    show_result(result)
    apply_section(settings, table)
replay_section(settings)
