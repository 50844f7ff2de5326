"""TabM: an MLP that imitates an ensemble of k MLPs by sharing most weights (Keras 3).

Gorishniy, Kotelnikov & Babenko, "TabM: Advancing Tabular Deep Learning with Parameter-Efficient
Ensembling" (ICLR 2025); the layers follow BatchEnsemble (Wen, Tran & Ba, ICLR 2020). LiftLab's
own implementation, written after reading the authors' public code (yandex-research/tabm).

Every row is copied k times; member i scales its copy with its own adapter ``r_i`` and runs it
through the shared hidden layers (``tabm_mini``), or through BatchEnsemble layers
``((h ⊙ r_i) W) ⊙ s_i + b_i`` that also give each member its own output scaling and bias
(``tabm``); ``tabm_lite`` (LiftLab's, for speed) shares the first hidden layer and starts the
members after it. Each member has its own linear head. Training lowers the mean of the k members'
losses (each member learns on its own; :class:`MemberLoss`), and the network's output is the
mean of the members' predictions (probabilities for classification), so the saved model is an
ordinary single-output network: (batch, n_encoded) → (batch, 1) or (batch, n_classes).

All layers are registered for Keras safe-mode loading. :func:`member_chains` reads a trained
network back as k plain dense chains (the adapters folded into the weights), which is what the
batched DeepLIFT explainer needs.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

ARCHS = ("tabm", "tabm_mini", "tabm_lite")
LOGITS = "member_logits"


def _rsqrt_uniform(fan_in: int):
    bound = float(fan_in) ** -0.5
    return keras.initializers.RandomUniform(-bound, bound)


@keras.saving.register_keras_serializable(package="liftlab")
class EnsembleInput(keras.layers.Layer):
    """Copy each row k times and scale member i's copy by its adapter ``r_i``.

    The adapter of one source column (its block of encoded features) starts from one random
    value per member, drawn from N(0, 1) (TabM's first-adapter initialisation).

    Args:
        k: Ensemble members.
        sections: Width of each source column's block of encoded features, in order; their
            sum is the input width.

    Input shape: (batch, n_encoded). Output shape: (batch, k, n_encoded).
    """

    def __init__(self, k: int, sections: Sequence[int], **kwargs):
        super().__init__(**kwargs)
        self.k = int(k)
        self.sections = [int(s) for s in sections]

    def build(self, input_shape):
        sections = self.sections

        def init(shape, dtype=None):
            per_section = keras.random.normal((shape[0], len(sections)), dtype=dtype)
            return ops.repeat(per_section, sections, axis=1)

        self.r = self.add_weight(shape=(self.k, sum(sections)), initializer=init, name="r")

    def call(self, x):
        return ops.expand_dims(x, 1) * self.r

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.k, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "k": self.k, "sections": self.sections}


@keras.saving.register_keras_serializable(package="liftlab")
class EnsembleDense(keras.layers.Layer):
    """BatchEnsemble linear layer: member i computes ``((h_i ⊙ r_i) W) ⊙ s_i + b_i``.

    ``W`` is shared; ``r_i`` and ``s_i`` start at ones and every member's bias at the same
    draw, so the members start as one network and the first adapter makes them differ.

    Args:
        units: Output width.
        k: Ensemble members.
        scale_in: Learn the input scaling ``r`` (off for the first layer, whose input is
            scaled by :class:`EnsembleInput` already).

    Input shape: (batch, k, d_in). Output shape: (batch, k, units).
    """

    def __init__(self, units: int, k: int, scale_in: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.k = int(k)
        self.scale_in = bool(scale_in)

    def build(self, input_shape):
        d_in = int(input_shape[-1])
        init = _rsqrt_uniform(d_in)
        self.kernel = self.add_weight(shape=(d_in, self.units), initializer=init, name="kernel")
        self.r = (self.add_weight(shape=(self.k, d_in), initializer="ones", name="r")
                  if self.scale_in else None)
        self.s = self.add_weight(shape=(self.k, self.units), initializer="ones", name="s")

        def same_bias(shape, dtype=None):
            return ops.tile(init((1, shape[1]), dtype=dtype), (shape[0], 1))

        self.bias = self.add_weight(shape=(self.k, self.units), initializer=same_bias,
                                    name="bias")

    def call(self, h):
        if self.r is not None:
            h = h * self.r
        return ops.matmul(h, self.kernel) * self.s + self.bias

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.k, self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "k": self.k,
                "scale_in": self.scale_in}


@keras.saving.register_keras_serializable(package="liftlab")
class EnsembleHead(keras.layers.Layer):
    """k linear heads, one per member: member i's logits are ``h_i @ W_i + b_i``.

    Args:
        units: Outputs per member (1, or the number of classes).
        k: Ensemble members.

    Input shape: (batch, k, d). Output shape: (batch, k, units).
    """

    def __init__(self, units: int, k: int, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.k = int(k)

    def build(self, input_shape):
        d = int(input_shape[-1])
        init = _rsqrt_uniform(d)
        self.kernel = self.add_weight(shape=(self.k, d, self.units), initializer=init,
                                      name="kernel")
        self.bias = self.add_weight(shape=(self.k, self.units), initializer=init, name="bias")

    def call(self, h):
        return ops.einsum("bkd,kdo->bko", h, self.kernel) + self.bias

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.k, self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "k": self.k}


@keras.saving.register_keras_serializable(package="liftlab")
class EnsembleMean(keras.layers.Layer):
    """The ensemble's prediction: the mean over members of each member's prediction
    (sigmoid probability, softmax probabilities, or the value for regression).

    Args:
        task: binary, multiclass or regression.

    Input shape: (batch, k, units) logits. Output shape: (batch, units).
    """

    def __init__(self, task: str, **kwargs):
        super().__init__(**kwargs)
        self.task = task

    def call(self, logits):
        if self.task == "binary":
            logits = ops.sigmoid(logits)
        elif self.task == "multiclass":
            logits = ops.softmax(logits, axis=-1)
        return ops.mean(logits, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "task": self.task}


class MemberLoss(keras.losses.Loss):
    """The mean over members of each member's own loss (TabM trains the k members on the same
    batches, each on its own prediction, not on their mean).

    Args:
        task: binary (cross-entropy on logits), multiclass (sparse cross-entropy on logits)
            or regression.
        loss: For regression: ``mse``, ``mae`` or ``huber`` (delta 1).

    Takes ``y_true`` of shape (batch,) or (batch, 1) and member logits of shape
    (batch, k, units); returns the loss of each row, shape (batch,).
    """

    def __init__(self, task: str, loss: str = "auto", **kwargs):
        super().__init__(name=f"members_{loss}", **kwargs)
        self.task = task
        self.loss = loss

    def call(self, y_true, y_pred):
        y = ops.reshape(y_true, (-1, 1))
        if self.task == "multiclass":
            logp = ops.log_softmax(y_pred, axis=-1)
            onehot = ops.one_hot(ops.cast(ops.reshape(y, (-1,)), "int32"), ops.shape(y_pred)[-1])
            return -ops.mean(ops.sum(logp * ops.expand_dims(onehot, 1), axis=-1), axis=1)
        z = y_pred[..., 0]
        y = ops.cast(y, z.dtype)
        if self.task == "binary":  # log(1 + e^z) - y z, stable
            per = ops.relu(z) - z * y + ops.log1p(ops.exp(-ops.abs(z)))
        else:
            err = z - y
            if self.loss == "mae":
                per = ops.abs(err)
            elif self.loss == "huber":
                a = ops.abs(err)
                per = ops.where(a <= 1.0, 0.5 * err * err, a - 0.5)
            else:
                per = err * err
        return ops.mean(per, axis=1)


def build_tabm(
    n_features: int, sections: Sequence[int], k: int = 4, width: int = 128, depth: int = 2,
    dropout: float = 0.1, arch: str = "tabm", task: str = "binary", n_classes: int = 2,
):
    """TabM network (Gorishniy et al., ICLR 2025) over LiftLab's flat encoded input.

    Args:
        n_features: Encoded input width; X has shape (n_samples, n_features).
        sections: Width of each source column's encoded block (a numeric column with its
            piecewise-linear bins, or a categorical column's one-hot levels), summing to
            ``n_features``; the first adapter starts equal within a block.
        k: Ensemble members (TabM's k), 1–64.
        width: Units of every hidden layer.
        depth: Hidden layers.
        dropout: Dropout after each hidden layer's ReLU (a separate mask per member).
        arch: ``tabm`` (BatchEnsemble layers: per-member scaling and bias in every layer),
            ``tabm_mini`` (only the first adapter per member; hidden layers fully shared) or
            ``tabm_lite`` (the first hidden layer shared and computed once per row, the members
            starting after it; cheaper, measured worse on bank: bench/RESULTS.md).
        task: binary, multiclass or regression.
        n_classes: Number of classes for multiclass.

    Returns:
        An uncompiled ``keras.Model``: (batch, n_features) → (batch, 1) (binary: the members'
        mean probability; regression: their mean value) or (batch, n_classes). Train it
        through :func:`training_view` with :class:`MemberLoss`.

    Raises:
        ValueError: Unknown ``arch`` or sections that do not add up to ``n_features``.
    """
    if arch not in ARCHS:
        raise ValueError(f"Unknown TabM architecture '{arch}'; expected one of {ARCHS}.")
    if sum(sections) != n_features:
        raise ValueError(f"sections add up to {sum(sections)}, not {n_features} features")
    units = n_classes if task == "multiclass" else 1
    inputs = keras.Input(shape=(n_features,), name="features")
    h, first = inputs, 0
    if arch == "tabm_lite":  # the first hidden layer shared: computed once per row
        h = keras.layers.Dense(width, kernel_initializer=_rsqrt_uniform(n_features),
                               bias_initializer=_rsqrt_uniform(n_features),
                               name="block0_dense")(h)
        h = keras.layers.Activation("relu", name="block0_relu")(h)
        if dropout > 0:
            h = keras.layers.Dropout(dropout, name="block0_dropout")(h)
        sections, first = [1] * width, 1
    h = EnsembleInput(k, sections, name="ensemble_input")(h)
    for i in range(first, depth):
        if arch != "tabm_mini":
            h = EnsembleDense(width, k, scale_in=i > first, name=f"block{i}_dense")(h)
        else:
            h = keras.layers.Dense(width, kernel_initializer=_rsqrt_uniform(int(h.shape[-1])),
                                   bias_initializer=_rsqrt_uniform(int(h.shape[-1])),
                                   name=f"block{i}_dense")(h)
        h = keras.layers.Activation("relu", name=f"block{i}_relu")(h)
        if dropout > 0:
            h = keras.layers.Dropout(dropout, name=f"block{i}_dropout")(h)
    logits = EnsembleHead(units, k, name=LOGITS)(h)
    outputs = EnsembleMean(task, name="output", dtype="float32")(logits)
    return keras.Model(inputs, outputs, name="tabm")


def is_tabm(model) -> bool:
    """Whether a Keras model is a TabM network (it has the members' logits layer)."""
    return any(layer.name == LOGITS for layer in getattr(model, "layers", []))


def compile_members(model, task: str, loss: str, optimizer):
    """Compile a :func:`training_view` with :class:`MemberLoss` (no metrics: early stopping
    watches ``val_loss``, the members' mean validation loss, the quantity they are trained on).
    Returns it."""
    model.compile(optimizer=optimizer, loss=MemberLoss(task, loss))
    return model


def training_view(model):
    """The model to fit: for a TabM network, the same weights with the members' logits as
    output (batch, k, units), to be trained with :class:`MemberLoss`; any other model as is."""
    if not is_tabm(model):
        return model
    return keras.Model(model.inputs, model.get_layer(LOGITS).output, name="tabm_members")


def member_chains(model, output: int = 0) -> list[list[tuple[str, np.ndarray | None,
                                                             np.ndarray | None]]]:
    """Each member of a trained TabM network as a plain dense chain, for exact DeepLIFT.

    Layers before :class:`EnsembleInput` (``tabm_lite``'s shared first layer) are the same
    steps in every chain; member i then computes ``h ⊙ r_i`` and, per hidden layer,
    ``((h ⊙ r) W) ⊙ s + b`` (or the shared ``h W + b``) and ReLU, then its head: all of it
    folds into ordinary affine steps ``h @ W_i + b_i``. Dropout is the identity at inference.

    Args:
        model: A network built by :func:`build_tabm`.
        output: Which output unit to explain.

    Returns:
        One list per member of steps ``("affine", w (d_in, d_out), b (d_out,))`` or
        ``("act", None, None)`` for ReLU; the last affine step has one output unit. The
        network's output is the mean over members of the chains' outputs passed through the
        task's link (sigmoid for binary).

    Raises:
        ValueError: Not a TabM network.
    """
    if not is_tabm(model):
        raise ValueError("not a TabM network")
    k = int(model.get_layer("ensemble_input").k)
    chains: list[list] = [[] for _ in range(k)]
    scale: list = [None] * k  # pending input scaling of each member (None: ones)

    def affine(i, w, b):
        chains[i].append(("affine", w if scale[i] is None else scale[i][:, None] * w, b))
        scale[i] = None

    for layer in model.layers:
        if isinstance(layer, EnsembleInput):
            r = np.asarray(layer.r, dtype=np.float64)
            scale = [r[i] for i in range(k)]
        elif isinstance(layer, EnsembleDense):
            w = np.asarray(layer.kernel, dtype=np.float64)
            s = np.asarray(layer.s, dtype=np.float64)
            b = np.asarray(layer.bias, dtype=np.float64)
            for i in range(k):
                r = np.asarray(layer.r[i], dtype=np.float64) if layer.r is not None else 1.0
                affine(i, (r * np.ones(w.shape[0]))[:, None] * w * s[i][None, :], b[i].copy())
        elif type(layer).__name__ == "Dense":
            w = np.asarray(layer.kernel, dtype=np.float64)
            b = np.asarray(layer.bias, dtype=np.float64)
            for i in range(k):
                affine(i, w, b.copy())
        elif type(layer).__name__ == "Activation":
            for chain in chains:
                chain.append(("act", None, None))
        elif isinstance(layer, EnsembleHead):
            w = np.asarray(layer.kernel, dtype=np.float64)
            b = np.asarray(layer.bias, dtype=np.float64)
            for i in range(k):
                affine(i, w[i][:, [output]], b[i][[output]].copy())
    return chains
