"""Live view of a training job: epoch bar, loss curve, time left, cancel."""

from __future__ import annotations

import streamlit as st

from core.plots import history_figure
from ui import resources, state
from ui.widgets import link_to

_ICONS = {"queued": ":material/hourglass_top:", "running": ":material/directions_run:",
          "done": ":material/check_circle:", "failed": ":material/error:",
          "cancelled": ":material/cancel:"}


def _render(data_dir: str) -> bool:
    """Draw the job; returns True while it is still active."""
    jobs = resources.job_manager(data_dir)
    job = jobs.get(state.active_job())
    if job is None:
        return False
    st.subheader(f"{_ICONS.get(job.state, '')} {job.label}")
    active = job.state in ("queued", "running")
    if job.epochs:
        eta = job.eta_seconds()
        eta_text = f" · about {eta:.0f} s left" if eta is not None else ""
        st.progress(min(job.epoch / job.epochs, 1.0),
                    text=f"Epoch {job.epoch} of at most {job.epochs}{eta_text}")
    st.caption(job.message)
    if job.history:
        st.plotly_chart(history_figure(job.history), key=f"train__loss_{job.epoch}")
    if active and st.button("Cancel training", key="train__cancel"):
        jobs.cancel(job.job_id)
    if job.state == "failed":
        st.error(job.message)
    if job.state == "done" and job.run_id:
        state.set_active_run(job.run_id)
        run = resources.run(data_dir, job.run_id)
        m = run.metrics["metrics"]
        cols = st.columns(4)
        for col, key, label in zip(cols, ("roc_auc", "pr_auc", "f1", "accuracy"),
                                   ("ROC-AUC", "PR-AUC", "F1 @0.5", "Accuracy @0.5")):
            col.metric(label, "undefined" if m[key] is None else f"{m[key]:.3f}")
        for note in run.metrics.get("notes", []):
            st.warning(note)
        link_to("pages/evaluate.py", "Evaluate this run", ":material/target:")
    return active


@st.fragment(run_every=1.0)
def _live(data_dir: str) -> None:
    if not _render(data_dir):
        st.rerun()  # job ended: one full rerun shows the final state and stops polling


def show_job(data_dir: str) -> None:
    """Show the active job; polls once a second while it runs."""
    job = resources.job_manager(data_dir).get(state.active_job())
    if job is not None and job.state in ("queued", "running"):
        _live(data_dir)
    else:
        _render(data_dir)
