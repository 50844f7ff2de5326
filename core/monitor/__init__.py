"""monitor: a run on new data, and what follows from it.

Data quality, drift per feature and chunk, prediction drift, a multivariate check, performance
estimated without labels (CBPE) and realised with them, alerts in words; then champion and
challenger: retrain on a new window, compare on the same labelled rows with paired bootstrap
intervals, promote under a model name with a logged reason. Results live in the warehouse.

Layer: above ``training`` and ``impact``; imports their faces, ``core.runs``, ``core.evaluate``,
``core.features``, ``core.warehouse`` and the shared modules; imported by ``report`` and ``app``.
"""

from core.monitor._calibration import Calibration, calibration_check, fit_calibration
from core.monitor._cbpe import ASSUMPTION, METRICS, metrics_from
from core.monitor._cells import Cells, score_support
from core.monitor._chunks import PERIODS, Chunking
from core.monitor._compare import compare_runs_on
from core.monitor._monitor import cli_view, monitor
from core.monitor._plots import distribution_figure, timeline_figure
from core.monitor._registry import champion_run_id, check_name, list_models, promote, resolve_run
from core.monitor._retrain import challenger_spec, commit_challenger, retrain, train_challenger
from core.monitor._stats import (
    NumericSummary,
    chi2_test,
    js_distance,
    ks_test,
    psi,
    wasserstein_normed,
)
from core.monitor._store import load_monitor, monitor_history, save_monitor

__all__ = [
    "ASSUMPTION", "Calibration", "Cells", "Chunking", "METRICS", "NumericSummary", "PERIODS",
    "calibration_check", "challenger_spec", "champion_run_id", "check_name", "chi2_test",
    "commit_challenger",
    "cli_view", "compare_runs_on", "distribution_figure", "fit_calibration", "js_distance",
    "ks_test", "list_models", "load_monitor", "metrics_from", "monitor", "monitor_history",
    "promote", "psi", "resolve_run", "retrain", "save_monitor", "score_support",
    "timeline_figure",
    "train_challenger",
    "wasserstein_normed",
]
