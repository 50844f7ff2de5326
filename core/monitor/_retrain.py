"""Retrain a challenger with the champion's own spec and settings on a new window of rows.

The challenger keeps the champion's features, target, positive class, task, split sizes and
seed, and its whole model configuration; only the table changes: a table of new labelled rows,
or the champion's own table plus those rows (a new table ``<new>_plus_<champion's table>``,
written in one statement). The challenger is recorded as a child of the champion
(``liftlab.lineage``) and added as a new version to every model name the champion belongs to,
without becoming champion: that takes a promotion.
"""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path

from core.config import Settings
from core.errors import SchemaError
from core.monitor._meta import run_meta
from core.monitor._registry import add_version, models_of
from core.monitor._store import record_lineage
from core.runs import RegistrationFailed, register_saved_runs
from core.specs import DatasetSpec, ModelConfig, from_dict
from core.training import train
from core.warehouse import (
    connect,
    original_names,
    quote_ident,
    require_table,
    sql_literal,
    table_columns,
    table_exists,
)


def challenger_spec(run, table: str):
    """The champion's :class:`~core.specs.DatasetSpec` and :class:`~core.specs.ModelConfig`,
    rebuilt from its saved configuration, on ``table``.

    The features are pinned to the champion's (a new table's extra columns are not learned).
    """

    meta = run_meta(run)
    spec = from_dict(DatasetSpec, meta.spec)
    spec = dataclasses.replace(spec, table=table, features=tuple(meta.features), exclude=(),
                               positive_class=meta.positive_class, task=meta.task)
    return spec, from_dict(ModelConfig, meta.model_config)


def _check(con, table: str, meta) -> None:
    require_table(con, table)
    cols = {c for c, _ in table_columns(con, table)}
    names = original_names(con, meta.table)
    missing = [names.get(c, c) for c in (*meta.features, meta.target) if c not in cols]
    if missing:
        raise SchemaError(f"Table '{table}' lacks {', '.join(missing)}; a challenger learns "
                          f"the champion's features and target. Pick a table with the same "
                          f"columns.")


def _window_table(con, meta, table: str) -> str:
    """A new table of the champion's rows plus ``table``'s (features and target)."""
    _check(con, meta.table, meta)
    name = f"{table}_plus_{meta.table}"[:50] + f"_{uuid.uuid4().hex[:4]}"
    while table_exists(con, name):
        name = name[:-4] + uuid.uuid4().hex[:4]
    cols = ", ".join(quote_ident(c) for c in (*meta.features, meta.target))
    con.execute(f"CREATE TABLE {quote_ident(name)} AS SELECT {cols} FROM "
                f"{quote_ident(meta.table)} UNION ALL BY NAME SELECT {cols} FROM "
                f"{quote_ident(table)}")
    return name


def _train_challenger(settings: Settings, run, table: str, with_reference: bool,
                      progress, should_stop) -> tuple:
    """The compute part: the window (in a job's worker: in its own copy, also written to
    Parquet in its snapshot folder for the server) and the challenger's training."""
    say = progress or (lambda event: None)
    meta = run_meta(run)
    say({"stage": "check", "message": f"Checking {table} against the champion's columns",
         "step": 1, "steps": 3})
    with connect(settings) as con:
        _check(con, table, meta)
        trained_on = _window_table(con, meta, table) if with_reference else table
    spec, cfg = challenger_spec(run, trained_on)
    say({"stage": "train", "message": f"Training the challenger ({cfg.model}) on {trained_on}",
         "step": 2, "steps": 3})
    window_file = None
    try:
        result = train(settings, spec, cfg, progress, should_stop)
        if with_reference and settings.snapshot_dir is not None:
            say({"stage": "export", "message": f"Writing the window {trained_on} for the server",
                 "step": 3, "steps": 3})
            window_file = Path(settings.snapshot_dir) / f"window-{trained_on}.parquet"
            with connect(settings) as con:
                con.execute(f"COPY {quote_ident(trained_on)} TO {sql_literal(window_file)} "
                            f"(FORMAT parquet)")
    except BaseException:
        if with_reference:  # nothing half-written: the window goes with the failed run
            with connect(settings) as con:
                con.execute(f"DROP TABLE IF EXISTS {quote_ident(trained_on)}")
        raise
    return result, {"run_id": result.run_id, "parent_run": meta.run_id, "table": table,
                    "with_reference": with_reference, "trained_on": trained_on,
                    "window_file": None if window_file is None else str(window_file)}


def train_challenger(settings: Settings, run, table: str, with_reference: bool = False,
                     progress=None, should_stop=None) -> dict:
    """Train a challenger of ``run`` on ``table`` and write nothing to the warehouse but, in
    this process without a snapshot, the window table (the compute part of :func:`retrain`; a
    job's worker runs it on its snapshot, the server then calls :func:`commit_challenger`).

    Args: as :func:`retrain`.

    Returns:
        JSON-ready: ``run_id``, ``parent_run``, ``table``, ``with_reference``, ``trained_on``
        (the window table's name, or ``table``) and ``window_file`` (in a worker with
        ``with_reference``: the window's rows as a Parquet file in the snapshot folder, for
        the server to load; else None).

    Raises:
        As :func:`retrain`.
    """
    return _train_challenger(settings, run, table, with_reference, progress, should_stop)[1]


def commit_challenger(settings: Settings, out: dict) -> dict:
    """The server's part of a retrain, in one transaction: the window table (from the
    worker's Parquet file), the challenger's run row, its lineage record and a new version
    under every model name of the champion; on any failure the challenger's folder is
    removed and nothing is written.

    Args:
        settings: The server's workspace settings.
        out: What :func:`train_challenger` returned.

    Returns:
        ``{"run_id", "parent_run", "table" (trained on), "models": {name: version}}``.

    Raises:
        RegistrationFailed: The warehouse could not be written, or a table named like the
            window appeared meanwhile (the reason is in the message).
    """
    trained_on = out["trained_on"]
    window = {"table": out["table"], "with_reference": out["with_reference"],
              "trained_on": trained_on}

    def write(con) -> dict:
        if out.get("window_file"):
            if table_exists(con, trained_on):
                raise SchemaError(f"A table named '{trained_on}' appeared while the "
                                  f"challenger trained; retrain it.")
            con.execute(f"CREATE TABLE {quote_ident(trained_on)} AS SELECT * FROM "
                        f"read_parquet({sql_literal(out['window_file'])})")
        record_lineage(con, out["run_id"], out["parent_run"], trained_on, window)
        return {m: add_version(con, m, out["run_id"]) for m in models_of(con, out["parent_run"])}

    try:
        versions = register_saved_runs(settings, [out["run_id"]], write)
    except RegistrationFailed:
        if out["with_reference"] and not out.get("window_file"):  # made here: it goes too
            with connect(settings) as con:
                con.execute(f"DROP TABLE IF EXISTS {quote_ident(trained_on)}")
        raise
    return {"run_id": out["run_id"], "parent_run": out["parent_run"], "table": trained_on,
            "models": versions}


def retrain(settings: Settings, run, table: str, with_reference: bool = False,
            progress=None, should_stop=None) -> dict:
    """Train a challenger of ``run`` on ``table`` (see the module docstring), in this process:
    :func:`train_challenger`, then :func:`commit_challenger`.

    Args:
        settings: Workspace settings.
        run: The champion :class:`core.runs.Run`.
        table: A table of labelled rows with the champion's features and target.
        with_reference: Train on the champion's own table plus ``table``.
        progress: Training progress events (see :func:`core.training.train`), and one
            ``{"stage", "message", "step", "steps"}`` per step.
        should_stop: Polled during training; True cancels.

    Returns:
        ``{"result": TrainResult, "parent_run", "table", "models": {name: version}}``.

    Raises:
        SchemaError: The table (or the champion's, with ``with_reference``) lacks a feature or
            the target.
        TrainingError: Training failed or was cancelled.
        RegistrationFailed: The challenger could not be recorded (nothing kept).
    """
    result, out = _train_challenger(settings, run, table, with_reference, progress,
                                    should_stop)
    committed = commit_challenger(settings, out)
    return {"result": result, "parent_run": committed["parent_run"],
            "table": committed["table"], "models": committed["models"]}
