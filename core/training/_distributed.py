"""Data-parallel training of a Keras network on N Ray Train workers.

Ray Train's ``TensorflowTrainer`` (https://docs.ray.io/en/latest/train/distributed-tensorflow-keras.html)
starts N worker processes and sets ``TF_CONFIG`` so that each builds a
``tf.distribute.MultiWorkerMirroredStrategy``. Keras 3's ``model.fit`` fails under that strategy
("unsupported type PerReplica", keras-team/keras#20585), so each worker runs a custom training
step with ``strategy.run`` over ``strategy.distribute_datasets_from_function``, the network and
its optimizer built in the strategy's scope (the pattern of TensorFlow's "Custom training loop
with Keras and MultiWorkerMirroredStrategy" tutorial).

Data: the encoded training and validation arrays are written once as a Parquet snapshot into a
folder every worker can read (``LIFTLAB_RAY_STORAGE`` on a cluster, a temporary folder on one
machine); worker ``r`` of ``N`` reads training rows ``r, r + N, …`` (all shards cut to the same
length so that every worker runs the same number of steps, as collective all-reduce requires)
and batches them by ``batch_size / N`` rows, so the global batch is the configured
``batch_size``. The per-example losses are averaged over the global batch
(``tf.nn.compute_average_loss``), so the gradient equals single-worker training on the same
batch. Every worker computes the validation loss on the whole validation split with the same
weights, so early stopping decides the same everywhere; rank 0 reports each epoch and writes
the final (best) weights, which the caller loads into a network built here.

Families: ``mlp``, ``wide_deep`` and ``ft_transformer`` (TabM trains on each member's own loss,
and DP-SGD clips per example; both need ``model.fit``'s training view and are refused).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.errors import TrainingError
from core.features import TabularPreprocessor
from core.specs import ModelConfig
from core.training._fit import FitData, Progress, TrainingCancelled, build_network, emit

STORAGE_ENV = "LIFTLAB_RAY_STORAGE"
DISTRIBUTED_MODELS = ("mlp", "wide_deep", "ft_transformer")


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


def check_distributable(cfg: ModelConfig, streamed: bool) -> None:
    """Refuse what multi-worker training cannot do, saying what to change.

    Raises:
        TrainingError: A family other than :data:`DISTRIBUTED_MODELS`, DP-SGD, or the
            streamed pipeline.
    """
    if cfg.model not in DISTRIBUTED_MODELS:
        raise TrainingError(f"Multi-worker training (workers = {cfg.fit.workers}) is available "
                            f"for {', '.join(DISTRIBUTED_MODELS)}; {cfg.model} trains on one "
                            f"worker. Choose the DNN (mlp) or set workers to 1.")
    if cfg.dp.dp:
        raise TrainingError("Multi-worker training is not available with differential privacy; "
                            "set workers to 1.")
    if streamed:
        raise TrainingError("Multi-worker training reads the in-memory pipeline's snapshot; "
                            "choose the memory pipeline or set workers to 1.")


def _write_snapshot(folder: Path, data: FitData) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    for name, x, y in (("train", data.x_train, data.y_train),
                       ("valid", data.x_valid, data.y_valid)):
        cols = {f"f{i}": np.asarray(x[:, i], np.float32) for i in range(x.shape[1])}
        cols["y"] = np.asarray(y, np.float32)
        pq.write_table(pa.table(cols), folder / f"{name}.parquet", row_group_size=16_384)


def _read(path: Path, shard: int = 0, shards: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``shard, shard + shards, …`` of a snapshot, cut to ``n // shards`` rows."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    x = np.stack([table.column(c).to_numpy() for c in table.column_names if c != "y"], axis=1)
    y = table.column("y").to_numpy()
    if shards > 1:
        keep = len(y) // shards
        x, y = x[shard::shards][:keep], y[shard::shards][:keep]
    return x.astype(np.float32), y.astype(np.float32)


def _train_loop(config: dict) -> None:
    """What each Ray Train worker runs (``TF_CONFIG`` is set by Ray Train)."""
    import keras
    import ray.train
    import tensorflow as tf

    from models.tabular import make_optimizer

    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    cfg: ModelConfig = config["cfg"]
    folder, batch = Path(config["folder"]), cfg.fit.batch_size
    keras.utils.set_random_seed(config["seed"])
    x, y = _read(folder / "train.parquet", rank, world)
    xv, yv = _read(folder / "valid.parquet")
    with strategy.scope():
        model = build_network(cfg, config["pre"], config["task"], config["n_classes"])
        optimizer = make_optimizer(cfg.fit.optimizer, cfg.fit.learning_rate)
        loss_fn = keras.losses.get(cfg.resolved_loss(config["task"]))

    def batches(ctx_in):  # this worker's shard, per-replica batches: global batch = batch
        ds = tf.data.Dataset.from_tensor_slices((x, y))
        ds = ds.shuffle(len(y), seed=config["seed"] + rank, reshuffle_each_iteration=True)
        return ds.batch(ctx_in.get_per_replica_batch_size(batch))

    data = strategy.distribute_datasets_from_function(batches)

    def step(xb, yb):
        with tf.GradientTape() as tape:
            out = model(xb, training=True)
            per = loss_fn(tf.reshape(yb, tf.shape(out)[:1]) if config["task"] == "multiclass"
                          else tf.reshape(yb, tf.shape(out)), out)
            loss = tf.nn.compute_average_loss(per, global_batch_size=batch)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    @tf.function
    def train_step(xb, yb):
        per_replica = strategy.run(step, args=(xb, yb))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    history = _epochs(config, model, data, train_step, (xv, yv), loss_fn)
    if rank == 0:
        np.savez(folder / "weights.npz", *[np.asarray(w) for w in model.get_weights()])
        (folder / "history.json").write_text(json.dumps(history))


def _validation_loss(model, loss_fn, valid, task: str) -> float:
    xv, yv = valid
    out = model.predict(xv, batch_size=4096, verbose=0)
    target = yv if task == "multiclass" else yv.reshape(out.shape)
    return float(np.mean(np.asarray(loss_fn(target, out))))


def _epochs(config, model, data, train_step, valid, loss_fn) -> list[dict]:
    """The epoch loop with early stopping on the validation loss (best weights restored)."""
    import ray

    cfg: ModelConfig = config["cfg"]
    relay, history = config["relay"], []
    best, best_weights, waited = np.inf, None, 0
    for epoch in range(1, cfg.fit.epochs + 1):
        total, steps = 0.0, 0
        for xb, yb in data:
            total += float(train_step(xb, yb))
            steps += 1
        logs = {"loss": total / max(steps, 1),
                "val_loss": _validation_loss(model, loss_fn, valid, config["task"])}
        history.append(logs)
        if ray.train.get_context().get_world_rank() == 0:
            ray.get(relay.push.remote({"stage": "epoch", "epoch": epoch,
                                       "epochs": cfg.fit.epochs, "logs": logs}))
        if logs["val_loss"] < best:
            best, best_weights, waited = logs["val_loss"], model.get_weights(), 0
        else:
            waited += 1
        stop_all = ray.get(relay.stopped.remote())
        if stop_all or (cfg.fit.early_stopping and waited >= cfg.fit.patience):
            break
    if cfg.fit.early_stopping and best_weights is not None:
        model.set_weights(best_weights)
    return history


def fit_distributed(cfg: ModelConfig, pre: TabularPreprocessor, task: str, n_classes: int,
                    data: FitData, seed: int, progress: Progress | None = None,
                    should_stop: Callable[[], bool] | None = None):
    """Fit a Keras network on ``cfg.fit.workers`` Ray Train workers (see the module's text).

    Ray must be running (``core.app`` starts it); a process that has not started it gets a
    local instance from Ray's defaults.

    Args:
        cfg: Model configuration; ``cfg.fit.workers`` ≥ 2, ``cfg.fit.batch_size`` the global
            batch.
        pre: The fitted preprocessor (the input layout).
        task: binary, multiclass or regression.
        n_classes: Number of classes (multiclass).
        data: Encoded train/validation arrays; x float32 (n, n_encoded), y (n,).
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

    check_distributable(cfg, streamed=False)
    root = Path(os.environ.get(STORAGE_ENV) or tempfile.gettempdir())
    root.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f"liftlab-train-p{os.getpid()}-", dir=root))
    relay = ray.remote(num_cpus=0)(_Relay).remote()
    try:
        _write_snapshot(folder, data)
        gpus = ray.cluster_resources().get("GPU", 0) >= cfg.fit.workers
        trainer = TensorflowTrainer(
            _train_loop,
            train_loop_config={"cfg": cfg, "pre": pre, "task": task, "n_classes": n_classes,
                               "seed": seed, "folder": str(folder), "relay": relay},
            scaling_config=ScalingConfig(num_workers=cfg.fit.workers, use_gpu=gpus),
            run_config=RunConfig(storage_path=str(folder / "ray"), name="fit"))
        emit(progress, stage="fit", message=f"Training {cfg.model} on {cfg.fit.workers} Ray "
                                            f"Train workers ({'GPU' if gpus else 'CPU'})")
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


POLL_S = 0.5


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
    time.sleep(0)
    return stopped
