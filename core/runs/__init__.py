"""runs: TODO face docstring."""

from core.runs._admin import (
    NOT_USED, compare_runs, comparison_problem, default_comparison, delete_run, export_run,
    import_run, model_parameters,
)
from core.runs._predict import fast_scorer, predict_output, unscale
from core.runs._store import (
    LABEL_COL, Run, RunArtifacts, SCORE_COL, list_runs, load_run, new_run_id, run_folder, save_run,
    write_run_folder,
)

__all__ = ["fast_scorer", "predict_output", "unscale", "LABEL_COL", "NOT_USED", "Run", "RunArtifacts", "SCORE_COL", "compare_runs", "comparison_problem", "default_comparison", "delete_run", "export_run", "import_run", "list_runs", "load_run", "model_parameters", "new_run_id", "run_folder", "save_run", "write_run_folder"]
