"""Private and compact models in the app: DP settings on Train, the membership audit on
Explain's review tab, compression and the privacy/utility curve on Runs."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.app import compress_job
from core.compress import METHODS, CompressError, comparison, compressed_children
from core.errors import AppError
from core.privacy import (
    audit_run,
    guarantee_lines,
    privacy_utility_figure,
    privacy_utility_points,
    save_audit,
)
from core.specs import KERAS_MODELS
from ui import resources
from ui.job_views import job_panel
from ui.widgets import KEEP, errors_shown, show_error

METHOD_LABELS = {"int8": "int8 quantisation (Keras networks)",
                 "prune": "Magnitude pruning + short fine-tune (Keras networks)",
                 "distill": "Distil into a small MLP (any run)"}


def _bounds_editor(data_dir: str, table: str, features: tuple[str, ...], stamp: tuple):
    suggested = resources.dp_bounds_suggestion(data_dir, table, features, stamp)
    st.caption("Bounds below were **read from the data** as a starting point. The guarantee "
               "covers the preprocessing only once they come from public knowledge (an age "
               "range of 18–100, the product catalogue): edit them to what you would state "
               "without looking at the customers.")
    rows = [{"column": b[0], "low": b[1] if len(b) == 3 else None,
             "high": b[2] if len(b) == 3 else None,
             "levels": ", ".join(b[1]) if len(b) == 2 else ""} for b in suggested]
    edited = st.data_editor(pd.DataFrame(rows), hide_index=True, width="stretch",
                            disabled=["column"], key=f"train__dp_bounds_{table}")
    out = []
    for r in edited.itertuples():
        if r.levels:
            out.append((r.column, tuple(v.strip() for v in str(r.levels).split(",")
                                        if v.strip())))
        else:
            out.append((r.column, float(r.low), float(r.high)))
    return tuple(out)


def dp_settings(data_dir: str, table: str, features: tuple[str, ...], stamp: tuple) -> dict:
    """The Train page's differential-privacy settings; ModelConfig settings (empty when off)."""
    with st.expander("Differential privacy (DP-SGD): bound what the model reveals about any "
                     "one customer"):
        on = st.checkbox("Train with differential privacy", False, key="train__dp", **KEEP)
        model = st.session_state.get("train__model", "mlp")
        if on and model not in KERAS_MODELS:
            st.warning(f"DP-SGD trains the Keras networks ({', '.join(KERAS_MODELS)}); choose "
                       f"one of them as the model.")
        c1, c2, c3 = st.columns(3)
        eps = c1.number_input("Target ε", 0.01, 100.0, 8.0, 0.5, key="train__dp_eps",
                              disabled=not on, help="Smaller is more private: 1 is strong, 8 "
                              "common. LiftLab finds the noise for the epochs and batch size.",
                              **KEEP)
        delta = c2.number_input("δ (0 = 1/(10·n))", 0.0, 0.01, 0.0, format="%.2e",
                                key="train__dp_delta", disabled=not on, **KEEP)
        clip = c3.number_input("Clip norm C", 0.01, 100.0, 1.0, key="train__dp_clip",
                               disabled=not on, help="Each customer's gradient is clipped to "
                               "this L2 norm before noise is added.", **KEEP)
        bounded = st.radio("Preprocessing", ["Analyst bounds (covered)", "Fitted on the "
                           "training rows (not covered)"], key="train__dp_pre", horizontal=True,
                           disabled=not on, **KEEP).startswith("Analyst")
        if not on:
            return {}
        st.caption("Per-example gradients are clipped to C and Gaussian noise σ·C is added at "
                   "every step of Poisson-sampled batches (Abadi et al. 2016); the accountant "
                   "(dp-accounting, PLD) reports the ε actually spent. Early stopping reads the "
                   "validation rows, which the guarantee does not cover.")
        out = {"dp": True, "dp_epsilon": float(eps), "dp_clip": float(clip),
               "dp_delta": float(delta) if delta > 0 else None}
        if bounded and features:
            with errors_shown():
                out["dp_bounds"] = _bounds_editor(data_dir, table, features, stamp)
        return out


def privacy_card(run) -> None:
    """The run's differential-privacy statement (or that it has none)."""
    for line in guarantee_lines(run.config.extra.get("privacy")):
        st.markdown(f"- {line}")


def audit_view(data_dir: str, run) -> None:
    """Membership-inference audit on the Explain page's review tab."""
    st.subheader("Privacy: can the model give away who it trained on?")
    privacy_card(run)
    stored = run.config.extra.get("privacy_audit")
    if st.button("Run the membership-inference audit" if not stored else "Run the audit again",
                 key="explain__audit"):
        with st.spinner("Scoring training and held-out customers …"), errors_shown():
            audit = audit_run(resources.settings(), run)
            save_audit(resources.settings(), run, audit)
        resources.run.clear()
        stored = audit["membership_inference"]
    if not stored:
        st.caption("The audit scores up to 2,000 training customers and as many held-out ones "
                   "and asks how well a low loss tells them apart (Yeom et al. 2018), also after "
                   "calibrating each customer's difficulty (Watson et al. 2022).")
        return
    st.info(stored["verdict"])
    rows = [{"attack": stored["attack"], "ROC-AUC": stored["attack_roc_auc"],
             "95% interval": f"{stored['ci95'][0]:.3f} – {stored['ci95'][1]:.3f}",
             "advantage (TPR − FPR)": stored["advantage"],
             "TPR at 1% FPR": stored["tpr_at_1pct_fpr"]}]
    cal = stored.get("calibrated")
    if cal:
        rows.append({"attack": cal["attack"], "ROC-AUC": cal["attack_roc_auc"],
                     "95% interval": f"{cal['ci95'][0]:.3f} – {cal['ci95'][1]:.3f}",
                     "advantage (TPR − FPR)": cal["advantage"],
                     "TPR at 1% FPR": cal["tpr_at_1pct_fpr"]})
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(format="%.3f") for c in
                                ("ROC-AUC", "advantage (TPR − FPR)", "TPR at 1% FPR")})
    st.caption(f"{stored['members']:,} members (training rows) and {stored['non_members']:,} "
               f"non-members (test rows); 0.5 is chance.")


def _comparison_table(cmp: dict) -> pd.DataFrame:
    rows = [("weights (bytes)", cmp["parent_weights_bytes"], cmp["weights_bytes"]),
            ("model file (bytes)", cmp["parent_file_bytes"], cmp["file_bytes"]),
            ("scoring (rows/s)", cmp["parent_rows_per_s"], cmp["rows_per_s"]),
            *[(f"test {k}", cmp["parent_metrics"][k], cmp["metrics"][k])
              for k in cmp["metrics"]]]
    return pd.DataFrame([{"": name, "parent": p, "compressed": c,
                          "compressed / parent": (c / p if p else None),
                          "change": c - p} for name, p, c in rows])


def _stored(parent, child, info: dict) -> dict:
    """The comparison measured when the run was compressed (config.json ``compression``)."""
    keys = list(info.get("change") or {})
    return {**{k: info[k] for k in ("weights_bytes", "parent_weights_bytes", "file_bytes",
                                     "parent_file_bytes", "rows_per_s", "parent_rows_per_s")},
            "metrics": {k: child.metrics["metrics"].get(k) for k in keys},
            "parent_metrics": {k: parent.metrics["metrics"].get(k) for k in keys}}


def _compressed(job) -> None:
    st.success(f"Saved run `{job.run_id}` (parent `{job.result.get('parent')}`).")
    for note in job.result.get("notes", []):
        st.warning(note)


def compress_view(data_dir: str, run_id: str) -> None:
    """Compress the chosen run and compare it with its parent (Runs page). The compression is
    a background job on Ray (:func:`core.app.compress_job`): the worker compresses from a
    snapshot of the parent's table, the server registers the new run; its steps and a Cancel
    button show below, also after a visit to another page."""
    st.subheader("Compress")
    run = resources.run(data_dir, run_id)
    parent_id = run.config.extra.get("parent")
    c1, c2, c3 = st.columns(3)
    method = c1.selectbox("Method", METHODS, format_func=METHOD_LABELS.get,
                          key="runs__compress_method")
    sparsity = c2.slider("Sparsity (pruning)", 0.05, 0.95, 0.8, 0.05, key="runs__sparsity",
                         disabled=method != "prune")
    units = c3.text_input("Student units (distillation)", "32,16", key="runs__units",
                          disabled=method != "distill")
    if st.button("Compress into a new run", key="runs__compress"):
        try:
            size = tuple(int(u) for u in units.replace(" ", "").split(",") if u)
            kwargs = compress_job(resources.settings(), run_id, method, sparsity, size)
            st.session_state["runs__compress_job"] = \
                resources.job_manager(data_dir).submit(**kwargs)
        except (AppError, ValueError) as err:
            show_error(err if isinstance(err, AppError) else CompressError(
                f"Student units must be whole numbers separated by commas; got {units}."))
    job_panel(data_dir, "runs__compress_job", "compress", _compressed)
    pairs = [(parent_id, run_id)] if parent_id else [
        (run_id, c) for c in compressed_children(resources.settings(), run_id)[:3]]
    for parent, child in pairs:
        p, c = resources.run(data_dir, parent), resources.run(data_dir, child)
        info = c.config.extra.get("compression", {})
        st.markdown(f"**{info.get('method', 'compressed')}**: `{child}` against parent "
                    f"`{parent}`, on the parent's test rows")
        cmp = _stored(p, c, info) if "rows_per_s" in info else comparison(p, c)
        st.dataframe(_comparison_table(cmp), hide_index=True, width="stretch",
                     column_config={k: st.column_config.NumberColumn(format="%.4g") for k in
                                    ("parent", "compressed", "compressed / parent", "change")})


def privacy_curve_view(data_dir: str, run_id: str) -> None:
    """ROC-AUC against ε for the DP runs on the chosen run's table and target."""
    run = resources.run(data_dir, run_id)
    if run.config.task != "binary":
        return
    points = privacy_utility_points(resources.settings(), run.config.table, run.config.target)
    if not points["dp"]:
        st.caption("No DP runs on this table and target yet: train a few at different ε on "
                   "the Train page (Differential privacy) to draw the privacy/utility curve.")
        return
    st.plotly_chart(privacy_utility_figure(points), key="runs__privacy_curve")
