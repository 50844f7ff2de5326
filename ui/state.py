"""Session-state keys and typed accessors: the one owner of ``st.session_state``.

State holds handles (table names, run ids, job ids, numbers), never DataFrames or models.
Setting a new table or run clears what depended on the old one.
"""

from __future__ import annotations

import streamlit as st

TABLE = "active_table"
RUN = "active_run"
JOB = "active_job"
THRESHOLD = "threshold"
IMPACT = "impact_inputs"
IMPACT_RESULT = "impact_result"
ANNOUNCED = "announced_jobs"

_DEFAULTS = {TABLE: None, RUN: None, JOB: None, THRESHOLD: 0.5, IMPACT: None}


def init_state() -> None:
    """Create every key with its default (idempotent)."""
    for key, value in _DEFAULTS.items():
        st.session_state.setdefault(key, value)


def active_table() -> str | None:
    """The table the analyst works on."""
    return st.session_state.get(TABLE)


def set_active_table(table: str | None) -> None:
    """Switch table (the run and job stay: they carry their own table)."""
    st.session_state[TABLE] = table


def active_run() -> str | None:
    """The run shown on Evaluate, Explain and Impact."""
    return st.session_state.get(RUN)


def set_active_run(run_id: str | None) -> None:
    """Switch run; the threshold goes back to the run's default."""
    if st.session_state.get(RUN) != run_id:
        st.session_state[RUN] = run_id
        st.session_state[THRESHOLD] = 0.5


def announce_run(job_id: str, run_id: str) -> None:
    """Make a finished job's run the active run, once: showing the job again later (e.g. on
    the next visit to Train) must not undo the analyst's own choice of run."""
    announced = st.session_state.setdefault(ANNOUNCED, [])
    if job_id not in announced:
        announced.append(job_id)
        set_active_run(run_id)


def active_job() -> str | None:
    """The training job the Train page follows."""
    return st.session_state.get(JOB)


def set_active_job(job_id: str | None) -> None:
    """Follow another training job."""
    st.session_state[JOB] = job_id


def threshold() -> float:
    """Decision threshold on the Evaluate page."""
    return float(st.session_state.get(THRESHOLD, 0.5))


def set_threshold(value: float) -> None:
    """Store the decision threshold."""
    st.session_state[THRESHOLD] = float(value)


def impact_inputs() -> dict | None:
    """Last scenario inputs on the Impact page (contact_cost, conversion_value, fraction)."""
    return st.session_state.get(IMPACT)


def set_impact_inputs(values: dict) -> None:
    """Store the scenario inputs."""
    st.session_state[IMPACT] = dict(values)


def impact_result(run_id: str) -> dict | None:
    """The Impact page's last scenario of this run: ``{"run_id", "title", "summary",
    "curve"}`` (for the review report), or None."""
    last = st.session_state.get(IMPACT_RESULT)
    return last if last and last.get("run_id") == run_id else None


def set_impact_result(value: dict) -> None:
    """Remember the Impact page's last scenario (see :func:`impact_result`)."""
    st.session_state[IMPACT_RESULT] = value
