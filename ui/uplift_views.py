"""Streamlit glue for uplift: the training section of the Train page and the Impact view of an
uplift run (incremental conversions and profit, uplift and Qini curves, segments, A/B test)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import streamlit as st

from core.errors import AppError
from core.features import summarize_target
from core.impact import (
    Decision,
    ScenarioInputs,
    incremental_figure,
    segments_figure,
    uplift_curve_figure,
)
from core.specs import MODEL_LABELS, MODELS, DatasetSpec, Economics, ModelConfig
from core.uplift import LEARNER_LABELS, LEARNERS, TREATED_LIKE, UpliftConfig, uplift_segments
from core.warehouse import connect, table_columns
from ui import abtest_views, resources, state
from ui.impact_views import KEEP, population_choice
from ui.widgets import errors_shown, initial, link_to, show_error


def _treatment_choice(table: str, target: str) -> tuple[str | None, str | None]:
    settings = resources.settings()
    with errors_shown(), connect(settings) as con:
        cols = [c for c, _ in table_columns(con, table) if c != target]
    liked = [c for c in cols if any(w in c.lower() for w in ("treat", "campaign", "group",
                                                              "offer", "contact", "email",
                                                              "mail"))]
    key = f"uplift__treatment_{table}"
    treatment = st.selectbox("Treatment column (who got the campaign, assigned at random)",
                             cols, index=initial(key, cols.index(liked[0]) if liked else 0, 0),
                             key=key)
    with errors_shown(), connect(settings) as con:
        values = summarize_target(con, table, treatment).classes
    if len(values) != 2:
        st.error(f"'{treatment}' has {len(values)} values; a treatment column has exactly two "
                 f"(treated and control).")
        return None, None
    default = next((i for i, v in enumerate(values) if v.lower() in TREATED_LIKE), 0)
    key = f"uplift__treated_{table}_{treatment}"
    treated = st.radio("Value meaning treated", values, index=initial(key, default, 0),
                       horizontal=True, key=key)
    return treatment, treated


def _busy(data_dir: str) -> bool:
    jobs = resources.job_manager(data_dir).list()
    return any(j.state in ("queued", "running") for j in jobs)


def _left_out(data_dir: str, table: str, target: str, positive: str | None, treatment: str,
              treated: str) -> dict:
    """The columns left out by default (column → exclusion): leakage, identifiers, personal
    data and, from the arms' balance, post-treatment columns; said in a caption."""
    info = {t.table: t for t in resources.tables(data_dir)}[table]
    with errors_shown():
        flagged = resources.feature_flags(data_dir, table, target, positive, "binary",
                                          (info.rows, info.columns), treatment, treated)
    if flagged:
        st.caption(":material/block: Left out by default (untick to use anyway): " + "; ".join(
            f"**{e.original_name}** ({e.reason})" for e in flagged.values()),
            help="\n\n".join(e.detail for e in flagged.values()))
    else:
        st.caption("No column differs between treated and control more than randomisation "
                   "allows, and none leaks the outcome.")
    return flagged


def uplift_training_form(data_dir: str, table: str, target: str,
                         positive: str | None = None) -> None:
    """Train an uplift model (T-, S-learner or class transformation) on a randomised table.

    Runs in the page (a minute at most for the baselines); Keras families wait for the
    background training job to finish, since Keras fits must not interleave in one process.
    Columns the profile flags (leakage, identifiers, personal data) and columns that differ
    between the arms more than randomisation allows (post-treatment) are left out by default,
    and the caption says which and why.

    Args:
        data_dir: The workspace folder.
        table: The table with outcomes and a treatment/control column.
        target: The binary outcome column.
        positive: Its positive class (None: LiftLab's suggestion).
    """
    st.subheader("Uplift model")
    st.caption("Predicts who converts *because* of the campaign: the conversion probability if "
               "treated minus if not, learned from a randomised treatment/control split.")
    treatment, treated = _treatment_choice(table, target)
    if treatment is None:
        return
    flagged = _left_out(data_dir, table, target, positive, treatment, treated)
    with st.form("uplift__form"):
        c1, c2, c3 = st.columns(3)
        learner = c1.radio("Approach", LEARNERS, format_func=LEARNER_LABELS.get,
                           key="uplift__learner")
        model = c2.selectbox("Model family", MODELS, index=MODELS.index("hgb"),
                             format_func=MODEL_LABELS.get, key="uplift__model")
        epochs = c3.number_input("Epochs (Keras families)", 1, 500, 20, key="uplift__epochs")
        with errors_shown(), connect(resources.settings()) as con:
            others = [c for c, _ in table_columns(con, table) if c not in (target, treatment)]
        key = f"uplift__exclude_{table}_{treatment}"
        leave = st.multiselect("Leave out (columns known only after the treatment or the "
                               "outcome)", others, default=initial(key, list(flagged)), key=key)
        go = st.form_submit_button("Train uplift model", type="primary")
    if go:
        features = tuple(c for c in others if c not in leave)
        if not features:
            st.error("Keep at least one column besides the target and the treatment.")
            return
        _train(data_dir, DatasetSpec(table, target, positive, features=features),
               ModelConfig.of(model=model, epochs=int(epochs)),
               UpliftConfig(treatment, treated, learner))


def _train(data_dir: str, spec: DatasetSpec, cfg: ModelConfig, up: UpliftConfig) -> None:
    from core.uplift import train_uplift

    if cfg.is_keras and _busy(data_dir):
        st.warning("A training job is running; Keras fits cannot run side by side. Train the "
                   "uplift model when it has finished, or pick a scikit-learn family.")
        return
    status = st.empty()
    try:
        with st.spinner("Training the uplift model …"):
            result = train_uplift(resources.settings(), spec, cfg, up,
                                  lambda e: e.get("message") and status.caption(e["message"]))
    except AppError as err:
        show_error(err)
        return
    status.empty()
    state.set_active_run(result.run_id)
    m, ci = result.metrics["metrics"], result.metrics["ci95"]
    cols = st.columns(4)
    labels = ("Qini coefficient", "AUUC", "Uplift in top 10%", "Uplift in top 30%")
    for col, key, label in zip(cols, ("qini_coefficient", "auuc", "uplift_at_10", "uplift_at_30"),
                               labels):
        lo_hi = ci.get(key)
        col.metric(label, f"{m[key]:.3f}",
                   help=f"95% CI {lo_hi[0]:.3f} – {lo_hi[1]:.3f}" if lo_hi else None)
    for note in result.metrics["notes"]:
        st.warning(note)
    st.success(f"Saved run {result.run_id}.")
    link_to("pages/impact.py", "Simulate its campaign on Impact", ":material/payments:")


def _controls(data_dir: str, run) -> tuple[str | None, ScenarioInputs]:
    c1, c2, c3 = st.columns(3)
    share = c1.slider("Share of customers to treat", 0.01, 1.0, 0.3, 0.01, format="%.2f",
                      key="uplift__fraction", **KEEP)
    cost = c2.number_input("Cost of treating one customer", 0.0, 1e6, 1.0, 0.5,
                           key="uplift__cost", **KEEP)
    value = c3.number_input("Value of one conversion", 0.01, 1e9, 50.0, 5.0, key="uplift__value",
                            **KEEP)
    table = population_choice(data_dir, run.config.table, "uplift__population")
    with st.expander("Fixed campaign cost"):
        fixed = st.number_input("Fixed campaign cost", 0.0, 1e12, 0.0, 100.0, key="uplift__fixed",
                                **KEEP)
    with errors_shown():
        return table, ScenarioInputs(Decision("fraction", share), Economics(cost, value, fixed),
                                     n_bootstrap=1000, seed=42)


def _ci(lo_hi, pattern: str = "{:,.0f}") -> str:
    return f"95% CI {pattern.format(lo_hi[0])} – {pattern.format(lo_hi[1])}" if lo_hi else ""


def _headline(s: dict) -> None:
    u, prop, every = s["uplift"], s["propensity"], s["everyone"]
    cols = st.columns(4)
    cols[0].metric("Incremental conversions", f"{s['incremental_conversions']:,.0f}",
                   help=_ci(s["incremental_conversions_ci95"]))
    cols[1].metric("Incremental profit", f"{s['incremental_profit']:,.0f}",
                   help=_ci(s["incremental_profit_ci95"]),
                   delta=None if prop is None else
                   f"{s['incremental_profit'] - prop['incremental_profit']:+,.0f} vs propensity")
    cols[2].metric("Treat everyone", f"{every['incremental_profit']:,.0f}",
                   help=f"{every['incremental_conversions']:,.0f} incremental conversions")
    cols[3].metric("Best share to treat", f"{u['best_fraction']:.0%}",
                   help=f"Incremental profit there {u['best_profit']:,.0f}")
    basis = ("measured on the randomised sample" if u["outcomes"] == "observed" else
             "expected from the predicted probabilities")
    text = (f"Treating the **{u['fraction']:.0%}** with the highest predicted uplift "
            f"({u['treated']:,} customers) brings **{s['incremental_conversions']:,.0f}** "
            f"conversions that would not happen otherwise "
            f"({_ci(s['incremental_conversions_ci95'])}), {basis}.")
    if prop is not None:
        text += (f" Ranking the same number by propensity brings "
                 f"{prop['incremental_conversions']:,.0f} "
                 f"({_ci(prop['incremental_conversions_ci95'])}).")
    st.markdown(text)


def _metrics_table(run) -> pd.DataFrame:
    m, ci = run.metrics["metrics"], run.metrics.get("ci95", {})
    rows = [(label, m[k], *(ci.get(k) or (np.nan, np.nan))) for k, label in
            (("qini_coefficient", "Qini coefficient"), ("auuc", "AUUC"),
             ("uplift_at_10", "Uplift in top 10%"), ("uplift_at_30", "Uplift in top 30%"))]
    return pd.DataFrame(rows, columns=["metric", "test split", "95% low", "95% high"]).round(4)


def uplift_impact(data_dir: str, run) -> None:
    """The Impact page for an uplift run."""
    up = run.config.uplift
    st.caption(f"Uplift run · {LEARNER_LABELS[up.learner]} with "
               f"{MODEL_LABELS.get(run.config.model, run.config.model)} · treatment "
               f"'{up.treatment}' = '{up.treated_value}'")
    table, inputs = _controls(data_dir, run)
    with errors_shown():
        s = resources.uplift_scenario(data_dir, run.run_id, table, json.dumps(inputs.to_dict()))
        pop = resources.uplift_population(data_dir, run.run_id, table)
    _headline(s)
    tabs = st.tabs(["Incremental", "Uplift and Qini curves", "Segments", "A/B test"])
    curve, frac = s["uplift"]["curve"], s["uplift"]["fraction"]
    with tabs[0]:
        left, right = st.columns(2)
        left.plotly_chart(incremental_figure(curve, frac), key="uplift__inc")
        right.plotly_chart(incremental_figure(curve, frac, money=True), key="uplift__incp")
    with tabs[1]:
        st.dataframe(_metrics_table(run), hide_index=True)
        left, right = st.columns(2)
        left.plotly_chart(uplift_curve_figure(run.metrics["curves"]), key="uplift__curve")
        right.plotly_chart(uplift_curve_figure(run.metrics["curves"], "qini"), key="uplift__qini")
    with tabs[2]:
        seg = uplift_segments(pop.p_treated, pop.p_control, pop.y, pop.t)
        left, right = st.columns([1, 1])
        left.plotly_chart(segments_figure(seg), key="uplift__segments")
        right.dataframe(seg.round(3), hide_index=True)
    with tabs[3]:
        order = np.argsort(-pop.uplift, kind="mergesort")[: s["uplift"]["treated"]]
        base = float(pop.p_control[order].mean())
        rate = s["incremental_conversions"] / max(s["uplift"]["treated"], 1)
        abtest_views.planner(base, base + rate, "uplift__plan",
                             "Within the customers you would treat: arm A held out (control), "
                             "arm B treated.")
        abtest_views.readout(rate / base if base else None, "uplift__read")
