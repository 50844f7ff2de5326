"""Saved runs: ``<data_dir>/runs/<run_id>/`` written atomically and registered in the warehouse;
:class:`Run` loads a run lazily (model in Keras safe mode or skops, preprocessor, test split,
background rows); :func:`predict_output` is the one scoring path every package uses; admin
(compare, delete, export/import as zip without pickle).

Layer: above ``features``; imports ``core.features``, ``core.warehouse`` and the shared modules.
Private modules: ``_store`` (folders, :class:`Run`), ``_predict`` (scoring), ``_admin``.
"""

from core.runs._admin import (
    compare_runs, comparison_problem, default_comparison, delete_run, export_run, import_run,
    model_parameters, NOT_USED,
)
from core.runs._config import load_run_config, RUN_KINDS, RunConfig, UpliftSetup
from core.runs._predict import fast_scorer, predict_output, unscale
from core.runs._store import (
    LABEL_COL, list_runs, load_model, load_run, new_run_id, Run, run_folder, RunArtifacts,
    save_model, save_run, SCORE_COL, write_run_folder,
)

__all__ = [
    "LABEL_COL", "NOT_USED", "RUN_KINDS", "Run", "RunArtifacts", "RunConfig", "SCORE_COL",
    "UpliftSetup", "compare_runs", "comparison_problem", "default_comparison", "delete_run",
    "export_run", "fast_scorer", "import_run", "list_runs", "load_model", "load_run",
    "load_run_config", "model_parameters", "new_run_id", "predict_output", "run_folder",
    "save_model", "save_run", "unscale", "write_run_folder",
]
