"""Runs page pieces: the run table, comparison, delete with confirmation, export/import, scoring."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.app import export_run, import_run, score_is_large, score_job, score_table
from core.errors import AppError
from core.evaluate import metric_name, pr_points, roc_points
from core.plots import overlay_curves_figure
from core.runs import (
    LABEL_COL,
    NOT_USED,
    SCORE_COL,
    compare_runs,
    comparison_problem,
    default_comparison,
    delete_run,
)
from core.warehouse import connect, list_tables, read_table
from ui import resources, state
from ui.analysis_job_views import follow
from ui.widgets import errors_shown, show_error

SCORE_JOB = "runs__score_job"
HEADLINE = {"binary": "roc_auc", "multiclass": "accuracy", "regression": "r2",
            "next_item": "hit_rate@10", "uplift": "qini_coefficient"}


def runs_table(runs: list[dict]) -> pd.DataFrame:
    """One row per run with its headline metric (next to the run), for a sortable table."""
    rows = []
    for r in runs:
        key = HEADLINE.get(r["task"], "roc_auc")
        rows.append({"run": r["run_id"], "model": r["model"], "task": r["task"],
                     "metric": key, "value": r["metrics"].get(key), "table": r["table"],
                     "target": r["target"], "created": str(r["created_at"])[:19].replace("T", " "),
                     "seconds": r.get("duration_s"), "device": r.get("device")})
    return pd.DataFrame(rows)


def _fit(rows: int) -> int:
    """A table height in pixels that shows every row (up to 25) without scrolling."""
    return 38 + 35 * min(max(rows, 1), 25)


def default_pair(runs: list[dict]) -> list[str]:
    """The newest two comparable runs (same task, ideally same table and target), or none."""
    return default_comparison(runs)


def comparison(data_dir: str, chosen: list[dict]) -> None:
    """Metrics side by side, differing parameters, overlaid ROC and PR curves (binary runs).

    Args:
        data_dir: The workspace's data directory.
        chosen: Summaries (as in :func:`core.runs.list_runs`) of the 2–4 runs to compare.
    """
    problem = comparison_problem(chosen)
    if problem is not None and problem[0] == "error":
        st.warning(problem[1])
        return
    if problem is not None:
        st.info(problem[1])
    run_ids = [r["run_id"] for r in chosen]
    settings = resources.settings()
    try:
        metrics, params = compare_runs(settings, run_ids)
    except AppError as err:  # the rest of the page (manage, import) keeps rendering
        show_error(err)
        return
    st.caption("Test-split metrics as saved at training (4 decimals; blank = not computed for "
               "that run). Threshold metrics are at 0.5; pick a threshold on Evaluate.")
    metrics = metrics.rename(index=metric_name)
    st.dataframe(metrics, width="stretch", height=_fit(len(metrics)), column_config={
        "_index": st.column_config.TextColumn("metric"),
        **{r: st.column_config.NumberColumn(r, format="%.4f", width="medium") for r in run_ids}})
    st.caption(f"Settings that differ ({NOT_USED} = the model does not use that setting).")
    st.dataframe(params, width="stretch", height=_fit(len(params)), column_config={
        "_index": st.column_config.TextColumn("setting"),
        **{r: st.column_config.TextColumn(r, width="medium") for r in run_ids}})
    binary = [r for r in run_ids if resources.run(data_dir, r).task == "binary"]
    if len(binary) >= 2:
        roc, pr = {}, {}
        for r in binary:
            t = resources.run(data_dir, r).test_frame
            y, s = t[LABEL_COL].to_numpy(), t[SCORE_COL].to_numpy()
            p, q = roc_points(y, s), pr_points(y, s)
            roc[r], pr[r] = (p["fpr"], p["tpr"]), (q["recall"], q["precision"])
        left, right = st.columns(2)
        left.plotly_chart(overlay_curves_figure(roc, "roc"), key="runs__roc")
        right.plotly_chart(overlay_curves_figure(pr, "pr"), key="runs__pr")


def manage(data_dir: str, run_id: str) -> None:
    """Download, delete (after confirmation) and batch-score one run."""
    settings = resources.settings()
    c1, c2 = st.columns(2)
    with errors_shown():
        c1.download_button("Download run (.zip)", export_run(settings, run_id),
                           file_name=f"{run_id}.zip", mime="application/zip", key="runs__export")
    sure = c2.checkbox(f"Yes, delete run {run_id} and its files", key="runs__confirm")
    if c2.button("Delete run", disabled=not sure, key="runs__delete"):
        with errors_shown():
            delete_run(settings, run_id)
        resources.run.clear()
        if state.active_run() == run_id:
            state.set_active_run(None)
        st.rerun()
    run = resources.run(data_dir, run_id)
    if run.task not in ("binary", "multiclass", "regression"):
        return
    with errors_shown(), connect(settings) as con:
        rows = {t.table: t.rows for t in list_tables(con)}
    c1, c2 = st.columns(2)
    table = c1.selectbox("Score another table with this run", list(rows),
                         key="runs__score_table")
    out_name = c2.text_input("Output table", f"{table}_scored", key=f"runs__score_out_{table}")
    replace = c2.checkbox("Replace my earlier scored table of that name",
                          key="runs__score_replace")
    if st.button("Score table", key="runs__score"):
        if score_is_large(rows.get(table, 0)):
            with errors_shown():  # a name that would replace a raw table: refused here
                st.session_state[SCORE_JOB] = resources.job_manager(data_dir).submit(
                    **score_job(settings, run, table, out_name, replace))
            st.info(f"'{table}' has {rows[table]:,} rows: it is scored in the background, so "
                    f"the app stays responsive.", icon=":material/directions_run:")
        else:
            _score_now(settings, run, table, out_name, replace)
    job = follow(data_dir, SCORE_JOB, "score", {"run_id": run_id})
    if job is not None and job.state == "done":
        with errors_shown(), connect(settings) as con:
            head = read_table(con, job.result["table"], limit=20)
        st.dataframe(head, hide_index=True, width="stretch")
        st.caption(f"The first {len(head)} of {job.result['rows']:,} rows of "
                   f"`{job.result['table']}`; the whole table is in the warehouse (Data page, "
                   f"or `python -m core sql`).")


def _score_now(settings, run, table: str, out_name: str, replace: bool) -> None:
    """A small table: scored here, with its scores to download."""
    with st.spinner("Scoring …"), errors_shown():
        out = score_table(settings, run, table, out_name, replace)
        with connect(settings) as con:
            scored = read_table(con, out["table"])
    st.success(f"Wrote {out['rows']:,} scored rows to table `{out['table']}`.")
    st.download_button("Download scores (.csv)", scored.to_csv(index=False),
                       file_name=f"{out['table']}.csv", key="runs__csv")


def importer() -> None:
    """Upload a run archive exported by another LiftLab."""
    upload = st.file_uploader("Import a run (.zip exported by LiftLab)", type=["zip"],
                              key="runs__import")
    if upload is not None and st.button("Import run", key="runs__import_go"):
        with errors_shown():
            run_id = import_run(resources.settings(), upload.getvalue())
        st.success(f"Imported run `{run_id}`.")
