"""How long a training will take, from the runs already trained in the workspace, so that a
long start is announced before the click rather than discovered an hour later."""

from __future__ import annotations

from dataclasses import dataclass

from core.config import Settings
from core.errors import AppError
from core.runs import list_runs, load_run
from core.specs import ModelConfig

LOOK_BACK = 10


@dataclass(frozen=True)
class Estimate:
    """An estimated training time.

    Attributes:
        seconds: The most seconds the training should take (all planned epochs).
        basis: Where the figure comes from, in words.
        run_id: The earlier run it is scaled from.
    """

    seconds: float
    basis: str
    run_id: str


def estimate_training(settings: Settings, cfg: ModelConfig, rows: int,
                      train_share: float = 0.7) -> Estimate | None:
    """Scale the newest earlier run of the same model family to this training.

    The earlier run's wall time per training row (per epoch for a network; its loading and
    scoring included, so the figure errs long) times this training's training rows (times its
    planned epochs, the most early stopping allows).

    Args:
        settings: Workspace settings.
        cfg: The model to train.
        rows: Rows of the table.
        train_share: Share of rows in the training split.

    Returns:
        The :class:`Estimate`, or None when no earlier run of the family has timings.
    """
    for summary in list_runs(settings)[:200]:
        if summary.get("model") != cfg.model or not summary.get("duration_s"):
            continue
        try:
            c = load_run(settings, summary["run_id"]).config
        except AppError:
            continue
        train_rows = int(c.rows.get("train") or 0)
        epochs = max(c.epochs_run, 1) if cfg.is_keras else 1
        if c.kind != "tabular" or train_rows <= 0 or (cfg.is_keras and not c.epochs_run):
            continue
        per = float(c.duration_s) / (train_rows * epochs)
        planned = cfg.fit.epochs if cfg.is_keras else 1
        seconds = per * rows * train_share * planned
        unit = "per training row and epoch" if cfg.is_keras else "per training row"
        return Estimate(seconds, f"run {c.run_id} took {per * 1e3:.3g} ms {unit}"
                        + (f"; {planned} epochs at most" if cfg.is_keras else ""), c.run_id)
    return None
