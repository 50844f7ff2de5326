"""Champion and challenger on the Monitor page: compare on the same labelled rows, promote under
a model name with a confirmation and a reason, read the promotion log."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.errors import AppError
from core.monitor import METRICS, compare_runs_on, list_models, promote
from ui import resources
from ui.widgets import initial, run_label, show_error

NAMES = {"roc_auc": "ROC-AUC", "precision": "Precision", "recall": "Recall", "f1": "F1"}


def comparison_table(res: dict) -> pd.DataFrame:
    """Metric rows: champion, challenger, difference and its paired 95% interval."""
    rows = []
    for k in METRICS:
        m = res["metrics"][k]
        ci = m["ci95"]
        rows.append({"metric": NAMES[k], "champion": m["a"], "challenger": m["b"],
                     "difference": m["diff"],
                     "95% CI of the difference": f"[{ci[0]:+.4f}, {ci[1]:+.4f}]" if ci else "—"})
    p = res["profit"]
    if p.get("a") is not None:
        ci = p["ci95"]
        rows.append({"metric": f"Profit ({p['scenario']})", "champion": p["a"],
                     "challenger": p["b"], "difference": p["diff"],
                     "95% CI of the difference": f"[{ci[0]:+,.0f}, {ci[1]:+,.0f}]" if ci else "—"})
    return pd.DataFrame(rows)


def compare_form(data_dir: str, champion: str, runs: list[dict], tables: list[str]) -> None:
    """Pick a challenger and labelled rows; show the paired comparison."""
    same = [r for r in runs if r["run_id"] != champion and r["task"] == "binary"]
    if not same:
        st.caption("Train or retrain a challenger first.")
        return
    labels = {r["run_id"]: run_label(r) for r in same}
    fresh = st.session_state.get("monitor__job_done")
    ids = list(labels)
    if fresh in ids and st.session_state.get("monitor__preselected") != fresh:
        # a challenger just trained: chosen once, even where the box already held another run
        st.session_state["monitor__challenger"] = st.session_state["monitor__preselected"] = fresh
    left, right = st.columns(2)
    challenger = left.selectbox("Challenger", ids, index=initial("monitor__challenger", 0, 0),
                                format_func=labels.get, key="monitor__challenger")
    table = right.selectbox("Labelled rows to compare on", tables, key="monitor__compare_table")
    if st.button("Compare on the same rows", key="monitor__compare"):
        try:
            with st.spinner("Scoring both runs and bootstrapping the differences …"):
                res = compare_runs_on(resources.settings(), resources.run(data_dir, champion),
                                      resources.run(data_dir, challenger), table, n_boot=500)
        except AppError as err:
            show_error(err)
            return
        st.session_state["monitor__comparison"] = res
    res = st.session_state.get("monitor__comparison")
    if res and res["run_a"] == champion and res["run_b"] == challenger:
        for warning in res.get("warnings", []):
            st.warning(warning)
        st.dataframe(comparison_table(res), hide_index=True, width="stretch")
        st.caption(f"{res['rows']:,} labelled rows of '{res['table']}' ({res['positives']:,} "
                   f"positive); {res['note']}")


def promote_form(champion: str, challenger: str | None) -> None:
    """Promote a run under a model name after a confirmation and a reason."""
    models = list_models(resources.settings())
    names = [m["model"] for m in models]
    left, right = st.columns(2)
    name = left.text_input("Model name", value=names[0] if names else "campaign",
                           key="monitor__model_name")
    run_id = right.selectbox("Run to promote", [r for r in (challenger, champion) if r],
                             key=f"monitor__promote_run_{challenger}")
    why = st.text_area("Why (kept in the promotion log)", key="monitor__why",
                       placeholder="e.g. challenger's ROC-AUC higher on March rows, interval of "
                                   "the difference above zero")
    sure = st.checkbox(f"I confirm: `{run_id}` becomes the champion of '{name}'",
                       key="monitor__confirm")
    if st.button("Promote", disabled=not (sure and why.strip()), key="monitor__promote"):
        try:
            res = promote(resources.settings(), name, run_id, why)
        except AppError as err:
            show_error(err)
            return
        st.success(f"'{res['model']}' champion: `{res['champion']}` (version {res['version']}"
                   f"; previous: {res['previous'] or 'none'}).")
        models = list_models(resources.settings())
    history_table(models)


def history_table(models: list[dict]) -> None:
    """Every promotion of every model name, newest first."""
    rows = [{"model": m["model"], "when": h["at"][:19], "from": h["from"] or "—", "to": h["to"],
             "why": h["why"],
             "evidence": "comparison" if (h["evidence"] or {}).get("comparison") else "—"}
            for m in models for h in m["history"]]
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
