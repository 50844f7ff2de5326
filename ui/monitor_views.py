"""Monitor page pieces: the form (a large table monitored as a background job), alerts in
words, timelines, drift drill-down, data quality, and champion/challenger (retrain as a background job on Ray, compare, promote with a
reason)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.app import monitor_job, retrain_job, score_is_large
from core.errors import AppError
from core.monitor import (
    METRICS,
    PERIODS,
    Chunking,
    distribution_figure,
    load_monitor,
    monitor,
    monitor_history,
    timeline_figure,
)
from core.warehouse import connect, list_tables, table_columns
from ui import resources
from ui.analysis_job_views import follow
from ui.job_views import followed, job_panel
from ui.widgets import show_error

NAMES = {"roc_auc": "ROC-AUC", "precision": "Precision", "recall": "Recall", "f1": "F1",
         "drift_share": "Drifted features", "profit": "Scenario profit"}
MONITORABLE = ("binary", "multiclass", "regression")


def monitorable_runs(data_dir: str) -> list[dict]:
    """Runs with tabular features (classifiers and regressions), newest first."""
    return [r for r in resources.runs(data_dir) if r["task"] in MONITORABLE]


def tables_and_dates(settings, exclude: str | None = None) -> tuple[list[str], dict]:
    """Warehouse tables (the run's own last) and each table's date/timestamp columns."""
    with connect(settings) as con:
        tables = [t.table for t in list_tables(con)]
        dates = {t: [c for c, ty in table_columns(con, t)
                     if ty.upper().startswith(("DATE", "TIMESTAMP"))] for t in tables}
    tables.sort(key=lambda t: t == exclude)
    return tables, dates


def default_table(run_id: str, tables: list[str], own: str) -> int:
    """Index of the table to preselect: the one this run was last monitored on, else the first
    table that is not the run's own."""
    stored = monitor_history(resources.settings(), run_id=run_id)
    for t in [s["table"] for s in stored[:1]] + [t for t in tables if t != own]:
        if t in tables:
            return tables.index(t)
    return 0


def chunking_form(dates: list[str]) -> Chunking:
    """Equal chunks in table order, or periods of a date column."""
    modes = ["Equal chunks in table order"] + (["By a date column"] if dates else [])
    mode = st.radio("Chunks", modes, horizontal=True, key="monitor__mode")
    if mode == modes[0]:
        n = st.number_input("Number of chunks", 1, 200, 4, key="monitor__n")
        return Chunking(n_chunks=int(n))
    left, right = st.columns(2)
    col = left.selectbox("Date column", dates, key="monitor__time")
    period = right.selectbox("Period", PERIODS, index=2, key="monitor__period")
    return Chunking(col, period)


MONITOR_JOB = "monitor__check_job"  # not "monitor__job": the retrain's
ADOPTED = "monitor__adopted"  # the background job whose result this session already showed


def run_monitor(data_dir: str, run_id: str, table: str, chunking: Chunking) -> str | None:
    """Monitor and remember the result's id; shows a domain error instead of raising. A table
    of more rows than :func:`core.app.score_is_large` allows is monitored as a background job
    (followed by :func:`follow_monitor_job`); returns None then."""
    settings = resources.settings()
    try:
        with connect(settings) as con:
            rows = {t.table: t.rows for t in list_tables(con)}.get(table, 0)
        if score_is_large(rows):
            st.session_state[MONITOR_JOB] = resources.job_manager(data_dir).submit(
                **monitor_job(settings, resources.run(data_dir, run_id), table, chunking))
            st.info(f"'{table}' has {rows:,} rows: it is monitored in the background, so the "
                    f"app stays responsive. The result shows here when it is ready.",
                    icon=":material/directions_run:")
            return None
    except AppError as err:
        show_error(err)
        return None
    try:
        with st.spinner(f"Scoring '{table}' and testing every feature …"):
            res = monitor(resources.settings(), resources.run(data_dir, run_id), table, chunking)
    except AppError as err:
        show_error(err)
        return None
    st.session_state["monitor__result"] = res["monitor_id"]
    return res["monitor_id"]


def follow_monitor_job(data_dir: str, run_id: str, table: str) -> bool:
    """Show a background monitoring of ``run_id`` on ``table`` (progress, Cancel, how it
    ended); once it is done, its result becomes the one the page shows (once: a later
    monitoring in this session is not overridden). Returns whether it is still running."""
    job = follow(data_dir, MONITOR_JOB, "monitor", {"run_id": run_id, "table": table})
    if job is not None and job.state == "done" and st.session_state.get(ADOPTED) != job.job_id:
        st.session_state["monitor__result"] = job.result["monitor_id"]
        st.session_state[ADOPTED] = job.job_id
    return job is not None and job.state in ("queued", "running")


def latest_result(run_id: str, table: str) -> dict | None:
    """This session's result for the run and table, else the newest stored one."""
    settings = resources.settings()
    chosen = st.session_state.get("monitor__result")
    if chosen:
        res = load_monitor(settings, chosen)
        if res and res["run_id"] == run_id and res["table"] == table:
            return res
    stored = monitor_history(settings, run_id=run_id, table=table)
    return load_monitor(settings, stored[0]["monitor_id"]) if stored else None


def headline(res: dict) -> None:
    """Verdict first: dataset drift, alerting chunks, the last chunk's estimate."""
    chunks = res["chunks"]
    last = chunks[-1] if chunks else None
    cols = st.columns(4)
    cols[0].metric("Dataset drift", "yes" if res["dataset_drift"] else "no")
    alerting = sum(1 for c in chunks if c["alerts"])
    cols[1].metric("Chunks with alerts", f"{alerting} of {len(chunks)}")
    trained = res["reference"]["training_metrics"].get("roc_auc")
    est = (last.get("estimated") or {}).get("roc_auc") if last else None
    if est is not None:
        delta = f"{est - trained:+.3f} vs training" if trained is not None else None
        cols[2].metric(f"ROC-AUC estimated, {last['chunk']}", f"{est:.3f}", delta)
    real = (last.get("realized") or {}).get("roc_auc") if last else None
    if real is not None:
        delta = f"{real - trained:+.3f} vs training" if trained is not None else None
        cols[3].metric(f"ROC-AUC realised, {last['chunk']}", f"{real:.3f}", delta)
    if res["alerts"]:
        st.error("\n".join(f"- {a}" for a in res["alerts"]))
    else:
        st.success("No alert: the new rows look like the reference and performance holds.")
    with st.expander("Alerts per chunk"):
        for c in chunks:
            st.markdown(f"**{c['chunk']}** ({c['rows']:,} rows)" + ("" if c["reliable"] else
                        " — estimates unreliable"))
            st.markdown("\n".join(f"- {a}" for a in c["alerts"]) or "No alert.")
    for note in res.get("notes", []):
        st.caption(note)


def performance_tab(res: dict) -> None:
    """Timelines of the estimated and realised metrics, with the expected range."""
    binary = any(c.get("estimated") for c in res["chunks"])
    if not binary:
        st.info("Performance is estimated for binary runs; this run shows drift and quality.")
        return
    keys = [*METRICS] + (["profit"] if res["reference"].get("scenario") else [])
    key = st.radio("Metric", keys, format_func=NAMES.get, horizontal=True,
                   key="monitor__metric")
    st.plotly_chart(timeline_figure(res, key), key=f"monitor__timeline_{key}")
    band = (" Band: the reference (test split) resampled at each chunk's size, ± 3 standard "
            "deviations." if key != "profit" else " Profit of the run's newest saved Impact "
            "scenario on each chunk.")
    st.caption(res["chunks"][0]["estimated"]["assumption"] + band)
    table = performance_table(res)
    st.dataframe(table, hide_index=True, width="stretch", column_config={
        c: st.column_config.NumberColumn(format="%.0f" if "profit" in c else "%.3f")
        for c in table.columns if c.endswith(("est.", "real."))})


def performance_table(res: dict) -> pd.DataFrame:
    """One row per chunk: estimated and realised metrics side by side."""
    rows = []
    for c in res["chunks"]:
        est, real = c.get("estimated") or {}, c.get("realized") or {}
        row = {"chunk": c["chunk"], "rows": c["rows"], "reliable": "yes" if c["reliable"] else "no"}
        for k in METRICS:
            row[f"{NAMES[k]} est."] = est.get(k)
            row[f"{NAMES[k]} real."] = real.get(k)
        for src, label in ((est, "profit est."), (real, "profit real.")):
            row[label] = (src.get("business") or {}).get("profit")
        rows.append(row)
    return pd.DataFrame(rows).dropna(axis=1, how="all")


def drift_tab(res: dict) -> None:
    """Share of drifted features per chunk, the per-feature table and a drill-down."""
    st.plotly_chart(timeline_figure(res, "drift_share"), key="monitor__drift_share")
    table = drift_table(res)
    st.dataframe(table, width="stretch", height=min(38 + 35 * len(table), 560))
    first = res["chunks"][0]["drift"]["features"][0]["feature"] if res["chunks"] else None
    features = list(res["distributions"])
    left, right = st.columns(2)
    feature = left.selectbox("Feature", features,
                             index=features.index(first) if first in features else 0,
                             key="monitor__feature")
    chunk = right.selectbox("Chunk", [c["chunk"] for c in res["chunks"]],
                            index=len(res["chunks"]) - 1, key="monitor__chunk")
    st.plotly_chart(distribution_figure(res, feature, chunk), key="monitor__dist")
    mv = [(c["chunk"], c["drift"].get("multivariate")) for c in res["chunks"]]
    shown = [f"{ch}: ROC-AUC {m['statistic']:.2f} (threshold {m['threshold']:.2f})"
             for ch, m in mv if m and m.get("statistic") is not None]
    if shown:
        st.caption("Domain classifier (can a model tell new rows from the reference?): "
                   + "; ".join(shown) + ".")


def drift_table(res: dict) -> pd.DataFrame:
    """Features × chunks: the statistic, marked ✖ when drifted, with the method."""
    data, methods = {}, {}
    for c in res["chunks"]:
        for f in c["drift"]["features"]:
            value = f["p_value"] if f["p_value"] is not None else f["statistic"]
            data.setdefault(f["feature"], {})[c["chunk"]] = (
                f"{'✖ ' if f['drifted'] else ''}{value:.3g}")
            methods[f["feature"]] = f"{f['method']} ({'p <' if f['p_value'] is not None else '≥'}"\
                                    f" {f['threshold']:g})"
    frame = pd.DataFrame.from_dict(data, orient="index")
    frame.insert(0, "test (drift when)", pd.Series(methods))
    drifted = frame.apply(lambda r: sum(str(v).startswith("✖") for v in r), axis=1)
    return frame.loc[drifted.sort_values(ascending=False, kind="stable").index]


def quality_tab(res: dict) -> None:
    """Rows outside what the model saw, and missing values, per chunk."""
    rows = []
    for c in res["chunks"]:
        q = c["quality"]
        rows.append({"chunk": c["chunk"], "rows": c["rows"],
                     "reliable": "yes" if c["reliable"] else "no",
                     "unseen categories (rows)": q["unseen_share"],
                     "outside training range (rows)": q["out_of_range_share"],
                     "missing rose in": ", ".join(q["missing_increase"]) or "—"})
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", column_config={
        k: st.column_config.NumberColumn(format="percent")
        for k in ("unseen categories (rows)", "outside training range (rows)")})
    if res["chunks"]:
        st.caption(f"Checked against {res['chunks'][0]['quality']['checked_against']}. A chunk "
                   f"with more than 5% of rows outside what the model saw is unreliable: its "
                   f"estimates extrapolate.")


def _challenger_done(job) -> None:
    st.session_state["monitor__job_done"] = job.run_id  # preselected as the challenger below
    versions = ", ".join(f"{m} v{v}" for m, v in job.result.get("models", {}).items())
    st.success(f"Challenger trained: run `{job.run_id}` on `{job.result.get('table')}`"
               + (f" (added as {versions})" if versions else "") + ". Compare it below.")


def retrain_form(data_dir: str, run_id: str, tables: list[str], current: str) -> None:
    """Queue a challenger's training on a new window as a background job (``current``, the
    monitored table, preselected), on Ray like a training job: the worker reads a snapshot of
    the tables and trains; the server then writes the window table, the run, its lineage and
    its model-registry versions in one transaction (:class:`core.app.JobManager`,
    :func:`core.app.retrain_job`). Its progress and Cancel button follow below, also after a
    visit to another page."""
    left, right = st.columns([2, 1])
    table = left.selectbox("New labelled rows", tables, key="monitor__retrain_table",
                           index=tables.index(current) if current in tables else 0)
    plus = right.checkbox("Plus the run's own rows", key="monitor__retrain_plus")
    running = followed(data_dir, "monitor__job", "retrain")
    busy = running is not None and running.state in ("queued", "running")
    if st.button("Retrain a challenger", key="monitor__retrain", disabled=busy,
                 help="A retrain is running; cancel it or wait." if busy else None):
        try:
            kwargs = retrain_job(resources.settings(), run_id, table, plus)
        except AppError as err:
            show_error(err)
            return
        st.session_state["monitor__job"] = resources.job_manager(data_dir).submit(**kwargs)
        st.rerun()
    job_panel(data_dir, "monitor__job", "retrain", _challenger_done)
