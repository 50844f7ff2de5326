"""Workflows that chain steps, shared by the command line and the background jobs.

:func:`train_workflow`: tune (Optuna) or train, then cross-validate and attach the folds to the
run. Cancelling reaches every phase: tuning trials, the final training and each fold.

The work of a job that can leave the server is plain, picklable data with a ``table`` (the
table the worker reads from the server's Parquet snapshot) and ``settings``:
:class:`TrainWork` (a tabular run) and :class:`RecommendWork` (a next-item recommender). Both
only read the warehouse and write one run folder, which the server registers
(:func:`core.app._ray_jobs.run_job`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

from core.config import Settings
from core.errors import TrainingError
from core.recommend import NEURAL, EventColumns, RecModelConfig, SequenceOptions, train_recommender
from core.runs import delete_run, keep_requested
from core.specs import DatasetSpec, ModelConfig, to_dict
from core.training import TrainingCancelled, TrainResult, attach_cv, cross_validate, train, tune


def train_workflow(settings: Settings, spec: DatasetSpec, cfg: ModelConfig, *, cv: int = 0,
                   tune_trials: int = 0, tune_timeout_s: float = 300.0,
                   progress: Callable[[dict], None] | None = None,
                   should_stop: Callable[[], bool] | None = None, tune_parallel: int = 1,
                   ) -> tuple[TrainResult, dict | None]:
    """Train one run the way the analyst asked: tuned or not, cross-validated or not.

    Args:
        settings: Workspace settings.
        spec: Table, target, features, split.
        cfg: Model family and settings (the starting point of a search when tuning).
        cv: Also run k-fold cross-validation of ``cfg`` and store it in the run (0 = no).
        tune_trials: Search hyper-parameters with this many Optuna trials first (0 = no).
        tune_timeout_s: Time budget of the search, in seconds.
        progress: Receives every phase's events (trials, epochs, folds).
        should_stop: Polled in every phase; True cancels and leaves no run behind (a run
            saved before its cross-validation was cancelled is deleted again). A
            :class:`core.runs.StopSignal` asking to keep the best so far keeps the run trained
            up to there and skips the cross-validation.
        tune_parallel: Tuning trials at once (above 1: Ray Tune trials).

    Returns:
        ``(result, cv_summary)``; ``cv_summary`` is None without cross-validation.

    Raises:
        TrainingCancelled: ``should_stop`` returned True.
        TrainingError: Tuning asked for a differentially private run.
        SchemaError, TrainingError: As :func:`core.training.train` raises them.
    """
    if tune_trials and cfg.dp.dp:
        raise TrainingError("Hyper-parameter tuning is not available with differential privacy: "
                            "every trial would read the data again and spend more ε than the "
                            "run reports. Train the DP run with chosen settings instead.")
    if tune_trials:
        result = tune(settings, spec, cfg, tune_trials, tune_timeout_s, progress, should_stop,
                      parallel=tune_parallel)
    else:
        result = train(settings, spec, cfg, progress, should_stop)
    summary = None
    if cv and not keep_requested(should_stop):
        try:
            folds = cross_validate(settings, spec, cfg, cv, progress, should_stop)
        except TrainingCancelled:
            if keep_requested(should_stop):  # stop and keep: the run stays, without folds
                return result, None
            delete_run(settings, result.run_id)  # the job asked for a cross-validated run
            raise
        summary = attach_cv(settings, result.run_id, folds)
    return result, summary


@dataclass(frozen=True)
class TrainWork:
    """A training job's work as plain data, so that it can run in another process (a Ray
    worker): ``work(progress, should_stop) -> run_id`` calls :func:`train_workflow`."""

    settings: Settings
    spec: DatasetSpec
    cfg: ModelConfig
    cv: int = 0
    tune_trials: int = 0
    tune_timeout_s: float = 300.0
    remote: bool = True
    tune_parallel: int = 1

    @property
    def table(self) -> str:
        """The table the worker reads (exported to its snapshot)."""
        return self.spec.table

    def __call__(self, progress, should_stop) -> str:
        result, _ = train_workflow(self.settings, self.spec, self.cfg, cv=self.cv,
                                   tune_trials=self.tune_trials,
                                   tune_timeout_s=self.tune_timeout_s, progress=progress,
                                   should_stop=should_stop, tune_parallel=self.tune_parallel)
        return result.run_id


@dataclass(frozen=True)
class RecommendWork:
    """A next-item recommender job's work as plain data, so that it can run in a Ray worker:
    ``work(progress, should_stop) -> run_id`` calls :func:`core.recommend.train_recommender`,
    which reads the event table (from the worker's snapshot) and writes one run folder.

    Attributes:
        settings: Workspace settings (the worker's carry ``snapshot_dir``).
        cols: The event table and its user, item, time (and event-type) columns.
        opts: Sequence filters and whether seen items may be recommended.
        rec_config: The recommender's model and training settings.
        remote: Whether the job may leave the server's process (False: a thread there).
    """

    settings: Settings
    cols: EventColumns
    opts: SequenceOptions
    rec_config: RecModelConfig
    remote: bool = True

    @property
    def table(self) -> str:
        """The event table the worker reads (exported to its snapshot)."""
        return self.cols.table

    def __call__(self, progress, should_stop) -> str:
        return train_recommender(self.settings, self.cols, self.opts, self.rec_config,
                                 progress, should_stop).run_id


def recommend_job(settings: Settings, cols: EventColumns, opts: SequenceOptions,
                  cfg: RecModelConfig) -> dict:
    """The keyword arguments of :meth:`core.app.JobManager.submit` for a next-item
    recommender job: ``kind`` ``"recommend"``, its label, a :class:`RecommendWork`, the
    planned epochs and early-stopping patience of a network (0 for a baseline), its settings
    as ``params`` and the validation NDCG@10 as the monitored metric (higher is better)."""
    neural = cfg.model in NEURAL
    return {"kind": "recommend", "label": f"{cfg.model} on {cols.table} ({cols.user} → "
                                          f"{cols.item})",
            "work": RecommendWork(settings, cols, opts, cfg),
            "epochs": cfg.epochs if neural else 0,
            "params": {"columns": asdict(cols), "options": asdict(opts), "model": asdict(cfg)},
            "patience": cfg.net.patience if neural else 0, "can_keep": neural,
            "monitor": "val_ndcg@10", "higher_is_better": True}


def training_params(spec: DatasetSpec, cfg: ModelConfig, cv: int = 0, tune_trials: int = 0,
                    tune_timeout_s: float = 300.0) -> dict:
    """The settings of a training job, JSON-ready: ``{"spec", "model_config" (flat), "cv",
    "tune_trials", "tune_timeout_s"}`` (what :meth:`JobManager.find` matches and a reattached
    page shows again)."""
    return {"spec": to_dict(spec), "model_config": cfg.flat(), "cv": int(cv),
            "tune_trials": int(tune_trials),
            "tune_timeout_s": float(tune_timeout_s) if tune_trials else 0.0}
