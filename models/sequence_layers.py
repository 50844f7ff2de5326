"""Custom Keras layers of the next-item recommenders (:mod:`models.sequence`), registered so a
saved network loads with ``safe_mode=True``.

Importing this module loads Keras; :mod:`models.sequence` imports it inside its functions.
"""

from __future__ import annotations

import keras
from keras import ops

PAD = 0  # item id 0 pads a window


def first_seen(items, n_rows: int):
    """The first step at which each item occurs in each window.

    One scatter-max over the batch × window ids, O(batch · (window + n_rows)) memory, instead
    of a one-hot cumulative sum over (batch, window, n_rows), which cost more than the logits.

    Args:
        items: Item ids, shape (batch, window) int32, 0 = padding.
        n_rows: Catalogue size plus one (ids 0..n_rows - 1).

    Returns:
        int32 tensor of shape (batch, n_rows): the first step (0-based) of each item, or
        ``window`` where it never occurs (padding never counts).

    Example:
        >>> np.asarray(first_seen(np.array([[0, 2, 1, 2]], dtype="int32"), 4)).tolist()
        [[4, 2, 1, 4]]
    """
    items = ops.convert_to_tensor(items, dtype="int32")
    batch, window = ops.shape(items)[0], ops.shape(items)[1]
    steps = ops.zeros_like(items) + ops.expand_dims(ops.arange(window, dtype="int32"), 0)
    later = ops.where(ops.greater(items, PAD), window - steps, 0)  # window - t; 0 = never
    segments = ops.expand_dims(ops.arange(batch, dtype="int32"), 1) * n_rows + items
    latest = ops.segment_max(ops.reshape(later, (-1,)), ops.reshape(segments, (-1,)),
                             num_segments=batch * n_rows)
    return window - ops.reshape(ops.maximum(latest, 0), (batch, n_rows))


def seen_before(items, n_rows: int):
    """Whether each item occurred at or before each step.

    Args:
        items: Item ids, shape (batch, window) int32, 0 = padding.
        n_rows: Catalogue size plus one.

    Returns:
        float32 tensor of shape (batch, window, n_rows): 1.0 where item j occurred at a step
        <= t, else 0.0 (padding is never seen).
    """
    steps = ops.arange(ops.shape(items)[1], dtype="int32")
    return ops.cast(ops.less_equal(ops.expand_dims(first_seen(items, n_rows), 1),
                                   ops.expand_dims(ops.expand_dims(steps, 0), -1)), "float32")


def _is_ids(x) -> bool:
    return "int" in str(x.dtype)

@keras.saving.register_keras_serializable(package="liftlab")
class ItemEmbedding(keras.layers.Layer):
    """Item vectors shared by input and output (tied weights, as in SASRec).

    Called on item ids of shape (batch, window) it looks them up (0 is padding and is
    masked); called on hidden states of shape (batch, window, dim) it returns next-item
    logits ``hidden · E^T + b`` of shape (batch, window, n_rows).
    """

    def __init__(self, n_rows: int, dim: int, **kwargs):
        super().__init__(**kwargs)
        self.n_rows, self.dim = n_rows, dim
        self.supports_masking = True

    def build(self, input_shape):
        self.embeddings = self.add_weight(
            shape=(self.n_rows, self.dim), name="embeddings",
            initializer=keras.initializers.RandomNormal(stddev=0.05))
        self.bias = self.add_weight(shape=(self.n_rows,), name="bias", initializer="zeros")

    def call(self, inputs):
        if _is_ids(inputs):
            return ops.take(self.embeddings, inputs, axis=0)
        return ops.matmul(inputs, ops.transpose(self.embeddings)) + self.bias

    def compute_mask(self, inputs, mask=None):
        return ops.not_equal(inputs, PAD) if _is_ids(inputs) else mask

    def get_config(self):
        return {**super().get_config(), "n_rows": self.n_rows, "dim": self.dim}

@keras.saving.register_keras_serializable(package="liftlab")
class RepeatBias(keras.layers.Layer):
    """Adds one learned score to every item the user already had up to each step.

    A repeat-aware output (Ren et al., 2019, "RepeatNet", AAAI): it learns to push seen
    items down where nobody takes an item twice (films) and up where people re-buy.
    Called on ``[logits (batch, window, n_rows), items (batch, window)]``.
    """

    def __init__(self, n_rows: int, **kwargs):
        super().__init__(**kwargs)
        self.n_rows = n_rows
        self.supports_masking = True

    def build(self, input_shape):
        self.repeat = self.add_weight(shape=(), name="repeat", initializer="zeros")

    def call(self, inputs):
        logits, items = inputs
        return logits + self.repeat * seen_before(items, self.n_rows)

    def compute_mask(self, inputs, mask=None):
        return mask[0] if isinstance(mask, list | tuple) else mask

    def get_config(self):
        return {**super().get_config(), "n_rows": self.n_rows}

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

    Training only: reads the tied item embeddings, so the saved network keeps its
    full-catalogue output.
    """

    def __init__(self, items, repeat, n_items: int, negatives: int, seed: int = 0,
                 **kwargs):
        super().__init__(**kwargs)
        self.items, self.repeat, self.n_items = items, repeat, n_items
        self.negatives = negatives
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True  # padding is masked in the loss instead

    def compute_mask(self, inputs, mask=None):
        return None

    def call(self, inputs):
        hidden, targets, items = inputs
        table, bias = self.items.embeddings, self.items.bias
        neg = keras.random.randint((self.negatives,), 1, self.n_items + 1,
                                   seed=self.seed_generator)
        targets, items = ops.cast(targets, "int32"), ops.cast(items, "int32")
        pos = ops.sum(hidden * ops.take(table, targets, axis=0), axis=-1)
        first = first_seen(items, self.n_items + 1)  # (batch, n_items + 1)
        steps = ops.expand_dims(ops.expand_dims(ops.arange(ops.shape(items)[1],
                                                           dtype="int32"), 0), -1)
        seen_pos = ops.less_equal(ops.expand_dims(
            ops.take_along_axis(first, targets, axis=1), -1), steps)[..., 0]
        pos = pos + ops.take(bias, targets) + self.repeat.repeat * ops.cast(seen_pos,
                                                                           pos.dtype)
        negl = ops.matmul(hidden, ops.transpose(ops.take(table, neg, axis=0)))
        seen_neg = ops.less_equal(ops.expand_dims(ops.take(first, neg, axis=1), 1), steps)
        negl = negl + ops.take(bias, neg) + self.repeat.repeat * ops.cast(seen_neg,
                                                                          negl.dtype)
        hit = ops.equal(ops.expand_dims(targets, -1), neg)  # accidental hits do not count
        negl = ops.where(hit, -1e9, negl)
        return ops.concatenate([ops.expand_dims(pos, -1), negl], axis=-1)
