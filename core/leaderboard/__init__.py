"""A leaderboard across model families: one action trains every family on the same split (and
the same cross-validation folds), ranks them by one metric with bootstrap intervals, and says
which differences are real by a paired bootstrap on the shared test rows ("tied with the
best" when the difference's interval contains 0).

Layer: beside ``uplift`` and ``monitor``; imports ``core.training``, ``core.runs`` and the
shared modules.
Private modules: ``_board``.
"""

from core.leaderboard._board import (
    METRICS,
    Leaderboard,
    build_leaderboard,
    list_leaderboards,
    load_leaderboard,
    metric_value,
    paired_bootstrap,
    rank_families,
    save_leaderboard,
)

__all__ = ["Leaderboard", "METRICS", "build_leaderboard", "list_leaderboards",
           "load_leaderboard", "metric_value", "paired_bootstrap", "rank_families",
           "save_leaderboard"]
