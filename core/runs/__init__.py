"""Saved runs: ``<data_dir>/runs/<run_id>/`` written atomically and registered in the warehouse
(by the server when a job's worker saved it: :func:`register_saved_run`);
:class:`Run` loads a run lazily (model in Keras safe mode or skops, preprocessor, test split,
background rows); :func:`predict_output` is the one scoring path every package uses; admin
(compare, delete, export/import as zip without pickle).

Layer: above ``features``; imports ``core.features``, ``core.warehouse`` and the shared modules.
Private modules: ``_store`` (folders, :class:`Run`), ``_predict`` (scoring), ``_admin``,
``_stop`` (cancel, or stop and keep the best so far), ``_splits`` (a run's splits made again).
"""

from core.runs._admin import (
    NOT_USED,
    RegistrationFailed,
    compare_runs,
    comparison_problem,
    default_comparison,
    delete_run,
    model_parameters,
    register_run,
    register_saved_run,
    register_saved_runs,
    remove_pending_runs,
)
from core.runs._config import RUN_KINDS, RunConfig, UpliftSetup, load_run_config
from core.runs._predict import fast_scorer, predict_output, unscale
from core.runs._splits import RunSplits, run_splits
from core.runs._stop import StopSignal, keep_requested, stopped_note
from core.runs._store import (
    LABEL_COL,
    SCORE_COL,
    Run,
    RunArtifacts,
    column_names,
    is_run_id,
    list_runs,
    load_model,
    load_run,
    new_run_id,
    run_folder,
    save_model,
    save_run,
    write_run_folder,
)

__all__ = [
    "LABEL_COL", "NOT_USED", "RUN_KINDS", "RegistrationFailed", "Run", "RunArtifacts", "RunConfig", "RunSplits",
    "SCORE_COL", "StopSignal", "UpliftSetup", "column_names", "compare_runs",
    "comparison_problem", "default_comparison", "delete_run", "fast_scorer", "is_run_id",
    "keep_requested", "list_runs", "load_model", "load_run", "load_run_config",
    "model_parameters", "new_run_id", "predict_output", "register_run",
    "register_saved_run", "register_saved_runs", "remove_pending_runs", "run_folder",
    "run_splits", "save_model", "save_run", "stopped_note", "unscale", "write_run_folder",
]
