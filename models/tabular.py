"""Keras tabular classifiers (Keras 3, TensorFlow backend)."""

from __future__ import annotations

from collections.abc import Sequence


def build_mlp(
    n_features: int,
    hidden_units: Sequence[int] = (128, 64),
    activation: str = "relu",
    dropout: float = 0.2,
    learning_rate: float = 1e-3,
):
    """Build and compile a binary-classification multilayer perceptron ("DNN").

    Dense → (Dropout) blocks, then one sigmoid unit; loss binary cross-entropy, optimiser Adam
    (Kingma & Ba, 2015), metric ROC-AUC.

    Args:
        n_features: Width of the encoded input, i.e. X has shape (n_samples, n_features).
        hidden_units: Units per hidden layer.
        activation: Hidden activation (relu, tanh, sigmoid, gelu).
        dropout: Dropout rate after each hidden layer; 0 disables it.
        learning_rate: Adam learning rate.

    Returns:
        A compiled ``keras.Model`` mapping (batch, n_features) float32 to (batch, 1)
        probabilities of the positive class.

    Example:
        >>> model = build_mlp(12, hidden_units=(32,))
        >>> model.output_shape
        (None, 1)
    """
    import keras

    inputs = keras.Input(shape=(n_features,), name="features")
    x = inputs
    for i, units in enumerate(hidden_units):
        x = keras.layers.Dense(units, activation=activation, name=f"dense_{i}")(x)
        if dropout > 0:
            x = keras.layers.Dropout(dropout, name=f"dropout_{i}")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="probability")(x)
    model = keras.Model(inputs, outputs, name="mlp")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="binary_crossentropy",
        metrics=[keras.metrics.AUC(name="auc")],
    )
    return model
