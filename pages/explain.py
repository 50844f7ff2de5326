"""Explain: SHAP values that fit the model, grouped to the analyst's columns; global, local,
dependence, what-if, and the review report."""

import streamlit as st

from ui import explain_views
from ui.widgets import page_setup, require_run

data_dir = page_setup()
st.title("Explain")
run = require_run(data_dir, "explain__run")
explain_views.show(data_dir, run)
