"""The DuckDB warehouse: short-lived connections that wait for another process's lock, identifier
quoting, the catalog of tables and their original column names, LiftLab's own bookkeeping schema
(``liftlab``), memory caps, and the one sandbox in which user-written SQL (the console and policy
rules) runs: read-only, no file or network access, settings locked, row, time and memory caps.

Layer: lowest package; imports only the shared modules (``core.config``, ``core.errors``).
Private modules: ``_connection`` (connections, catalog, meta), ``_names`` (clean names),
``_sandbox`` (the sandbox and policy predicates), ``_console`` (the SQL console),
``_scratch`` (temporary files inside the workspace, and clean-up after a kill),
``_outputs`` (tables LiftLab writes: names checked, raw tables never replaced, lineage),
``_snapshot`` (a job's Parquet snapshot, which its worker reads instead of the warehouse file).
"""

from core.warehouse._connection import (
    META_SCHEMA,
    TableInfo,
    capped_memory,
    connect,
    get_meta,
    is_memory_error,
    list_tables,
    open_snapshot,
    original_names,
    quote_ident,
    read_table,
    require_table,
    set_meta,
    sql_literal,
    table_columns,
    table_exists,
    transaction,
    with_memory_retry,
)
from core.warehouse._console import DEFAULT_LIMIT, MAX_LIMIT, QueryFailed, run_query
from core.warehouse._names import clean_column_names, clean_name, default_table_name
from core.warehouse._outputs import (
    OutputTableError,
    claim_output,
    existing_table,
    record_output,
    table_origin,
    write_frame_output,
    write_parquet_output,
)
from core.warehouse._sandbox import (
    PolicyRuleError,
    policy_mask,
    policy_rule_mask,
    sandbox_connection,
    sql_column_names,
)
from core.warehouse._scratch import clean_litter, pid_tag, private_dir, scratch_root
from core.warehouse._snapshot import export_snapshot

__all__ = [
    "DEFAULT_LIMIT", "MAX_LIMIT", "META_SCHEMA", "OutputTableError", "PolicyRuleError",
    "QueryFailed", "TableInfo", "capped_memory", "claim_output", "clean_column_names",
    "clean_litter", "clean_name", "connect", "default_table_name", "existing_table",
    "export_snapshot", "get_meta",
    "is_memory_error", "list_tables", "original_names", "pid_tag", "policy_mask",
    "open_snapshot", "policy_rule_mask", "private_dir", "quote_ident", "read_table", "record_output",
    "require_table", "run_query", "sandbox_connection", "scratch_root", "set_meta",
    "sql_column_names", "sql_literal", "table_columns", "table_exists", "table_origin",
    "transaction", "with_memory_retry", "write_frame_output", "write_parquet_output",
]
