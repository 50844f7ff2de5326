"""Impact: whom to contact, how many, what it costs and brings, and how sure we are."""

import streamlit as st

from core.uplift import is_uplift
from ui import abtest_views
from ui import impact_views as views
from ui.uplift_views import uplift_impact
from ui.widgets import page_setup, require_run

data_dir = page_setup()
st.title("Impact")
run = require_run(data_dir, "impact__run")
views.require_binary(run)
if is_uplift(run):
    uplift_impact(data_dir, run)
    st.stop()

table, pop, inputs = views.scenario_controls(data_dir, run)
result = views.simulate(data_dir, run, table, inputs)
source = "the test split" if table is None else f"table '{table}'"
views.headline(result, source, shown=pop.warnings)

tabs = st.tabs(["Curves", "Sensitivity", "Scenarios", "Targeted list", "Credit risk",
                "A/B test"])
with tabs[0]:
    views.curves_tab(result)
with tabs[1]:
    views.sensitivity_tab(result, inputs.economics)
with tabs[2]:
    views.scenarios_tab(data_dir, run, table, inputs, result)
with tabs[3]:
    views.targeted_tab(run, pop, result)
with tabs[4]:
    views.credit_tab(run, pop)
with tabs[5]:
    views.holdout_planner(result, inputs.economics)
    abtest_views.readout(result.conversion_lift - 1.0, "impact__read")
