"""The Train page's job panel: epoch bar, measured time left, where the job runs, Cancel and
"stop and keep the best so far", the loss curve, the finished run's headline metrics, and the
workspace's recent jobs. A running job's progress is polled every
:data:`ui.widgets.JOB_POLL_S` seconds, its buttons and its loss curve less often
(:data:`CONTROLS_EVERY_S`, :data:`CHART_EVERY_S`)."""

from __future__ import annotations

import time

import streamlit as st

from core.app import JobState
from core.plots import history_figure
from ui import resources, state
from ui.tuning_views import job_bar, tuning_summary
from ui.widgets import JOB_POLL_S, link_to

HEADLINES = {
    "binary": {"roc_auc": "ROC-AUC", "pr_auc": "PR-AUC", "f1": "F1 @0.5",
               "accuracy": "Accuracy @0.5"},
    "multiclass": {"accuracy": "Accuracy", "f1_macro": "F1 (macro)",
                   "f1_weighted": "F1 (weighted)", "log_loss": "Log loss"},
    "regression": {"mae": "MAE", "rmse": "RMSE", "r2": "R²"},
}
_ICONS = {"queued": ":material/hourglass_top:", "running": ":material/directions_run:",
          "done": ":material/check_circle:", "failed": ":material/error:",
          "cancelled": ":material/cancel:"}
# A running job's page is redrawn in three fragments: its progress every JOB_POLL_S, its buttons
# (Cancel, Stop and keep) every CONTROLS_EVERY_S and its loss curve every CHART_EVERY_S. On a
# small machine the browser shares the CPUs with the job: with everything redrawn each second
# the tab used 0.23 CPU-s/s, with the curve drawn once 0.09 (a Plotly redraw on this page
# costs ~0.4 CPU-s in headless Chromium), without the buttons 0.05 less (bench/engine.py).
CONTROLS_EVERY_S = 5.0
CHART_EVERY_S = 10.0


def duration(seconds: float) -> str:
    """Seconds in words: ``"40 s"``, ``"7 min"``, ``"1 h 05 min"``."""
    seconds = max(float(seconds), 0.0)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


def eta_text(job: JobState) -> str:
    """Time left from the measured epochs, e.g. ``"4.1 s per epoch · 20 s to 4 min left"``."""
    per, span = job.seconds_per_epoch(), job.eta_range()
    if per is None or span is None:
        return "timing the first epoch"
    low, high = span
    per_text = f"{per:.2f}" if per < 1 else f"{per:.1f}"  # sub-second epochs: 2 decimals
    if job.patience and low < high:
        return (f"{per_text} s per epoch (measured) · {duration(low)} to {duration(high)} left "
                f"(early stopping ends it after {job.patience} epochs without improvement)")
    return f"{per_text} s per epoch (measured) · about {duration(high)} left"


def _stop_buttons(jobs, job: JobState) -> None:
    left, right = st.columns(2)
    if job.can_keep and job.state == "running" and job.epoch >= 1 and not job.stop_request:
        if left.button("Stop and keep the best so far", key="train__keep",
                       icon=":material/save:",
                       help="Ends training after this batch and saves the run with the "
                            "weights of its best validation epoch; a note in the run says "
                            "so."):
            jobs.stop_and_keep(job.job_id)
    board = job.kind == "leaderboard"
    if not job.stop_request and right.button(
            "Cancel the leaderboard" if board else "Cancel training", key="train__cancel",
            icon=":material/cancel:", help="Ends it; no family's run is kept." if board
            else "Ends training and saves nothing."):
        jobs.cancel(job.job_id)


def _done(data_dir: str, job: JobState) -> None:
    state.announce_run(job.job_id, job.run_id)
    run = resources.run(data_dir, job.run_id)
    m = run.metrics["metrics"]
    labels = HEADLINES.get(run.config.task, HEADLINES["binary"])
    for col, (key, label) in zip(st.columns(len(labels)), labels.items()):
        value = m.get(key)
        col.metric(label, "undefined" if value is None else f"{value:.3f}")
    for note in run.metrics.get("notes", []):
        st.warning(note)
    if "tuning" in run.config.extra:
        tuning_summary(run.config.extra["tuning"])
    link_to("pages/evaluate.py", "Evaluate this run", ":material/target:")


def where_text(engine: dict) -> str:
    """Where a job runs, e.g. ``"Runs on Ray (local) · 2 workers · MultiWorkerMirroredStrategy
    · CPU"`` (``engine``: :attr:`core.app.JobState.engine`)."""
    where = "in the app's process" if engine["ray"] == "off" else f"on Ray ({engine['ray']})"
    n = engine["workers"]
    return (f"Runs {where} · {n} worker{'s' if n != 1 else ''} · {engine['strategy']} · "
            f"{engine['devices']}")


def _render(data_dir: str, live: bool = False) -> bool:
    """Draw the job; returns True while it is still active. ``live``: leave its buttons and
    loss curve to their slower fragments."""
    jobs = resources.job_manager(data_dir)
    job = jobs.get(state.active_job())
    if job is None:
        return False
    st.subheader(f"{_ICONS.get(job.state, '')} {job.label}", anchor="training-job")
    active = job.state in ("queued", "running")
    if job.epochs:
        st.progress(min(job.epoch / job.epochs, 1.0),
                    text=f"Epoch {job.epoch} of at most {job.epochs}"
                         + (f" · {eta_text(job)}" if job.state == "running" else ""))
    elapsed = ""
    if active and job.started_at:
        elapsed = f" · {time.time() - job.started_at:.0f} s elapsed"
    if job.state != "failed":  # a failure is said once, in the error box below
        st.caption(job.message + elapsed)
    if job.engine:
        st.caption(where_text(job.engine))
    if active and job.steps:  # e.g. a leaderboard: one step per family
        st.progress(min(job.step / job.steps, 1.0),
                    text=f"Step {job.step} of {job.steps}: {job.message}")
    elif active and not job.epochs:  # a search's trials, a scikit-learn fit, a snapshot
        share, text = job_bar(job)
        st.progress(share, text=text)
    if job.history and not live:
        st.plotly_chart(history_figure(job.history), key="train__loss")
    if active and not live:
        _stop_buttons(jobs, job)
    if job.state == "failed":
        st.error(job.message)
    if job.state == "done" and job.run_id and job.kind == "leaderboard":
        st.success("The leaderboard is ready: see *Compare every model family* above; each "
                   "family's run is in Runs.")
    elif job.state == "done" and job.run_id:
        _done(data_dir, job)
    return active


@st.fragment(run_every=JOB_POLL_S)
def _live(data_dir: str) -> None:
    if not _render(data_dir, live=True):
        st.rerun()  # job ended: one full rerun shows the final state and stops polling


@st.fragment(run_every=CONTROLS_EVERY_S)
def _live_controls(data_dir: str) -> None:
    """The running job's Cancel and Stop-and-keep buttons (a click reruns this at once)."""
    jobs = resources.job_manager(data_dir)
    job = jobs.get(state.active_job())
    if job is not None and job.state in ("queued", "running"):
        _stop_buttons(jobs, job)


@st.fragment(run_every=CHART_EVERY_S)
def _live_chart(data_dir: str) -> None:
    """The running job's loss curve, redrawn every :data:`CHART_EVERY_S` seconds."""
    job = resources.job_manager(data_dir).get(state.active_job())
    if job is not None and job.history:
        st.plotly_chart(history_figure(job.history), key="train__loss")
        st.caption(f"Loss curve up to epoch {len(job.history)}; redrawn every "
                   f"{CHART_EVERY_S:.0f} s while the job runs (the bar above every "
                   f"{JOB_POLL_S:.0f} s).")


def recent_jobs_table(data_dir: str) -> None:
    """Jobs recorded in the workspace, including those a stopped server left *interrupted*."""
    from core.app import recent_jobs

    jobs = recent_jobs(resources.settings(), limit=10)
    live = {j.job_id: j.message for j in resources.job_manager(data_dir).list()}
    if jobs:  # the warehouse keeps a running job's first message; this server knows its latest
        with st.expander(f"Recent jobs ({len(jobs)})"):
            st.dataframe([{"job": j["label"] or j["kind"],
                           **{k: j[k] for k in ("state", "created_at", "run_id")},
                           "message": live.get(j["job_id"], j["message"])}
                          for j in jobs], hide_index=True, width="stretch")


def show_job(data_dir: str) -> None:
    """Show the active job: while it runs, its progress polled every :data:`JOB_POLL_S`, its buttons
    every :data:`CONTROLS_EVERY_S` seconds and its loss curve every :data:`CHART_EVERY_S`."""
    job = resources.job_manager(data_dir).get(state.active_job())
    if job is not None and job.state in ("queued", "running"):
        _live(data_dir)
        _live_controls(data_dir)
        _live_chart(data_dir)
    else:
        _render(data_dir)
