"""int8, pruning and distillation as new runs, on the bank subsample's session runs."""

from __future__ import annotations

import numpy as np
import pytest

from core.compress import CompressError, compress_run, model_bytes, zero_share
from core.evaluate import evaluate_scores, scored_set
from core.runs import load_run, run_splits

INT8_TOLERANCE = 0.02  # largest |p_int8 − p_float| on the test rows, in probability


@pytest.fixture(scope="module")
def compressed(bank_ws):
    s, runs = bank_ws
    return {m: compress_run(s, runs["mlp"], m, sparsity=0.8, units=(8,))
            for m in ("int8", "prune", "distill")}


def test_int8_predictions_stay_close_and_weights_shrink(bank_ws, compressed):
    s, runs = bank_ws
    out = compressed["int8"]
    parent, child = load_run(s, runs["mlp"]), load_run(s, out["run_id"])
    x = parent.preprocessor.transform(parent.test_frame[parent.features])
    diff = np.abs(child.predict_encoded(x) - parent.predict_encoded(x))
    assert diff.max() < INT8_TOLERANCE
    assert out["weights_bytes"] <= 0.3 * out["parent_weights_bytes"]
    assert abs(out["change"]["roc_auc"]) < 0.01
    assert child.config.extra["parent"] == runs["mlp"] and child.is_keras
    assert child.config.extra["compression"]["quantised_layers"] == ["dense_0", "dense_1",
                                                                    "output"]
    # an ordinary run: it reloads in Keras safe mode and evaluates like any other
    scored = scored_set(child)
    ev = evaluate_scores(scored.y, scored.output, "yes", "no")
    assert ev.at(0.5, n_boot=10).metrics["roc_auc"] == pytest.approx(out["metrics"]["roc_auc"])


def test_pruned_model_has_the_stated_share_of_zero_weights(bank_ws, compressed):
    s, _ = bank_ws
    child = load_run(s, compressed["prune"]["run_id"])
    assert zero_share(child.model) == pytest.approx(0.8, abs=1e-3)
    kernels = [w.numpy() for w in child.model.weights if w.path.endswith("kernel")]
    # every kernel, the 16-weight output one too, within one weight of 80 %
    assert all(abs((k == 0).mean() - 0.8) <= 1 / k.size for k in kernels)
    assert compressed["prune"]["details"]["fine_tune_epochs"] == 3
    assert compressed["prune"]["metrics"]["roc_auc"] > 0.65


def test_distilled_students_of_a_network_and_of_gradient_boosting(bank_ws, compressed):
    s, runs = bank_ws
    student = load_run(s, compressed["distill"]["run_id"])
    assert student.config.model_config.mlp.hidden_units == (8,)
    assert compressed["distill"]["weights_bytes"] < compressed["distill"]["parent_weights_bytes"]
    out = compress_run(s, runs["hgb"], "distill", units=(16,))
    assert out["parent"] == runs["hgb"] and out["metrics"]["roc_auc"] > 0.7
    child = load_run(s, out["run_id"])
    assert child.is_keras and model_bytes(child.model) == out["weights_bytes"]
    # the student learned the parent's probabilities, not just the labels
    splits = run_splits(s, child)
    x = child.preprocessor.transform(splits.x.iloc[splits.test[:500]])
    parent_p = load_run(s, runs["hgb"]).predict_encoded(x)
    assert np.corrcoef(parent_p, child.predict_encoded(x))[0, 1] > 0.85


@pytest.mark.parametrize("method,kwargs,needle", [
    ("int8", {}, "int8 quantisation works on Keras networks"),
    ("prune", {}, "Pruning works on Keras networks"),
])
def test_non_networks_are_refused_for_int8_and_pruning(bank_ws, method, kwargs, needle):
    s, runs = bank_ws
    with pytest.raises(CompressError, match=needle):
        compress_run(s, runs["hgb"], method, **kwargs)


@pytest.mark.parametrize("sparsity", [0.0, 1.0, -0.2, 1.5])
def test_sparsity_outside_zero_one_is_refused(bank_ws, sparsity):
    s, runs = bank_ws
    with pytest.raises(CompressError, match="strictly between 0 and 1"):
        compress_run(s, runs["mlp"], "prune", sparsity=sparsity)
