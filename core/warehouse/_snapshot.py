"""A job's data snapshot: what a training worker reads instead of the warehouse file.

DuckDB lets one process write a file, and a process cannot even read it while another holds it
for writing. So before a job leaves the server for a Ray worker, the server exports the table the
job trains on and LiftLab's bookkeeping tables (catalog, personal-data marks, recipes, meta) to
Parquet in a folder of the data directory (``tmp/job-<job id>-p<pid>-…``, removed when the job
ends, or by :func:`core.warehouse.clean_litter` once the server is gone). The worker opens them
with :func:`core.warehouse.open_snapshot` (through ``connect`` when ``Settings.snapshot_dir`` is
set) and never opens the warehouse file.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from core.config import Settings
from core.warehouse._connection import (
    META_SCHEMA,
    SNAPSHOT_MANIFEST,
    connect,
    quote_ident,
    require_table,
    sql_literal,
)
from core.warehouse._scratch import private_dir, scratch_root

SKIPPED_META = ("jobs",)
"""Bookkeeping tables a worker never reads (the server's job list changes while it runs)."""


def export_snapshot(settings: Settings, table: str | Sequence[str], job_id: str) -> Path:
    """Export one or more tables and the ``liftlab`` bookkeeping tables to Parquet for one job.

    The rows keep the table's order (DuckDB preserves insertion order on ``COPY``), so a
    split made from the snapshot is the split the warehouse gives later (``run_splits``).
    Types round-trip through Parquet except DuckDB-only ones (an ``ENUM`` reads back as text).

    Args:
        settings: The server's workspace settings.
        table: The table the job reads, or several (e.g. a model's reference and new rows).
        job_id: The job's id (part of the folder's name).

    Returns:
        The snapshot folder (pass it as ``Settings.snapshot_dir`` to the worker); the caller
        removes it when the job ends.

    Raises:
        SchemaError: No such table (naming the tables that exist).
        WorkspaceBusyError: Another process kept the warehouse past ``lock_timeout_s``.
    """
    folder = private_dir(scratch_root(settings), f"job-{job_id}")
    try:
        tables = [table] if isinstance(table, str) else list(dict.fromkeys(table))
        files = {name: "table.parquet" if i == 0 else f"table-{i}.parquet"
                 for i, name in enumerate(tables)}
        manifest = {"table": tables[0], "tables": files, "meta": []}
        with connect(settings) as con:
            for name, file in files.items():
                require_table(con, name)
                con.execute(f"COPY (SELECT * FROM {quote_ident(name)}) TO "
                            f"{sql_literal(folder / file)} (FORMAT parquet)")
            names = [r[0] for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = ? "
                "AND table_type = 'BASE TABLE' ORDER BY table_name", [META_SCHEMA]).fetchall()]
            for name in (n for n in names if n not in SKIPPED_META):
                con.execute(f"COPY {META_SCHEMA}.{quote_ident(name)} TO "
                            f"{sql_literal(folder / f'{META_SCHEMA}.{name}.parquet')} "
                            f"(FORMAT parquet)")
                manifest["meta"].append(name)
        tmp = folder / f"{SNAPSHOT_MANIFEST}.tmp"
        tmp.write_text(json.dumps(manifest))
        os.replace(tmp, folder / SNAPSHOT_MANIFEST)  # the manifest last: complete or absent
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder
