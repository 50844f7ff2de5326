"""The features of a training, chosen once per training path by
:func:`core.tables.choose_features`, and what the run records about them."""

from __future__ import annotations

import dataclasses

from core.runs import keep_requested, stopped_note
from core.specs import DatasetSpec, ModelConfig
from core.tables import FeatureChoice, choose_features
from core.training._fit import TrainingCancelled


def resolve_spec(con, spec: DatasetSpec, treatment: str | None = None,
                 treated: str | None = None) -> tuple[DatasetSpec, FeatureChoice]:
    """The spec with its features made explicit (flagged columns left out), and the choice.

    Args:
        con: Open warehouse connection.
        spec: What the analyst asked for (``features`` empty: every column not flagged).
        treatment: Treatment column of an uplift training (flags post-treatment columns).
        treated: The treatment's treated value.

    Returns:
        ``(spec with explicit features and no exclude, FeatureChoice)``; the treatment column
        is not among the features (the uplift trainer adds it where a learner needs it).

    Raises:
        SchemaError: See :func:`core.tables.choose_features`.
    """
    choice = choose_features(con, spec, treatment, treated)
    return dataclasses.replace(spec, features=choice.features, exclude=()), choice


def record_choice(config: dict, metrics: dict, choice: FeatureChoice | None) -> None:
    """Write the choice into a run: ``config["exclusions"]`` (``[{"column", "reason",
    "detail", "table_column"}]``), ``config["original_features"]`` and the notes (what was left
    out automatically, and flagged columns kept on request)."""
    if choice is None:
        return
    config["exclusions"] = choice.excluded_dicts()
    config["original_features"] = choice.original_features()
    summary = choice.summary()
    metrics["notes"] = [*metrics.get("notes", []), *([summary] if summary else []),
                        *choice.notes]


def finish_or_cancel(should_stop, history: list[dict], cfg: ModelConfig,
                     metrics_notes: list[str]) -> None:
    """After fitting: raise when the analyst cancelled; note it when they asked to stop and
    keep the best so far (a network with at least one finished epoch, or any baseline).

    Raises:
        TrainingCancelled: Cancelled, or stopped before any epoch finished.
    """
    if should_stop is None or not should_stop():
        return
    if not keep_requested(should_stop) or (cfg.is_keras and not history):
        raise TrainingCancelled("Training was cancelled; no run was saved.")
    if cfg.is_keras:
        metrics_notes.append(stopped_note(history, cfg.fit.epochs,
                                          restored=cfg.fit.early_stopping))
    else:
        metrics_notes.append("Stopped by the analyst; the model had finished fitting and "
                             "was kept.")
