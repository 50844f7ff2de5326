"""Keras next-item recommenders: a GRU4Rec-style recurrent network and a SASRec-style Transformer.

Both read a left-padded window of item indices, shape (batch, window) int32 with 0 as padding,
and return logits over the whole catalogue at every position, shape (batch, window,
n_items + 1); position t predicts the item that follows step t (the sequence-to-sequence setup).
Input and output share one item embedding (``item_embedding``): logits are the last hidden
state (layer ``hidden``) times every item's vector, plus a per-item bias — SASRec's prediction
layer, and GRU4Rec's "constrained embedding" option — plus one learned score for items the user
already had (layer ``repeat_bias``; Ren et al., 2019). Training uses cross-entropy over the full
catalogue, or a sampled softmax when the catalogue is large (Jean et al., 2015), which is how
both families are trained in recent comparisons (Klenitskiy & Vasilev, 2023).

Keras is imported inside the functions, so importing this module loads no TensorFlow.
"""

from __future__ import annotations

HIDDEN_LAYER = "hidden"
EMBEDDING_LAYER = "item_embedding"
REPEAT_LAYER = "repeat_bias"


def custom_objects() -> dict:
    """Register and return LiftLab's saved custom Keras layers (pass to ``load_model``)."""
    return {f"liftlab>{name}": layer for name, layer in _layers().items()
            if name != "SampledLogits"}


def _layers() -> dict:
    from models import sequence_layers as lay

    return {"ItemEmbedding": lay.ItemEmbedding, "PositionEmbedding": lay.PositionEmbedding,
            "RepeatBias": lay.RepeatBias, "SampledLogits": lay.SampledLogits}


def _inputs(window: int, n_items: int, embed_dim: int):
    import keras

    items = keras.Input(shape=(window,), dtype="int32", name="items")
    layer = _layers()["ItemEmbedding"](n_items + 1, embed_dim, name=EMBEDDING_LAYER)
    return items, layer, layer(items)


def _output(table, hidden, items, n_items: int):
    """Tied item logits plus the learned repeat bias (layer ``repeat_bias``)."""
    return _layers()["RepeatBias"](n_items + 1, name=REPEAT_LAYER)([table(hidden), items])


def build_gru4rec(
    n_items: int, window: int = 50, embed_dim: int = 64, cell: str = "gru",
    dropout: float = 0.2, residual: bool = True,
):
    """GRU4Rec-style network: item embedding → GRU or LSTM → softmax over items at every step.

    Hidasi, Karatzoglou, Baltrunas & Tikk (2016), "Session-based recommendations with recurrent
    neural networks", ICLR; here trained sequence-to-sequence with cross-entropy over the whole
    catalogue (or a sampled softmax) instead of session-parallel mini-batches with ranking loss.

    Args:
        n_items: Catalogue size (item indices 1..n_items, 0 is padding).
        window: Input length (steps).
        embed_dim: Item embedding size, also the recurrent state size (the output reuses
            the item embeddings).
        cell: ``"gru"`` or ``"lstm"``.
        dropout: Dropout on the embeddings and on the recurrent output, in [0, 0.9].
        residual: Add each step's item embedding to the recurrent output (a residual
            connection, He et al. 2016), so the tied output layer scores items by their
            similarity to the current item as well as by the sequence state; this is what
            "what follows this item" baselines capture, and without it the recurrent state
            alone tied with the item-to-item baseline on Online Retail.

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
    items, table, x = _inputs(window, n_items, embed_dim)
    e = keras.layers.Dropout(dropout, name="embedding_dropout")(x)
    layer = keras.layers.GRU if cell == "gru" else keras.layers.LSTM
    h = layer(embed_dim, return_sequences=True, name=cell)(e)
    if residual:  # the current item's own embedding beside the sequence state
        h = keras.layers.Add(name="residual")([h, e])
    x = keras.layers.Dropout(dropout, name=HIDDEN_LAYER)(h)
    return keras.Model(items, _output(table, x, items, n_items), name=f"gru4rec_{cell}")


def build_sasrec(
    n_items: int, window: int = 50, embed_dim: int = 64, blocks: int = 2, heads: int = 2,
    dropout: float = 0.2,
):
    """SASRec-style Transformer: item + position embeddings, causal self-attention blocks.

    Kang & McAuley (2018), "Self-attentive sequential recommendation", ICDM. Each block is
    pre-norm multi-head self-attention with a causal mask (step t sees steps <= t, never padding)
    followed by a two-layer point-wise feed-forward net, both with residual connections and
    dropout; the next item is predicted at every position. Every layer is named
    explicitly, so the names never depend on Keras's auto-naming state: with auto-named dropouts,
    a second training in the same app server failed with 'The name "dropout_1" is used 2 times
    in the model'.

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
    items, table, x = _inputs(window, n_items, embed_dim)
    x = _layers()["PositionEmbedding"](window, name="positions")(x)
    x = layers.Dropout(dropout, name="embedding_dropout")(x)
    for b in range(blocks):
        a = layers.LayerNormalization(epsilon=1e-6, name=f"block{b}_norm1")(x)
        a = layers.MultiHeadAttention(heads, embed_dim // heads, dropout=dropout,
                                      name=f"block{b}_attention")(a, a, use_causal_mask=True)
        a = layers.Dropout(dropout, name=f"block{b}_attention_dropout")(a)
        x = layers.Add(name=f"block{b}_residual1")([x, a])
        f = layers.LayerNormalization(epsilon=1e-6, name=f"block{b}_norm2")(x)
        f = layers.Dense(embed_dim, activation="relu", name=f"block{b}_ffn1")(f)
        f = layers.Dropout(dropout, name=f"block{b}_ffn_dropout1")(f)
        f = layers.Dense(embed_dim, name=f"block{b}_ffn2")(f)
        f = layers.Dropout(dropout, name=f"block{b}_ffn_dropout2")(f)
        x = layers.Add(name=f"block{b}_residual2")([x, f])
    x = layers.LayerNormalization(epsilon=1e-6, name=HIDDEN_LAYER)(x)
    return keras.Model(items, _output(table, x, items, n_items), name="sasrec")


def _sampled_loss(targets, logits):
    """Cross-entropy with the true item in column 0, averaged over non-padding steps."""
    from keras import ops

    from models.sequence_layers import PAD

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

    from models.sequence_layers import PAD

    optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
    if not sampled:
        network.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, ignore_class=PAD))
        return network
    targets = keras.Input(shape=network.input_shape[1:], dtype="int32", name="targets")
    layer = _layers()["SampledLogits"](network.get_layer(EMBEDDING_LAYER),
                                       network.get_layer(REPEAT_LAYER), n_items,
                                       min(negatives, n_items), seed, name="sampled_logits")
    hidden = network.get_layer(HIDDEN_LAYER).output
    model = keras.Model([network.input, targets], layer([hidden, targets, network.input]),
                        name=f"{network.name}_sampled")
    model.compile(optimizer=optimizer, loss=_sampled_loss)
    return model
