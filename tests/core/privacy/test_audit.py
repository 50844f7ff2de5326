"""Membership-inference audit and DP runs end to end on the bank subsample."""

from __future__ import annotations

import numpy as np
import pytest

from core.privacy import (
    PrivacyError,
    attack_auc,
    audit_run,
    bounded_preprocessor,
    dp_advantage_bound,
    example_losses,
    parse_bounds,
    save_audit,
    suggest_bounds,
)
from core.runs import load_run, run_splits
from core.specs import DatasetSpec, ModelConfig
from core.training import train


def test_example_losses_and_attack_auc_by_hand():
    y = np.array([1.0, 0.0])
    np.testing.assert_allclose(example_losses(np.array([0.8, 0.25]), y, "binary"),
                               [-np.log(0.8), -np.log(0.75)])
    res = attack_auc(np.array([3.0, 2.0, 0.5]), np.array([1.0, 0.0]), n_boot=50)
    assert res["attack_roc_auc"] == pytest.approx(5 / 6)  # 5 of 6 pairs ranked right
    assert res["advantage"] == pytest.approx(2 / 3)
    assert dp_advantage_bound(1.0, 0.0) == pytest.approx((np.e - 1) / (np.e + 1))


def test_a_model_that_never_saw_the_members_gives_half():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = rng.normal(size=(6000, 5))
    y = (x @ [1, -1, 0.5, 0, 0] + rng.normal(size=6000) > 0).astype(float)
    model = LogisticRegression().fit(x[:2000], y[:2000])
    loss = example_losses(model.predict_proba(x[2000:])[:, 1], y[2000:], "binary")
    res = attack_auc(-loss[:2000], -loss[2000:], n_boot=200)
    assert abs(res["attack_roc_auc"] - 0.5) < 0.03
    assert res["ci95"][0] < 0.5 < res["ci95"][1]


@pytest.fixture(scope="module")
def overfit(bank_ws):
    from core.warehouse import connect

    s, _ = bank_ws
    # a target the features barely predict (housing loan), few rows, a wide network without
    # dropout or early stopping: it memorises its training rows
    with connect(s) as con:
        con.execute("CREATE OR REPLACE TABLE bank_small AS SELECT * FROM bank WHERE housing <> "
                    "'unknown' USING SAMPLE reservoir(1000 ROWS) REPEATABLE (1)")
    spec = DatasetSpec("bank_small", "housing", exclude=("duration", "loan"), test_size=0.4,
                       seed=3)
    cfg = ModelConfig.of(model="mlp", hidden_units=(256, 256), dropout=0.0, epochs=60,
                         batch_size=64, learning_rate=3e-3, early_stopping=False)
    return s, train(s, spec, cfg).run_id


def test_audit_sees_an_overfitted_model_and_not_a_modest_one(bank_ws, overfit):
    s, runs = bank_ws
    leaky = audit_run(s, load_run(s, overfit[1]), n_boot=100)["membership_inference"]
    modest = audit_run(s, load_run(s, runs["logreg"]), n_boot=100)["membership_inference"]
    assert leaky["attack_roc_auc"] > 0.75 and leaky["ci95"][0] > 0.7
    assert leaky["calibrated"]["attack_roc_auc"] > 0.65
    assert "leaks membership" in leaky["verdict"]
    assert abs(modest["attack_roc_auc"] - 0.5) < 0.05
    assert modest["members"] == modest["non_members"] == 1200
    save_audit(s, load_run(s, runs["logreg"]), {"membership_inference": modest})
    assert load_run(s, runs["logreg"]).config.extra["privacy_audit"]["members"] == 1200


def test_dp_run_end_to_end_with_analyst_bounds(bank_ws):
    s, runs = bank_ws
    base = load_run(s, runs["mlp"])
    x_train = run_splits(s, base).x
    bounds = suggest_bounds(x_train)
    pre = bounded_preprocessor(tuple(bounds), x_train, 16)
    age = [b for b in bounds if b[0] == "age"][0]
    assert pre.numeric_["age"][1] == pytest.approx((age[1] + age[2]) / 2)
    assert pre.edges_["age"] == pytest.approx(list(np.linspace(age[1], age[2], 17)))
    cfg = ModelConfig.of(model="mlp", hidden_units=(32, 16), epochs=4, batch_size=256, dp=True,
                         dp_epsilon=3.0, dp_clip=1.0, dp_bounds=bounds)
    result = train(s, DatasetSpec("bank", "y", exclude=("duration",)), cfg)
    p = result.config.extra["privacy"]
    assert p["epsilon"] <= 3.0 and p["preprocessing"] == "analyst bounds"
    assert p["sampling"].startswith("Poisson") and p["noise_multiplier"] > 0.5
    run = load_run(s, result.run_id)
    assert "loss" not in run.history[0] and "val_loss" in run.history[0]
    assert result.metrics["metrics"]["roc_auc"] > 0.6
    assert len(run.background) == 200 and set(run.background.columns) == set(run.features)


def test_bad_bounds_are_refused(bank_ws):
    s, runs = bank_ws
    x = run_splits(s, load_run(s, runs["mlp"])).x
    with pytest.raises(PrivacyError, match="Missing: .*age"):
        bounded_preprocessor(parse_bounds({"job": ["admin."]}), x[["age", "job"]])
    with pytest.raises(PrivacyError, match="low < high"):
        bounded_preprocessor(parse_bounds({"age": [50, 20]}), x[["age"]])
    with pytest.raises(PrivacyError, match="is numeric"):
        bounded_preprocessor(parse_bounds({"age": ["young", "old"]}), x[["age"]])
