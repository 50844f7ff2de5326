"""The SHAP explainers LiftLab can run, each set up once on a background, then fed chunks.

The explainer fits the model (Lundberg & Lee, 2017, "A Unified Approach to Interpreting Model
Predictions"; the ``shap`` library):

- Keras networks: batched DeepLIFT (:mod:`core.explain`, shap.DeepExplainer's rule for dense
  chains and for TabM's member chains), then ``shap.DeepExplainer``, then
  ``shap.GradientExplainer`` (expected gradients, Erion et al., 2021);
- the ensemble (a network and gradient boosting, :class:`models.blend.Blend`): the weighted sum
  of the members' SHAP values in probability space, batched DeepLIFT for the network and
  ``shap.TreeExplainer`` with the same background rows for the trees (interventional Tree SHAP,
  ``model_output="probability"``), exact in sum like each member;
- gradient-boosted trees (``hgb``): ``shap.TreeExplainer`` (exact, log-odds);
- logistic regression (``logreg``): ``shap.LinearExplainer`` (exact, log-odds);
- anything that fails: a batched model-agnostic ``shap.PermutationExplainer`` over source columns
  (one antithetic permutation per row, exact in sum); ``shap.KernelExplainer`` over source
  columns on a k-means summary of the background can be asked for by name.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.errors import ExplainError
from core.explain._deeplift import deeplift_chains, network_chains
from core.runs import fast_scorer, predict_output
from models.blend import Blend

KMEANS_CENTRES = 20
ADDITIVITY_TOL = 1e-3


@dataclass
class Prepared:
    """An explainer set up on a background: ``explain(x) -> (values (n, d), output (n,))``."""

    base_value: float
    explain: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def _quiet(fn: Callable) -> Callable:
    def wrapped(*args, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*args, **kwargs)
    return wrapped


@dataclass(frozen=True)
class Output:
    """Which model output an explanation explains.

    Attributes:
        task: ``binary`` (the positive-class probability, or log-odds for trees and linear
            models), ``multiclass`` (the probability of class ``index``) or ``regression``
            (the prediction in the target's units).
        index: Class index explained (multiclass).
        scaling: ``[mean, std]`` of a regression network's standardised target, or None.
    """

    task: str = "binary"
    index: int = 0
    scaling: tuple[float, float] | None = None

    def scorer(self, model) -> Callable[[np.ndarray], np.ndarray]:
        """The explained output for encoded rows, shape (n,), float64."""
        if self.task == "multiclass":
            return lambda x: predict_output(model, x, "multiclass")[:, self.index]
        return fast_scorer(model, self.task, self.scaling)

    def only(self, *tasks: str) -> None:
        """Raise unless the task is one of ``tasks`` (the explainer then moves along)."""
        if self.task not in tasks:
            raise ExplainError(f"this explainer covers {' and '.join(tasks)} runs")


BINARY = Output()


def _prep_deeplift(model, bg: np.ndarray, blocks: list[np.ndarray],
                   out: Output = BINARY) -> Prepared:
    out.only("binary", "regression")
    chains = network_chains(model)  # one dense chain, or a TabM network's k members
    mean, std = out.scaling if out.task == "regression" and out.scaling else (0.0, 1.0)
    base = deeplift_chains(chains, bg[:1], bg)[1] * std + mean
    score = out.scorer(model)
    return Prepared(base, lambda x: (deeplift_chains(chains, x, bg)[0] * std, score(x)))


def _restoring_tf_gradients(fn):
    """Call ``fn`` and put TensorFlow's ``record_gradient`` back afterwards.

    shap's TF DeepExplainer swaps ``tensorflow.python.eager.execute.record_gradient`` for its
    own and restores it only when the explained call succeeds; after a failure every later
    gradient in the process looks up ``shap_<op>`` entries that no longer exist, so training
    fails with "gradient registry has no entry for: shap_…". This wrapper restores it always.
    """
    def wrapped(*args, **kwargs):
        from tensorflow.python.eager import execute as tf_execute

        original = tf_execute.record_gradient
        try:
            return fn(*args, **kwargs)
        finally:
            tf_execute.record_gradient = original

    return wrapped


@_quiet
def _prep_deep(model, bg: np.ndarray, blocks: list[np.ndarray],
               out: Output = BINARY) -> Prepared:
    import shap

    out.only("binary")
    explainer = _restoring_tf_gradients(shap.DeepExplainer)(model, bg)

    def run(x):
        values = _quiet(_restoring_tf_gradients(explainer.shap_values))(
            x, check_additivity=False)
        return np.asarray(values).reshape(len(x), -1), predict_output(model, x, "binary")

    return Prepared(float(np.ravel(explainer.expected_value)[-1]), run)


@_quiet
def _prep_gradient(model, bg: np.ndarray, blocks: list[np.ndarray],
                   out: Output = BINARY) -> Prepared:
    import shap

    out.only("binary")
    explainer = shap.GradientExplainer(model, bg)

    def run(x):
        values = _quiet(explainer.shap_values)(x, nsamples=200, rseed=0)
        return np.asarray(values).reshape(len(x), -1), predict_output(model, x, "binary")

    return Prepared(float(predict_output(model, bg, "binary").mean()), run)


def _prep_tree(model, bg: np.ndarray, blocks: list[np.ndarray],
               out: Output = BINARY) -> Prepared:
    import shap

    out.only("binary", "regression")
    explainer = shap.TreeExplainer(model)
    output = model.decision_function if out.task == "binary" else model.predict
    return Prepared(float(np.ravel(explainer.expected_value)[0]),
                    lambda x: (np.asarray(explainer.shap_values(x)).reshape(len(x), -1),
                               output(x)))


def _tree_probability(booster, bg: np.ndarray):
    """Interventional Tree SHAP of a binary classifier's probability against ``bg``
    (Lundberg et al., 2020): exact in sum, base value = mean probability over ``bg``."""
    import shap

    return shap.TreeExplainer(booster, data=bg, model_output="probability",
                              feature_perturbation="interventional")


def _prep_blend(model: Blend, bg: np.ndarray, blocks: list[np.ndarray],
                out: Output = BINARY) -> Prepared:
    """The ensemble: ``w · DeepLIFT(network) + (1 − w) · TreeSHAP(booster)``, both in
    probability space against the same background rows, so the base value is the blend's
    mean probability over them and the values of a row sum to its blended probability."""
    out.only("binary")
    chains = network_chains(model.network)
    tree = _quiet(_tree_probability)(model.booster, model.booster_input(bg))
    w_net, w_boost = model.weights
    base = (w_net * deeplift_chains(chains, bg[:1], bg)[1]
            + w_boost * float(np.ravel(tree.expected_value)[-1]))

    def run(x):
        values = w_net * deeplift_chains(chains, x, bg)[0]
        tree_values = np.asarray(_quiet(tree.shap_values)(model.booster_input(x)))
        values[:, model.columns] += w_boost * tree_values.reshape(len(x), -1)
        return values, predict_output(model, x, "binary")

    return Prepared(base, run)


def _prep_linear(model, bg: np.ndarray, blocks: list[np.ndarray],
                 out: Output = BINARY) -> Prepared:
    import shap

    out.only("binary", "regression")
    explainer = shap.LinearExplainer(model, bg)
    output = model.decision_function if out.task == "binary" else model.predict
    return Prepared(float(np.ravel(explainer.expected_value)[0]),
                    lambda x: (np.asarray(explainer.shap_values(x)).reshape(len(x), -1),
                               output(x)))


def _prep_permutation(model, bg: np.ndarray, blocks: list[np.ndarray],
                      out: Output = BINARY) -> Prepared:
    """Permutation SHAP over source columns: a column is masked by swapping its whole encoded
    block (all its one-hot parts) for a background row's, so no impossible rows are scored.

    The explainer sees each row as pool indices, one per column; the model function assembles
    encoded rows block by block from the pool (background rows first, then the chunk's rows).
    """
    import shap

    pool = {"x": bg}
    score = out.scorer(model)

    def f(idx):
        idx = np.asarray(idx, dtype=np.int64)
        rows = np.empty((len(idx), bg.shape[1]), dtype=np.float32)
        for j, cols in enumerate(blocks):
            rows[:, cols] = pool["x"][idx[:, j][:, None], cols]
        return score(rows)

    bg_idx = np.repeat(np.arange(len(bg))[:, None], len(blocks), axis=1)
    explainer = shap.PermutationExplainer(f, shap.maskers.Independent(bg_idx, len(bg)))

    def run(x):
        pool["x"] = np.vstack([bg, x])
        idx = np.repeat(len(bg) + np.arange(len(x))[:, None], len(blocks), axis=1)
        evals = 2 * len(blocks) + 1
        result = explainer(idx, max_evals=evals, batch_size=evals, silent=True)
        return np.asarray(result.values).reshape(len(x), -1), score(x)

    return Prepared(float(score(bg).mean()), run)


@_quiet
def _prep_kernel(model, bg: np.ndarray, blocks: list[np.ndarray],
                 out: Output = BINARY) -> Prepared:
    """Kernel SHAP over source columns (shap's grouped ``DenseData``) on a k-means summary of
    the background (weighted centres, as the shap documentation recommends)."""
    import shap
    from shap.utils._legacy import DenseData

    f = out.scorer(model)
    summary = shap.kmeans(bg, min(KMEANS_CENTRES, len(bg)))
    data = DenseData(summary.data, [str(j) for j in range(len(blocks))], list(blocks),
                     summary.weights)
    explainer = shap.KernelExplainer(f, data)

    def run(x):
        values = _quiet(explainer.shap_values)(x, nsamples=2 * len(blocks) + 512, silent=True)
        return np.asarray(values).reshape(len(x), -1), f(x)

    return Prepared(float(np.ravel(explainer.expected_value)[0]), run)


@dataclass(frozen=True)
class Method:
    """One explainer.

    Attributes:
        name: Display name.
        space: Units of its values and output (``probability`` or ``log-odds``).
        chunk: Rows per call (progress and the time budget are checked between chunks).
        prepare: ``prepare(model, background, blocks, output) -> Prepared`` (raises for an
            :class:`Output` it does not cover, so the chain moves on).
        exact: Exact in sum by construction: a sum that misses the output counts as a failure.
        grouped: Its values are per source column already (no per-encoded-feature values).
    """

    name: str
    space: str
    chunk: int
    prepare: Callable[..., Prepared]
    exact: bool = False
    grouped: bool = False


METHODS = {
    "deeplift": Method("DeepLIFT (batched DeepExplainer)", "probability", 1000, _prep_deeplift,
                       exact=True),
    "blend": Method("DeepLIFT + TreeExplainer, weighted like the ensemble", "probability", 500,
                    _prep_blend, exact=True),
    "deep": Method("DeepExplainer", "probability", 100, _prep_deep),
    "gradient": Method("GradientExplainer", "probability", 100, _prep_gradient),
    "tree": Method("TreeExplainer", "log-odds", 1000, _prep_tree),
    "linear": Method("LinearExplainer", "log-odds", 1000, _prep_linear),
    "permutation": Method("PermutationExplainer (per column)", "probability", 50,
                          _prep_permutation, grouped=True),
    "kernel": Method("KernelExplainer (per column, k-means background)", "probability", 10,
                     _prep_kernel, grouped=True),
}
WHY = {
    "deeplift": "Keras network: DeepLIFT rescale rule, the rule shap.DeepExplainer applies, "
                "batched over all rows and background rows at once; exact in sum.",
    "blend": "Ensemble: the members' SHAP values weighted as their scores are, in probability "
             "space against the same background rows: batched DeepLIFT for the network, "
             "interventional TreeExplainer for gradient boosting; exact in sum.",
    "deep": "Keras network: shap.DeepExplainer (DeepLIFT rules), exact in sum.",
    "gradient": "Keras network: shap.GradientExplainer (expected gradients), approximate in sum.",
    "tree": "Gradient-boosted trees: TreeExplainer computes exact SHAP values.",
    "linear": "Logistic regression: LinearExplainer is exact for linear models.",
    "permutation": "Model-agnostic: batched permutation SHAP over source columns (one "
                   "antithetic permutation per row), exact in sum.",
    "kernel": "Model-agnostic: KernelExplainer over source columns on a k-means summary of "
              "the background.",
}


MEMORY_BUDGET = 1 << 30  # bytes an explainer may build for one chunk of rows


def cost_per_row(key: str, n_columns: int, n_encoded: int, n_background: int) -> tuple[int, int]:
    """``(model evaluations, bytes)`` one explained row costs an explainer (a priori).

    Permutation SHAP scores 2·M + 1 masked versions of the row against every background row
    (shap's ``Independent`` masker); Kernel SHAP builds 2·M + 512 coalitions against at most
    :data:`KMEANS_CENTRES` centres and holds them as float64 rows (its memory is what ran out
    on a 5,000-column model). The model-specific explainers cost a few forward passes.

    Args:
        key: A key of :data:`METHODS`.
        n_columns: Source columns M (masked as groups).
        n_encoded: Encoded width of the model's input.
        n_background: Background rows.

    Returns:
        Evaluations and bytes per explained row.
    """
    if key == "permutation":
        evals = (2 * n_columns + 1) * n_background
        return evals, evals * n_encoded * 4
    if key == "kernel":
        evals = (2 * n_columns + 512) * min(KMEANS_CENTRES, n_background)
        return evals, evals * n_encoded * 8 * 3
    if key in ("deep", "gradient"):
        evals = n_background * (200 if key == "gradient" else 1)
        return evals, evals * n_encoded * 8
    return n_background, n_background * n_encoded * 8


SPEED_ROWS = 512
"""Fewest rows scored to measure a model's speed."""
SPEED_ROWS_MAX = 20_000
"""Most rows scored to measure it (larger batches are extrapolated)."""
PER_ROW = ("permutation", "kernel")
"""Explainers that score one explained row's evaluations per model call; the others score a
chunk of rows at once."""


def seconds_per_evaluation(score: Callable[[np.ndarray], np.ndarray], bg: np.ndarray, key: str,
                           evals_per_row: int, rows: int = 1) -> float:
    """Seconds one model evaluation takes, measured by scoring the background rows repeated
    to the batch the explainer scores in one call: one row's evaluations for
    :data:`PER_ROW` explainers, a chunk of ``rows`` rows' for the others, within
    [:data:`SPEED_ROWS`, :data:`SPEED_ROWS_MAX`]. A network's per-call overhead is paid once
    per batch: measured on 512 rows, Kernel SHAP's time on bank's network came out ~40× too
    long (``bench/explain.py --cost-only``).

    Args:
        score: The explained output for encoded rows.
        bg: Encoded background rows, shape (n_background, n_encoded).
        key: A key of :data:`METHODS`.
        evals_per_row: Model evaluations per explained row (:func:`cost_per_row`).
        rows: Rows the explainer is asked for.

    Returns:
        Seconds per evaluation (per scored row).
    """
    per_call = evals_per_row * (1 if key in PER_ROW else max(1, min(rows, METHODS[key].chunk)))
    batch = int(np.clip(per_call, SPEED_ROWS, SPEED_ROWS_MAX))
    sample = np.resize(bg, (batch, bg.shape[1]))  # the background rows repeated, in order
    started = time.perf_counter()
    score(sample)
    return (time.perf_counter() - started) / batch


def method_chain(model, model_name: str, task: str = "binary") -> list[str]:
    """Explainers to try for a model, best first; the last is the model-agnostic fallback
    (exact in sum). Multiclass runs are explained by the fallback, per class probability; the
    ensemble's own explainer covers binary runs."""
    if task == "multiclass":
        return ["permutation"]
    if isinstance(model, Blend):
        return ["blend", "permutation"] if task == "binary" else ["permutation"]
    if hasattr(model, "layers") and not hasattr(model, "predict_proba"):
        return ["deeplift", "deep", "gradient", "permutation"]
    if model_name == "hgb":
        return ["tree", "permutation"]
    if model_name == "logreg":
        return ["linear", "permutation"]
    return ["permutation"]
