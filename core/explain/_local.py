"""Reading an :class:`~core.explain.Explanation`: one row's contributions and the sentence that
says them, which rows to look at, dependence and interactions, and permutation importance.

Nothing here recomputes SHAP values except :func:`explain_test_row` and :func:`what_if`, which
explain one or a few rows with the explainer the cached explanation used.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from core.errors import ExplainError
from core.explain._explain import Explanation, explain_frame
from core.explain._explainers import METHODS
from core.runs import LABEL_COL, Run

ROW_CHOICES = ("rank", "surprising", "id")


def _fmt_value(v) -> str:
    if isinstance(v, float | np.floating):
        return f"{v:,.4g}"
    return str(v)


def contributions(exp: Explanation, i: int, encoded: bool = False) -> pd.Series:
    """SHAP values of explained row ``i``, labelled ``"column = value"``.

    Args:
        exp: The explanation.
        i: Row position in ``exp.rows``.
        encoded: Per encoded feature (``"job=admin."``) instead of per source column.

    Returns:
        Series of length n_columns (or n_encoded), in model order.
    """
    if encoded:
        if not exp.encoded_names:
            raise ExplainError(f"{exp.explainer} works per source column, so there are no values "
                               f"per encoded feature. Switch back to source columns.")
        return pd.Series(exp.encoded_values[i], index=exp.encoded_names)
    row = exp.rows.iloc[i]
    return pd.Series(exp.values[i], index=[f"{c} = {_fmt_value(row[c])}" for c in exp.columns])


def with_names(exp: Explanation, names: dict[str, str]) -> Explanation:
    """A copy of an explanation for people to read: its columns named as the analyst's file had
    them (``emp.var.rate``, not ``emp_var_rate``), in ``columns``, ``rows`` and the
    ``column=level`` encoded names. Compute with the original (SQL) names; show this copy.

    Args:
        exp: The explanation.
        names: SQL column name → the file's header (:func:`core.runs.column_names`).

    Returns:
        The renamed copy, or ``exp`` itself when nothing is renamed or two columns would
        share a name.
    """
    shown = [names.get(c, c) for c in exp.columns]
    if shown == list(exp.columns) or len(set(shown)) < len(shown):
        return exp

    def encoded(name: str) -> str:
        column, sep, level = name.partition("=")
        return names.get(column, column) + sep + level

    return dataclasses.replace(exp, columns=shown, rows=exp.rows.rename(columns=names),
                               encoded_names=[encoded(n) for n in exp.encoded_names])


class RowFacts(NamedTuple):
    """What one explained row says, in words for a heading.

    Attributes:
        score_label: ``score``, ``probability of 'x'`` or ``prediction``.
        score: The explained output, formatted.
        actual: The row's outcome (class name, or the target's value), or ``unknown``.
        about: The class or target the row's sentence speaks of (:func:`explain_in_words`).
    """

    score_label: str
    score: str
    actual: str
    about: str


def row_facts(run: Run, exp: Explanation, i: int) -> RowFacts:
    """The heading facts of explained row ``i`` for a binary, multiclass or regression run."""
    c, row_id = run.config, int(exp.row_ids[i])
    if c.task == "multiclass":
        label = int(exp.labels[i])
        actual = str(c.classes[label]) if 0 <= label < len(c.classes) else "unknown"
        return RowFacts(f"probability of '{exp.target_class}'", f"{exp.scores[i]:.3f}", actual,
                        str(exp.target_class))
    if c.task == "regression":
        known = 0 <= row_id < len(run.test_frame)
        actual = f"{float(run.test_frame[LABEL_COL].iloc[row_id]):,.4g}" if known else "unknown"
        return RowFacts("prediction", f"{exp.scores[i]:,.4g}", actual, c.target)
    positive = c.positive_class or "positive"
    negative = c.negative_class or f"not {positive}"
    actual = {1: positive, 0: negative}.get(int(exp.labels[i]), "unknown")
    return RowFacts("score", f"{exp.scores[i]:.3f}", actual, positive)


def _as_probability(v: float, space: str) -> float:
    return float(1 / (1 + np.exp(-v))) if space == "log-odds" else float(v)


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def explain_in_words(contrib: pd.Series, base_value: float, output: float, space: str,
                     positive: str = "positive", top: int = 3, calibrated: bool = True,
                     task: str = "binary") -> str:
    """One plain-language sentence: why the score is above or below the baseline.

    The reference is the SHAP base value: the model's expected output over the background
    rows, shown as a probability (for log-odds models, the average log-odds mapped through
    the sigmoid, which is not the average probability).

    Args:
        contrib: SHAP value per ``"column = value"`` label.
        base_value: Expected model output (average over the background).
        output: This row's model output.
        space: ``"probability"`` or ``"log-odds"`` (converted to a probability for the text).
        positive: The positive class, as the analyst named it.
        top: Most drivers named.
        calibrated: False when the scores are not probabilities (e.g. a model trained with
            balanced class weights): the sentence then speaks of a score, and says why.
        task: ``binary``, ``multiclass`` (``positive`` is the explained class) or
            ``regression`` (``positive`` is the target; values in its units).

    Returns:
        E.g. "The probability of 'yes' is 62.0%, higher than the base value of 10.0% (the
        average probability over the background rows), mainly because poutcome = success
        (+0.210), month = mar (+0.080); age = 35 (−0.020) pulls it down."
    """
    if task == "regression":
        return _regression_words(contrib, base_value, output, positive, top)
    up = output >= base_value
    score, avg = _as_probability(output, space), _as_probability(base_value, space)
    units = " log-odds" if space == "log-odds" else ""
    drivers = contrib[contrib > 0] if up else contrib[contrib < 0]
    drivers = drivers.reindex(drivers.abs().sort_values(ascending=False).index)[:top]
    against = contrib[contrib < 0] if up else contrib[contrib > 0]
    what = "probability" if calibrated else "score"
    base = (f"the base value of {avg:.1%} (the average {what} over the background rows)"
            if space != "log-odds" else
            f"the base value of {avg:.1%} (the average log-odds over the background rows, "
            f"{base_value:+.2f}, read as a probability)")
    text = f"The {what} of '{positive}' is {score:.1%}, {'higher' if up else 'lower'} than {base}"
    if len(drivers):
        named = [f"{k} ({v:+.3f}{units})" for k, v in drivers.items()]
        text += f", mainly because {_join(named)}"
    if len(against):
        k = against.abs().idxmax()
        text += f"; {k} ({against[k]:+.3f}{units}) pulls it {'down' if up else 'up'}"
    text += "."
    if space == "log-odds":
        text += " Contributions add up on the model's log-odds scale, not in percentage points."
    if not calibrated:
        text += (" The model was trained with balanced class weights, so its scores overstate "
                 "the probability; compare rows with each other, not with the base rate.")
    return text


def _regression_words(contrib: pd.Series, base_value: float, output: float, target: str,
                      top: int) -> str:
    up = output >= base_value
    drivers = contrib[contrib > 0] if up else contrib[contrib < 0]
    drivers = drivers.reindex(drivers.abs().sort_values(ascending=False).index)[:top]
    against = contrib[contrib < 0] if up else contrib[contrib > 0]
    text = (f"The prediction of '{target}' is {output:,.4g}, {'higher' if up else 'lower'} than "
            f"the base value of {base_value:,.4g} (the average prediction over the background "
            f"rows)")
    if len(drivers):
        text += ", mainly because " + _join([f"{k} ({v:+,.4g})" for k, v in drivers.items()])
    if len(against):
        k = against.abs().idxmax()
        text += f"; {k} ({against[k]:+,.4g}) pulls it {'down' if up else 'up'}"
    return text + f". Contributions are in the units of '{target}'."


def row_order(exp: Explanation, how: str = "rank", threshold: float = 0.5) -> np.ndarray:
    """Explained rows in the order an analyst looks at them.

    Args:
        exp: The explanation.
        how: ``"rank"`` (highest score first) or ``"surprising"`` (misclassified rows at the
            threshold, the most confident mistakes first: largest |label − score|).
        threshold: Decision threshold for ``"surprising"``.

    Returns:
        Row positions into ``exp.rows`` (empty when there is no mistake).
    """
    if how == "rank":
        return np.argsort(-exp.scores, kind="mergesort")
    if how != "surprising":
        raise ExplainError(f"Choose rows by one of {', '.join(ROW_CHOICES)}; got {how!r}.")
    known = exp.labels >= 0
    wrong = known & ((exp.scores >= threshold).astype(int) != exp.labels)
    idx = np.flatnonzero(wrong)
    gap = np.abs(exp.labels[idx] - exp.scores[idx])
    return idx[np.argsort(-gap, kind="mergesort")]


def explain_test_row(run: Run, exp: Explanation, row_id: int) -> tuple[Explanation, int]:
    """One test row's explanation, by its id (position in the run's test split).

    Taken from ``exp`` when the row was explained, computed with the same explainer otherwise.

    Returns:
        ``(explanation, i)``: the explanation holding the row and its position in it.

    Raises:
        ExplainError: The id is outside the test split.
    """
    n = len(run.test_frame)
    if not 0 <= row_id < n:
        raise ExplainError(f"Row id must be between 0 and {n - 1} (a position in the test "
                           f"split); got {row_id}.")
    hit = np.flatnonzero(exp.row_ids == row_id)
    if hit.size:
        return exp, int(hit[0])
    one = explain_frame(run, run.test_frame.iloc[[row_id]], exp.method or "auto",
                        row_ids=np.array([row_id]), target_class=exp.target_class)
    return one, 0


def what_if(run: Run, exp: Explanation, edited: pd.DataFrame) -> Explanation:
    """Score and explain rows the analyst edited, with the explainer ``exp`` used.

    Args:
        run: The run.
        exp: The explanation whose explainer to reuse.
        edited: Raw rows with the run's feature columns, shape (n_rows, n_features).

    Returns:
        The edited rows' :class:`~core.explain.Explanation` (labels unknown: -1).
    """
    frame = edited.drop(columns=[LABEL_COL], errors="ignore")
    return explain_frame(run, frame, exp.method or "auto", target_class=exp.target_class)


def _numeric_codes(frame: pd.DataFrame) -> np.ndarray:
    cols = []
    for c in frame.columns:
        s = frame[c]
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            cols.append(pd.to_numeric(s, errors="coerce").astype(float).to_numpy())
        else:
            cols.append(pd.Categorical(s.astype(str)).codes.astype(float))
    return np.column_stack(cols)


def strongest_interaction(exp: Explanation, column: str) -> str | None:
    """The column that seems to interact most with ``column``.

    Uses ``shap.utils.approximate_interactions``: the rows are binned along ``column`` and, in
    each bin, its SHAP values are correlated with every other column (categories as codes).

    Returns:
        A column name, or None when there is no other column.
    """
    import shap

    j = exp.columns.index(column)
    order = shap.utils.approximate_interactions(j, exp.values, _numeric_codes(exp.rows))
    others = [int(k) for k in order if int(k) != j]
    return exp.columns[others[0]] if others else None


@dataclass(frozen=True)
class _Scorer:
    """The minimal estimator scikit-learn's permutation importance needs: scores raw rows."""

    run: Run

    def fit(self, x, y):  # noqa: D102  (never called: the run is already trained)
        return self


def permutation_importance_run(run: Run, rows: int = 2000, repeats: int = 5,
                               seed: int = 0,
                               progress: Callable[[int, int, str], None] | None = None,
                               ) -> pd.DataFrame:
    """Drop in test ROC-AUC when one column's values are shuffled (Breiman, 2001).

    Computed with ``sklearn.inspection.permutation_importance`` on raw test rows, so a column is
    shuffled as the analyst sees it (all its one-hot parts move together).

    Args:
        run: A binary run.
        rows: Test rows used (a seeded sample when there are more).
        repeats: Shuffles per column.
        seed: Seed of the sample and the shuffles.
        progress: Called as ``progress(done, total, column)`` before each column.

    Returns:
        Columns ``feature``, ``importance`` (mean ROC-AUC drop) and ``std``, largest first.

    Raises:
        ExplainError: The test rows have one class only (ROC-AUC undefined).
    """
    from sklearn.inspection import permutation_importance
    from sklearn.metrics import roc_auc_score

    test = run.test_frame
    take = np.sort(np.random.default_rng(seed).choice(len(test), min(rows, len(test)),
                                                      replace=False))
    frame = test.iloc[take][run.features].reset_index(drop=True)
    y = test[LABEL_COL].to_numpy()[take]
    if len(np.unique(y)) < 2:
        raise ExplainError("Permutation importance needs both classes among the test rows; "
                           "these have one class only.")

    means, stds = [], []
    for k, column in enumerate(run.features):
        if progress is not None:
            progress(k, len(run.features), column)

        def score(est, x, target, column=column):
            return roc_auc_score(target, est.run.predict(frame.assign(**{column: x[column]})))

        # one column at a time (for the progress): scikit-learn shuffles every column with
        # the same seed drawn from random_state, so the figures equal one call on all columns
        r = permutation_importance(_Scorer(run), frame[[column]], y, scoring=score,
                                   n_repeats=repeats, random_state=seed)
        means.append(float(r.importances_mean[0]))
        stds.append(float(r.importances_std[0]))
    if progress is not None:
        progress(len(run.features), len(run.features), "done")
    df = pd.DataFrame({"feature": run.features, "importance": means, "std": stds})
    return df.sort_values("importance", ascending=False, ignore_index=True)


def explainer_names() -> dict[str, str]:
    """Display names of the explainers an analyst can force, by key."""
    return {k: m.name for k, m in METHODS.items()}
