"""Bounded Streamlit caches around pure core functions. Keys include the data directory, so
workspaces never mix."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.app import JobManager, ensure_sample, mark_interrupted
from core.config import Settings, load_settings
from core.runs import LABEL_COL, SCORE_COL, Run, list_runs, load_run
from core.runs import column_names as runs_column_names
from core.warehouse import clean_litter


def settings() -> Settings:
    """The workspace settings (from ``LIFTLAB_DATA_DIR`` or ``data/``)."""
    return load_settings()


@st.cache_resource(max_entries=4, show_spinner="Opening the workspace …")
def job_manager(data_dir: str) -> JobManager:
    """The process's job manager for a workspace; created once, which also marks jobs of a dead
    server as interrupted and loads the sample on the very first start."""
    s = load_settings(data_dir)
    clean_litter(s)  # what a killed process left in tmp/ and runs/
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


@st.cache_data(max_entries=32, ttl=3600, show_spinner=False)
def column_names(data_dir: str, run_id: str) -> dict[str, str]:
    """SQL column name → the header the analyst's file had, for a run's columns
    (:func:`core.runs.column_names`)."""
    return runs_column_names(load_settings(data_dir), run(data_dir, run_id))


@st.cache_data(max_entries=8, ttl=3600, show_spinner="Profiling in DuckDB …")
def profile(data_dir: str, table: str, target: str | None, positive: str | None,
            hidden: tuple[str, ...], stamp: tuple):
    """A table's :class:`core.tables.TableProfile`; ``stamp`` (rows, columns) changes when
    the table is replaced."""
    from core.tables import profile_table
    from core.warehouse import connect

    with connect(load_settings(data_dir)) as con:
        return profile_table(con, table, target, positive, hidden)


def tables(data_dir: str) -> list:
    """The workspace's tables (:class:`core.warehouse.TableInfo`: name, rows, columns), read
    on one short connection each rerun (cheap, never stale)."""
    from core.warehouse import connect, list_tables

    with connect(load_settings(data_dir)) as con:
        return list_tables(con)


@st.cache_data(max_entries=16, ttl=3600, show_spinner=False)
def table_layout(data_dir: str, table: str, stamp: tuple) -> tuple[list[tuple[str, str]],
                                                                     tuple[str, ...]]:
    """A table's ``(column, type)`` pairs and its columns marked as personal data, on one
    connection; ``stamp`` (rows, columns) changes when the table is replaced."""
    from core.tables import load_marks
    from core.warehouse import connect, table_columns

    with connect(load_settings(data_dir)) as con:
        return table_columns(con, table), tuple(m.column for m in load_marks(con, table))


@st.cache_data(max_entries=16, ttl=3600, show_spinner="Reading the target …")
def target_info(data_dir: str, table: str, target: str, stamp: tuple):
    """``(summary, task, reason)`` of a target column: its :class:`core.features.TargetSummary`
    (computed once) and the task it suggests (:func:`core.features.task_of`)."""
    from core.features import summarize_target, task_of
    from core.warehouse import connect

    dtype = dict(table_layout(data_dir, table, stamp)[0])[target]
    with connect(load_settings(data_dir)) as con:
        summary = summarize_target(con, table, target)
    return (summary, *task_of(summary, dtype, target))


def leaking_columns(data_dir: str, table: str, target: str, positive: str,
                    stamp: tuple) -> dict[str, str]:
    """Columns the table's profile flags as likely leakage for a binary target (SQL name →
    warning), from the same cache as the Data page's profile."""
    hidden = table_layout(data_dir, table, stamp)[1]
    return profile(data_dir, table, target, positive, hidden, stamp).leaks


@st.cache_data(max_entries=16, ttl=3600, show_spinner="Checking the columns for leakage, "
                                                      "identifiers and personal data …")
def feature_flags(data_dir: str, table: str, target: str, positive: str | None, task: str,
                  stamp: tuple, treatment: str | None = None, treated: str | None = None,
                  ) -> dict:
    """The columns training leaves out by default (column → :class:`core.tables.Exclusion`):
    the same :func:`core.tables.choose_features` every training path runs; with a treatment
    column, post-treatment columns too. ``stamp`` changes when the table is replaced.

    Raises:
        SchemaError: E.g. an identifier as a regression target.
    """
    from core.specs import DatasetSpec
    from core.tables import choose_features
    from core.warehouse import connect

    spec = DatasetSpec(table, target, positive, task=task)
    with connect(load_settings(data_dir)) as con:
        choice = choose_features(con, spec, treatment, treated)
    return {e.column: e for e in choice.excluded}


def run_metrics_notes(data_dir: str, run_id: str) -> list[str]:
    """The notes of a saved run's metrics.json (any kind of run), e.g. that the analyst
    stopped it and its best epoch was kept."""
    import json

    path = load_settings(data_dir).runs_dir / run_id / "metrics.json"
    try:
        return list(json.loads(path.read_text()).get("notes") or [])
    except (OSError, ValueError):
        return []


def runs(data_dir: str) -> list[dict]:
    """Run summaries, newest first (read from disk each time: cheap, never stale)."""
    return list_runs(load_settings(data_dir))


@st.cache_resource(max_entries=8)
def curves(data_dir: str, run_id: str) -> dict:
    """Threshold table, ROC/PR points and ranking metrics of a run's test split, built once."""
    from core.evaluate import ThresholdTable, pr_points, ranking_metrics, roc_points

    t = run(data_dir, run_id).test_frame
    y, s = t[LABEL_COL].to_numpy(), t[SCORE_COL].to_numpy()
    return {"table": ThresholdTable.build(y, s), "roc": roc_points(y, s), "pr": pr_points(y, s),
            "ranking": ranking_metrics(y, s), "base_rate": float(np.mean(y)), "y": y, "s": s}


@st.cache_resource(max_entries=4, ttl=600, show_spinner="Scoring the population …")
def population(data_dir: str, run_id: str, table: str | None):
    """The population of a targeting scenario (test split, or a table scored by the run)."""
    from core.impact import load_population

    return load_population(load_settings(data_dir), run(data_dir, run_id), table)


@st.cache_data(max_entries=32, ttl=600, show_spinner="Simulating …")
def scenario(data_dir: str, run_id: str, table: str | None, inputs_json: str):
    """A simulated targeting scenario (inputs as JSON, so the cache key is plain text)."""
    import json

    from core.impact import ScenarioInputs, simulate_population

    inputs = ScenarioInputs.from_dict(json.loads(inputs_json))
    return simulate_population(population(data_dir, run_id, table), inputs)


@st.cache_resource(max_entries=4, ttl=600, show_spinner="Scoring the population …")
def uplift_population(data_dir: str, run_id: str, table: str | None):
    """The population of an uplift scenario (test split, or a table the run scores)."""
    from core.uplift import uplift_population as load

    return load(load_settings(data_dir), run(data_dir, run_id), table)


@st.cache_data(max_entries=32, ttl=600, show_spinner="Simulating …")
def uplift_scenario(data_dir: str, run_id: str, table: str | None, inputs_json: str) -> dict:
    """A simulated uplift scenario's summary, with its curves."""
    import json

    from core.impact import ScenarioInputs
    from core.uplift import simulate_uplift_population

    inputs = ScenarioInputs.from_dict(json.loads(inputs_json))
    return simulate_uplift_population(uplift_population(data_dir, run_id, table), inputs)


@st.cache_resource(max_entries=4)
def scored(data_dir: str, run_id: str):
    """A run's scored test split, any task (:class:`core.evaluate.ScoredSet`)."""
    from core.evaluate import scored_set

    return scored_set(run(data_dir, run_id))


@st.cache_resource(max_entries=4, show_spinner="Computing curves, intervals and deciles once …")
def evaluation(data_dir: str, run_id: str):
    """Everything threshold-independent about a binary run's test split, computed once."""
    from core.evaluate import evaluate_scores

    s = scored(data_dir, run_id)
    return evaluate_scores(s.y, s.output, s.classes[1], s.classes[0])


@st.cache_resource(max_entries=16, show_spinner="Splitting the test rows into segments …")
def segments(data_dir: str, run_id: str, column: str):
    """Per-segment cumulative counts of one column (cut at any threshold instantly)."""
    from core.evaluate import SegmentTables

    ev, s = evaluation(data_dir, run_id), scored(data_dir, run_id)
    return SegmentTables.build(ev.y, ev.s, s.frame[column], column)


@st.cache_resource(max_entries=4)
def explanation(data_dir: str, run_id: str, stamp: float):
    """The run's cached SHAP explanation (``stamp``: the cache file's mtime), or None."""
    from core.explain import load_explanation

    return load_explanation(run(data_dir, run_id))


@st.cache_resource(max_entries=1)
def _computed() -> dict:
    """Results computed with a progress bar, which a cached function cannot draw: kept here
    (the last few per kind) for every session of the process."""
    return {}


def permutation_importance(data_dir: str, run_id: str, progress=None):
    """Permutation importance (ROC-AUC drop) of a binary run on up to 2,000 test rows,
    computed once per run; ``progress(done, total, column)`` hears each column."""
    from core.explain import permutation_importance_run

    store = _computed().setdefault("permutation", {})
    key = (data_dir, run_id)
    if key not in store:
        store[key] = permutation_importance_run(run(data_dir, run_id), progress=progress)
        while len(store) > 4:
            store.pop(next(iter(store)))
    return store[key]


@st.cache_resource(max_entries=16, show_spinner=False)
def fairness(data_dir: str, run_id: str, by: str, threshold: float):
    """The :class:`core.fairness.FairnessReport` of a binary run at a threshold."""
    from core.fairness import run_fairness

    return run_fairness(load_settings(data_dir), run(data_dir, run_id), by, threshold)


@st.cache_resource(max_entries=16, show_spinner=False)
def partial_dependence(data_dir: str, run_id: str, column: str, rows: int):
    """Partial dependence and ICE of one column (:func:`core.explain.partial_dependence_run`)."""
    from core.explain import partial_dependence_run

    return partial_dependence_run(run(data_dir, run_id), column, rows=rows)


@st.cache_resource(max_entries=4, show_spinner=False)
def interactions(data_dir: str, run_id: str):
    """SHAP interaction values of a tree run on 200 test rows."""
    from core.explain import interaction_values_run

    return interaction_values_run(run(data_dir, run_id))


@st.cache_resource(max_entries=4)
def static_figures(data_dir: str, run_id: str) -> dict:
    """Calibration, gains and lift charts of a binary run (threshold-independent; never mutated)."""
    from core.evaluate import static_figures as build

    return build(evaluation(data_dir, run_id))


@st.cache_resource(max_entries=2)
def freeze_heap(tensorflow_loaded: bool) -> bool:
    """Put the objects of the libraries loaded so far out of the garbage collector's reach, once
    per process (and once more after TensorFlow loads: the key says whether it has).

    Streamlit collects garbage after every rerun (``runner.postScriptGC``); with TensorFlow's
    millions of objects in the heap that full collection alone took 0.3–0.7 s per threshold
    move. ``gc.freeze`` (after one collection) moves the long-lived objects to a permanent
    generation, so later collections only scan what reruns allocate.
    """
    import gc

    gc.collect()
    gc.freeze()
    return tensorflow_loaded


@st.cache_data(max_entries=8, ttl=3600, show_spinner="Reading value ranges …")
def dp_bounds_suggestion(data_dir: str, table: str, features: tuple[str, ...],
                         stamp: tuple) -> list[tuple]:
    """Preprocessing bounds read from a table's features, for the analyst to confirm or replace
    (:func:`core.privacy.suggest_bounds`)."""
    from core.privacy import suggest_bounds
    from core.warehouse import connect, read_table

    with connect(load_settings(data_dir)) as con:
        return suggest_bounds(read_table(con, table, list(features)))
