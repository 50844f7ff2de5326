"""How good is a model: binary metrics at any threshold with bootstrap intervals and
precomputed curves, multiclass and regression metrics, the headline metrics a run saves,
threshold policies chosen on the validation split, segments worst first, and the Evaluate
page's Plotly figures.

Layer: above ``runs``; imports ``core.runs``, ``core.features`` and the shared modules.
Private modules: ``_binary``, ``_multi``, ``_headline``, ``_evaluation``, ``_thresholds``,
``_segments``, ``_plots``.
"""

from core.evaluate._binary import (
    ThresholdTable,
    is_reliable,
    pr_points,
    ranking_metrics,
    roc_points,
    to_jsonable,
)
from core.evaluate._evaluation import BinaryEvaluation, evaluate_scores, scored_set
from core.evaluate._headline import METRIC_NAMES, headline_metrics, metric_name
from core.evaluate._multi import evaluate_multiclass, evaluate_regression
from core.evaluate._plots import (
    binary_figures,
    dependence_figure,
    importance_comparison_figure,
    multiclass_confusion_figure,
    predicted_actual_figure,
    residual_figure,
    static_figures,
    threshold_figures,
)
from core.evaluate._segments import SegmentTables
from core.evaluate._thresholds import ThresholdPolicy, choose_run_threshold

__all__ = [
    "BinaryEvaluation", "METRIC_NAMES", "SegmentTables", "ThresholdPolicy", "ThresholdTable",
    "binary_figures", "choose_run_threshold", "dependence_figure", "evaluate_multiclass",
    "evaluate_regression", "evaluate_scores", "headline_metrics", "importance_comparison_figure",
    "is_reliable", "metric_name", "multiclass_confusion_figure", "pr_points",
    "predicted_actual_figure", "ranking_metrics", "residual_figure", "roc_points", "scored_set",
    "static_figures", "threshold_figures", "to_jsonable",
]
