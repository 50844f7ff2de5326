"""Custom Keras layers, registered so models load with ``safe_mode=True``.

Both layers read one flat float input of shape (batch, n_encoded) laid out as blocks: a numeric
column is a block of width 1, a categorical column a block of one-hot columns. Multiplying a
one-hot block by a weight matrix *is* an embedding lookup, so the models keep a single float
input that SHAP's DeepExplainer and GradientExplainer can differentiate.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="liftlab")
class BlockEmbedding(keras.layers.Layer):
    """Embed each categorical block and pass numeric columns through.

    Args:
        blocks: ``[start, end]`` column ranges of the categorical (one-hot) blocks.
        dims: Embedding size of each block (same length as ``blocks``).
        numeric: Column indices passed through unchanged.

    Input shape: (batch, n_encoded). Output shape: (batch, len(numeric) + sum(dims)).
    """

    def __init__(self, blocks, dims, numeric, **kwargs):
        super().__init__(**kwargs)
        self.blocks = [list(b) for b in blocks]
        self.dims = list(dims)
        self.numeric = list(numeric)

    def build(self, input_shape):
        self.kernels = [
            self.add_weight(shape=(e - s, d), initializer="glorot_uniform", name=f"emb_{i}")
            for i, ((s, e), d) in enumerate(zip(self.blocks, self.dims))
        ]

    def call(self, x):
        parts = [x[:, i:i + 1] for i in self.numeric]
        parts += [ops.matmul(x[:, s:e], k) for (s, e), k in zip(self.blocks, self.kernels)]
        return ops.concatenate(parts, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], len(self.numeric) + sum(self.dims))

    def get_config(self):
        return {**super().get_config(), "blocks": self.blocks, "dims": self.dims,
                "numeric": self.numeric}


@keras.saving.register_keras_serializable(package="liftlab")
class FeatureTokenizer(keras.layers.Layer):
    """FT-Transformer feature tokenizer with a [CLS] token (Gorishniy et al., 2021).

    Numeric column j becomes ``x_j * w_j + b_j``; a categorical block becomes
    ``onehot @ E_j + b_j``; a learned [CLS] token is prepended.

    Args:
        blocks: ``[start, end]`` column range of every source column, in order (width 1 for
            numeric columns).
        d_token: Token size.

    Input shape: (batch, n_encoded). Output shape: (batch, len(blocks) + 1, d_token).
    """

    def __init__(self, blocks, d_token, **kwargs):
        super().__init__(**kwargs)
        self.blocks = [list(b) for b in blocks]
        self.d_token = int(d_token)

    def build(self, input_shape):
        init = keras.initializers.RandomUniform(-(self.d_token ** -0.5), self.d_token ** -0.5)
        self.kernels = [self.add_weight(shape=(e - s, self.d_token), initializer=init,
                                        name=f"tok_{i}") for i, (s, e) in enumerate(self.blocks)]
        self.bias = self.add_weight(shape=(len(self.blocks), self.d_token), initializer=init,
                                    name="tok_bias")
        self.cls = self.add_weight(shape=(1, 1, self.d_token), initializer=init, name="cls")

    def call(self, x):
        tokens = [ops.matmul(x[:, s:e], k) for (s, e), k in zip(self.blocks, self.kernels)]
        tokens = ops.stack(tokens, axis=1) + self.bias
        cls = ops.tile(self.cls, [ops.shape(x)[0], 1, 1])
        return ops.concatenate([cls, tokens], axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], len(self.blocks) + 1, self.d_token)

    def get_config(self):
        return {**super().get_config(), "blocks": self.blocks, "d_token": self.d_token}
