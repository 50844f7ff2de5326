"""The three compressions, each from a parent model to a child model (no run bookkeeping here).

- **int8 post-training quantisation**: Keras 3's ``model.quantize("int8")`` on every ``Dense``
  layer (per-output-channel absmax scales for the kernel, dynamic per-row int8 activations).
  Embedding tables, the FT-Transformer's tokenizer and attention projections stay float32:
  Keras 3.15 quantises ``EinsumDense`` but cannot load a quantised ``MultiHeadAttention`` back,
  and LiftLab's own layers have no int8 kernels; the run says which layers were quantised.
- **Magnitude pruning** (Han et al., 2015; Zhu & Gupta, 2017): in every kernel, the share
  ``sparsity`` of weights with the smallest absolute values is set to zero (layer by layer), then
  a short fine-tune on the training split keeps them at zero (the mask is applied after every
  step) while the others adapt.
- **Knowledge distillation** (Hinton et al., 2015): a smaller MLP learns the parent's outputs
  (soft targets: probabilities, or predictions for regression) on the training rows, with
  early stopping on the parent's outputs for the validation rows. The parent may be any run,
  gradient boosting included.
"""

from __future__ import annotations

import warnings

import numpy as np

from core.errors import AppError


class CompressError(AppError):
    """A compression that cannot run (method, parent or setting)."""

    default_title = "The model cannot be compressed this way"


def quantize_int8(model) -> tuple[object, list[str], list[str]]:
    """Quantise a Keras network's Dense layers to int8 in place.

    Returns:
        ``(model, quantised layer names, float layer names with weights)``.
    """
    import keras

    def is_dense(layer):
        return type(layer) is keras.layers.Dense

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Layer X does not have a quantize method"
        model.quantize("int8", filters=is_dense)
    done = [layer.name for layer in model.layers if is_dense(layer)]
    kept = [layer.name for layer in model.layers if layer.weights and not is_dense(layer)]
    return model, done, kept


def prunable(model) -> list:
    """Kernels magnitude pruning acts on: every weight named ``kernel`` with 2+ dimensions."""
    return [w for w in model.trainable_weights if w.path.split("/")[-1] == "kernel"
            and len(w.shape) >= 2]


def magnitude_masks(model, sparsity: float) -> list[np.ndarray]:
    """0/1 masks zeroing the ``sparsity`` share of smallest-magnitude weights of each kernel."""
    masks = []
    for w in prunable(model):
        v = np.abs(np.asarray(w.numpy()))
        k = int(round(sparsity * v.size))
        mask = np.ones(v.size, dtype=np.float32)
        mask[np.argsort(v, axis=None, kind="stable")[:k]] = 0.0
        masks.append(mask.reshape(v.shape))
    return masks


def apply_masks(model, masks: list[np.ndarray]) -> None:
    """Zero the pruned weights (kernel × mask)."""
    for w, m in zip(prunable(model), masks, strict=True):
        w.assign(w.numpy() * m)


def mask_callback(model, masks):
    """A Keras callback that re-applies the masks after every training step."""
    import keras

    class _KeepPruned(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            apply_masks(model, masks)

    return _KeepPruned()


def zero_share(model) -> float:
    """Share of exactly-zero weights over the prunable kernels."""
    ws = [np.asarray(w.numpy()) for w in prunable(model)]
    return float(sum((w == 0).sum() for w in ws) / max(sum(w.size for w in ws), 1))


def sparse_bytes(model) -> int:
    """Bytes of a pruned network stored sparse: each nonzero kernel weight as a float32 value
    and an int32 index (COO), every other weight dense. The .keras file itself stores kernels
    dense, zeros included."""
    kernels = {id(w) for w in prunable(model)}
    total = 0
    for w in model.weights:
        v = np.asarray(w.numpy())
        total += 8 * int(np.count_nonzero(v)) if id(w) in kernels else v.nbytes
    return total


def model_bytes(model) -> int:
    """Bytes of a model's parameters as held in memory.

    Keras: every weight (int8 kernels count 1 byte each, their scales 4). Gradient boosting:
    the trees' node arrays. Linear models: coefficients and intercepts.
    """
    if hasattr(model, "weights") and hasattr(model, "layers"):
        return int(sum(np.asarray(w.numpy()).nbytes for w in model.weights))
    if hasattr(model, "_predictors"):
        return int(sum(p.nodes.nbytes for it in model._predictors for p in it))
    arrays = [getattr(model, a, None) for a in ("coef_", "intercept_")]
    return int(sum(np.asarray(a).nbytes for a in arrays if a is not None))


def soft_targets(out: np.ndarray, task: str, scaling) -> np.ndarray:
    """The student's targets from the parent's outputs (regression standardised with the
    student's ``scaling``)."""
    if task == "regression":
        return ((out - scaling[0]) / scaling[1]).astype(np.float32)
    return np.asarray(out, np.float32)


def distill_loss(task: str) -> str:
    """Cross-entropy against soft targets (binary, multiclass), MSE for regression."""
    return {"binary": "binary_crossentropy", "multiclass": "categorical_crossentropy",
            "regression": "mse"}[task]
