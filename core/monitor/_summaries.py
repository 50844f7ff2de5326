"""Fixed-size summaries of the reference and of each chunk, computed in DuckDB.

Only summaries come back to Python: per numeric column, counts and sums on a support of at most
a few thousand points (one ``ASOF JOIN`` per column, :class:`~core.monitor._stats.NumericSummary`);
per categorical column, counts of at most 200 reference levels plus one for every other value;
per chunk, missing values, values outside the training range and categories never seen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.monitor._chunks import CURRENT, REFERENCE
from core.monitor._stats import NumericSummary
from core.warehouse import quote_ident, table_columns, table_exists

UNION_SUPPORT = 2000      # at most this many distinct values in both samples: exact support
REFERENCE_DISTINCT = 1000  # else the reference's distinct values, up to this many
QUANTILE_POINTS = 1000    # else the reference's quantiles at i/1000
MAX_LEVELS = 200          # reference levels kept per categorical column
MAX_SEEN = 1000           # more distinct training levels than this: an id-like column
_SUP = "__monitor_support"
_LEV = "__monitor_levels"


def num_expr(column: str) -> str:
    """SQL for a column's finite numeric value (NULL when missing, text or not finite)."""
    x = f"TRY_CAST({quote_ident(column)} AS DOUBLE)"
    return f"(CASE WHEN isfinite({x}) THEN {x} END)"


def text_expr(column: str) -> str:
    """SQL for a column's value as text, the way the run's preprocessor reads categories."""
    return f"CAST({quote_ident(column)} AS VARCHAR)"


@dataclass(frozen=True)
class NumericProfile:
    """The reference's view of one numeric column.

    Attributes:
        n: Non-missing values.
        missing: Missing values.
        distinct: Distinct values.
        std: Standard deviation (population).
    """

    n: int
    missing: int
    distinct: int
    std: float


def numeric_profile(con, column: str) -> NumericProfile:
    """Counts and spread of a numeric column in the reference."""
    x = num_expr(column)
    n, total, distinct, std = con.execute(
        f"SELECT count({x}), count(*), count(DISTINCT {x}), stddev_pop({x}) "
        f"FROM {REFERENCE}").fetchone()
    return NumericProfile(int(n), int(total - n), int(distinct), float(std or 0.0))


def support_for(con, column: str, profile: NumericProfile) -> np.ndarray:
    """The support a numeric column is summarised on (see :mod:`core.monitor._stats`).

    The distinct values of reference and current rows when there are at most 2,000 (every
    statistic exact); else the reference's distinct values when at most 1,000 (the
    Kolmogorov–Smirnov test exact); else the reference's quantiles at i/1000.

    Returns:
        Sorted distinct points, shape (m,).
    """
    x = num_expr(column)
    approx = con.execute(f"SELECT approx_count_distinct({x}) FROM {CURRENT}").fetchone()[0] or 0
    if profile.distinct + int(approx) <= 2 * UNION_SUPPORT:
        values = con.execute(
            f"SELECT DISTINCT v FROM (SELECT {x} AS v FROM {REFERENCE} UNION ALL "
            f"SELECT {x} FROM {CURRENT}) WHERE v IS NOT NULL ORDER BY v").fetchnumpy()["v"]
        if len(values) <= UNION_SUPPORT:
            return np.asarray(values, dtype=np.float64)
    if profile.distinct <= REFERENCE_DISTINCT:
        return np.asarray(con.execute(
            f"SELECT DISTINCT {x} AS v FROM {REFERENCE} WHERE v IS NOT NULL ORDER BY v"
        ).fetchnumpy()["v"], dtype=np.float64)
    values = np.asarray(con.execute(f"SELECT {x} AS v FROM {REFERENCE} WHERE v IS NOT NULL")
                        .fetchnumpy()["v"], dtype=np.float64)  # the reference: bounded size
    levels = np.arange(QUANTILE_POINTS + 1) / QUANTILE_POINTS
    return np.unique(np.quantile(values, levels, method="inverted_cdf"))


def numeric_summaries(con, relation: str, column: str, support: np.ndarray,
                      chunked: bool) -> dict[int, NumericSummary]:
    """Summaries of a numeric column per chunk (or of the whole reference) on ``support``.

    One ``ASOF LEFT JOIN`` of the values onto the support (the greatest point <= each value)
    grouped by chunk and point: equal values count at the point, the others in the gap above
    it, values below every point in gap 0.

    Args:
        con: Open connection.
        relation: ``__monitor_current`` or ``__monitor_reference``.
        column: The column.
        support: Sorted distinct points, shape (m,).
        chunked: Group by ``__chunk`` (the current rows); else one summary under key 0.

    Returns:
        Chunk number → :class:`NumericSummary`.
    """
    con.execute(f"CREATE OR REPLACE TEMP TABLE {_SUP} AS SELECT unnest(?::DOUBLE[]) AS v, "
                f"generate_subscripts(?::DOUBLE[], 1) - 1 AS k", [list(support), list(support)])
    chunk = "__chunk" if chunked else "0"
    rows = con.execute(
        f"SELECT c.ch, s.k, count(*), count(*) FILTER (WHERE c.x = s.v), "
        f"coalesce(sum(c.x) FILTER (WHERE s.v IS NULL OR c.x <> s.v), 0) "
        f"FROM (SELECT {chunk} AS ch, {num_expr(column)} AS x FROM {relation}) c "
        f"ASOF LEFT JOIN {_SUP} s ON c.x >= s.v WHERE c.x IS NOT NULL GROUP BY ALL").fetchall()
    m = len(support)
    out: dict[int, list[np.ndarray]] = {}
    for ch, k, n, n_at, gap_sum in rows:
        at, gap_n, sums = out.setdefault(int(ch), [np.zeros(m), np.zeros(m + 1), np.zeros(m + 1)])
        g = 0 if k is None else int(k) + 1
        if k is not None:
            at[int(k)] += n_at
        gap_n[g] += n - (n_at if k is not None else 0)
        sums[g] += gap_sum
    s = np.asarray(support, dtype=np.float64)
    return {ch: NumericSummary(s, *arrays) for ch, arrays in out.items()}


def reference_levels(con, column: str) -> tuple[list[str], int, int]:
    """The reference's most frequent levels of a categorical column.

    Returns:
        ``(levels, non_missing, missing)``: at most 200 levels, most frequent first.
    """
    v = text_expr(column)
    rows = con.execute(f"SELECT {v} AS v, count(*) AS n FROM {REFERENCE} WHERE v IS NOT NULL "
                       f"GROUP BY 1 ORDER BY n DESC, v LIMIT {MAX_LEVELS}").fetchall()
    n, total = con.execute(f"SELECT count({v}), count(*) FROM {REFERENCE}").fetchone()
    return [r[0] for r in rows], int(n), int(total - n)


def level_counts(con, relation: str, column: str, levels: list[str],
                 chunked: bool) -> dict[int, np.ndarray]:
    """Counts of each level per chunk, plus a last count for every other value.

    Returns:
        Chunk number (0 for the reference) → counts of shape (len(levels) + 1,).
    """
    con.execute(f"CREATE OR REPLACE TEMP TABLE {_LEV} AS SELECT unnest(?::VARCHAR[]) AS v, "
                f"generate_subscripts(?::VARCHAR[], 1) - 1 AS k", [levels, levels])
    chunk = "__chunk" if chunked else "0"
    rows = con.execute(
        f"SELECT c.ch, coalesce(l.k, -1), count(*) FROM (SELECT {chunk} AS ch, "
        f"{text_expr(column)} AS v FROM {relation}) c LEFT JOIN {_LEV} l ON c.v = l.v "
        f"WHERE c.v IS NOT NULL GROUP BY ALL").fetchall()
    out: dict[int, np.ndarray] = {}
    for ch, k, n in rows:
        counts = out.setdefault(int(ch), np.zeros(len(levels) + 1))
        counts[int(k) if k >= 0 else len(levels)] += n
    return out


@dataclass(frozen=True)
class SeenValues:
    """What the run's rows held, for the quality checks.

    Attributes:
        ranges: Numeric column → ``(min, max)``.
        levels: Categorical column → its distinct levels, or None for an id-like column with
            more than 1,000 (not checked).
        source: Where they come from, in words.
    """

    ranges: dict[str, tuple[float, float]]
    levels: dict[str, list[str] | None]
    source: str


def seen_values(con, table: str | None, numeric: list[str], categorical: list[str],
                background) -> SeenValues:
    """Ranges and levels of the rows the run was built from.

    The run's own table (training, validation and test rows) when it still exists with every
    feature; else the test split plus the background rows kept from training.

    Args:
        con: Open connection.
        table: The run's table, or None.
        numeric: Numeric features.
        categorical: Categorical features.
        background: The run's background rows (a DataFrame of training rows).
    """

    cols = {c for c, _ in table_columns(con, table)} if table and table_exists(con, table) else set()
    use_table = bool(cols) and set(numeric + categorical) <= cols
    rel = quote_ident(table) if use_table else REFERENCE
    ranges, levels = {}, {}
    for c in numeric:
        lo, hi = con.execute(f"SELECT min({num_expr(c)}), max({num_expr(c)}) FROM {rel}").fetchone()
        if not use_table and c in background.columns:
            b = np.asarray(background[c], dtype=np.float64)
            b = b[np.isfinite(b)]
            if b.size:
                lo = b.min() if lo is None else min(lo, b.min())
                hi = b.max() if hi is None else max(hi, b.max())
        if lo is not None:
            ranges[c] = (float(lo), float(hi))
    for c in categorical:
        vals = [r[0] for r in con.execute(
            f"SELECT DISTINCT {text_expr(c)} AS v FROM {rel} WHERE v IS NOT NULL "
            f"LIMIT {MAX_SEEN + 1}").fetchall()]
        if not use_table and c in background.columns:
            vals = sorted(set(vals) | {str(v) for v in background[c].dropna()})
        levels[c] = vals if len(vals) <= MAX_SEEN else None
    source = (f"the run's table '{table}' (training, validation and test rows)" if use_table else
              "the run's test split and the training rows kept with it (its table is gone)")
    return SeenValues(ranges, levels, source)


def quality_counts(con, numeric: list[str], categorical: list[str],
                   seen: SeenValues) -> dict[int, dict]:
    """Per chunk: rows, missing values per feature, values outside the training range and
    categories never seen per feature, and rows with any of either.

    Returns:
        Chunk number → ``{"rows", "missing": {col: n}, "out_of_range": {col: n},
        "unseen": {col: n}, "rows_out_of_range", "rows_unseen"}``.
    """
    aggs, keys, params = ["count(*)"], [], {}
    out_conds, unseen_conds = [], []
    for i, c in enumerate(numeric):
        x = num_expr(c)
        aggs.append(f"count(*) FILTER (WHERE {x} IS NULL)")
        keys.append(("missing", c))
        if c in seen.ranges:
            cond = f"({x} < {seen.ranges[c][0]!r} OR {x} > {seen.ranges[c][1]!r})"
            out_conds.append(cond)
            aggs.append(f"count(*) FILTER (WHERE {cond})")
            keys.append(("out_of_range", c))
    for i, c in enumerate(categorical):
        v = text_expr(c)
        aggs.append(f"count(*) FILTER (WHERE {v} IS NULL)")
        keys.append(("missing", c))
        if seen.levels.get(c) is not None:
            params[f"s{i}"] = seen.levels[c]
            cond = f"({v} IS NOT NULL AND NOT list_contains($s{i}::VARCHAR[], {v}))"
            unseen_conds.append(cond)
            aggs.append(f"count(*) FILTER (WHERE {cond})")
            keys.append(("unseen", c))
    for conds in (out_conds, unseen_conds):
        aggs.append(f"count(*) FILTER (WHERE {' OR '.join(conds)})" if conds else "0")
    rows = con.execute(f"SELECT __chunk, {', '.join(aggs)} FROM {CURRENT} GROUP BY 1",
                       params).fetchall()
    out = {}
    for r in rows:
        entry = {"rows": int(r[1]), "missing": {}, "out_of_range": {}, "unseen": {},
                 "rows_out_of_range": int(r[-2]), "rows_unseen": int(r[-1])}
        for (kind, col), value in zip(keys, r[2:-2], strict=True):
            entry[kind][col] = int(value)
        out[int(r[0])] = entry
    return out


def reference_missing(con, columns: list[str], numeric: set[str]) -> dict[str, float]:
    """Share of missing values per column in the reference."""
    if not columns:
        return {}
    aggs = [f"avg(CASE WHEN {num_expr(c) if c in numeric else quote_ident(c)} IS NULL "
            f"THEN 1.0 ELSE 0.0 END)" for c in columns]
    row = con.execute(f"SELECT {', '.join(aggs)} FROM {REFERENCE}").fetchone()
    return {c: float(v or 0.0) for c, v in zip(columns, row, strict=True)}
