"""Pruning of tuning trials: Optuna's median rule on each epoch's validation loss, in the
one-process search (a Keras fit stops at the pruned epoch) and in Ray Tune's scheduler."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from core.features import TabularPreprocessor
from core.specs import ModelConfig
from core.training._ensemble import fit_model
from core.training._fit import FitData
from core.training._pruning import FINAL, EpochPruner, epoch_hook, ray_scheduler
from core.training._tuning import _or_pruned

LOSSES = ([0.9, 0.7, 0.5, 0.4], [0.9, 0.8, 0.6, 0.5], [1.0, 0.9, 0.7, 0.6])
"""Three finished trials' validation loss per epoch: at epoch 3 the median is 0.6."""


def _warmed() -> EpochPruner:
    pruner = EpochPruner(n_startup_trials=3, n_warmup_steps=2)
    for key, losses in enumerate(LOSSES):
        for epoch, loss in enumerate(losses, start=1):
            assert not pruner.epoch(key, epoch, loss)  # nothing pruned before 3 finished
        pruner.finish(key, pruned=False)
    return pruner


def test_the_median_rule_at_each_epoch_after_the_warm_up():
    pruner = _warmed()
    assert not pruner.epoch("a", 1, 5.0) and not pruner.epoch("a", 2, 5.0)  # warm-up
    assert pruner.epoch("a", 3, 0.65)  # above the median 0.6 at epoch 3
    assert not pruner.epoch("b", 3, 0.55)  # below it
    assert not pruner.epoch("b", 4, float("nan"))  # a NaN loss is not compared


def test_a_pruned_keras_fit_stops_after_the_pruned_epoch():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x1": rng.normal(size=400), "x2": rng.normal(size=400)})
    y = (frame.x1 + 0.3 * rng.normal(size=400) > 0).astype("float32").to_numpy()
    pre = TabularPreprocessor().fit(frame)
    x = pre.transform(frame)
    data = FitData(x[:300], y[:300], x[300:], y[300:])
    pruner = EpochPruner(n_startup_trials=1, n_warmup_steps=2)
    for epoch in range(1, 11):  # a finished trial with a tiny loss: the next is pruned
        pruner.epoch("done", epoch, 1e-6)
    pruner.finish("done", pruned=False)
    at: dict = {}
    cfg = ModelConfig.of(model="mlp", hidden_units=(8,), epochs=10, batch_size=64,
                         early_stopping=False)
    _, history = fit_model(cfg, pre, "binary", 2, data, seed=0,
                           progress=epoch_hook(pruner, "next",
                                               lambda e, loss: at.update(e=e, loss=loss)),
                           should_stop=_or_pruned(None, at))
    assert at["e"] == 3 and len(history) == 3  # warm-up 2 epochs, pruned after the 3rd
    assert at["loss"] == pytest.approx(history[-1]["val_loss"])  # the loss it was pruned on


def test_the_ray_tune_scheduler_stops_a_trial_the_pruner_prunes():
    from ray.tune.schedulers import TrialScheduler

    ended: list[dict] = []
    scheduler = ray_scheduler(_warmed(), ended.append)
    worse, better = SimpleNamespace(trial_id="worse"), SimpleNamespace(trial_id="better")
    for epoch in (1, 2):
        for trial in (worse, better):
            assert scheduler.on_trial_result(None, trial, {"val_loss": 9.0, "epoch": epoch,
                                                           FINAL: 0}) == TrialScheduler.CONTINUE
    assert scheduler.on_trial_result(None, worse, {"val_loss": 0.65, "epoch": 3, FINAL: 0}) \
        == TrialScheduler.STOP
    assert scheduler.on_trial_result(None, better, {"val_loss": 0.55, "epoch": 3, FINAL: 0}) \
        == TrialScheduler.CONTINUE
    scheduler.on_trial_complete(None, worse, {"val_loss": 0.65, "epoch": 3, FINAL: 0})
    scheduler.on_trial_complete(None, better, {"val_loss": 0.5, "epoch": 4, FINAL: 1,
                                               "roc_auc": 0.8})
    assert [(e["pruned"], e["epoch"]) for e in ended] == [(True, 3), (False, 4)]


@pytest.mark.parametrize("pruned", [True, False])
def test_the_final_value_search_tells_optuna_pruned_or_the_final_value(pruned):
    import optuna

    from core.training._tune_ray import _final_value_search

    def space(trial):
        trial.suggest_float("lr", 1e-4, 1e-1, log=True)

    search = _final_value_search(space, "roc_auc", "max", seed=0)
    assert search.suggest("t1") is not None
    search.on_trial_result("t1", {"roc_auc": float("nan"), FINAL: 0, "epoch": 1})
    result = {"roc_auc": float("nan"), FINAL: 0, "epoch": 3} if pruned else \
        {"roc_auc": 0.8, FINAL: 1, "epoch": 5}
    search.on_trial_complete("t1", result)
    trial = search._ot_study.trials[0]
    assert trial.intermediate_values == {}  # per-epoch reports went to the pruner only
    if pruned:
        assert trial.state == optuna.trial.TrialState.PRUNED and trial.value is None
    else:
        assert trial.state == optuna.trial.TrialState.COMPLETE and trial.value == 0.8
