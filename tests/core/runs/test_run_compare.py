"""Comparing runs (fast, no training): default pair, comparability, settings per model family."""

from __future__ import annotations

import json

import pytest

from core.runs import (
    NOT_USED,
    compare_runs,
    comparison_problem,
    default_comparison,
    model_parameters,
)
from core.specs import ModelConfig, to_dict


def _summary(run_id, task="binary", table="bank", target="y", model="hgb"):
    return {"run_id": run_id, "task": task, "table": table, "target": target, "model": model}


def test_default_pair_skips_a_newer_run_of_another_task():
    runs = [_summary("rec", task="next_item", table="clicks", target="item"),
            _summary("hgb"), _summary("mlp", model="mlp")]
    assert default_comparison(runs) == ["hgb", "mlp"]


def test_default_pair_prefers_the_same_table_and_target():
    runs = [_summary("new_other", table="telco", target="churn"), _summary("hgb"),
            _summary("logreg", model="logreg")]
    assert default_comparison(runs) == ["hgb", "logreg"]
    runs = [_summary("a", table="telco", target="churn"), _summary("b")]
    assert default_comparison(runs) == ["a", "b"]  # same task is still comparable
    assert default_comparison([_summary("a"), _summary("r", task="next_item")]) == []
    assert default_comparison([_summary("only")]) == []


def test_comparison_problem_says_why():
    kind, message = comparison_problem([_summary("r1", task="next_item"), _summary("h1")])
    assert kind == "error"
    assert message == ("These runs cannot be compared: they solve different tasks and share no "
                       "metric (r1 is a next-item recommender; h1 is a binary classifier). Pick "
                       "runs of the same task.")
    kind, message = comparison_problem([_summary("a"), _summary("b", table="telco",
                                                                target="churn")])
    assert kind == "note" and message.startswith(
        "These runs learn different data (bank → y, telco → churn)")
    assert comparison_problem([_summary("a"), _summary("b", model="mlp")]) is None


def test_model_parameters_keep_what_the_family_uses():
    form = to_dict(ModelConfig.of(model="hgb", epochs=60, batch_size=512))
    assert model_parameters("hgb", form) == {"class_weight": "none", "numeric_encoding": "auto"}
    mlp = model_parameters("mlp", to_dict(ModelConfig.of(model="mlp", epochs=60)))
    assert mlp["epochs"] == 60 and mlp["hidden_units"] == [128, 64] and "model" not in mlp
    assert "d_token" not in mlp and "n_heads" not in mlp
    ft = model_parameters("ft_transformer", to_dict(ModelConfig.of(model="ft_transformer")))
    assert ft["d_token"] == 32 and "hidden_units" not in ft and "batch_norm" not in ft
    rec = {"model": "sasrec", "epochs": 40, "embed_dim": 64, "window": 50, "batch_size": 128,
           "learning_rate": 1e-3, "seed": 42, "net": {"cell": "gru", "blocks": 2, "heads": 2,
                                                       "dropout": 0.2, "softmax": "auto",
                                                       "negatives": 1000, "patience": 5}}
    sas = model_parameters("sasrec", rec)
    assert sas["net.heads"] == 2 and "net.cell" not in sas and "net" not in sas
    assert model_parameters("transitions", dict(rec, model="transitions")) == {"seed": 42}
    assert model_parameters("future_model", {"model": "x", "a": 1}) == {"a": 1}


def _fake_run(settings, run_id, model, created, metrics, task="binary"):
    folder = settings.runs_dir / run_id
    folder.mkdir(parents=True)
    config = {"run_id": run_id, "created_at": created, "task": task, "model": model,
              "spec": {"table": "bank", "target": "y", "features": [], "exclude": ["duration"]},
              "model_config": to_dict(ModelConfig.of(model=model, epochs=60)),
              "device": "CPU", "rows": {"train": 100}, "duration_s": 1.5}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "metrics.json").write_text(json.dumps({"metrics": metrics}))


def test_compare_runs_tables(settings):
    _fake_run(settings, "a-hgb", "hgb", "2026-01-01T10:00:00",
              {"roc_auc": 0.81234567, "f1": 0.4, "pr_auc": None, "notes": ["x"]})
    _fake_run(settings, "b-mlp", "mlp", "2026-01-01T11:00:00",
              {"roc_auc": 0.8, "f1": None, "pr_auc": None})
    metrics, params = compare_runs(settings, ["a-hgb", "b-mlp"])
    assert list(metrics.index) == ["roc_auc", "f1"]  # no text, no metric missing everywhere
    assert metrics.dtypes.tolist() == [float, float]
    assert metrics.loc["roc_auc", "a-hgb"] == pytest.approx(0.81234567)
    assert list(params.index) == [
        "model", "model.epochs", "model.batch_size", "model.learning_rate", "model.optimizer",
        "model.lr_schedule", "model.loss", "model.dropout", "model.early_stopping",
        "model.patience", "model.workers", "model.data_pipeline", "model.hidden_units",
        "model.activation", "model.batch_norm", "model.l2"]
    assert params.loc["model.epochs"].tolist() == [NOT_USED, "60"]
    assert params.loc["model.hidden_units"].tolist() == [NOT_USED, "128, 64"]
    assert params.loc["model.early_stopping", "b-mlp"] == "yes"


def test_metric_names_are_the_fields_own_with_the_threshold():
    from core.evaluate import metric_name

    assert [metric_name(k) for k in ("roc_auc", "f1", "balanced_accuracy", "brier")] == [
        "ROC-AUC", "F1 @0.5", "Balanced accuracy @0.5", "Brier score"]
    assert metric_name("recall", 0.201) == "Recall @0.201"
    assert metric_name("hit_rate@10") == "HitRate@10" and metric_name("ndcg@10") == "NDCG@10"
    assert metric_name("something_new") == "something_new"
