"""SHAP explanations of a run, grouped back to the analyst's source columns.

The explainer fits the model (Lundberg & Lee, 2017, "A Unified Approach to Interpreting Model
Predictions"; the ``shap`` library): DeepExplainer (DeepLIFT-based) for Keras networks,
TreeExplainer for gradient boosting, LinearExplainer for logistic regression, and a batched
PermutationExplainer when the first choice fails. One-hot parts are summed into their column,
which keeps additivity: base value + sum of SHAP values = model output.
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import ExplainError
from core.runs import Run

log = logging.getLogger(__name__)
BACKGROUND_MAX = 100


@dataclass(frozen=True)
class Explanation:
    """SHAP values of a sample of test rows.

    Attributes:
        values: SHAP values grouped to source columns, shape (n_rows, n_columns).
        encoded_values: SHAP values per encoded feature, shape (n_rows, n_encoded).
        columns: Source column names, length n_columns.
        encoded_names: Encoded feature names, length n_encoded.
        base_value: Expected model output over the background (same units as ``output``).
        output: Model output for each explained row, shape (n_rows,).
        output_space: ``"probability"`` or ``"log-odds"``: the units of values and output.
        rows: The explained rows' raw values, shape (n_rows, n_columns).
        explainer: Name of the SHAP explainer that ran.
        reason: Why that explainer was used.
        additivity_max_error: max |base_value + sum(values) - output| over rows.
        background_rows: Rows in the background sample.
        seconds: Wall time of the SHAP computation.
    """

    values: np.ndarray
    encoded_values: np.ndarray
    columns: list[str]
    encoded_names: list[str]
    base_value: float
    output: np.ndarray
    output_space: str
    rows: pd.DataFrame
    explainer: str
    reason: str
    additivity_max_error: float
    background_rows: int
    seconds: float

    def importance(self) -> pd.DataFrame:
        """Mean |SHAP value| per source column, largest first (columns ``feature``, ``mean_abs_shap``)."""
        imp = np.abs(self.values).mean(axis=0)
        df = pd.DataFrame({"feature": self.columns, "mean_abs_shap": imp})
        return df.sort_values("mean_abs_shap", ascending=False, ignore_index=True)


def group_by_source(encoded: np.ndarray, sources: list[str], columns: list[str]) -> np.ndarray:
    """Sum encoded SHAP values into their source columns.

    Args:
        encoded: SHAP values of shape (n_rows, n_encoded).
        sources: Source column of each encoded feature, length n_encoded.
        columns: Source columns in output order, length n_columns.

    Returns:
        Array of shape (n_rows, n_columns).
    """
    index = {c: i for i, c in enumerate(columns)}
    member = np.zeros((len(sources), len(columns)))
    member[np.arange(len(sources)), [index[s] for s in sources]] = 1.0
    return encoded @ member


def _deep(run: Run, bg: np.ndarray, x: np.ndarray):
    import shap

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        explainer = shap.DeepExplainer(run.model, bg)
        values = explainer.shap_values(x, check_additivity=False)
    out = run.predict_encoded(x)
    return np.asarray(values).reshape(len(x), -1), float(np.ravel(explainer.expected_value)[0]), out


def _tree(run: Run, bg: np.ndarray, x: np.ndarray):
    import shap

    explainer = shap.TreeExplainer(run.model)
    values = np.asarray(explainer.shap_values(x)).reshape(len(x), -1)
    return values, float(np.ravel(explainer.expected_value)[0]), run.model.decision_function(x)


def _linear(run: Run, bg: np.ndarray, x: np.ndarray):
    import shap

    explainer = shap.LinearExplainer(run.model, bg)
    values = np.asarray(explainer.shap_values(x)).reshape(len(x), -1)
    return values, float(np.ravel(explainer.expected_value)[0]), run.model.decision_function(x)


def _permutation(run: Run, bg: np.ndarray, x: np.ndarray):
    import shap

    explainer = shap.PermutationExplainer(run.predict_encoded, shap.maskers.Independent(bg))
    result = explainer(x, max_evals=2 * x.shape[1] + 1, silent=True)
    values = np.asarray(result.values).reshape(len(x), -1)
    return values, float(np.ravel(result.base_values)[0]), run.predict_encoded(x)


METHODS = {
    "deep": ("DeepExplainer", "probability", _deep),
    "tree": ("TreeExplainer", "log-odds", _tree),
    "linear": ("LinearExplainer", "log-odds", _linear),
    "permutation": ("PermutationExplainer", "probability", _permutation),
}


def choose_method(run: Run) -> tuple[str, str]:
    """The explainer that fits a run's model, and why."""
    if run.is_keras:
        return "deep", "Keras network: DeepExplainer (DeepLIFT rules) is exact in sum and batched."
    if run.config["model"] == "hgb":
        return "tree", "Gradient-boosted trees: TreeExplainer computes exact SHAP values."
    if run.config["model"] == "logreg":
        return "linear", "Logistic regression: LinearExplainer is exact for linear models."
    return "permutation", "No model-specific explainer: batched permutation SHAP."


def explain_run(
    run: Run, n_rows: int = 1000, seed: int = 42, method: str = "auto",
    background_rows: int = BACKGROUND_MAX,
) -> Explanation:
    """Compute SHAP values for a sample of the run's test rows.

    Args:
        run: A saved run.
        n_rows: Test rows to explain (a seeded random sample when the test split is larger).
        seed: Seed of the row sample.
        method: ``"auto"`` or one of ``deep``, ``tree``, ``linear``, ``permutation``.
        background_rows: Background rows (<= 100) drawn from the saved training rows.

    Returns:
        The :class:`Explanation`.

    Raises:
        ExplainError: Invalid sizes, or every applicable explainer failed.
    """
    if n_rows < 1:
        raise ExplainError(f"rows must be at least 1; got {n_rows}.")
    if method != "auto" and method not in METHODS:
        raise ExplainError(f"method must be 'auto' or one of {', '.join(METHODS)}; got {method!r}.")
    test = run.test_frame
    rng = np.random.default_rng(seed)
    take = np.sort(rng.choice(len(test), size=min(n_rows, len(test)), replace=False))
    rows = test.iloc[take][run.features].reset_index(drop=True)
    pre = run.preprocessor
    x = pre.transform(rows)
    bg = pre.transform(run.background[run.features].head(min(background_rows, BACKGROUND_MAX)))
    chosen, reason = choose_method(run) if method == "auto" else (method, "Chosen by the user.")
    started = time.perf_counter()
    try:
        values, base, out = METHODS[chosen][2](run, bg, x)
    except Exception as err:  # any SHAP failure → documented fallback
        if chosen == "permutation":
            raise ExplainError(f"SHAP failed for this model: {err}.") from err
        log.warning("%s failed (%s); falling back to permutation", chosen, err)
        reason = f"{METHODS[chosen][0]} failed ({type(err).__name__}: {err}); used the fallback."
        chosen = "permutation"
        values, base, out = _permutation(run, bg, x)
    seconds = time.perf_counter() - started
    out = np.asarray(out, dtype=np.float64).reshape(-1)
    grouped = group_by_source(values, pre.source_columns_, run.features)
    err = float(np.max(np.abs(base + values.sum(axis=1) - out)))
    name, space, _ = METHODS[chosen]
    return Explanation(grouped, values, run.features, pre.feature_names_out_, base, out, space,
                       rows, name, reason, err, len(bg), round(seconds, 3))


def save_explanation(run: Run, exp: Explanation) -> None:
    """Cache an explanation in the run folder (``explain.npz`` + ``explain.json``)."""
    np.savez_compressed(run.folder / "explain.npz", values=exp.values,
                        encoded_values=exp.encoded_values, output=exp.output)
    exp.rows.to_parquet(run.folder / "explain_rows.parquet", index=False)
    meta = {k: getattr(exp, k) for k in ("columns", "encoded_names", "base_value", "output_space",
                                         "explainer", "reason", "additivity_max_error",
                                         "background_rows", "seconds")}
    (run.folder / "explain.json").write_text(json.dumps(meta))


def load_explanation(run: Run) -> Explanation | None:
    """The cached explanation of a run, or None."""
    meta_path = run.folder / "explain.json"
    if not meta_path.exists():
        return None
    meta = json.loads(meta_path.read_text())
    arrays = np.load(run.folder / "explain.npz")
    rows = pd.read_parquet(run.folder / "explain_rows.parquet")
    return Explanation(arrays["values"], arrays["encoded_values"], meta["columns"],
                       meta["encoded_names"], meta["base_value"], arrays["output"],
                       meta["output_space"], rows, meta["explainer"], meta["reason"],
                       meta["additivity_max_error"], meta["background_rows"], meta["seconds"])


def explain_cached(run: Run, n_rows: int = 1000, seed: int = 42) -> Explanation:
    """Return the cached explanation when it covers ``n_rows``, else compute and cache it."""
    cached = load_explanation(run)
    if cached is not None and len(cached.rows) == min(n_rows, len(run.test_frame)):
        return cached
    exp = explain_run(run, n_rows, seed)
    save_explanation(run, exp)
    return exp
