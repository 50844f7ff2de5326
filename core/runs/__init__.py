"""Saved runs: ``<data_dir>/runs/<run_id>/`` written atomically and registered in the warehouse;
:class:`Run` loads a run lazily (model in Keras safe mode or skops, preprocessor, test split,
background rows); :func:`predict_output` is the one scoring path every package uses; admin
(compare, delete, export/import as zip without pickle).

Layer: above ``features``; imports ``core.features``, ``core.warehouse`` and the shared modules.
Private modules: ``_store`` (folders, :class:`Run`), ``_predict`` (scoring), ``_admin``,
``_splits`` (a run's splits made again).
"""

from core.runs._admin import (
    NOT_USED,
    compare_runs,
    comparison_problem,
    default_comparison,
    delete_run,
    export_run,
    import_run,
    model_parameters,
)
from core.runs._config import RUN_KINDS, RunConfig, UpliftSetup, load_run_config
from core.runs._predict import fast_scorer, predict_output, unscale
from core.runs._splits import RunSplits, run_splits
from core.runs._store import (
    LABEL_COL,
    SCORE_COL,
    Run,
    RunArtifacts,
    list_runs,
    load_model,
    load_run,
    new_run_id,
    run_folder,
    save_run,
    write_run_folder,
)

__all__ = [
    "LABEL_COL",
    "NOT_USED",
    "RUN_KINDS",
    "SCORE_COL",
    "Run",
    "RunArtifacts",
    "RunConfig",
    "RunSplits",
    "UpliftSetup",
    "compare_runs",
    "comparison_problem",
    "default_comparison",
    "delete_run",
    "export_run",
    "fast_scorer",
    "import_run",
    "list_runs",
    "load_model",
    "load_run",
    "load_run_config",
    "model_parameters",
    "new_run_id",
    "predict_output",
    "run_folder",
    "run_splits",
    "save_run",
    "unscale",
    "write_run_folder",
]
