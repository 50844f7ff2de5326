"""Whom to treat when the treatment itself changes behaviour: uplift models (T-, S- and
class-transformation learners) trained on a randomised experiment, Qini and AUUC, uplift by
decile, and the incremental conversions and profit of treating the top share.

Layer: above ``training`` and ``impact``; imports them, ``core.runs``, ``core.features``,
``core.warehouse`` and the shared modules.
Private modules: ``_metrics``, ``_training``, ``_scoring``, ``_simulate``.
"""

from core.uplift._scoring import (
    is_uplift,
    predict_uplift,
    score_uplift_table,
    simulate_uplift_population,
    simulate_uplift_run,
    uplift_population,
)
from core.uplift._simulate import simulate_uplift, uplift_segments
from core.uplift._training import LEARNER_LABELS, LEARNERS, TREATED_LIKE, UpliftConfig, train_uplift

__all__ = [
    "LEARNERS", "LEARNER_LABELS", "TREATED_LIKE", "UpliftConfig", "is_uplift", "predict_uplift",
    "score_uplift_table", "simulate_uplift", "simulate_uplift_population", "simulate_uplift_run",
    "train_uplift", "uplift_population", "uplift_segments",
]
