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

STORAGE_ENV = "LIFTLAB_RAY_STORAGE"


class _Space:
    """Optuna's define-by-run space (picklable: Ray Tune checkpoints the searcher)."""

    def __init__(self, base: ModelConfig, suggest) -> None:
        self.base, self.suggest = base, suggest

    def __call__(self, trial) -> None:
        self.suggest(trial, self.base)


def _trial(config: dict, *, base: ModelConfig, suggest, pre, task: str, n_classes: int,
           fit: FitData, y_valid: np.ndarray, scaling, seed: int, metric: str) -> None:
    """One Ray Tune trial: fit the sampled configuration, report the validation metric."""
    import optuna
    from ray import tune

    cfg = suggest(optuna.trial.FixedTrial(config), base)
    model, _ = fit_model(cfg, pre, task, n_classes, fit, seed)
    value = headline_metrics(task, y_valid, predict_output(model, fit.x_valid, task,
                                                           scaling))["metrics"][metric]
    tune.report({metric: float("nan") if value is None else float(value)})


def search_parallel(base: ModelConfig, suggest, prepared: dict, n_trials: int, timeout_s: float,
                    parallel: int, progress: Callable[[dict], None] | None = None,
                    should_stop: Callable[[], bool] | None = None) -> tuple[list[dict], dict]:
    """Run the search as Ray Tune trials, ``parallel`` at a time.

    Args:
        base: The starting configuration (family, epochs, batch size).
        suggest: ``suggest(trial, base) -> ModelConfig``, the define-by-run space.
        prepared: ``{"pre", "task", "n_classes", "fit", "y_valid", "scaling", "seed",
            "metric", "direction"}`` as the one-process search builds them.
        n_trials: Trials in all.
        timeout_s: Time budget of the search, in seconds.
        parallel: Trials at once (each reserves one CPU, or a GPU when the cluster has them).
        progress: ``{"stage": "trial", "trial", "trials", "value", "best"}`` per finished
            trial (after the search: Ray Tune's ``fit`` blocks).
        should_stop: Checked before and after the search; True raises.

    Returns:
        ``(trials, best_params)``: ``[{"number", "value", "params"}]`` (finite values only) and
        the best trial's parameters.

    Raises:
        TrainingCancelled: ``should_stop`` returned True.
    """
    import optuna
    import ray
    from ray import tune
    from ray.tune.search import ConcurrencyLimiter
    from ray.tune.search.optuna import OptunaSearch

    if not ray.is_initialized():
        ray.init(num_cpus=max(parallel, 1), include_dashboard=False, log_to_driver=False)
    metric, direction = prepared["metric"], prepared["direction"]
    search = OptunaSearch(space=_Space(base, suggest), metric=metric,
                          mode="max" if direction == "maximize" else "min",
                          sampler=optuna.samplers.TPESampler(seed=prepared["seed"]))
    gpu = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
    trainable = tune.with_resources(tune.with_parameters(
        _trial, base=base, suggest=suggest, **{k: v for k, v in prepared.items()
                                               if k != "direction"}), {"cpu": 1, "gpu": gpu})
    root = os.environ.get(STORAGE_ENV) or tempfile.gettempdir()
    storage = tempfile.mkdtemp(prefix=f"liftlab-tune-p{os.getpid()}-", dir=root)
    if should_stop is not None and should_stop():
        raise TrainingCancelled("Tuning was cancelled; no run was saved.")
    try:
        results = tune.Tuner(trainable, tune_config=tune.TuneConfig(
            search_alg=ConcurrencyLimiter(search, max_concurrent=parallel),
            num_samples=n_trials, time_budget_s=timeout_s),
            run_config=tune.RunConfig(storage_path=storage, name="search", verbose=0)).fit()
    finally:
        shutil.rmtree(storage, ignore_errors=True)
    trials, best = [], None
    for number, result in enumerate(results):
        value = (result.metrics or {}).get(metric)
        if value is None or not np.isfinite(value):
            continue
        trials.append({"number": number, "value": float(value), "params": dict(result.config)})
        if best is None or (value > best["value"] if direction == "maximize"
                            else value < best["value"]):
            best = trials[-1]
        if progress:
            progress({"stage": "trial", "trial": len(trials), "trials": n_trials,
                      "value": float(value), "best": best["value"]})
    if should_stop is not None and should_stop():
        raise TrainingCancelled("Tuning was cancelled; no run was saved.")
    if best is None:
        raise TrainingError("No tuning trial finished with a finite validation score; no run "
                            "was saved. Lower the learning rate or add trials.")
    return trials, best["params"]
