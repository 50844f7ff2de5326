"""Personal data: suggest and mark personal columns, write a protected copy (k-anonymity is
measured and reached in ``_anonymity``).

A protected copy drops, pseudonymises or generalises each marked column. Pseudonyms are
HMAC-SHA256 of the value under a key kept in the data directory (``privacy.key``), computed in
DuckDB with the key bound as a parameter, so the same customer gets the same pseudonym in every
upload and joins still work, while nobody without the key can recompute them. Marked columns are
also hidden from profiles and from the SQL console (see :mod:`core.warehouse`).
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import duckdb

from core.config import Settings
from core.errors import SchemaError
from core.tables._kinds import kind_of, looks_like_id
from core.tables._steps import ORDER_COL, file_order_sql
from core.warehouse import (
    META_SCHEMA,
    claim_output,
    original_names,
    quote_ident,
    record_output,
    require_table,
    table_columns,
    transaction,
)

log = logging.getLogger(__name__)

ACTIONS = ("drop", "pseudonymise", "generalise")
KEY_FILE = "privacy.key"
PSEUDONYM_HEX = 20
_NAME_HINTS = re.compile(
    r"(^|_)(name|first_?name|last_?name|surname|full_?name|e_?mail|mail|phone|mobile|tel|"
    r"telephone|fax|address|street|zip|zip_?code|post_?code|postal_?code|ssn|passport|iban|"
    r"account_?number|birth|birth_?date|dob|date_of_birth|ip|ip_address|licen[cs]e|national_?id|"
    r"tax_?id)($|_)|姓名|电话|手机|邮箱|地址|身份证", re.IGNORECASE)
_ID_NAME = re.compile(r"(^|_)(customer|client|user|member|person|patient|employee|account)?_?id$",
                      re.IGNORECASE)
_EMAIL = r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}"
_PHONE = r"\+?[0-9][0-9 ()./-]{6,18}[0-9]"


@dataclass(frozen=True)
class PersonalMark:
    """How one personal column is protected.

    Attributes:
        column: Column name.
        action: ``drop``, ``pseudonymise`` or ``generalise``.
        param: For ``generalise``: band width of numbers (default 10), or characters of text
            kept (default 3); dates keep the year. Unused otherwise.
    """

    column: str
    action: str = "pseudonymise"
    param: float | None = None

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise SchemaError(f"action must be one of {', '.join(ACTIONS)}; got {self.action!r} "
                              f"for column '{self.column}'.")
        if self.param is not None and self.param <= 0:
            raise SchemaError(f"param must be positive for column '{self.column}'; got "
                              f"{self.param}.")


@dataclass(frozen=True)
class Suggestion:
    """A column that looks personal and why."""

    column: str
    reason: str


def suggest_personal(con: duckdb.DuckDBPyConnection, table: str) -> list[Suggestion]:
    """Suggest columns that hold personal data: by name, by values (e-mail, phone), or ID-like.

    Args:
        con: Open warehouse connection.
        table: Table name.

    Returns:
        One :class:`Suggestion` per column that looks personal, in table order.
    """

    require_table(con, table)
    t = quote_ident(table)
    originals = original_names(con, table)
    out = []
    for name, typ in table_columns(con, table):
        q = quote_ident(name)
        if _NAME_HINTS.search(name) or _NAME_HINTS.search(originals.get(name, "")):
            out.append(Suggestion(name, "its name suggests personal data"))
            continue
        if _ID_NAME.search(name):
            out.append(Suggestion(name, "its name suggests an identifier of a person"))
            continue
        n, distinct, emails, phones = con.execute(
            f"SELECT count({q}), count(DISTINCT {q}), "
            f"count_if(regexp_full_match(CAST({q} AS VARCHAR), ?)), "
            f"count_if(regexp_full_match(CAST({q} AS VARCHAR), ?) AND NOT "
            f"regexp_full_match(CAST({q} AS VARCHAR), '[0-9.]+')) FROM {t}",
            [_EMAIL, _PHONE]).fetchone()
        if n and emails >= 0.5 * n:
            out.append(Suggestion(name, "its values are e-mail addresses"))
        elif n and kind_of(typ) == "text" and phones >= 0.8 * n:
            out.append(Suggestion(name, "its values look like phone numbers"))
        elif looks_like_id(typ, n, distinct):
            out.append(Suggestion(name, "it identifies single rows (ID-like)"))
    return out


def load_marks(con: duckdb.DuckDBPyConnection, table: str) -> list[PersonalMark]:
    """The personal-data marks saved for a table (empty when none)."""
    rows = con.execute(
        f"SELECT column_name, action, param FROM {META_SCHEMA}.personal "
        f"WHERE lower(table_name) = lower(?) ORDER BY column_name", [table]).fetchall()
    return [PersonalMark(c, a, p) for c, a, p in rows]


def save_marks(con: duckdb.DuckDBPyConnection, table: str, marks: list[PersonalMark]) -> None:
    """Replace a table's personal-data marks (in one transaction).

    Raises:
        SchemaError: A marked column is not in the table.
    """
    require_table(con, table)
    known = {c for c, _ in table_columns(con, table)}
    unknown = [m.column for m in marks if m.column not in known]
    if unknown:
        raise SchemaError(f"Table '{table}' has no column(s) {', '.join(unknown)}.")
    with transaction(con):
        con.execute(f"DELETE FROM {META_SCHEMA}.personal WHERE lower(table_name) = lower(?)",
                    [table])
        for m in marks:
            con.execute(f"INSERT INTO {META_SCHEMA}.personal VALUES (?, ?, ?, ?)",
                        [table, m.column, m.action, m.param])


def personal_key(settings: Settings) -> bytes:
    """The workspace's pseudonymisation key, created once (32 random bytes, owner-only file).

    The same key is used for every upload, so a customer's pseudonym is stable across files.
    Deleting ``privacy.key`` makes all later pseudonyms differ from earlier ones.
    """
    path = Path(settings.data_dir) / KEY_FILE
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(32))
        log.info("created pseudonymisation key %s", path)
    return path.read_bytes()


def hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    """HMAC-SHA256 inner and outer padded keys (RFC 2104) for computing HMAC in SQL."""
    block = key.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block)


def pseudonym_sql(col: str) -> str:
    """SQL for the pseudonym of a column: ``p_`` + the first hex digits of HMAC-SHA256.

    Uses the named parameters ``$ipad`` and ``$opad`` (see :func:`hmac_pads`); the value is
    trimmed text, and NULL stays NULL.
    """
    value = f"encode(trim(CAST({quote_ident(col)} AS VARCHAR)))"
    inner = f"unhex(sha256($ipad || {value}))"
    return (f"CASE WHEN {quote_ident(col)} IS NULL THEN NULL ELSE "
            f"'p_' || left(sha256($opad || {inner}), {PSEUDONYM_HEX}) END")


def generalise_sql(col: str, duck_type: str, param: str) -> str:
    """SQL that coarsens a column: number bands (``30-39``), year of a date, or a text prefix.

    Args:
        col: Column name.
        duck_type: Its DuckDB type.
        param: Name of the bound parameter holding the band width or prefix length.

    Returns:
        An SQL expression.
    """
    q = quote_ident(col)
    kind = kind_of(duck_type)
    if kind == "numeric":
        low = f"floor(CAST({q} AS DOUBLE) / ${param}) * ${param}"
        top = f"{low} + ${param} - (CASE WHEN ${param} >= 1 THEN 1 ELSE 0 END)"
        return f"CASE WHEN {q} IS NULL THEN NULL ELSE printf('%g-%g', {low}, {top}) END"
    if kind == "date":
        return f"CAST(year({q}) AS VARCHAR)"
    return (f"CASE WHEN {q} IS NULL THEN NULL ELSE "
            f"left(trim(CAST({q} AS VARCHAR)), CAST(${param} AS INT)) || '*' END")


def protected_select(con: duckdb.DuckDBPyConnection, table: str, marks: list[PersonalMark],
                     key: bytes | None = None, order: bool = False) -> tuple[str, dict]:
    """The SELECT that applies ``marks`` to ``table``, with its bound parameters.

    Args:
        con: Open connection.
        table: Table whose columns are read.
        marks: Personal-data marks.
        key: Pseudonymisation key (needed when a mark pseudonymises).
        order: Also select each row's file order as ``ORDER_COL``.

    Returns:
        ``(sql, params)``.

    Raises:
        SchemaError: Every column would be dropped.
    """
    by_col = {m.column: m for m in marks}
    parts, params = [], {}
    for i, (name, typ) in enumerate(table_columns(con, table)):
        m = by_col.get(name)
        if m is None:
            parts.append(quote_ident(name))
        elif m.action == "pseudonymise":
            parts.append(f"{pseudonym_sql(name)} AS {quote_ident(name)}")
            params["ipad"], params["opad"] = hmac_pads(key or b"")
        elif m.action == "generalise":
            if kind_of(typ) != "date":
                default = 10.0 if kind_of(typ) == "numeric" else 3.0
                params[f"g{i}"] = float(m.param or default)
            parts.append(f"{generalise_sql(name, typ, f'g{i}')} AS {quote_ident(name)}")
    if not parts:
        raise SchemaError(f"Every column of '{table}' would be dropped; keep at least one.")
    if order:
        parts.append(f"{file_order_sql(con, table)} AS {quote_ident(ORDER_COL)}")
    return f"SELECT {', '.join(parts)} FROM {quote_ident(table)}", params


def protect_table(con: duckdb.DuckDBPyConnection, settings: Settings, table: str,
                  out: str | None = None, marks: list[PersonalMark] | None = None,
                  replace: bool = False) -> str:
    """Write a protected copy of a table (raw stays untouched) and record the marks.

    Args:
        con: Open warehouse connection.
        settings: Workspace settings (for the key).
        table: The raw table.
        out: Name of the protected table (``<table>_protected`` by default).
        marks: Marks to apply and save; the saved ones when None.
        replace: Replace an earlier protected copy of that name (raw tables never).

    Returns:
        The protected table's name.

    Raises:
        SchemaError: Unknown table or column, nothing marked, or everything dropped.
    """
    require_table(con, table)
    marks = load_marks(con, table) if marks is None else marks
    if not marks:
        raise SchemaError(f"No column of '{table}' is marked as personal; mark some first.")
    out = claim_output(con, out or f"{table}_protected", (table,), replace, "protected copy")
    save_marks(con, table, marks)
    key = personal_key(settings) if any(m.action == "pseudonymise" for m in marks) else None
    sql, params = protected_select(con, table, marks, key)
    with transaction(con):
        con.execute(f"CREATE OR REPLACE TABLE {quote_ident(out)} AS {sql}", params)
        record_output(con, out, table, "protected copy", carry_marks=False)
    log.info("wrote protected copy %s of %s", out, table)
    return out
