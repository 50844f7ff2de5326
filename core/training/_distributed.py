"""Data-parallel training of a Keras network on N Ray Train workers.

Ray Train's ``TensorflowTrainer`` (https://docs.ray.io/en/latest/train/distributed-tensorflow-keras.html)
starts N worker processes and sets ``TF_CONFIG`` so that each builds a
``tf.distribute.MultiWorkerMirroredStrategy``. Keras 3's ``model.fit`` fails under that strategy
("unsupported type PerReplica", keras-team/keras#20585), so each worker runs a custom training
step with ``strategy.run`` over ``strategy.distribute_datasets_from_function``, the network and
its optimizer built in the strategy's scope (the pattern of TensorFlow's "Custom training loop
with Keras and MultiWorkerMirroredStrategy" tutorial); the step and its loss are in
:mod:`core.training._distributed_worker`.

Data (:mod:`core.training._distributed_data`): the in-memory pipeline's encoded arrays are
written once as a Parquet snapshot into a folder every worker can read (``LIFTLAB_RAY_STORAGE``
on a cluster, a temporary folder on one machine); the streamed pipeline's snapshots (or its
splits encoded once to disk) are read in place on one machine and copied there on a cluster.
Worker ``r`` of ``N`` reads training rows ``r, r + N, …`` (the streamed ones chunk by chunk,
never the whole table; all shards cut to the same length so that every worker runs the same
number of steps, as collective all-reduce requires) and batches them by ``batch_size / N`` rows,
so the global batch is the configured ``batch_size``. The per-example losses are averaged over
the global batch (``tf.nn.compute_average_loss``), so the gradient equals single-worker training
on the same batch. Every worker computes the validation loss on the whole validation split with
the same weights, so early stopping decides the same everywhere; rank 0 reports each epoch and
writes the final (best) weights, which the caller loads into a network built here.

Families: TabM (``tabm``, ``tabm_mini``, ``tabm_lite``: each member on its own loss, as
single-worker), ``mlp``, ``wide_deep``, ``ft_transformer``, and the ``ensemble`` (its TabM here,
its gradient boosting on the coordinator: :func:`core.training.fit_ensemble`); in-memory and
streamed pipelines; mixed precision on workers with a GPU. DP-SGD is refused: it clips each
example's gradient, which this step does not compute.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.errors import TrainingError
from core.features import TabularPreprocessor
from core.specs import ENSEMBLE, KERAS_MODELS, ModelConfig
from core.training._distributed_data import stream_source, write_arrays
from core.training._distributed_worker import train_loop
from core.training._fit import (
    FitData,
    Progress,
    StreamFit,
    TrainingCancelled,
    build_network,
    class_weights,
    emit,
    weights_from_counts,
)

STORAGE_ENV = "LIFTLAB_RAY_STORAGE"
DISTRIBUTED_MODELS = (*KERAS_MODELS, ENSEMBLE)
POLL_S = 0.5


class _Relay:
    """Epoch events from the workers, a stop flag from the caller (a Ray actor)."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self.stop = False

    def push(self, event: dict) -> None:
        self.events.append(event)

    def drain(self) -> list[dict]:
        out, self.events = self.events, []
        return out

    def ask_stop(self) -> None:
        self.stop = True

    def stopped(self) -> bool:
        return self.stop


def check_distributable(cfg: ModelConfig) -> None:
    """Refuse what multi-worker training cannot do, saying what to change.

    Raises:
        TrainingError: A family other than :data:`DISTRIBUTED_MODELS` (the scikit-learn
            baselines), or DP-SGD.
    """
    if cfg.model not in DISTRIBUTED_MODELS:
        raise TrainingError(f"Multi-worker training (workers = {cfg.fit.workers}) is available "
                            f"for the Keras networks and the ensemble "
                            f"({', '.join(DISTRIBUTED_MODELS)}); {cfg.model} is fitted by "
                            f"scikit-learn in one process. Set workers to 1.")
    if cfg.dp.dp:
        raise TrainingError("Multi-worker training is not available with differential privacy "
                            "(DP-SGD clips each example's gradient, which the multi-worker step "
                            "does not compute); set workers to 1.")


def _class_table(cfg: ModelConfig, task: str, n_classes: int,
                 data: FitData | StreamFit) -> list[float] | None:
    """Weight of each class index (``n_classes`` at least) as single-worker ``model.fit`` gets
    it, or None."""
    if task == "regression":
        return None
    weights = (weights_from_counts(data.class_counts, cfg.class_weight)
               if isinstance(data, StreamFit) else class_weights(data.y_train, cfg.class_weight))
    if not weights:
        return None
    return [float(weights.get(k, 0.0)) for k in range(max(n_classes, max(weights) + 1))]


def fit_distributed(cfg: ModelConfig, pre: TabularPreprocessor, task: str, n_classes: int,
                    data: FitData | StreamFit, seed: int, progress: Progress | None = None,
                    should_stop: Callable[[], bool] | None = None):
    """Fit a Keras network on ``cfg.fit.workers`` Ray Train workers (see the module's text).

    Ray must be running (``core.app`` starts it); a process that has not started it gets a
    local instance from Ray's defaults.

    Args:
        cfg: Model configuration (a Keras family); ``cfg.fit.workers`` ≥ 2,
            ``cfg.fit.batch_size`` the global batch.
        pre: The fitted preprocessor (the input layout; workers encode streamed rows with it).
        task: binary, multiclass or regression.
        n_classes: Number of classes (multiclass).
        data: Encoded train/validation arrays (x float32 (n, n_encoded), y (n,)), or the
            streamed pipeline's :class:`~core.training.StreamFit` with its ``sources``.
        seed: Seed of the weights and of each worker's shuffling.
        progress: Epoch events (``{"stage": "epoch", "epoch", "epochs", "logs"}``), from rank 0.
        should_stop: Polled every :data:`POLL_S` s; True ends training after the current epoch
            and raises :class:`TrainingCancelled`.

    Returns:
        ``(model, history)``: the network with the best epoch's weights (early stopping) built
        in this process, and one dict of logs (``loss``, ``val_loss``) per epoch.

    Raises:
        TrainingError: A family or setting multi-worker training does not support; a NaN loss;
            a worker that failed (its message).
        TrainingCancelled: ``should_stop`` returned True.
    """
    import ray
    from ray.train import RunConfig, ScalingConfig
    from ray.train.tensorflow import TensorflowTrainer

    check_distributable(cfg)
    shared = bool(os.environ.get(STORAGE_ENV))
    root = Path(os.environ.get(STORAGE_ENV) or tempfile.gettempdir())
    root.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f"liftlab-train-p{os.getpid()}-", dir=root))
    relay = ray.remote(num_cpus=0)(_Relay).remote()
    try:
        source = (stream_source(folder, data, task, shared) if isinstance(data, StreamFit)
                  else write_arrays(folder, data))
        gpus = ray.cluster_resources().get("GPU", 0) >= cfg.fit.workers
        trainer = TensorflowTrainer(
            train_loop,
            train_loop_config={"cfg": cfg, "pre": pre, "task": task, "n_classes": n_classes,
                               "seed": seed, "folder": str(folder), "relay": relay,
                               "source": source,
                               "class_weights": _class_table(cfg, task, n_classes, data)},
            scaling_config=ScalingConfig(num_workers=cfg.fit.workers, use_gpu=gpus),
            run_config=RunConfig(storage_path=str(folder / "ray"), name="fit"))
        emit(progress, stage="fit", message=(
            f"Training {cfg.model} on {cfg.fit.workers} Ray Train workers "
            f"({'GPU, mixed precision (mixed_float16)' if gpus else 'CPU'}; "
            f"{'streamed' if source['kind'] == 'stream' else 'in-memory'} shards)"))
        stopped = _watch(trainer, relay, progress, should_stop)
        history = json.loads((folder / "history.json").read_text())
        weights = np.load(folder / "weights.npz")
        model = build_network(cfg, pre, task, n_classes)
        model.set_weights([weights[f"arr_{i}"] for i in range(len(weights.files))])
    finally:
        ray.kill(relay)
        shutil.rmtree(folder, ignore_errors=True)
    if stopped:
        raise TrainingCancelled("Training cancelled; nothing was saved.")
    if any(not np.isfinite(h["loss"]) for h in history):
        raise TrainingError("Training stopped: the loss became NaN or infinite. Lower the "
                            "learning rate, or check the features for extreme values.")
    return model, history


def _watch(trainer, relay, progress, should_stop) -> bool:
    """Run ``trainer.fit()`` on a thread; relay epochs and a stop request meanwhile.

    Returns:
        Whether a stop was requested.
    """
    import ray

    outcome: dict = {}

    def fit() -> None:
        try:
            outcome["result"] = trainer.fit()
        except Exception as err:  # noqa: BLE001 -- reported below as a TrainingError
            outcome["error"] = err

    thread = threading.Thread(target=fit, name="liftlab-ray-train", daemon=True)
    thread.start()
    stopped = False
    while thread.is_alive():
        thread.join(POLL_S)
        for event in ray.get(relay.drain.remote()):
            emit(progress, **event)
        if not stopped and should_stop is not None and should_stop():
            stopped = True
            ray.get(relay.ask_stop.remote())
    for event in ray.get(relay.drain.remote()):
        emit(progress, **event)
    err = outcome.get("error") or getattr(outcome.get("result"), "error", None)
    if err is not None:
        raise TrainingError(f"Multi-worker training failed on a Ray Train worker: "
                            f"{str(err).splitlines()[0][:300]}") from err
    return stopped
