"""DP-SGD for Keras 3 networks on the TensorFlow backend (Abadi et al., 2016, "Deep Learning with
Differential Privacy").

Each step: a Poisson-sampled batch (every training row joins independently with probability
q = B/n, :func:`poisson_batches`), one gradient per example, each clipped to L2 norm C, summed,
Gaussian noise N(0, σ²C²) added to every coordinate, divided by the expected batch size B, and
handed to the optimiser. Everything after the noise (Adam's moments, weight decay, the learning
rate schedule) is post-processing and keeps the guarantee. The accountant that turns (q, σ,
steps) into ε lives in :mod:`core.privacy`.

Per-example gradients are vectorised, never a Python loop over rows:

- **Dense chains** (the MLP without batch normalisation): a Dense layer's per-example kernel
  gradient is the outer product ``a_i ⊗ δ_i`` of its input and the gradient of the loss with
  respect to its pre-activation output (Goodfellow, 2015, "Efficient Per-Example Gradient
  Computations"), so one batched backward pass gives every example's norm
  (``‖a_i‖²‖δ_i‖² + ‖δ_i‖²``) and the clipped sum is ``aᵀ(c ⊙ δ)``: about the cost of
  ordinary training.
- **Any other network** (wide & deep, FT-Transformer): ``tf.vectorized_map`` over examples
  of the ordinary gradient (TensorFlow Privacy's vectorised optimisers and Opacus's
  ``GradSampleModule`` do the same), which stores one gradient per example (B × parameters).

The method was read in TensorFlow Privacy (``DPKerasSGDOptimizer``) and Opacus; neither is a
dependency. Noise comes from Keras's seeded generator (not a cryptographically secure one, as in
both libraries by default).
"""

from __future__ import annotations

import numpy as np

CHAIN_LAYERS = ("InputLayer", "Dense", "Activation", "Dropout")


def poisson_batches(x: np.ndarray, y: np.ndarray, sampling_rate: float, seed: int):
    """An endless ``tf.data.Dataset`` of Poisson-sampled batches: in each step every row joins
    independently with probability ``sampling_rate`` (batch sizes vary, mean q·n), the sampling
    the accountant of the subsampled Gaussian mechanism assumes.

    Args:
        x: Encoded rows, float32 (n, n_encoded).
        y: Targets (n,).
        sampling_rate: q in (0, 1].
        seed: Seed of the row draws (step t uses the stateless seed ``(seed, t)``).

    Returns:
        Dataset of ``(x_batch, y_batch)``; pass ``steps_per_epoch`` to ``fit``.
    """
    import tensorflow as tf

    xs, ys = tf.constant(x, tf.float32), tf.constant(y)
    n = len(x)

    def draw(step):
        keep = tf.random.stateless_uniform([n], seed=tf.stack([tf.cast(seed, tf.int64), step]))
        idx = tf.where(keep < sampling_rate)[:, 0]
        return tf.gather(xs, idx), tf.gather(ys, idx)

    return tf.data.Dataset.counter().map(draw).prefetch(2)


def is_dense_chain(model) -> bool:
    """Whether every layer is an Input, Dense, Activation or Dropout layer (the fast path)."""
    return all(type(layer).__name__ in CHAIN_LAYERS for layer in model.layers)


def per_example_loss(loss: str):
    """The named Keras loss as a function of ``(y (b,), y_pred)`` returning (b,) losses."""
    import keras
    import tensorflow as tf

    fn = keras.losses.get(loss)
    if loss == "sparse_categorical_crossentropy":
        return fn
    return lambda y, p: fn(tf.reshape(tf.cast(y, p.dtype), tf.shape(p)), p)


def make_dp_trainer(inner, loss: str, l2_norm_clip: float, noise_multiplier: float,
                    expected_batch_size: float, seed: int = 0):
    """A Keras model that trains ``inner`` with DP-SGD; ``inner`` itself is what gets saved.

    Args:
        inner: A built Keras network (its weights are trained in place).
        loss: Keras loss name (``binary_crossentropy``, ``sparse_categorical_crossentropy``,
            ``mse``, ``mae``, ``huber``).
        l2_norm_clip: C, the L2 norm each example's gradient is clipped to (``inf``: none).
        noise_multiplier: σ; the noise on the summed gradient has standard deviation σ·C.
        expected_batch_size: B = q·n; the noised sum is divided by it (not by the drawn size,
            which would itself depend on the data).
        seed: Seed of the noise.

    Returns:
        A ``keras.Model`` to ``compile`` (with ``jit_compile=False``: batch sizes vary) and
        ``fit`` on :func:`poisson_batches`; validation (``test_step``) is the ordinary one.
    """
    import keras
    import tensorflow as tf

    class DPSGDTrainer(keras.Model):
        def __init__(self):
            super().__init__(name="dp_sgd_trainer")
            self.inner = inner
            self.example_loss = per_example_loss(loss)
            self.noise_seed = keras.random.SeedGenerator(seed)
            self.fast = is_dense_chain(inner)

        def call(self, x, training=False):
            return self.inner(x, training=training)

        def private_gradients(self, x, y):
            """``(noised mean gradient per variable, per-example losses, outputs)``."""
            return private_gradients(self, x, y)

        def train_step(self, data):
            x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
            grads, losses, y_pred = private_gradients(self, x, y)
            variables = self.inner.trainable_variables
            grads = [g + r for g, r in zip(grads, _regulariser_grads(self.inner, variables),
                                           strict=True)]
            self.optimizer.apply(grads, variables)
            self._loss_tracker.update_state(tf.reduce_mean(losses), sample_weight=tf.size(losses))
            return self.compute_metrics(x, y, y_pred)

    def private_gradients(trainer, x, y):
        if trainer.fast:
            clipped, losses, y_pred = _chain_clipped_sum(trainer.inner, trainer.example_loss, x,
                                                         y, l2_norm_clip)
        else:
            clipped, losses, y_pred = _vectorised_clipped_sum(trainer.inner,
                                                              trainer.example_loss, x, y,
                                                              l2_norm_clip)
        noisy = []
        for g in clipped:
            if noise_multiplier > 0 and np.isfinite(l2_norm_clip):
                g = g + keras.random.normal(tf.shape(g), stddev=noise_multiplier * l2_norm_clip,
                                            seed=trainer.noise_seed)
            noisy.append(g / expected_batch_size)
        return noisy, losses, y_pred

    return DPSGDTrainer()


def _clip_factors(sq_norms, l2_norm_clip: float):
    import tensorflow as tf

    if not np.isfinite(l2_norm_clip):
        return tf.ones_like(sq_norms)
    return tf.minimum(1.0, l2_norm_clip / (tf.sqrt(sq_norms) + 1e-12))


def _chain_clipped_sum(inner, example_loss, x, y, l2_norm_clip):
    """Clipped per-example gradients of a Dense chain, summed, from one backward pass.

    Returns:
        ``(sums, losses, y_pred)``: one summed gradient per trainable variable (same order as
        ``inner.trainable_variables``), per-example losses (b,), outputs.
    """
    import tensorflow as tf

    dense, inputs, outputs = [], [], []
    with tf.GradientTape() as tape:
        h = x
        for layer in inner.layers:
            name = type(layer).__name__
            if name == "InputLayer":
                continue
            if name == "Dense":
                z = tf.matmul(h, layer.kernel)
                z = z + layer.bias if layer.use_bias else z
                dense.append(layer)
                inputs.append(h)
                outputs.append(z)
                h = layer.activation(z)
            else:
                h = layer(h, training=True)
        losses = example_loss(y, h)
        total = tf.reduce_sum(losses)
    deltas = tape.gradient(total, outputs)
    sq = tf.zeros_like(losses)
    for a, d, layer in zip(inputs, deltas, dense, strict=True):
        d2 = tf.reduce_sum(tf.square(d), axis=1)
        sq += tf.reduce_sum(tf.square(a), axis=1) * d2 + (d2 if layer.use_bias else 0.0)
    c = _clip_factors(sq, l2_norm_clip)
    by_var = {}
    for a, d, layer in zip(inputs, deltas, dense, strict=True):
        cd = d * c[:, None]
        by_var[id(layer.kernel)] = tf.matmul(a, cd, transpose_a=True)
        if layer.use_bias:
            by_var[id(layer.bias)] = tf.reduce_sum(cd, axis=0)
    return [by_var[id(v)] for v in inner.trainable_variables], losses, h


def _vectorised_clipped_sum(inner, example_loss, x, y, l2_norm_clip):
    """Clipped per-example gradients of any network via ``tf.vectorized_map``, summed."""
    import tensorflow as tf

    variables = inner.trainable_variables

    def one(args):
        xi, yi = args
        with tf.GradientTape() as tape:
            p = inner(xi[None], training=True)
            li = tf.reduce_sum(example_loss(yi[None], p))
        grads = tape.gradient(li, variables, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return grads, li, p[0]

    per_example, losses, y_pred = tf.vectorized_map(one, (x, y))
    b = tf.shape(x)[0]
    sq = tf.add_n([tf.reduce_sum(tf.square(tf.reshape(g, [b, -1])), axis=1)
                   for g in per_example])
    c = _clip_factors(sq, l2_norm_clip)
    return [tf.tensordot(c, g, axes=1) for g in per_example], losses, y_pred


def _regulariser_grads(inner, variables):
    """Gradients of the kernels' weight penalties (data-independent: added after the noise)."""
    import tensorflow as tf

    layers = [layer for layer in inner.layers
              if getattr(layer, "kernel_regularizer", None) is not None]
    if not layers:
        return [tf.zeros_like(v) for v in variables]
    with tf.GradientTape() as tape:
        total = tf.add_n([layer.kernel_regularizer(layer.kernel) for layer in layers])
    return tape.gradient(total, variables, unconnected_gradients=tf.UnconnectedGradients.ZERO)
