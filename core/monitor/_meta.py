"""The one place that reads a run's saved configuration for monitoring.

Everything else in :mod:`core.monitor` asks :func:`run_meta` (or the run's own properties), so a
change in how runs store their configuration is a change here only.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RunMeta:
    """What monitoring needs to know about a run.

    Attributes:
        run_id: The run id.
        task: ``binary``, ``multiclass``, ``regression`` (or another task LiftLab trains).
        table: The table the run was trained on.
        target: Its target column.
        positive_class: The label counted as positive (binary runs), else None.
        features: Source feature columns in training order.
        threshold: The decision threshold of the run's saved metrics (0.5 unless changed).
        spec: The run's dataset specification as saved (a dict, for rebuilding it).
        model_config: The run's model configuration as saved (a dict).
        model: The model family, e.g. ``"mlp"`` or ``"hgb"``.
        pipeline: ``memory`` or ``stream``.
        rows: Row counts ``table``, ``train``, ``valid``, ``test`` (may be empty).
    """

    run_id: str
    task: str
    table: str
    target: str
    positive_class: str | None
    features: tuple[str, ...]
    threshold: float
    spec: dict
    model_config: dict
    model: str
    pipeline: str
    rows: dict


def run_meta(run) -> RunMeta:
    """Read a :class:`core.runs.Run`'s configuration into a :class:`RunMeta`.

    Args:
        run: A loaded run.

    Returns:
        The run's :class:`RunMeta`.
    """
    c = run.config
    threshold = (run.metrics or {}).get("threshold")
    return RunMeta(
        run_id=run.run_id, task=c.task, table=c.table, target=c.target,
        positive_class=c.positive_class, features=tuple(run.features),
        threshold=float(0.5 if threshold is None else threshold), spec=dict(c.spec_fields),
        model_config=dict(c.model_fields), model=c.model, pipeline=c.data_pipeline,
        rows=dict(c.rows))
