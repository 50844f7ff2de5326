"""The DuckDB warehouse: short-lived connections that wait for another process's lock, identifier
quoting, the catalog of tables and their original column names, LiftLab's own bookkeeping schema
(``liftlab``), memory caps, and the one sandbox in which user-written SQL (the console and policy
rules) runs: read-only, no file or network access, settings locked, row, time and memory caps.

Layer: lowest package; imports only the shared modules (``core.config``, ``core.errors``).
Private modules: ``_connection`` (connections, catalog, meta), ``_names`` (clean names),
``_sandbox`` (the sandbox and policy predicates), ``_console`` (the SQL console).
"""

from core.warehouse._connection import (
    capped_memory, connect, get_meta, is_memory_error, list_tables, META_SCHEMA, original_names,
    quote_ident, read_table, require_table, set_meta, table_columns, table_exists, TableInfo,
    transaction, with_memory_retry,
)
from core.warehouse._console import DEFAULT_LIMIT, MAX_LIMIT, QueryFailed, run_query
from core.warehouse._names import clean_column_names, clean_name, default_table_name
from core.warehouse._sandbox import (
    policy_mask, policy_rule_mask, PolicyRuleError, sandbox_connection, sql_column_names,
)

__all__ = [
    "DEFAULT_LIMIT", "MAX_LIMIT", "META_SCHEMA", "PolicyRuleError", "QueryFailed", "TableInfo",
    "capped_memory", "clean_column_names", "clean_name", "connect", "default_table_name",
    "get_meta", "is_memory_error", "list_tables", "original_names", "policy_mask",
    "policy_rule_mask", "quote_ident", "read_table", "require_table", "run_query",
    "sandbox_connection", "set_meta", "sql_column_names", "table_columns", "table_exists",
    "transaction", "with_memory_retry",
]
