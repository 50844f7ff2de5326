"""A compressed run saved like any other, and the parent/child comparison of the Runs page."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime

import numpy as np

from core.compress._compress import check_request, child_model, rows_per_second, score_frame
from core.compress._methods import CompressError, model_bytes
from core.config import Settings
from core.errors import RunNotFoundError
from core.evaluate import headline_metrics
from core.runs import (
    LABEL_COL,
    Run,
    RunArtifacts,
    list_runs,
    load_run,
    new_run_id,
    predict_output,
    run_splits,
    save_run,
)
from core.specs import ModelConfig

COMPARED = ("roc_auc", "pr_auc")


def _privacy_note(parent: Run, method: str, config: dict) -> list[str]:
    """Keep, or drop with the reason, a DP parent's guarantee."""
    if "privacy" not in config:
        return []
    if method == "int8":
        return ["int8 quantisation is post-processing of the DP weights: the parent's "
                "(ε, δ) guarantee carries over."]
    config.pop("privacy")
    return [f"The parent's differential-privacy guarantee does not carry over: "
            f"{'fine-tuning' if method == 'prune' else 'distillation'} reads the training rows "
            f"without noise. Audit this run before sharing it."]


def _child_config(parent: Run, method: str, run_id: str, model, history, scaling,
                  details: dict, started: float) -> dict:
    config = parent.config.to_dict()
    for key in ("privacy_audit", "tuning", "estimator", "cv"):
        config.pop(key, None)
    notes = _privacy_note(parent, method, config)
    if method == "distill":
        cfg = ModelConfig.of(model="mlp", hidden_units=tuple(details["student_units"]),
                             dropout=0.0, numeric_encoding="ple" if parent.preprocessor
                             .numeric_bins else "standard")
        config.update(model="mlp", model_config=cfg.flat(), target_scaling=scaling,
                      device=parent.config.device)
    config.update(run_id=run_id, parent=parent.run_id,
                  created_at=datetime.now().isoformat(timespec="milliseconds"),
                  epochs_run=len(history), duration_s=round(time.perf_counter() - started, 2),
                  compression={"method": method, **details, "notes": notes})
    return config


STEPS = ("load", "split", "compress", "save", "compare")
LABELS = {"int8": "Quantising to int8", "prune": "Pruning and fine-tuning",
          "distill": "Distilling into a student MLP"}


def compress_run(settings: Settings, run_id: str, method: str, sparsity: float = 0.8,
                 units: tuple[int, ...] = (32, 16), seed: int = 42,
                 progress: Callable[[dict], None] | None = None,
                 should_stop: Callable[[], bool] | None = None) -> dict:
    """Compress a run into a new run and compare the two on the parent's test rows.

    The new run is saved like a trained one: registered here, or, in a job's worker
    (``settings.snapshot_dir`` set), left for the server to register
    (:func:`core.runs.register_saved_runs`).

    Args:
        settings: Workspace settings.
        run_id: The parent run.
        method: ``int8``, ``prune`` or ``distill``.
        sparsity: Share of zero weights after pruning, in (0, 1).
        units: Hidden units of the distilled student.
        seed: Seed of the fine-tune or the student.
        progress: Receives ``{"stage", "message", "step", "steps"}`` per step (load the
            parent, make its split again, compress, save, compare).
        should_stop: Polled between steps until the run is saved; True cancels (nothing is
            saved).

    Returns:
        ``{"run_id", "parent", "method", "weights_bytes", "parent_weights_bytes", "file_bytes",
        "parent_file_bytes", "rows_per_s", "parent_rows_per_s", "metrics", "parent_metrics",
        "change", "details", "notes"}`` (metrics: ``roc_auc``, ``pr_auc`` where the task has
        them, else the task's headline metrics).

    Raises:
        CompressError: Unknown method, int8/prune of a non-network, sparsity outside (0, 1),
            bad student units; cancelled.
        RunNotFoundError: No such run; prune/distill of a run whose split cannot be made again.
    """
    started = time.perf_counter()

    def step(stage: str, message: str) -> None:
        if should_stop is not None and should_stop():
            raise CompressError("Compression cancelled; nothing was saved.")
        if progress is not None:
            progress({"stage": stage, "message": message, "step": STEPS.index(stage) + 1,
                      "steps": len(STEPS)})

    step("load", f"Loading run {run_id}")
    parent = load_run(settings, run_id)
    check_request(parent, method, sparsity, units)
    step("split", f"Making the split of {parent.config.table} again")
    try:
        splits = run_splits(settings, parent)
    except RunNotFoundError:
        if method != "int8":
            raise
        splits = None
    step("compress", LABELS.get(method, method))
    model, history, scaling, details = child_model(parent, method, splits, sparsity, units,
                                                    seed)
    step("save", "Scoring the test rows and saving the new run")
    child_id, config, x_test = _save_child(settings, parent, method, model, history, scaling,
                                           details, splits, started)
    if progress is not None:  # saved: from here a cancel would only lose the comparison
        progress({"stage": "compare", "message": "Measuring size and scoring speed",
                  "step": len(STEPS), "steps": len(STEPS)})
    child = load_run(settings, child_id)
    summary = comparison(parent, child, x_test)
    config["compression"].update({k: summary[k] for k in (
        "weights_bytes", "parent_weights_bytes", "file_bytes", "parent_file_bytes",
        "rows_per_s", "parent_rows_per_s", "change")})
    tmp = child.folder / "config.tmp"
    tmp.write_text(json.dumps(config, indent=2))
    tmp.replace(child.folder / "config.json")
    return {"run_id": child_id, "parent": parent.run_id, "method": method, **summary,
            "details": details, "notes": config["compression"]["notes"]}


def _save_child(settings, parent, method, model, history, scaling, details, splits, started):
    """Score the parent's test rows with the child and save it; ``(run_id, config, x_test)``."""
    task, test = parent.task, parent.test_frame
    x_test = parent.preprocessor.transform(test[parent.features])
    y_test = test[LABEL_COL].to_numpy()
    out = predict_output(model, x_test, task, scaling)
    metrics = headline_metrics(task, y_test, out)
    child_id = new_run_id(f"{parent.config.model}-{method}")
    config = _child_config(parent, method, child_id, model, history, scaling, details, started)
    valid = None
    if splits is not None:
        x_va = parent.preprocessor.transform(splits.x.iloc[splits.valid])
        valid = score_frame(splits.y[splits.valid], predict_output(model, x_va, task, scaling),
                             task)
    frame = test.drop(columns=[c for c in test.columns if c.startswith("__")])
    frame = frame.join(score_frame(y_test, out, task))
    save_run(settings, RunArtifacts(child_id, config, metrics, parent.preprocessor, model,
                                    frame, parent.background, history, valid))
    return child_id, config, x_test


def _file_bytes(run: Run) -> int:
    return sum(p.stat().st_size for p in run.folder.glob("model.*"))


def comparison(parent: Run, child: Run, x_test: np.ndarray | None = None) -> dict:
    """Size, speed and test metrics of a compressed run against its parent.

    Returns:
        ``weights_bytes``, ``file_bytes``, ``rows_per_s`` and ``metrics`` for the child,
        ``parent_``-prefixed for the parent, and ``change`` (child − parent) of the compared
        metrics; throughput of both measured here, one after the other.
    """
    if x_test is None:
        x_test = parent.preprocessor.transform(parent.test_frame[parent.features])
    keys = [k for k in COMPARED if k in parent.metrics["metrics"]] or list(
        parent.metrics["metrics"])[:2]
    pm, cm = parent.metrics["metrics"], child.metrics["metrics"]
    scale_p, scale_c = parent.config.target_scaling, child.config.target_scaling
    return {
        "weights_bytes": model_bytes(child.model),
        "parent_weights_bytes": model_bytes(parent.model),
        "file_bytes": _file_bytes(child), "parent_file_bytes": _file_bytes(parent),
        "rows_per_s": rows_per_second(child.model, x_test, child.task, scale_c),
        "parent_rows_per_s": rows_per_second(parent.model, x_test, parent.task, scale_p),
        "metrics": {k: cm.get(k) for k in keys},
        "parent_metrics": {k: pm.get(k) for k in keys},
        "change": {k: (None if cm.get(k) is None or pm.get(k) is None
                       else float(cm[k]) - float(pm[k])) for k in keys},
    }


def compressed_children(settings: Settings, parent_id: str) -> list[str]:
    """Run ids whose ``parent`` is ``parent_id``, newest first."""
    return [r["run_id"] for r in list_runs(settings)
            if load_run(settings, r["run_id"]).config.extra.get("parent") == parent_id]


def is_compressed(run: Run) -> bool:
    """Whether a run was made by compressing another."""
    return "parent" in run.config.extra and "compression" in run.config.extra

