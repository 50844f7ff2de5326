"""TabM (models/tabm.py): shapes per task and variant, the members' loss against NumPy, the
member chains against the network, reproducibility with a seed, safe-mode save/load."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.features import TabularPreprocessor
from core.specs import TABM_VARIANTS, ModelConfig
from core.training import FitData, build_network, fit_keras

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def encoded():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=120), "b": rng.choice(list("xyz"), 120),
                          "c": rng.integers(0, 5, 120).astype(float)})
    pre = TabularPreprocessor(numeric_bins=4).fit(frame)
    y = ((frame["a"] > 0) ^ (frame["b"] == "x")).to_numpy().astype(np.int32)
    return pre, pre.transform(frame), y


def test_variants_match_the_builder():
    from models.tabm import ARCHS

    assert TABM_VARIANTS == ARCHS


@pytest.mark.parametrize("variant", TABM_VARIANTS)
@pytest.mark.parametrize("task,n_classes,out", [("binary", 2, 1), ("multiclass", 3, 3),
                                                 ("regression", 1, 1)])
def test_shapes_save_and_load(tmp_path, encoded, variant, task, n_classes, out):
    import keras

    from models.tabm import LOGITS, training_view

    pre, x, _ = encoded
    cfg = ModelConfig.of(model="tabm", members=3, width=8, depth=2, variant=variant)
    net = build_network(cfg, pre, task, n_classes)
    members = training_view(net)
    assert members.output_shape == (None, 3, out) and net.output_shape == (None, out)
    assert members.get_layer(LOGITS) is net.get_layer(LOGITS)  # one set of weights
    pred = net.predict(x, verbose=0)
    logits = members.predict(x, verbose=0)
    link = {"binary": lambda z: 1 / (1 + np.exp(-z)), "regression": lambda z: z,
            "multiclass": lambda z: np.exp(z) / np.exp(z).sum(-1, keepdims=True)}[task]
    assert np.allclose(pred, link(logits.astype(np.float64)).mean(axis=1), atol=1e-6)
    path = tmp_path / "tabm.keras"
    net.save(path)
    import models.tabm  # noqa: F401  registers the layers

    again = keras.saving.load_model(path, safe_mode=True, compile=False)
    assert np.allclose(again.predict(x, verbose=0), pred, atol=1e-6)


def test_member_loss_equals_numpy():
    from models.tabm import MemberLoss

    rng = np.random.default_rng(1)
    z = rng.normal(size=(6, 4, 1)).astype(np.float32)
    y = np.array([0, 1, 1, 0, 1, 0])
    p = 1 / (1 + np.exp(-z[..., 0].astype(np.float64)))
    bce = -(y[:, None] * np.log(p) + (1 - y[:, None]) * np.log(1 - p)).mean(axis=1)
    assert np.allclose(np.asarray(MemberLoss("binary").call(y, z)), bce, atol=1e-5)
    zc = rng.normal(size=(6, 4, 3)).astype(np.float32)
    yc = np.array([0, 2, 1, 1, 0, 2])
    logp = zc - np.log(np.exp(zc).sum(-1, keepdims=True))
    ce = -logp[np.arange(6), :, yc].mean(axis=1)
    assert np.allclose(np.asarray(MemberLoss("multiclass").call(yc, zc)), ce, atol=1e-5)
    yr = rng.normal(size=6).astype(np.float32)
    err = z[..., 0] - yr[:, None]
    huber = np.where(np.abs(err) <= 1, 0.5 * err ** 2, np.abs(err) - 0.5).mean(axis=1)
    for name, want in (("mse", (err ** 2).mean(axis=1)), ("mae", np.abs(err).mean(axis=1)),
                       ("huber", huber)):
        got = np.asarray(MemberLoss("regression", name).call(yr, z))
        assert np.allclose(got, want, atol=1e-5), name


@pytest.mark.parametrize("variant", TABM_VARIANTS)
def test_member_chains_reproduce_every_member(encoded, variant):
    from models.tabm import member_chains, training_view

    pre, x, _ = encoded
    cfg = ModelConfig.of(model="tabm", members=4, width=8, depth=2, variant=variant)
    net = build_network(cfg, pre, "binary", 2)
    for layer in net.layers:  # move the adapters away from their initial ones
        for weight in layer.weights:
            if weight.name in ("r", "s"):
                weight.assign(np.random.default_rng(2).normal(1.0, 0.3, weight.shape))
    logits = training_view(net).predict(x, verbose=0)[..., 0]
    chains = member_chains(net)
    assert len(chains) == 4
    for i, chain in enumerate(chains):
        h = x.astype(np.float64)
        for kind, w, b in chain:
            h = h @ w + b if kind == "affine" else np.maximum(h, 0.0)
        assert np.allclose(h[:, 0], logits[:, i], atol=1e-4), (variant, i)


def test_same_seed_same_network_and_class_weights_run(encoded):
    pre, x, y = encoded
    cfg = ModelConfig.of(model="tabm", members=4, width=16, epochs=3, early_stopping=False)
    data = FitData(x, y, x, y)
    a, hist = fit_keras(cfg, pre, "binary", 2, data, seed=7)
    b, _ = fit_keras(cfg, pre, "binary", 2, data, seed=7)
    c, _ = fit_keras(cfg, pre, "binary", 2, data, seed=8)
    pa, pb, pc = (m.predict(x, verbose=0) for m in (a, b, c))
    assert len(hist) == 3 and {"loss", "val_loss"} <= set(hist[0])
    assert np.array_equal(pa, pb)
    assert not np.allclose(pa, pc)
    weighted, _ = fit_keras(cfg.replace(class_weight="balanced"), pre, "binary", 2, data, 7)
    assert np.isfinite(weighted.predict(x, verbose=0)).all()
