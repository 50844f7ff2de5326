"""TabM and the ensemble as runs: the blend's weight against a hand search on the validation
split, its output against its members', save/load, evaluate, explain, simulate, score, CV,
the streamed pipeline, export/import and the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from core.runs import LABEL_COL, SCORE_COL, load_run, predict_output
from core.specs import DatasetSpec, ModelConfig
from core.training import booster_columns, choose_weight, train
from models.blend import WEIGHT_GRID, Blend

pytestmark = pytest.mark.slow
SPEC = DatasetSpec("bank", "y", exclude=("duration",))
SMALL = {"members": 4, "width": 16, "epochs": 4}


@pytest.fixture(scope="module")
def runs(bank_ws):
    s, base = bank_ws
    out = {m: train(s, SPEC, ModelConfig.of(model=m, **SMALL)).run_id
           for m in ("tabm", "ensemble")}
    return s, {**base, **out}


def test_choose_weight_is_the_best_validation_roc_auc():
    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.3).astype(int)
    good = y + rng.normal(0, 0.6, 400)
    noise = rng.normal(0, 1, 400)
    picked = choose_weight("binary", y, 1 / (1 + np.exp(-good)), 1 / (1 + np.exp(-noise)))
    want = [roc_auc_score(y, w / (1 + np.exp(-good)) + (1 - w) / (1 + np.exp(-noise)))
            for w in WEIGHT_GRID]
    assert picked["scores"] == pytest.approx(want, abs=1e-6)
    assert picked["weights"][0] == WEIGHT_GRID[int(np.argmax(want))] > 0.5
    assert sum(picked["weights"]) == pytest.approx(1.0)
    swapped = choose_weight("binary", y, 1 / (1 + np.exp(-noise)), 1 / (1 + np.exp(-good)))
    assert swapped["weights"][0] == pytest.approx(1 - picked["weights"][0])
    same = choose_weight("binary", y, good, good)  # every weight ties: the plain average
    assert same["weights"] == [0.5, 0.5]
    reg = choose_weight("regression", good, good + 0.1, good - 0.1)  # errors cancel at 0.5
    assert reg["weights"] == [0.5, 0.5] and reg["criterion"] == "validation rmse"


def test_blend_output_is_the_weighted_sum_of_its_members():
    from sklearn.linear_model import LinearRegression, LogisticRegression

    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 4)).astype(np.float32)
    y = (x[:, 0] + rng.normal(0, 1, 200) > 0).astype(int)
    a = LogisticRegression().fit(x, y)
    b = LogisticRegression(C=0.01).fit(x[:, [0, 2]], y)
    blend = Blend(a, b, 0.25, [0, 2])
    want = 0.25 * a.predict_proba(x)[:, 1] + 0.75 * b.predict_proba(x[:, [0, 2]])[:, 1]
    assert np.allclose(predict_output(blend, x, "binary"), want)
    z = (x[:, 1] - x[:, 1].mean()) / x[:, 1].std()  # both members learn the standardised target
    ra, rb = LinearRegression().fit(x, z), LinearRegression().fit(x[:, [0, 2]], z)
    scaling = [40.0, 10.0]
    got = predict_output(Blend(ra, rb, 0.6, [0, 2]), x, "regression", scaling)
    assert np.allclose(got, 40 + 10 * (0.6 * ra.predict(x) + 0.4 * rb.predict(x[:, [0, 2]])))


def test_tabm_run_saves_loads_and_reproduces(runs):
    s, ids = runs
    run = load_run(s, ids["tabm"])
    names = {p.name for p in run.folder.iterdir()}
    assert "model.keras" in names and "model.skops" not in names and "blend.json" not in names
    assert run.config.model == "tabm" and run.config.model_config.tabm.members == 4
    assert 1 <= run.config.epochs_run <= 4 and "val_loss" in run.history[0]
    t = run.test_frame
    assert run.metrics["metrics"]["roc_auc"] == pytest.approx(
        roc_auc_score(t[LABEL_COL], t[SCORE_COL])) and run.metrics["metrics"]["roc_auc"] > 0.7
    assert np.allclose(run.predict(t), t[SCORE_COL], atol=1e-6)


def test_ensemble_run_keeps_both_members_and_the_chosen_weight(runs):
    s, ids = runs
    run = load_run(s, ids["ensemble"])
    names = {p.name for p in run.folder.iterdir()}
    assert {"model.keras", "model.skops", "blend.json"} <= names
    blend = run.model
    assert isinstance(blend, Blend) and blend.names == ("tabm", "hgb")
    saved = run.config.extra["ensemble"]
    assert saved["weights"] == list(blend.weights) == json.loads(
        (run.folder / "blend.json").read_text())["weights"]
    assert saved["criterion"] == "validation roc_auc" and saved["booster"]["class"] == (
        "HistGradientBoostingClassifier")
    best = max(s for s in saved["scores"] if s is not None)
    assert saved["scores"][WEIGHT_GRID.index(saved["weights"][0])] == best
    assert blend.columns == booster_columns(run.preprocessor)
    assert len(blend.columns) < len(run.preprocessor.feature_names_out_)  # no PLE bins
    t = run.test_frame
    x = run.preprocessor.transform(t[run.features])
    w, v = blend.weights
    members = (w * predict_output(blend.network, x, "binary")
               + v * blend.booster.predict_proba(x[:, blend.columns])[:, 1])
    assert np.allclose(t[SCORE_COL], members, atol=1e-6)
    assert np.allclose(run.predict(t), t[SCORE_COL], atol=1e-6)
    assert any(n.startswith("Ensemble: tabm weight") for n in run.metrics["notes"])
    # the validation scores the weight was chosen on are the saved ones
    valid = run.valid_scores
    assert roc_auc_score(valid[LABEL_COL], valid[SCORE_COL]) == pytest.approx(
        saved["scores"][WEIGHT_GRID.index(saved["weights"][0])], abs=1e-6)


def test_ensemble_evaluates_explains_and_simulates(runs):
    from core.evaluate import evaluate_scores, scored_set
    from core.explain import explain_run
    from core.impact import ScenarioInputs, simulate_scenario
    from core.specs import Economics

    s, ids = runs
    run = load_run(s, ids["ensemble"])
    scored = scored_set(run)
    ev = evaluate_scores(scored.y, scored.output, n_boot=20)
    assert ev.ranking["roc_auc"] == pytest.approx(run.metrics["metrics"]["roc_auc"])
    exp = explain_run(run, n_rows=60)
    assert exp.method == "blend" and exp.output_space == "probability"
    assert exp.additivity_max_error < 1e-6
    assert np.allclose(exp.output, run.test_frame[SCORE_COL].to_numpy()[exp.row_ids], atol=1e-6)
    t = run.test_frame
    impact = simulate_scenario(t[LABEL_COL], t[SCORE_COL],
                               ScenarioInputs.top_share(0.2, Economics(5, 100), 50))
    assert impact.conversion_lift > 1.5


def test_ensemble_cross_validates(runs):
    from core.training import cross_validate

    s, _ = runs
    cv = cross_validate(s, SPEC, ModelConfig.of(model="ensemble", **SMALL), k=2)
    assert len(cv["folds"]) == 2 and len(cv["oof"]) == 6000
    aucs = [roc_auc_score(g["label"], g["score"]) for _, g in cv["oof"].groupby("fold")]
    assert cv["roc_auc_mean"] == pytest.approx(np.mean(aucs)) and cv["roc_auc_mean"] > 0.7


@pytest.mark.parametrize("model", ["tabm", "ensemble"])
def test_streamed_pipeline(runs, model):
    s, _ = runs
    r = train(s, SPEC, ModelConfig.of(model=model, data_pipeline="stream", **SMALL))
    run = load_run(s, r.run_id)
    assert run.config.data_pipeline == "stream" and run.metrics["metrics"]["roc_auc"] > 0.7
    t = run.test_frame
    assert np.allclose(run.predict(t), t[SCORE_COL], atol=1e-5)
    if model == "ensemble":
        assert run.config.extra["ensemble"]["booster_rows"] == run.config.rows["train"]
        assert isinstance(run.model, Blend)


def test_ensemble_exports_and_imports(runs, tmp_path):
    from core.app import export_run, import_run
    from core.config import load_settings

    s, ids = runs
    other = load_settings(tmp_path / "other")
    new_id = import_run(other, export_run(s, ids["ensemble"]))
    a, b = load_run(s, ids["ensemble"]), load_run(other, new_id)
    assert isinstance(b.model, Blend) and b.model.weights == a.model.weights
    assert np.allclose(b.predict(a.test_frame), a.test_frame[SCORE_COL], atol=1e-6)


def test_ensemble_on_the_command_line(runs, capsys):
    from core.app import main

    s, _ = runs
    code = main(["--data-dir", str(s.data_dir), "train", "--table", "bank", "--target", "y",
                 "--exclude", "duration", "--model", "ensemble", "--members", "4", "--width",
                 "16", "--epochs", "3"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["model"] == "ensemble"
    assert out["ensemble"]["members"] == ["tabm", "hgb"]
    assert sum(out["ensemble"]["weights"]) == pytest.approx(1.0)
    run = load_run(s, out["run_id"])
    assert run.config.model_config.tabm.members == 4 and run.config.model_config.tabm.width == 16
    code = main(["--data-dir", str(s.data_dir), "explain", out["run_id"], "--rows", "30"])
    explained = json.loads(capsys.readouterr().out)
    assert code == 0 and explained["additivity_max_error"] < 1e-6


def test_tabm_and_the_ensemble_tune_their_network(runs):
    from core.training import tune

    s, _ = runs
    for model in ("tabm", "ensemble"):
        result = tune(s, SPEC, ModelConfig.of(model=model, members=2, epochs=2), n_trials=2,
                      timeout_s=300)
        run = load_run(s, result.run_id)
        best = run.config.extra["tuning"]["best_params"]
        assert {"width", "depth", "dropout", "learning_rate"} == set(best)
        tabm = run.config.model_config.tabm
        assert (tabm.width, tabm.depth, tabm.members) == (best["width"], best["depth"], 2)
        assert run.config.model == model


@pytest.mark.parametrize("model", ["tabm", "ensemble"])
def test_multiclass_and_regression_runs(runs, model):
    from sklearn.metrics import log_loss, r2_score

    s, _ = runs
    r = train(s, DatasetSpec("bank", "marital", exclude=("duration",)),
              ModelConfig.of(model=model, **SMALL))
    run = load_run(s, r.run_id)
    t = run.test_frame
    proba = t[[f"__proba_{k}" for k in range(4)]].to_numpy()
    assert np.allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert r.metrics["metrics"]["log_loss"] == pytest.approx(
        log_loss(t[LABEL_COL], proba, labels=[0, 1, 2, 3]), abs=1e-6)
    assert np.allclose(run.predict(t), proba, atol=1e-5)
    r = train(s, DatasetSpec("bank", "age", exclude=("duration",)),
              ModelConfig.of(model=model, **SMALL))
    run = load_run(s, r.run_id)
    t = run.test_frame
    assert run.config.target_scaling[0] == pytest.approx(40, abs=3)
    assert 30 < t[SCORE_COL].mean() < 50  # in years, not standardised units
    assert r.metrics["metrics"]["r2"] == pytest.approx(r2_score(t[LABEL_COL], t[SCORE_COL]))
    assert r.metrics["metrics"]["r2"] > 0.1
    assert np.allclose(run.predict(t), t[SCORE_COL], atol=1e-3)
    if model == "ensemble":
        assert run.config.extra["ensemble"]["criterion"] == "validation rmse"
