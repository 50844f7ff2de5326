"""Train uplift models on randomised treatment/control data and save them as a run.

Three meta-approaches wrap any LiftLab model family (Keras networks or scikit-learn baselines),
each fitted with :func:`core.training.fit_model` (network, baseline or ensemble):

- ``t`` (two models, T-learner): one classifier on the treated customers, one on the control
  customers; uplift = P(convert | treated) − P(convert | control) (Gutierrez & Gérardy, 2017).
- ``s`` (single model, S-learner): one classifier with the treatment flag as a feature, scored
  twice with the flag set to 1 and to 0.
- ``ct`` (class transformation): one classifier of z = y·t + (1 − y)(1 − t); with equal arms
  uplift = 2·P(z = 1) − 1 (Jaskowski & Jaroszewicz, 2012). Unequal arms are balanced by
  resampling the smaller arm of the training split. The two probabilities shown beside it come
  from a T-learner pair fitted alongside.

The split is stratified on outcome × treatment. Class weights are switched off: uplift is a
difference of probabilities, so both must stay calibrated. The run folder is a normal run
(``task: "uplift"``): ``model.*`` predicts the conversion probability if treated (the S-learner's
with the flag column), extra models live in ``arms/<name>/`` as run-shaped folders, and
``test.parquet`` adds ``__treatment``, ``__p_control`` and ``__uplift`` to ``__label`` and
``__score`` (= probability if treated).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from core.config import Settings
from core.device import detect_devices
from core.errors import SchemaError, TrainingError
from core.features import TabularPreprocessor, label_text, load_xy, split_indices, summarize_target
from core.runs import (
    LABEL_COL,
    SCORE_COL,
    load_run_config,
    new_run_id,
    predict_output,
    save_model,
    write_run_folder,
)
from core.specs import DatasetSpec, ModelConfig, to_dict
from core.training import (
    FitData,
    TrainingCancelled,
    TrainResult,
    fit_model,
    record_choice,
    resolve_spec,
)
from core.uplift._metrics import uplift_report, uplift_scores
from core.warehouse import connect

LEARNERS = ("t", "s", "ct")
LEARNER_LABELS = {"t": "Two models (T-learner)", "s": "Single model (S-learner)",
                  "ct": "Class transformation"}
TREATED_LIKE = ("1", "true", "yes", "y", "t", "treatment", "treated", "test", "exposed",
                "contacted", "campaign", "offer")
TREATMENT_COL, P_CONTROL_COL, UPLIFT_COL = "__treatment", "__p_control", "__uplift"
BACKGROUND_ROWS = 200
Progress = Callable[[dict], None]


@dataclass(frozen=True)
class UpliftConfig:
    """Which column says who was treated, and how uplift is modelled.

    Attributes:
        treatment: The randomised treatment/control column.
        treated_value: Its value meaning "treated" (as text); None picks a treated-like value
            (``1``, ``true``, ``treatment`` …).
        learner: ``t``, ``s`` or ``ct`` (see the module docstring).
        n_bootstrap: Resamples for the test metrics' 95% intervals.
    """

    treatment: str
    treated_value: str | None = None
    learner: str = "t"
    n_bootstrap: int = 200

    def __post_init__(self) -> None:
        if self.learner not in LEARNERS:
            raise TrainingError(f"learner must be one of {', '.join(LEARNERS)} (two models, "
                                f"single model, class transformation); got {self.learner!r}.")


def resolve_treated(con, table: str, treatment: str, treated: str | None) -> tuple[str, str]:
    """The treated and control values of a treatment column.

    Returns:
        ``(treated_value, control_value)`` as text.

    Raises:
        SchemaError: Not exactly two values, or ``treated`` is not one of them, or no value
            looks treated-like and none was given.
    """
    summary = summarize_target(con, table, treatment)
    values = summary.classes
    if len(values) != 2:
        raise SchemaError(f"The treatment column '{treatment}' must hold exactly two values "
                          f"(treated and control); it has {len(values)}: "
                          f"{', '.join(values[:6])}.")
    if treated is None:
        liked = [v for v in values if v.strip().lower() in TREATED_LIKE]
        if len(liked) != 1:
            raise SchemaError(f"Which value of '{treatment}' means treated: "
                              f"{' or '.join(values)}? Pass it as the treated value.")
        treated = liked[0]
    if treated not in values:
        raise SchemaError(f"'{treated}' is not a value of '{treatment}'; its values are "
                          f"{' and '.join(values)}.")
    return treated, next(v for v in values if v != treated)


def _load(settings: Settings, spec: DatasetSpec, up: UpliftConfig):
    if up.treatment == spec.target:
        raise SchemaError("The treatment column cannot be the target.")
    asked = dataclasses.replace(
        spec, task="binary", exclude=tuple(c for c in spec.exclude if c != up.treatment),
        features=tuple(c for c in spec.features if c != up.treatment))
    with connect(settings) as con:
        treated, control = resolve_treated(con, spec.table, up.treatment, up.treated_value)
        chosen, choice = resolve_spec(con, asked, up.treatment, treated)
        load_spec = dataclasses.replace(chosen, features=(*chosen.features, up.treatment))
        x, y, classes, features = load_xy(con, load_spec)
    keep = x[up.treatment].notna().to_numpy()
    t = (x[up.treatment].map(label_text) == treated).to_numpy(np.int64)[keep]
    x = x.loc[keep].drop(columns=[up.treatment]).reset_index(drop=True)
    cells = np.bincount(y[keep] * 2 + t, minlength=4)
    if cells.min() < 5:
        raise SchemaError(
            f"Uplift needs at least 5 customers in each outcome × arm cell; this table has "
            f"{cells[0]} control non-converters, {cells[1]} treated non-converters, {cells[2]} "
            f"control converters and {cells[3]} treated converters. Load more data.")
    return x, y[keep].astype(np.int64), t, classes, [f for f in features if f != up.treatment], \
        (treated, control), choice


def _fit(cfg: ModelConfig, pre, x_tr, y_tr, x_va, y_va, seed, progress, should_stop):
    return fit_model(cfg, pre, "binary", 2, FitData(x_tr, y_tr, x_va, y_va), seed, progress,
                     should_stop)


def _proba(model, x: np.ndarray) -> np.ndarray:
    return predict_output(model, x, "binary")


def _balanced(idx: np.ndarray, t: np.ndarray, seed: int) -> np.ndarray:
    """Training rows with the smaller arm resampled (with replacement) to the larger's size."""
    arms = [idx[t[idx] == a] for a in (0, 1)]
    small, large = sorted(arms, key=len)
    if len(small) == len(large):
        return idx
    extra = np.random.default_rng(seed).choice(small, len(large) - len(small), replace=True)
    return np.sort(np.r_[idx, extra])


@dataclass
class _Fitted:
    """Fitted models by name with their preprocessors, feature lists and histories."""

    models: dict
    pres: dict
    features: dict
    history: list


def _fit_learner(cfg, up: UpliftConfig, x, y, t, splits, features, seed, progress, stop) -> _Fitted:
    pre = TabularPreprocessor().fit(x.iloc[splits.train])
    enc = {k: pre.transform(x.iloc[getattr(splits, k)]) for k in ("train", "valid")}
    tr, va = splits.train, splits.valid
    models, pres, feats, history = {}, {}, {}, []
    if up.learner in ("t", "ct"):
        for name, arm in (("treated", 1), ("control", 0)):
            _step(progress, f"Fitting the {name} arm's model")
            m_tr, m_va = t[tr] == arm, t[va] == arm
            models[name], hist = _fit(cfg, pre, enc["train"][m_tr], y[tr][m_tr],
                                      enc["valid"][m_va], y[va][m_va], seed, progress, stop)
            pres[name], feats[name] = pre, features
            history = history or hist
    if up.learner == "ct":
        _step(progress, "Fitting the class-transformation model")
        z = y * t + (1 - y) * (1 - t)
        bal = _balanced(tr, t, seed)
        models["ct"], _ = _fit(cfg, pre, pre.transform(x.iloc[bal]), z[bal], enc["valid"], z[va],
                               seed, progress, stop)
        pres["ct"], feats["ct"] = pre, features
    if up.learner == "s":
        _step(progress, "Fitting the single model with the treatment flag")
        xs = x.assign(**{up.treatment: t})
        pre_s = TabularPreprocessor().fit(xs.iloc[tr])
        models["s"], history = _fit(cfg, pre_s, pre_s.transform(xs.iloc[tr]), y[tr],
                                    pre_s.transform(xs.iloc[va]), y[va], seed, progress, stop)
        pres["s"], feats["s"] = pre_s, [*features, up.treatment]
    return _Fitted(models, pres, feats, history)


def _step(progress: Progress | None, message: str) -> None:
    if progress is not None:
        progress({"stage": "fit", "message": message})


def _predict_fitted(f: _Fitted, up: UpliftConfig, frame: pd.DataFrame) -> tuple[np.ndarray, ...]:
    """``(p_treated, p_control, uplift)`` of raw rows with fitted (not yet saved) models."""
    def p(name, rows):
        return _proba(f.models[name], f.pres[name].transform(rows[f.features[name]]))

    if up.learner == "s":
        p_t, p_c = (p("s", frame.assign(**{up.treatment: arm})) for arm in (1, 0))
        return p_t, p_c, p_t - p_c
    p_t, p_c = p("treated", frame), p("control", frame)
    uplift = 2.0 * p("ct", frame) - 1.0 if up.learner == "ct" else p_t - p_c
    return p_t, p_c, uplift


def train_uplift(settings: Settings, spec: DatasetSpec, cfg: ModelConfig, up: UpliftConfig,
                 progress: Progress | None = None,
                 should_stop: Callable[[], bool] | None = None) -> TrainResult:
    """Train an uplift model on a table with a randomised treatment column and save a run.

    Args:
        settings: Workspace settings.
        spec: Table, binary target, positive class, features (the treatment column is never a
            feature of the T- and CT-learners), split and seed. As every training path, it
            leaves out the columns :func:`core.tables.choose_features` flags (leakage,
            identifier, personal) and, here, post-treatment columns: those that differ
            between the arms more than randomisation allows (recorded in ``exclusions``).
        cfg: Model family and hyper-parameters (class weights are switched off).
        up: Treatment column, treated value, learner.
        progress: Called with ``{"stage": ..., "message": ...}`` and Keras epoch events.
        should_stop: Polled during Keras training; True cancels.

    Returns:
        The :class:`~core.training.TrainResult` with ``config.kind == "uplift"`` and
        metrics ``qini_coefficient``, ``auuc``, ``uplift_at_10``, ``uplift_at_30`` (test split).

    Raises:
        SchemaError: Bad table, target, treatment column or too few customers per cell.
        TrainingError: A model could not be fitted.
        TrainingCancelled: ``should_stop`` returned True; nothing was saved.
    """
    started = time.perf_counter()
    cfg = dataclasses.replace(cfg, class_weight="none")
    _step(progress, f"Reading table {spec.table}")
    x, y, t, classes, features, (treated, control), choice = _load(settings, spec, up)
    splits = split_indices(y * 2 + t, spec.test_size, spec.valid_size, spec.seed)
    fitted = _fit_learner(cfg, up, x, y, t, splits, features, spec.seed, progress, should_stop)
    if should_stop is not None and should_stop():
        raise TrainingCancelled("Training was cancelled; no run was saved.")
    test = splits.test
    x_test = x.iloc[test].reset_index(drop=True)
    p_t, p_c, uplift = _predict_fitted(fitted, up, x_test)
    metrics = _metrics(y[test], t[test], p_t, uplift, up, spec.seed)
    metrics["notes"] += _randomisation_note(x, t, splits)
    run_id = new_run_id(f"{cfg.model}-uplift")
    main = "s" if up.learner == "s" else "treated"
    config = {
        "run_id": run_id, "created_at": datetime.now().isoformat(timespec="milliseconds"),
        "task": "uplift", "model": cfg.model, "learner": up.learner,
        "spec": to_dict(spec), "model_config": to_dict(cfg),
        "uplift": {"treatment": up.treatment, "treated_value": treated, "control_value": control,
                   "learner": up.learner, "arms": [n for n in fitted.models if n != main]},
        "positive_class": classes[1], "negative_class": classes[0],
        "features": fitted.features[main], "source_features": features,
        "device": _device_label(cfg),
        "rows": {"table": int(len(y)), "train": int(len(splits.train)),
                 "valid": int(len(splits.valid)), "test": int(len(test))},
        "treated_share": float(t.mean()), "positive_rate_train": float(y[splits.train].mean()),
        "duration_s": round(time.perf_counter() - started, 2),
    }
    record_choice(config, metrics, choice)
    frame = x_test.assign(**({up.treatment: t[test]} if up.learner == "s" else {}))
    frame = frame.assign(**{LABEL_COL: y[test], SCORE_COL: p_t, TREATMENT_COL: t[test],
                            P_CONTROL_COL: p_c, UPLIFT_COL: uplift})
    rng = np.random.default_rng(spec.seed)
    bg = np.sort(rng.choice(splits.train, min(BACKGROUND_ROWS, len(splits.train)), replace=False))
    background = x.iloc[bg].assign(**({up.treatment: t[bg]} if up.learner == "s" else {}))
    _step(progress, "Saving run")
    write_run_folder(settings, run_id, config, metrics,
                     lambda folder: _write(folder, config, metrics, fitted, main, frame,
                                           background.reset_index(drop=True)))
    if progress is not None:
        progress({"stage": "done", "run_id": run_id})
    return TrainResult(run_id, load_run_config(config), metrics)


def _metrics(y, t, p_t, uplift, up: UpliftConfig, seed: int) -> dict:
    report = uplift_report(y, t, uplift, n_boot=up.n_bootstrap, seed=seed)
    prop = uplift_scores(y, t, p_t)
    m = {**report.metrics, "qini_coefficient_propensity": prop["qini_coefficient"],
         "auuc_propensity": prop["auuc"]}
    notes = []
    if m["qini_coefficient"] <= m["qini_coefficient_propensity"]:
        notes.append("On the test split the uplift ranking does not beat ranking by the "
                     "probability of converting when treated (propensity); treat its "
                     "incremental numbers with care.")
    return {"threshold": 0.5, "metrics": m, "ci95": report.ci95, "curves": report.curves,
            "notes": notes, "cv": None}


def _randomisation_note(x: pd.DataFrame, t: np.ndarray, splits) -> list[str]:
    """Warn when the features predict the treatment (the assignment looks non-random)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    pre = TabularPreprocessor().fit(x.iloc[splits.train])
    clf = LogisticRegression(max_iter=1000).fit(pre.transform(x.iloc[splits.train]),
                                                t[splits.train])
    auc = roc_auc_score(t[splits.test], clf.predict_proba(pre.transform(x.iloc[splits.test]))[:, 1])
    if auc > 0.6:
        return [f"The features predict who was treated (ROC-AUC {auc:.2f} > 0.6): the treatment "
                f"may not have been assigned at random, so uplift estimates can be biased."]
    return []


def _save_model(model, folder: Path) -> None:
    save_model(model, folder)  # pickle-free, as core.runs saves every run's model


def _write(folder: Path, config, metrics, fitted: _Fitted, main: str, test: pd.DataFrame,
           background: pd.DataFrame) -> None:
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2))
    (folder / "history.json").write_text(json.dumps(fitted.history))
    (folder / "preprocessor.json").write_text(fitted.pres[main].to_json())
    test.to_parquet(folder / "test.parquet", index=False)
    background.to_parquet(folder / "background.parquet", index=False)
    _save_model(fitted.models[main], folder)
    for name in config["uplift"]["arms"]:
        arm = folder / "arms" / name
        arm.mkdir(parents=True)
        (arm / "config.json").write_text(json.dumps(
            {"task": "binary", "features": fitted.features[name], "arm": name}))
        (arm / "metrics.json").write_text(json.dumps({"metrics": {}}))
        (arm / "preprocessor.json").write_text(fitted.pres[name].to_json())
        _save_model(fitted.models[name], arm)


def _device_label(cfg: ModelConfig) -> str:
    if not cfg.is_keras:
        return "CPU (scikit-learn)"

    return detect_devices().label
