"""Preprocessing a DP run can be covered by: a :class:`~core.features.TabularPreprocessor` built
from analyst-given bounds (numeric ranges, category lists) instead of the training rows.

A preprocessor fitted on the data (means, standard deviations, quantile bins, the most frequent
levels) is itself a release about the training rows that DP-SGD does not account for. Built
from bounds the analyst confirms, it depends on no row, and the guarantee covers the whole
pipeline. Numeric columns: mean and scale from the range (the range maps to [-2, 2]), missing
values imputed by the midpoint, piecewise-linear bins equally wide over the range. Categories:
the listed levels each get a column; any other level shares ``(other)``.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from core.features import TabularPreprocessor
from core.privacy._accountant import PrivacyError

MAX_LEVELS = 100


def _is_numeric(s: pd.Series) -> bool:
    return bool(ptypes.is_numeric_dtype(s) and not ptypes.is_bool_dtype(s))


def bounded_preprocessor(bounds: tuple, frame: pd.DataFrame,
                         numeric_bins: int = 0) -> TabularPreprocessor:
    """A fitted preprocessor built from bounds alone (no value of ``frame`` is read).

    Args:
        bounds: ``(column, low, high)`` for numeric columns, ``(column, (level, ...))`` for
            the others, one per feature (:class:`~core.specs.DPOptions` ``dp_bounds``).
        frame: The features (only its columns and their types are used).
        numeric_bins: Piecewise-linear bins per numeric column (0: none).

    Returns:
        A fitted :class:`~core.features.TabularPreprocessor`.

    Raises:
        PrivacyError: A feature without bounds, bounds of an unknown column, a numeric column
            given levels (or the reverse), or a range with low ≥ high.
    """
    given = {b[0]: b for b in bounds}
    missing = [c for c in frame.columns if c not in given]
    unknown = [c for c in given if c not in frame.columns]
    if missing or unknown:
        raise PrivacyError(
            "The DP bounds must name every feature once. "
            + (f"Missing: {', '.join(missing)}. " if missing else "")
            + (f"Not a feature: {', '.join(unknown)}. " if unknown else "")
            + "Give a range (low, high) for each numeric column and the list of levels for "
              "each other column.")
    numeric, categories, edges = {}, {}, {}
    for col in frame.columns:
        b = given[col]
        if _is_numeric(frame[col]):
            if len(b) != 3:
                raise PrivacyError(f"'{col}' is numeric: give a range (low, high), not levels.")
            lo, hi = float(b[1]), float(b[2])
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise PrivacyError(f"The range of '{col}' must have low < high, both finite; "
                                   f"got ({lo:g}, {hi:g}).")
            mid = (lo + hi) / 2
            numeric[col] = [mid, mid, (hi - lo) / 4]
            if numeric_bins:
                edges[col] = [float(e) for e in np.linspace(lo, hi, numeric_bins + 1)]
        else:
            if len(b) != 2 or not b[1]:
                raise PrivacyError(f"'{col}' is not numeric: give its list of levels.")
            categories[col] = [str(v) for v in b[1]]
    state = {"max_categories": max([len(v) for v in categories.values()] + [1]),
             "columns": list(frame.columns), "numeric": numeric, "categories": categories,
             "numeric_bins": numeric_bins, "edges": edges}
    return TabularPreprocessor.from_json(json.dumps(state))


def _nice(v: float, up: bool) -> float:
    if v == 0 or not math.isfinite(v):
        return 0.0
    step = 10 ** math.floor(math.log10(abs(v)) - 1)
    return float((math.ceil if up else math.floor)(v / step) * step)


def suggest_bounds(frame: pd.DataFrame) -> list[tuple]:
    """Bounds read from the data, as a starting point for the analyst to confirm or replace.

    They are data-dependent: the guarantee covers them only once the analyst replaces them with
    public knowledge (e.g. an age range of 18–100, the product catalogue's categories).

    Returns:
        ``(column, low, high)`` (rounded outward to two significant digits) or
        ``(column, (level, ...))`` (the observed levels, most frequent first, at most
        :data:`MAX_LEVELS`).
    """
    out: list[tuple] = []
    for col in frame.columns:
        s = frame[col]
        if _is_numeric(s):
            v = pd.to_numeric(s, errors="coerce").astype(float)
            v = v[np.isfinite(v)]
            lo, hi = (float(v.min()), float(v.max())) if len(v) else (0.0, 1.0)
            lo, hi = _nice(lo, False), _nice(hi, True)
            out.append((col, lo, hi if hi > lo else lo + 1.0))
        else:
            levels = s.dropna().astype(str).value_counts().index[:MAX_LEVELS]
            out.append((col, tuple(str(x) for x in levels) or ("(missing)",)))
    return out


def parse_bounds(data: dict) -> tuple:
    """Bounds from JSON: ``{"age": [17, 100], "job": ["admin.", "technician", ...]}``.

    Raises:
        PrivacyError: A value that is neither two numbers nor a list of levels.
    """
    if not isinstance(data, dict) or not data:
        raise PrivacyError('DP bounds are a JSON object such as {"age": [17, 100], '
                           '"job": ["admin.", "technician"]}.')
    out = []
    for col, v in data.items():
        if not isinstance(v, list) or not v:
            raise PrivacyError(f"The bounds of '{col}' must be a list: [low, high] or levels.")
        if len(v) == 2 and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                               for x in v):
            out.append((str(col), float(v[0]), float(v[1])))
        else:
            out.append((str(col), tuple(str(x) for x in v)))
    return tuple(out)


def bounds_json(bounds) -> dict:
    """The JSON form :func:`parse_bounds` reads."""
    return {b[0]: ([b[1], b[2]] if len(b) == 3 else list(b[1])) for b in bounds}
