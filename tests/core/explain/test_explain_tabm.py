"""SHAP of TabM and of the ensemble: batched DeepLIFT over TabM's members against
shap.DeepExplainer on the same members as plain Keras networks, and the ensemble's weighted
values against shap's TreeExplainer and the members' own explanations; additivity of both."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from core.explain._explain import explain_encoded
from core.features import TabularPreprocessor
from core.specs import ModelConfig
from core.training import booster_columns, build_network
from models.blend import Blend

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tabm_setup():
    import keras

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=300), "b": rng.choice(list("xyz"), 300),
                          "c": rng.integers(0, 5, 300).astype(float)})
    y = ((frame["a"] + (frame["b"] == "x") + rng.normal(0, 0.5, 300)) > 0.5).astype(int)
    pre = TabularPreprocessor(numeric_bins=4).fit(frame)
    x = pre.transform(frame)
    keras.utils.set_random_seed(5)
    net = build_network(ModelConfig.of(model="tabm", members=3, width=8, depth=2), pre,
                        "binary", 2)
    for layer in net.layers:  # adapters away from their initial ones
        for weight in layer.weights:
            if weight.name in ("r", "s"):
                weight.assign(rng.normal(1.0, 0.3, weight.shape))
    return pre, x, y.to_numpy(), net


def _plain_member(chain, n_features):
    """Member ``chain`` rebuilt as an ordinary Keras MLP (Dense, ReLU, ..., sigmoid)."""
    import keras

    inputs = keras.Input(shape=(n_features,))
    h = inputs
    steps = [s for s in chain if s[0] == "affine"]
    for j, (_, w, b) in enumerate(steps):
        last = j == len(steps) - 1
        layer = keras.layers.Dense(w.shape[1], activation="sigmoid" if last else "relu")
        h = layer(h)
        layer.set_weights([w.astype(np.float32), b.astype(np.float32)])
    return keras.Model(inputs, h)


def test_tabm_deeplift_is_the_members_mean_of_shap_deep_explainer(tabm_setup):
    import shap

    from core.explain._deeplift import deeplift_chains, network_chains
    from models.tabm import member_chains

    pre, x, _, net = tabm_setup
    rows, bg = x[:20], x[200:230]
    values, base = deeplift_chains(network_chains(net), rows, bg, max_pairs=200)
    ref, ref_base = np.zeros_like(values), 0.0
    for chain in member_chains(net):
        member = _plain_member(chain, x.shape[1])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            explainer = shap.DeepExplainer(member, bg)
            ref += np.asarray(explainer.shap_values(rows, check_additivity=False)).reshape(
                len(rows), -1) / 3
        ref_base += float(np.ravel(explainer.expected_value)[0]) / 3
    assert np.allclose(values, ref, atol=1e-5)
    assert base == pytest.approx(ref_base, abs=1e-6)
    out = net.predict(rows, verbose=0)[:, 0]
    assert np.allclose(base + values.sum(1), out, atol=1e-6)  # additivity
    assert base == pytest.approx(float(net.predict(bg, verbose=0).mean()), abs=1e-6)


def test_tabm_runs_the_batched_deeplift_in_the_chain(tabm_setup):
    pre, x, _, net = tabm_setup
    blocks = [np.arange(s, e) for s, e, _ in pre.blocks_]
    r = explain_encoded(net, "tabm", x[:30], x[200:260], blocks)
    assert r["method"] == "deeplift"
    assert np.max(np.abs(r["base_value"] + r["values"].sum(1) - r["output"])) < 1e-6


def test_ensemble_shap_is_the_weighted_sum_of_the_members(tabm_setup):
    import shap
    from sklearn.ensemble import HistGradientBoostingClassifier

    from core.explain._deeplift import deeplift_chains, network_chains

    pre, x, y, net = tabm_setup
    cols = booster_columns(pre)
    booster = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(x[:, cols], y)
    blend = Blend(net, booster, 0.3, cols)
    rows, bg = x[:25], x[200:260]
    blocks = [np.arange(s, e) for s, e, _ in pre.blocks_]
    r = explain_encoded(blend, "ensemble", rows, bg, blocks)
    assert r["method"] == "blend"
    net_values, net_base = deeplift_chains(network_chains(net), rows, bg)
    tree = shap.TreeExplainer(booster, data=bg[:, cols], model_output="probability",
                              feature_perturbation="interventional")
    tree_values = np.zeros_like(net_values)
    tree_values[:, cols] = np.asarray(tree.shap_values(rows[:, cols])).reshape(len(rows), -1)
    assert np.allclose(r["values"], 0.3 * net_values + 0.7 * tree_values, atol=1e-7)
    assert not tree_values[:, [c for c in range(x.shape[1]) if c not in cols]].any()
    p_net = net.predict(bg, verbose=0)[:, 0]
    p_tree = booster.predict_proba(bg[:, cols])[:, 1]
    assert r["base_value"] == pytest.approx(0.3 * p_net.mean() + 0.7 * p_tree.mean(), abs=1e-6)
    want = 0.3 * net.predict(rows, verbose=0)[:, 0] + 0.7 * booster.predict_proba(
        rows[:, cols])[:, 1]
    assert np.allclose(r["output"], want, atol=1e-6)
    assert np.max(np.abs(r["base_value"] + r["values"].sum(1) - r["output"])) < 1e-6
    assert net_base == pytest.approx(p_net.mean(), abs=1e-6)
