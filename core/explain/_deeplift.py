"""Batched DeepLIFT for Keras dense networks: shap.DeepExplainer's rule, all rows at once.

DeepLIFT's rescale rule (Shrikumar, Greenside & Kundaje, 2017, "Learning Important Features
Through Propagating Activation Differences") propagates a multiplier back through the network:
linear layers pass it through their weights, and an element-wise nonlinearity ``f`` multiplies it
by ``(f(z) − f(z_ref)) / (z − z_ref)`` (by ``f'(z)`` when the two are within 1e-6). Averaged over
background rows this is DeepSHAP (Lundberg & Lee, 2017), exactly what ``shap.DeepExplainer``
computes for these layers, and the values of a row sum to ``f(x) − mean f(background)``.

shap's TensorFlow implementation explains one row per graph call. Here the forward pass of the
rows and of the background is done once, and the backward pass for every (row, background row)
pair is a few batched matrix products in NumPy (float32 pair arrays, float64 forward pass and
sums): several times faster than shap.DeepExplainer and two to three orders of magnitude faster
than KernelExplainer on a CPU (``bench/explain.py``). Networks with any other layer (embeddings,
attention, residual joins) raise :class:`UnsupportedNetwork`, and the caller falls back to shap.

A TabM network (:mod:`models.tabm`) is k dense chains whose outputs are averaged: each member's
adapters fold into its affine steps (:func:`network_chains`), and because the mean is linear its
DeepSHAP values are the mean of the members' values, exact in sum like a single chain's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import erf, expit

SMALL = 1e-6
PASS_THROUGH = ("InputLayer", "Dropout", "AlphaDropout", "GaussianDropout", "GaussianNoise",
                "ActivityRegularization")


class UnsupportedNetwork(ValueError):
    """The network has a layer or a shape the batched rule does not cover."""


def _gelu(z):
    return 0.5 * z * (1.0 + erf(z / np.sqrt(2.0)))


ACTIVATIONS: dict[str, tuple[Callable, Callable | None]] = {
    "linear": (lambda z: z, lambda z: np.ones_like(z)),
    "relu": (lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(z.dtype)),
    "sigmoid": (expit, lambda z: expit(z) * (1.0 - expit(z))),
    "tanh": (np.tanh, lambda z: 1.0 - np.tanh(z) ** 2),
    "gelu": (_gelu, None),
    "silu": (lambda z: z * expit(z), None),
    "swish": (lambda z: z * expit(z), None),
    "softplus": (lambda z: np.logaddexp(0.0, z), expit),
    "elu": (lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0.0))), None),
}


@dataclass(frozen=True)
class Step:
    """One operation of the network: ``affine`` (``x @ w + b``), ``scale`` (``x * w + b``,
    inference batch normalisation) or ``act`` (element-wise activation ``name``)."""

    kind: str
    w: np.ndarray | None = None
    b: np.ndarray | None = None
    name: str = ""


def _activation_name(fn) -> str:
    name = getattr(fn, "__name__", str(fn)).lower()
    if name not in ACTIVATIONS:
        raise UnsupportedNetwork(f"activation '{name}' is not element-wise-supported")
    return name


def _layer_steps(layer) -> list[Step]:
    kind = type(layer).__name__
    if kind in PASS_THROUGH:
        return []
    if kind == "Dense":
        w = np.asarray(layer.kernel, dtype=np.float64)
        b = np.asarray(layer.bias, dtype=np.float64) if layer.use_bias else np.zeros(w.shape[1])
        name = _activation_name(layer.activation)
        return [Step("affine", w, b)] + ([] if name == "linear" else [Step("act", name=name)])
    if kind == "Activation":
        return [Step("act", name=_activation_name(layer.activation))]
    if kind == "BatchNormalization":
        var = np.asarray(layer.moving_variance, dtype=np.float64)
        mean = np.asarray(layer.moving_mean, dtype=np.float64)
        gamma = np.asarray(layer.gamma, dtype=np.float64) if layer.scale else np.ones_like(var)
        beta = np.asarray(layer.beta, dtype=np.float64) if layer.center else np.zeros_like(var)
        w = gamma / np.sqrt(var + layer.epsilon)
        return [Step("scale", w, beta - mean * w)]
    raise UnsupportedNetwork(f"layer '{layer.name}' ({kind})")


def network_steps(model, output: int = 0) -> list[Step]:
    """Read a Keras network that is a single chain of supported layers.

    Args:
        model: A Keras model with one input of shape (batch, n_features).
        output: Which output unit to explain.

    Returns:
        The chain as :class:`Step` objects, ending with one output unit.

    Raises:
        UnsupportedNetwork: Branches, several inputs, or a layer other than Dense, Activation,
            BatchNormalization or dropout/noise.
    """
    if len(getattr(model, "inputs", None) or [None]) != 1:
        raise UnsupportedNetwork("the network has several inputs")
    steps: list[Step] = []
    previous = None
    for layer in model.layers:
        if previous is not None and type(layer).__name__ != "InputLayer":
            if layer.input is not previous.output:
                raise UnsupportedNetwork(f"layer '{layer.name}' is not a single chain")
        steps.extend(_layer_steps(layer))
        previous = layer
    last = max((i for i, s in enumerate(steps) if s.kind == "affine"), default=None)
    if last is None:
        raise UnsupportedNetwork("the network has no Dense layer")
    w, b = steps[last].w, steps[last].b
    if not 0 <= output < w.shape[1]:
        raise UnsupportedNetwork(f"output {output} of {w.shape[1]}")
    steps[last] = Step("affine", w[:, [output]], b[[output]])
    if any(s.kind == "scale" for s in steps[last + 1:]):
        raise UnsupportedNetwork("batch normalisation after the output layer")
    return steps


def network_chains(model, output: int = 0) -> list[list[Step]]:
    """The network as chains of steps whose outputs average to the network's output.

    Args:
        model: A dense Keras network (see :func:`network_steps`) or a TabM network.
        output: Which output unit to explain.

    Returns:
        One chain for a dense network; one per member for TabM (each ending with the
        member's sigmoid for a binary task, as the network averages probabilities).

    Raises:
        UnsupportedNetwork: As :func:`network_steps`; or a multiclass TabM network (its members'
            softmax is not element-wise).
    """
    from models.tabm import is_tabm, member_chains

    if not is_tabm(model):
        return [network_steps(model, output)]
    task = model.get_layer("output").task
    if task == "multiclass":
        raise UnsupportedNetwork("a multiclass TabM network (softmax per member)")
    link = [Step("act", name="sigmoid")] if task == "binary" else []
    return [[Step(kind, w, b, "relu" if kind == "act" else "") for kind, w, b in chain] + link
            for chain in member_chains(model, output)]


def deeplift_chains(chains: list[list[Step]], x: np.ndarray, background: np.ndarray,
                    max_pairs: int = 20_000) -> tuple[np.ndarray, float]:
    """DeepSHAP values of the mean of several chains' outputs (a TabM network's members).

    Args:
        chains: From :func:`network_chains`.
        x: Encoded rows of shape (n_rows, n_features).
        background: Encoded background rows of shape (n_background, n_features).
        max_pairs: Most (row, background row) pairs held in memory at once.

    Returns:
        ``(values, base_value)`` as :func:`deeplift_shap`, for the mean output: values of
        shape (n_rows, n_features), the mean of each chain's values (the rescale rule is
        linear through the final mean).
    """
    values, base = np.zeros(np.shape(x), dtype=np.float64), 0.0
    for steps in chains:
        v, b = deeplift_shap(steps, x, background, max_pairs=max_pairs)
        values += v / len(chains)
        base += b / len(chains)
    return values, base


def _forward(steps: list[Step], h: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Output of shape (n,) and the input of every activation step."""
    pre = []
    for step in steps:
        if step.kind == "affine":
            h = h @ step.w + step.b
        elif step.kind == "scale":
            h = h * step.w + step.b
        else:
            pre.append(h)
            h = ACTIVATIONS[step.name][0](h)
    return h[:, 0], pre


def _slope(name: str, zx: np.ndarray, zr: np.ndarray) -> np.ndarray:
    """Rescale-rule multiplier of an activation for every (row, background row) pair.

    Args:
        name: Activation name.
        zx: Its inputs for the rows, shape (n, units).
        zr: Its inputs for the background rows, shape (k, units).

    Returns:
        float32 array of shape (n, k, units).
    """
    f, df = ACTIVATIONS[name]
    dz = np.subtract(zx[:, None, :], zr[None, :, :], dtype=np.float32)
    ratio = np.subtract(f(zx)[:, None, :], f(zr)[None, :, :], dtype=np.float32)
    small = np.abs(dz) < SMALL
    dz[small] = 1.0
    ratio /= dz
    if small.any():
        if df is None:
            h = 1e-5
            grad = (f(zx + h) - f(zx - h)) / (2 * h)
        else:
            grad = df(zx)
        ratio[small] = np.broadcast_to(grad[:, None, :], ratio.shape)[small]
    return ratio


def deeplift_shap(steps: list[Step], x: np.ndarray, background: np.ndarray,
                  weights: np.ndarray | None = None,
                  max_pairs: int = 20_000) -> tuple[np.ndarray, float]:
    """DeepSHAP values of rows against a background.

    Args:
        steps: From :func:`network_steps`.
        x: Encoded rows of shape (n_rows, n_features).
        background: Encoded background rows of shape (n_background, n_features).
        weights: Weights of the background rows, shape (n_background,) (default equal).
        max_pairs: Most (row, background row) pairs held in memory at once.

    Returns:
        ``(values, base_value)``: values of shape (n_rows, n_features) and the weighted mean
        network output over the background; ``base_value + values.sum(1)`` is the output.
    """
    bg = np.asarray(background, dtype=np.float64)
    w = (np.full(len(bg), 1.0 / len(bg)) if weights is None
         else np.asarray(weights) / np.sum(weights))
    out_bg, pre_bg = _forward(steps, bg)
    chunk = max(1, max_pairs // len(bg))
    acts = [s for s in steps if s.kind == "act"]
    values = np.empty(x.shape, dtype=np.float64)
    for start in range(0, len(x), chunk):
        xc = np.asarray(x[start:start + chunk], dtype=np.float64)
        _, pre_x = _forward(steps, xc)
        n, k = len(xc), len(bg)
        mult = np.ones((n * k, 1), dtype=np.float32)  # one row per (row, background row) pair
        i = len(acts)
        for step in reversed(steps):
            if step.kind == "affine":  # a 2-D float32 product: BLAS, unlike stacked 3-D matmul
                mult = mult @ step.w.T.astype(np.float32)
            elif step.kind == "scale":
                mult *= step.w.astype(np.float32)
            else:
                i -= 1
                mult *= _slope(step.name, pre_x[i], pre_bg[i]).reshape(n * k, -1)
        mult = mult.reshape(n, k, -1)
        mult *= np.subtract(xc[:, None, :], bg[None, :, :], dtype=np.float32)
        values[start:start + chunk] = np.einsum("nkf,k->nf", mult, w, optimize=True)
    return values, float(np.dot(w, out_bg))
