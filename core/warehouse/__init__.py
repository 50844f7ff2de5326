"""warehouse: TODO face docstring."""

from core.warehouse._connection import (
    META_SCHEMA, TableInfo, capped_memory, connect, get_meta, is_memory_error, list_tables,
    original_names, quote_ident, read_table, require_table, set_meta, table_columns, table_exists,
    transaction, with_memory_retry,
)
from core.warehouse._console import DEFAULT_LIMIT, MAX_LIMIT, QueryFailed, run_query
from core.warehouse._names import clean_column_names, clean_name, default_table_name
from core.warehouse._sandbox import policy_mask, sandbox_connection

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "META_SCHEMA", "QueryFailed", "TableInfo", "capped_memory", "clean_column_names", "clean_name", "connect", "default_table_name", "get_meta", "is_memory_error", "list_tables", "original_names", "policy_mask", "quote_ident", "read_table", "require_table", "run_query", "sandbox_connection", "set_meta", "table_columns", "table_exists", "transaction", "with_memory_retry"]
