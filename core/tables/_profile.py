"""Profile a warehouse table in DuckDB: per-column statistics, distributions, target balance,
association with the target, and warnings (ID-like, constant, mostly missing, likely leakage).

Everything is computed by SQL aggregates (a few queries per column), so a 1M-row table profiles
in seconds and nothing is read whole into pandas. Columns marked as personal data are profiled
for type and missing values only: their values never reach a chart.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from dataclasses import dataclass, field

import duckdb

from core.errors import SchemaError
from core.features import summarize_target
from core.tables._dates import DateReadings, date_readings
from core.tables._kinds import identifier_reason, kind_of
from core.warehouse import original_names, quote_ident, require_table, table_columns

log = logging.getLogger(__name__)

TOP_K = 10
BINS = 20
LEAK_AUC = 0.95
LEAK_GAP = 0.05
MAX_AUC_CATEGORIES = 1000
_DATE_LIKE = re.compile(r"[0-9]{1,4}[-/.][0-9]{1,2}[-/.][0-9]{1,4}([ T][0-9:.]+)?")
_POST_OUTCOME = re.compile(
    r"duration|call_?length|talk_?time|cancel|terminat|refund|churn_?date|end_?date|"
    r"closed?_?date|(^|_)after($|_)", re.IGNORECASE)


@dataclass(frozen=True)
class ColumnProfile:
    """Statistics of one column.

    Attributes:
        name: Column name in the table.
        original_name: Header as written in the file.
        type: DuckDB type.
        kind: ``numeric``, ``date``, ``boolean`` or ``text``.
        missing: Rows with no value.
        missing_pct: Share of rows with no value, in percent.
        distinct: Distinct non-missing values.
        stats: ``min``, ``max``, ``mean``, ``std``, ``p05``, ``p25``, ``p50``, ``p75``, ``p95``
            (numeric; ``min``/``max`` as text for dates); empty when hidden.
        top: Most frequent values as ``(value as text, count)``, at most ``TOP_K``.
        histogram: Equal-width bins as ``(low, high, count)`` (numeric and date columns, the
            latter in epoch seconds).
        target_corr: Pearson correlation of the column with the 0/1 target (numeric columns).
        target_auc: ROC-AUC of the column alone as a score for the target, folded to >= 0.5.
        hidden: The column is marked as personal data; its values are not shown.
        warnings: Plain-language warnings about this column.
        dates_as_text: For a text column holding dates (ingest keeps dates whose day/month
            order is not certain, or whose formats are mixed, as text): how many values a
            day-first and a month-first reading parse; None otherwise.
    """

    name: str
    original_name: str
    type: str
    kind: str
    missing: int
    missing_pct: float
    distinct: int
    stats: dict = field(default_factory=dict)
    top: list = field(default_factory=list)
    histogram: list = field(default_factory=list)
    target_corr: float | None = None
    target_auc: float | None = None
    hidden: bool = False
    warnings: tuple[str, ...] = ()
    dates_as_text: DateReadings | None = None


@dataclass(frozen=True)
class TableProfile:
    """A table's profile.

    Attributes:
        table: Table name.
        rows: Row count.
        columns: One :class:`ColumnProfile` per column, in table order.
        target: Target column, if one was given.
        positive: Positive class of the target (binary targets).
        balance: Target labels as ``(label, count, share)``, most frequent first.
        warnings: All column warnings plus table-level ones.
        seconds: Time the profile took.
        leaks: Columns flagged as likely leakage (SQL names) → their warning, which is also
            in ``warnings``.
    """

    table: str
    rows: int
    columns: list[ColumnProfile]
    target: str | None = None
    positive: str | None = None
    balance: list = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    leaks: dict[str, str] = field(default_factory=dict)

    def summary(self):
        """One row per column: name, header in file, type, missing %, distinct, mean, AUC.

        Returns:
            A DataFrame of shape (n_columns, 9).
        """
        import pandas as pd

        return pd.DataFrame([{
            "column": c.name, "header in file": c.original_name, "type": c.type,
            "missing %": round(c.missing_pct, 2), "distinct": c.distinct,
            "min": _fmt(c.stats.get("min")), "mean": _fmt(c.stats.get("mean")),
            "max": _fmt(c.stats.get("max")), "AUC vs target": c.target_auc,
        } for c in self.columns])


def _fmt(value) -> str:
    """Statistics as text (numbers and dates share a column in the summary)."""
    if value is None:
        return ""
    return f"{value:,.4g}" if isinstance(value, float) else str(value)


def _basic(con, t: str, cols: list[tuple[str, str]]) -> dict[str, tuple[int, int]]:
    """Non-missing and distinct counts of every column in one query."""
    parts = []
    for name, _ in cols:
        q = quote_ident(name)
        parts += [f"count({q})", f"count(DISTINCT {q})"]
    row = con.execute(f"SELECT {', '.join(parts)} FROM {t}").fetchone()
    return {name: (int(row[2 * i]), int(row[2 * i + 1])) for i, (name, _) in enumerate(cols)}


def _numeric_stats(con, t: str, col: str, kind: str) -> dict:
    q = quote_ident(col)
    if kind == "date":
        lo, hi = con.execute(f"SELECT min({q}), max({q}) FROM {t}").fetchone()
        return {"min": str(lo), "max": str(hi)}
    x = f"CAST({q} AS DOUBLE)"
    row = con.execute(
        f"SELECT min({x}), max({x}), avg({x}), stddev_samp({x}), "
        f"quantile_cont({x}, [0.05, 0.25, 0.5, 0.75, 0.95]) FROM {t}").fetchone()
    stats = dict(zip(("min", "max", "mean", "std"), (float(v) if v is not None else None
                                                     for v in row[:4])))
    stats.update(zip(("p05", "p25", "p50", "p75", "p95"), row[4] or [None] * 5))
    return stats


def _top(con, t: str, col: str) -> list[tuple[str, int]]:
    q = quote_ident(col)
    rows = con.execute(
        f"SELECT CAST({q} AS VARCHAR) AS v, count(*) AS n FROM {t} WHERE {q} IS NOT NULL "
        f"GROUP BY 1 ORDER BY n DESC, v LIMIT {TOP_K}").fetchall()
    return [(v, int(n)) for v, n in rows]


def _histogram(con, t: str, col: str, kind: str) -> list[tuple[float, float, int]]:
    x = f"epoch({quote_ident(col)})" if kind == "date" else f"CAST({quote_ident(col)} AS DOUBLE)"
    lo, hi = con.execute(f"SELECT min({x}), max({x}) FROM {t}").fetchone()
    if lo is None:
        return []
    if lo == hi:
        n = con.execute(f"SELECT count({x}) FROM {t}").fetchone()[0]
        return [(float(lo), float(hi), int(n))]
    width = (hi - lo) / BINS
    rows = con.execute(
        f"SELECT least(CAST(floor(({x} - ?) / ?) AS INT), {BINS - 1}) AS b, count(*) FROM {t} "
        f"WHERE {x} IS NOT NULL GROUP BY b ORDER BY b", [lo, width]).fetchall()
    counts = dict(rows)
    return [(lo + i * width, lo + (i + 1) * width, int(counts.get(i, 0))) for i in range(BINS)]


def single_column_auc(con: duckdb.DuckDBPyConnection, t: str, col: str, y: str,
                      by_rate: bool, params: dict | None = None) -> float | None:
    """ROC-AUC of one column used alone as a score for a 0/1 target expression.

    Numeric columns score by their value; text columns by their category's positive rate
    (in-sample, so high-cardinality columns look better than they are). Ties count one half.

    Args:
        con: Open connection.
        t: Quoted table name.
        col: Column name.
        y: SQL expression that is 1 for the positive class, 0 otherwise, NULL when unknown.
        by_rate: Score categories by positive rate (text columns).
        params: Named parameters used in ``y``.

    Returns:
        The AUC folded to [0.5, 1] (a column that predicts "no" is as telling as one that
        predicts "yes"), or None when one class is absent.
    """
    q = quote_ident(col)
    order = "p::DOUBLE / (p + n)" if by_rate else "v"
    auc = con.execute(f"""
        WITH g AS (SELECT {q} AS v, sum({y}) AS p, count(*) - sum({y}) AS n FROM {t}
                   WHERE {q} IS NOT NULL AND ({y}) IS NOT NULL GROUP BY 1),
             s AS (SELECT p, n, coalesce(sum(n) OVER (ORDER BY {order}
                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS below FROM g)
        SELECT sum(p * (below + n / 2.0)) / nullif(sum(p) * sum(n), 0) FROM s""",
        params or {}).fetchone()[0]
    return None if auc is None else round(max(float(auc), 1.0 - float(auc)), 4)


def _column(con, t: str, name: str, typ: str, rows: int, counts, original: str,
            hidden: bool) -> ColumnProfile:
    kind = kind_of(typ)
    present, distinct = counts
    missing = rows - present
    c = ColumnProfile(name, original, typ, kind, missing, 100.0 * missing / rows if rows else 0.0,
                      distinct, hidden=hidden)
    if hidden or not present:
        return c
    stats = _numeric_stats(con, t, name, kind) if kind in ("numeric", "date") else {}
    low_card = distinct <= 12
    top = _top(con, t, name) if kind in ("text", "boolean") or low_card else []
    hist = _histogram(con, t, name, kind) if kind in ("numeric", "date") and not low_card else []
    dates = _dates_as_text(con, t, name, top) if kind == "text" else None
    return ColumnProfile(name, original, typ, kind, missing, c.missing_pct, distinct, stats, top,
                         hist, hidden=hidden, dates_as_text=dates)


def _dates_as_text(con, t: str, name: str, top: list) -> DateReadings | None:
    """Readings of a text column whose frequent values look like dates (one more scan, only
    then), kept when at least half of its values read as dates."""
    if not any(_DATE_LIKE.fullmatch(str(v).strip()) for v, _ in top):
        return None
    found = date_readings(con, t, name, examples=False)
    return found if found.looks_like_dates else None


def _column_warnings(c: ColumnProfile, rows: int) -> list[str]:
    shown = f"'{c.original_name}'"
    out = []
    why = identifier_reason(c.original_name, c.type, rows - c.missing, c.distinct)
    if c.distinct <= 1:
        out.append(f"{shown} is constant ({c.distinct} distinct value); it cannot help a model.")
    elif why is not None:
        out.append(f"{shown} looks like an ID ({why}); leave it out of the features.")
    if c.missing_pct > 50:
        out.append(f"{shown} is {c.missing_pct:.0f}% missing.")
    d = c.dates_as_text
    if d is not None and d.iso == d.values:
        out.append(f"{shown} holds dates written as text (yyyy-mm-dd, {d.values:,} values). To "
                   f"use them, add a Prepare step 'date parts' (day-first and month-first read "
                   f"them alike).")
    elif d is not None:
        out.append(f"{shown} holds dates written as text whose day/month order is not certain "
                   f"or whose formats are mixed ({d.sentence()}). To use them, add a Prepare "
                   f"step 'date parts' and choose day-first or month-first.")
    return out


def _target_expr(target: str, typ: str) -> str:
    q = quote_ident(target)
    if kind_of(typ) == "text":
        return f"CASE WHEN {q} IS NULL THEN NULL WHEN {q} = $pos THEN 1 ELSE 0 END"
    return f"CASE WHEN {q} IS NULL THEN NULL WHEN {q} = CAST($pos AS {typ}) THEN 1 ELSE 0 END"


def _associations(con, t: str, cols: list[ColumnProfile], y: str, pos: str) -> list[ColumnProfile]:
    from dataclasses import replace

    numeric = [c for c in cols if c.kind == "numeric" and not c.hidden and c.distinct > 1]
    corrs = {}
    if numeric:
        exprs = ", ".join(f"corr(CAST({quote_ident(c.name)} AS DOUBLE), {y})" for c in numeric)
        corrs = dict(zip([c.name for c in numeric],
                         con.execute(f"SELECT {exprs} FROM {t}", {"pos": pos}).fetchone()))
    out = []
    for c in cols:
        usable = not c.hidden and c.distinct > 1 and (
            c.kind in ("numeric", "date") or c.distinct <= MAX_AUC_CATEGORIES)
        auc = single_column_auc(con, t, c.name, y, c.kind in ("text", "boolean"),
                                {"pos": pos}) if usable and not _id_like(c) else None
        r = corrs.get(c.name)
        out.append(replace(c, target_corr=None if r is None else round(float(r), 4),
                           target_auc=auc))
    return out


def _id_like(c: ColumnProfile) -> bool:
    return any("looks like an ID" in w for w in c.warnings)


def leakage_warnings(cols: list[ColumnProfile]) -> list[str]:
    """The warnings of :func:`leaking_columns`, in its order."""
    return list(leaking_columns(cols).values())


def leaking_columns(cols: list[ColumnProfile]) -> dict[str, str]:
    """Warnings for columns that predict the target suspiciously well on their own.

    A column is flagged when its AUC alone is at least ``LEAK_AUC``; when it is at least 0.8 and
    ``LEAK_GAP`` above every other column; or when its name suggests it is recorded after the
    outcome (duration of the call, cancellation date, …) and its AUC is at least 0.7.

    Args:
        cols: Column profiles with ``target_auc`` filled in.

    Returns:
        Flagged column (SQL name) → its warning, strongest AUC first.
    """
    scored = sorted((c for c in cols if c.target_auc is not None), key=lambda c: -c.target_auc)
    out = {}
    for i, c in enumerate(scored):
        others = [o.target_auc for o in scored if o is not c]
        best_other = max(others) if others else 0.5
        auc = f"AUC {c.target_auc:.2f}"
        why = None
        if c.target_auc >= LEAK_AUC:
            why = f"predicts the target almost perfectly on its own ({auc})"
        elif i == 0 and c.target_auc >= 0.8 and c.target_auc - best_other >= LEAK_GAP:
            why = (f"predicts the target on its own with {auc}, far better than any other "
                   f"column (the next best reaches AUC {best_other:.2f})")
        elif _POST_OUTCOME.search(c.name) and c.target_auc >= 0.7:
            why = (f"predicts the target on its own with {auc}, and its name suggests it is "
                   f"only known after the outcome")
        if why:
            out[c.name] = (f"Possible leakage: '{c.original_name}' {why}; if it is recorded "
                           f"after the outcome (like a call's duration), exclude it.")
    return out


def column_flags(con: duckdb.DuckDBPyConnection, table: str, target: str,
                 positive: str | None = None, hidden: tuple[str, ...] = (),
                 ) -> tuple[dict[str, str], dict[str, str]]:
    """The profile's leakage and identifier flags without the rest of the profile.

    The same rules as :func:`profile_table` (which the Data page shows), on the same columns,
    so that training leaves out exactly what the profile warns about; only the counts and the
    single-column AUCs are computed (no histograms or top values).

    Args:
        con: Open warehouse connection.
        table: Table name.
        target: Target column; leakage is judged for a two-class target only.
        positive: Its positive class (suggested when None).
        hidden: Columns marked as personal data (never scored, as in the profile).

    Returns:
        ``(leaks, identifiers)``: column (SQL name) → the profile's warning, for likely
        leakage, and column → why it looks like an identifier (the target excepted).

    Raises:
        SchemaError: Unknown table, target or positive class.
    """
    require_table(con, table)
    cols = table_columns(con, table)
    names = dict(cols)
    if target not in names:
        raise SchemaError(f"Table '{table}' has no column '{target}'. Choose the target from: "
                          f"{', '.join(names)}.")
    t = quote_ident(table)
    rows = int(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
    counts = _basic(con, t, cols) if rows else {n: (0, 0) for n, _ in cols}
    originals = original_names(con, table)
    profiles, ids = [], {}
    for name, typ in cols:
        present, distinct = counts[name]
        c = ColumnProfile(name, originals.get(name, name), typ, kind_of(typ), rows - present,
                          100.0 * (rows - present) / rows if rows else 0.0, distinct,
                          hidden=name in hidden)
        profiles.append(dataclasses.replace(c, warnings=tuple(_column_warnings(c, rows))))
        why = identifier_reason(c.original_name, typ, present, distinct)
        if why is not None and name != target and distinct > 1:
            ids[name] = why
    _, pos = _balance(con, table, target, positive)
    if pos is None:
        return {}, ids
    features = [c for c in profiles if c.name != target]
    scored = _associations(con, t, features, _target_expr(target, names[target]), pos)
    return leaking_columns(scored), ids


def _balance(con, table: str, target: str, positive: str | None):
    summary = summarize_target(con, table, target)
    total = sum(summary.counts) or 1
    balance = [(label, n, n / total) for label, n in zip(summary.classes, summary.counts)]
    if len(summary.classes) != 2:
        return balance, None
    if positive is not None and positive not in summary.classes:
        raise SchemaError(f"'{positive}' is not a value of '{target}'; its values are "
                          f"{' and '.join(summary.classes)}.")
    return balance, positive or summary.suggested_positive


def profile_table(con: duckdb.DuckDBPyConnection, table: str, target: str | None = None,
                  positive: str | None = None, hidden: tuple[str, ...] = ()) -> TableProfile:
    """Profile every column of a table, and its relation to a target when one is given.

    Args:
        con: Open warehouse connection.
        table: Table name.
        target: Target column (optional); binary targets get AUC per column and leakage hints.
        positive: Positive class of a binary target (suggested when None).
        hidden: Columns marked as personal data: only type and missing values are shown.

    Returns:
        The :class:`TableProfile`.

    Raises:
        SchemaError: Unknown table, target or positive class.
    """
    started = time.perf_counter()
    require_table(con, table)
    cols = table_columns(con, table)
    names = dict(cols)
    if target is not None and target not in names:
        raise SchemaError(f"Table '{table}' has no column '{target}'. Choose the target from: "
                          f"{', '.join(names)}.")
    t = quote_ident(table)
    rows = int(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
    counts = _basic(con, t, cols) if rows else {n: (0, 0) for n, _ in cols}
    originals = original_names(con, table)
    profiles = []
    for name, typ in cols:
        c = _column(con, t, name, typ, rows, counts[name], originals.get(name, name),
                    name in hidden)
        warned = tuple(_column_warnings(c, rows))
        profiles.append(ColumnProfile(**{**c.__dict__, "warnings": warned}))
    balance, pos = ([], None)
    if target is not None:
        balance, pos = _balance(con, table, target, positive)
        if pos is not None:
            features = [c for c in profiles if c.name != target]
            scored = _associations(con, t, features, _target_expr(target, names[target]), pos)
            profiles = [next((s for s in scored if s.name == c.name), c) for c in profiles]
    warnings = [w for c in profiles for w in c.warnings]
    leaks = leaking_columns([c for c in profiles if c.name != target])
    warnings += leaks.values()
    seconds = time.perf_counter() - started
    log.info("profiled %s (%d rows, %d columns) in %.2f s", table, rows, len(cols), seconds)
    return TableProfile(table, rows, profiles, target, pos, balance, warnings, seconds, leaks)
