"""Evaluate: every metric with its caveats at a threshold tied to a goal, curves, segments."""

import streamlit as st

from ui import evaluate_views
from ui.widgets import page_setup, require_run

data_dir = page_setup()
st.title("Evaluate")
run = require_run(data_dir, "evaluate__run")
evaluate_views.show(data_dir, run)
