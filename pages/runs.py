"""Runs: every saved run, side-by-side comparison, download/import, delete, batch scoring."""

import streamlit as st

from ui import resources, state
from ui.privacy_views import compress_view, privacy_curve_view
from ui.runs_views import comparison, default_pair, importer, manage, runs_table
from ui.widgets import KEEP, initial, page_setup, run_label

data_dir = page_setup()
st.title("Runs")
runs = resources.runs(data_dir)
if not runs:
    st.info("No runs yet. Train a model on the Train page, or import a run below.")
    importer()
    st.stop()

st.dataframe(runs_table(runs), hide_index=True, width="stretch",
             column_config={"value": st.column_config.NumberColumn(format="%.4f")})
labels = {r["run_id"]: run_label(r) for r in runs}
ids = list(labels)

st.subheader("Compare")
chosen = st.multiselect("Pick 2 to 4 runs", ids, default=default_pair(runs),
                        format_func=labels.get, max_selections=4, key="runs__compare")
if len(chosen) >= 2:
    by_id = {r["run_id"]: r for r in runs}
    comparison(data_dir, [by_id[r] for r in chosen])
elif len(ids) >= 2:
    st.caption("Pick two runs of the same task (a classifier, a regression, a recommender …) "
               "to compare their metrics and settings.")

st.subheader("Manage a run")
current = state.active_run()
run_id = st.selectbox("Run", ids,  # kept across pages: its jobs are followed under it
                      index=initial("runs__manage", ids.index(current) if current in ids else 0,
                                    0), format_func=labels.get, key="runs__manage", **KEEP)
manage(data_dir, run_id)
compress_view(data_dir, run_id)
with st.expander("Privacy/utility curve: ROC-AUC of DP runs against ε"):
    privacy_curve_view(data_dir, run_id)
with st.expander("Import a run"):
    importer()
