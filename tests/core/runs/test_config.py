"""The typed run configuration: every version of config.json reads, nothing is lost on a round
trip, and a run written by an earlier LiftLab still evaluates, explains and scores."""

from __future__ import annotations

import json

import pytest

from core.errors import RunNotFoundError
from core.runs import load_run, load_run_config
from core.specs import ModelConfig, from_dict

# config.json as LiftLab wrote it on 2026-11-29 (before excluded_columns, data_pipeline,
# valid_scores, millisecond timestamps and run kinds)
EARLY = {
    "run_id": "20261129-101500-mlp-3f9a", "created_at": "2026-11-29T10:15:00",
    "task": "binary", "model": "mlp",
    "spec": {"table": "bank", "target": "y", "positive_class": None, "features": [],
             "exclude": ["duration"], "test_size": 0.2, "valid_size": 0.1, "seed": 42},
    "model_config": {"model": "mlp", "hidden_units": [64, 32], "activation": "relu",
                     "dropout": 0.2, "learning_rate": 0.001, "epochs": 30, "batch_size": 256,
                     "early_stopping": True, "patience": 5, "class_weight": "none"},
    "positive_class": "yes", "negative_class": "no", "classes": ["no", "yes"],
    "features": ["age", "job"], "device": "CPU", "rows": {"table": 100, "train": 70},
    "positive_rate_train": 0.11, "target_scaling": None, "encoded_features": 14,
    "epochs_run": 12, "duration_s": 3.2, "custom_note": "kept",
}


def test_an_early_config_reads_with_the_defaults_it_implied():
    c = load_run_config(EARLY)
    assert (c.kind, c.task, c.table, c.target) == ("tabular", "binary", "bank", "y")
    assert c.excluded_columns == ("duration",) and c.data_pipeline == "memory"
    assert c.model_config == ModelConfig.of(model="mlp", hidden_units=(64, 32), dropout=0.2,
                                            learning_rate=0.001, epochs=30, batch_size=256,
                                            patience=5)
    assert c.spec.exclude == ("duration",) and c.extra == {"custom_note": "kept"}
    assert c.to_dict() == EARLY  # nothing lost
    assert c.with_extra(tuning={"trials": []}).extra["tuning"] == {"trials": []}
    assert load_run_config({k: v for k, v in EARLY.items() if k != "task"}).task == "binary"


def test_kinds_and_refusals():
    uplift = dict(EARLY, task="uplift", learner="t", uplift={
        "treatment": "campaign", "treated_value": "offer", "control_value": "holdout",
        "learner": "t", "arms": ["control"]}, source_features=["age"])
    c = load_run_config(uplift)
    assert c.kind == "uplift" and c.uplift.arms == ("control",) and c.source_features == ("age",)
    rec = dict(EARLY, task="next_item", model="sasrec", spec={"table": "clicks", "target": "item"})
    assert load_run_config(rec).kind == "next_item"
    with pytest.raises(RunNotFoundError, match="next-item"):
        _ = load_run_config(rec).spec
    with pytest.raises(RunNotFoundError, match="not a LiftLab run configuration"):
        load_run_config({"run_id": "x"})


def test_model_config_round_trips_through_its_flat_form():
    cfg = ModelConfig.of(model="ft_transformer", d_token=16, n_heads=2, dropout=0.3, epochs=7)
    assert cfg.transformer.dropout == 0.3 and cfg.fit.epochs == 7
    assert from_dict(ModelConfig, json.loads(json.dumps(cfg.flat()))) == cfg
    assert list(ModelConfig.of(model="hgb").used_options()) == ["class_weight",
                                                                "numeric_encoding"]
    with pytest.raises(Exception, match="Unknown model setting bogus"):
        ModelConfig.of(bogus=1)


@pytest.mark.slow
def test_a_run_written_by_an_earlier_version_evaluates_explains_and_scores(bank_ws, capsys):
    from core.app import main

    s, runs = bank_ws
    folder = s.runs_dir / runs["logreg"]
    config = json.loads((folder / "config.json").read_text())
    old = {k: v for k, v in config.items() if k not in ("excluded_columns", "data_pipeline",
                                                         "estimator", "kind")}
    old["model_config"] = {k: v for k, v in old["model_config"].items()
                           if k in EARLY["model_config"]}
    old["created_at"] = old["created_at"][:19]
    old["spec"] = {**old["spec"], "features": [], "exclude": ["duration"]}  # as runs then said
    (folder / "config.json").write_text(json.dumps(old))
    valid = (folder / "valid_scores.parquet").read_bytes()
    (folder / "valid_scores.parquet").unlink()
    try:
        run = load_run(s, runs["logreg"])
        assert run.excluded_columns == ["duration"] and run.valid_scores is None
        d = str(s.data_dir)
        for args in (["evaluate", runs["logreg"], "--bootstrap", "0"],
                     ["explain", runs["logreg"], "--rows", "30"],
                     ["score", runs["logreg"], "--table", "bank", "--out", "bank_old_scored"],
                     ["evaluate", runs["logreg"], "--policy", "best_f1", "--bootstrap", "0"]):
            assert main(["--data-dir", d, *args]) == 0, capsys.readouterr().err
            out = json.loads(capsys.readouterr().out)
            assert out.get("run_id", runs["logreg"]) == runs["logreg"]
    finally:  # the session's run as it was, for the tests after this one
        (folder / "config.json").write_text(json.dumps(config))
        (folder / "valid_scores.parquet").write_bytes(valid)
