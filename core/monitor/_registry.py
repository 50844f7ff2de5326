"""Model names: versions, one champion, and a promotion log an auditor can read.

A model name (e.g. ``bank_campaign``) holds numbered versions, each a run. The champion is the
run of the newest promotion; every promotion is a row of ``liftlab.promotions``: when, from which
run, to which, why (the analyst's words) and the evidence shown at the time (the newest stored
comparison of the two runs and the previous champion's newest monitoring summary). Versions and
promotions are written in one transaction.
"""

from __future__ import annotations

import json
import re
from datetime import datetime

from core.config import Settings
from core.errors import MonitorError, RunNotFoundError
from core.monitor._meta import run_meta
from core.monitor._store import ensure_tables, latest_comparison, list_results, load_result
from core.runs import load_run
from core.warehouse import META_SCHEMA, connect, transaction

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,79}$")


def check_name(name: str) -> str:
    """A valid model name, stripped.

    Raises:
        MonitorError: Empty, too long, or with characters other than letters, digits, ``_``,
            ``.`` and ``-``.
    """
    name = (name or "").strip()
    if not NAME.match(name):
        raise MonitorError(f"'{name}' is not a usable model name: use 1–80 letters, digits, "
                           f"'_', '.' or '-', starting with a letter or digit (e.g. "
                           f"bank_campaign).")
    return name


def comparable(a, b) -> str | None:
    """Why two runs cannot stand in for each other, or None when they can.

    Args:
        a: :class:`core.monitor._meta.RunMeta` of one run.
        b: The other's.

    Returns:
        The reason in words (different task, target or positive class), or None.
    """
    if a.task != b.task:
        return f"run {a.run_id} is {a.task} but run {b.run_id} is {b.task}"
    if a.target != b.target:
        return (f"run {a.run_id} predicts '{a.target}' but run {b.run_id} predicts "
                f"'{b.target}'")
    if a.positive_class != b.positive_class:
        return (f"run {a.run_id} counts '{a.positive_class}' as positive but run {b.run_id} "
                f"counts '{b.positive_class}'")
    return None


def _champion(con, model: str) -> str | None:
    row = con.execute(f"SELECT to_run FROM {META_SCHEMA}.promotions WHERE model = ? ORDER BY "
                      f"promoted_at DESC LIMIT 1", [model]).fetchone()
    return row[0] if row else None


def add_version(con, model: str, run_id: str) -> int:
    """Add a run to a model as its next version (its existing number when already there)."""
    ensure_tables(con)
    row = con.execute(f"SELECT version FROM {META_SCHEMA}.model_versions WHERE model = ? AND "
                      f"run_id = ?", [model, run_id]).fetchone()
    if row:
        return int(row[0])
    top = con.execute(f"SELECT max(version) FROM {META_SCHEMA}.model_versions WHERE model = ?",
                      [model]).fetchone()[0]
    version = int(top or 0) + 1
    con.execute(f"INSERT INTO {META_SCHEMA}.model_versions VALUES (?, ?, ?, ?)",
                [model, version, run_id, datetime.now()])
    return version


def models_of(con, run_id: str) -> list[str]:
    """Model names that hold ``run_id`` as a version."""
    ensure_tables(con)
    return [r[0] for r in con.execute(f"SELECT DISTINCT model FROM {META_SCHEMA}.model_versions "
                                      f"WHERE run_id = ? ORDER BY 1", [run_id]).fetchall()]


def _evidence(con, previous: str | None, run_id: str) -> dict:
    comparison = latest_comparison(con, previous, run_id) if previous else None
    monitored = None
    if previous:
        stored = list_results(con, run_id=previous)
        if stored:
            full = load_result(con, stored[0]["monitor_id"]) or {}
            monitored = {"monitor_id": stored[0]["monitor_id"], "table": stored[0]["table"],
                         "created_at": str(stored[0]["created_at"]),
                         "dataset_drift": stored[0]["dataset_drift"],
                         "alerts": full.get("alerts", [])[:8]}
    return {"comparison": comparison, "monitoring": monitored}


def promote(settings: Settings, model: str, run_id: str, why: str,
            evidence: dict | None = None) -> dict:
    """Make ``run_id`` the champion of ``model`` and log it.

    Args:
        settings: Workspace settings.
        model: The model name (created with this run as version 1 when new).
        run_id: The run to promote.
        why: The reason, in the analyst's words (at least 3 characters).
        evidence: What was shown when deciding; None gathers the newest stored comparison of
            the two runs and the previous champion's newest monitoring summary.

    Returns:
        ``{"model", "champion", "previous", "version"}``.

    Raises:
        MonitorError: Bad name, no reason, the run is already champion, or it does not fit
            the model (different task, target or positive class).
        RunNotFoundError: No such run.
    """

    model = check_name(model)
    why = (why or "").strip()
    if len(why) < 3:
        raise MonitorError("Say why this run becomes the champion (--why TEXT), e.g. 'higher "
                           "ROC-AUC on March data, profit interval above the champion's'.")
    meta = run_meta(load_run(settings, run_id))
    with connect(settings) as con:
        ensure_tables(con)
        previous = _champion(con, model)
        if previous == run_id:
            raise MonitorError(f"Run {run_id} is already the champion of '{model}'.")
        if previous:
            reason = comparable(run_meta(load_run(settings, previous)), meta)
            if reason:
                raise MonitorError(f"Run {run_id} cannot replace the champion of '{model}': "
                                   f"{reason}. Promote it under another model name.")
        shown = evidence if evidence is not None else _evidence(con, previous, run_id)
        with transaction(con):
            version = add_version(con, model, run_id)
            con.execute(f"INSERT INTO {META_SCHEMA}.promotions VALUES (?, ?, ?, ?, ?, ?)",
                        [model, datetime.now(), previous, run_id, why,
                         json.dumps(shown, default=str)])
    return {"model": model, "champion": run_id, "previous": previous, "version": version}


def list_models(settings: Settings) -> list[dict]:
    """Every model name with its champion, versions and promotion history (newest first).

    Returns:
        ``{"model", "champion", "versions": [{"version", "run_id", "added_at"}], "history":
        [{"at", "from", "to", "why", "evidence"}]}`` dicts, by name.
    """
    with connect(settings) as con:
        ensure_tables(con)
        versions = con.execute(f"SELECT model, version, run_id, added_at FROM {META_SCHEMA}."
                               f"model_versions ORDER BY model, version").fetchall()
        promos = con.execute(f"SELECT model, promoted_at, from_run, to_run, why, evidence_json "
                             f"FROM {META_SCHEMA}.promotions ORDER BY promoted_at DESC").fetchall()
    out: dict[str, dict] = {}
    for m, v, r, at in versions:
        out.setdefault(m, {"model": m, "champion": None, "versions": [], "history": []})
        out[m]["versions"].append({"version": int(v), "run_id": r, "added_at": str(at)})
    for m, at, frm, to, why, ev in promos:
        entry = out.setdefault(m, {"model": m, "champion": None, "versions": [], "history": []})
        if entry["champion"] is None:
            entry["champion"] = to
        entry["history"].append({"at": str(at), "from": frm, "to": to, "why": why,
                                 "evidence": json.loads(ev) if ev else None})
    return [out[k] for k in sorted(out)]


def champion_run_id(settings: Settings, model: str) -> str | None:
    """The champion run of a model name, or None when the name has none."""
    with connect(settings) as con:
        ensure_tables(con)
        return _champion(con, model)


def resolve_run(settings: Settings, name_or_id: str):
    """A run by id, or the champion of a model name.

    Raises:
        RunNotFoundError: Neither a run nor a model name with a champion.
    """

    try:
        return load_run(settings, name_or_id)
    except RunNotFoundError as err:
        champion = champion_run_id(settings, name_or_id) if NAME.match(name_or_id or "") else None
        if champion is None:
            raise RunNotFoundError(f"{err} Nor is '{name_or_id}' a model name with a champion "
                                   f"(list them with 'python -m core models').") from err
        return load_run(settings, champion)
