"""Monitoring's own bookkeeping in the warehouse (``liftlab`` schema), created at first use.

- ``monitor_results``: every monitoring run (the whole result as JSON);
- ``comparisons``: champion/challenger comparisons;
- ``lineage``: which run a retrained challenger came from, on which rows;
- ``model_versions`` and ``promotions``: model names, their versions, and the promotion log
  (see :mod:`core.monitor._registry`).

Tables are created with ``CREATE TABLE IF NOT EXISTS`` whenever one of them is used, like the
bookkeeping of :mod:`core.warehouse`, and live in the workspace's DuckDB file, so they survive
restarts.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from core.warehouse import META_SCHEMA, connect

DDL = f"""
CREATE SCHEMA IF NOT EXISTS {META_SCHEMA};
CREATE TABLE IF NOT EXISTS {META_SCHEMA}.monitor_results (
    monitor_id VARCHAR PRIMARY KEY, run_id VARCHAR, table_name VARCHAR, created_at TIMESTAMP,
    chunking_json VARCHAR, dataset_drift BOOLEAN, alerts INTEGER, result_json VARCHAR);
CREATE TABLE IF NOT EXISTS {META_SCHEMA}.comparisons (
    comparison_id VARCHAR PRIMARY KEY, run_a VARCHAR, run_b VARCHAR, table_name VARCHAR,
    created_at TIMESTAMP, result_json VARCHAR);
CREATE TABLE IF NOT EXISTS {META_SCHEMA}.lineage (
    run_id VARCHAR PRIMARY KEY, parent_run VARCHAR, table_name VARCHAR, created_at TIMESTAMP,
    window_json VARCHAR);
CREATE TABLE IF NOT EXISTS {META_SCHEMA}.model_versions (
    model VARCHAR, version INTEGER, run_id VARCHAR, added_at TIMESTAMP,
    PRIMARY KEY (model, version));
CREATE TABLE IF NOT EXISTS {META_SCHEMA}.promotions (
    model VARCHAR, promoted_at TIMESTAMP, from_run VARCHAR, to_run VARCHAR, why VARCHAR,
    evidence_json VARCHAR);
"""


def ensure_tables(con) -> None:
    """Create monitoring's tables when missing (idempotent)."""
    con.execute(DDL)


def _json(value) -> str:
    return json.dumps(value, default=_plain)


def _plain(o):
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def save_result(con, result: dict) -> str:
    """Store a monitoring result; returns its ``monitor_id`` (set in ``result``)."""
    ensure_tables(con)
    mid = result.get("monitor_id") or f"{datetime.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
    result["monitor_id"] = mid
    con.execute(f"INSERT OR REPLACE INTO {META_SCHEMA}.monitor_results VALUES "
                f"(?, ?, ?, ?, ?, ?, ?, ?)",
                [mid, result["run_id"], result["table"], datetime.fromisoformat(
                    result["created_at"]), _json(result["chunking"]),
                 bool(result["dataset_drift"]), len(result["alerts"]), _json(result)])
    return mid


def save_monitor(settings, result: dict) -> str:
    """Store a monitoring result computed elsewhere (a background job's worker, which never
    writes the warehouse); returns its ``monitor_id``.

    Args:
        settings: Workspace settings.
        result: The result of :func:`core.monitor.monitor` with ``save=False``.
    """
    with connect(settings) as con:
        return save_result(con, result)


def list_results(con, run_id: str | None = None, table: str | None = None) -> list[dict]:
    """Stored monitoring runs, newest first (without the full result).

    Returns:
        ``{"monitor_id", "run_id", "table", "created_at", "chunking", "dataset_drift",
        "alerts"}`` dicts.
    """
    ensure_tables(con)
    sql = (f"SELECT monitor_id, run_id, table_name, created_at, chunking_json, dataset_drift, "
           f"alerts FROM {META_SCHEMA}.monitor_results WHERE (? IS NULL OR run_id = ?) AND "
           f"(? IS NULL OR table_name = ?) ORDER BY created_at DESC, monitor_id DESC")
    rows = con.execute(sql, [run_id, run_id, table, table]).fetchall()
    return [{"monitor_id": r[0], "run_id": r[1], "table": r[2], "created_at": r[3],
             "chunking": json.loads(r[4]), "dataset_drift": bool(r[5]), "alerts": int(r[6])}
            for r in rows]


def load_result(con, monitor_id: str) -> dict | None:
    """One stored monitoring result, or None."""
    ensure_tables(con)
    row = con.execute(f"SELECT result_json FROM {META_SCHEMA}.monitor_results WHERE "
                      f"monitor_id = ?", [monitor_id]).fetchone()
    return json.loads(row[0]) if row else None


def save_comparison(con, result: dict) -> str:
    """Store a comparison; returns its id (set in ``result`` as ``comparison_id``)."""
    ensure_tables(con)
    cid = f"{datetime.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
    result["comparison_id"] = cid
    con.execute(f"INSERT INTO {META_SCHEMA}.comparisons VALUES (?, ?, ?, ?, ?, ?)",
                [cid, result["run_a"], result["run_b"], result["table"], datetime.now(),
                 _json(result)])
    return cid


def latest_comparison(con, run_a: str, run_b: str) -> dict | None:
    """The newest stored comparison of two runs (either order), or None."""
    ensure_tables(con)
    row = con.execute(f"SELECT result_json FROM {META_SCHEMA}.comparisons WHERE (run_a = ? AND "
                      f"run_b = ?) OR (run_a = ? AND run_b = ?) ORDER BY created_at DESC "
                      f"LIMIT 1", [run_a, run_b, run_b, run_a]).fetchone()
    return json.loads(row[0]) if row else None


def record_lineage(con, run_id: str, parent: str, table: str, window: dict) -> None:
    """Remember that ``run_id`` was retrained from ``parent`` on ``table``."""
    ensure_tables(con)
    con.execute(f"INSERT OR REPLACE INTO {META_SCHEMA}.lineage VALUES (?, ?, ?, ?, ?)",
                [run_id, parent, table, datetime.now(), _json(window)])


def parent_of(con, run_id: str) -> str | None:
    """The run a challenger was retrained from, or None."""
    ensure_tables(con)
    row = con.execute(f"SELECT parent_run FROM {META_SCHEMA}.lineage WHERE run_id = ?",
                      [run_id]).fetchone()
    return row[0] if row else None


def monitor_history(settings, run_id: str | None = None, table: str | None = None) -> list[dict]:
    """Stored monitoring runs of a workspace, newest first (see :func:`list_results`)."""

    with connect(settings) as con:
        return list_results(con, run_id, table)


def load_monitor(settings, monitor_id: str) -> dict | None:
    """One stored monitoring result of a workspace, or None."""

    with connect(settings) as con:
        return load_result(con, monitor_id)
