"""Bounded Streamlit caches around pure core functions. Keys include the data directory, so
workspaces never mix."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.config import Settings, load_settings
from core.jobs import JobManager, mark_interrupted
from core.runs import LABEL_COL, SCORE_COL, Run, list_runs, load_run
from core.workspace import ensure_sample


def settings() -> Settings:
    """The workspace settings (from ``LIFTLAB_DATA_DIR`` or ``data/``)."""
    return load_settings()


@st.cache_resource(max_entries=4, show_spinner="Opening the workspace …")
def job_manager(data_dir: str) -> JobManager:
    """The process's job manager for a workspace; created once, which also marks jobs of a dead
    server as interrupted and loads the sample on the very first start."""
    s = load_settings(data_dir)
    mark_interrupted(s)
    ensure_sample(s)
    return JobManager(s)


@st.cache_resource(max_entries=1, show_spinner="Looking for a GPU …")
def device_label() -> str:
    """One line naming the training device (imports TensorFlow once per process)."""
    from core.device import detect_devices

    return detect_devices().label


@st.cache_resource(max_entries=8)
def run(data_dir: str, run_id: str) -> Run:
    """A saved run (model loaded lazily, once)."""
    return load_run(load_settings(data_dir), run_id)


def runs(data_dir: str) -> list[dict]:
    """Run summaries, newest first (read from disk each time: cheap, never stale)."""
    return list_runs(load_settings(data_dir))


@st.cache_resource(max_entries=8)
def curves(data_dir: str, run_id: str) -> dict:
    """Threshold table, ROC/PR points and ranking metrics of a run's test split, built once."""
    from core.metrics import ThresholdTable, pr_points, ranking_metrics, roc_points

    t = run(data_dir, run_id).test_frame
    y, s = t[LABEL_COL].to_numpy(), t[SCORE_COL].to_numpy()
    return {"table": ThresholdTable.build(y, s), "roc": roc_points(y, s), "pr": pr_points(y, s),
            "ranking": ranking_metrics(y, s), "base_rate": float(np.mean(y)), "y": y, "s": s}
