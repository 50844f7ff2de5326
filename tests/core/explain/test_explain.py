"""SHAP: values against shap and closed forms on small fixed data, the fallback chain forced on
purpose, the budget, additivity reporting, grouping, and the cache."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from core.errors import ExplainError
from core.explain._explain import explain_encoded, group_by_source, source_blocks
from core.explain._explainers import METHODS, Method, Prepared


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 5)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] - x[:, 3] + rng.normal(0, 0.5, 300) > 0).astype(int)
    return x, y, x[:40], x[200:260]


class Additive:
    """A model whose probability is a sum of one function per column block: SHAP values are
    known exactly (g_j(x) − mean g_j(background))."""

    coef = np.array([0.05, -0.03, 0.02, 0.04, -0.01])

    def predict_proba(self, x):
        p = 0.5 + np.tanh(np.asarray(x, dtype=float)) @ self.coef
        return np.column_stack([1 - p, p])

    def exact(self, x, bg, weights=None):
        w = np.full(len(bg), 1 / len(bg)) if weights is None else weights / weights.sum()
        return (np.tanh(x) - w @ np.tanh(bg)) * self.coef


BLOCKS5 = [np.array([0]), np.array([1]), np.array([2]), np.array([3]), np.array([4])]


def test_group_by_source_sums_one_hot_parts():
    enc = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 0.0]])
    out = group_by_source(enc, ["a", "b", "b"], ["a", "b"])
    assert out.tolist() == [[1.0, 5.0], [0.5, -1.0]]
    assert [b.tolist() for b in source_blocks(["a", "b", "b"], ["a", "b"])] == [[0], [1, 2]]


def test_linear_explainer_equals_the_closed_form(data):
    x, y, rows, bg = data
    model = LogisticRegression().fit(x, y)
    r = explain_encoded(model, "logreg", rows, bg, BLOCKS5)
    assert r["method"] == "linear"
    expected = model.coef_[0] * (rows - bg.mean(axis=0))
    assert np.allclose(r["values"], expected, atol=1e-6)
    assert r["base_value"] == pytest.approx(model.decision_function(bg).mean(), abs=1e-6)
    assert np.allclose(r["output"], model.decision_function(rows))


def test_tree_explainer_matches_shap_and_adds_up(data):
    import shap

    x, y, rows, bg = data
    model = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(x, y)
    r = explain_encoded(model, "hgb", rows, bg, BLOCKS5)
    ref = shap.TreeExplainer(model).shap_values(rows)
    assert r["method"] == "tree" and np.allclose(r["values"], ref)
    assert np.allclose(r["base_value"] + r["values"].sum(1), model.decision_function(rows),
                       atol=1e-6)


@pytest.mark.slow  # shap compiles its masking code with numba on first use (~10-30 s)
def test_permutation_forced_is_exact_for_an_additive_model(data):
    _, _, rows, bg = data
    model = Additive()
    r = explain_encoded(model, "other", rows, bg, BLOCKS5, method="permutation")
    assert r["method"] == "permutation" and r["reason"].endswith("chosen by the user.")
    assert np.allclose(r["values"], model.exact(rows, bg), atol=1e-9)
    assert r["base_value"] == pytest.approx(model.predict_proba(bg)[:, 1].mean())


def test_permutation_masks_whole_column_blocks(data):
    _, _, rows, bg = data
    model = Additive()
    blocks = [np.array([0, 1]), np.array([2]), np.array([3, 4])]
    r = explain_encoded(model, "other", rows, bg, blocks, method="permutation")
    exact = model.exact(rows, bg)
    assert r["values"].shape == (len(rows), 3)
    assert np.allclose(r["values"][:, 0], exact[:, :2].sum(1), atol=1e-9)
    assert np.allclose(r["values"][:, 2], exact[:, 3:].sum(1), atol=1e-9)


def test_kernel_forced_uses_a_weighted_kmeans_background(data):
    import shap

    _, _, rows, bg = data
    model = Additive()
    r = explain_encoded(model, "other", rows[:8], bg, BLOCKS5, method="kernel")
    summary = shap.kmeans(bg, 20)
    assert np.allclose(r["values"], model.exact(rows[:8], summary.data, summary.weights),
                       atol=1e-6)


def _boom(model, bg, blocks, out=None):
    raise RuntimeError("boom")


def test_fallback_when_the_first_choice_fails(data, monkeypatch):
    x, y, rows, bg = data
    monkeypatch.setitem(METHODS, "tree", Method("TreeExplainer", "log-odds", 100, _boom))
    model = HistGradientBoostingClassifier(max_iter=10, random_state=0).fit(x, y)
    r = explain_encoded(model, "hgb", rows[:10], bg, BLOCKS5)
    assert r["method"] == "permutation"
    assert "TreeExplainer failed (RuntimeError: boom)" in r["reason"]
    assert np.allclose(r["base_value"] + r["values"].sum(1), r["output"], atol=1e-9)


def test_every_explainer_failing_is_an_app_error(data, monkeypatch):
    _, _, rows, bg = data
    monkeypatch.setitem(METHODS, "permutation", Method("Permutation", "probability", 10, _boom))
    with pytest.raises(ExplainError, match="SHAP failed for this model: Permutation failed"):
        explain_encoded(Additive(), "other", rows, bg, BLOCKS5)
    with pytest.raises(ExplainError, match="method must be"):
        explain_encoded(Additive(), "other", rows, bg, BLOCKS5, method="magic")


def test_a_missed_output_moves_along_the_chain_unless_last(data, monkeypatch):
    """An approximate explainer whose values do not add up (FT-Transformer's
    GradientExplainer missed by 0.061) hands over to the exact fallback (issue 12, item 20);
    as the chain's last, or chosen by name, its error is reported instead."""
    x, y, rows, bg = data
    model = LogisticRegression().fit(x, y)

    def off(model, bg, blocks, out=None):
        return Prepared(0.0, lambda a: (np.full(a.shape, 0.1), model.decision_function(a)))

    monkeypatch.setitem(METHODS, "linear", Method("Skewed", "log-odds", 100, off))
    r = explain_encoded(model, "logreg", rows, bg, BLOCKS5)
    assert r["method"] == "permutation" and "Skewed missed the model output by" in r["reason"]
    r = explain_encoded(model, "logreg", rows, bg, BLOCKS5, method="linear")
    err = np.max(np.abs(r["base_value"] + r["values"].sum(1) - r["output"]))
    assert r["method"] == "linear" and err > 0.1


def test_budget_is_estimated_before_starting(data, monkeypatch):
    """Kernel SHAP on a 5,000-column model ignored its budget and tried to allocate 66 GiB
    (issue 12, item 8): the cost is estimated first, and too much is refused or cut."""
    from core.explain._explainers import MEMORY_BUDGET, cost_per_row

    _, _, rows, bg = data
    evals, nbytes = cost_per_row("kernel", 5000, 5000, 100)
    assert evals == (2 * 5000 + 512) * 20 and nbytes > 10 * MEMORY_BUDGET
    assert cost_per_row("permutation", 5, 5, 40) == (11 * 40, 11 * 40 * 5 * 4)
    import core.explain._explain as ex

    monkeypatch.setattr(ex, "cost_per_row", lambda *a: (10 ** 9, 8))  # a very slow explainer
    with pytest.raises(ExplainError, match="s for one row, over the 5 s budget"):
        explain_encoded(Additive(), "other", rows, bg, BLOCKS5, method="permutation",
                        budget_s=5.0)
    monkeypatch.undo()
    monkeypatch.setattr(ex, "MEMORY_BUDGET", 1000)  # as if the model were far wider
    with pytest.raises(ExplainError, match="GiB for one row"):
        explain_encoded(Additive(), "other", rows, bg, BLOCKS5, method="kernel")
    monkeypatch.undo()
    seen = []
    r = explain_encoded(Additive(), "other", np.vstack([rows] * 3), bg, BLOCKS5,
                        method="permutation", budget_s=60.0,
                        progress=lambda done, total, name: seen.append((done, total)))
    assert len(r["values"]) == 120 and seen[-1] == (120, 120)


@pytest.mark.slow
def test_deeplift_equals_shap_deep_explainer():
    import keras
    import shap

    from core.explain._deeplift import deeplift_shap, network_steps
    from models.tabular import build_mlp

    rng = np.random.default_rng(1)
    x, bg = rng.normal(size=(25, 6)).astype(np.float32), rng.normal(size=(15, 6)).astype(np.float32)
    for activation, batch_norm in (("relu", True), ("tanh", False)):
        keras.utils.set_random_seed(3)
        model = build_mlp(6, (8, 4), activation, 0.1, batch_norm)
        for layer in model.layers:
            if type(layer).__name__ == "BatchNormalization":
                layer.moving_mean.assign(rng.normal(size=layer.moving_mean.shape))
                layer.moving_variance.assign(rng.uniform(0.5, 2, size=layer.moving_variance.shape))
        values, base = deeplift_shap(network_steps(model), x, bg, max_pairs=100)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            explainer = shap.DeepExplainer(model, bg)
            ref = np.asarray(explainer.shap_values(x, check_additivity=False)).reshape(25, -1)
        assert np.allclose(values, ref, atol=1e-5), activation
        assert base == pytest.approx(float(np.ravel(explainer.expected_value)[0]), abs=1e-6)
        out = np.asarray(model(x)).ravel()
        assert np.allclose(base + values.sum(1), out, atol=1e-6)


@pytest.mark.slow
def test_unsupported_network_falls_back_to_shap():
    import keras

    from core.explain._deeplift import UnsupportedNetwork, network_steps

    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(5,))
    h = keras.layers.Dense(6, activation="relu")(inputs)
    h = keras.layers.LayerNormalization()(h)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(h))
    with pytest.raises(UnsupportedNetwork, match="LayerNormalization"):
        network_steps(model)
    rng = np.random.default_rng(0)
    x, bg = rng.normal(size=(12, 5)).astype(np.float32), rng.normal(size=(10, 5)).astype(np.float32)
    r = explain_encoded(model, "mlp", x, bg, BLOCKS5)
    assert r["method"] in ("deep", "gradient", "permutation")
    assert r["reason"].startswith("DeepLIFT (batched DeepExplainer) failed (UnsupportedNetwork")
    assert r["values"].shape[0] == 12
    # a failed shap.DeepExplainer must not leave TensorFlow's gradient recording patched:
    # the next training in the same process (the app's server) still works
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    hist = model.fit(x, (x[:, 0] > 0).astype("float32"), epochs=1, verbose=0)
    assert np.isfinite(hist.history["loss"][0])
