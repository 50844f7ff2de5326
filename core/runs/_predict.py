"""The one scoring path: a model's output for encoded rows, for every task and model family.

Training, cross-validation, tuning, uplift arms, a saved :class:`~core.runs.Run`, evaluation,
SHAP, impact, monitoring and batch scoring all score through :func:`predict_output`; regression
networks' standardised outputs are mapped back to the target's units here and nowhere else.
:func:`fast_scorer` is the same computation for callers that make thousands of small calls
(model-agnostic SHAP explainers).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from models.blend import Blend

BATCH_ROWS = 4096


def _is_keras(model) -> bool:
    return hasattr(model, "layers") and not hasattr(model, "predict_proba")


def unscale(out: np.ndarray, scaling: list[float] | tuple[float, float] | None) -> np.ndarray:
    """Map a regression network's standardised output back to the target's units.

    Args:
        out: Standardised predictions, shape (n,).
        scaling: ``[mean, std]`` of the training target (config.json ``target_scaling``), or
            None for models that learn the target in its own units.

    Returns:
        ``out * std + mean``, shape (n,).
    """
    return out if scaling is None else out * scaling[1] + scaling[0]


def predict_output(model, x: np.ndarray, task: str,
                   scaling: list[float] | tuple[float, float] | None = None) -> np.ndarray:
    """Model output for encoded rows.

    Args:
        model: A Keras network, a fitted scikit-learn estimator, or a
            :class:`~models.blend.Blend` of the two (the weighted sum of its members' outputs,
            each on the scale above; a blend's members learn the same standardised target).
        x: float32 array of shape (n_rows, n_encoded).
        task: ``binary``, ``multiclass`` or ``regression``.
        scaling: ``[mean, std]`` of a regression network's training target (see :func:`unscale`).

    Returns:
        Binary: positive-class probabilities (n_rows,), float64; multiclass: probabilities
        (n_rows, n_classes); regression: predictions (n_rows,) in the target's units.
    """
    if isinstance(model, Blend):
        w_net, w_boost = model.weights
        return (w_net * predict_output(model.network, x, task, scaling)
                + w_boost * predict_output(model.booster, model.booster_input(x), task, scaling))
    if hasattr(model, "predict_proba") and task != "regression":
        p = model.predict_proba(x)
        return np.asarray(p[:, 1] if task == "binary" else p, dtype=np.float64)
    if _is_keras(model):
        out = np.asarray(model.predict(x, batch_size=BATCH_ROWS, verbose=0))
    else:
        out = np.asarray(model.predict(x))
    if task == "multiclass":
        return out.astype(np.float64)
    return unscale(out.reshape(-1).astype(np.float64), scaling if task == "regression" else None)


def fast_scorer(model, task: str = "binary",
                scaling: list[float] | tuple[float, float] | None = None,
                ) -> Callable[[np.ndarray], np.ndarray]:
    """:func:`predict_output` for many small calls: a Keras network is traced once into a
    ``tf.function`` (no per-call ``predict`` set-up, which dominates model-agnostic explainers).

    Args:
        model: A Keras network or a fitted scikit-learn estimator.
        task: ``binary`` or ``regression`` (one output per row).
        scaling: As in :func:`predict_output`.

    Returns:
        A function from encoded rows (n, n_encoded) to outputs (n,), float64.
    """
    if not _is_keras(model):
        return lambda x: predict_output(model, x, task, scaling)
    import tensorflow as tf

    width = int(model.inputs[0].shape[-1])
    fn = tf.function(lambda t: model(t, training=False), reduce_retracing=True,
                     input_signature=[tf.TensorSpec([None, width], tf.float32)])

    def predict(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        parts = [fn(x[i:i + 65536]).numpy() for i in range(0, len(x), 65536)]
        out = np.concatenate(parts).reshape(len(x), -1)[:, -1].astype(np.float64)
        return unscale(out, scaling if task == "regression" else None)

    return predict
