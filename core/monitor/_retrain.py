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

from core.config import Settings
from core.errors import SchemaError
from core.monitor._meta import run_meta
from core.monitor._registry import add_version, models_of
from core.monitor._store import record_lineage
from core.specs import DatasetSpec, ModelConfig, from_dict
from core.training import train
from core.warehouse import (
    connect,
    original_names,
    quote_ident,
    require_table,
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


def retrain(settings: Settings, run, table: str, with_reference: bool = False,
            progress=None, should_stop=None) -> dict:
    """Train a challenger of ``run`` on ``table`` (see the module docstring).

    Args:
        settings: Workspace settings.
        run: The champion :class:`core.runs.Run`.
        table: A table of labelled rows with the champion's features and target.
        with_reference: Train on the champion's own table plus ``table``.
        progress: Training progress events (see :func:`core.training.train`).
        should_stop: Polled during training; True cancels.

    Returns:
        ``{"result": TrainResult, "parent_run", "table", "models": {name: version}}``.

    Raises:
        SchemaError: The table (or the champion's, with ``with_reference``) lacks a feature or
            the target.
        TrainingError: Training failed or was cancelled.
    """

    meta = run_meta(run)
    with connect(settings) as con:
        _check(con, table, meta)
        trained_on = _window_table(con, meta, table) if with_reference else table
    spec, cfg = challenger_spec(run, trained_on)
    try:
        result = train(settings, spec, cfg, progress, should_stop)
    except BaseException:
        if with_reference:  # nothing half-written: the window goes with the failed run
            with connect(settings) as con:
                con.execute(f"DROP TABLE IF EXISTS {quote_ident(trained_on)}")
        raise
    window = {"table": table, "with_reference": with_reference, "trained_on": trained_on}
    with connect(settings) as con:
        record_lineage(con, result.run_id, meta.run_id, trained_on, window)
        versions = {m: add_version(con, m, result.run_id) for m in models_of(con, meta.run_id)}
    return {"result": result, "parent_run": meta.run_id, "table": trained_on,
            "models": versions}
