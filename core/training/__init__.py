"""training: TODO face docstring."""

from core.training._cv import attach_cv, cross_validate
from core.training._memory import (
    FitData, StreamFit, TrainResult, TrainingCancelled, build_network, fit_baseline, fit_keras,
    predict_raw, train,
)
from core.training._tuning import tune

__all__ = ["FitData", "StreamFit", "TrainResult", "TrainingCancelled", "attach_cv", "build_network", "cross_validate", "fit_baseline", "fit_keras", "predict_raw", "train", "tune"]
