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
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import ExplainError
from core.explain._explainers import (
    ADDITIVITY_TOL,
    BINARY,
    MEMORY_BUDGET,
    METHODS,
    WHY,
    Output,
    cost_per_row,
    method_chain,
    seconds_per_evaluation,
)
from core.runs import LABEL_COL, SCORE_COL, Run

log = logging.getLogger(__name__)
BACKGROUND_MAX = 100
CACHE_VERSION = 4  # 4: multiclass and regression runs (2026-12-03); 3: random background rows
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
        labels: Label of each row, shape (n_rows,): 0/1 (binary), the class index (multiclass),
            -1 (regression, or unknown).
        scores: The run's score of each row, shape (n_rows,): the positive-class probability
            (binary), the explained class's probability (multiclass), the prediction
            (regression).
        encoded_rows: Encoded model input of each row, shape (n_rows, n_encoded).
        requested_rows: Rows asked for; more than ``len(rows)`` when the time budget ran out.
        target_class: The class whose probability is explained (multiclass runs), else None.
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
    target_class: str | None = None

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


MIN_REFUSAL_S = 1.0  # a row estimated under a second is always tried (estimates are rough)


class ExplainCancelled(ExplainError):
    """The analyst cancelled an explanation (raised from the progress callback between
    chunks); the explainer chain does not move on to the next explainer."""


def _plan(key: str, model, x: np.ndarray, bg: np.ndarray, blocks: list[np.ndarray],
          out: Output, budget_s: float | None) -> tuple[int, str]:
    """Rows per chunk and a note, from the explainer's cost estimated before it starts.

    Memory: a chunk must fit :data:`MEMORY_BUDGET`; a single row that does not is refused.
    Time: the model's scoring speed is measured on the background, and with a budget the
    chunk is cut so that one chunk takes at most a quarter of it; a single row estimated over
    the whole budget (and over :data:`MIN_REFUSAL_S`) is refused.

    Raises:
        ExplainError: One row needs more memory, or more time, than allowed.
    """
    method = METHODS[key]
    evals, nbytes = cost_per_row(key, len(blocks), x.shape[1], len(bg))
    if nbytes > MEMORY_BUDGET:
        raise ExplainError(f"{method.name} would need about {nbytes / 2**30:,.1f} GiB for one "
                           f"row of this {len(blocks):,}-column model (limit "
                           f"{MEMORY_BUDGET / 2**30:.0f} GiB)")
    chunk = max(1, min(method.chunk, MEMORY_BUDGET // max(nbytes, 1)))
    note = ""
    if budget_s is not None and key in ("permutation", "kernel", "deep", "gradient"):
        per_row = evals * seconds_per_evaluation(out.scorer(model), bg, key, evals, len(x))
        if per_row > max(budget_s, MIN_REFUSAL_S):
            raise ExplainError(f"{method.name} would take about {per_row:,.0f} s for one row, "
                               f"over the {budget_s:g} s budget")
        if budget_s > 0:  # a zero budget still explains one chunk, as documented
            chunk = max(1, min(chunk, int(budget_s / 4 / max(per_row, 1e-9))))
        affordable = int(budget_s / max(per_row, 1e-9))
        if affordable < len(x):
            note = (f" About {per_row:.2f} s a row: within the {budget_s:g} s budget about "
                    f"{affordable:,} of the {len(x):,} rows asked for can be explained.")
    return chunk, note


def _run_method(key: str, model, x: np.ndarray, bg: np.ndarray, blocks: list[np.ndarray],
                budget_s: float | None, progress: Progress | None, out: Output = BINARY,
                last: bool = True):
    """Explain rows in chunks until done or over budget (at least one chunk).

    An explainer whose values miss the model output on the first chunk by more than
    :data:`ADDITIVITY_TOL` (in probability; scaled by the outputs' spread in target units)
    raises, so the chain moves on to one that adds up — unless it is the chain's last, or was
    chosen by name (its error is then reported)."""
    method = METHODS[key]
    started = time.perf_counter()
    chunk, note = _plan(key, model, x, bg, blocks, out, budget_s)
    prepared = method.prepare(model, bg, blocks, out)
    values, outputs = [], []
    for start in range(0, len(x), chunk):
        v, y = prepared.explain(x[start:start + chunk])
        values.append(np.asarray(v, dtype=np.float64))
        outputs.append(np.asarray(y, dtype=np.float64).reshape(-1))
        done = start + len(v)
        if start == 0:
            err = np.max(np.abs(prepared.base_value + values[0].sum(1) - outputs[0]))
            tol = ADDITIVITY_TOL * _spread(outputs[0], out)
            if err > tol and (method.exact or not last):
                raise ExplainError(f"{method.name} missed the model output by {err:.2e} "
                                   f"(tolerance {tol:.0e})")
        if progress is not None:
            progress(done, len(x), method.name)
        if budget_s is not None and time.perf_counter() - started > budget_s and done < len(x):
            log.info("%s stopped by the %s s budget after %d rows", key, budget_s, done)
            break
    return np.vstack(values), prepared.base_value, np.concatenate(outputs), note


def _spread(outputs: np.ndarray, out: Output) -> float:
    """The scale the additivity tolerance is relative to: 1 for probabilities, the outputs'
    spread (at least 1) for a regression in target units."""
    if out.task != "regression":
        return 1.0
    return max(1.0, float(np.std(outputs)))


def explain_encoded(model, model_name: str, x: np.ndarray, bg: np.ndarray,
                    blocks: list[np.ndarray], method: str = "auto", budget_s: float | None = None,
                    progress: Progress | None = None, out: Output = BINARY) -> dict:
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
        out: The model output explained (task, class, regression scaling).

    Returns:
        ``{"values", "base_value", "output", "method", "reason", "seconds"}``: values of shape
        (n_done, n_encoded), or (n_done, n_columns) for a per-column explainer; fewer rows
        than ``x`` when the budget ran out.

    Raises:
        ExplainError: Unknown method, or every explainer tried failed.
    """
    if method != "auto" and method not in METHODS:
        raise ExplainError(f"method must be 'auto' or one of {', '.join(METHODS)}; got {method!r}.")
    chain = method_chain(model, model_name, out.task) if method == "auto" else [method]
    failures = []
    for i, key in enumerate(chain):
        started = time.perf_counter()
        try:
            values, base, output, note = _run_method(key, model, x, bg, blocks, budget_s,
                                                     progress, out, last=i == len(chain) - 1)
        except ExplainCancelled:
            raise
        except Exception as err:  # any SHAP failure → the next explainer, reported
            log.warning("%s failed (%s: %s)", key, type(err).__name__, err)
            failures.append(f"{METHODS[key].name} failed ({type(err).__name__}: {err})")
            continue
        why = WHY[key] if method == "auto" else f"{METHODS[key].name}, chosen by the user."
        reason = "; ".join([*failures, f"used {METHODS[key].name}"]) + "." if failures else why
        return {"values": values, "base_value": base, "output": output, "method": key,
                "reason": reason + note, "seconds": time.perf_counter() - started}
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


def run_output(run: Run, target_class: str | None = None) -> tuple[Output, str, str | None]:
    """What an explanation of a run explains: ``(output, units in words, class)``.

    Binary runs: the positive-class probability (log-odds for trees and linear models).
    Multiclass: the probability of ``target_class`` (default: the first class). Regression:
    the prediction in the target's units (a network's standardised output mapped back).

    Raises:
        ExplainError: A next-item or uplift run, or an unknown class.
    """
    c = run.config
    if c.task == "binary":
        return BINARY, "probability", None
    if c.task == "regression":
        scaling = tuple(c.target_scaling) if c.target_scaling else None
        return Output("regression", 0, scaling), f"{c.target} (target units)", None
    if c.task == "multiclass":
        classes = [str(k) for k in c.classes]
        chosen = classes[0] if target_class is None else str(target_class)
        if chosen not in classes:
            raise ExplainError(f"'{chosen}' is not a class of this run; its classes are "
                               f"{', '.join(classes)}.")
        return (Output("multiclass", classes.index(chosen)),
                f"probability of class '{chosen}'", chosen)
    raise ExplainError(f"SHAP explanations cover binary, multiclass and regression runs; this "
                       f"run is {c.task}.")


def explain_frame(run: Run, frame: pd.DataFrame, method: str = "auto",
                  background_rows: int = BACKGROUND_MAX, budget_s: float | None = None,
                  progress: Progress | None = None, row_ids: np.ndarray | None = None,
                  requested: int | None = None, target_class: str | None = None) -> Explanation:
    """Explain raw rows with a run's model (test rows, or rows the analyst edited).

    Args:
        run: A saved binary, multiclass or regression run.
        frame: Raw rows with the run's feature columns, shape (n_rows, n_features); may carry
            ``__label`` / ``__score``.
        method: ``"auto"`` or a key of ``METHODS``.
        background_rows: Background rows (<= 100) from the saved training rows.
        budget_s: Time budget in seconds (None = no limit).
        progress: Called with ``(rows done, rows, explainer name)``.
        row_ids: Test-split positions of the rows (default ``-1``: not test rows).
        requested: Rows asked for (default ``len(frame)``).
        target_class: The class explained (multiclass runs; default the first class).

    Returns:
        The :class:`Explanation`.

    Raises:
        ExplainError: Not a tabular run, bad sizes, or every explainer failed.
    """
    out, space, chosen = run_output(run, target_class)
    if not 1 <= background_rows <= BACKGROUND_MAX:
        raise ExplainError(f"background rows must be in 1..{BACKGROUND_MAX}; got "
                           f"{background_rows}.")
    pre, rows = run.preprocessor, frame[run.features].reset_index(drop=True)
    x = pre.transform(rows)
    bg = pre.transform(background_sample(run.background[run.features], background_rows))
    blocks = source_blocks(pre.source_columns_, run.features)
    r = explain_encoded(run.model, run.config.model, x, bg, blocks, method, budget_s,
                        progress, out)
    n, m = len(r["values"]), METHODS[r["method"]]
    if m.grouped:
        grouped, encoded, names = r["values"], np.zeros((n, 0)), []
    else:
        grouped = group_by_source(r["values"], pre.source_columns_, run.features)
        encoded, names = r["values"], list(pre.feature_names_out_)
    err = float(np.max(np.abs(r["base_value"] + r["values"].sum(axis=1) - r["output"])))
    labels = frame[LABEL_COL].to_numpy()[:n] if LABEL_COL in frame else np.full(n, -1)
    if out.task != "binary":  # the explained output: a class's probability, the prediction
        scores = r["output"]
    else:
        scores = (frame[SCORE_COL].to_numpy()[:n] if SCORE_COL in frame
                  else np.asarray(run.predict(rows[:n])).reshape(n, -1)[:, -1])
    units = m.space if out.task == "binary" else space
    return Explanation(
        grouped, encoded, run.features, names, r["base_value"],
        r["output"], units, rows.iloc[:n], m.name, r["reason"], err, len(bg),
        round(r["seconds"], 3), r["method"],
        np.asarray(row_ids if row_ids is not None else np.full(len(frame), -1))[:n],
        np.asarray(labels, dtype=float).astype(int) if out.task != "regression" else
        np.full(n, -1), np.asarray(scores, dtype=np.float64), x[:n], requested or len(frame),
        chosen)


def explain_run(
    run: Run, n_rows: int = 1000, seed: int = 42, method: str = "auto",
    background_rows: int = BACKGROUND_MAX, budget_s: float | None = None,
    progress: Progress | None = None, target_class: str | None = None,
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
                         progress, row_ids=take, requested=len(take), target_class=target_class)


_ARRAYS = ("values", "encoded_values", "output", "row_ids", "labels", "scores", "encoded_rows")
_META = ("columns", "encoded_names", "base_value", "output_space", "explainer", "reason",
         "additivity_max_error", "background_rows", "seconds", "method", "requested_rows",
         "target_class")


def save_explanation(run: Run, exp: Explanation, folder: Path | None = None) -> None:
    """Cache an explanation in the run folder (``explain.npz``, ``explain_rows.parquet``,
    ``explain.json`` written last, so a half-written cache is never read).

    Args:
        run: The explained run.
        exp: Its explanation.
        folder: Write there instead of the run folder (a job's worker writes a temporary
            folder that the server then moves into the cache: :func:`load_explanation` with
            the same ``folder``, then this function without it).
    """
    where = run.folder if folder is None else Path(folder)
    (where / "explain.json").unlink(missing_ok=True)  # the old cache is never read half-replaced
    np.savez_compressed(where / "explain.npz", **{k: getattr(exp, k) for k in _ARRAYS})
    exp.rows.to_parquet(where / "explain_rows.parquet", index=False)
    meta = {k: getattr(exp, k) for k in _META} | {"version": CACHE_VERSION}
    (where / "explain.json").write_text(json.dumps(meta))


def load_explanation(run: Run, folder: Path | None = None) -> Explanation | None:
    """The cached explanation of a run (or the one saved in ``folder``), or None (also for a
    cache of an older version)."""
    where = run.folder if folder is None else Path(folder)
    meta_path = where / "explain.json"
    if not meta_path.exists():
        return None
    meta = json.loads(meta_path.read_text())
    if meta.pop("version", None) != CACHE_VERSION:
        return None
    arrays = np.load(where / "explain.npz")
    rows = pd.read_parquet(where / "explain_rows.parquet")
    return Explanation(rows=rows, **{k: arrays[k] for k in _ARRAYS}, **meta)


def explain_cached(run: Run, n_rows: int = 1000, seed: int = 42, method: str = "auto",
                   budget_s: float | None = None, progress: Progress | None = None,
                   target_class: str | None = None) -> Explanation:
    """The cached explanation when it was asked for the same rows, method and class, else
    compute and cache a new one."""
    cached = load_explanation(run)
    want = min(n_rows, len(run.test_frame))
    chosen = run_output(run, target_class)[2]
    if (cached is not None and cached.requested_rows == want
            and method in ("auto", cached.method) and cached.target_class == chosen):
        return cached
    exp = explain_run(run, n_rows, seed, method, budget_s=budget_s, progress=progress,
                      target_class=target_class)
    save_explanation(run, exp)
    return exp
