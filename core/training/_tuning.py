"""Hyper-parameter search with Optuna (Akiba et al., 2019) within a trial and time budget.

Each trial fits on the training split and is scored on the validation split, never on the test
split; the best configuration is then trained as a normal run, and every trial is listed in it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import numpy as np

from core.config import Settings
from core.errors import TrainingError
from core.evaluate import headline_metrics
from core.features import TabularPreprocessor, load_task_data, split_indices
from core.runs import predict_output
from core.specs import ENSEMBLE, KERAS_MODELS, DatasetSpec, ModelConfig
from core.training._choice import resolve_spec
from core.training._ensemble import fit_model
from core.training._fit import FitData, TrainingCancelled, TrainResult, scale_target, target_scaling
from core.training._memory import train
from core.training._pruning import EpochPruner, epoch_hook, pruner_note
from core.training._tune_ray import search_parallel
from core.warehouse import connect

OBJECTIVES = {"binary": ("roc_auc", "maximize"), "multiclass": ("log_loss", "minimize"),
              "regression": ("rmse", "minimize")}


def suggest(trial, base: ModelConfig) -> ModelConfig:
    """Sample a configuration around ``base`` for its model family.

    Search space: every network — dropout 0–0.5 and learning rate 1e-4–1e-2 (log); MLP and
    wide & deep — 1–3 hidden layers of 32–256 units, plus batch norm and L2 (MLP);
    FT-Transformer — also token size and blocks; TabM and the ensemble's TabM — width 64–512
    and depth 1–3 (members stay as set). The scikit-learn baselines have nothing to tune here
    and raise.
    """
    if not base.is_keras:
        raise TrainingError(
            f"Tuning is available for the Keras models ({', '.join(KERAS_MODELS)}) and the "
            f"ensemble's network; '{base.model}' trains with its defaults."
        )
    changes = {"dropout": trial.suggest_float("dropout", 0.0, 0.5),
               "learning_rate": trial.suggest_float("learning_rate", 1e-4, 1e-2, log=True)}
    if base.model in ("tabm", ENSEMBLE):
        changes["width"] = trial.suggest_categorical("width", [64, 128, 256, 512])
        changes["depth"] = trial.suggest_int("depth", 1, 3)
        return base.replace(**changes)
    n_layers = trial.suggest_int("n_layers", 1, 3)
    width = trial.suggest_categorical("units", [32, 64, 128, 256])
    changes["hidden_units"] = tuple(max(16, width // (2 ** i)) for i in range(n_layers))
    if base.model == "mlp":
        changes["batch_norm"] = trial.suggest_categorical("batch_norm", [False, True])
        changes["l2"] = trial.suggest_float("l2", 1e-6, 1e-2, log=True)
    if base.model == "ft_transformer":
        changes["d_token"] = trial.suggest_categorical("d_token", [16, 32, 64])
        changes["n_blocks"] = trial.suggest_int("n_blocks", 1, 3)
    return base.replace(**changes)


def tune(settings: Settings, spec: DatasetSpec, base: ModelConfig, n_trials: int = 10,
         timeout_s: float = 300.0, progress: Callable[[dict], None] | None = None,
         should_stop: Callable[[], bool] | None = None, parallel: int = 1) -> TrainResult:
    """Search hyper-parameters, then train the best configuration as a run.

    Args:
        settings: Workspace settings.
        spec: Dataset specification.
        base: Starting configuration (model family, epochs, batch size …).
        n_trials: Most trials, 1–500.
        timeout_s: Time budget for the search in seconds (the last trial finishes).
        progress: Called with ``{"stage": "trial", "trial", "trials", "value", "best",
            "pruned_at"}`` as each trial ends (a pruned trial: ``value`` None and the epoch
            at which Optuna's median rule stopped it, :mod:`core.training._pruning`).
        should_stop: Polled every batch of every trial and of the final training; True
            cancels the search and saves nothing.
        parallel: Trials at once; above 1 they run as Ray Tune trials with Optuna's sampler
            (:func:`core.training._tune_ray.search_parallel`), the same results table.

    Returns:
        The best configuration's :class:`~core.training.TrainResult`; its config.json holds
        ``"tuning": {"objective", "direction", "trials": [{"number", "value", "params"}]}``.

    Raises:
        TrainingError: Bad budget or a model family without a search space.
        TrainingCancelled: ``should_stop`` returned True.
    """
    import optuna

    if not 1 <= n_trials <= 500 or timeout_s <= 0:
        raise TrainingError(f"Trials must be in [1, 500] and the time budget > 0; got "
                            f"{n_trials} trials and {timeout_s} s.")
    suggest(optuna.trial.FixedTrial({"n_layers": 1, "units": 32, "dropout": 0.0,
                                     "learning_rate": 1e-3, "batch_norm": False, "l2": 1e-4,
                                     "d_token": 16, "n_blocks": 1, "width": 64, "depth": 1}),
            base)  # validates the family
    with connect(settings) as con:
        data = load_task_data(con, resolve_spec(con, spec)[0])
    splits = split_indices(data.y, spec.test_size, spec.valid_size, spec.seed,
                           stratify=data.task != "regression")
    pre = TabularPreprocessor(numeric_bins=base.numeric_bins).fit(data.x.iloc[splits.train])
    scaling = target_scaling(data.task, base, data.y[splits.train])
    fit = FitData(pre.transform(data.x.iloc[splits.train]),
                  scale_target(data.y[splits.train], scaling),
                  pre.transform(data.x.iloc[splits.valid]),
                  scale_target(data.y[splits.valid], scaling))
    metric, direction = OBJECTIVES[data.task]

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    started = time.perf_counter()
    prepared = {"pre": pre, "task": data.task, "n_classes": len(data.classes), "fit": fit,
                "y_valid": data.y[splits.valid], "scaling": scaling, "seed": spec.seed,
                "metric": metric, "direction": direction}
    search = search_parallel if parallel > 1 else _search_local
    trials, best_params, pruned = search(base, suggest, prepared, n_trials, timeout_s,
                                         parallel, progress, should_stop)
    best = suggest(optuna.trial.FixedTrial(best_params), base)
    _check_cancel(should_stop)
    result = train(settings, spec, best, progress, should_stop)
    tuning = {"objective": f"validation {metric}", "direction": direction, "trials": trials,
              "best_params": best_params, "parallel": max(int(parallel), 1),
              "seconds": round(time.perf_counter() - started, 1), "pruned": pruned,
              "pruner": pruner_note()}
    _annotate(settings, result.run_id, tuning)
    return dataclasses.replace(result, config=result.config.with_extra(tuning=tuning))


def _search_local(base: ModelConfig, suggest_fn, prepared: dict, n_trials: int,
                  timeout_s: float, parallel: int, progress: Callable[[dict], None] | None,
                  should_stop: Callable[[], bool] | None) -> tuple[list[dict], dict, list[dict]]:
    """One Optuna study in this process (TPE, seeded, trials pruned by
    :class:`core.training._pruning.EpochPruner`), with the arguments of
    :func:`core.training._tune_ray.search_parallel` (``parallel`` unused).

    Returns:
        ``(trials, best_params, pruned)``.

    Raises:
        TrainingError: Every trial was pruned or ended without a finite score.
        TrainingCancelled: ``should_stop`` returned True.
    """
    import optuna

    p = prepared
    pruner = EpochPruner()

    def objective(trial):
        cfg = suggest_fn(trial, base)
        trial.set_user_attr("config", cfg.flat())
        at: dict = {}
        hook = epoch_hook(pruner, trial.number,
                          lambda epoch, loss: at.update(epoch=epoch, val_loss=loss))
        try:
            model, _ = fit_model(cfg, p["pre"], p["task"], p["n_classes"], p["fit"], p["seed"],
                                 progress=hook, should_stop=_or_pruned(should_stop, at))
        finally:
            pruner.finish(trial.number, bool(at))
        _check_cancel(should_stop)
        if at:
            trial.set_user_attr("pruned_at", at["epoch"])
            trial.set_user_attr("pruned_loss", at["val_loss"])
            raise optuna.TrialPruned(f"validation loss above the median at epoch {at['epoch']}")
        out = predict_output(model, p["fit"].x_valid, p["task"], p["scaling"])
        value = headline_metrics(p["task"], p["y_valid"], out)["metrics"][p["metric"]]
        return float("nan") if value is None else value

    def report(study, trial):
        if progress:
            done = [t.value for t in study.trials if t.value is not None]
            progress({"stage": "trial", "trial": trial.number + 1, "trials": n_trials,
                      "value": trial.value, "best": study.best_value if done else None,
                      "pruned_at": trial.user_attrs.get("pruned_at")})

    study = optuna.create_study(direction=p["direction"],
                                sampler=optuna.samplers.TPESampler(seed=p["seed"]))
    study.optimize(objective, n_trials=n_trials, timeout=timeout_s, callbacks=[report])
    trials = [{"number": t.number, "value": t.value, "params": t.params}
              for t in study.trials if t.value is not None and np.isfinite(t.value)]
    pruned = [{"number": t.number, "epoch": t.user_attrs.get("pruned_at"),
               "val_loss": t.user_attrs.get("pruned_loss"), "params": t.params}
              for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    if not trials:
        raise TrainingError("No tuning trial finished with a finite validation score; no run "
                            "was saved. Lower the learning rate or add trials.")
    return trials, study.best_params, pruned


def _or_pruned(should_stop: Callable[[], bool] | None, pruned: dict) -> Callable[[], bool]:
    """``should_stop`` for a trial's fit: the analyst's cancel, or the pruner's decision (the
    epoch ends and the trial is pruned)."""
    return lambda: bool(pruned) or (should_stop is not None and should_stop())


def _check_cancel(should_stop: Callable[[], bool] | None) -> None:
    if should_stop is not None and should_stop():
        raise TrainingCancelled("Tuning was cancelled; no run was saved.")


def _annotate(settings: Settings, run_id: str, tuning: dict) -> None:
    import json

    path = settings.runs_dir / run_id / "config.json"
    config = json.loads(path.read_text())
    config["tuning"] = tuning
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(config, indent=2))
    tmp.replace(path)
