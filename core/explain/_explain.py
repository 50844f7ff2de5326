"""SHAP explanations of a run, budgeted, with a fallback chain, grouped to the analyst's columns.

The explainer fits the model (:mod:`core.explain`: batched DeepLIFT, then shap's Deep and
Gradient explainers for Keras networks; TreeExplainer for ``hgb``; LinearExplainer for
``logreg``; a per-column PermutationExplainer as the model-agnostic fallback; KernelExplainer on
a k-means background on request). The first that works is used and the page says why.

Rows are explained in chunks under a row cap and a time budget, with progress. One-hot parts are
summed into their source column, which keeps additivity: base value + sum of SHAP values = model
output; the largest deviation is measured and reported, never hidden.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.errors import ExplainError
from core.explain._explainers import ADDITIVITY_TOL, METHODS, WHY, method_chain
from core.runs import LABEL_COL, SCORE_COL, Run

log = logging.getLogger(__name__)
BACKGROUND_MAX = 100
CACHE_VERSION = 3  # 3: background rows sampled at random (2026-12-01), not the first ones
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class Explanation:
    """SHAP values of a sample of test rows.

    Attributes:
        values: SHAP values grouped to source columns, shape (n_rows, n_columns).
        encoded_values: SHAP values per encoded feature, shape (n_rows, n_encoded); shape
            (n_rows, 0) when the explainer works per source column.
        columns: Source column names, length n_columns.
        encoded_names: Encoded feature names, length n_encoded (empty with ``encoded_values``).
        base_value: Expected model output over the background (same units as ``output``).
        output: Model output for each explained row, shape (n_rows,).
        output_space: ``"probability"`` or ``"log-odds"``: the units of values and output.
        rows: The explained rows' raw values, shape (n_rows, n_columns).
        explainer: Name of the SHAP explainer that ran.
        reason: Why that explainer ran (and what failed before it).
        additivity_max_error: max |base_value + sum(values) - output| over rows.
        background_rows: Rows in the background sample.
        seconds: Wall time of the SHAP computation.
        method: Key of the explainer (``deeplift``, ``deep``, ``gradient``, ``tree``, ``linear``,
            ``permutation``, ``kernel``).
        row_ids: Position of each explained row in the run's test split, shape (n_rows,).
        labels: 0/1 label of each row, shape (n_rows,).
        scores: The run's score (positive-class probability) of each row, shape (n_rows,).
        encoded_rows: Encoded model input of each row, shape (n_rows, n_encoded).
        requested_rows: Rows asked for; more than ``len(rows)`` when the time budget ran out.
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
    method: str = ""
    row_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0))
    encoded_rows: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    requested_rows: int = 0

    @property
    def additivity_ok(self) -> bool:
        """Whether base value + SHAP values reproduce the model output within 1e-3."""
        return self.additivity_max_error <= ADDITIVITY_TOL

    def importance(self, encoded: bool = False) -> pd.DataFrame:
        """Mean |SHAP value| per source column (or encoded feature), largest first.

        Returns:
            Columns ``feature`` and ``mean_abs_shap``.
        """
        values, names = ((self.encoded_values, self.encoded_names) if encoded
                         else (self.values, self.columns))
        df = pd.DataFrame({"feature": names, "mean_abs_shap": np.abs(values).mean(axis=0)})
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


def _run_method(key: str, model, x: np.ndarray, bg: np.ndarray, blocks: list[np.ndarray],
                budget_s: float | None, progress: Progress | None):
    """Explain rows in chunks until done or over budget (at least one chunk)."""
    method = METHODS[key]
    started = time.perf_counter()
    prepared = method.prepare(model, bg, blocks)
    values, outputs = [], []
    for start in range(0, len(x), method.chunk):
        v, out = prepared.explain(x[start:start + method.chunk])
        values.append(np.asarray(v, dtype=np.float64))
        outputs.append(np.asarray(out, dtype=np.float64).reshape(-1))
        done = start + len(v)
        if start == 0 and method.exact:
            err = np.max(np.abs(prepared.base_value + values[0].sum(1) - outputs[0]))
            if err > ADDITIVITY_TOL:
                raise ExplainError(f"{method.name} missed the model output by {err:.2e}")
        if progress is not None:
            progress(done, len(x), method.name)
        if budget_s is not None and time.perf_counter() - started > budget_s and done < len(x):
            log.info("%s stopped by the %s s budget after %d rows", key, budget_s, done)
            break
    return np.vstack(values), prepared.base_value, np.concatenate(outputs)


def explain_encoded(model, model_name: str, x: np.ndarray, bg: np.ndarray,
                    blocks: list[np.ndarray], method: str = "auto", budget_s: float | None = None,
                    progress: Progress | None = None) -> dict:
    """Run the first explainer of the chain that works on encoded rows.

    Args:
        model: A Keras network or a fitted scikit-learn classifier.
        model_name: The run's model family (``mlp``, ``hgb``, ``logreg`` …).
        x: Encoded rows of shape (n_rows, n_encoded).
        bg: Encoded background rows of shape (n_background, n_encoded).
        blocks: Encoded column indices of each source column (for per-column explainers).
        method: ``"auto"`` (the chain of :func:`method_chain`) or a key of ``METHODS``.
        budget_s: Time budget; explaining stops after the chunk that exceeds it.
        progress: Called with ``(rows done, rows, explainer name)`` after each chunk.

    Returns:
        ``{"values", "base_value", "output", "method", "reason", "seconds"}``: values of shape
        (n_done, n_encoded), or (n_done, n_columns) for a per-column explainer; fewer rows
        than ``x`` when the budget ran out.

    Raises:
        ExplainError: Unknown method, or every explainer tried failed.
    """
    if method != "auto" and method not in METHODS:
        raise ExplainError(f"method must be 'auto' or one of {', '.join(METHODS)}; got {method!r}.")
    chain = method_chain(model, model_name) if method == "auto" else [method]
    failures = []
    for key in chain:
        started = time.perf_counter()
        try:
            values, base, out = _run_method(key, model, x, bg, blocks, budget_s, progress)
        except Exception as err:  # any SHAP failure → the next explainer, reported
            log.warning("%s failed (%s: %s)", key, type(err).__name__, err)
            failures.append(f"{METHODS[key].name} failed ({type(err).__name__}: {err})")
            continue
        why = WHY[key] if method == "auto" else f"{METHODS[key].name}, chosen by the user."
        reason = "; ".join([*failures, f"used {METHODS[key].name}"]) + "." if failures else why
        return {"values": values, "base_value": base, "output": out, "method": key,
                "reason": reason, "seconds": time.perf_counter() - started}
    raise ExplainError("SHAP failed for this model: " + "; ".join(failures) + ". Retrain the "
                       "model, or choose another explainer.")


def source_blocks(sources: list[str], columns: list[str]) -> list[np.ndarray]:
    """Encoded column indices of each source column, in ``columns`` order."""
    where = np.asarray(sources)
    return [np.flatnonzero(where == c) for c in columns]


def _rows(run: Run, n_rows: int, seed: int) -> np.ndarray:
    test = run.test_frame
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(len(test), size=min(n_rows, len(test)), replace=False))


def background_sample(rows: pd.DataFrame, k: int, seed: int = 0) -> pd.DataFrame:
    """A uniform random sample of ``k`` of the run's saved background rows (all when fewer).

    Runs saved before 2026-12-01 kept their background rows in table order, so taking the
    first ``k`` described the start of the table (often its earliest months); sampling is
    right for those and harmless for newer runs, whose rows are in random order.

    Args:
        rows: Raw background rows, shape (n_saved, n_features).
        k: Rows wanted.
        seed: Sampling seed (fixed, so an explanation is reproducible).

    Returns:
        ``min(k, n_saved)`` rows, shape (min(k, n_saved), n_features).
    """
    if k >= len(rows):
        return rows
    return rows.sample(n=k, random_state=seed)


def explain_frame(run: Run, frame: pd.DataFrame, method: str = "auto",
                  background_rows: int = BACKGROUND_MAX, budget_s: float | None = None,
                  progress: Progress | None = None, row_ids: np.ndarray | None = None,
                  requested: int | None = None) -> Explanation:
    """Explain raw rows with a run's model (test rows, or rows the analyst edited).

    Args:
        run: A saved binary run.
        frame: Raw rows with the run's feature columns, shape (n_rows, n_features); may carry
            ``__label`` / ``__score``.
        method: ``"auto"`` or a key of ``METHODS``.
        background_rows: Background rows (<= 100) from the saved training rows.
        budget_s: Time budget in seconds (None = no limit).
        progress: Called with ``(rows done, rows, explainer name)``.
        row_ids: Test-split positions of the rows (default ``-1``: not test rows).
        requested: Rows asked for (default ``len(frame)``).

    Returns:
        The :class:`Explanation`.

    Raises:
        ExplainError: Not a binary run, bad sizes, or every explainer failed.
    """
    task = run.config.task
    if task != "binary":
        raise ExplainError(f"SHAP explanations cover binary runs for now; this run is {task}. "
                           f"Evaluate it on the Evaluate page.")
    if not 1 <= background_rows <= BACKGROUND_MAX:
        raise ExplainError(f"background rows must be in 1..{BACKGROUND_MAX}; got "
                           f"{background_rows}.")
    pre, rows = run.preprocessor, frame[run.features].reset_index(drop=True)
    x = pre.transform(rows)
    bg = pre.transform(background_sample(run.background[run.features], background_rows))
    blocks = source_blocks(pre.source_columns_, run.features)
    r = explain_encoded(run.model, run.config.model, x, bg, blocks, method, budget_s,
                        progress)
    n, m = len(r["values"]), METHODS[r["method"]]
    if m.grouped:
        grouped, encoded, names = r["values"], np.zeros((n, 0)), []
    else:
        grouped = group_by_source(r["values"], pre.source_columns_, run.features)
        encoded, names = r["values"], list(pre.feature_names_out_)
    err = float(np.max(np.abs(r["base_value"] + r["values"].sum(axis=1) - r["output"])))
    labels = frame[LABEL_COL].to_numpy()[:n] if LABEL_COL in frame else np.full(n, -1)
    scores = frame[SCORE_COL].to_numpy()[:n] if SCORE_COL in frame else run.predict(rows[:n])
    return Explanation(
        grouped, encoded, run.features, names, r["base_value"],
        r["output"], m.space, rows.iloc[:n], m.name, r["reason"], err, len(bg),
        round(r["seconds"], 3), r["method"],
        np.asarray(row_ids if row_ids is not None else np.full(len(frame), -1))[:n],
        np.asarray(labels, dtype=int), np.asarray(scores, dtype=np.float64), x[:n],
        requested or len(frame))


def explain_run(
    run: Run, n_rows: int = 1000, seed: int = 42, method: str = "auto",
    background_rows: int = BACKGROUND_MAX, budget_s: float | None = None,
    progress: Progress | None = None,
) -> Explanation:
    """Compute SHAP values for a seeded sample of the run's test rows.

    Args:
        run: A saved binary run.
        n_rows: Test rows to explain (a seeded random sample when the test split is larger).
        seed: Seed of the row sample.
        method: ``"auto"`` or one of ``METHODS``.
        background_rows: Background rows (<= 100) drawn from the saved training rows.
        budget_s: Time budget in seconds; fewer rows are explained when it runs out.
        progress: Called with ``(rows done, rows, explainer name)`` after each chunk.

    Returns:
        The :class:`Explanation`.

    Raises:
        ExplainError: Invalid sizes, or every applicable explainer failed.
    """
    if n_rows < 1:
        raise ExplainError(f"rows must be at least 1; got {n_rows}.")
    take = _rows(run, n_rows, seed)
    return explain_frame(run, run.test_frame.iloc[take], method, background_rows, budget_s,
                         progress, row_ids=take, requested=len(take))


_ARRAYS = ("values", "encoded_values", "output", "row_ids", "labels", "scores", "encoded_rows")
_META = ("columns", "encoded_names", "base_value", "output_space", "explainer", "reason",
         "additivity_max_error", "background_rows", "seconds", "method", "requested_rows")


def save_explanation(run: Run, exp: Explanation) -> None:
    """Cache an explanation in the run folder (``explain.npz``, ``explain_rows.parquet``,
    ``explain.json`` written last, so a half-written cache is never read)."""
    np.savez_compressed(run.folder / "explain.npz", **{k: getattr(exp, k) for k in _ARRAYS})
    exp.rows.to_parquet(run.folder / "explain_rows.parquet", index=False)
    meta = {k: getattr(exp, k) for k in _META} | {"version": CACHE_VERSION}
    (run.folder / "explain.json").write_text(json.dumps(meta))


def load_explanation(run: Run) -> Explanation | None:
    """The cached explanation of a run, or None (also for a cache of an older version)."""
    meta_path = run.folder / "explain.json"
    if not meta_path.exists():
        return None
    meta = json.loads(meta_path.read_text())
    if meta.pop("version", None) != CACHE_VERSION:
        return None
    arrays = np.load(run.folder / "explain.npz")
    rows = pd.read_parquet(run.folder / "explain_rows.parquet")
    return Explanation(rows=rows, **{k: arrays[k] for k in _ARRAYS}, **meta)


def explain_cached(run: Run, n_rows: int = 1000, seed: int = 42, method: str = "auto",
                   budget_s: float | None = None, progress: Progress | None = None) -> Explanation:
    """The cached explanation when it was asked for the same rows and method, else compute and
    cache a new one."""
    cached = load_explanation(run)
    want = min(n_rows, len(run.test_frame))
    if cached is not None and cached.requested_rows == want and method in ("auto", cached.method):
        return cached
    exp = explain_run(run, n_rows, seed, method, budget_s=budget_s, progress=progress)
    save_explanation(run, exp)
    return exp
