"""Column kinds from DuckDB types, and whether a column identifies rows (by its values or its
name)."""

from __future__ import annotations

import re

NUMERIC_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                 "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "REAL"}
DATE_TYPES = {"DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_NS", "TIMESTAMP_MS"}
ID_NAME_DISTINCT = 100
_ID_WORDS = {"id", "ids", "no", "nr", "num", "number", "key", "uuid", "guid"}
_WHOLE_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                "UINTEGER", "UBIGINT"}

def kind_of(duck_type: str) -> str:
    """``numeric``, ``date``, ``boolean`` or ``text`` for a DuckDB type name."""
    if duck_type in NUMERIC_TYPES or duck_type.startswith("DECIMAL"):
        return "numeric"
    if duck_type in DATE_TYPES:
        return "date"
    return "boolean" if duck_type == "BOOLEAN" else "text"


def looks_like_id(duck_type: str, present: int, distinct: int) -> bool:
    """Whether a column identifies single rows: text or integers, nearly all values distinct.

    Args:
        duck_type: DuckDB type of the column.
        present: Non-missing values (at least 20 are needed to judge).
        distinct: Distinct non-missing values.
    """
    return (kind_of(duck_type) in ("text", "numeric")
            and not duck_type.startswith(("DOUBLE", "FLOAT", "REAL", "DECIMAL"))
            and present >= 20 and distinct >= 0.95 * present)


def id_name(name: str) -> bool:
    """Whether a column's name says it identifies something: its last word is *id*, *no*,
    *nr*, *num*, *number*, *key*, *uuid* or *guid* (``CustomerID``, ``InvoiceNo``,
    ``account_number``, ``order-id``); CamelCase and snake_case both split into words."""
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", name)
    return bool(words) and words[-1].lower() in _ID_WORDS


def identifier_reason(name: str, duck_type: str, present: int, distinct: int) -> str | None:
    """Why a column looks like an identifier, or None.

    Two rules: nearly every value distinct (:func:`looks_like_id`), or an identifier's name
    (:func:`id_name`) on whole numbers or text with at least :data:`ID_NAME_DISTINCT` distinct
    values (``CustomerID`` repeats across a customer's invoices, so it is not near-unique).

    Args:
        name: Column name (as the table or the file names it).
        duck_type: DuckDB type.
        present: Non-missing values.
        distinct: Distinct non-missing values.

    Returns:
        A phrase such as ``"4,372 distinct values in 9,000 rows"`` or None.
    """
    if looks_like_id(duck_type, present, distinct):
        return f"{distinct:,} distinct values in {present:,} rows"
    whole = duck_type in _WHOLE_TYPES or kind_of(duck_type) == "text"
    if whole and distinct >= ID_NAME_DISTINCT and id_name(name):
        return (f"{distinct:,} distinct values in {present:,} rows, and its name says it "
                f"identifies something")
    return None
