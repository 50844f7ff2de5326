"""The application layer: ``python -m core`` (one JSON object per command, ``error: ...`` and exit
2 on bad input), background jobs with progress, cancel and restart recovery, the workspace
(first-start sample, batch scoring) and the workflows that chain steps (tune or train, then
cross-validate) for the command line and the jobs alike.

Layer: top of ``core``; imports any package's face. Nothing imports it but ``ui``, ``pages`` and
``core.__main__``.
Private modules: ``_cli``, ``_review`` (evaluate/explain/report commands), ``_analysis_cli``
(fairness, leaderboard), ``_exchange_cli`` (export, import, abtest), ``_tables_cli`` (profile,
prepare, protect), ``_monitor_cli``, ``_privacy_cli`` (privacy, audit, compress),
``_recommend_cli``, ``_archive`` (run export and hostile-archive import), ``_paths``, ``_jobs``, ``_job_records`` (the jobs table: interrupted, recent),
``_estimate`` (training time from earlier runs), ``_workspace``, ``_workflows``, ``_engine``
(where long work runs: embedded Ray or a cluster), ``_ray_jobs`` (a job as a Ray task),
``_jobs_cli`` (jobs, jobs cancel, train --background), ``_analysis_work`` (SHAP for many rows
scoring and monitoring a large table as background jobs), ``_more_work`` (leaderboard, retrain and
compression as jobs that commit on the server).
"""

from core.app._analysis_work import (
    AnalysisCancelled,
    MonitorWork,
    ScoreWork,
    ShapWork,
    monitor_job,
    score_is_large,
    score_job,
    shap_is_large,
    shap_job,
)
from core.app._archive import ImportRunError, export_run, import_run
from core.app._cli import main
from core.app._engine import EngineInfo, engine_info, ensure_engine, shutdown_engine
from core.app._estimate import Estimate, estimate_training
from core.app._job_records import mark_interrupted, recent_jobs
from core.app._jobs import JobManager, JobState, training_params
from core.app._more_work import compress_job, leaderboard_job, retrain_job
from core.app._workflows import recommend_job
from core.app._workspace import ensure_sample, score_table

__all__ = [
    "AnalysisCancelled", "MonitorWork", "ScoreWork", "ShapWork", "monitor_job",
    "score_is_large", "score_job",
    "shap_is_large", "shap_job", "EngineInfo", "Estimate", "ImportRunError", "JobManager",
    "JobState", "compress_job", "engine_info", "leaderboard_job", "retrain_job",
    "ensure_engine", "ensure_sample", "estimate_training", "export_run", "import_run", "main",
    "mark_interrupted", "recent_jobs", "recommend_job", "score_table", "shutdown_engine",
    "training_params",
]
