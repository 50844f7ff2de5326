"""Compress a run's model: the request checked, the child model built (int8, pruned and
fine-tuned, or distilled), its scores and throughput.

The child is an ordinary run (model.keras in Keras's native format, loaded in safe mode; the
parent's preprocessor, test rows and background), so evaluate, explain, impact, score and the
report take it like any other. Its config.json keeps the parent's spec and adds ``parent`` and
a ``compression`` block: method, settings, weights' bytes, file size, scoring throughput and
the change of ROC-AUC / PR-AUC against the parent on the same test rows.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from core.compress._methods import (
    CompressError,
    apply_masks,
    distill_loss,
    magnitude_masks,
    mask_callback,
    quantize_int8,
    soft_targets,
    sparse_bytes,
    zero_share,
)
from core.runs import LABEL_COL, SCORE_COL, load_model, predict_output

METHODS = ("int8", "prune", "distill")
FINE_TUNE_EPOCHS = 3
DISTILL_EPOCHS = 30
THROUGHPUT_ROWS = 20000


def check_request(run, method: str, sparsity: float, units: tuple[int, ...]) -> None:
    """Refuse a compression that cannot run (before any work starts).

    Raises:
        CompressError: Unknown method, a non-tabular run, int8/prune of a non-network,
            sparsity outside (0, 1), bad student units.
    """
    if method not in METHODS:
        raise CompressError(f"method must be one of {', '.join(METHODS)}; got '{method}'.")
    if not run.config.is_tabular:
        raise CompressError(f"Run '{run.run_id}' is a {run.config.kind} run; compression works "
                            f"on tabular runs (binary, multiclass, regression).")
    if method in ("int8", "prune") and not run.is_keras:
        raise CompressError(
            f"{'int8 quantisation' if method == 'int8' else 'Pruning'} works on Keras networks "
            f"(its weights are what shrinks); run '{run.run_id}' is '{run.config.model}', which "
            f"has no weight matrices. Distil it into a small network instead: method 'distill' "
            f"(\"Distil into a small MLP\" on the Runs page, --method distill on the command "
            f"line).")
    if method == "prune" and not 0.0 < sparsity < 1.0:
        raise CompressError(f"sparsity must be a share strictly between 0 and 1 (e.g. 0.8 for "
                            f"80 % zero weights); got {sparsity}.")
    if method == "distill" and not (1 <= len(units) <= 8 and all(1 <= u <= 4096 for u in units)):
        raise CompressError(f"The student's units must be 1–8 layers of 1–4096 units (e.g. "
                            f"32,16); got {','.join(map(str, units)) or 'none'}.")


def rows_per_second(model, x: np.ndarray, task: str, scaling) -> float:
    """Scoring throughput through :func:`core.runs.predict_output`, rows per second (the best
    of three passes over at least :data:`THROUGHPUT_ROWS` rows)."""
    reps = int(np.ceil(THROUGHPUT_ROWS / max(len(x), 1)))
    big = np.tile(x, (reps, 1))
    predict_output(model, big[:64], task, scaling)  # warm-up (tracing)
    best = np.inf
    for _ in range(3):
        t = time.perf_counter()
        predict_output(model, big, task, scaling)
        best = min(best, time.perf_counter() - t)
    return float(len(big) / best)


def score_frame(y: np.ndarray, out: np.ndarray, task: str) -> pd.DataFrame:
    cols = {LABEL_COL: y}
    if task == "multiclass":
        cols.update({f"__proba_{k}": out[:, k] for k in range(out.shape[1])})
        cols[SCORE_COL] = out.max(axis=1)
    else:
        cols[SCORE_COL] = np.asarray(out, np.float64)
    return pd.DataFrame(cols)


def _fine_tune(parent, model, splits, masks, epochs: int, seed: int) -> list[dict]:
    import keras

    from models.tabular import compile_model, make_optimizer

    cfg = parent.config.model_config
    pre, task, scaling = parent.preprocessor, parent.task, parent.config.target_scaling
    y = splits.y if scaling is None else (splits.y - scaling[0]) / scaling[1]
    keras.utils.set_random_seed(seed)
    compile_model(model, task, cfg.resolved_loss(task),
                  make_optimizer(cfg.fit.optimizer, cfg.fit.learning_rate))
    hist = model.fit(pre.transform(splits.x.iloc[splits.train]), y[splits.train],
                     batch_size=cfg.fit.batch_size, epochs=epochs, verbose=0,
                     validation_data=(pre.transform(splits.x.iloc[splits.valid]),
                                      y[splits.valid]),
                     callbacks=[mask_callback(model, masks)])
    apply_masks(model, masks)
    return [{k: float(v[i]) for k, v in hist.history.items()} for i in range(epochs)]


def _distill(parent, splits, units: tuple[int, ...], seed: int):
    import keras

    from models.tabular import build_mlp, make_optimizer

    pre, task = parent.preprocessor, parent.task
    x_tr = pre.transform(splits.x.iloc[splits.train])
    x_va = pre.transform(splits.x.iloc[splits.valid])
    out_tr = parent.predict_encoded(x_tr)
    scaling = ([float(out_tr.mean()), float(out_tr.std()) or 1.0]
               if task == "regression" else None)
    keras.utils.set_random_seed(seed)
    n_classes = len(parent.config.classes)
    student = build_mlp(x_tr.shape[1], units, "relu", 0.0, False, 0.0, task, n_classes)
    student.compile(optimizer=make_optimizer("adam", 1e-3), loss=distill_loss(task))
    hist = student.fit(x_tr, soft_targets(out_tr, task, scaling), batch_size=256,
                       epochs=DISTILL_EPOCHS, verbose=0,
                       validation_data=(x_va, soft_targets(parent.predict_encoded(x_va), task,
                                                           scaling)),
                       callbacks=[keras.callbacks.EarlyStopping(
                           patience=4, restore_best_weights=True)])
    history = [{k: float(v[i]) for k, v in hist.history.items()}
               for i in range(len(hist.history["loss"]))]
    return student, history, scaling


def child_model(parent, method, splits, sparsity, units, seed):
    """``(model, history, scaling, details)`` of the compressed model."""
    scaling = parent.config.target_scaling
    if method == "int8":
        model, done, kept = quantize_int8(load_model(parent.folder))
        return model, [], scaling, {"quantised_layers": done, "float_layers": kept}
    if method == "prune":
        model = load_model(parent.folder)
        masks = magnitude_masks(model, sparsity)
        apply_masks(model, masks)
        history = _fine_tune(parent, model, splits, masks, FINE_TUNE_EPOCHS, seed)
        return model, history, scaling, {"sparsity": sparsity, "zero_share": zero_share(model),
                                         "fine_tune_epochs": FINE_TUNE_EPOCHS,
                                         "sparse_weights_bytes": sparse_bytes(model)}
    student, history, scaling = _distill(parent, splits, units, seed)
    return student, history, scaling, {"student_units": list(units), "soft_targets": True,
                                       "temperature": 1.0}
