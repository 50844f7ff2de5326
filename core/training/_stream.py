"""Train a Keras network on a table read in streamed batches (see :mod:`core.features`).

Same run as :func:`core.training.train` makes (files, config, metrics), with these differences,
all recorded in config.json (``data_pipeline: "stream"``): the split is the seeded, stratified
hash split of :func:`core.features.export_splits` rather than scikit-learn's, and the
preprocessor is fitted on a uniform sample of at most
:data:`core.features.PREPROCESSOR_ROWS` training rows. The ensemble streams its network and fits
gradient boosting, and chooses its weight, on such samples of the training and validation
snapshots (``ensemble.booster_rows`` in config.json).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable

import numpy as np

from core.config import Settings
from core.errors import SchemaError
from core.evaluate import headline_metrics
from core.features import (
    LABEL,
    PREPROCESSOR_ROWS,
    StreamedSplits,
    TabularPreprocessor,
    chunk_rows_for,
    encode_to_disk,
    encoded_batches,
    encoded_bytes,
    excluded_columns,
    export_splits,
    head_frame,
    infer_task,
    keras_dataset,
    remove,
    write_scored,
)
from core.runs import RunArtifacts, load_run_config, new_run_id, predict_output, save_run
from core.specs import ENSEMBLE, DatasetSpec, ModelConfig
from core.tables import FeatureChoice
from core.training._choice import finish_or_cancel, record_choice
from core.training._ensemble import fit_model, model_notes, model_summary
from core.training._fit import (
    BACKGROUND_ROWS,
    FitData,
    Progress,
    RunShape,
    StreamFit,
    TrainingCancelled,
    TrainResult,
    device_label,
    emit,
    run_config,
    scale_target,
    score_columns,
)
from core.warehouse import connect, original_names, private_dir, scratch_root


def _score_split(model, splits: StreamedSplits, name: str, pre, task: str,
                 scaling: list[float] | None) -> tuple[np.ndarray, np.ndarray]:
    """Targets and model outputs of one split, chunk by chunk, in file order."""
    chunk = chunk_rows_for(len(pre.feature_names_out_), 4096)
    ys, outs = [], []
    for x, y in encoded_batches(splits, name, pre, chunk, None):
        ys.append(y)
        outs.append(predict_output(model, x, task, scaling))
    y = np.concatenate(ys)
    out = np.concatenate(outs)
    y = y.astype(np.int32) if task != "regression" else y.astype(np.float64)
    return y, out


def _fit_preprocessor(splits: StreamedSplits, cfg: ModelConfig):
    """The preprocessor fitted on a uniform sample of the training snapshot; also the SHAP
    background rows and the sample's size."""
    sample = head_frame(splits.files, "train", PREPROCESSOR_ROWS).drop(columns=[LABEL])
    pre = TabularPreprocessor(numeric_bins=cfg.numeric_bins).fit(sample)
    return pre, sample.iloc[:BACKGROUND_ROWS].reset_index(drop=True), len(sample)


def _sample_rows(splits: StreamedSplits, pre, task: str, scaling) -> FitData:
    """Uniform samples of the training and validation snapshots, encoded, for an ensemble's
    gradient boosting and its weight (at most :data:`PREPROCESSOR_ROWS` rows each)."""
    parts = []
    for name in ("train", "valid"):
        frame = head_frame(splits.files, name, PREPROCESSOR_ROWS)
        y = frame[LABEL].to_numpy()
        y = scale_target(y.astype(np.float64), scaling) if task == "regression" else y.astype(
            np.int32)
        parts += [pre.transform(frame.drop(columns=[LABEL])), y]
    return FitData(*parts)


def _fit_inputs(splits: StreamedSplits, pre, cfg: ModelConfig, seed: int, scaling, folder,
                progress) -> tuple[StreamFit, bool]:
    """Training and validation ``tf.data`` pipelines, read from rows encoded once to disk when
    half the free disk holds them (else encoded on the fly every epoch); and whether they are."""
    need = encoded_bytes(splits, ("train", "valid"), pre)
    cached = need <= shutil.disk_usage(folder).free // 2
    sources = {"train": splits, "valid": splits}
    if cached:
        emit(progress, stage="load", message=f"Encoding {splits.counts['train']:,} "
             f"training rows once ({len(pre.feature_names_out_)} features, "
             f"{need / 2**20:,.0f} MB on disk)")
        sources = {n: encode_to_disk(splits, n, pre, folder, scaling) for n in sources}
    fit = StreamFit(
        keras_dataset(sources["train"], "train", pre, cfg.fit.batch_size, seed, scaling),
        keras_dataset(sources["valid"], "valid", pre, cfg.fit.batch_size, None, scaling),
        splits.counts["train"], splits.label_counts["train"], sources, scaling)
    return fit, cached


def _export(settings: Settings, spec: DatasetSpec, folder, progress, should_stop):
    """The task, the exported snapshots, the excluded columns and the file's column names (the
    only time the warehouse is held)."""
    with connect(settings) as con:
        task = spec.task or infer_task(con, spec.table, spec.target)[0]
        emit(progress, stage="load", message=f"Exporting {spec.table} in shuffled batches")
        splits = export_splits(con, spec, task, folder, should_stop)
        excluded = excluded_columns(con, spec, splits.features)
        names = original_names(con, spec.table)
    if should_stop is not None and should_stop():
        raise TrainingCancelled("Training was cancelled; no run was saved.")
    return task, splits, excluded, names


def train_streamed(
    settings: Settings, spec: DatasetSpec, cfg: ModelConfig,
    progress: Progress | None = None, should_stop: Callable[[], bool] | None = None,
    choice: FeatureChoice | None = None,
) -> TrainResult:
    """Train a Keras network from streamed batches and save it as a run.

    Steps: export shuffled train / validation / test snapshots (the only time the warehouse
    is held), fit the preprocessor on a sample of the training snapshot, encode the training
    and validation rows once to raw float32 files (when half the free disk holds them;
    otherwise every epoch encodes on the fly), fit the network on a ``tf.data`` pipeline with
    early stopping on validation loss, score the test snapshot chunk by chunk, save.

    Args:
        settings: Workspace settings.
        spec: Table, target, positive class, features, split and task (None infers it).
        cfg: A Keras model config.
        progress: Receives the same events as :func:`core.training.train`.
        should_stop: Polled between export buckets and every batch; True cancels (a
            :class:`core.runs.StopSignal` may ask to keep the best epoch instead).
        choice: The features chosen by :func:`core.training.train` (recorded in the run).

    Returns:
        The :class:`~core.training.TrainResult`.

    Raises:
        SchemaError: Bad table, target or features, or too few rows.
        TrainingError: NaN loss.
        TrainingCancelled: ``should_stop`` returned True; nothing was saved.
    """
    started = time.perf_counter()
    if spec.missing == "drop":
        raise SchemaError("The streamed pipeline fills in missing feature values; to leave rows "
                          "with gaps out, filter them in Prepare first, or train in memory.")
    folder = private_dir(scratch_root(settings), "stream")
    try:
        task, splits, excluded, names = _export(settings, spec, folder, progress, should_stop)
        pre, background, sample_rows = _fit_preprocessor(splits, cfg)
        scaling = None
        if task == "regression":
            scaling = [splits.y_train_stats[0], splits.y_train_stats[1] or 1.0]
        fit, cached = _fit_inputs(splits, pre, cfg, spec.seed, scaling, folder, progress)
        device = device_label(cfg)
        emit(progress, stage="fit", message=f"Training {cfg.model} on {device} "
                                            f"({splits.counts['train']:,} rows, streamed)")
        booster_rows = (_sample_rows(splits, pre, task, scaling) if cfg.model == ENSEMBLE
                        else None)
        model, history = fit_model(cfg, pre, task, len(splits.classes), fit, spec.seed,
                                   progress, should_stop, booster_rows)
        stop_notes: list[str] = []
        finish_or_cancel(should_stop, history, cfg, stop_notes)
        y_test, out = _score_split(model, splits, "test", pre, task, scaling)
        metrics = headline_metrics(task, y_test, out)
        scored = folder / "test-scored.parquet"
        write_scored(splits, "test", score_columns(y_test, out, task), scored)
        valid_scores = score_columns(*_score_split(model, splits, "valid", pre, task, scaling),
                                     task)
        rows = {"table": splits.rows, **splits.counts}
        rate = (splits.label_counts["train"][1] / splits.counts["train"]
                if task == "binary" else None)
        run_id = new_run_id(cfg.model)
        config = run_config(run_id, spec, cfg,
                            RunShape(task, splits.classes, splits.features, rows, rate, "stream",
                                     excluded, names),
                            pre, history, device, scaling, started)
        config["preprocessor_rows"] = int(sample_rows)
        config["encoded_on_disk"] = cached
        config.update(model_summary(model))
        metrics["notes"] = [*metrics["notes"], *model_notes(model), *stop_notes]
        record_choice(config, metrics, choice)
        if booster_rows is not None:
            config["ensemble"]["booster_rows"] = int(len(booster_rows.y_train))
        emit(progress, stage="save", message="Saving run")
        save_run(settings, RunArtifacts(run_id, config, metrics, pre, model, scored, background,
                                        history, valid_scores))
    finally:
        remove(folder)
    emit(progress, stage="done", run_id=run_id)
    return TrainResult(run_id, load_run_config(config), metrics)
