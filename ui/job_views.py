"""A background job on a page other than Train (a retrain on Monitor, a compression on Runs):
its label, progress (steps, or epochs for a network), where it runs, a Cancel button and, when
it ends, what it made or why it did not; polled every :data:`ui.widgets.JOB_POLL_S` seconds
while it runs.

The job id lives in session state under the page's key, so the job is followed again after
a visit to another page; a page opened in a new browser session (a reload) finds the running
job of its kind (:meth:`core.app.JobManager.active`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import streamlit as st

from core.app import JobState
from ui import resources
from ui.train_job_views import where_text
from ui.widgets import JOB_POLL_S

ACTIVE = ("queued", "running")


def followed(data_dir: str, key: str, kind: str) -> JobState | None:
    """The job a page follows: the one under ``key`` in session state, else the newest running
    job of ``kind`` (then stored under ``key``); None when there is neither."""
    jobs = resources.job_manager(data_dir)
    job_id = st.session_state.get(key)
    job = jobs.get(job_id) if job_id else None
    if job is None:
        job = jobs.active(kind)
        if job is not None:
            st.session_state[key] = job.job_id
    return job


def job_panel(data_dir: str, key: str, kind: str,
              done: Callable[[JobState], None] | None = None) -> None:
    """Draw the followed job (see :func:`followed`); ``done(job)`` draws a finished job's
    result."""
    job = followed(data_dir, key, kind)
    if job is None:
        return
    if job.state in ACTIVE:
        _live(data_dir, key, done)
    else:
        _draw(data_dir, key, done)


@st.fragment(run_every=JOB_POLL_S)
def _live(data_dir: str, key: str, done) -> None:
    if not _draw(data_dir, key, done):
        st.rerun()  # the job ended: one full rerun shows its result and stops polling


def _draw(data_dir: str, key: str, done) -> bool:
    """Draw the job; True while it is still queued or running."""
    jobs = resources.job_manager(data_dir)
    job = jobs.get(st.session_state.get(key) or "")
    if job is None:
        return False
    active = job.state in ACTIVE
    st.markdown(f"**{job.label}** · {job.state}")
    if active and job.steps:
        st.progress(min(job.step / job.steps, 1.0),
                    text=f"Step {job.step} of {job.steps}: {job.message}")
    elif active and job.epochs:
        st.progress(min(job.epoch / job.epochs, 1.0),
                    text=f"Epoch {job.epoch} of at most {job.epochs}")
    elapsed = f" · {time.time() - job.started_at:.0f} s elapsed" if active and job.started_at \
        else ""
    if active or (job.state == "done" and done is None):  # else a box below says it
        st.caption(job.message + elapsed)
    if job.engine:
        st.caption(where_text(job.engine))
    if active and not job.stop_request:
        st.button("Cancel", key=f"{key}_cancel", icon=":material/cancel:",
                  on_click=jobs.cancel, args=(job.job_id,),
                  help="Stops the job; nothing it made is kept.")
    if job.state == "failed":
        st.error(job.message)
    elif job.state in ("cancelled", "interrupted"):
        st.info(job.message)
    elif job.state == "done" and done is not None:
        done(job)
    return active
