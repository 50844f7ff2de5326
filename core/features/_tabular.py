"""From a warehouse table to model-ready arrays: features, split, preprocessing (the target is
read by :mod:`._target`).

The preprocessor follows the scikit-learn contract (``fit`` on the training split only, learned
attributes end with ``_``) and serialises to JSON, so a saved run never needs unpickling.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from core.errors import SchemaError
from core.features._target import (
    MAX_CATEGORIES,
    MAX_CLASSES,
    check_binary_target,
    infer_task,
    label_text,
    summarize_target,
)
from core.specs import DatasetSpec
from core.warehouse import read_table, table_columns


@dataclass(frozen=True)
class TaskData:
    """Features and target of one task, ready to split.

    Attributes:
        x: Raw features of shape (n_rows, n_features).
        y: Target of shape (n_rows,): 0/1 (binary), class index (multiclass) or float
            (regression).
        task: ``binary``, ``multiclass`` or ``regression``.
        classes: Class labels in index order (binary: ``[negative, positive]``); empty for
            regression.
        features: Feature column names.
        notes: What was done to the rows before the split, in words (rows left out).
    """

    x: pd.DataFrame
    y: np.ndarray
    task: str
    classes: list[str]
    features: list[str]
    notes: tuple[str, ...] = ()


def load_task_data(con, spec: DatasetSpec) -> TaskData:
    """Read features and target for the spec's task (inferred when ``spec.task`` is None).

    Rows with a missing target are dropped, and with ``spec.missing == "drop"`` rows with a
    missing (or infinite) feature value; :attr:`TaskData.notes` says how many.

    Raises:
        SchemaError: Bad table, columns, target, a target that does not fit the task, or an
            infinite regression target.
    """
    task = spec.task or infer_task(con, spec.table, spec.target)[0]
    if task == "binary":
        x, y, classes, features, notes = _load_binary(con, spec)
        return TaskData(x, y, "binary", list(classes), features, notes)
    features = resolve_features(con, spec)
    frame, notes = _complete_rows(read_table(con, spec.table, [*features, spec.target]), spec,
                                  features)
    if task == "regression":
        y = pd.to_numeric(frame[spec.target], errors="coerce")
        if y.isna().any():
            raise SchemaError(
                f"'{spec.target}' has {int(y.isna().sum())} non-numeric values; a regression "
                f"target must be numeric. Choose multiclass, or clean the column."
            )
        infinite = int(np.isinf(y).sum())
        if infinite:
            raise SchemaError(
                f"'{spec.target}' has {infinite:,} infinite value(s); a regression target must "
                f"be finite. Filter those rows out (Prepare: filter) or cap them (Prepare: "
                f"clip), then train on the prepared table.")
        return TaskData(frame[features], y.to_numpy(np.float64), task, [], features, notes)
    labels = frame[spec.target].map(label_text)
    classes = sorted(labels.unique().tolist())
    if len(classes) < 3 or len(classes) > MAX_CLASSES:
        raise SchemaError(
            f"A multiclass target needs 3–{MAX_CLASSES} labels; '{spec.target}' has "
            f"{len(classes)}. Use binary for two labels."
        )
    y = pd.Categorical(labels, categories=classes).codes.astype(np.int32)
    return TaskData(frame[features], y, task, classes, features, notes)


def _complete_rows(frame: pd.DataFrame, spec: DatasetSpec,
                   features: list[str]) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Drop rows without a target (always) and, with ``spec.missing == "drop"``, rows with a
    missing or infinite feature value; return the rows kept and notes saying what was left
    out."""
    notes = []
    known = frame[spec.target].notna()
    if (~known).any():
        notes.append(f"{int((~known).sum()):,} of {len(frame):,} rows have no value in the "
                     f"target '{spec.target}' and were left out.")
    frame = frame[known]
    if spec.missing == "drop" and features:
        gaps = frame[features].isna().any(axis=1)
        for col in features:
            if ptypes.is_numeric_dtype(frame[col]) and not ptypes.is_bool_dtype(frame[col]):
                gaps |= np.isinf(pd.to_numeric(frame[col], errors="coerce").astype(float))
        if gaps.any():
            notes.append(f"{int(gaps.sum()):,} rows with a missing or infinite feature value "
                         f"were left out (missing values: leave rows out).")
        frame = frame[~gaps]
    if frame.empty:
        raise SchemaError(f"No row of '{spec.table}' is left to train on after leaving out "
                          f"rows without a target"
                          + (" or with a missing feature value; impute them instead."
                             if spec.missing == "drop" else "."))
    return frame.reset_index(drop=True), tuple(notes)


def resolve_features(con, spec: DatasetSpec) -> list[str]:
    """The feature columns a spec selects, in table order.

    Raises:
        SchemaError: A named feature or excluded column does not exist, or nothing is left.
    """
    cols = [c for c, _ in table_columns(con, spec.table)]
    unknown = [c for c in (*spec.features, *spec.exclude) if c not in cols]
    if unknown:
        raise SchemaError(
            f"Table '{spec.table}' has no column(s) {', '.join(unknown)}. Its columns are: "
            f"{', '.join(cols)}."
        )
    chosen = spec.features or tuple(c for c in cols if c != spec.target)
    features = [c for c in cols if c in chosen and c not in spec.exclude and c != spec.target]
    if not features:
        raise SchemaError("No feature columns are left. Keep at least one column besides the target.")
    return features


def excluded_columns(con, spec: DatasetSpec, features: list[str]) -> list[str]:
    """The table's columns a run does not learn from: neither the target nor a feature, in
    table order (whether the analyst unticked them or named them in ``exclude``).

    Args:
        con: Open warehouse connection.
        spec: The dataset specification.
        features: The run's feature columns.

    Returns:
        Column names, e.g. ``["duration"]`` for bank without its leaking column.
    """
    chosen = set(features)
    return [c for c, _ in table_columns(con, spec.table) if c != spec.target and c not in chosen]


def load_xy(con, spec: DatasetSpec) -> tuple[pd.DataFrame, np.ndarray, tuple[str, str], list[str]]:
    """Read features and a 0/1 target for a binary task.

    Args:
        con: Open warehouse connection.
        spec: The dataset specification.

    Returns:
        ``(X, y, (negative_class, positive_class), features)``: X of shape (n_rows, n_features)
        with raw values, y of shape (n_rows,) with 1 for the positive class; rows with a
        missing target are dropped (and rows with a missing feature with
        ``spec.missing == "drop"``).

    Raises:
        SchemaError: Bad table, columns or target.
    """
    return _load_binary(con, spec)[:4]


def _load_binary(con, spec: DatasetSpec):
    """:func:`load_xy` plus the notes of :func:`_complete_rows`."""
    summary = summarize_target(con, spec.table, spec.target)
    positive = check_binary_target(summary, spec.target, spec.positive_class)
    features = resolve_features(con, spec)
    frame, notes = _complete_rows(read_table(con, spec.table, [*features, spec.target]), spec,
                                  features)
    y = (frame[spec.target].map(label_text) == positive).to_numpy(dtype=np.int32)
    negative = next(c for c in summary.classes if c != positive)
    return frame[features], y, (negative, positive), features, notes


@dataclass(frozen=True)
class Splits:
    """Row positions of a stratified train / validation / test split (1-D int arrays)."""

    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray


def split_indices(y: np.ndarray, test_size: float, valid_size: float, seed: int,
                  stratify: bool = True) -> Splits:
    """Stratified split of row positions (plain random split when ``stratify`` is False).

    Args:
        y: Target of shape (n_rows,): class indices when stratified.
        test_size: Fraction of rows for the test split.
        valid_size: Fraction of rows for validation.
        seed: Random seed.
        stratify: Keep class shares equal across splits (classification).

    Returns:
        :class:`Splits` with disjoint, sorted positions covering every row.

    Raises:
        SchemaError: Too few rows of a class to stratify.
    """
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    if not stratify:
        if len(y) < 20:
            raise SchemaError(f"Only {len(y)} rows; at least 20 are needed to train and test.")
        rest, test = train_test_split(idx, test_size=test_size, random_state=seed)
        train, valid = train_test_split(rest, test_size=valid_size / (1.0 - test_size),
                                        random_state=seed)
        return Splits(np.sort(train), np.sort(valid), np.sort(test))
    counts = np.bincount(y)
    if counts.min() < 5:
        raise SchemaError(
            f"A class of the target has only {counts.min()} rows; at least 5 of each class are "
            f"needed to split into train, validation and test. Load more data."
        )
    rest, test = train_test_split(idx, test_size=test_size, stratify=y, random_state=seed)
    valid_share = valid_size / (1.0 - test_size)
    train, valid = train_test_split(rest, test_size=valid_share, stratify=y[rest],
                                    random_state=seed)
    return Splits(np.sort(train), np.sort(valid), np.sort(test))


def piecewise_linear(v: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Piecewise-linear encoding of a numeric column (Gorishniy et al., 2022, "On Embeddings for
    Numerical Features in Tabular Deep Learning").

    Bin t spans ``[edges[t], edges[t+1]]``; its feature is 0 below it, 1 above it and the
    position inside it in between, so the vector reads like a soft thermometer code.

    Args:
        v: Values of shape (n_rows,), no NaN.
        edges: Increasing bin edges of shape (n_bins + 1,), quantiles of the training values.

    Returns:
        float32 array of shape (n_rows, n_bins).
    """
    left, right = edges[:-1], edges[1:]
    width = np.where(right > left, right - left, 1.0)
    return np.clip((v[:, None] - left) / width, 0.0, 1.0).astype(np.float32)


class TabularPreprocessor:
    """Impute, scale numeric columns and one-hot encode the others; JSON-serialisable.

    Numeric columns: median imputation then standardisation (mean 0, std 1 on train).
    Other columns: missing becomes its own ``(missing)`` level; the ``max_categories`` most
    frequent training levels get a column each, the rest share ``(other)``.

    Args:
        max_categories: Most one-hot columns per categorical column.
        numeric_bins: When > 0, each numeric column also gets a piecewise-linear encoding over
            this many training quantile bins (:func:`piecewise_linear`), which lets a network
            model thresholds the way trees do.

    Attributes:
        numeric_: ``{column: [median, mean, std]}`` learned on train.
        categories_: ``{column: [level, ...]}`` learned on train.
        feature_names_out_: Encoded feature names, length n_encoded.
        source_columns_: Source column of each encoded feature, length n_encoded.
        blocks_: ``(start, end, is_numeric)`` encoded range of each source column, in order.
    """

    def __init__(self, max_categories: int = MAX_CATEGORIES, numeric_bins: int = 0) -> None:
        self.max_categories = max_categories
        self.numeric_bins = numeric_bins

    def fit(self, frame: pd.DataFrame) -> TabularPreprocessor:
        """Learn imputation values, scales and levels from the training rows.

        Args:
            frame: Training features of shape (n_rows, n_columns).

        Returns:
            self.
        """
        self.numeric_: dict[str, list[float]] = {}
        self.categories_: dict[str, list[str]] = {}
        self.edges_: dict[str, list[float]] = {}
        self.imputed_: dict[str, list[int]] = {}
        for col in frame.columns:
            s = frame[col]
            if ptypes.is_numeric_dtype(s) and not ptypes.is_bool_dtype(s):
                v = pd.to_numeric(s, errors="coerce").astype(float)
                n_nan, n_inf = int(v.isna().sum()), int(np.isinf(v).sum())
                if n_nan or n_inf:
                    self.imputed_[col] = [n_nan, n_inf]
                v = v[np.isfinite(v)]
                med = float(v.median()) if len(v) else 0.0
                std = float(v.std(ddof=0)) if len(v) else 1.0
                self.numeric_[col] = [med, float(v.mean()) if len(v) else 0.0, std or 1.0]
                if self.numeric_bins:
                    qs = np.linspace(0, 1, self.numeric_bins + 1)
                    edges = np.unique(np.quantile(v, qs)) if len(v) else np.array([0.0])
                    self.edges_[col] = [float(e) for e in edges]
            else:
                if int(s.isna().sum()):
                    self.imputed_[col] = [int(s.isna().sum()), 0]
                top = self._as_text(s).value_counts().index[: self.max_categories]
                self.categories_[col] = [str(x) for x in top]
        self.columns_ = list(frame.columns)
        self._build_names()
        return self

    def notes(self, names: dict[str, str] | None = None) -> list[str]:
        """What the preprocessor changed in the training rows, in words (for the run's notes).

        Args:
            names: SQL column name → the header the analyst's file had (display names).

        Returns:
            One note per column with missing or infinite values: numbers replaced by the
            training median (new rows get the same), categories kept as a ``(missing)`` level.
        """
        names = names or {}
        out = []
        for col, (n_nan, n_inf) in getattr(self, "imputed_", {}).items():
            shown = names.get(col, col)
            if col in self.numeric_:
                what = " and ".join(t for t in (f"{n_nan:,} missing" if n_nan else "",
                                                f"{n_inf:,} infinite" if n_inf else "") if t)
                out.append(f"'{shown}': {what} value(s) in the training rows were replaced by the "
                           f"training median {self.numeric_[col][0]:g} (new rows are treated the "
                           f"same way).")
            else:
                out.append(f"'{shown}': {n_nan:,} missing value(s) in the training rows are kept "
                           f"as their own category '(missing)'.")
        return out

    @staticmethod
    def _as_text(s: pd.Series) -> pd.Series:
        return s.map(lambda v: "(missing)" if pd.isna(v) else label_text(v))

    def _build_names(self) -> None:
        names, sources, blocks = [], [], []
        for col in self.columns_:
            start = len(names)
            if col in self.numeric_:
                bins = max(len(self.edges_.get(col, [])) - 1, 0)
                names.extend([col, *(f"{col}~bin{b + 1}" for b in range(bins))])
                sources.extend([col] * (bins + 1))
            else:
                levels = [*self.categories_[col], "(other)"]
                names.extend(f"{col}={lv}" for lv in levels)
                sources.extend([col] * len(levels))
            blocks.append((start, len(names), col in self.numeric_))
        self.feature_names_out_ = names
        self.source_columns_ = sources
        self.blocks_ = blocks

    @property
    def numeric_indices_(self) -> list[int]:
        """Encoded column index of each numeric source column."""
        return [s for s, _, numeric in self.blocks_ if numeric]

    @property
    def categorical_blocks_(self) -> list[tuple[int, int]]:
        """``(start, end)`` encoded range of each categorical source column's one-hot block."""
        return [(s, e) for s, e, numeric in self.blocks_ if not numeric]

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Encode rows with the learned values.

        Args:
            frame: Features of shape (n_rows, n_columns) with the training columns.

        Returns:
            float32 array of shape (n_rows, n_encoded), with no NaN or infinity.

        Raises:
            SchemaError: A training column is missing from ``frame``.
        """
        missing = [c for c in self.columns_ if c not in frame.columns]
        if missing:
            raise SchemaError(
                f"The data lacks column(s) the model was trained on: {', '.join(missing)}."
            )
        out = np.empty((len(frame), len(self.feature_names_out_)), dtype=np.float32)
        for col, (start, end, _) in zip(self.columns_, self.blocks_, strict=True):
            if col in self.numeric_:
                med, mean, std = self.numeric_[col]
                v = pd.to_numeric(frame[col], errors="coerce").astype(float).to_numpy()
                v = np.where(np.isfinite(v), v, med)
                out[:, start] = (v - mean) / std
                if end - start > 1:
                    out[:, start + 1:end] = piecewise_linear(v, np.asarray(self.edges_[col]))
            else:
                levels = self.categories_[col]
                codes = pd.Categorical(self._as_text(frame[col]), categories=levels).codes
                out[:, start:end] = 0.0
                pos = np.where(codes < 0, len(levels), codes).astype(np.int64)
                out[np.arange(len(frame)), start + pos] = 1.0
        return out

    def to_json(self) -> str:
        """Serialise the fitted state (no pickle)."""
        return json.dumps({"max_categories": self.max_categories, "columns": self.columns_,
                           "numeric": self.numeric_, "categories": self.categories_,
                           "numeric_bins": self.numeric_bins, "edges": self.edges_,
                           "imputed": getattr(self, "imputed_", {})})

    @classmethod
    def from_json(cls, text: str) -> TabularPreprocessor:
        """Rebuild a fitted preprocessor from :meth:`to_json` output."""
        data = json.loads(text)
        pre = cls(data["max_categories"], data.get("numeric_bins", 0))
        pre.edges_ = data.get("edges", {})
        pre.columns_ = data["columns"]
        pre.numeric_ = data["numeric"]
        pre.categories_ = data["categories"]
        pre.imputed_ = data.get("imputed", {})
        pre._build_names()
        return pre
