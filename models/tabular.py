"""Keras tabular networks (Keras 3, TensorFlow backend): MLP, wide & deep, FT-Transformer.

Every builder takes the encoded width and the task head and returns an *uncompiled* model with one
float input of shape (batch, n_encoded); :func:`compile_model` adds loss, optimiser and metrics.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

TASK_HEADS = {"binary": "sigmoid", "multiclass": "softmax", "regression": "linear"}


def _head(x, task: str, n_classes: int):
    import keras

    units = n_classes if task == "multiclass" else 1
    return keras.layers.Dense(units, activation=TASK_HEADS[task], name="output",
                              dtype="float32")(x)


def _dense_stack(x, hidden_units, activation, dropout, batch_norm, l2, prefix="dense"):
    import keras

    reg = keras.regularizers.L2(l2) if l2 > 0 else None
    for i, units in enumerate(hidden_units):
        x = keras.layers.Dense(units, kernel_regularizer=reg, name=f"{prefix}_{i}")(x)
        if batch_norm:
            x = keras.layers.BatchNormalization(name=f"{prefix}_bn_{i}")(x)
        x = keras.layers.Activation(activation, name=f"{prefix}_act_{i}")(x)
        if dropout > 0:
            x = keras.layers.Dropout(dropout, name=f"{prefix}_dropout_{i}")(x)
    return x


def build_mlp(
    n_features: int, hidden_units: Sequence[int] = (128, 64), activation: str = "relu",
    dropout: float = 0.2, batch_norm: bool = False, l2: float = 0.0, task: str = "binary",
    n_classes: int = 2,
):
    """Multilayer perceptron ("DNN"): Dense → (BatchNorm) → activation → (Dropout) blocks.

    Args:
        n_features: Encoded input width; X has shape (n_samples, n_features).
        hidden_units: Units per hidden layer.
        activation: relu, tanh, sigmoid or gelu.
        dropout: Dropout rate after each hidden layer; 0 disables it.
        batch_norm: Batch normalisation before each activation (Ioffe & Szegedy, 2015).
        l2: L2 weight penalty on hidden kernels.
        task: ``binary`` (1 sigmoid unit), ``multiclass`` (softmax over ``n_classes``) or
            ``regression`` (1 linear unit).
        n_classes: Number of classes for multiclass.

    Returns:
        An uncompiled ``keras.Model``: (batch, n_features) → (batch, 1) or (batch, n_classes).

    Example:
        >>> build_mlp(12, hidden_units=(32,)).output_shape
        (None, 1)
    """
    import keras

    inputs = keras.Input(shape=(n_features,), name="features")
    x = _dense_stack(inputs, hidden_units, activation, dropout, batch_norm, l2)
    return keras.Model(inputs, _head(x, task, n_classes), name="mlp")


def embedding_dim(cardinality: int) -> int:
    """Embedding size for a categorical column: ``min(16, round(1.6 · card^0.56))`` (fast.ai rule)."""
    return max(2, min(16, round(1.6 * cardinality ** 0.56)))


def build_wide_deep(
    n_features: int, blocks: Sequence[tuple[int, int]], numeric: Sequence[int],
    hidden_units: Sequence[int] = (128, 64), activation: str = "relu", dropout: float = 0.2,
    task: str = "binary", n_classes: int = 2,
):
    """Wide & deep network (Cheng et al., 2016).

    The wide part is a linear layer over all encoded columns (numeric values and one-hot
    levels); the deep part embeds each categorical block (size from its cardinality), joins the
    numeric columns and runs an MLP. Their logits are added before the output activation.

    Args:
        n_features: Encoded input width.
        blocks: ``(start, end)`` one-hot column range of each categorical column.
        numeric: Indices of numeric columns.
        hidden_units: Units of the deep part's hidden layers.
        activation: Hidden activation.
        dropout: Dropout rate in the deep part.
        task: binary, multiclass or regression.
        n_classes: Number of classes for multiclass.

    Returns:
        An uncompiled ``keras.Model``: (batch, n_features) → task output.
    """
    import keras

    from models.layers import BlockEmbedding

    units = n_classes if task == "multiclass" else 1
    inputs = keras.Input(shape=(n_features,), name="features")
    wide = keras.layers.Dense(units, name="wide")(inputs)
    dims = [embedding_dim(e - s) for s, e in blocks]
    deep = BlockEmbedding(list(blocks), dims, list(numeric), name="embeddings")(inputs)
    deep = _dense_stack(deep, hidden_units, activation, dropout, False, 0.0, prefix="deep")
    deep = keras.layers.Dense(units, name="deep_logit")(deep)
    logits = keras.layers.Add(name="wide_plus_deep")([wide, deep])
    outputs = keras.layers.Activation(TASK_HEADS[task], name="output", dtype="float32")(logits)
    return keras.Model(inputs, outputs, name="wide_deep")


def build_ft_transformer(
    n_features: int, blocks: Sequence[tuple[int, int]], d_token: int = 32, n_blocks: int = 2,
    n_heads: int = 4, dropout: float = 0.1, task: str = "binary", n_classes: int = 2,
):
    """FT-Transformer (Gorishniy et al., 2021, "Revisiting Deep Learning Models for Tabular Data").

    Every source column becomes a token (:class:`~models.layers.FeatureTokenizer`), a [CLS]
    token is prepended, ``n_blocks`` pre-norm Transformer blocks (multi-head self-attention and a
    GELU feed-forward, residual connections) mix them, and the [CLS] token feeds the head.

    Args:
        n_features: Encoded input width.
        blocks: ``(start, end)`` column range of every source column, in order.
        d_token: Token size (divisible by ``n_heads``).
        n_blocks: Transformer blocks.
        n_heads: Attention heads.
        dropout: Attention and feed-forward dropout.
        task: binary, multiclass or regression.
        n_classes: Number of classes for multiclass.

    Returns:
        An uncompiled ``keras.Model``: (batch, n_features) → task output.
    """
    import keras

    from models.layers import FeatureTokenizer

    inputs = keras.Input(shape=(n_features,), name="features")
    x = FeatureTokenizer(list(blocks), d_token, name="tokenizer")(inputs)
    for i in range(n_blocks):
        h = keras.layers.LayerNormalization(name=f"block{i}_norm1")(x) if i else x
        h = keras.layers.MultiHeadAttention(n_heads, d_token // n_heads, dropout=dropout,
                                            name=f"block{i}_attention")(h, h)
        x = keras.layers.Add(name=f"block{i}_res1")([x, h])
        h = keras.layers.LayerNormalization(name=f"block{i}_norm2")(x)
        h = keras.layers.Dense(math.ceil(d_token * 4 / 3), activation="gelu",
                               name=f"block{i}_ffn1")(h)
        h = keras.layers.Dropout(dropout, name=f"block{i}_ffn_dropout")(h)
        h = keras.layers.Dense(d_token, name=f"block{i}_ffn2")(h)
        x = keras.layers.Add(name=f"block{i}_res2")([x, h])
    cls = keras.layers.Flatten(name="cls")(x[:, :1, :])
    cls = keras.layers.LayerNormalization(name="head_norm")(cls)
    cls = keras.layers.Activation("relu", name="head_act")(cls)
    return keras.Model(inputs, _head(cls, task, n_classes), name="ft_transformer")


# the names every configuration, form and command line offers (defined here, once)
TASK_LOSSES = {  # the task's default first
    "binary": ("binary_crossentropy",),
    "multiclass": ("sparse_categorical_crossentropy",),
    "regression": ("mse", "mae", "huber"),
}
OPTIMIZERS = ("adam", "adamw", "adagrad", "rmsprop", "sgd")
ACTIVATIONS = ("relu", "tanh", "sigmoid", "gelu")
SCHEDULES = ("constant", "cosine")


def make_optimizer(name: str, learning_rate, weight_decay: float = 1e-4):
    """Optimiser by name: adam, adamw, adagrad, rmsprop, or sgd (momentum 0.9, Nesterov).

    Args:
        name: Optimiser name.
        learning_rate: A float or a ``keras.optimizers.schedules.LearningRateSchedule``.
        weight_decay: Decoupled weight decay for AdamW (Loshchilov & Hutter, 2019).
    """
    import keras

    if name == "adam":
        return keras.optimizers.Adam(learning_rate)
    if name == "adamw":
        return keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay)
    if name == "adagrad":
        return keras.optimizers.Adagrad(learning_rate)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate, momentum=0.9, nesterov=True)
    raise ValueError(f"Unknown optimizer '{name}'; expected one of {', '.join(OPTIMIZERS)}.")


def compile_model(model, task: str, loss: str, optimizer):
    """Compile with the task's loss and metrics (ROC-AUC for binary, accuracy for multiclass,
    MAE for regression). Returns the model."""
    import keras

    metrics = {"binary": [keras.metrics.AUC(name="auc")],
               "multiclass": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
               "regression": [keras.metrics.MeanAbsoluteError(name="mae")]}[task]
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    return model
