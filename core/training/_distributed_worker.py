"""What each Ray Train worker runs in multi-worker training (:mod:`core.training._distributed`).

The network and its optimizer are built in ``MultiWorkerMirroredStrategy``'s scope and trained
by a custom step under ``strategy.run`` (Keras 3's ``model.fit`` fails under that strategy). The
step lowers exactly the loss single-worker ``model.fit`` lowers:

- TabM (every variant): the network's training view (``models.tabm.training_view``: the
  members' logits, (batch, k, units)) and :class:`models.tabm.MemberLoss`, the mean over members
  of each member's own loss; the saved network predicts the members' mean, as single-worker.
- The other networks: the task's loss on the network's output.

Per-row losses (times the class weights with ``class_weight="balanced"``, as Keras's
``class_weight``) are averaged over the global batch (``tf.nn.compute_average_loss``), so that
the summed gradient equals one worker's on the same batch. The validation loss is the same
quantity on the whole validation split (what single-worker early stopping watches: for TabM the
members' mean validation loss), computed by every worker with the same weights.

Mixed precision: a worker with a GPU trains under ``mixed_float16``
(:func:`core.device.precision_policy`, the single-worker GPU path's choice) with a
``LossScaleOptimizer``; the losses are computed in float32. On the CPU nothing changes.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from core.device import MIXED, precision_policy
from core.specs import ModelConfig
from core.training._distributed_data import train_dataset, valid_chunks
from core.training._fit import _learning_rate, build_network


def row_losses(cfg: ModelConfig, task: str, model):
    """The model to train and its per-row loss.

    Returns:
        ``(view, per_row)``: ``view`` is :func:`models.tabm.training_view` of ``model`` (the
        model itself for a non-TabM network); ``per_row(y, out)`` maps targets (batch,) and
        the view's output to float32 losses (batch,).
    """
    import keras
    import tensorflow as tf

    from models import tabm

    view = tabm.training_view(model)
    if view is not model:  # TabM: each member learns on its own loss
        members = tabm.MemberLoss(task, cfg.resolved_loss(task))
        return view, lambda y, out: members.call(y, tf.cast(out, tf.float32))
    loss_fn = keras.losses.get(cfg.resolved_loss(task))

    def per_row(y, out):
        out = tf.cast(out, tf.float32)
        if task == "multiclass":
            return loss_fn(tf.reshape(y, tf.shape(out)[:1]), out)
        return loss_fn(tf.reshape(tf.cast(y, tf.float32), tf.shape(out)), out)

    return view, per_row


def make_step(strategy, view, per_row, optimizer, batch: int, weights: list[float] | None):
    """The compiled training step: one global batch over every replica.

    Args:
        strategy: The ``tf.distribute`` strategy the view and optimizer were built under.
        view: The model to train (:func:`row_losses`).
        per_row: Its per-row loss.
        optimizer: A Keras optimizer (a ``LossScaleOptimizer`` under mixed precision).
        batch: The global batch size.
        weights: Weight of each class index, or None.

    Returns:
        ``train_step(x, y) -> loss`` for distributed batches; the loss is the global batch's
        mean (weighted) per-row loss.
    """
    import keras
    import tensorflow as tf

    scaled = isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    table = None if weights is None else tf.constant(weights, tf.float32)

    def step(xb, yb):
        with tf.GradientTape() as tape:
            per = per_row(yb, view(xb, training=True))
            if table is not None:
                per = per * tf.gather(table, tf.cast(yb, tf.int32))
            loss = tf.nn.compute_average_loss(per, global_batch_size=batch)
            target = optimizer.scale_loss(loss) if scaled else loss
        grads = tape.gradient(target, view.trainable_variables)
        optimizer.apply_gradients(zip(grads, view.trainable_variables))
        return loss

    @tf.function
    def train_step(xb, yb):
        per_replica = strategy.run(step, args=(xb, yb))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    return train_step


def validation_loss(view, per_row, chunks, weights: list[float] | None) -> float:
    """Mean (class-weighted) per-row loss of the view over validation chunks ``(x, y)``."""
    import tensorflow as tf

    total, rows = 0.0, 0
    for x, y in chunks:
        per = np.asarray(per_row(tf.constant(y), view(tf.constant(x), training=False)))
        if weights is not None:
            per = per * np.asarray(weights, np.float32)[np.asarray(y).astype(np.int64)]
        total += float(np.sum(per, dtype=np.float64))
        rows += len(y)
    return total / max(rows, 1)


def train_loop(config: dict) -> None:
    """What each Ray Train worker runs (``TF_CONFIG`` is set by Ray Train).

    ``config``: ``cfg``, ``pre``, ``task``, ``n_classes``, ``seed``, ``folder`` (rank 0 writes
    ``weights.npz`` and ``history.json`` there), ``source`` (a
    :mod:`core.training._distributed_data` source), ``class_weights`` (list or None),
    ``relay`` (the coordinator's actor).
    """
    import keras
    import ray.train
    import tensorflow as tf

    from models.tabular import make_optimizer

    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    cfg: ModelConfig = config["cfg"]
    batch, source = cfg.fit.batch_size, config["source"]
    policy = precision_policy(bool(tf.config.list_physical_devices("GPU")))
    keras.mixed_precision.set_global_policy(policy)
    keras.utils.set_random_seed(config["seed"])
    steps = cfg.fit.epochs * math.ceil(source["rows"] / batch)
    with strategy.scope():
        model = build_network(cfg, config["pre"], config["task"], config["n_classes"])
        view, per_row = row_losses(cfg, config["task"], model)
        optimizer = make_optimizer(cfg.fit.optimizer, _learning_rate(cfg, steps))
        if policy == MIXED:
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    data = strategy.distribute_datasets_from_function(
        lambda ctx_in: train_dataset(source, config["pre"],
                                     ctx_in.get_per_replica_batch_size(batch), rank, world,
                                     config["seed"]))
    train_step = make_step(strategy, view, per_row, optimizer, batch, config["class_weights"])

    def valid() -> float:
        return validation_loss(view, per_row, valid_chunks(source, config["pre"]),
                               config["class_weights"])

    history = _epochs(config, model, data, train_step, valid)
    if rank == 0:
        folder = Path(config["folder"])
        np.savez(folder / "weights.npz", *[np.asarray(w) for w in model.get_weights()])
        (folder / "history.json").write_text(json.dumps(history))


def _epochs(config, model, data, train_step, valid) -> list[dict]:
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
        logs = {"loss": total / max(steps, 1), "val_loss": valid()}
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
