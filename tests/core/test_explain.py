"""SHAP: additivity, grouping to source columns, explainer choice, fallback, cache."""

from __future__ import annotations

import numpy as np
import pytest

from core.explain import explain_cached, explain_run, group_by_source, load_explanation
from core.runs import load_run

pytestmark = pytest.mark.slow


def test_group_by_source_sums_one_hot_parts():
    enc = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 0.0]])
    out = group_by_source(enc, ["a", "b", "b"], ["a", "b"])
    assert out.tolist() == [[1.0, 5.0], [0.5, -1.0]]


@pytest.mark.parametrize("model,explainer", [("mlp", "DeepExplainer"), ("hgb", "TreeExplainer"),
                                             ("logreg", "LinearExplainer")])
def test_additivity_per_explainer(bank_ws, model, explainer):
    s, runs = bank_ws
    run = load_run(s, runs[model])
    exp = explain_run(run, n_rows=150)
    assert exp.explainer == explainer
    assert exp.values.shape == (150, len(run.features))
    assert exp.encoded_values.shape == (150, len(run.preprocessor.feature_names_out_))
    assert exp.additivity_max_error <= 1e-3
    recon = exp.base_value + exp.values.sum(axis=1)
    assert np.allclose(recon, exp.output, atol=1e-3)
    imp = exp.importance()
    assert list(imp.columns) == ["feature", "mean_abs_shap"]
    assert set(imp["feature"]) == set(run.features) and "duration" not in set(imp["feature"])


def test_mlp_output_is_the_probability(bank_ws):
    s, runs = bank_ws
    run = load_run(s, runs["mlp"])
    exp = explain_run(run, n_rows=40)
    assert exp.output_space == "probability"
    assert np.allclose(exp.output, run.predict(exp.rows), atol=1e-5)


def test_permutation_fallback_forced(bank_ws):
    s, runs = bank_ws
    run = load_run(s, runs["logreg"])
    exp = explain_run(run, n_rows=20, method="permutation", background_rows=50)
    assert exp.explainer == "PermutationExplainer"
    assert exp.additivity_max_error <= 1e-3


def test_cache_roundtrip(bank_ws):
    s, runs = bank_ws
    run = load_run(s, runs["hgb"])
    first = explain_cached(run, n_rows=60)
    cached = load_explanation(run)
    assert cached is not None and np.array_equal(cached.values, first.values)
    assert explain_cached(run, n_rows=60).seconds == first.seconds
