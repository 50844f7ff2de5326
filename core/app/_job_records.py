"""The warehouse's record of jobs (``liftlab.jobs``), read by any process: the jobs a dead
server left running are marked *interrupted*, and the recent ones listed (Train page, ``python
-m core jobs``)."""

from __future__ import annotations

from datetime import datetime

from core.app._engine import job_alive
from core.config import Settings
from core.warehouse import META_SCHEMA, connect


def mark_interrupted(settings: Settings) -> int:
    """Mark jobs left *queued* or *running* by a dead server as *interrupted*.

    Call once when a server process starts, before it submits jobs.

    Returns:
        The number of jobs marked.
    """
    with connect(settings) as con:
        ids = [r[0] for r in con.execute(f"SELECT job_id FROM {META_SCHEMA}.jobs WHERE state "
                                         f"IN ('queued', 'running')").fetchall()]
        dead = [i for i in ids if not job_alive(settings.data_dir, i)]  # a CLI job lives on
        for job_id in dead:
            con.execute(f"UPDATE {META_SCHEMA}.jobs SET state = 'interrupted', updated_at = ?, "
                        f"message = 'The server stopped while this job ran; start it again.' "
                        f"WHERE job_id = ?", [datetime.now(), job_id])
    return len(dead)


def recent_jobs(settings: Settings, limit: int = 20) -> list[dict]:
    """Jobs recorded in the warehouse (any process), newest first: job_id, kind, state,
    created_at, updated_at, run_id, message and label (what was trained; None for jobs
    recorded before 2026-12-01)."""
    with connect(settings) as con:
        rows = con.execute(
            f"SELECT job_id, kind, state, created_at, updated_at, run_id, message, label "
            f"FROM {META_SCHEMA}.jobs ORDER BY created_at DESC LIMIT ?", [limit]
        ).fetchall()
    keys = ("job_id", "kind", "state", "created_at", "updated_at", "run_id", "message", "label")
    return [dict(zip(keys, r)) for r in rows]
