"""Train page views: reattaching a reloaded page to its running job, the features with what is
left out and why, and the model settings with a Train button that starts one job per click
(the job itself is drawn by :mod:`ui.train_job_views`)."""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import streamlit as st

from core.app import training_params
from core.errors import AppError
from core.specs import (
    ACTIVATIONS,
    ENSEMBLE,
    MODEL_LABELS,
    MODELS,
    OPTIMIZERS,
    PIPELINE_LABELS,
    PIPELINES,
    SCHEDULES,
    DatasetSpec,
    ModelConfig,
)
from ui import resources, state
from ui.leaderboard_views import restore_board
from ui.train_job_views import duration
from ui.widgets import KEEP, initial, show_error

LONG_SECONDS = 600
STARTED = "train__started"
# flat ModelConfig name -> the widget key that shows it
_FORM_KEYS = {"activation": "train__activation", "dropout": "train__dropout",
              "optimizer": "train__optimizer", "learning_rate": "train__lr_net",
              "lr_schedule": "train__schedule", "epochs": "train__epochs",
              "batch_size": "train__batch_net", "early_stopping": "train__early",
              "batch_norm": "train__bn", "l2": "train__l2", "d_token": "train__dtoken",
              "n_blocks": "train__blocks", "data_pipeline": "train__pipeline",
              "model": "train__model", "members": "train__members", "width": "train__width",
              "depth": "train__depth", "workers": "train__workers"}


def reattach(data_dir: str) -> None:
    """A page opened in a new browser session (a reload) follows the running training job
    again and shows the settings it was started with, and says so at the top of the page (the
    job itself is drawn under the Train button). Call before any Train widget."""
    jobs = resources.job_manager(data_dir)
    if state.active_job() is not None and jobs.get(state.active_job()) is not None:
        return
    job = jobs.active("train") or jobs.active("leaderboard")
    if job is None or not job.params:
        return
    state.set_active_job(job.job_id)
    if job.kind == "train":
        restore(job.params)
        where = ("settings", "**Cancel** and **Stop and keep the best so far**")
    else:  # a leaderboard: its table, target, features and families
        st.session_state.update(_spec_values(job.params["spec"]))
        restore_board(job.params)
        where = ("table, target, features and families", "**Cancel**")
    st.info(f"Following the running job **{job.label}** again, with the {where[0]} it was "
            f"started with. Its progress and {where[1]} are under the Train button: "
            f"[jump to the job](#training-job).", icon=":material/directions_run:")


def _spec_values(spec: dict) -> dict:
    """The Train page's widget values for a job's dataset spec (table, target, features, seed,
    missing-value policy, task, positive class); also makes its table the active one."""
    table, target = spec["table"], spec["target"]
    state.set_active_table(table)
    values = {"train__table": table, "train__target": target,
              f"train__features_{table}_{target}": list(spec["features"]),
              "train__seed": int(spec.get("seed", 42))}
    if spec.get("missing"):
        values[f"train__missing_{table}"] = spec["missing"]
    if spec.get("task"):
        values[f"train__task_{target}"] = spec["task"]
    if spec.get("positive_class") is not None:
        values[f"train__positive_{target}"] = spec["positive_class"]
    return values


def restore(params: dict) -> None:
    """Put a training job's settings (:func:`core.app.training_params`) into the widgets."""
    spec, cfg = params["spec"], params["model_config"]
    values = {**_spec_values(spec),
              "train__layers": ",".join(str(u) for u in cfg.get("hidden_units", [])),
              "train__weights": cfg.get("class_weight") == "balanced",
              "train__cv": int(params.get("cv", 0)),
              "train__trials": int(params.get("tune_trials", 0))}
    if params.get("tune_trials"):
        values["train__budget"] = float(params["tune_timeout_s"])
    fam = "tabm" if cfg.get("model") in ("tabm", ENSEMBLE) else "net"
    keys = {**_FORM_KEYS, "learning_rate": f"train__lr_{fam}", "batch_size": f"train__batch_{fam}"}
    values.update({key: cfg[name] for name, key in keys.items() if name in cfg})
    st.session_state.update(values)


def feature_picker(data_dir: str, table: str, target: str, positive: str | None, task: str,
                   stamp: tuple, columns: list[str]) -> list[str]:
    """The feature columns, with what LiftLab leaves out by default and why (leakage,
    identifier, personal data), and a warning for a flagged column ticked back in."""
    from core.errors import SchemaError

    try:
        flagged = resources.feature_flags(data_dir, table, target, positive, task, stamp)
    except SchemaError as err:  # e.g. an identifier as a regression target
        show_error(err)
        st.stop()
    others = [c for c in columns if c != target]
    key = f"train__features_{table}_{target}"
    features = st.multiselect(
        "Feature columns", others, default=initial(key, [c for c in others if c not in flagged]),
        key=key, help="Leave out columns only known after the outcome (e.g. bank's call "
                      "'duration'): they leak the answer.", **KEEP)
    kept = [c for c in flagged if c in features]
    leaks = [c for c in kept if flagged[c].reason == "leakage"]
    if leaks:
        st.warning(f"{', '.join(leaks)} is a feature, but it is usually only known after the "
                   f"outcome: the model would learn the answer, and its ROC-AUC would overstate "
                   f"what it can do beforehand. Leave it out unless you know it is known in "
                   f"time. " + " ".join(flagged[c].detail for c in leaks),
                   icon=":material/warning:")
    for c in kept:
        if flagged[c].reason != "leakage":
            st.warning(flagged[c].detail + " It is ticked as a feature; the run will say so.",
                       icon=":material/warning:")
    left_out = [c for c in flagged if c not in features]
    if left_out:
        groups: dict[str, list[str]] = {}
        for c in left_out:
            groups.setdefault(flagged[c].reason, []).append(flagged[c].original_name)
        st.caption("Left out by default " + "; ".join(
            f"because {_REASON_WORDS[r]}: {', '.join(cols)}" for r, cols in groups.items())
            + ". Tick a column to use it anyway.",
            help="\n\n".join(flagged[c].detail for c in left_out))
    return features


_REASON_WORDS = {"leakage": "it leaks the outcome", "identifier": "it looks like an identifier",
                 "personal": "it is marked as personal data",
                 "post-treatment": "it was recorded after the treatment"}


class TrainChoice(NamedTuple):
    """What the Train button submitted."""

    spec: DatasetSpec
    config: ModelConfig
    cv: int
    tune_trials: int
    tune_timeout_s: float


def _network_inputs(model: str) -> dict:
    c1, c2, c3 = st.columns(3)
    d = ModelConfig.of(model=model)
    fam = "tabm" if model in ("tabm", ENSEMBLE) else "net"  # their fit defaults differ
    i = initial
    values: dict = {}
    if model in ("tabm", ENSEMBLE):  # TabM's own architecture (models/tabm.py)
        values.update(
            members=int(c1.number_input("Ensemble members (k)", 1, 64,
                                        i("train__members", d.tabm.members, "min"),
                                        key="train__members", **KEEP)),
            width=int(c2.number_input("Units per hidden layer", 8, 2048,
                                      i("train__width", d.tabm.width, "min"),
                                      key="train__width", **KEEP)),
            depth=int(c3.number_input("Hidden layers", 1, 6, i("train__depth", d.tabm.depth, "min"),
                                      key="train__depth", **KEEP)))
    else:
        layers = c1.text_input("Hidden layers (units, comma-separated)",
                               i("train__layers", "128,64", ""), key="train__layers", **KEEP)
        values["activation"] = c2.selectbox("Activation", ACTIVATIONS, key="train__activation",
                                            index=0, **KEEP)
        values["hidden_units"] = tuple(int(u) for u in layers.replace(" ", "").split(",") if u)
    values.update({
        "dropout": c3.slider("Dropout", 0.0, 0.8, i("train__dropout", d.dropout), 0.05,
                             key="train__dropout", **KEEP),
        "optimizer": c1.selectbox("Optimiser", OPTIMIZERS,
                                  i("train__optimizer", OPTIMIZERS.index(d.fit.optimizer), 0),
                                  key="train__optimizer", **KEEP),
        "learning_rate": c2.number_input("Learning rate", 1e-5, 1.0,
                                         i(f"train__lr_{fam}", d.fit.learning_rate, "min"),
                                         format="%.5f", key=f"train__lr_{fam}", **KEEP),
        "lr_schedule": c3.selectbox("Learning-rate schedule", SCHEDULES, key="train__schedule",
                                    index=0, **KEEP),
        "epochs": int(c1.number_input("Epochs (max)", 1, 500,
                                      i("train__epochs", d.fit.epochs, "min"),
                                      key="train__epochs", **KEEP)),
        "batch_size": int(c2.number_input("Batch size", 8, 65536,
                                          i(f"train__batch_{fam}", d.fit.batch_size, "min"),
                                          key=f"train__batch_{fam}", **KEEP)),
        "early_stopping": c3.checkbox("Early stopping (restore best weights)",
                                      i("train__early", True, False), key="train__early",
                                      **KEEP),
    })
    if model == "mlp":
        values["batch_norm"] = c1.checkbox("Batch normalisation", False, key="train__bn", **KEEP)
        values["l2"] = c2.number_input("L2 penalty", 0.0, 1.0, i("train__l2", 0.0, "min"),
                                       format="%.5f", key="train__l2", **KEEP)
    values["workers"] = int(c3.number_input(
        "Training workers", 1, 16, i("train__workers", 1, "min"), key="train__workers",
        help="Above 1: data-parallel training on that many Ray Train workers "
             "(MultiWorkerMirroredStrategy), the batch size being the global batch; on a "
             "Ray cluster (LIFTLAB_RAY_ADDRESS) the workers may sit on other machines. "
             "In-memory or streamed pipeline (each worker reads its shard); the ensemble's "
             "gradient boosting fits in the app's job; not with differential privacy.",
        **KEEP))
    if model == "ft_transformer":
        values["d_token"] = int(c1.selectbox("Token size", [16, 32, 64],
                                             i("train__dtoken", 1, 0), key="train__dtoken", **KEEP))
        values["n_blocks"] = int(c2.number_input("Transformer blocks", 1, 8,
                                                 i("train__blocks", 2, "min"), key="train__blocks",
                                                 **KEEP))
    values["data_pipeline"] = c3.selectbox(
        "Data pipeline", PIPELINES, index=0,
        format_func=PIPELINE_LABELS.get, key="train__pipeline",
        help="Streamed: the table is split and shuffled in DuckDB, written once to Parquet "
             "snapshots and fed to the network in batches, so a table larger than memory "
             "trains; the warehouse stays free for other work meanwhile. Cross-validation and "
             "tuning read the table into memory.", **KEEP)
    return values


def _run_options(model: str, task: str, positive_share: float) -> tuple[bool, int, int, int,
                                                                          float]:
    i = initial
    c1, c2, c3 = st.columns(3)
    weights = task != "regression" and c1.checkbox(
        "Class weights (balanced)", i("train__weights", False, False), key="train__weights",
        help=f"Positive class share is {positive_share:.1%}. Balanced weights make the "
             f"rare class count as much as the common one: recall at threshold 0.5 rises, "
             f"but scores then overstate probabilities.", **KEEP)
    seed = int(c2.number_input("Seed", 0, 2**31 - 1, i("train__seed", 42, "min"), key="train__seed",
                               **KEEP))
    cv = int(c3.number_input("Also cross-validate (folds, 0 = no)", 0, 10, i("train__cv", 0, "min"),
                             key="train__cv", **KEEP))
    with st.expander("Hyper-parameter search (Optuna)"):
        t1, t2 = st.columns(2)
        trials = int(t1.number_input("Tune hyper-parameters (Optuna trials, 0 = no)", 0, 200,
                                     i("train__trials", 0, "min"), key="train__trials",
                                     disabled=model in ("logreg", "hgb"), **KEEP))
        budget = float(t2.number_input("Tuning time budget (s)", 10, 7200,
                                       i("train__budget", 300, "min"), key="train__budget",
                                       disabled=model in ("logreg", "hgb"), **KEEP))
    return bool(weights), seed, cv, trials, budget


def _imbalance_note(task: str, positive_share: float) -> None:
    if task == "binary" and positive_share < 0.2:
        st.info(f"The positive class is only **{positive_share:.1%}** of rows. **Class weights "
                f"(balanced)** are offered below for such imbalance: they raise recall at 0.5, "
                f"but scores then overstate probabilities; a lower threshold on Evaluate finds "
                f"the same customers with calibrated scores.", icon=":material/balance:")


def _estimate(data_dir: str, spec: DatasetSpec, cfg: ModelConfig, rows: int) -> None:
    """Say how long the start would take (from earlier runs), and warn when it is long."""
    from core.app import estimate_training

    guess = estimate_training(resources.settings(), cfg, rows)
    if guess is None:
        return
    text = (f"Estimated training time: about {duration(guess.seconds)} ({guess.basis}).")
    if guess.seconds >= LONG_SECONDS:
        st.warning(text + " That is long: the progress bar measures each epoch as it goes, and "
                   "**Stop and keep the best so far** saves the best epoch at any time.",
                   icon=":material/schedule:")
    else:
        st.caption(text)


def model_form(data_dir: str, task: str, positive_share: float, spec: DatasetSpec,
               rows: int, dp: dict | None = None) -> None:
    """The model settings and the Train button, which starts the background job.

    The button is disabled while a job with exactly these settings is queued or running (a
    second click would queue a copy), and a long estimated time is said before the start.

    Args:
        data_dir: The workspace folder.
        task: binary, multiclass or regression (class weights only for classification).
        positive_share: Share of the positive class (binary); below 20% class weights are
            offered with their trade-off (off by default, so scores stay calibrated).
        spec: Table, target, positive class, features and task (the seed comes from here).
        rows: Rows of the table (for the time estimate).
        dp: Differential-privacy settings (:func:`ui.privacy_views.dp_settings`; empty when
            off), applied to the model config.
    """
    _imbalance_note(task, positive_share)
    model = st.selectbox("Model", MODELS, format_func=MODEL_LABELS.get, key="train__model",
                         index=0, **KEEP)
    values: dict | None = {}
    with st.container(border=True):
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
        weights, seed, cv, trials, budget = _run_options(model, task, positive_share)
    if values is None:
        st.error("Hidden layers must be whole numbers separated by commas, e.g. 128,64.")
        return
    try:
        cfg = ModelConfig.of(model=model, class_weight="balanced" if weights else "none",
                             **values)
        if dp:
            cfg = cfg.replace(**dp)
        spec = dataclasses.replace(spec, seed=seed)
    except (TypeError, ValueError) as err:
        show_error(AppError(str(err)))
        return
    except AppError as err:
        show_error(err)
        return
    choice = TrainChoice(spec, cfg, cv, trials if cfg.is_keras else 0, budget)
    running = resources.job_manager(data_dir).find(
        "train", training_params(spec, cfg, cv, choice.tune_trials, budget))
    _estimate(data_dir, spec, cfg, rows)
    if running is not None:
        st.caption(":material/directions_run: A job with these settings is queued or "
                   "running (its progress is below); change a setting to train another model.")
    if st.button("Train", type="primary", key="train__go", disabled=running is not None):
        _start(data_dir, choice)
        st.rerun()  # draw the page again at once: the button now shows these settings train
    started = st.session_state.pop(STARTED, None)
    if started is not None and started[0] == "error":
        st.error(started[1])
    elif started is not None:
        st.toast(started[1], icon=":material/model_training:")


def _start(data_dir: str, choice: TrainChoice) -> None:
    """Start the job the Train button asked for (a second click that still gets through
    returns the same job: :meth:`core.app.JobManager.submit_training`)."""
    try:
        job_id = resources.job_manager(data_dir).submit_training(
            choice.spec, choice.config, choice.cv, choice.tune_trials, choice.tune_timeout_s)
    except AppError as err:
        st.session_state[STARTED] = ("error", f"**{err.title}.** {err}")
        return
    state.set_active_job(job_id)
    st.session_state[STARTED] = ("ok", f"Training started: {choice.config.model} on "
                                       f"{choice.spec.table}. Progress is shown under the Train "
                                       f"button; the sidebar lists running jobs on every page.")
