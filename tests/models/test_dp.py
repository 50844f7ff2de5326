"""DP-SGD's train step (models/dp.py) against hand computations."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from models.dp import is_dense_chain, make_dp_trainer, poisson_batches  # noqa: E402
from models.tabular import build_mlp  # noqa: E402


def _tiny(seed=0):
    keras.utils.set_random_seed(seed)
    m = build_mlp(3, hidden_units=(4,), dropout=0.0)
    rng = np.random.default_rng(seed)
    m.set_weights([rng.normal(size=w.shape).astype("float32") for w in m.get_weights()])
    return m


def _hand_clipped_sum(m, x, y, clip):
    """Per-example gradients of BCE through relu → sigmoid, by hand, clipped and summed."""
    w1, b1, w2, b2 = m.get_weights()
    pre = x @ w1 + b1
    h = np.maximum(pre, 0)
    p = 1 / (1 + np.exp(-(h @ w2 + b2)))
    d2 = p - y[:, None]                      # dL/dlogit of each example, (b, 1)
    d1 = (d2 @ w2.T) * (pre > 0)             # (b, 4)
    per = [x[:, :, None] * d1[:, None, :], d1, h[:, :, None] * d2[:, None, :], d2]
    norms = np.sqrt(sum((g.reshape(len(x), -1) ** 2).sum(1) for g in per))
    c = np.minimum(1, clip / norms)
    return [np.tensordot(c, g, 1) for g in per], norms


@pytest.mark.parametrize("fast", [True, False])
def test_clipped_noised_gradient_matches_hand_computation(fast):
    m = _tiny()
    rng = np.random.default_rng(1)
    x = rng.normal(size=(6, 3)).astype("float32") * 3
    y = np.array([0, 1, 1, 0, 1, 0], dtype="float32")
    clip, sigma, batch = 0.5, 0.8, 4.0
    expected, norms = _hand_clipped_sum(m, x, y, clip)
    assert (norms > clip).any() and (norms < clip).any()  # both branches of the clip are used
    assert is_dense_chain(m)
    # no noise: exactly the clipped sum over the expected batch size
    t0 = make_dp_trainer(m, "binary_crossentropy", clip, 0.0, batch)
    t0.fast = fast
    got = [g.numpy() for g in t0.private_gradients(x, y)[0]]
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e / batch, rtol=2e-4, atol=1e-6)
    # with noise: mean is the clipped sum / B, spread σ·C/B on every coordinate
    t1 = make_dp_trainer(m, "binary_crossentropy", clip, sigma, batch, seed=3)
    t1.fast = fast
    step = tf.function(lambda: t1.private_gradients(x, y)[0][0])
    draws = np.stack([step().numpy() for _ in range(3000)])
    np.testing.assert_allclose(draws.mean(0), expected[0] / batch, atol=4 * sigma * clip / batch
                               / np.sqrt(3000))
    np.testing.assert_allclose(draws.std(0), sigma * clip / batch, rtol=0.08)


def test_no_noise_and_no_clipping_is_ordinary_sgd():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 3)).astype("float32")
    y = (rng.random(32) < 0.4).astype("float32")
    plain = _tiny(5)
    private = _tiny(5)
    plain.compile(optimizer=keras.optimizers.SGD(0.5), loss="binary_crossentropy")
    plain.fit(x, y, batch_size=32, epochs=3, shuffle=False, verbose=0)
    trainer = make_dp_trainer(private, "binary_crossentropy", float("inf"), 0.0, 32.0)
    trainer.compile(optimizer=keras.optimizers.SGD(0.5), loss="binary_crossentropy",
                    jit_compile=False)
    trainer.fit(x, y, batch_size=32, epochs=3, shuffle=False, verbose=0)
    for a, b in zip(plain.get_weights(), private.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_poisson_batches_sample_each_row_with_probability_q():
    x = np.arange(2000, dtype="float32")[:, None]
    sizes, seen = [], np.zeros(2000)
    for xb, _ in poisson_batches(x, np.zeros(2000, "float32"), 0.05, seed=7).take(200):
        sizes.append(len(xb))
        seen[xb.numpy()[:, 0].astype(int)] += 1
    assert abs(np.mean(sizes) - 100) < 3          # E|batch| = q·n
    assert abs(np.std(sizes) - np.sqrt(2000 * 0.05 * 0.95)) < 2   # binomial spread
    assert abs(seen.mean() / 200 - 0.05) < 0.003
