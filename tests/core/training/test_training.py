"""Training each model family on a bank subsample, saving and reloading runs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from core.errors import SchemaError, TrainingError
from core.runs import LABEL_COL, SCORE_COL, list_runs, load_run
from core.specs import DatasetSpec, ModelConfig
from core.training import TrainingCancelled, train

pytestmark = pytest.mark.slow


def test_runs_saved_with_artifacts(bank_ws):
    s, runs = bank_ws
    listed = {r["run_id"]: r for r in list_runs(s)}
    assert set(runs.values()) <= set(listed)
    for model, run_id in runs.items():
        run = load_run(s, run_id)
        names = {p.name for p in run.folder.iterdir()}
        assert {"config.json", "metrics.json", "preprocessor.json", "test.parquet"} <= names
        assert ("model.keras" in names) == (model == "mlp")
        assert run.config.positive_class == "yes" and "duration" not in run.features
        assert run.config.rows["table"] == 6000 and run.config.rows["test"] == 1200
        t = run.test_frame
        stored = run.metrics["metrics"]["roc_auc"]
        assert stored == pytest.approx(roc_auc_score(t[LABEL_COL], t[SCORE_COL]))
        assert stored > 0.70, (model, stored)
        # the validation split's scores are kept, to choose thresholds away from the test rows
        v = run.valid_scores
        assert len(v) == run.config.rows["valid"] == 600 and list(v.columns) == [
            LABEL_COL, SCORE_COL]
        assert int(v[LABEL_COL].sum()) == round(t[LABEL_COL].sum() / 2)  # stratified, 600/1200
        assert roc_auc_score(v[LABEL_COL], v[SCORE_COL]) > 0.65


def test_reloaded_model_reproduces_saved_scores(bank_ws):
    s, runs = bank_ws
    for run_id in runs.values():
        run = load_run(s, run_id)
        again = run.predict(run.test_frame)
        assert np.allclose(again, run.test_frame[SCORE_COL], atol=1e-5)


def test_mlp_history_and_registration(bank_ws):
    s, runs = bank_ws
    run = load_run(s, runs["mlp"])
    assert 1 <= run.config.epochs_run <= 6 and len(run.history) == run.config.epochs_run
    assert {"loss", "val_loss"} <= set(run.history[0])
    from core.warehouse import connect

    with connect(s) as con:
        row = con.execute("SELECT model, target FROM liftlab.runs WHERE run_id = ?",
                          [runs["mlp"]]).fetchone()
    assert row == ("mlp", "y")
    assert json.loads((run.folder / "config.json").read_text())["model_config"]["hidden_units"] == [32, 16]


def test_same_seed_same_metrics(bank_ws):
    s, runs = bank_ws
    spec = DatasetSpec("bank", "y", exclude=("duration",))
    a = train(s, spec, ModelConfig.of(model="hgb"))
    assert a.metrics["metrics"] == load_run(s, runs["hgb"]).metrics["metrics"]


def test_cancel_saves_nothing(bank_ws):
    s, _ = bank_ws
    before = len(list_runs(s))
    with pytest.raises(TrainingCancelled):
        train(s, DatasetSpec("bank", "y"), ModelConfig.of(epochs=3), should_stop=lambda: True)
    assert len(list_runs(s)) == before
    assert not [p for p in s.runs_dir.iterdir() if p.name.startswith(".tmp")]


def test_excluded_columns_recorded_whichever_way_they_were_left_out(bank_ws):
    # The Train page passes the ticked features, not an exclude list: the run must still
    # record that duration was left out (the report's model card and limitations say so).
    s, runs = bank_ws
    assert load_run(s, runs["logreg"]).excluded_columns == ["duration"]
    cols = [c for c in load_run(s, runs["logreg"]).features if c not in ("pdays", "month")]
    r = train(s, DatasetSpec("bank", "y", features=tuple(cols)), ModelConfig.of(model="logreg"))
    assert list(r.config.excluded_columns) == ["month", "duration", "pdays"]  # table order
    assert load_run(s, r.run_id).excluded_columns == ["month", "duration", "pdays"]


def test_bad_inputs_refused_without_a_run(bank_ws):
    s, _ = bank_ws
    before = len(list_runs(s))
    with pytest.raises(SchemaError, match="no column"):
        train(s, DatasetSpec("bank", "nope"), ModelConfig.of(model="logreg"))
    with pytest.raises(SchemaError, match="12 classes"):
        train(s, DatasetSpec("bank", "job", task="binary"), ModelConfig.of(model="logreg"))
    with pytest.raises(SchemaError, match="no table"):
        train(s, DatasetSpec("missing", "y"), ModelConfig.of(model="logreg"))
    with pytest.raises(TrainingError, match="dropout"):
        ModelConfig.of(dropout=2.0)
    assert len(list_runs(s)) == before


def test_background_job_reports_epochs(bank_ws):
    from core.app import JobManager, mark_interrupted, recent_jobs

    s, _ = bank_ws
    jobs = JobManager(s)
    job_id = jobs.submit_training(DatasetSpec("bank", "y", exclude=("duration",)),
                                  ModelConfig.of(model="mlp", hidden_units=(8,), epochs=2,
                                                 early_stopping=False))
    job = jobs.wait(job_id, timeout=300)
    assert job.state == "done" and job.epoch == 2 and len(job.history) == 2
    assert job.run_id in {r["run_id"] for r in list_runs(s)}
    recorded = {j["job_id"]: j for j in recent_jobs(s)}
    assert recorded[job_id]["state"] == "done"
    from core.warehouse import connect

    with connect(s) as con:
        con.execute("INSERT INTO liftlab.jobs (job_id, kind, state, created_at, updated_at, "
                    "run_id, message) VALUES ('dead', 'train', 'running', now(), now(), NULL, "
                    "'x')")  # as recorded before jobs had a label
    assert mark_interrupted(s) == 1
    recorded = {j["job_id"]: j for j in recent_jobs(s)}
    assert recorded["dead"]["state"] == "interrupted" and recorded["dead"]["label"] is None
    assert recorded[job_id]["label"] == "mlp on bank (target y)"


def test_multiclass_run_matches_sklearn(bank_ws):
    from sklearn.metrics import accuracy_score, log_loss

    s, _ = bank_ws
    r = train(s, DatasetSpec("bank", "marital", exclude=("duration",)), ModelConfig.of(model="logreg"))
    run = load_run(s, r.run_id)
    assert run.task == "multiclass" and list(run.config.classes) == [
        "divorced", "married", "single", "unknown"]
    t = run.test_frame
    proba = t[[f"__proba_{k}" for k in range(4)]].to_numpy()
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert r.metrics["metrics"]["accuracy"] == pytest.approx(
        accuracy_score(t[LABEL_COL], proba.argmax(axis=1)))
    assert r.metrics["metrics"]["log_loss"] == pytest.approx(
        log_loss(t[LABEL_COL], proba, labels=[0, 1, 2, 3]))
    assert np.allclose(run.predict(t), proba, atol=1e-6)


def test_regression_network_rescales_target(bank_ws):
    from sklearn.metrics import r2_score

    s, _ = bank_ws
    r = train(s, DatasetSpec("bank", "age", exclude=("duration",)),
              ModelConfig.of(model="mlp", hidden_units=(16,), epochs=3))
    run = load_run(s, r.run_id)
    assert run.task == "regression" and run.config.target_scaling[0] == pytest.approx(40, abs=3)
    t = run.test_frame
    assert r.metrics["metrics"]["r2"] == pytest.approx(r2_score(t[LABEL_COL], t[SCORE_COL]))
    assert 20 < t[SCORE_COL].mean() < 60  # predictions are in years, not standardised units
    assert np.allclose(run.predict(t), t[SCORE_COL], atol=1e-3)


def test_cross_validation_keeps_out_of_fold_scores(bank_ws):
    from sklearn.metrics import roc_auc_score

    from core.training import cross_validate

    s, _ = bank_ws
    cv = cross_validate(s, DatasetSpec("bank", "y", exclude=("duration",)),
                        ModelConfig.of(model="logreg"), k=3)
    assert cv["k"] == 3 and len(cv["folds"]) == 3
    oof = cv["oof"]
    assert len(oof) == 6000 and oof["row"].tolist() == list(range(6000))
    aucs = [roc_auc_score(g["label"], g["score"]) for _, g in oof.groupby("fold")]
    assert cv["roc_auc_mean"] == pytest.approx(np.mean(aucs))
    assert cv["roc_auc_std"] == pytest.approx(np.std(aucs, ddof=1))


@pytest.mark.parametrize("weight", ["none", "balanced"])
def test_cross_validation_of_a_network(bank_ws, weight):
    # Regressions: class weights were computed from float labels before the mode was checked,
    # so k-fold cross-validation of any Keras model failed with a cast error; and with
    # balanced weights early stopping watched the unweighted validation loss, which rises
    # from the first epoch on, so it kept the first epoch's weights (ROC-AUC 0.578 here).
    from core.training import cross_validate
    from core.training._fit import class_weights

    s, _ = bank_ws
    cv = cross_validate(s, DatasetSpec("bank", "y", exclude=("duration",)),
                        ModelConfig.of(model="mlp", hidden_units=(16,), epochs=5, batch_size=256,
                                    class_weight=weight), k=2)
    oof = cv["oof"]
    assert len(oof) == 6000 and sorted(oof["fold"].unique()) == [1, 2]
    assert 0.68 < cv["roc_auc_mean"] <= 1.0
    aucs = [roc_auc_score(g["label"], g["score"]) for _, g in oof.groupby("fold")]
    assert cv["roc_auc_mean"] == pytest.approx(np.mean(aucs))
    y = np.array([0.0, 0.0, 0.0, 1.0])
    assert class_weights(y, "none") is None
    assert class_weights(y, "balanced") == pytest.approx({0: 4 / 6, 1: 2.0})


def test_tuning_lists_trials_and_trains_the_best(bank_ws):
    from core.training import tune

    s, _ = bank_ws
    result = tune(s, DatasetSpec("bank", "y", exclude=("duration",)),
                  ModelConfig.of(model="mlp", epochs=2, batch_size=512), n_trials=3,
                  timeout_s=120)
    tuning = load_run(s, result.run_id).config.extra["tuning"]
    assert len(tuning["trials"]) == 3 and tuning["direction"] == "maximize"
    best = max(tuning["trials"], key=lambda t: t["value"])
    assert best["params"] == tuning["best_params"]
    units = load_run(s, result.run_id).config.model_config.mlp.hidden_units
    assert len(units) == tuning["best_params"]["n_layers"]
    with pytest.raises(TrainingError, match="Keras models"):
        tune(s, DatasetSpec("bank", "y"), ModelConfig.of(model="hgb"), n_trials=1)


class _PruneAllButFirst:
    """Lets the first trial finish; prunes every other one at its second epoch."""

    def __init__(self) -> None:
        self.first = None

    def epoch(self, key, epoch: int, val_loss: float) -> bool:
        self.first = key if self.first is None else self.first
        return key != self.first and epoch >= 2

    def finish(self, key, pruned: bool) -> None:
        return None


def test_one_process_tuning_records_the_epoch_and_loss_a_trial_was_pruned_on(bank_ws,
                                                                               monkeypatch):
    from core.training import _tuning, tune

    monkeypatch.setattr(_tuning, "EpochPruner", _PruneAllButFirst)
    s, _ = bank_ws
    result = tune(s, DatasetSpec("bank", "y", exclude=("duration",)),
                  ModelConfig.of(model="mlp", hidden_units=(8,), epochs=4, batch_size=512,
                                 early_stopping=False), n_trials=3, timeout_s=120)
    tuning = result.config.extra["tuning"]
    assert [t["number"] for t in tuning["trials"]] == [0]
    assert [(p["number"], p["epoch"]) for p in tuning["pruned"]] == [(1, 2), (2, 2)]
    assert all(np.isfinite(p["val_loss"]) and 0 < p["val_loss"] < 2 for p in tuning["pruned"])


@pytest.mark.parametrize("model", ["wide_deep", "ft_transformer"])
def test_other_networks_train_end_to_end(bank_ws, model):
    s, _ = bank_ws
    r = train(s, DatasetSpec("bank", "y", exclude=("duration",)),
              ModelConfig.of(model=model, hidden_units=(16,), d_token=8, n_heads=2, n_blocks=1,
                          epochs=8, batch_size=256, learning_rate=1e-3))
    run = load_run(s, r.run_id)
    assert run.config.model == model and r.metrics["metrics"]["roc_auc"] > 0.65
    assert np.allclose(run.predict(run.test_frame), run.test_frame[SCORE_COL], atol=1e-5)


def test_mlp_same_seed_same_metrics(bank_ws):
    s, _ = bank_ws
    spec = DatasetSpec("bank", "y", exclude=("duration",), seed=7)
    cfg = ModelConfig.of(model="mlp", hidden_units=(16,), epochs=2, early_stopping=False)
    a, b = train(s, spec, cfg), train(s, spec, cfg)
    assert a.metrics["metrics"] == b.metrics["metrics"]


def test_two_jobs_at_once_both_finish_and_infinite_inputs_are_imputed(bank_ws):
    from core.app import JobManager
    from core.warehouse import connect

    s, _ = bank_ws
    with connect(s) as con:
        con.execute("CREATE OR REPLACE TABLE bank_inf AS SELECT * REPLACE ("
                    "CASE WHEN age > 60 THEN 'inf'::DOUBLE ELSE age::DOUBLE END AS age) FROM bank")
    jobs = JobManager(s)
    first = jobs.submit_training(DatasetSpec("bank_inf", "y"), ModelConfig.of(model="logreg"))
    second = jobs.submit_training(DatasetSpec("bank", "y"), ModelConfig.of(model="hgb"))
    done = [jobs.wait(j, timeout=300) for j in (first, second)]
    assert [d.state for d in done] == ["done", "done"], [d.message for d in done]
    assert load_run(s, done[0].run_id).metrics["metrics"]["roc_auc"] > 0.6


def test_nan_loss_stops_after_the_epoch_with_a_clear_message():
    import pandas as pd

    from core.features import TabularPreprocessor
    from core.training import FitData, fit_keras

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=64), "b": rng.normal(size=64)})
    pre = TabularPreprocessor().fit(frame)
    x = pre.transform(frame)
    x[:, 0] = np.float32(3e38)  # overflows to inf in the first layer: the loss is NaN
    y = (rng.random(64) < 0.5).astype(np.int32)
    epochs = []
    with pytest.raises(TrainingError, match="loss became NaN or infinite"):
        fit_keras(ModelConfig.of(model="mlp", hidden_units=(4,), epochs=20,
                                 early_stopping=False), pre,
                  "binary", 2, FitData(x, y, x, y), 0,
                  progress=lambda e: epochs.append(e["epoch"]) if "epoch" in e else None)
    assert epochs == [1]  # stopped at the end of the first epoch, not after 20


def test_baselines_record_their_estimator(bank_ws):
    from sklearn.ensemble import HistGradientBoostingClassifier

    s, runs = bank_ws
    est = load_run(s, runs["hgb"]).config.extra["estimator"]
    assert est["class"] == "HistGradientBoostingClassifier"
    assert est["params"] == {k: v for k, v in HistGradientBoostingClassifier(
        random_state=42).get_params().items() if v is None or isinstance(v, bool | int | float | str)}
    model = load_run(s, runs["hgb"]).model
    assert est["iterations"] == model.n_iter_ and 1 <= est["iterations"] <= 100
    assert load_run(s, runs["logreg"]).config.extra["estimator"]["class"] == "LogisticRegression"
    assert "estimator" not in load_run(s, runs["mlp"]).config.extra
