"""Monitor: a run on new rows — alerts, estimated and realised performance, drift, quality —
then retrain a challenger, compare it on the same rows and promote it with a reason."""

import streamlit as st

from ui import resources, state
from ui.champion_views import compare_form, promote_form
from ui.monitor_views import (
    chunking_form,
    default_table,
    drift_tab,
    follow_monitor_job,
    headline,
    latest_result,
    monitorable_runs,
    performance_tab,
    quality_tab,
    retrain_form,
    run_monitor,
    tables_and_dates,
)
from ui.widgets import errors_shown, page_setup, run_label

data_dir = page_setup()
st.title("Monitor")
runs = monitorable_runs(data_dir)
if not runs:
    st.info("No run to monitor yet. Train a classifier on the Train page first.")
    st.stop()
labels = {r["run_id"]: run_label(r) for r in runs}
ids = list(labels)
current = state.active_run()
top = st.columns([3, 2])
run_id = top[0].selectbox("Run", ids, index=ids.index(current) if current in ids else 0,
                          format_func=labels.get, key="monitor__run")
summary = next(r for r in runs if r["run_id"] == run_id)
with errors_shown():
    tables, dates = tables_and_dates(resources.settings(), exclude=summary["table"])
table = top[1].selectbox("New rows (table)", tables, key=f"monitor__table_{run_id}",
                         index=default_table(run_id, tables, summary["table"]),
                         help="Scored on the fly with the run's own preprocessor; the target "
                              "column is optional.")
with st.expander("Chunking", expanded=False), errors_shown():
    chunking = chunking_form(dates.get(table, []))
if st.button("Monitor", type="primary", key="monitor__go"):
    run_monitor(data_dir, run_id, table, chunking)
running = follow_monitor_job(data_dir, run_id, table)

result = latest_result(run_id, table)
if result is None:
    st.caption("Reference: the run's test split. " + (
        "The result shows here when the job above ends." if running
        else f"Press Monitor to check '{table}' ({chunking.label()})."))
    st.stop()
st.caption(f"Run `{run_id}` on '{table}', {len(result['chunks'])} chunks "
           f"({result['created_at'][:16].replace('T', ' ')}); reference: the run's test split "
           f"({result['reference']['rows']:,} rows).")
headline(result)
perf, drift, quality = st.tabs(["Performance", "Drift", "Data quality"])
with perf:
    performance_tab(result)
with drift:
    drift_tab(result)
with quality:
    quality_tab(result)

st.subheader("Champion and challenger")
st.caption("Retrain with this run's own features and settings on new labelled rows (a "
           "background job), compare on the same rows, then promote with a reason.")
retrain_form(data_dir, run_id, tables, table)
compare_form(data_dir, run_id, resources.runs(data_dir), tables)
promote_form(run_id, st.session_state.get("monitor__challenger"))
