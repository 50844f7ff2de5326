"""LiftLab: from a raw data file to a business number you can defend. ``streamlit run app.py``."""

import streamlit as st

from ui import resources, state
from ui.widgets import JOB_POLL_S, page_setup

st.set_page_config(page_title="LiftLab", page_icon="📈", layout="wide")
data_dir = page_setup()

pages = [
    st.Page("pages/data.py", title="Data", icon=":material/database:", default=True),
    st.Page("pages/prepare.py", title="Prepare", icon=":material/cleaning_services:"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/evaluate.py", title="Evaluate", icon=":material/target:"),
    st.Page("pages/explain.py", title="Explain", icon=":material/manage_search:"),
    st.Page("pages/impact.py", title="Impact", icon=":material/payments:"),
    st.Page("pages/recommend.py", title="Recommend", icon=":material/shopping_cart:"),
    st.Page("pages/runs.py", title="Runs", icon=":material/history:"),
    st.Page("pages/monitor.py", title="Monitor", icon=":material/monitor_heart:"),
]
nav = st.navigation(pages)

with st.sidebar:
    st.caption(f"Workspace: `{data_dir}`")
    st.caption(f"Training device: **{resources.device_label()}**")
    live = st.container()  # filled after the page ran: a job it started, a run it chose


def _running(jobs) -> list:
    return [j for j in jobs.list() if j.state in ("queued", "running")]


@st.fragment(run_every=JOB_POLL_S)
def _running_jobs() -> None:
    """The running jobs' latest messages, redrawn every 2 s (a full rerun alone left them at
    what they said when the page was drawn, e.g. 'Starting' at family 4 of 7)."""
    for job in _running(resources.job_manager(data_dir)):
        st.caption(f":material/hourglass_top: {job.label}: {job.message}")


try:
    nav.run()
finally:  # also when the page stopped early (st.stop)
    with live:
        if _running(resources.job_manager(data_dir)):  # polls only while a job runs
            _running_jobs()
        if state.active_run():
            st.caption(f"Active run: `{state.active_run()}`")
