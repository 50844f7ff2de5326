"""Every metric per segment of a column, worst first, cut at any threshold instantly."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.evaluate._binary import ThresholdTable, ranking_metrics, threshold_metrics

SMALL_SEGMENT_ROWS = 30  # fewer rows, or fewer positives than the next line: ranked after
SMALL_SEGMENT_POSITIVES = 10  # the others, since their metrics move a lot by chance


def segment_labels(values: pd.Series, bins: int = 5, max_levels: int = 12) -> pd.Series:
    """Group a column into segments: quantile bins for numbers, top levels for the rest.

    Args:
        values: The column, shape (n_samples,).
        bins: Quantile bins for a numeric column with more than ``bins`` distinct values.
        max_levels: Most levels kept for other columns; the rest become ``(other)``.

    Returns:
        Text labels of shape (n_samples,); missing values are ``(missing)``.
    """
    v = pd.Series(values).reset_index(drop=True)
    numeric = pd.api.types.is_numeric_dtype(v) and not pd.api.types.is_bool_dtype(v)
    if numeric and v.nunique() > bins:
        cut = pd.qcut(pd.to_numeric(v, errors="coerce"), bins, duplicates="drop")
        text = cut.map(lambda iv: f"{iv.left:,.4g} – {iv.right:,.4g}").astype(object)
    else:
        text = v.map(lambda x: None if pd.isna(x) else str(x)).astype(object)
        top = text.value_counts().index[:max_levels]
        text = text.where(text.isin(top) | text.isna(), "(other)")
    return text.where(text.notna(), "(missing)").astype(str)


@dataclass(frozen=True)
class SegmentTables:
    """Per-segment cumulative counts of one column, built once, cut at any threshold.

    Attributes:
        column: The segmenting column.
        labels: Segment names.
        tables: One :class:`ThresholdTable` per segment.
        ranking: ROC-AUC and PR-AUC per segment (None when the segment has one class).
    """

    column: str
    labels: list[str]
    tables: list[ThresholdTable]
    ranking: list[dict]

    @classmethod
    def build(cls, y: np.ndarray, s: np.ndarray, values: pd.Series, column: str) -> SegmentTables:
        """Split the evaluation set by :func:`segment_labels` of ``values``."""
        labels = segment_labels(values).to_numpy()
        names, tables, ranking = [], [], []
        for name in pd.unique(labels):
            mask = labels == name
            names.append(str(name))
            tables.append(ThresholdTable.build(y[mask], s[mask]))
            r = ranking_metrics(y[mask], s[mask])
            ranking.append({"roc_auc": r["roc_auc"], "pr_auc": r["pr_auc"]})
        return cls(column, names, tables, ranking)

    def at(self, threshold: float, sort_by: str = "f1") -> pd.DataFrame:
        """Metrics per segment at a threshold, worst ``sort_by`` first (undefined last);
        segments under :data:`SMALL_SEGMENT_ROWS` rows or :data:`SMALL_SEGMENT_POSITIVES`
        positives come after the others (a column ``small`` marks them), since their metrics
        move a lot by chance (recall on 4 positives moves in steps of 25 points).

        Returns:
            Columns ``segment``, ``rows``, ``positives``, ``base_rate``, every
            :func:`~core.evaluate.threshold_metrics` key, ``roc_auc`` and ``pr_auc``.
        """
        rows = []
        for name, table, rank in zip(self.labels, self.tables, self.ranking):
            n = table.n_pos + table.n_neg
            rows.append({"segment": name, "rows": n, "positives": table.n_pos,
                         "base_rate": table.n_pos / n if n else None,
                         **threshold_metrics(table.confusion(threshold)), **rank})
        df = pd.DataFrame(rows)
        key = pd.to_numeric(df[sort_by], errors="coerce") if sort_by in df else df["rows"]
        small = ((df["rows"] < SMALL_SEGMENT_ROWS)
                 | (df["positives"] < SMALL_SEGMENT_POSITIVES)).to_numpy()
        df["small"] = small
        order = np.lexsort((-df["rows"].to_numpy(), key.fillna(np.inf).to_numpy(), small))
        return df.iloc[order].reset_index(drop=True)
