"""``python -m core evaluate`` and ``explain``: the contract shapes, policies, segments, and the
multiclass and regression dispatch."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn import metrics as skm

from core.app import main
from core.app._review import EXPLAIN_METHODS
from core.runs import load_run
from tests.core.review_fixtures import multiclass_run, regression_run


def _run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def test_explain_method_choices_match_the_explainers():
    from core.explain._explainers import METHODS

    assert set(EXPLAIN_METHODS) == {"auto", *METHODS}


def test_multiclass_and_regression_dispatch(capsys, settings):
    rid, y, proba = multiclass_run(settings)
    code, out, _ = _run(capsys, "--data-dir", str(settings.data_dir), "evaluate", rid)
    assert code == 0 and out["task"] == "multiclass" and out["threshold"] is None
    pred = proba.argmax(axis=1)
    assert out["metrics"]["f1_macro"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert out["confusion"] == skm.confusion_matrix(y, pred).tolist()
    assert [c["class"] for c in out["per_class"]] == ["bronze", "silver", "gold"]
    rid, y, p = regression_run(settings)
    code, out, _ = _run(capsys, "--data-dir", str(settings.data_dir), "evaluate", rid)
    assert code == 0 and out["task"] == "regression" and out["confusion"] is None
    assert out["metrics"]["rmse"] == pytest.approx(skm.root_mean_squared_error(y, p))
    code, _, err = _run(capsys, "--data-dir", str(settings.data_dir), "explain", rid)
    assert code == 2 and "has no model file" in err  # multiclass runs are explained now


@pytest.mark.slow
def test_evaluate_contract_policy_and_segments(capsys, bank_ws):
    s, runs = bank_ws
    d = str(s.data_dir)
    t = load_run(s, runs["hgb"]).test_frame
    y, score = t["__label"].to_numpy(), t["__score"].to_numpy()
    code, out, _ = _run(capsys, "--data-dir", d, "evaluate", runs["hgb"], "--threshold", "0.3")
    assert code == 0 and out["threshold"] == 0.3 and out["task"] == "binary"
    pred = (score >= 0.3).astype(int)
    assert out["confusion"] == skm.confusion_matrix(y, pred).tolist()
    assert out["metrics"]["balanced_accuracy"] == pytest.approx(
        skm.balanced_accuracy_score(y, pred))
    assert out["metrics"]["brier"] == pytest.approx(skm.brier_score_loss(y, score))
    lo, hi = out["ci95"]["roc_auc"]
    assert lo < out["metrics"]["roc_auc"] < hi
    code, out, _ = _run(capsys, "--data-dir", d, "evaluate", runs["hgb"], "--policy", "top_k",
                        "--target", "0.1", "--segment", "job")
    # chosen on the 600 validation rows; the metrics are the test split's at that threshold
    assert code == 0 and out["policy"]["chosen_on"] == "validation"
    assert out["policy"]["flagged"] >= 60 and "best-scored 10%" in out["policy"]["explanation"]
    assert sum(out["confusion"][0][1:]) + out["confusion"][1][1] == int(
        (score >= out["threshold"]).sum())
    assert sum(r["rows"] for r in out["segments"]) == len(t)
    assert all(r["roc_auc"] is None or 0 <= r["roc_auc"] <= 1 for r in out["segments"])
    code, _, err = _run(capsys, "--data-dir", d, "evaluate", runs["hgb"], "--policy", "recall")
    assert code == 2 and "needs a target" in err
    code, _, err = _run(capsys, "--data-dir", d, "evaluate", runs["hgb"], "--segment", "nope")
    assert code == 2 and "no feature column 'nope'" in err


@pytest.mark.slow
def test_explain_contract_with_forced_fallback(capsys, bank_ws):
    s, runs = bank_ws
    code, out, _ = _run(capsys, "--data-dir", str(s.data_dir), "explain", runs["mlp"], "--rows",
                        "30")
    assert code == 0 and set(out) >= {"explainer", "base_value", "rows", "importance",
                                      "additivity_max_error", "seconds"}
    assert out["method"] == "deeplift" and out["additivity_max_error"] <= 1e-3
    assert len(out["importance"]) == len(load_run(s, runs["mlp"]).features)
    code, out, _ = _run(capsys, "--data-dir", str(s.data_dir), "explain", runs["logreg"],
                        "--rows", "10", "--method", "kernel")
    assert code == 0 and out["method"] == "kernel" and out["rows"] == 10
    assert np.isfinite(out["additivity_max_error"]) and "chosen by the user" in out["reason"]
