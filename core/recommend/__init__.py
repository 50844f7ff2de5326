"""recommend: TODO face docstring."""

from core.recommend._metrics import metrics_table, rank_users, summarize
from core.recommend._plots import (
    comparison_figure, rank_curve_figure, training_figure, value_figure,
)
from core.recommend._runs import (
    NEURAL, RecRun, list_rec_runs, load_rec_run, similar_items, user_report,
)
from core.recommend._sequences import (
    EventColumns, SequenceOptions, build_sequences, distinct_values, leave_last_out,
    suggest_columns, suggest_excluded_items,
)
from core.recommend._training import NetOptions, RecModelConfig, train_recommender

__all__ = ["EventColumns", "NEURAL", "NetOptions", "RecModelConfig", "RecRun", "SequenceOptions", "build_sequences", "comparison_figure", "distinct_values", "leave_last_out", "list_rec_runs", "load_rec_run", "metrics_table", "rank_curve_figure", "rank_users", "similar_items", "suggest_columns", "suggest_excluded_items", "summarize", "train_recommender", "training_figure", "user_report", "value_figure"]
