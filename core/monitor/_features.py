"""Drift and data quality of every feature in every chunk, from DuckDB summaries."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from core.monitor._chunks import CURRENT, REFERENCE
from core.monitor._stats import (
    FeatureDrift,
    NumericSummary,
    categorical_drift,
    numeric_as_levels,
    numeric_drift,
)
from core.monitor._summaries import (
    SeenValues,
    level_counts,
    numeric_profile,
    numeric_summaries,
    quality_counts,
    reference_levels,
    reference_missing,
    support_for,
)

DRIFT_SHARE = 0.5         # Evidently's default share of drifted features for dataset drift
UNRELIABLE_SHARE = 0.05   # rows outside what the model saw, above which estimates are unreliable
MISSING_RISE = 0.05       # a rise in the share of missing values worth an alert
SHOWN_LEVELS = 30
DISPLAY_BINS = 20


@dataclass
class FeatureResults:
    """Per-feature outcomes of all chunks.

    Attributes:
        drift: Chunk number → one :class:`FeatureDrift` per feature, in feature order.
        distributions: Feature (file name) → reference and per-chunk shares for drill-down:
            ``{"kind", "bins", "reference", "chunks": {chunk number: shares}}``.
    """

    drift: dict[int, list[FeatureDrift]]
    distributions: dict[str, dict]


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def _numeric(con, column: str, name: str, chunks: list[int]) -> tuple[dict, dict]:
    profile = numeric_profile(con, column)
    support = support_for(con, column, profile)
    ref = numeric_summaries(con, REFERENCE, column, support, chunked=False).get(
        0, NumericSummary.empty(support))
    cur = numeric_summaries(con, CURRENT, column, support, chunked=True)
    drift = {}
    for c in chunks:
        summary = cur.get(c, NumericSummary.empty(support))
        drift[c] = (numeric_drift(name, column, ref, summary, profile.std) if summary.n and ref.n
                    else None)
    if support.size and ref.n and np.count_nonzero(ref.at) <= 5 and not ref.gap_n.any():
        bins = [_fmt(v) for v in support] + ["other"]
        shares = {c: numeric_as_levels(cur.get(c, NumericSummary.empty(support))) for c in chunks}
        ref_counts = numeric_as_levels(ref)
    else:
        bins, ref_counts, shares = _display_bins(ref, [cur.get(c) for c in chunks], chunks)
    dist = {"kind": "numeric", "bins": bins, "reference": _shares(ref_counts),
            "chunks": {c: _shares(v) for c, v in shares.items()}}
    return drift, dist


def _display_bins(ref: NumericSummary, current: list, chunks: list[int],
                  n_bins: int = DISPLAY_BINS) -> tuple[list[str], np.ndarray, dict]:
    """Equal-width bins over the range of the reference and every chunk together, so that a
    chunk far outside the reference shows where it lies (values inside a support gap are
    placed at the gap's mean)."""
    pts = [s.points() for s in (ref, *(c for c in current if c is not None))]
    values = np.concatenate([v for v, _ in pts]) if pts else np.empty(0)
    if not values.size:
        return ["all"], np.zeros(1), {c: np.zeros(1) for c in chunks}
    lo, hi = float(values.min()), float(values.max())
    edges = np.linspace(lo, hi if hi > lo else lo + 1.0, n_bins + 1)

    def hist(summary):
        if summary is None or not summary.n:
            return np.zeros(n_bins)
        v, w = summary.points()
        return np.histogram(v, bins=edges, weights=w)[0]

    labels = [f"{_fmt(a)} – {_fmt(b)}" for a, b in pairwise(edges)]
    return labels, hist(ref), {c: hist(s) for c, s in zip(chunks, current)}


def _categorical(con, column: str, name: str, chunks: list[int]) -> tuple[dict, dict]:
    levels, n_ref, _ = reference_levels(con, column)
    ref = level_counts(con, REFERENCE, column, levels, chunked=False).get(
        0, np.zeros(len(levels) + 1))
    cur = level_counts(con, CURRENT, column, levels, chunked=True)
    drift = {}
    for c in chunks:
        counts = cur.get(c, np.zeros(len(levels) + 1))
        drift[c] = categorical_drift(name, column, ref, counts) if counts.sum() and n_ref else None
    keep = min(len(levels), SHOWN_LEVELS - 1)

    def fold(v):
        return np.r_[v[:keep], v[keep:].sum()]

    dist = {"kind": "categorical", "bins": [*levels[:keep], "other"],
            "reference": _shares(fold(ref)),
            "chunks": {c: _shares(fold(cur.get(c, np.zeros(len(levels) + 1)))) for c in chunks}}
    return drift, dist


def _shares(counts: np.ndarray) -> list[float]:
    total = float(np.sum(counts))
    return [float(v) / total if total else 0.0 for v in counts]


def feature_drift(con, features: list[str], numeric: set[str], names: dict[str, str],
                  chunks: list[int]) -> FeatureResults:
    """Drift of every feature in every chunk (see :mod:`core.monitor._stats` for the tests).

    Args:
        con: The connection holding the temporary tables.
        features: Feature columns.
        numeric: Those the run encodes as numbers.
        names: SQL name → the file's header.
        chunks: Non-empty chunk numbers.

    Returns:
        The :class:`FeatureResults`; a feature without values in a chunk (or in the reference)
        is left out of that chunk's list.
    """
    drift: dict[int, list[FeatureDrift]] = {c: [] for c in chunks}
    dists = {}
    for col in features:
        name = names.get(col, col)
        fn = _numeric if col in numeric else _categorical
        per_chunk, dists[name] = fn(con, col, name, chunks)
        for c in chunks:
            if per_chunk[c] is not None:
                drift[c].append(per_chunk[c])
    return FeatureResults(drift, dists)


def drift_block(items: list[FeatureDrift], n_features: int) -> dict:
    """A chunk's ``drift`` entry: share of drifted features, dataset drift, the per-feature
    tests (largest first among the drifted).

    Args:
        items: The chunk's feature tests.
        n_features: Features of the run.
    """
    drifted = sorted((d for d in items if d.drifted), key=lambda d: -d.severity)
    rest = [d for d in items if not d.drifted]
    share = len(drifted) / n_features if n_features else 0.0
    return {"share_drifted": share, "n_drifted": len(drifted), "n_features": n_features,
            "dataset_drift": share >= DRIFT_SHARE, "threshold_share": DRIFT_SHARE,
            "features": [d.to_dict() for d in [*drifted, *rest]]}


def quality_blocks(con, features: list[str], numeric: set[str], names: dict[str, str],
                   seen: SeenValues) -> dict[int, dict]:
    """Data quality of each chunk against the reference and the run's rows.

    Returns:
        Chunk number → ``{"rows", "missing", "missing_increase", "unseen_share", "unseen",
        "out_of_range_share", "out_of_range", "reliable", "checked_against"}``; shares are of
        the chunk's rows, per feature keyed by the file's names.
    """
    num = [f for f in features if f in numeric]
    cat = [f for f in features if f not in numeric]
    counts = quality_counts(con, num, cat, seen)
    ref_missing = reference_missing(con, features, numeric)
    out = {}
    for c, q in counts.items():
        n = max(q["rows"], 1)
        missing = {names.get(f, f): {"reference": ref_missing.get(f, 0.0),
                                     "current": q["missing"].get(f, 0) / n}
                   for f in features if q["missing"].get(f, 0) or ref_missing.get(f, 0.0)}
        rise = [k for k, v in missing.items() if v["current"] - v["reference"] >= MISSING_RISE]
        unseen = {names.get(f, f): v / n for f, v in q["unseen"].items() if v}
        outside = {names.get(f, f): v / n for f, v in q["out_of_range"].items() if v}
        shares = (q["rows_unseen"] / n, q["rows_out_of_range"] / n)
        out[c] = {"rows": q["rows"], "missing": missing, "missing_increase": rise,
                  "unseen_share": shares[0], "unseen": unseen,
                  "out_of_range_share": shares[1], "out_of_range": outside,
                  "reliable": max(shares) <= UNRELIABLE_SHARE,
                  "unchecked": [names.get(f, f) for f in cat if seen.levels.get(f) is None],
                  "checked_against": seen.source}
    return out
