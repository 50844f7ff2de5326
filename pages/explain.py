"""Explain: SHAP values for a sample of test rows, grouped to the analyst's columns."""

import pandas as pd
import streamlit as st

from core.explain import explain_cached, load_explanation
from core.plots import beeswarm_figure, importance_figure, waterfall_figure
from ui.widgets import errors_shown, page_setup, require_run

data_dir = page_setup()
st.title("Explain")
run = require_run(data_dir, "explain__run")
n_test = len(run.test_frame)
rows = st.number_input("Test rows to explain", 10, n_test, min(1000, n_test), 100,
                       key="explain__rows")
exp = load_explanation(run)
if exp is None or len(exp.rows) != rows:
    if not st.button(f"Compute SHAP values for {rows:,} rows", type="primary", key="explain__go"):
        st.info("SHAP values are computed once per run and row count, then cached.")
        st.stop()
    with st.spinner("Computing SHAP values …"), errors_shown():
        exp = explain_cached(run, int(rows))

st.caption(f"Explainer: **{exp.explainer}** ({exp.reason}) · {len(exp.rows):,} rows, background "
           f"{exp.background_rows} training rows · {exp.seconds:.1f} s · output in "
           f"{exp.output_space}")
ok = exp.additivity_max_error <= 1e-3
st.caption(f"{':material/check_circle:' if ok else ':material/warning:'} Additivity: base value {exp.base_value:.4f} + sum of SHAP "
           f"values matches the model output within {exp.additivity_max_error:.2e}.")
imp = exp.importance()
left, right = st.columns(2)
left.plotly_chart(importance_figure(imp, len(exp.rows)), key="explain__importance")
right.plotly_chart(beeswarm_figure(exp.values, exp.rows, exp.columns, list(imp["feature"])),
                   key="explain__beeswarm")

st.subheader("One customer")
order = exp.output.argsort()[::-1]
pick = st.slider("Row by score rank (1 = highest score)", 1, len(order), 1, key="explain__rank")
i = int(order[pick - 1])
row = exp.rows.iloc[i]
contrib = pd.Series(exp.values[i], index=[f"{c} = {row[c]}" for c in exp.columns])
left, right = st.columns([3, 2])
left.plotly_chart(waterfall_figure(contrib, exp.base_value, float(exp.output[i]), exp.output_space),
                  key="explain__waterfall")
right.dataframe(pd.DataFrame({"value": row.astype(str), "SHAP value": exp.values[i]}),
                width="stretch")
