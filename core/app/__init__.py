"""app: TODO face docstring."""

from core.app._cli import main
from core.app._jobs import JobManager, mark_interrupted, recent_jobs
from core.app._workspace import ensure_sample, score_table

__all__ = ["JobManager", "ensure_sample", "main", "mark_interrupted", "recent_jobs", "score_table"]
