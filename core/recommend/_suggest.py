"""Suggestions for the Recommend page's event-table set-up: which column plays which role, which
item codes are charges rather than products, and the values of an event-type column."""

from __future__ import annotations

import duckdb

from core.warehouse import quote_ident

_ROLE_HINTS = {
    "user": ("customerid", "customer", "user", "client", "visitor", "member", "account"),
    "item": ("stockcode", "item", "product", "sku", "article", "movie", "film", "sku_id"),
    "time": ("invoicedate", "timestamp", "datetime", "time", "date", "ts"),
    "event": ("event", "action", "interaction", "behavior", "behaviour"),
    "quantity": ("quantity", "qty", "units"),
    "price": ("unitprice", "price", "amount"),
    "order": ("invoiceno", "invoice", "order", "basket", "transaction"),
    "name": ("description", "title", "product_name", "item_name", "name"),
}
NON_PRODUCT_CODES = ("POST", "D", "M", "DOT", "BANK CHARGES", "AMAZONFEE", "CRUK", "PADS", "C2",
                     "S", "B")


def suggest_columns(columns: list[tuple[str, str]]) -> dict[str, str | None]:
    """Guess which column plays which role from names (and types, for time).

    Args:
        columns: ``(name, duckdb_type)`` pairs in table order.

    Returns:
        Role → column name or None, for user, item, time, event, quantity, price, order, name.
        A column is used for at most one role.

    Example:
        >>> suggest_columns([("CustomerID", "BIGINT"), ("StockCode", "VARCHAR"),
        ...                  ("InvoiceDate", "TIMESTAMP")])["item"]
        'StockCode'
    """
    taken: set[str] = set()
    out: dict[str, str | None] = {}
    for role, hints in _ROLE_HINTS.items():
        found = None
        for hint in hints:
            found = next((c for c, _ in columns if c not in taken and hint in c.lower()), None)
            if found:
                break
        if found is None and role == "time":
            found = next((c for c, t in columns if c not in taken
                          and t.upper().startswith(("TIMESTAMP", "DATE"))), None)
        out[role] = found
        taken |= {found} if found else set()
    return out


def suggest_excluded_items(con: duckdb.DuckDBPyConnection, table: str, item: str) -> list[str]:
    """Known non-product codes (postage, discounts, fees) present in an item column.

    Only suggested when most item values are numeric-looking stock codes (as in Online
    Retail), where a bare ``D`` or ``POST`` stands out as a charge, not a product.
    """
    q, value = quote_ident(table), f"CAST({quote_ident(item)} AS VARCHAR)"
    coded = con.execute(
        f"SELECT avg(CASE WHEN regexp_matches(v, '[0-9]') THEN 1.0 ELSE 0.0 END) "
        f"FROM (SELECT DISTINCT {value} AS v FROM {q})").fetchone()[0]
    if not coded or coded < 0.5:
        return []
    rows = con.execute(f"SELECT DISTINCT {value} AS v FROM {q} WHERE list_contains(?, {value}) "
                       f"ORDER BY v", [list(NON_PRODUCT_CODES)]).fetchall()
    return [r[0] for r in rows]


def distinct_values(con: duckdb.DuckDBPyConnection, table: str, column: str,
                    limit: int = 50) -> list[str]:
    """The most frequent values of a column as text (for event-type pickers).

    Args:
        con: Open warehouse connection.
        table: Table name.
        column: Column name.
        limit: At most this many values, most frequent first.

    Returns:
        Values as text, NULL left out.
    """
    rows = con.execute(
        f"SELECT CAST({quote_ident(column)} AS VARCHAR) AS v FROM {quote_ident(table)} "
        f"WHERE {quote_ident(column)} IS NOT NULL GROUP BY v ORDER BY count(*) DESC, v LIMIT ?",
        [int(limit)],
    ).fetchall()
    return [r[0] for r in rows]
