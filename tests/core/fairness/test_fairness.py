"""Fairness numbers equal Fairlearn's (MetricFrame per group, the parity functions), the
bootstrap's own arithmetic reproduces them, and a column the run never learned from is matched
to exactly its test rows."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    equalized_odds_ratio,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import precision_score, roc_auc_score

from core.errors import SchemaError
from core.fairness import fairness_report, run_fairness, sensitive_values
from core.fairness._metrics import _counts, _disparities, _rates
from core.runs import LABEL_COL, SCORE_COL, load_run
from core.specs import DatasetSpec, ModelConfig
from core.training import train


def _synthetic(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    group = rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])
    y = (rng.random(n) < np.where(group == "a", 0.3, 0.15)).astype(int)
    score = np.clip(0.35 * y + rng.random(n) * 0.7 + np.where(group == "c", 0.1, 0.0), 0, 1)
    return y, score, group


def test_report_equals_fairlearn():
    y, score, group = _synthetic()
    rep = fairness_report(y, score, group, 0.45, "g", n_boot=200)
    pred = (score >= 0.45).astype(int)
    mf = MetricFrame(metrics={"selection_rate": selection_rate, "recall": true_positive_rate,
                              "false_positive_rate": false_positive_rate},
                     y_true=y, y_pred=pred, sensitive_features=group)
    for row in rep.groups:
        g = row["group"]
        for m in ("selection_rate", "recall", "false_positive_rate"):
            assert row[m] == pytest.approx(mf.by_group.loc[g, m], abs=1e-12)
        mask = group == g
        assert row["precision"] == pytest.approx(precision_score(y[mask], pred[mask]))
        assert row["roc_auc"] == pytest.approx(roc_auc_score(y[mask], score[mask]))
        assert row["rows"] == mask.sum() and row["positives"] == y[mask].sum()
        lo, hi = row["ci95"]["selection_rate"]
        assert lo <= row["selection_rate"] <= hi
    kw = {"sensitive_features": group}
    assert rep.disparities == pytest.approx({
        "demographic_parity_difference": demographic_parity_difference(y, pred, **kw),
        "demographic_parity_ratio": demographic_parity_ratio(y, pred, **kw),
        "equalized_odds_difference": equalized_odds_difference(y, pred, **kw),
        "equalized_odds_ratio": equalized_odds_ratio(y, pred, **kw)}, abs=1e-12)
    for name, value in rep.disparities.items():
        lo, hi = rep.ci95[name]
        assert lo <= value <= hi, name
    assert [r["group"] for r in rep.groups] == ["a", "b", "c"]  # largest first


def test_bootstrap_arithmetic_reproduces_fairlearn_on_the_sample():
    y, score, group = _synthetic(seed=3)
    pred = (score >= 0.5).astype(int)
    names, codes = np.unique(group, return_inverse=True)
    disp = _disparities(_rates(_counts(codes, y, pred, len(names))))
    kw = {"sensitive_features": group}
    assert float(disp["equalized_odds_difference"]) == pytest.approx(
        equalized_odds_difference(y, pred, **kw), abs=1e-12)
    assert float(disp["demographic_parity_ratio"]) == pytest.approx(
        demographic_parity_ratio(y, pred, **kw), abs=1e-12)


def test_missing_values_form_a_group_and_one_group_is_refused():
    y, score, group = _synthetic(600)
    group = np.where(np.arange(600) % 50 == 0, None, group).astype(object)
    rep = fairness_report(y, score, group, 0.5, "g", n_boot=50)
    assert "(missing)" in [r["group"] for r in rep.groups]
    assert any("under 30 test rows ((missing))" in n for n in rep.notes)
    with pytest.raises(SchemaError, match="single value"):
        fairness_report(y, score, np.full(600, "x"), 0.5, "g")


def test_a_column_left_out_of_the_run_is_matched_to_its_test_rows(bank_ws):
    s, runs = bank_ws
    with_marital = load_run(s, runs["hgb"])
    r = train(s, DatasetSpec("bank", "y", exclude=("duration", "marital")),
              ModelConfig.of(model="logreg"))
    without = load_run(s, r.run_id)
    assert "marital" not in without.features
    values = sensitive_values(s, without, "marital")
    assert list(values) == list(with_marital.test_frame["marital"])
    rep = run_fairness(s, without, "marital", 0.2, n_boot=100)
    t = without.test_frame
    pred = (t[SCORE_COL] >= 0.2).astype(int)
    assert rep.disparities["demographic_parity_difference"] == pytest.approx(
        demographic_parity_difference(t[LABEL_COL], pred, sensitive_features=values))
    with pytest.raises(SchemaError, match="no column 'nope'"):
        sensitive_values(s, without, "nope")


def test_cli_fairness(bank_ws):
    from core.app import main

    s, runs = bank_ws
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["--data-dir", str(s.data_dir), "fairness", runs["logreg"], "--by",
                     "marital", "--threshold", "0.3", "--bootstrap", "50"])
    assert code == 0, err.getvalue()
    js = json.loads(out.getvalue())
    assert js["by"] == "marital" and js["threshold"] == 0.3
    assert {"group", "rows", "selection_rate", "recall", "precision", "roc_auc"} <= \
        set(js["groups"][0])
    t = load_run(s, runs["logreg"]).test_frame
    pred = (t[SCORE_COL] >= 0.3).astype(int)
    assert js["equalized_odds_difference"] == pytest.approx(equalized_odds_difference(
        t[LABEL_COL], pred, sensitive_features=t["marital"]))
    assert set(js["ci95"]) >= {"demographic_parity_difference", "equalized_odds_difference"}
    assert "NaN" not in out.getvalue() and "Infinity" not in out.getvalue()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        assert main(["--data-dir", str(s.data_dir), "fairness", runs["logreg"], "--by",
                     "nope"]) == 2
    frame = pd.DataFrame(js["groups"])
    assert frame["rows"].sum() == len(t)
