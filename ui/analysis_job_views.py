"""A page's background analysis (SHAP values for many rows, scoring or monitoring a large
table): its progress and a Cancel button while it runs (polled every
:data:`ui.widgets.JOB_POLL_S` seconds), what it ended with, and the job found again after a
reload (the newest running job of that kind for the same settings)."""

from __future__ import annotations

import streamlit as st

from core.app import JobState
from ui import resources
from ui.train_job_views import where_text
from ui.widgets import JOB_POLL_S, fraction

ACTIVE = ("queued", "running")


def _find(data_dir: str, key: str, kind: str, match: dict) -> JobState | None:
    """The session's job (``st.session_state[key]``) if it was started with ``match``, else
    a running job of ``kind`` with those settings (a reloaded page), which it then follows."""
    jobs = resources.job_manager(data_dir)
    job = jobs.get(st.session_state.get(key) or "")
    if job is not None and job.kind == kind and all(job.params.get(k) == v
                                                    for k, v in match.items()):
        return job
    active = jobs.active(kind)
    if active is not None and all(active.params.get(k) == v for k, v in match.items()):
        st.session_state[key] = active.job_id
        return active
    return None


def _draw(data_dir: str, job: JobState, key: str) -> bool:
    """Draw the job; returns True while it is still active."""
    if job.state in ACTIVE:
        share = min(job.step / job.steps, 1.0) if job.steps else fraction(job.message)
        st.progress(share, text=f"{job.label}: {job.message}")
        if job.engine:
            st.caption(where_text(job.engine))
        if job.stop_request is None and st.button("Cancel", key=f"{key}__cancel",
                                                  icon=":material/cancel:",
                                                  help="Stops at the next batch; nothing is "
                                                       "saved."):
            resources.job_manager(data_dir).cancel(job.job_id)
        return True
    if job.state == "done":
        st.success(job.message)
    elif job.state == "failed":
        st.error(job.message)
    else:
        st.info(f"{job.label}: {job.message}")
    return False


@st.fragment(run_every=JOB_POLL_S)
def _live(data_dir: str, key: str) -> None:
    job = resources.job_manager(data_dir).get(st.session_state.get(key) or "")
    if job is None or not _draw(data_dir, job, key):
        st.rerun()  # ended: one full rerun shows the result on the whole page


def _elsewhere(data_dir: str, kind: str, match: dict) -> None:
    """Say where a running job of ``kind`` started with other settings is (a reloaded page
    opens on its default run, where that job would otherwise be invisible)."""
    other = resources.job_manager(data_dir).active(kind)
    if other is not None and all(other.params.get(k) for k in match):
        where = " and ".join(f"{k.removesuffix('_id')} `{other.params[k]}`" for k in match)
        st.info(f"**{other.label}** is running in the background ({other.message}). Choose "
                f"{where} above to follow it, see its result or cancel it.",
                icon=":material/directions_run:")


def follow(data_dir: str, key: str, kind: str, match: dict) -> JobState | None:
    """Show the page's background job of ``kind`` started with the settings in ``match``
    (e.g. ``{"run_id": …}``): live progress and Cancel while it runs, then how it ended.

    Args:
        data_dir: The workspace's data directory.
        key: The session key holding the job id.
        kind: The job's kind (``"shap"``, ``"score"``, ``"monitor"``).
        match: Settings the job must have been started with (its ``params``).

    Returns:
        The job as it was when the page drew it, or None when there is none.
    """
    job = _find(data_dir, key, kind, match)
    if job is None:
        _elsewhere(data_dir, kind, match)
        return None
    if job.state in ACTIVE:
        _live(data_dir, key)
    else:
        _draw(data_dir, job, key)
    return job
