"""What every trainer shares: fit data, the Keras and scikit-learn fit calls, target scaling, the
scored frames and the run's config.json.

Used by the in-memory and streamed trainers, cross-validation, tuning and uplift training.
Progress goes through a plain callable (``progress(event: dict)``), so the command line, a
background job and tests can all listen; nothing here knows about Streamlit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from core.device import detect_devices, training_strategy
from core.errors import TrainingError
from core.features import TabularPreprocessor
from core.runs import LABEL_COL, SCORE_COL, RunConfig, keep_requested
from core.specs import ModelConfig, to_dict
from core.training._dp import dp_fit_inputs, dp_plan, dp_trainer

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
        config: The run's configuration (:class:`~core.runs.RunConfig`).
        metrics: The run's metrics.json content (test split; threshold 0.5 for binary).
    """

    run_id: str
    config: RunConfig
    metrics: dict


@dataclass(frozen=True)
class FitData:
    """Encoded arrays of one split for fitting.

    Attributes:
        x_train: float32 (n_train, n_encoded).
        y_train: (n_train,) targets (standardised for regression networks).
        x_valid: float32 (n_valid, n_encoded).
        y_valid: (n_valid,) targets, same scale as ``y_train``.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_valid: np.ndarray
    y_valid: np.ndarray


@dataclass(frozen=True)
class StreamFit:
    """Streamed splits for fitting (see :mod:`core.features`).

    Attributes:
        train: ``tf.data.Dataset`` of shuffled ``(x, y)`` training batches.
        valid: ``tf.data.Dataset`` of validation batches.
        n_train: Training rows.
        class_counts: Training rows per class index (empty for regression).
        sources: ``{"train", "valid"}``: where the datasets read (the snapshots, a
            :class:`core.features.StreamedSplits`, or a split encoded once to disk, a
            :class:`core.features.EncodedFile`); multi-worker training shards them.
        scaling: ``[mean, std]`` of a regression target (applied by the datasets), or None.
    """

    train: object
    valid: object
    n_train: int
    class_counts: list[int]
    sources: dict = field(default_factory=dict)
    scaling: list[float] | None = None


def emit(progress: Progress | None, **event) -> None:
    """Send one progress event (keyword arguments as a dict) if anyone listens."""
    if progress is not None:
        progress(event)


def _keras_callback(progress, should_stop, epochs):
    import keras

    class _Bridge(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs = {k: float(v) for k, v in (logs or {}).items()}
            emit(progress, stage="epoch", epoch=epoch + 1, epochs=epochs, logs=logs)
            if not np.isfinite(logs.get("loss", 0.0)):
                # checked per epoch, not per batch as keras.callbacks.TerminateOnNaN does:
                # reading the loss after every batch makes Keras wait for it (~9% slower)
                self.model.stop_training = True
            if should_stop is not None and should_stop():
                self.model.stop_training = True

        def on_train_batch_end(self, batch, logs=None):
            # cancel stops at once; "stop and keep the best so far" lets the epoch finish,
            # so that every kept epoch was trained and validated whole
            if should_stop is not None and should_stop() and not keep_requested(should_stop):
                self.model.stop_training = True

    return _Bridge()


def class_weights(y: np.ndarray, mode: str) -> dict | None:
    """Inverse-frequency class weights (``n / (k · n_c)``, as scikit-learn's "balanced")."""
    if mode != "balanced":
        return None
    return weights_from_counts(np.bincount(np.asarray(y).astype(np.int64)).tolist(), mode)


def weights_from_counts(counts: list[int], mode: str) -> dict | None:
    """:func:`class_weights` from the row count of each class index."""
    if mode != "balanced":
        return None
    n = sum(counts)
    return {k: float(n / (len(counts) * c)) for k, c in enumerate(counts) if c}


def _weighted_validation(valid, weights: dict | None):
    """Validation data weighted like the training rows, so that early stopping watches the
    same (class-weighted) loss that training lowers.

    Keras applies ``class_weight`` to the training batches only; an unweighted validation
    loss rises as soon as the weights pull the scores away from the base rate, and early
    stopping would then keep the first epoch's weights.

    Args:
        valid: ``(x, y)`` arrays, or a ``tf.data.Dataset`` of ``(x, y)`` batches.
        weights: Class index → weight, or None (returned unchanged).

    Returns:
        ``(x, y, sample_weight)``, or the dataset mapped to such triples.
    """
    if not weights:
        return valid
    table = np.zeros(max(weights) + 1, dtype=np.float32)
    for k, w in weights.items():
        table[k] = w
    if isinstance(valid, tuple):
        x, y = valid
        return x, y, table[np.asarray(y).astype(np.int64)]
    import tensorflow as tf

    lookup = tf.constant(table)
    return valid.map(lambda x, y: (x, y, tf.gather(lookup, tf.cast(y, tf.int32))))


def build_network(cfg: ModelConfig, pre: TabularPreprocessor, task: str, n_classes: int):
    """Build the uncompiled Keras network a config names, for the preprocessor's layout."""
    from models import tabular

    n = len(pre.feature_names_out_)
    if cfg.model == "tabm":
        from models.tabm import build_tabm

        t = cfg.tabm
        return build_tabm(n, [e - s for s, e, _ in pre.blocks_], t.members, t.width, t.depth,
                          t.dropout, t.variant, task, n_classes)
    if cfg.model == "mlp":
        m = cfg.mlp
        return tabular.build_mlp(n, m.hidden_units, m.activation, m.dropout, m.batch_norm, m.l2,
                                 task, n_classes)
    if cfg.model == "wide_deep":
        m = cfg.mlp
        return tabular.build_wide_deep(n, pre.categorical_blocks_, pre.numeric_indices_,
                                       m.hidden_units, m.activation, m.dropout, task, n_classes)
    blocks = [(s, e) for s, e, _ in pre.blocks_]
    t = cfg.transformer
    return tabular.build_ft_transformer(n, blocks, t.d_token, t.n_blocks, t.n_heads, t.dropout,
                                        task, n_classes)


def _learning_rate(cfg: ModelConfig, steps: int):
    import keras

    if cfg.fit.lr_schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(cfg.fit.learning_rate,
                                                      decay_steps=max(steps, 1))
    return cfg.fit.learning_rate


def fit_keras(cfg: ModelConfig, pre: TabularPreprocessor, task: str, n_classes: int,
              data: FitData | StreamFit, seed: int, progress: Progress | None = None,
              should_stop: Callable[[], bool] | None = None, strategy=None):
    """Build, compile and fit a Keras network with early stopping on validation loss; with
    ``cfg.dp.dp``, by DP-SGD (:mod:`core.training._dp`, :mod:`models.dp`) on Poisson-sampled
    batches, the noise found for the target ε.

    Args:
        cfg: Model configuration.
        pre: The fitted preprocessor (gives the input layout).
        task: binary, multiclass or regression.
        n_classes: Number of classes (multiclass).
        data: Encoded train/validation arrays, or streamed datasets (batched already).
        seed: Seed for weights, dropout and shuffling (``keras.utils.set_random_seed``).
        progress: Epoch events.
        should_stop: Polled every batch; True stops training.
        strategy: A ``tf.distribute`` strategy; default from :func:`core.device.training_strategy`.

    Returns:
        ``(model, history)`` where history is one dict of logs per epoch.

    Raises:
        TrainingError: The loss became NaN or infinite; DP on streamed data.
        PrivacyError: DP settings that cannot be met (ε too small, δ ≥ 1/n).
    """
    import keras

    from models import tabm
    from models.tabular import compile_model, make_optimizer

    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    strategy = strategy or training_strategy()
    streamed = isinstance(data, StreamFit)
    n_train = data.n_train if streamed else len(data.x_train)
    steps = cfg.fit.epochs * int(np.ceil(n_train / cfg.fit.batch_size))
    plan = dp_plan(cfg, n_train) if cfg.dp.dp else None
    with strategy.scope():
        model = build_network(cfg, pre, task, n_classes)
        optimizer = make_optimizer(cfg.fit.optimizer, _learning_rate(cfg, steps))
        if plan:  # DP-SGD: the network's own output, clipped and noised per example
            trainer = dp_trainer(model, cfg, task, plan, seed)
            compile_model(trainer, task, cfg.resolved_loss(task), optimizer)
            trainer.jit_compile = False  # Poisson batches vary in size
        else:
            trainer = tabm.training_view(model)  # TabM: each member learns on its own loss
            if trainer is model:
                compile_model(model, task, cfg.resolved_loss(task), optimizer)
            else:
                tabm.compile_members(trainer, task, cfg.resolved_loss(task), optimizer)
    callbacks = [_keras_callback(progress, should_stop, cfg.fit.epochs)]
    if cfg.fit.early_stopping:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=cfg.fit.patience, restore_best_weights=True))
    weights = None
    if task != "regression":
        weights = (weights_from_counts(data.class_counts, cfg.class_weight) if streamed
                   else class_weights(data.y_train, cfg.class_weight))
    if plan:
        inputs = dp_fit_inputs(data, cfg, plan, seed)
    elif streamed:
        inputs = {"x": data.train, "validation_data": _weighted_validation(data.valid, weights),
                  "shuffle": False}
    else:
        inputs = {"x": data.x_train, "y": data.y_train, "batch_size": cfg.fit.batch_size,
                  "validation_data": _weighted_validation((data.x_valid, data.y_valid), weights)}
    hist = trainer.fit(**inputs, epochs=cfg.fit.epochs, verbose=0, callbacks=callbacks,
                       class_weight=weights)
    history = [{k: float(v[i]) for k, v in hist.history.items()}
               for i in range(len(hist.history.get("loss", [])))]
    if any(not np.isfinite(h.get("loss", 0.0)) for h in history):
        raise TrainingError(
            "Training stopped: the loss became NaN or infinite. Lower the learning rate, or "
            "check the features for extreme values."
        )
    return model, history


def fit_baseline(cfg: ModelConfig, task: str, data: FitData, seed: int,
                 progress: Progress | None = None):
    """Fit a scikit-learn baseline on the training split. Returns ``(model, [])``."""
    from models.baselines import build_baseline

    weight = "balanced" if cfg.class_weight == "balanced" and task != "regression" else None
    model = build_baseline(cfg.model, seed, weight, task)
    emit(progress, stage="fit", message=f"Fitting {cfg.model} on {len(data.y_train):,} rows")
    model.fit(data.x_train, data.y_train)
    return model, []


def target_scaling(task: str, cfg: ModelConfig, y_train: np.ndarray) -> list[float] | None:
    """``[mean, std]`` that standardise a regression target for a network, else None.

    Networks learn a standardised target; :func:`core.runs.predict_output` maps their output
    back with the same pair, saved in config.json as ``target_scaling``.
    """
    if task != "regression" or not cfg.is_keras:
        return None
    std = float(np.std(y_train)) or 1.0
    return [float(np.mean(y_train)), std]


def scale_target(y: np.ndarray, scaling: list[float] | None) -> np.ndarray:
    """Standardise targets with a :func:`target_scaling` pair (unchanged when None)."""
    return y if scaling is None else (y - scaling[0]) / scaling[1]


def score_columns(y: np.ndarray, out: np.ndarray, task: str) -> pd.DataFrame:
    """``__label`` and ``__score`` (and ``__proba_k`` for multiclass) of scored rows.

    ``__score`` is the positive-class probability (binary), the top class's probability
    (multiclass) or the prediction (regression).

    Args:
        y: Targets, shape (n,).
        out: Model output, shape (n,) or (n, k) (see :func:`core.runs.predict_output`).
        task: binary, multiclass or regression.

    Returns:
        A frame of n rows.
    """
    cols = {LABEL_COL: y}
    if task == "multiclass":
        cols.update({f"__proba_{k}": out[:, k].astype(np.float64) for k in range(out.shape[1])})
        cols[SCORE_COL] = out.max(axis=1).astype(np.float64)
    else:
        cols[SCORE_COL] = np.asarray(out, dtype=np.float64)
    return pd.DataFrame(cols)


def test_frame(x: pd.DataFrame, y: np.ndarray, out: np.ndarray, task: str) -> pd.DataFrame:
    """Raw test rows plus the :func:`score_columns`."""
    return pd.concat([x.reset_index(drop=True), score_columns(y, out, task)], axis=1)


@dataclass(frozen=True)
class RunShape:
    """What a run learned from, for its config.json.

    Attributes:
        task: binary, multiclass or regression.
        classes: Class labels in index order.
        features: Feature columns.
        rows: Row counts: ``table``, ``train``, ``valid``, ``test``.
        positive_rate_train: Share of positives in the training split (binary), else None.
        pipeline: ``memory`` or ``stream``.
        excluded: The table's other columns, left out of the features (target excepted).
        names: SQL column name → the header the analyst's file had, for the run's columns.
    """

    task: str
    classes: list[str]
    features: list[str]
    rows: dict
    positive_rate_train: float | None
    pipeline: str
    excluded: list[str] = field(default_factory=list)
    names: dict = field(default_factory=dict)


def run_config(run_id, spec, cfg, shape: RunShape, pre, history, device, scaling,
               started) -> dict:
    """The config.json content of a finished run."""
    binary = shape.task == "binary"
    return {
        "run_id": run_id, "created_at": datetime.now().isoformat(timespec="milliseconds"),
        "task": shape.task, "model": cfg.model, "spec": to_dict(spec),
        "model_config": to_dict(cfg),
        "positive_class": shape.classes[1] if binary else None,
        "negative_class": shape.classes[0] if binary else None,
        "classes": shape.classes, "features": shape.features,
        "excluded_columns": shape.excluded, "device": device,
        "rows": shape.rows, "positive_rate_train": shape.positive_rate_train,
        "target_scaling": scaling, "encoded_features": len(pre.feature_names_out_),
        "data_pipeline": shape.pipeline,
        "column_names": {c: shape.names.get(c, c)
                         for c in [*shape.features, spec.target, *shape.excluded]},
        "epochs_run": len(history), "duration_s": round(time.perf_counter() - started, 2),
    }


def device_label(cfg: ModelConfig) -> str:
    """Where a model trains, in words (e.g. ``"CPU (scikit-learn)"`` or the TensorFlow device)."""
    if not cfg.is_keras:
        return "CPU (scikit-learn)"

    return detect_devices().label
