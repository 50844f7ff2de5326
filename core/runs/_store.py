"""Run folders: ``<data_dir>/runs/<run_id>/`` with model, preprocessor, config, metrics, test scores.

A run is written to a hidden temporary folder and renamed into place, then registered in the
``liftlab.runs`` table, so a crash never leaves half a run. Keras models are saved in the native
``.keras`` format and loaded with ``safe_mode=True``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from core.config import Settings
from core.errors import AppError, RunNotFoundError
from core.features import TabularPreprocessor
from core.runs._config import RunConfig, load_run_config
from core.runs._predict import predict_output
from core.warehouse import META_SCHEMA, connect, original_names, pid_tag
from models.blend import Blend

BLEND_FILE = "blend.json"
SCORE_COL = "__score"
LABEL_COL = "__label"


def new_run_id(model: str) -> str:
    """A sortable, unique run id such as ``20261129-101500-mlp-3f9a``."""
    return f"{datetime.now():%Y%m%d-%H%M%S}-{model}-{uuid.uuid4().hex[:4]}"


@dataclass
class RunArtifacts:
    """Everything a finished training writes.

    Attributes:
        run_id: The run id.
        config: JSON-ready run description (spec, model config, features, device, timings).
        metrics: JSON-ready test metrics.
        preprocessor: The fitted preprocessor.
        model: A Keras model or a fitted scikit-learn estimator.
        test_frame: Raw test features plus ``__label`` (0/1) and ``__score`` columns, or the
            path of a Parquet file holding them (copied into the run).
        background: Up to a few hundred raw training rows, for SHAP backgrounds.
        history: Per-epoch training history (empty for baselines).
        valid_scores: ``__label`` / ``__score`` (``__proba_k``) of the validation split, for
            choosing a threshold on rows the test metrics do not use; None to write none.
    """

    run_id: str
    config: dict
    metrics: dict
    preprocessor: TabularPreprocessor
    model: object
    test_frame: pd.DataFrame | Path
    background: pd.DataFrame
    history: list[dict]
    valid_scores: pd.DataFrame | None = None


def save_run(settings: Settings, art: RunArtifacts) -> Path:
    """Write a run folder atomically and register it in ``liftlab.runs`` (see
    :func:`write_run_folder`: not in a job's worker).

    Args:
        settings: Workspace settings.
        art: The run's artefacts.

    Returns:
        The final run folder.
    """
    return write_run_folder(settings, art.run_id, art.config, art.metrics,
                            lambda folder: _write_files(folder, art))


PENDING_FILE = ".pending"
"""A run folder a job's worker wrote and the server has not registered yet holds this file,
naming the job's snapshot folder; registering the run removes it
(:func:`core.runs.register_saved_run`), and the server removes the folders of a job whose worker
died after saving (:func:`core.runs.remove_pending_runs`)."""


def write_run_folder(settings: Settings, run_id: str, config: dict, metrics: dict,
                     write_files: Callable[[Path], None]) -> Path:
    """Write any run's files into a hidden folder, rename it into place, register the run.

    In a job's worker (``settings.snapshot_dir`` set) the run is not registered: the worker
    never writes the warehouse, and the server registers the run when the job returns
    (:func:`core.runs.register_saved_run`).

    Args:
        settings: Workspace settings.
        run_id: The run id (the folder name).
        config: The run's config; needs ``created_at``, ``spec.table``, ``spec.target``,
            ``model`` and ``task``.
        metrics: The run's metrics; needs a ``metrics`` dict.
        write_files: Writes every file of the run into the folder it is given.

    Returns:
        The final run folder.
    """
    settings.runs_dir.mkdir(parents=True, exist_ok=True)
    tmp = settings.runs_dir / f".tmp-{pid_tag()}-{run_id}"
    final = settings.runs_dir / run_id
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        write_files(tmp)
        if settings.snapshot_dir is not None:  # whose it is, until the server registers it
            (tmp / PENDING_FILE).write_text(str(settings.snapshot_dir))
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if settings.snapshot_dir is not None:  # a job's worker: the server registers the run
        return final
    with connect(settings) as con:
        con.execute(
            f"INSERT OR REPLACE INTO {META_SCHEMA}.runs VALUES (?, ?, ?, ?, ?, ?, ?)",
            [run_id, datetime.fromisoformat(config["created_at"]), config["spec"]["table"],
             config["spec"]["target"], config["model"], config["task"],
             json.dumps(metrics["metrics"])],
        )
    return final


def _write_files(folder: Path, art: RunArtifacts) -> None:
    (folder / "config.json").write_text(json.dumps(art.config, indent=2))
    (folder / "metrics.json").write_text(json.dumps(art.metrics, indent=2))
    (folder / "history.json").write_text(json.dumps(art.history))
    (folder / "preprocessor.json").write_text(art.preprocessor.to_json())
    if isinstance(art.test_frame, Path):  # written already, e.g. by a streamed run
        shutil.copyfile(art.test_frame, folder / "test.parquet")
    else:
        art.test_frame.to_parquet(folder / "test.parquet", index=False)
    art.background.to_parquet(folder / "background.parquet", index=False)
    if art.valid_scores is not None:
        art.valid_scores.to_parquet(folder / "valid_scores.parquet", index=False)
    save_model(art.model, folder)


def save_model(model, folder: Path) -> None:
    """Save a model without pickle: a Keras network as ``model.keras``, a scikit-learn
    estimator as ``model.skops``, a :class:`~models.blend.Blend` as both plus ``blend.json``
    (its weights and the booster's columns). :func:`load_model` reads each back."""
    if isinstance(model, Blend):
        save_model(model.network, folder)
        save_model(model.booster, folder)
        (folder / BLEND_FILE).write_text(json.dumps(model.to_json(), indent=2))
    elif hasattr(model, "save") and hasattr(model, "layers"):
        model.save(folder / "model.keras")
    else:
        import skops.io  # a pickle-free format: loading checks every type against a list

        skops.io.dump(model, folder / "model.skops")


class Run:
    """A saved run, loaded lazily from its folder.

    Args:
        folder: The run folder.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.run_id = folder.name
        self.config: RunConfig = load_run_config(
            json.loads((folder / "config.json").read_text()))
        self.metrics: dict = json.loads((folder / "metrics.json").read_text())

    @property
    def features(self) -> list[str]:
        """Source feature columns, in training order."""
        return list(self.config.features)

    @property
    def excluded_columns(self) -> list[str]:
        """The table's columns the run left out (target excepted), e.g. ``["duration"]``.

        Runs saved before 2026-12-01 recorded only the ``exclude`` the spec named (the Train
        page passes the ticked features instead, so those runs show none).
        """
        return list(self.config.excluded_columns)

    @cached_property
    def preprocessor(self) -> TabularPreprocessor:
        """The fitted preprocessor.

        Raises:
            RunNotFoundError: The run folder holds no preprocessor (a scores-only run).
        """
        path = self.folder / "preprocessor.json"
        if not path.exists():
            raise RunNotFoundError(f"Run '{self.run_id}' has no model file (preprocessor.json): "
                                   f"its scores can be evaluated, but nothing can be explained "
                                   f"or scored with it.")
        return TabularPreprocessor.from_json(path.read_text())

    @cached_property
    def model(self):
        """The trained model (Keras, loaded in safe mode, or a scikit-learn estimator)."""
        return load_model(self.folder)

    @property
    def is_keras(self) -> bool:
        """Whether the model is a Keras network."""
        return (self.folder / "model.keras").exists()

    @cached_property
    def test_frame(self) -> pd.DataFrame:
        """Raw test rows with ``__label`` and ``__score``."""
        return pd.read_parquet(self.folder / "test.parquet")

    @property
    def valid_scores(self) -> pd.DataFrame | None:
        """``__label`` and ``__score`` of the validation split, or None (runs saved before
        2026-12-01, and runs without one)."""
        path = self.folder / "valid_scores.parquet"
        return pd.read_parquet(path) if path.exists() else None

    @cached_property
    def background(self) -> pd.DataFrame:
        """Raw training rows kept for SHAP backgrounds."""
        return pd.read_parquet(self.folder / "background.parquet")

    @property
    def history(self) -> list[dict]:
        """Per-epoch history (loss, val_loss, …)."""
        return json.loads((self.folder / "history.json").read_text())

    @property
    def task(self) -> str:
        """binary, multiclass or regression (uplift and next_item for those kinds)."""
        return self.config.task

    @property
    def calibrated_scores(self) -> bool:
        """False when balanced class weights were used: the scores then overstate the
        probability of the rare class and read as a ranking, not a probability."""
        return self.config.calibrated_scores

    def predict_encoded(self, x: np.ndarray) -> np.ndarray:
        """Model output for encoded rows (see :func:`core.runs.predict_output`).

        Args:
            x: float32 array of shape (n_rows, n_encoded).

        Returns:
            Binary: positive-class probabilities (n_rows,); multiclass: probabilities
            (n_rows, n_classes); regression: predictions (n_rows,) in the target's units.
        """
        return predict_output(self.model, x, self.task, self.config.target_scaling)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Model output (see :meth:`predict_encoded`) for raw rows (n_rows, n_features)."""
        return self.predict_encoded(self.preprocessor.transform(frame[self.features]))


SKOPS_TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "builtins.")


def load_model(folder: Path):
    """The model saved in a folder: ``model.keras`` loaded in Keras safe mode (no code from the
    file runs), else ``model.skops`` (see :func:`load_sklearn`); with ``blend.json``, both,
    as the :class:`~models.blend.Blend` they make.

    Raises:
        RunNotFoundError: The skops file holds a type that is not trusted.
    """
    keras_path = folder / "model.keras"
    if (folder / BLEND_FILE).exists():
        return Blend.from_json(json.loads((folder / BLEND_FILE).read_text()),
                               _load_keras(keras_path), load_sklearn(folder / "model.skops"))
    if keras_path.exists():
        return _load_keras(keras_path)
    if not (folder / "model.skops").exists():
        raise RunNotFoundError(f"Run '{folder.name}' has no model file (model.keras or "
                               f"model.skops): its scores can be evaluated, but nothing can be "
                               f"explained or scored with it.")
    return load_sklearn(folder / "model.skops")


def _load_keras(path: Path):
    import keras

    import models.layers  # noqa: F401  registers LiftLab's custom layers
    import models.tabm  # noqa: F401  and TabM's

    return keras.saving.load_model(path, safe_mode=True, compile=False)


def load_sklearn(path: Path):
    """Load a scikit-learn estimator saved with skops, refusing any type outside scikit-learn,
    NumPy and SciPy (no arbitrary code runs, unlike pickle).

    Raises:
        RunNotFoundError: The file holds a type that is not trusted.
    """
    import skops.io

    untrusted = skops.io.get_untrusted_types(file=path)
    bad = [t for t in untrusted if not t.startswith(SKOPS_TRUSTED_PREFIXES)]
    if bad:
        raise RunNotFoundError(
            f"The model file {path.name} contains types LiftLab does not load: {', '.join(bad)}."
        )
    return skops.io.load(path, trusted=untrusted)


def run_folder(settings: Settings, run_id: str) -> Path:
    """The folder of an existing run.

    Raises:
        RunNotFoundError: No such run.
    """
    if not is_run_id(run_id) or not (settings.runs_dir / run_id / "config.json").is_file():
        known = ", ".join(r["run_id"] for r in list_runs(settings)[:5]) or "none yet"
        raise RunNotFoundError(
            f"There is no run '{str(run_id)[:80]}'. Recent runs: {known}. List them with "
            f"'python -m core runs'."
        )
    return settings.runs_dir / run_id


_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def is_run_id(text: str) -> bool:
    """Whether ``text`` can name a run folder: letters, digits, ``-``, ``_`` and ``.``, starting
    with a letter or digit, at most 128 characters, no ``..`` (so it never climbs out of
    ``runs/``)."""
    return isinstance(text, str) and bool(_RUN_ID.fullmatch(text)) and ".." not in text


def load_run(settings: Settings, run_id: str) -> Run:
    """Open a saved run.

    Raises:
        RunNotFoundError: No such run.
    """
    return Run(run_folder(settings, run_id))


def list_runs(settings: Settings) -> list[dict]:
    """Summaries of every saved run, newest first.

    Returns:
        Dicts with run_id, created_at, table, target, positive_class, model, task, device,
        duration_s and test metrics.
    """
    if not settings.runs_dir.exists():
        return []
    out = []
    for folder in settings.runs_dir.iterdir():
        if folder.name.startswith(".") or not (folder / "config.json").exists():
            continue
        run = Run(folder)
        c = run.config
        out.append({
            "run_id": run.run_id, "created_at": c.created_at, "table": c.table,
            "target": c.target, "positive_class": c.positive_class, "model": c.model,
            "task": c.task, "device": c.device, "duration_s": c.duration_s,
            "metrics": run.metrics["metrics"],
        })
    # newest first; created_at has milliseconds since 2026-12-01 (two baselines trained in the
    # same second used to tie), run ids break any remaining tie
    return sorted(out, key=lambda r: (r["created_at"], r["run_id"]), reverse=True)


def column_names(settings: Settings, run: Run) -> dict[str, str]:
    """SQL column name → the header the analyst's file had, for a run's columns: saved with the
    run since 2026-12-03, read from the warehouse's catalog for earlier runs (identity when the
    table is gone or was made with SQL)."""
    saved = run.config.extra.get("column_names")
    if saved:
        return dict(saved)
    try:
        with connect(settings) as con:
            return original_names(con, run.config.table)
    except AppError:
        return {}
