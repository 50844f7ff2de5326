"""k-anonymity over quasi-identifiers: measured (:func:`k_anonymity`) and reached
(:func:`reach_k`).

A table is k-anonymous over quasi-identifiers (age, postcode, gender …) when every combination
of their values that occurs is shared by at least k rows (Sweeney, "k-anonymity: a model for
protecting privacy", 2002). :func:`reach_k` gets there the way Samarati & Sweeney describe
(generalisation, then suppression): it coarsens the quasi-identifiers along the analyst's own
bands (the personal-data marks: numbers to bands of a width, text to a prefix, dates to the
year), then suppresses (leaves out) the rows still in groups smaller than k, and writes the
result as a protected copy, reporting the rows suppressed and the k reached. It does not search
for wider bands by itself: the analyst chooses them, sees the cost in suppressed rows, and can
widen them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import duckdb

from core.config import Settings
from core.errors import SchemaError
from core.tables._kinds import kind_of
from core.tables._privacy import (
    PersonalMark,
    load_marks,
    personal_key,
    protected_select,
    save_marks,
)
from core.tables._steps import ORDER_COL
from core.warehouse import (
    claim_output,
    quote_ident,
    record_output,
    require_table,
    table_columns,
    transaction,
)

log = logging.getLogger(__name__)

MAX_K = 1000
_MANY_SUPPRESSED = 0.10


@dataclass(frozen=True)
class KAnonymity:
    """Group sizes over chosen quasi-identifiers.

    Attributes:
        quasi_identifiers: The columns grouped by.
        k: The smallest group size (the table is k-anonymous for this k).
        groups: Number of distinct combinations.
        rows: Rows considered.
        threshold: The k the analyst aims for.
        rows_at_risk: Rows in groups smaller than ``threshold``.
        groups_at_risk: Groups smaller than ``threshold``.
    """

    quasi_identifiers: tuple[str, ...]
    k: int
    groups: int
    rows: int
    threshold: int
    rows_at_risk: int
    groups_at_risk: int


@dataclass(frozen=True)
class KAnonymised:
    """A protected copy written to reach k-anonymity.

    Attributes:
        table: The protected table written.
        source: The table it was made from (unchanged).
        k: The k aimed for.
        k_reached: Smallest group over the quasi-identifiers in the written table (>= ``k``).
        quasi_identifiers: The columns grouped by.
        generalised: Quasi-identifier → how it was coarsened (``bands of 10``, ``first 3
            characters``, ``year``, ``pseudonymised``, ``as is``).
        rows_before: Rows of the source.
        rows_written: Rows of the protected copy.
        rows_suppressed: Rows left out because their group stayed smaller than ``k``.
        groups: Groups in the protected copy.
        groups_suppressed: Groups left out.
        k_before_suppression: Smallest group after generalising, before suppressing.
        notes: What the analyst should know, in words.
    """

    table: str
    source: str
    k: int
    k_reached: int
    quasi_identifiers: tuple[str, ...]
    generalised: dict[str, str]
    rows_before: int
    rows_written: int
    rows_suppressed: int
    groups: int
    groups_suppressed: int
    k_before_suppression: int
    notes: tuple[str, ...] = ()


def _check_quasi(con, table: str, quasi_identifiers) -> tuple[str, ...]:
    known = {c for c, _ in table_columns(con, table)}
    if not quasi_identifiers:
        raise SchemaError("Choose at least one quasi-identifier (e.g. age, postcode, gender).")
    unknown = [c for c in quasi_identifiers if c not in known]
    if unknown:
        raise SchemaError(f"Table '{table}' has no column(s) {', '.join(unknown)}. Columns: "
                          f"{', '.join(sorted(known))}.")
    return tuple(dict.fromkeys(quasi_identifiers))


def _group_sizes(con, source: str, qis: tuple[str, ...], threshold: int,
                 params: dict | None = None) -> tuple[int, int, int, int, int]:
    """``(smallest group, groups, rows, groups below threshold, rows in them)``."""
    cols = ", ".join(quote_ident(c) for c in qis)
    row = con.execute(
        f"WITH g AS (SELECT count(*) AS n FROM {source} GROUP BY {cols}) "
        f"SELECT min(n), count(*), sum(n), count_if(n < $kmin), "
        f"sum(CASE WHEN n < $kmin THEN n ELSE 0 END) FROM g",
        {**(params or {}), "kmin": threshold}).fetchone()
    return int(row[0] or 0), int(row[1]), int(row[2] or 0), int(row[3]), int(row[4] or 0)


def k_anonymity(con: duckdb.DuckDBPyConnection, table: str, quasi_identifiers: list[str],
                threshold: int = 5, marks: list[PersonalMark] | None = None) -> KAnonymity:
    """Smallest group size over quasi-identifiers (e.g. age band, postcode prefix, gender).

    Args:
        con: Open warehouse connection.
        table: Table name.
        quasi_identifiers: Columns that together could single a person out.
        threshold: The k aimed for; groups below it are counted as at risk (the rows
            :func:`reach_k` would suppress).
        marks: Measure after generalising along these marks' bands (as :func:`reach_k`
            would); the values as they are when None.

    Returns:
        The :class:`KAnonymity` report (missing values form a group of their own).

    Raises:
        SchemaError: No quasi-identifier chosen, an unknown column, or a quasi-identifier
            marked to be dropped.
    """
    require_table(con, table)
    qis = _check_quasi(con, table, quasi_identifiers)
    source, params = quote_ident(table), {}
    if marks:
        _plan(con, table, marks, qis, 2)  # refuses a quasi-identifier marked to be dropped
        coarse = [m for m in marks if m.action == "generalise"]  # pseudonyms keep the groups
        if coarse:
            sql, params = protected_select(con, table, coarse)
            source = f"({sql}) AS p"
    k, groups, rows, g_risk, r_risk = _group_sizes(con, source, qis, threshold, params)
    return KAnonymity(qis, k, groups, rows, threshold, r_risk, g_risk)


def _how(mark: PersonalMark | None, typ: str) -> str:
    if mark is None:
        return "as is"
    if mark.action == "pseudonymise":
        return "pseudonymised (same groups as the values)"
    kind = kind_of(typ)
    if kind == "date":
        return "year"
    if kind == "numeric":
        return f"bands of {mark.param or 10.0:g}"
    return f"first {int(mark.param or 3)} characters"


def _plan(con, table: str, marks: list[PersonalMark], qis: tuple[str, ...],
          k: int) -> dict[str, str]:
    if isinstance(k, bool) or not isinstance(k, int) or not 2 <= k <= MAX_K:
        raise SchemaError(f"k must be a whole number between 2 and {MAX_K}; got {k!r}.")
    by_col = {m.column: m for m in marks}
    dropped = [c for c in qis if c in by_col and by_col[c].action == "drop"]
    if dropped:
        raise SchemaError(f"{', '.join(dropped)} {'is' if len(dropped) == 1 else 'are'} marked "
                          f"to be dropped, so the protected copy has no such column to group "
                          f"by. Leave {'it' if len(dropped) == 1 else 'them'} out of the "
                          f"quasi-identifiers, or generalise instead of dropping.")
    types = dict(table_columns(con, table))
    return {c: _how(by_col.get(c), types[c]) for c in qis}


def _notes(generalised: dict[str, str], rows: int, suppressed: int) -> tuple[str, ...]:
    if not suppressed:
        return ()
    out = []
    if suppressed > _MANY_SUPPRESSED * rows:
        out.append(f"{suppressed / rows:.0%} of the rows were suppressed; wider bands (or "
                   f"fewer quasi-identifiers) keep more of them.")
    kept = [c for c, how in generalised.items() if how.startswith(("as is", "pseudonymised"))]
    if kept:
        out.append(f"{', '.join(kept)} {'is' if len(kept) == 1 else 'are'} grouped by "
                   f"exact value; generalising {'it' if len(kept) == 1 else 'them'} (mark "
                   f"'generalise' with a band) would suppress fewer rows.")
    return tuple(out)


def reach_k(con: duckdb.DuckDBPyConnection, settings: Settings, table: str,
            quasi_identifiers: list[str], k: int, marks: list[PersonalMark] | None = None,
            out: str | None = None, replace: bool = False) -> KAnonymised:
    """Write a protected copy that is k-anonymous over the quasi-identifiers.

    Every mark is applied as in :func:`core.tables.protect_table` (the quasi-identifiers are
    generalised along their marks' bands; a quasi-identifier without a mark is grouped by its
    exact value), then rows in groups still smaller than ``k`` are suppressed. Missing values
    form a group of their own. Rows keep the source's order. The table and its lineage are
    written in one transaction; nothing is written when no row would remain.

    Args:
        con: Open warehouse connection.
        settings: Workspace settings (for the pseudonymisation key).
        table: The source table (left untouched).
        quasi_identifiers: Columns that together could single a person out.
        k: The smallest group size to reach, 2 to ``MAX_K``.
        marks: Personal-data marks to apply and save; the saved ones when None.
        out: Name of the protected table (``<table>_protected`` by default).
        replace: Replace an earlier protected copy of that name (raw tables never).

    Returns:
        The :class:`KAnonymised` report.

    Raises:
        SchemaError: Unknown table or column, no quasi-identifier, a k out of range, a
            quasi-identifier marked to be dropped, or no group reaching k.
        OutputTableError: ``out`` names the source, a raw table, or (without ``replace``) an
            existing output.
    """
    require_table(con, table)
    qis = _check_quasi(con, table, quasi_identifiers)
    marks = load_marks(con, table) if marks is None else list(marks)
    generalised = _plan(con, table, marks, qis, k)
    out = claim_output(con, out or f"{table}_protected", (table,), replace, "protected copy")
    key = personal_key(settings) if any(m.action == "pseudonymise" for m in marks) else None
    sql, params = protected_select(con, table, marks, key, order=True)
    k_before, groups, rows, g_small, r_small = _group_sizes(con, f"({sql}) AS p", qis, k, params)
    if rows and r_small == rows:
        raise SchemaError(
            f"No group over {', '.join(qis)} reaches {k} rows after generalising (the largest "
            f"has fewer), so every row would be suppressed. Widen the bands (e.g. ages in "
            f"bands of 20), generalise more of the quasi-identifiers, or choose fewer.")
    part = ", ".join(quote_ident(c) for c in qis)
    order = quote_ident(ORDER_COL)
    write = (f"SELECT * EXCLUDE ({order}, __liftlab_n) FROM (SELECT *, count(*) OVER "
             f"(PARTITION BY {part}) AS __liftlab_n FROM ({sql}) AS p) AS g "
             f"WHERE __liftlab_n >= $kmin ORDER BY {order}")
    save_marks(con, table, marks)  # the marks applied are the table's marks from now on
    with transaction(con):
        con.execute(f"CREATE OR REPLACE TABLE {quote_ident(out)} AS {write}",
                    {**params, "kmin": k})
        record_output(con, out, table, f"protected copy, {k}-anonymous over {', '.join(qis)} "
                                       f"({r_small:,} rows suppressed)", carry_marks=False)
    reached, kept_groups, written, _, _ = _group_sizes(con, quote_ident(out), qis, k)
    log.info("reach_k %s -> %s: k=%d reached %d, %d rows suppressed", table, out, k, reached,
             r_small)
    return KAnonymised(out, table, k, reached, qis, generalised, rows, written, r_small,
                       kept_groups, g_small, k_before, _notes(generalised, rows, r_small))
