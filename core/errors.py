"""Domain errors: every message says what happened, what was expected and how to fix it.

Pages catch :class:`AppError` and show ``st.error(err.title, err)``; the command line prints
``error: <message>`` and exits 2. Anything that is not an ``AppError`` is a bug.
"""

from __future__ import annotations


class AppError(Exception):
    """Base class of all user-facing errors.

    Args:
        message: What went wrong and how to fix it, in plain words.
        title: A short heading for the UI (defaults to the class's ``default_title``).
    """

    default_title = "Something needs your attention"

    def __init__(self, message: str, title: str | None = None) -> None:
        super().__init__(message)
        self.title = title or self.default_title


class IngestError(AppError):
    """A file could not be loaded into the warehouse."""

    default_title = "The file could not be loaded"


class SchemaError(AppError):
    """A table, column or target does not fit what the step needs."""

    default_title = "The data does not fit this step"


class TrainingError(AppError):
    """Training could not start or did not produce a usable model."""

    default_title = "Training failed"


class ExplainError(AppError):
    """SHAP values could not be computed."""

    default_title = "The explanation could not be computed"


class SimulationError(AppError):
    """A business scenario has invalid inputs."""

    default_title = "The scenario is not valid"


class RunNotFoundError(AppError):
    """A run id does not exist in the workspace."""

    default_title = "Run not found"


class WorkspaceBusyError(AppError):
    """Another process holds the warehouse's write lock for too long."""

    default_title = "The workspace is busy"


class QueryError(AppError):
    """A SQL statement was refused or failed."""

    default_title = "The query was refused"


class MonitorError(AppError):
    """Monitoring, comparing or promoting models cannot proceed as asked."""

    default_title = "Monitoring needs your attention"
