"""Which columns a model may learn from, and why the others are left out.

Every training path (a run, cross-validation, tuning, uplift, the leaderboard) asks
:func:`choose_features` first, so that the profile's flags apply everywhere, not only where a
page pre-ticks a box:

- ``leakage``: the profile's leakage flag (a column that predicts a two-class target almost
  perfectly on its own, or far better than every other column, or whose name says it is recorded
  after the outcome);
- ``identifier``: near-unique integers or text, or an identifier's name (``CustomerID``,
  ``InvoiceNo``) on many whole-number or text values;
- ``personal``: marked as personal data on the Data page (train on the protected copy instead);
- ``post-treatment``: in an experiment, a column whose distribution differs between the treated
  and the control arm more than randomisation allows (:func:`treatment_flags`), so it was most
  likely recorded after the treatment (a visit, a purchase amount);
- ``user``: left out by the analyst (``exclude``, or not among the chosen ``features``).

A flagged column the analyst names explicitly in ``features`` is kept, with a note saying so:
nothing is dropped or kept silently.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np

from core.errors import SchemaError
from core.features import infer_task
from core.specs import DatasetSpec
from core.tables._kinds import identifier_reason, kind_of
from core.tables._privacy import load_marks
from core.tables._profile import column_flags
from core.warehouse import original_names, quote_ident, require_table, table_columns

REASONS = ("leakage", "post-treatment", "identifier", "personal", "user")
BALANCE_ALPHA = 0.001
MAX_LEVELS = 50


@dataclass(frozen=True)
class Exclusion:
    """One column a model does not learn from.

    Attributes:
        column: Column name in the table.
        original_name: The header as the analyst's file had it.
        reason: One of :data:`REASONS`.
        detail: One sentence: the evidence (e.g. the AUC, the balance test's p-value).
    """

    column: str
    original_name: str
    reason: str
    detail: str

    def to_dict(self) -> dict:
        """``{"column" (as the file named it), "reason", "detail", "table_column"}``."""
        return {"column": self.original_name, "reason": self.reason, "detail": self.detail,
                "table_column": self.column}


@dataclass(frozen=True)
class FeatureChoice:
    """The features of one training, what was left out and why.

    Attributes:
        features: Feature columns (table names), in table order.
        excluded: The table's other columns (target and treatment excepted), in table order.
        notes: Plain sentences for the run's notes: flagged columns kept on request.
        originals: Table column name → header in the file, for every column.
    """

    features: tuple[str, ...]
    excluded: tuple[Exclusion, ...]
    notes: tuple[str, ...]
    originals: dict

    def original_features(self) -> list[str]:
        """The features as the file named them."""
        return [self.originals.get(c, c) for c in self.features]

    def excluded_dicts(self) -> list[dict]:
        """:meth:`Exclusion.to_dict` of each left-out column (JSON-ready)."""
        return [e.to_dict() for e in self.excluded]

    def summary(self) -> str | None:
        """One sentence naming what was left out and why, or None when nothing was."""
        auto = [e for e in self.excluded if e.reason != "user"]
        if not auto:
            return None
        return "Left out of the features: " + "; ".join(
            f"'{e.original_name}' ({e.reason})" for e in auto) + "."


def _welch_p(n1: int, m1: float, v1: float, n2: int, m2: float, v2: float) -> float:
    from scipy.stats import ttest_ind_from_stats

    if n1 < 2 or n2 < 2 or (v1 <= 0 and v2 <= 0):
        return 0.0 if m1 != m2 and n1 and n2 else 1.0
    return float(ttest_ind_from_stats(m1, np.sqrt(v1), n1, m2, np.sqrt(v2), n2,
                                      equal_var=False).pvalue)


def _chi2_p(table: np.ndarray) -> float:
    from scipy.stats import chi2_contingency

    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 1.0
    return float(chi2_contingency(table, correction=False).pvalue)


def _numeric_balance(con, t: str, col: str, arm: str, params: dict) -> tuple[float, str]:
    """Welch's t-test of the means and a chi-squared test of the missing shares."""
    q = quote_ident(col)
    rows = con.execute(
        f"SELECT {arm} AS a, count({q}), avg(CAST({q} AS DOUBLE)), "
        f"var_samp(CAST({q} AS DOUBLE)), count(*) - count({q}) FROM {t} "
        f"WHERE {arm} IS NOT NULL GROUP BY 1 ORDER BY 1", params).fetchall()
    by = {int(r[0]): r for r in rows}
    if set(by) != {0, 1}:
        return 1.0, ""
    (_, n0, m0, v0, miss0), (_, n1, m1, v1, miss1) = by[0], by[1]
    p_mean = _welch_p(n1, m1 or 0.0, v1 or 0.0, n0, m0 or 0.0, v0 or 0.0)
    p_miss = _chi2_p(np.array([[n0, miss0], [n1, miss1]])) if miss0 or miss1 else 1.0
    pooled = np.sqrt(((v0 or 0.0) + (v1 or 0.0)) / 2.0) or 1.0
    smd = ((m1 or 0.0) - (m0 or 0.0)) / pooled
    if p_miss < p_mean:
        return p_miss, (f"missing in {miss1 / max(n1 + miss1, 1):.1%} of treated and "
                        f"{miss0 / max(n0 + miss0, 1):.1%} of control rows")
    return p_mean, (f"mean {m1:,.4g} treated vs {m0:,.4g} control, standardised difference "
                    f"{smd:+.2f}")


def _category_balance(con, t: str, col: str, arm: str, params: dict) -> tuple[float, str]:
    """Chi-squared test of arm × level counts (the most frequent levels; missing is a level)."""
    q = quote_ident(col)
    rows = con.execute(
        f"SELECT {arm} AS a, CAST({q} AS VARCHAR) AS v, count(*) FROM {t} "
        f"WHERE {arm} IS NOT NULL GROUP BY 1, 2", params).fetchall()
    levels: dict = {}
    for a, v, n in rows:
        levels.setdefault(v, [0, 0])[int(a)] += int(n)
    top = sorted(levels, key=lambda v: -sum(levels[v]))[:MAX_LEVELS]
    counts = np.array([levels[v] for v in top], dtype=float).T
    rest = np.array([sum(levels[v][a] for v in levels if v not in top) for a in (0, 1)])
    if rest.sum():
        counts = np.c_[counts, rest]
    p = _chi2_p(counts)
    shares = counts / counts.sum(axis=1, keepdims=True)
    worst = int(np.argmax(np.abs(shares[1] - shares[0])))
    name = top[worst] if worst < len(top) else "(other)"
    return p, (f"'{'(missing)' if name is None else name}' in {shares[1, worst]:.1%} of treated "
               f"and {shares[0, worst]:.1%} of control rows")


def balance_tests(con: duckdb.DuckDBPyConnection, table: str, treatment: str, treated: str,
                  columns: list[str]) -> dict[str, tuple[float, str]]:
    """Whether each column has the same distribution in the treated and the control arm.

    Numeric columns: Welch's t-test of the means (``scipy.stats.ttest_ind_from_stats`` with
    ``equal_var=False``), or, when it is smaller, the chi-squared test of their missing shares.
    Other columns: Pearson's chi-squared test of independence of arm × level
    (``scipy.stats.chi2_contingency``, no continuity correction) over the
    :data:`MAX_LEVELS` most frequent levels, the rest pooled, missing a level of its own. The
    per-arm counts, means and variances are aggregated in DuckDB.

    Args:
        con: Open warehouse connection.
        table: The experiment's table.
        treatment: Treatment/control column (rows where it is missing are ignored).
        treated: Its value meaning treated (as text).
        columns: Columns to test (table names).

    Returns:
        Column → ``(p-value, what differs in words)``.
    """
    types = dict(table_columns(con, table))
    t = quote_ident(table)
    q = quote_ident(treatment)
    arm = (f"CASE WHEN {q} IS NULL THEN NULL WHEN CAST({q} AS VARCHAR) = $treated THEN 1 "
           f"ELSE 0 END")
    params = {"treated": treated}
    return {col: (_numeric_balance if kind_of(types[col]) == "numeric" else _category_balance)(
        con, t, col, arm, params) for col in columns}


def treatment_flags(con: duckdb.DuckDBPyConnection, table: str, treatment: str, treated: str,
                    columns: list[str], alpha: float = BALANCE_ALPHA) -> dict[str, str]:
    """Columns whose distribution differs between treated and control more than randomisation
    allows: most likely recorded after the treatment (post-treatment), so an uplift model must
    not learn from them.

    Under random assignment every pre-treatment column has the same distribution in both arms
    and a test's p-value is uniform (:func:`balance_tests`). A column is flagged when its
    p-value is below ``alpha / m`` (Bonferroni over the ``m`` columns tested), so a randomised
    table has a chance of at most ``alpha`` of any false flag. This is the covariate balance
    check of randomised experiments (Imbens & Rubin, 2015, *Causal Inference*, ch. 14), read
    the other way round: a column that fails it was not fixed before the assignment.

    Args:
        con: Open warehouse connection.
        table: The experiment's table.
        treatment: Treatment/control column.
        treated: Its value meaning treated (as text).
        columns: Candidate columns (features), table names.
        alpha: Family-wise false-flag rate.

    Returns:
        Column → the evidence, to follow the column's name in a sentence.
    """
    if not columns:
        return {}
    cutoff = alpha / len(columns)
    out = {}
    for col, (p, what) in balance_tests(con, table, treatment, treated, columns).items():
        if p < cutoff:
            out[col] = (f"differs between treated and control more than random assignment "
                        f"allows ({what}; p = {p:.1e}, below {cutoff:.1e}): it is most likely "
                        f"recorded after the treatment")
    return out


def check_target(con: duckdb.DuckDBPyConnection, spec: DatasetSpec, task: str) -> None:
    """Refuse an identifier as a regression target (``CustomerID``): its numbers name
    customers, they do not measure anything, and a model of them means nothing.

    Raises:
        SchemaError: The target looks like an identifier; says how to go on.
    """
    if task != "regression":
        return
    typ = dict(table_columns(con, spec.table))[spec.target]
    q = quote_ident(spec.target)
    present, distinct = con.execute(f"SELECT count({q}), count(DISTINCT {q}) FROM "
                                    f"{quote_ident(spec.table)}").fetchone()
    shown = original_names(con, spec.table).get(spec.target, spec.target)
    why = identifier_reason(shown, typ, int(present), int(distinct))
    if why is not None:
        raise SchemaError(
            f"The target '{shown}' looks like an identifier ({why}): its numbers name things, "
            f"they do not measure anything, so a regression on it means nothing. Choose the "
            f"quantity you want to predict; if '{shown}' really is a quantity, rename it in "
            f"Prepare.")


def choose_features(con: duckdb.DuckDBPyConnection, spec: DatasetSpec,
                    treatment: str | None = None, treated: str | None = None) -> FeatureChoice:
    """The features a training uses and the reasons for everything left out.

    Args:
        con: Open warehouse connection.
        spec: Table, target, positive class, ``features`` (empty: every column not flagged)
            and ``exclude``.
        treatment: The treatment column of an uplift training (never a feature here; its
            balance test flags post-treatment columns).
        treated: The treatment's treated value (as text); the balance test runs only when
            it is given.

    Returns:
        The :class:`FeatureChoice`.

    Raises:
        SchemaError: Unknown columns, an identifier as a regression target, or no feature left.
    """
    require_table(con, spec.table)
    cols = [c for c, _ in table_columns(con, spec.table)]
    unknown = [c for c in (spec.target, *spec.features, *spec.exclude,
                           *([treatment] if treatment else [])) if c not in cols]
    if unknown:
        raise SchemaError(f"Table '{spec.table}' has no column(s) {', '.join(unknown)}. Its "
                          f"columns are: {', '.join(cols)}.")
    task = spec.task or ("binary" if treatment else infer_task(con, spec.table, spec.target)[0])
    check_target(con, spec, task)
    marks = tuple(m.column for m in load_marks(con, spec.table))
    originals = original_names(con, spec.table)
    leaks, ids = column_flags(con, spec.table, spec.target,
                              spec.positive_class if task == "binary" else None, marks)
    if task != "binary":
        leaks = {}
    candidates = [c for c in cols if c not in (spec.target, treatment)]
    flags: dict[str, tuple[str, str]] = {}
    for c in candidates:
        shown = originals.get(c, c)
        if c in marks:
            flags[c] = ("personal", f"'{shown}' is marked as personal data on the Data page; "
                                    f"train on its protected copy to use a generalised or "
                                    f"pseudonymised form.")
        elif c in leaks:
            flags[c] = ("leakage", leaks[c])
        elif c in ids:
            flags[c] = ("identifier", f"'{shown}' looks like an identifier ({ids[c]}): a model "
                                      f"would memorise rows instead of learning a pattern.")
    if treatment and treated is not None:
        tested = [c for c in candidates if c not in flags]
        for c, why in treatment_flags(con, spec.table, treatment, treated, tested).items():
            flags[c] = ("post-treatment", f"'{originals.get(c, c)}' {why}.")
    return _decide(spec, candidates, flags, originals)


def _decide(spec: DatasetSpec, candidates: list[str], flags: dict, originals: dict,
            ) -> FeatureChoice:
    chosen = set(spec.features)
    features, excluded, notes = [], [], []
    for c in candidates:
        shown = originals.get(c, c)
        if c in spec.exclude:
            excluded.append(Exclusion(c, shown, *(flags.get(c) or (
                "user", f"'{shown}' was left out by the analyst."))))
        elif spec.features and c not in chosen:
            excluded.append(Exclusion(c, shown, *(flags.get(c) or (
                "user", f"'{shown}' is not among the chosen features."))))
        elif c in flags and c not in chosen:
            excluded.append(Exclusion(c, shown, *flags[c]))
        else:
            features.append(c)
            if c in flags:
                reason, why = flags[c]
                notes.append(f"'{shown}' was kept because it was chosen as a feature, although "
                             f"it is flagged ({reason}). {why}")
    if not features:
        raise SchemaError("No feature columns are left after leaving out "
                          + ", ".join(f"'{e.original_name}' ({e.reason})" for e in excluded)
                          + ". Name the columns to use as features explicitly.")
    return FeatureChoice(tuple(features), tuple(excluded), tuple(notes), dict(originals))
