"""Partial dependence and ICE curves for any model, and SHAP interaction values for trees.

Partial dependence (Friedman, 2001) of a column is the model's average output when every row's
value of that column is set to one grid value, for each value of the grid; ICE curves
(Goldstein et al., 2015) are the same per row. Both come from scikit-learn's
``sklearn.inspection.partial_dependence`` (``method="brute"``, ``kind="both"``) on the analyst's
raw rows: the run is wrapped as an estimator whose ``predict_proba``/``predict`` goes through
:meth:`core.runs.Run.predict`, so a column is varied as the analyst sees it (its one-hot or
piecewise-linear parts move together) and networks get exactly the grid the baselines get.

SHAP interaction values (Lundberg et al., 2020, "From local explanations to global
understanding with explainable AI for trees") come from ``shap.TreeExplainer`` for the
gradient-boosting baseline, summed over the encoded parts of each column in both axes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import ExplainError
from core.runs import Run

GRID_RESOLUTION = 20
PERCENTILES = (0.05, 0.95)


@dataclass(frozen=True)
class PartialDependence:
    """A column's partial dependence and ICE curves.

    Attributes:
        feature: The source column.
        categorical: Whether the grid is the column's levels (else numeric values).
        grid: Grid values, length n_grid.
        average: Partial dependence (mean output over rows) at each grid value, (n_grid,).
        individual: ICE: each row's output at each grid value, (n_rows, n_grid).
        output: What the output is, e.g. ``"probability of yes"``.
        rows: Rows averaged over.
    """

    feature: str
    categorical: bool
    grid: list
    average: np.ndarray
    individual: np.ndarray
    output: str
    rows: int


def _estimator(run: Run):
    """The run as a fitted scikit-learn estimator on raw rows."""
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

    class RunClassifier(ClassifierMixin, BaseEstimator):
        def __init__(self, run=None):
            self.run = run
            self.classes_ = np.array([0, 1])

        def fit(self, x, y=None):  # the run is trained already
            return self

        def predict_proba(self, x):
            p = np.asarray(self.run.predict(pd.DataFrame(x, columns=self.run.features)),
                           dtype=float)
            return np.column_stack([1.0 - p, p])

    class RunRegressor(RegressorMixin, BaseEstimator):
        def __init__(self, run=None):
            self.run = run
            self.fitted_ = True

        def fit(self, x, y=None):
            return self

        def predict(self, x):
            return np.asarray(self.run.predict(pd.DataFrame(x, columns=self.run.features)),
                              dtype=float)

    if run.config.task == "binary":
        return RunClassifier(run)
    if run.config.task == "regression":
        return RunRegressor(run)
    raise ExplainError(f"Partial dependence covers binary and regression runs; this is a "
                       f"{run.config.task} run.")


def _sample(run: Run, rows: int, seed: int) -> pd.DataFrame:
    test = run.test_frame
    take = np.sort(np.random.default_rng(seed).choice(len(test), min(rows, len(test)),
                                                      replace=False))
    return test.iloc[take][run.features].reset_index(drop=True)


def is_categorical(run: Run, feature: str) -> bool:
    """Whether the run encodes a column by its levels (one-hot) rather than as a number."""
    return feature not in run.preprocessor.numeric_


def partial_dependence_run(run: Run, feature: str, rows: int = 300,
                           grid_resolution: int = GRID_RESOLUTION, seed: int = 0,
                           ) -> PartialDependence:
    """Partial dependence and ICE of one column on a seeded sample of test rows.

    The grid is scikit-learn's: ``grid_resolution`` evenly spaced values between the 5th and
    95th percentiles of a numeric column (its distinct values when fewer), or every level of a
    categorical one (missing values are left out of a numeric grid).

    Args:
        run: A binary or regression run.
        feature: One of the run's source columns.
        rows: Test rows averaged over (a seeded sample when there are more).
        grid_resolution: Most grid points of a numeric column.
        seed: Seed of the sample.

    Returns:
        The :class:`PartialDependence` (binary: positive-class probability; regression: the
        prediction in the target's units).

    Raises:
        ExplainError: Not a binary or regression run, an unknown column, or a numeric column
            with fewer than two values.
    """
    from sklearn.inspection import partial_dependence

    if feature not in run.features:
        raise ExplainError(f"'{feature}' is not a feature of this run; its features are: "
                           f"{', '.join(run.features)}.")
    est = _estimator(run)
    x = _sample(run, rows, seed)
    categorical = is_categorical(run, feature)
    custom = None
    if categorical:
        x[feature] = x[feature].map(lambda v: "(missing)" if pd.isna(v) else str(v))
    else:
        x[feature] = pd.to_numeric(x[feature], errors="coerce").astype(float)  # ints refused
        values = x[feature].dropna().to_numpy(dtype=float)
        if len(np.unique(values)) < 2:
            raise ExplainError(f"'{feature}' has fewer than two values among the sampled rows; "
                               f"its partial dependence is a single point.")
        custom = {feature: _numeric_grid(values, grid_resolution)}
    try:
        r = partial_dependence(est, x, [feature], categorical_features=[feature] if categorical
                               else None, grid_resolution=grid_resolution,
                               percentiles=PERCENTILES, custom_values=custom, method="brute",
                               kind="both")
    except ValueError as err:  # scikit-learn's own refusal, in its words
        raise ExplainError(f"Partial dependence of '{feature}' could not be computed: "
                           f"{err}") from err
    positive = run.config.positive_class or "positive"
    output = (f"probability of {positive}" if run.config.task == "binary"
              else f"predicted {run.config.target}")
    grid = [v.item() if hasattr(v, "item") else v for v in r["grid_values"][0]]
    return PartialDependence(feature, categorical, grid, np.asarray(r["average"][0]),
                             np.asarray(r["individual"][0]), output, len(x))


def _numeric_grid(values: np.ndarray, resolution: int) -> np.ndarray:
    """scikit-learn's numeric grid (``sklearn.inspection._partial_dependence._grid_from_X``):
    the distinct values when fewer than ``resolution``, else evenly spaced between the
    percentiles."""
    distinct = np.unique(values)
    if len(distinct) < resolution:
        return distinct
    lo, hi = np.quantile(values, PERCENTILES)
    if lo == hi:
        return distinct
    return np.linspace(lo, hi, resolution)


@dataclass(frozen=True)
class Interactions:
    """SHAP interaction values of a tree model, grouped to source columns.

    Attributes:
        columns: Source columns, length m.
        values: Per-row interaction values, (n_rows, m, m), in log-odds (the diagonal is
            each column's main effect; row sums are the SHAP values).
        rows: The explained rows' raw values, (n_rows, m).
        base_value: The explainer's expected value (log-odds).
    """

    columns: list[str]
    values: np.ndarray
    rows: pd.DataFrame
    base_value: float

    def strength(self) -> pd.DataFrame:
        """Mean |interaction| between every pair of columns (off the diagonal doubled, as the
        value is split between (i, j) and (j, i)), shape (m, m)."""
        m = np.abs(self.values).mean(axis=0)
        off = m * 2.0
        np.fill_diagonal(off, np.diag(m))
        return pd.DataFrame(off, index=self.columns, columns=self.columns)

    def top_pairs(self, k: int = 10) -> pd.DataFrame:
        """The ``k`` strongest pairs: ``first``, ``second``, ``mean_abs_interaction``."""
        s = self.strength().to_numpy()
        i, j = np.triu_indices(len(self.columns), 1)
        order = np.argsort(-s[i, j])[:k]
        return pd.DataFrame({"first": [self.columns[a] for a in i[order]],
                             "second": [self.columns[b] for b in j[order]],
                             "mean_abs_interaction": s[i, j][order]})


def interaction_values_run(run: Run, rows: int = 200, seed: int = 0) -> Interactions:
    """SHAP interaction values of a gradient-boosting run (``shap.TreeExplainer``,
    path-dependent), on a seeded sample of test rows, grouped to source columns.

    Raises:
        ExplainError: The run is not a tree model.
    """
    if run.config.model != "hgb":
        raise ExplainError(f"SHAP interaction values need a tree model (gradient boosting); "
                           f"this run is {run.config.model}. Use partial dependence and ICE, "
                           f"which work for every model.")
    import shap

    x = _sample(run, rows, seed)
    enc = run.preprocessor.transform(x)
    explainer = shap.TreeExplainer(run.model)
    raw = np.asarray(explainer.shap_interaction_values(enc), dtype=float)
    if raw.ndim == 4:  # (classes, n, m, m) from some shap versions
        raw = raw[-1]
    sources = run.preprocessor.source_columns_
    columns = list(dict.fromkeys(sources))
    onehot = np.zeros((len(sources), len(columns)))
    onehot[np.arange(len(sources)), [columns.index(c) for c in sources]] = 1.0
    grouped = np.einsum("nab,ai,bj->nij", raw, onehot, onehot)
    return Interactions(columns, grouped, x[columns],
                        float(np.ravel(explainer.expected_value)[-1]))

