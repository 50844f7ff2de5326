"""k-fold cross-validation of a model configuration, with out-of-fold scores kept."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from core.config import Settings
from core.errors import TrainingError
from core.evaluate import headline_metrics
from core.features import TabularPreprocessor, load_task_data
from core.runs import predict_output
from core.specs import DatasetSpec, ModelConfig
from core.training._choice import resolve_spec
from core.training._ensemble import fit_model
from core.training._fit import FitData, TrainingCancelled, scale_target, target_scaling
from core.warehouse import connect


def _folds(y: np.ndarray, task: str, k: int, seed: int):
    from sklearn.model_selection import KFold, StratifiedKFold

    splitter = (KFold(k, shuffle=True, random_state=seed) if task == "regression"
                else StratifiedKFold(k, shuffle=True, random_state=seed))
    return list(splitter.split(np.zeros(len(y)), y))


def _inner_split(idx: np.ndarray, y: np.ndarray, task: str, seed: int):
    from sklearn.model_selection import train_test_split

    strat = None if task == "regression" else y[idx]
    return train_test_split(idx, test_size=0.1, stratify=strat, random_state=seed)


def fit_fold(cfg: ModelConfig, x: pd.DataFrame, y: np.ndarray, task: str, n_classes: int,
             train_idx: np.ndarray, test_idx: np.ndarray, seed: int,
             should_stop: Callable[[], bool] | None = None) -> np.ndarray:
    """Fit on ``train_idx`` (10% of it held out for early stopping) and predict ``test_idx``.

    The preprocessor is fitted on the fold's training rows only. Regression targets are
    standardised for networks and mapped back.

    Returns:
        Model output for the test rows (see :func:`core.runs.predict_output`).
    """
    fit_idx, val_idx = _inner_split(train_idx, y, task, seed)
    pre = TabularPreprocessor(numeric_bins=cfg.numeric_bins).fit(x.iloc[fit_idx])
    scaling = target_scaling(task, cfg, y[fit_idx])
    data = FitData(pre.transform(x.iloc[fit_idx]), scale_target(y[fit_idx], scaling),
                   pre.transform(x.iloc[val_idx]), scale_target(y[val_idx], scaling))
    model, _ = fit_model(cfg, pre, task, n_classes, data, seed, should_stop=should_stop)
    return predict_output(model, pre.transform(x.iloc[test_idx]), task, scaling)


def cross_validate(settings: Settings, spec: DatasetSpec, cfg: ModelConfig, k: int = 5,
                   progress: Callable[[dict], None] | None = None,
                   should_stop: Callable[[], bool] | None = None) -> dict:
    """k-fold cross-validation (stratified for classification) on every row of the table.

    Args:
        settings: Workspace settings.
        spec: Dataset specification (its seed shuffles the folds).
        cfg: Model configuration.
        k: Number of folds, 2–20.
        progress: Called with ``{"stage": "fold", "fold": i, "folds": k}``.
        should_stop: Polled before each fold and every batch; True cancels.

    Returns:
        ``{"k", "folds": [metrics per fold], "<metric>_mean", "<metric>_std", ...,
        "oof": DataFrame(row, fold, label, score)}``.

    Raises:
        TrainingError: ``k`` out of range.
        TrainingCancelled: ``should_stop`` returned True.
    """
    if not 2 <= k <= 20:
        raise TrainingError(f"cv must be an integer in [2, 20]; got {k}.")
    with connect(settings) as con:
        data = load_task_data(con, resolve_spec(con, spec)[0])
    folds, oof = [], []
    for i, (train_idx, test_idx) in enumerate(_folds(data.y, data.task, k, spec.seed), start=1):
        if should_stop is not None and should_stop():
            raise TrainingCancelled("Cross-validation was cancelled; the folds were not saved.")
        if progress:
            progress({"stage": "fold", "fold": i, "folds": k})
        out = fit_fold(cfg, data.x, data.y, data.task, len(data.classes), train_idx, test_idx,
                       spec.seed, should_stop)
        folds.append(headline_metrics(data.task, data.y[test_idx], out)["metrics"])
        score = out.max(axis=1) if out.ndim == 2 else out
        oof.append(pd.DataFrame({"row": test_idx, "fold": i, "label": data.y[test_idx],
                                 "score": score}))
    summary = {"k": k, "folds": folds}
    for name in folds[0]:
        values = np.array([f[name] for f in folds if f[name] is not None], dtype=float)
        summary[f"{name}_mean"] = float(values.mean()) if values.size else None
        summary[f"{name}_std"] = float(values.std(ddof=1)) if values.size > 1 else None
    summary["oof"] = pd.concat(oof, ignore_index=True).sort_values("row", ignore_index=True)
    return summary


def attach_cv(settings: Settings, run_id: str, summary: dict) -> dict:
    """Store a cross-validation summary in a run: ``metrics.json["cv"]`` and ``oof.parquet``.

    Returns:
        The JSON-ready summary (without the out-of-fold frame).
    """
    import json

    folder = settings.runs_dir / run_id
    summary = dict(summary)
    summary.pop("oof").to_parquet(folder / "oof.parquet", index=False)
    path = folder / "metrics.json"
    metrics = json.loads(path.read_text())
    metrics["cv"] = summary
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(metrics, indent=2))
    tmp.replace(path)
    return summary
