"""Live view of a training job: epoch bar, loss curve, time left, cancel."""

from __future__ import annotations

import time
from typing import NamedTuple

import streamlit as st

from core.errors import AppError
from core.plots import history_figure
from core.specs import (
    ACTIVATIONS,
    ENSEMBLE,
    MODEL_LABELS,
    MODELS,
    OPTIMIZERS,
    PIPELINE_LABELS,
    PIPELINES,
    SCHEDULES,
    ModelConfig,
)
from ui import resources, state
from ui.widgets import KEEP, link_to, show_error

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


def _render(data_dir: str) -> bool:
    """Draw the job; returns True while it is still active."""
    jobs = resources.job_manager(data_dir)
    job = jobs.get(state.active_job())
    if job is None:
        return False
    st.subheader(f"{_ICONS.get(job.state, '')} {job.label}")
    active = job.state in ("queued", "running")
    if job.epochs:
        eta = job.eta_seconds()
        eta_text = f" · about {eta:.0f} s left" if eta is not None else ""
        st.progress(min(job.epoch / job.epochs, 1.0),
                    text=f"Epoch {job.epoch} of at most {job.epochs}{eta_text}")
    elapsed = ""
    if active and job.started_at:
        elapsed = f" · {time.time() - job.started_at:.0f} s elapsed"
    st.caption(job.message + elapsed)
    if active and not job.epochs:
        st.progress(0.0 if job.state == "queued" else 0.5,
                    text="Fitting (scikit-learn reports no progress until it finishes)"
                    if job.state == "running" else "Waiting for the worker")
    if job.history:
        st.plotly_chart(history_figure(job.history), key=f"train__loss_{job.epoch}")
    if active and st.button("Cancel training", key="train__cancel"):
        jobs.cancel(job.job_id)
    if job.state == "failed":
        st.error(job.message)
    if job.state == "done" and job.run_id:
        state.announce_run(job.job_id, job.run_id)
        run = resources.run(data_dir, job.run_id)
        m = run.metrics["metrics"]
        labels = HEADLINES.get(run.config.task, HEADLINES["binary"])
        for col, (key, label) in zip(st.columns(len(labels)), labels.items()):
            value = m.get(key)
            col.metric(label, "undefined" if value is None else f"{value:.3f}")
        for note in run.metrics.get("notes", []):
            st.warning(note)
        link_to("pages/evaluate.py", "Evaluate this run", ":material/target:")
    return active


@st.fragment(run_every=1.0)
def _live(data_dir: str) -> None:
    if not _render(data_dir):
        st.rerun()  # job ended: one full rerun shows the final state and stops polling


def recent_jobs_table(data_dir: str) -> None:
    """Jobs recorded in the workspace, including those a stopped server left *interrupted*."""
    from core.app import recent_jobs

    jobs = recent_jobs(resources.settings(), limit=10)
    if jobs:
        with st.expander(f"Recent jobs ({len(jobs)})"):
            st.dataframe([{"job": j["label"] or j["kind"],
                           **{k: j[k] for k in ("state", "created_at", "run_id", "message")}}
                          for j in jobs], hide_index=True, width="stretch")


def show_job(data_dir: str) -> None:
    """Show the active job; polls once a second while it runs."""
    job = resources.job_manager(data_dir).get(state.active_job())
    if job is not None and job.state in ("queued", "running"):
        _live(data_dir)
    else:
        _render(data_dir)


class TrainChoice(NamedTuple):
    """What the Train form submitted."""

    config: ModelConfig
    seed: int
    cv: int
    tune_trials: int
    tune_timeout_s: float


def _network_inputs(model: str) -> dict:
    c1, c2, c3 = st.columns(3)
    d = ModelConfig.of(model=model)
    fam = "tabm" if model in ("tabm", ENSEMBLE) else "net"  # their fit defaults differ
    values: dict = {}
    if model in ("tabm", ENSEMBLE):  # TabM's own architecture (models/tabm.py)
        values.update(
            members=int(c1.number_input("Ensemble members (k)", 1, 64, d.tabm.members,
                                        key="train__members", **KEEP)),
            width=int(c2.number_input("Units per hidden layer", 8, 2048, d.tabm.width,
                                      key="train__width", **KEEP)),
            depth=int(c3.number_input("Hidden layers", 1, 6, d.tabm.depth, key="train__depth",
                                      **KEEP)))
    else:
        layers = c1.text_input("Hidden layers (units, comma-separated)", "128,64",
                               key="train__layers", **KEEP)
        values["activation"] = c2.selectbox("Activation", ACTIVATIONS, key="train__activation",
                                            **KEEP)
        values["hidden_units"] = tuple(int(u) for u in layers.replace(" ", "").split(",") if u)
    values.update({
        "dropout": c3.slider("Dropout", 0.0, 0.8, d.dropout, 0.05, key="train__dropout",
                             **KEEP),
        "optimizer": c1.selectbox("Optimiser", OPTIMIZERS, OPTIMIZERS.index(d.fit.optimizer),
                                  key="train__optimizer", **KEEP),
        "learning_rate": c2.number_input("Learning rate", 1e-5, 1.0, d.fit.learning_rate,
                                         format="%.5f", key=f"train__lr_{fam}", **KEEP),
        "lr_schedule": c3.selectbox("Learning-rate schedule", SCHEDULES, key="train__schedule",
                                    **KEEP),
        "epochs": int(c1.number_input("Epochs (max)", 1, 500, d.fit.epochs, key="train__epochs",
                                      **KEEP)),
        "batch_size": int(c2.number_input("Batch size", 8, 65536, d.fit.batch_size,
                                          key=f"train__batch_{fam}", **KEEP)),
        "early_stopping": c3.checkbox("Early stopping (restore best weights)", True,
                                      key="train__early", **KEEP),
    })
    if model == "mlp":
        values["batch_norm"] = c1.checkbox("Batch normalisation", False, key="train__bn", **KEEP)
        values["l2"] = c2.number_input("L2 penalty", 0.0, 1.0, 0.0, format="%.5f",
                                       key="train__l2", **KEEP)
    if model == "ft_transformer":
        values["d_token"] = int(c1.selectbox("Token size", [16, 32, 64], 1, key="train__dtoken",
                                             **KEEP))
        values["n_blocks"] = int(c2.number_input("Transformer blocks", 1, 8, 2,
                                                 key="train__blocks", **KEEP))
    values["data_pipeline"] = c3.selectbox(
        "Data pipeline", PIPELINES, format_func=PIPELINE_LABELS.get, key="train__pipeline",
        help="Streamed: the table is split and shuffled in DuckDB, written once to Parquet "
             "snapshots and fed to the network in batches, so a table larger than memory "
             "trains; the warehouse stays free for other work meanwhile. Cross-validation and "
             "tuning read the table into memory.", **KEEP)
    return values


def model_form(task: str, positive_share: float) -> TrainChoice | None:
    """The model configuration form; returns the submitted choice, or None before submit.

    Args:
        task: binary, multiclass or regression (class weights only for classification).
        positive_share: Share of the positive class (binary); below 20% class weights are
            offered with their trade-off (off by default, so scores stay calibrated).
    """
    if task == "binary" and positive_share < 0.2:
        st.info(f"The positive class is only **{positive_share:.1%}** of rows. **Class weights "
                f"(balanced)** are offered below for such imbalance: they raise recall at 0.5, "
                f"but scores then overstate probabilities; a lower threshold on Evaluate finds "
                f"the same customers with calibrated scores.", icon=":material/balance:")
    model = st.selectbox("Model", MODELS, format_func=MODEL_LABELS.get, key="train__model",
                         **KEEP)
    with st.form("train__form"):
        values: dict | None = {}
        if ModelConfig.of(model=model).is_keras:
            if model == ENSEMBLE:
                st.caption("The ensemble trains TabM and histogram gradient boosting on the same "
                           "rows and averages their scores with the weight that scores best on "
                           "the validation split; the settings below are TabM's.")
            with st.expander("Network settings: layers, dropout, optimiser, epochs, batch, "
                             "data pipeline (defaults tuned by cross-validation)"):
                try:
                    values = _network_inputs(model)
                except ValueError:
                    values = None
        c1, c2, c3 = st.columns(3)
        weights = task != "regression" and c1.checkbox(
            "Class weights (balanced)", False, key="train__weights",
            help=f"Positive class share is {positive_share:.1%}. Balanced weights make the "
                 f"rare class count as much as the common one: recall at threshold 0.5 rises, "
                 f"but scores then overstate probabilities.", **KEEP)
        seed = int(c2.number_input("Seed", 0, 2**31 - 1, 42, key="train__seed", **KEEP))
        cv = int(c3.number_input("Also cross-validate (folds, 0 = no)", 0, 10, 0, key="train__cv",
                                 **KEEP))
        with st.expander("Hyper-parameter search (Optuna)"):
            t1, t2 = st.columns(2)
            trials = int(t1.number_input("Tune hyper-parameters (Optuna trials, 0 = no)", 0, 200,
                                         0, key="train__trials",
                                         disabled=model in ("logreg", "hgb"), **KEEP))
            budget = float(t2.number_input("Tuning time budget (s)", 10, 7200, 300,
                                           key="train__budget",
                                           disabled=model in ("logreg", "hgb"), **KEEP))
        submitted = st.form_submit_button("Train", type="primary")
    if not submitted:
        return None
    if values is None:
        st.error("Hidden layers must be whole numbers separated by commas, e.g. 128,64.")
        return None
    try:
        cfg = ModelConfig.of(model=model, class_weight="balanced" if weights else "none", **values)
    except AppError as err:
        show_error(err)
        return None
    return TrainChoice(cfg, seed, cv, trials if cfg.is_keras else 0, budget)
