"""DP-SGD inside the shared Keras fit: the noise plan for the run's rows, the DP trainer around
the network (:func:`models.dp.make_dp_trainer`), Poisson-sampled batches, and what a finished DP
run records (config.json ``privacy``, no training-loss history, SHAP background from the test
split). The accounting is :mod:`core.privacy`'s."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.errors import TrainingError
from core.features import TabularPreprocessor
from core.privacy import DPPlan, bounded_preprocessor, plan_dp, spent
from core.specs import ModelConfig

TRAIN_LOG_KEYS = ("loss", "auc", "accuracy", "mae")


def dp_plan(cfg: ModelConfig, n_train: int) -> DPPlan:
    """The noise multiplier and steps of a DP run on ``n_train`` rows (see
    :func:`core.privacy.plan_dp`)."""
    return plan_dp(cfg.dp.dp_epsilon, cfg.dp.dp_delta, cfg.dp.dp_clip, n_train,
                   cfg.fit.batch_size, cfg.fit.epochs)


def dp_trainer(model, cfg: ModelConfig, task: str, plan: DPPlan, seed: int):
    """The DP-SGD trainer wrapping an uncompiled network (compile it like the network)."""
    from models.dp import make_dp_trainer

    return make_dp_trainer(model, cfg.resolved_loss(task), plan.clip, plan.noise_multiplier,
                           float(plan.batch_size), seed)


def dp_fit_inputs(data, cfg: ModelConfig, plan: DPPlan, seed: int) -> dict:
    """``fit`` keyword arguments: Poisson-sampled batches of the training rows, ⌈n/B⌉ steps an
    epoch, the validation split as it is.

    Raises:
        TrainingError: Streamed data (DP-SGD samples rows in memory).
    """
    from models.dp import poisson_batches

    if not hasattr(data, "x_train"):
        raise TrainingError("Differential privacy needs the table in memory (DP-SGD samples "
                            "each row with probability batch/n); choose the in-memory "
                            "pipeline.")
    return {"x": poisson_batches(data.x_train, data.y_train, plan.sampling_rate, seed),
            "steps_per_epoch": plan.steps_per_epoch, "shuffle": False,
            "validation_data": (data.x_valid, data.y_valid)}


def dp_preprocessor(cfg: ModelConfig, x_train: pd.DataFrame) -> TabularPreprocessor:
    """The run's preprocessor: from the analyst's bounds when a DP run has them, else fitted on
    the training rows."""
    if cfg.dp.dp and cfg.dp.dp_bounds:
        return bounded_preprocessor(cfg.dp.dp_bounds, x_train, cfg.numeric_bins)
    return TabularPreprocessor(numeric_bins=cfg.numeric_bins).fit(x_train)


def finish_dp_run(config: dict, cfg: ModelConfig, history: list[dict]) -> list[dict]:
    """Add the ``privacy`` block to a DP run's config; return the history to save (validation
    logs only: the training loss is computed on training rows without noise)."""
    plan = dp_plan(cfg, int(config["rows"]["train"]))
    config["privacy"] = {**spent(plan, len(history)),
                         "preprocessing": "analyst bounds" if cfg.dp.dp_bounds
                         else "fitted on training rows (not covered)",
                         "background": "test split"}
    return [{k: v for k, v in h.items() if k not in TRAIN_LOG_KEYS} for h in history]


def background_rows(cfg: ModelConfig, splits, seed: int, size: int) -> np.ndarray:
    """Rows kept for SHAP backgrounds: random training rows, or test rows for a DP run (raw
    training rows in the run folder would undo the guarantee)."""
    pool = splits.test if cfg.dp.dp else splits.train
    rng = np.random.default_rng(seed)
    return rng.choice(pool, size=min(size, len(pool)), replace=False)
