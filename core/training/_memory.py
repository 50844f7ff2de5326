"""Train a run in memory: load the table, split, fit the preprocessor on train, fit the model,
score the test split, save. Large tables go to the streamed trainer (:mod:`._stream`)."""

from __future__ import annotations

import time
from collections.abc import Callable

from core.config import Settings
from core.evaluate import headline_metrics
from core.features import (
    TabularPreprocessor,
    excluded_columns,
    load_task_data,
    split_indices,
    use_streaming,
)
from core.runs import RunArtifacts, load_run_config, new_run_id, predict_output, save_run
from core.specs import DatasetSpec, ModelConfig
from core.training._choice import finish_or_cancel, record_choice, resolve_spec
from core.training._dp import background_rows, dp_preprocessor, finish_dp_run
from core.training._ensemble import fit_model, model_notes, model_summary
from core.training._fit import (
    BACKGROUND_ROWS,
    FitData,
    Progress,
    RunShape,
    TrainResult,
    device_label,
    emit,
    run_config,
    scale_target,
    score_columns,
    target_scaling,
    test_frame,
)
from core.training._stream import train_streamed
from core.warehouse import connect, original_names


def train(
    settings: Settings, spec: DatasetSpec, cfg: ModelConfig,
    progress: Progress | None = None, should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train one model and save it as a run.

    Steps: read the table (short connection), split (stratified for classification,
    ``spec.seed``), fit the :class:`~core.features.TabularPreprocessor` on train only, fit the
    model (Keras network with early stopping on validation loss, or a scikit-learn baseline),
    score the test split, save. Tables of :data:`core.features.STREAM_CELLS` feature cells or
    more (or ``cfg.data_pipeline == "stream"``) train on the streamed pipeline instead.

    Args:
        settings: Workspace settings.
        spec: Table, target, positive class, features, split and task (None infers it).
        cfg: Model family and hyper-parameters.
        progress: Called with dicts: ``{"stage": "load"|"fit"|"epoch"|"save"|"done", ...}``;
            epoch events carry ``epoch``, ``epochs`` and ``logs`` (loss, val_loss, …).
        should_stop: Polled every batch; returning True cancels the run.

    Returns:
        The :class:`TrainResult`. The features are those :func:`core.tables.choose_features`
        leaves (flagged leakage, identifier, personal columns out unless named in
        ``spec.features``); config.json records ``exclusions`` and the notes say what was left
        out.

    Raises:
        SchemaError: Bad table, target or features.
        TrainingError: NaN loss or a model that cannot be fitted.
        TrainingCancelled: ``should_stop`` returned True; nothing was saved (unless it is a
            :class:`core.runs.StopSignal` asking to keep the best so far: then the run is
            saved with the best epoch's weights and a note).
    """

    started = time.perf_counter()
    emit(progress, stage="load", message=f"Reading table {spec.table}")
    with connect(settings) as con:
        spec, choice = resolve_spec(con, spec)
        streamed = use_streaming(con, spec, cfg)
        data = None if streamed else load_task_data(con, spec)
        excluded = [] if streamed else excluded_columns(con, spec, data.features)
        names = original_names(con, spec.table)
    if streamed:
        return train_streamed(settings, spec, cfg, progress, should_stop, choice)
    return _train_in_memory(settings, spec, cfg, data, (excluded, names), started, progress,
                            should_stop, choice)


def _shape_notes(pre: TabularPreprocessor, splits) -> list[str]:
    """A warning when the model has more inputs than training rows to learn them from."""
    width, rows = len(pre.feature_names_out_), len(splits.train)
    if width < rows:
        return []
    return [f"The model has {width:,} inputs (after encoding) but only {rows:,} training rows: "
            f"it can memorise the rows instead of learning a pattern. Use fewer features, group "
            f"rare categories, or more rows."]


def _train_in_memory(settings, spec, cfg, data, columns, started, progress, should_stop,
                     choice):
    excluded, names = columns
    splits = split_indices(data.y, spec.test_size, spec.valid_size, spec.seed,
                           stratify=data.task != "regression")
    pre = dp_preprocessor(cfg, data.x.iloc[splits.train])
    enc = {k: pre.transform(data.x.iloc[getattr(splits, k)]) for k in ("train", "valid", "test")}
    scaling = target_scaling(data.task, cfg, data.y[splits.train])
    fit_data = FitData(enc["train"], scale_target(data.y[splits.train], scaling), enc["valid"],
                       scale_target(data.y[splits.valid], scaling))
    device = device_label(cfg)
    emit(progress, stage="fit", message=f"Training {cfg.model} on {device}")
    model, history = fit_model(cfg, pre, data.task, len(data.classes), fit_data, spec.seed,
                               progress, should_stop)
    stop_notes: list[str] = []
    finish_or_cancel(should_stop, history, cfg, stop_notes)
    out = predict_output(model, enc["test"], data.task, scaling)
    out_valid = predict_output(model, enc["valid"], data.task, scaling)
    y_test = data.y[splits.test]
    metrics = headline_metrics(data.task, y_test, out)
    metrics["notes"] = [*data.notes, *pre.notes(names), *_shape_notes(pre, splits),
                        *metrics["notes"]]
    run_id = new_run_id(cfg.model)
    rows = {"table": len(data.y), "train": len(splits.train),
            "valid": len(splits.valid), "test": len(splits.test)}
    rate = float(data.y[splits.train].mean()) if data.task == "binary" else None
    config = run_config(run_id, spec, cfg, RunShape(data.task, data.classes, data.features, rows,
                                                    rate, "memory", excluded, names),
                        pre, history, device, scaling, started)
    config.update(model_summary(model))
    metrics["notes"] = [*metrics["notes"], *model_notes(model), *stop_notes]
    record_choice(config, metrics, choice)
    if cfg.dp.dp:
        history = finish_dp_run(config, cfg, history)
    emit(progress, stage="save", message="Saving run")
    # in random order, not table order: the first k rows are a uniform sample (tables are
    # often in time order, and a SHAP base value from the earliest rows describes those)
    bg_idx = background_rows(cfg, splits, spec.seed, BACKGROUND_ROWS)
    save_run(settings, RunArtifacts(run_id, config, metrics, pre, model,
                                    test_frame(data.x.iloc[splits.test], y_test, out, data.task),
                                    data.x.iloc[bg_idx].reset_index(drop=True), history,
                                    score_columns(data.y[splits.valid], out_valid, data.task)))
    emit(progress, stage="done", run_id=run_id)
    return TrainResult(run_id, load_run_config(config), metrics)
