"""training: TODO face docstring."""

from core.training._cv import attach_cv, cross_validate
from core.training._fit import (
    BACKGROUND_ROWS, FitData, Progress, StreamFit, TrainingCancelled, TrainResult, build_network,
    device_label, emit, fit_baseline, fit_keras, scale_target, target_scaling,
)
from core.training._memory import train
from core.training._tuning import tune

__all__ = ["BACKGROUND_ROWS", "Progress", "device_label", "emit", "scale_target", "target_scaling", "FitData", "StreamFit", "TrainResult", "TrainingCancelled", "attach_cv", "build_network", "cross_validate", "fit_baseline", "fit_keras", "train", "tune"]
