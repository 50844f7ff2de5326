"""Optuna trials in parallel as Ray Tune trials (``ray.tune`` with ``OptunaSearch``).

Ray Tune (https://docs.ray.io/en/latest/tune/) runs each trial as its own Ray task, up to
``parallel`` at once (``ConcurrencyLimiter``); ``OptunaSearch`` asks Optuna's TPE sampler
(seeded) for each trial's settings, from the same define-by-run space as the one-process search
(:func:`core.training._tuning.suggest`). The encoded splits go to the trials through Ray's object
store (``tune.with_parameters``), so no trial opens the warehouse. Each trial fits on the
training split and reports the validation metric; the results table is the one-process
search's (``number``, ``value``, ``params``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable

import numpy as np

from core.errors import TrainingError
from core.evaluate import headline_metrics
from core.runs import predict_output
from core.specs import ModelConfig
from core.training._ensemble import fit_model
from core.training._fit import FitData, TrainingCancelled
from core.training._pruning import FINAL, EpochPruner, ray_scheduler

STORAGE_ENV = "LIFTLAB_RAY_STORAGE"


class _Space:
    """Optuna's define-by-run space (picklable: Ray Tune checkpoints the searcher)."""

    def __init__(self, base: ModelConfig, suggest) -> None:
        self.base, self.suggest = base, suggest

    def __call__(self, trial) -> None:
        self.suggest(trial, self.base)


def _trial(config: dict, *, base: ModelConfig, suggest, pre, task: str, n_classes: int,
           fit: FitData, y_valid: np.ndarray, scaling, seed: int, metric: str) -> None:
    """One Ray Tune trial: fit the sampled configuration, reporting the validation loss after
    each epoch (``{FINAL: 0}``: what the pruning scheduler reads) and the validation metric
    once at the end (``{FINAL: 1}``: what the search learns from)."""
    import optuna
    from ray import tune

    def per_epoch(event: dict) -> None:
        if event.get("stage") == "epoch":
            loss = (event.get("logs") or {}).get("val_loss", float("nan"))
            tune.report({metric: float("nan"), "val_loss": float(loss),
                         "epoch": int(event["epoch"]), FINAL: 0})

    cfg = suggest(optuna.trial.FixedTrial(config), base)
    model, history = fit_model(cfg, pre, task, n_classes, fit, seed, progress=per_epoch)
    value = headline_metrics(task, y_valid, predict_output(model, fit.x_valid, task,
                                                           scaling))["metrics"][metric]
    tune.report({metric: float("nan") if value is None else float(value), FINAL: 1,
                 "val_loss": float(history[-1].get("val_loss", float("nan"))) if history
                 else float("nan"), "epoch": len(history)})


def _final_value_search(space, metric: str, mode: str, seed: int):
    """Ray Tune's ``OptunaSearch`` (TPE, seeded) that learns from each trial's final report
    only: per-epoch reports go to the pruner (:func:`core.training._pruning.ray_scheduler`),
    and a pruned trial is told to Optuna as *pruned*, not as a NaN score."""
    import optuna
    from ray.tune.search.optuna import OptunaSearch

    class _FinalValueSearch(OptunaSearch):
        def on_trial_result(self, trial_id: str, result: dict) -> None:
            return None

        def on_trial_complete(self, trial_id: str, result: dict | None = None,
                              error: bool = False) -> None:
            final = bool(result) and bool(result.get(FINAL))
            super().on_trial_complete(trial_id, result if final else None, error)

    return _FinalValueSearch(space=space, metric=metric, mode=mode,
                             sampler=optuna.samplers.TPESampler(seed=seed))


def search_parallel(base: ModelConfig, suggest, prepared: dict, n_trials: int, timeout_s: float,
                    parallel: int, progress: Callable[[dict], None] | None = None,
                    should_stop: Callable[[], bool] | None = None
                    ) -> tuple[list[dict], dict, list[dict]]:
    """Run the search as Ray Tune trials, ``parallel`` at a time.

    Args:
        base: The starting configuration (family, epochs, batch size).
        suggest: ``suggest(trial, base) -> ModelConfig``, the define-by-run space.
        prepared: ``{"pre", "task", "n_classes", "fit", "y_valid", "scaling", "seed",
            "metric", "direction"}`` as the one-process search builds them.
        n_trials: Trials in all.
        timeout_s: Time budget of the search, in seconds.
        parallel: Trials at once (each reserves one CPU, or a GPU when the cluster has them).
        progress: ``{"stage": "trial", "trial", "trials", "value", "best"}`` as each trial
            ends (``value`` None for a pruned trial), while the search runs.
        should_stop: Checked with every trial's result; True stops every trial and raises.

    Returns:
        ``(trials, best_params, pruned)``: ``[{"number", "value", "params"}]`` (finite values
        only), the best trial's parameters, and the pruned trials
        ``[{"number", "epoch", "params"}]`` (Optuna's median rule on the validation loss per
        epoch, :mod:`core.training._pruning`).

    Raises:
        TrainingCancelled: ``should_stop`` returned True.
    """
    import ray
    from ray import tune
    from ray.tune.search import ConcurrencyLimiter

    if not ray.is_initialized():
        ray.init(num_cpus=max(parallel, 1), include_dashboard=False, log_to_driver=False)
    metric, direction = prepared["metric"], prepared["direction"]
    mode = "max" if direction == "maximize" else "min"
    search = _final_value_search(_Space(base, suggest), metric, mode, prepared["seed"])
    gpu = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
    trainable = tune.with_resources(tune.with_parameters(
        _trial, base=base, suggest=suggest, **{k: v for k, v in prepared.items()
                                               if k != "direction"}), {"cpu": 1, "gpu": gpu})
    root = os.environ.get(STORAGE_ENV) or tempfile.gettempdir()
    storage = tempfile.mkdtemp(prefix=f"liftlab-tune-p{os.getpid()}-", dir=root)
    if should_stop is not None and should_stop():
        raise TrainingCancelled("Tuning was cancelled; no run was saved.")
    ended = _TrialLog(n_trials, metric, direction, progress)
    try:
        results = tune.Tuner(trainable, tune_config=tune.TuneConfig(
            search_alg=ConcurrencyLimiter(search, max_concurrent=parallel),
            scheduler=ray_scheduler(EpochPruner(), ended, ended.epoch),
            num_samples=n_trials, time_budget_s=timeout_s),
            run_config=tune.RunConfig(storage_path=storage, name="search", verbose=0,
                                      stop=_cancel_stopper(should_stop))).fit()
    finally:
        shutil.rmtree(storage, ignore_errors=True)
    if should_stop is not None and should_stop():
        raise TrainingCancelled("Tuning was cancelled; no run was saved.")
    return _collect(results, metric, direction)


class _TrialLog:
    """Progress as each Ray Tune trial ends (called by the pruning scheduler, in this
    process, while the search runs)."""

    def __init__(self, n_trials: int, metric: str, direction: str,
                 progress: Callable[[dict], None] | None) -> None:
        self.n_trials, self.metric, self.direction = n_trials, metric, direction
        self.progress = progress
        self.ended, self.best = 0, None

    def __call__(self, end: dict) -> None:
        self.ended += 1
        value = None if end["pruned"] else end["result"].get(self.metric)
        if value is not None and np.isfinite(value) and (
                self.best is None or (value > self.best if self.direction == "maximize"
                                      else value < self.best)):
            self.best = float(value)
        if self.progress is not None:
            self.progress({"stage": "trial", "trial": self.ended, "trials": self.n_trials,
                           "value": value, "best": self.best,
                           "pruned_at": end["epoch"] if end["pruned"] else None})

    def epoch(self, trial_id: str, epoch: int) -> None:
        """A running trial finished an epoch: say so (the page shows the search moving)."""
        if self.progress is not None:
            best = f" · best so far {self.best:.4f}" if self.best is not None else ""
            self.progress({"message": f"Tuning: {self.ended}/{self.n_trials} trials done, "
                                      f"trial {trial_id[-5:]} at epoch {epoch}{best}"})


def _cancel_stopper(should_stop: Callable[[], bool] | None):
    """A Ray Tune ``Stopper``: the analyst's cancel stops every trial at its next report."""
    from ray.tune import Stopper

    class _Cancel(Stopper):
        def __call__(self, trial_id: str, result: dict) -> bool:
            return False

        def stop_all(self) -> bool:
            return should_stop is not None and bool(should_stop())

    return _Cancel()


def _collect(results, metric: str, direction: str) -> tuple[list[dict], dict, list[dict]]:
    """The results table from Ray Tune's ``ResultGrid``: finished trials, best, pruned."""
    trials, pruned, best = [], [], None
    for number, result in enumerate(results):
        last = result.metrics or {}
        if not last.get(FINAL):
            pruned.append({"number": number, "epoch": last.get("epoch"),
                           "val_loss": last.get("val_loss"), "params": dict(result.config)})
            continue
        value = last.get(metric)
        if value is None or not np.isfinite(value):
            continue
        trials.append({"number": number, "value": float(value), "params": dict(result.config)})
        if best is None or (value > best["value"] if direction == "maximize"
                            else value < best["value"]):
            best = trials[-1]
    if best is None:
        raise TrainingError("No tuning trial finished with a finite validation score; no run "
                            "was saved. Lower the learning rate or add trials.")
    return trials, best["params"], pruned
