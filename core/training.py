"""Train a run: load the table, split, fit the preprocessor on train, fit the model, score test.

Progress goes through a plain callable (``progress(event: dict)``), so the command line, a
background job and tests can all listen; nothing here knows about Streamlit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from core.config import Settings
from core.errors import TrainingError
from core.features import TabularPreprocessor, load_xy, split_indices
from core.metrics import evaluate_binary, to_jsonable
from core.runs import LABEL_COL, SCORE_COL, RunArtifacts, new_run_id, save_run
from core.specs import DatasetSpec, ModelConfig, to_dict
from core.warehouse import connect

log = logging.getLogger(__name__)

Progress = Callable[[dict], None]
BACKGROUND_ROWS = 200


class TrainingCancelled(TrainingError):
    """The user cancelled the run; nothing was saved."""

    default_title = "Training cancelled"


@dataclass(frozen=True)
class TrainResult:
    """What a finished training returns.

    Attributes:
        run_id: Id of the saved run.
        config: The run's config.json content.
        metrics: The run's metrics.json content (test split, threshold 0.5).
    """

    run_id: str
    config: dict
    metrics: dict


def _emit(progress: Progress | None, **event) -> None:
    if progress is not None:
        progress(event)


def _keras_callback(progress, should_stop, epochs):
    import keras

    class _Bridge(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs = {k: float(v) for k, v in (logs or {}).items()}
            _emit(progress, stage="epoch", epoch=epoch + 1, epochs=epochs, logs=logs)
            if should_stop is not None and should_stop():
                self.model.stop_training = True

        def on_train_batch_end(self, batch, logs=None):
            if should_stop is not None and should_stop():
                self.model.stop_training = True

    return _Bridge()


def _class_weight(y: np.ndarray, mode: str) -> dict | None:
    if mode != "balanced":
        return None
    counts = np.bincount(y, minlength=2)
    return {k: float(len(y) / (2 * counts[k])) for k in (0, 1)}


def _fit_keras(cfg: ModelConfig, data, seed, progress, should_stop) -> tuple[object, list[dict]]:
    import keras

    from models.tabular import build_mlp

    keras.utils.set_random_seed(seed)
    keras.backend.clear_session()
    x_tr, y_tr, x_va, y_va = data
    model = build_mlp(x_tr.shape[1], cfg.hidden_units, cfg.activation, cfg.dropout,
                      cfg.learning_rate)
    callbacks = [_keras_callback(progress, should_stop, cfg.epochs),
                 keras.callbacks.TerminateOnNaN()]
    if cfg.early_stopping:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=cfg.patience, restore_best_weights=True))
    hist = model.fit(x_tr, y_tr, validation_data=(x_va, y_va), epochs=cfg.epochs,
                     batch_size=cfg.batch_size, verbose=0, callbacks=callbacks,
                     class_weight=_class_weight(y_tr, cfg.class_weight))
    history = [{k: float(v[i]) for k, v in hist.history.items()}
               for i in range(len(hist.history.get("loss", [])))]
    if any(not np.isfinite(h.get("loss", 0.0)) for h in history):
        raise TrainingError(
            "Training stopped: the loss became NaN or infinite. Lower the learning rate, or "
            "check the features for extreme values."
        )
    return model, history


def _fit_baseline(cfg: ModelConfig, data, seed, progress) -> tuple[object, list[dict]]:
    from models.baselines import build_baseline

    x_tr, y_tr, _, _ = data
    model = build_baseline(cfg.model, seed,
                           "balanced" if cfg.class_weight == "balanced" else None)
    _emit(progress, stage="fit", message=f"Fitting {cfg.model} on {len(y_tr):,} rows")
    model.fit(x_tr, y_tr)
    return model, []


def _predict(model, x: np.ndarray) -> np.ndarray:
    if hasattr(model, "predict_proba"):
        return model.predict_proba(x)[:, 1]
    return np.asarray(model.predict(x, batch_size=4096, verbose=0)).reshape(-1)


def train(
    settings: Settings, spec: DatasetSpec, cfg: ModelConfig,
    progress: Progress | None = None, should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train one binary classifier and save it as a run.

    Steps: read the table (short connection), stratified split (``spec.seed``), fit the
    :class:`~core.features.TabularPreprocessor` on train only, fit the model (Keras MLP with
    early stopping on validation loss, or a scikit-learn baseline), score the test split, save.

    Args:
        settings: Workspace settings.
        spec: Table, target, positive class, features and split.
        cfg: Model family and hyper-parameters.
        progress: Called with dicts: ``{"stage": "load"|"fit"|"epoch"|"save"|"done", ...}``;
            epoch events carry ``epoch``, ``epochs`` and ``logs`` (loss, val_loss, auc …).
        should_stop: Polled every batch; returning True cancels the run.

    Returns:
        The :class:`TrainResult`.

    Raises:
        SchemaError: Bad table, target or features.
        TrainingError: NaN loss or a model that cannot be fitted.
        TrainingCancelled: ``should_stop`` returned True; nothing was saved.
    """
    started = time.perf_counter()
    _emit(progress, stage="load", message=f"Reading table {spec.table}")
    with connect(settings) as con:
        x_raw, y, classes, features = load_xy(con, spec)
    splits = split_indices(y, spec.test_size, spec.valid_size, spec.seed)
    pre = TabularPreprocessor().fit(x_raw.iloc[splits.train])
    enc = {k: pre.transform(x_raw.iloc[getattr(splits, k)]) for k in ("train", "valid", "test")}
    data = (enc["train"], y[splits.train], enc["valid"], y[splits.valid])
    device = _device_label(cfg)
    _emit(progress, stage="fit", message=f"Training {cfg.model} on {device}")
    if cfg.model == "mlp":
        model, history = _fit_keras(cfg, data, spec.seed, progress, should_stop)
    else:
        model, history = _fit_baseline(cfg, data, spec.seed, progress)
    if should_stop is not None and should_stop():
        raise TrainingCancelled("Training was cancelled; no run was saved.")
    scores = _predict(model, enc["test"])
    y_test = y[splits.test]
    report = evaluate_binary(y_test, scores, 0.5)
    run_id = new_run_id(cfg.model)
    config = {
        "run_id": run_id, "created_at": datetime.now().isoformat(timespec="seconds"),
        "task": "binary", "model": cfg.model, "spec": to_dict(spec), "model_config": to_dict(cfg),
        "positive_class": classes[1], "negative_class": classes[0], "features": features, "device": device,
        "rows": {"table": int(len(y)), "train": int(len(splits.train)),
                 "valid": int(len(splits.valid)), "test": int(len(splits.test))},
        "positive_rate_train": float(y[splits.train].mean()),
        "encoded_features": len(pre.feature_names_out_),
        "epochs_run": len(history), "duration_s": round(time.perf_counter() - started, 2),
    }
    metrics = {"threshold": 0.5, "metrics": to_jsonable(report.metrics),
               "confusion": report.confusion, "notes": report.notes + _sanity(scores),
               "cv": None}
    _emit(progress, stage="save", message="Saving run")
    rng = np.random.default_rng(spec.seed)
    bg_idx = rng.choice(splits.train, size=min(BACKGROUND_ROWS, len(splits.train)), replace=False)
    test_frame = x_raw.iloc[splits.test].reset_index(drop=True).assign(
        **{LABEL_COL: y_test, SCORE_COL: scores.astype(np.float64)})
    save_run(settings, RunArtifacts(run_id, config, metrics, pre, model, test_frame,
                                    x_raw.iloc[np.sort(bg_idx)].reset_index(drop=True), history))
    _emit(progress, stage="done", run_id=run_id)
    return TrainResult(run_id, config, metrics)


def _device_label(cfg: ModelConfig) -> str:
    if cfg.model != "mlp":
        return "CPU (scikit-learn)"
    from core.device import detect_devices

    return detect_devices().label


def _sanity(scores: np.ndarray) -> list[str]:
    notes = []
    predicted_pos = float((scores >= 0.5).mean())
    if predicted_pos in (0.0, 1.0):
        which = "negative" if predicted_pos == 0.0 else "positive"
        notes.append(
            f"At threshold 0.5 the model predicts every test row as {which}. Rank-based numbers "
            f"(ROC-AUC, lift) still hold; pick a threshold on the Evaluate page, or train with "
            f"class weights."
        )
    if float(np.std(scores)) < 1e-6:
        notes.append("All scores are identical: the model learned nothing useful.")
    return notes

