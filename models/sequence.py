"""Keras next-item recommenders: a GRU4Rec-style recurrent network and a SASRec-style Transformer.

Both read a left-padded window of item indices, shape (batch, window) int32 with 0 as padding,
and return logits over the whole catalogue at every position, shape (batch, window,
n_items + 1); position t predicts the item that follows step t (the sequence-to-sequence setup).
Training uses cross-entropy over the full catalogue, or a sampled softmax when the catalogue is
large (Jean et al., 2015), which is how both families are trained in recent comparisons
(Klenitskiy & Vasilev, 2023). The hidden state that feeds the output layer is the input of the
layer named ``item_logits``; the input embedding is the layer ``item_embedding``.

Keras is imported inside the functions, so importing this module loads no TensorFlow.
"""

from __future__ import annotations

import functools

PAD = 0
LOGITS_LAYER = "item_logits"
EMBEDDING_LAYER = "item_embedding"


def custom_objects() -> dict:
    """Register and return LiftLab's saved custom Keras layers (pass to ``load_model``)."""
    return {"liftlab>PositionEmbedding": _layers()["PositionEmbedding"]}


@functools.cache
def _layers() -> dict:
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="liftlab")
    class PositionEmbedding(keras.layers.Layer):
        """Adds a learned vector per position to a (batch, window, dim) sequence."""

        def __init__(self, window: int, **kwargs):
            super().__init__(**kwargs)
            self.window = window
            self.supports_masking = True

        def build(self, input_shape):
            self.positions = self.add_weight(
                shape=(self.window, input_shape[-1]), name="positions",
                initializer=keras.initializers.RandomNormal(stddev=0.02))

        def call(self, inputs):
            return inputs + ops.expand_dims(self.positions, 0)

        def get_config(self):
            return {**super().get_config(), "window": self.window}

    class SampledLogits(keras.layers.Layer):
        """Logits of the true next item (column 0) and of shared uniform negatives.

        Training only: reads the kernel and bias of the output ``Dense`` layer, so the saved
        network keeps its full-catalogue head.
        """

        def __init__(self, head, n_items: int, negatives: int, seed: int = 0, **kwargs):
            super().__init__(**kwargs)
            self.head, self.n_items, self.negatives = head, n_items, negatives
            self.seed_generator = keras.random.SeedGenerator(seed)
            self.supports_masking = True  # padding is masked in the loss instead

        def compute_mask(self, inputs, mask=None):
            return None

        def call(self, inputs):
            hidden, targets = inputs
            kernel, bias = self.head.kernel, self.head.bias
            neg = keras.random.randint((self.negatives,), 1, self.n_items + 1,
                                       seed=self.seed_generator)
            targets = ops.cast(targets, "int32")
            pos = ops.sum(hidden * ops.take(ops.transpose(kernel), targets, axis=0), axis=-1)
            pos = pos + ops.take(bias, targets)
            negl = ops.matmul(hidden, ops.take(kernel, neg, axis=1)) + ops.take(bias, neg)
            hit = ops.equal(ops.expand_dims(targets, -1), neg)  # accidental hits do not count
            negl = ops.where(hit, -1e9, negl)
            return ops.concatenate([ops.expand_dims(pos, -1), negl], axis=-1)

    return {"PositionEmbedding": PositionEmbedding, "SampledLogits": SampledLogits}


def _inputs(window: int, n_items: int, embed_dim: int):
    import keras

    items = keras.Input(shape=(window,), dtype="int32", name="items")
    emb = keras.layers.Embedding(n_items + 1, embed_dim, mask_zero=True,
                                 name=EMBEDDING_LAYER)(items)
    return items, emb


def build_gru4rec(
    n_items: int, window: int = 50, embed_dim: int = 64, units: int = 100,
    cell: str = "gru", dropout: float = 0.2,
):
    """GRU4Rec-style network: item embedding → GRU or LSTM → softmax over items at every step.

    Hidasi, Karatzoglou, Baltrunas & Tikk (2016), "Session-based recommendations with recurrent
    neural networks", ICLR; here trained sequence-to-sequence with cross-entropy over the whole
    catalogue (or a sampled softmax) instead of session-parallel mini-batches with ranking loss.

    Args:
        n_items: Catalogue size (item indices 1..n_items, 0 is padding).
        window: Input length (steps).
        embed_dim: Item embedding size.
        units: Recurrent state size.
        cell: ``"gru"`` or ``"lstm"``.
        dropout: Dropout on the embeddings and on the recurrent output, in [0, 0.9].

    Returns:
        An uncompiled ``keras.Model`` mapping (batch, window) int32 to (batch, window,
        n_items + 1) logits.

    Raises:
        ValueError: Unknown cell.

    Example:
        >>> build_gru4rec(100, window=8).output_shape
        (None, 8, 101)
    """
    import keras

    if cell not in ("gru", "lstm"):
        raise ValueError(f"cell must be 'gru' or 'lstm'; got {cell!r}.")
    items, x = _inputs(window, n_items, embed_dim)
    x = keras.layers.Dropout(dropout, name="embedding_dropout")(x)
    layer = keras.layers.GRU if cell == "gru" else keras.layers.LSTM
    x = layer(units, return_sequences=True, name=cell)(x)
    x = keras.layers.Dropout(dropout, name="hidden")(x)
    logits = keras.layers.Dense(n_items + 1, name=LOGITS_LAYER)(x)
    return keras.Model(items, logits, name=f"gru4rec_{cell}")


def build_sasrec(
    n_items: int, window: int = 50, embed_dim: int = 64, blocks: int = 2, heads: int = 2,
    dropout: float = 0.2,
):
    """SASRec-style Transformer: item + position embeddings, causal self-attention blocks.

    Kang & McAuley (2018), "Self-attentive sequential recommendation", ICDM. Each block is
    pre-norm multi-head self-attention with a causal mask (step t sees steps <= t, never padding)
    followed by a two-layer point-wise feed-forward net, both with residual connections and
    dropout; the next item is predicted at every position.

    Args:
        n_items: Catalogue size (item indices 1..n_items, 0 is padding).
        window: Input length (steps).
        embed_dim: Embedding and model width; must be divisible by ``heads``.
        blocks: Self-attention blocks.
        heads: Attention heads.
        dropout: Dropout rate, in [0, 0.9].

    Returns:
        An uncompiled ``keras.Model`` mapping (batch, window) int32 to (batch, window,
        n_items + 1) logits.

    Raises:
        ValueError: ``embed_dim`` not divisible by ``heads``.

    Example:
        >>> build_sasrec(100, window=8, embed_dim=16).output_shape
        (None, 8, 101)
    """
    import keras

    if embed_dim % heads:
        raise ValueError(f"embed_dim ({embed_dim}) must be divisible by heads ({heads}).")
    layers = keras.layers
    items, x = _inputs(window, n_items, embed_dim)
    x = _layers()["PositionEmbedding"](window, name="positions")(x)
    x = layers.Dropout(dropout, name="embedding_dropout")(x)
    for b in range(blocks):
        a = layers.LayerNormalization(epsilon=1e-6, name=f"block{b}_norm1")(x)
        a = layers.MultiHeadAttention(heads, embed_dim // heads, dropout=dropout,
                                      name=f"block{b}_attention")(a, a, use_causal_mask=True)
        x = layers.Add(name=f"block{b}_residual1")([x, layers.Dropout(dropout)(a)])
        f = layers.LayerNormalization(epsilon=1e-6, name=f"block{b}_norm2")(x)
        f = layers.Dense(embed_dim, activation="relu", name=f"block{b}_ffn1")(f)
        f = layers.Dense(embed_dim, name=f"block{b}_ffn2")(layers.Dropout(dropout)(f))
        x = layers.Add(name=f"block{b}_residual2")([x, layers.Dropout(dropout)(f)])
    x = layers.LayerNormalization(epsilon=1e-6, name="hidden")(x)
    logits = layers.Dense(n_items + 1, name=LOGITS_LAYER)(x)
    return keras.Model(items, logits, name="sasrec")


def _sampled_loss(targets, logits):
    """Cross-entropy with the true item in column 0, averaged over non-padding steps."""
    from keras import ops

    ce = ops.logsumexp(logits, axis=-1) - logits[..., 0]
    mask = ops.cast(ops.greater(targets, PAD), ce.dtype)
    return ops.sum(ce * mask, axis=-1) / ops.maximum(ops.sum(mask, axis=-1), 1.0)


def training_model(network, n_items: int, learning_rate: float = 1e-3, sampled: bool = False,
                   negatives: int = 1000, seed: int = 0):
    """The compiled model that trains ``network``'s weights.

    Full softmax: ``network`` itself with sparse categorical cross-entropy from logits,
    padding targets ignored. Sampled softmax: a two-input model ``[items, targets]`` scoring the
    true next item against ``negatives`` shared uniform samples per batch (accidental hits
    removed), so a step costs O(negatives) instead of O(n_items); fit it with
    ``x=[items, targets], y=targets``.

    Args:
        network: A model from :func:`build_gru4rec` or :func:`build_sasrec`.
        n_items: Catalogue size.
        learning_rate: Adam learning rate (Kingma & Ba, 2015).
        sampled: Use the sampled softmax.
        negatives: Negatives per batch for the sampled softmax.
        seed: Seed of the negative sampler.

    Returns:
        A compiled ``keras.Model`` that shares its weights with ``network``.
    """
    import keras

    optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
    if not sampled:
        network.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, ignore_class=PAD))
        return network
    head = network.get_layer(LOGITS_LAYER)
    targets = keras.Input(shape=network.input_shape[1:], dtype="int32", name="targets")
    layer = _layers()["SampledLogits"](head, n_items, min(negatives, n_items),
                                                      seed, name="sampled_logits")
    model = keras.Model([network.input, targets], layer([head.input, targets]),
                        name=f"{network.name}_sampled")
    model.compile(optimizer=optimizer, loss=_sampled_loss)
    return model
