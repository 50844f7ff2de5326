"""Train a run: the shared fit code (Keras networks with early stopping, scikit-learn baselines,
target scaling, the run's config), the in-memory and streamed trainers, k-fold cross-validation
and Optuna tuning. Progress goes through a plain callable; nothing here knows about Streamlit.

Layer: above ``evaluate``; imports ``core.evaluate``, ``core.privacy`` (DP-SGD's accountant),
``core.runs``, ``core.tables`` (which columns to learn from), ``core.features``,
``core.warehouse`` and the shared modules (TensorFlow only inside functions).
Private modules: ``_fit``, ``_dp`` (DP-SGD in the fit), ``_ensemble`` (the network + gradient
boosting blend, and :func:`fit_model`, which fits any family), ``_memory`` (:func:`train`),
``_stream``, ``_cv``, ``_tuning``, ``_choice`` (the features of every training path; stop and
keep the best so far), ``_tune_ray``, ``_distributed`` (multi-worker training on Ray Train; its
workers' step in ``_distributed_worker``, their shards in ``_distributed_data``).
"""

from core.training._choice import record_choice, resolve_spec
from core.training._cv import attach_cv, cross_validate
from core.training._ensemble import booster_columns, choose_weight, fit_ensemble, fit_model
from core.training._fit import (
    BACKGROUND_ROWS,
    FitData,
    Progress,
    StreamFit,
    TrainingCancelled,
    TrainResult,
    build_network,
    device_label,
    emit,
    fit_baseline,
    fit_keras,
    scale_target,
    target_scaling,
)
from core.training._memory import train
from core.training._tuning import tune

__all__ = [
    "BACKGROUND_ROWS", "FitData", "Progress", "StreamFit", "TrainResult", "TrainingCancelled",
    "attach_cv", "booster_columns", "build_network", "choose_weight", "cross_validate",
    "device_label", "emit", "fit_baseline", "fit_ensemble", "fit_keras", "fit_model",
    "record_choice", "resolve_spec", "scale_target", "target_scaling", "train", "tune",
]
