"""The ``ensemble`` model: a Keras network and histogram gradient boosting fitted on the same
training rows, their outputs averaged with the weight that scores best on the validation split.

Both members score on one output scale, the run's own (probabilities for classification, the
target's units for regression; in training both learn the same standardised regression target),
so the blend is one model to every caller (:class:`models.blend.Blend`,
:func:`core.runs.predict_output`). Blending scores of a network and of boosted trees is the
plain weighted-average ensemble (e.g. Shwartz-Ziv & Armon, 2022, "Tabular data: deep learning is
not all you need", where an ensemble of XGBoost and networks beat each alone).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from core.evaluate import headline_metrics
from core.features import TabularPreprocessor
from core.runs import predict_output
from core.specs import ENSEMBLE, ENSEMBLE_MEMBERS, ModelConfig
from core.training._distributed import check_distributable, fit_distributed
from core.training._fit import FitData, Progress, StreamFit, emit, fit_baseline, fit_keras
from models.baselines import estimator_summary
from models.blend import WEIGHT_GRID, Blend, best_weight

# what the weight maximises on the validation split, per task (the runs' headline metrics)
CRITERIA = {"binary": ("roc_auc", True), "multiclass": ("log_loss", False),
            "regression": ("rmse", False)}


def booster_columns(pre: TabularPreprocessor) -> list[int]:
    """Encoded columns gradient boosting reads: each numeric column's standardised value and
    every one-hot level (a network's piecewise-linear bins only repeat the value for trees).

    Returns:
        Column indices into the preprocessor's encoded output, in order.
    """
    cols: list[int] = []
    for start, end, numeric in pre.blocks_:
        cols.extend([start] if numeric else range(start, end))
    return cols


def _score(task: str, y: np.ndarray) -> Callable[[np.ndarray], float]:
    metric, _ = CRITERIA[task]

    def score(out: np.ndarray) -> float:
        value = headline_metrics(task, y, out)["metrics"].get(metric)
        return float("nan") if value is None else float(value)

    return score


def choose_weight(task: str, y_valid: np.ndarray, net_out: np.ndarray,
                  boost_out: np.ndarray) -> dict:
    """The network's weight in the blend, chosen on validation rows.

    Args:
        task: binary, multiclass or regression.
        y_valid: Validation targets, shape (n,) (standardised for regression, as the outputs).
        net_out: The network's validation output, shape (n,) or (n, n_classes).
        boost_out: Gradient boosting's validation output, same shape and scale.

    Returns:
        ``{"weights": [network, boosting], "criterion", "grid", "scores"}``: the weight grid
        (0, 0.05, …, 1) and the validation score of each weight; the best score wins (ROC-AUC
        for binary, log loss for multiclass, RMSE for regression), ties going to the weight
        nearest 0.5. An undefined score (one class only) counts as the worst.
    """
    metric, higher = CRITERIA[task]
    score = _score(task, y_valid)

    def safe(out):
        value = score(out)
        return value if np.isfinite(value) else (-np.inf if higher else np.inf)

    weight, scores = best_weight(safe, (net_out, boost_out), higher, WEIGHT_GRID)
    return {"weights": [weight, round(1.0 - weight, 2)], "criterion": f"validation {metric}",
            "grid": list(WEIGHT_GRID),
            "scores": [round(v, 6) if np.isfinite(v) else None for v in scores]}


def fit_ensemble(cfg: ModelConfig, pre: TabularPreprocessor, task: str, n_classes: int,
                 data: FitData | StreamFit, seed: int, progress: Progress | None = None,
                 should_stop: Callable[[], bool] | None = None,
                 booster_data: FitData | None = None) -> tuple[Blend, list[dict]]:
    """Fit the network and gradient boosting, then choose the blend's weight on validation.

    Args:
        cfg: An ``ensemble`` configuration; its fit and TabM settings train the network
            (on Ray Train workers when ``cfg.fit.workers`` > 1), gradient boosting keeps
            scikit-learn's defaults (and the class weights) and fits in this process.
        pre: The fitted preprocessor.
        task: binary, multiclass or regression.
        n_classes: Number of classes (multiclass).
        data: The network's training and validation data (arrays, or streamed datasets).
        seed: Seed of both members.
        progress: Epoch and fit events.
        should_stop: Polled every batch of the network.
        booster_data: Encoded rows for gradient boosting and for choosing the weight (the
            streamed trainer passes samples of its splits); default ``data``.

    Returns:
        ``(blend, history)``: the :class:`~models.blend.Blend` (its ``selection`` holds what
        :func:`choose_weight` returned) and the network's epoch history.
    """
    network_name, booster_name = ENSEMBLE_MEMBERS
    fit_network = fit_distributed if cfg.fit.workers > 1 else fit_keras  # booster: here
    network, history = fit_network(cfg.replace(model=network_name), pre, task, n_classes, data,
                                   seed, progress, should_stop)
    rows = booster_data or data
    cols = booster_columns(pre)
    emit(progress, stage="fit", message=f"Fitting gradient boosting on {len(rows.y_train):,} "
                                        f"rows for the ensemble")
    booster, _ = fit_baseline(cfg.replace(model=booster_name), task,
                              FitData(rows.x_train[:, cols], rows.y_train, rows.x_valid[:, cols],
                                      rows.y_valid), seed)
    net_out = predict_output(network, rows.x_valid, task)
    boost_out = predict_output(booster, rows.x_valid[:, cols], task)
    selection = choose_weight(task, rows.y_valid, net_out, boost_out)
    return Blend(network, booster, selection["weights"][0], cols, ENSEMBLE_MEMBERS,
                 selection), history


def fit_model(cfg: ModelConfig, pre: TabularPreprocessor, task: str, n_classes: int,
              data: FitData | StreamFit, seed: int, progress: Progress | None = None,
              should_stop: Callable[[], bool] | None = None,
              booster_data: FitData | None = None):
    """Fit the model a configuration names: a Keras network (:func:`fit_keras`), a
    scikit-learn baseline (:func:`fit_baseline`, in-memory data only) or the ensemble
    (:func:`fit_ensemble`); with ``cfg.fit.workers`` > 1, a network (the ensemble's TabM
    included) on Ray Train workers (:func:`core.training._distributed.fit_distributed`).

    Raises:
        TrainingError: Several workers for a scikit-learn baseline or with DP-SGD.

    Returns:
        ``(model, history)``; history is the network's epochs (empty for a baseline).
    """
    if cfg.fit.workers > 1:
        check_distributable(cfg)
    if cfg.model == ENSEMBLE:
        return fit_ensemble(cfg, pre, task, n_classes, data, seed, progress, should_stop,
                            booster_data)
    if cfg.is_keras:
        fit_network = fit_distributed if cfg.fit.workers > 1 else fit_keras
        return fit_network(cfg, pre, task, n_classes, data, seed, progress, should_stop)
    return fit_baseline(cfg, task, data, seed, progress)


def model_summary(model) -> dict:
    """What a run's config.json records about its fitted model beyond the settings.

    Returns:
        ``{"estimator": …}`` for a scikit-learn baseline (:func:`estimator_summary`);
        ``{"ensemble": {"members", "weights", "output_space", "criterion", "grid", "scores",
        "booster"}}`` for a blend (weights of the network and of gradient boosting, the
        validation score of every weight tried, the booster's estimator); ``{}`` for a
        network.
    """
    if isinstance(model, Blend):
        return {"ensemble": {"members": list(model.names), "weights": list(model.weights),
                             "output_space": "the run's output: probability (classification) "
                                             "or the target's units (regression)",
                             **model.selection, "booster": estimator_summary(model.booster)}}
    if hasattr(model, "layers") and not hasattr(model, "predict_proba"):
        return {}
    return {"estimator": estimator_summary(model)}


def model_notes(model) -> list[str]:
    """Notes a run shows about its fitted model: for a blend, the weights and how the
    validation split chose them; none otherwise."""
    if not isinstance(model, Blend) or not model.selection:
        return []
    sel = model.selection
    net, boost = model.names
    w_net, w_boost = model.weights
    scores = dict(zip(sel["grid"], sel["scores"]))
    metric = sel["criterion"].removeprefix("validation ")

    def at(w):
        value = scores.get(round(w, 2))
        return "undefined" if value is None else f"{value:.4f}"

    return [f"Ensemble: {net} weight {w_net:.2f}, {boost} weight {w_boost:.2f} (their scores "
            f"averaged), chosen on the validation split by {metric}: {at(w_net)} against "
            f"{at(1.0)} for {net} alone and {at(0.0)} for {boost} alone."]
