"""uplift: TODO face docstring."""

from core.uplift._metrics import UpliftInputs
from core.uplift._scoring import (
    is_uplift, score_uplift_table, simulate_uplift_population, simulate_uplift_run,
    uplift_population,
)
from core.uplift._simulate import simulate_uplift, uplift_segments
from core.uplift._training import LEARNERS, LEARNER_LABELS, TREATED_LIKE, UpliftConfig, train_uplift

__all__ = ["LEARNERS", "LEARNER_LABELS", "TREATED_LIKE", "UpliftConfig", "UpliftInputs", "is_uplift", "score_uplift_table", "simulate_uplift", "simulate_uplift_population", "simulate_uplift_run", "train_uplift", "uplift_population", "uplift_segments"]
