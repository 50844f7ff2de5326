"""The e-commerce next-item recommender: behaviour sequences built in DuckDB, leave-last-out
split, GRU4Rec- and SASRec-style networks beside most-popular and item-to-item baselines,
full-ranking HitRate@K, NDCG@K and MRR with bootstrap intervals, next-item runs, and the value of
personalised against baseline recommendations.

Layer: above ``runs``; imports ``core.runs``, ``core.warehouse`` and the shared modules.
Private modules: ``_sequences``, ``_suggest``, ``_metrics``, ``_training``, ``_runs``, ``_value``,
``_plots``.
"""

from core.recommend._metrics import metrics_table, rank_users, summarize
from core.recommend._plots import (
    comparison_figure,
    rank_curve_figure,
    training_figure,
    value_figure,
)
from core.recommend._runs import (
    NEURAL,
    RecRun,
    list_rec_runs,
    load_rec_run,
    similar_items,
    user_report,
)
from core.recommend._sequences import EventColumns, SequenceOptions, build_sequences, leave_last_out
from core.recommend._suggest import distinct_values, suggest_columns, suggest_excluded_items
from core.recommend._training import (
    REC_MODEL_LABELS,
    SAMPLED_ABOVE,
    NetOptions,
    RecModelConfig,
    train_recommender,
)
from core.recommend._value import (
    STRATEGY_LABELS,
    ValueInputs,
    simulate_run_value,
    value_table,
    value_verdict,
)

__all__ = [
    "EventColumns", "NEURAL", "NetOptions", "REC_MODEL_LABELS", "RecModelConfig", "RecRun",
    "SAMPLED_ABOVE", "STRATEGY_LABELS", "SequenceOptions", "ValueInputs", "build_sequences",
    "comparison_figure", "distinct_values", "leave_last_out", "list_rec_runs", "load_rec_run",
    "metrics_table", "rank_curve_figure", "rank_users", "similar_items", "simulate_run_value",
    "suggest_columns", "suggest_excluded_items", "summarize", "train_recommender",
    "training_figure", "user_report", "value_figure", "value_table", "value_verdict",
]
