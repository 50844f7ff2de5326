"""Frozen, validated configurations that pages and the command line build, with no heavy
imports: the dataset (:class:`DatasetSpec`), the model and its option groups
(:class:`ModelConfig`: fit, MLP, transformer, TabM, differential privacy) and the one economics
type (:class:`Economics`).

Layer: shared, below every workflow package; imports ``core.errors`` and ``models.tabular``'s
constants only.
Private modules: ``_model`` (dataset and model configurations), ``_economics``.
"""

from core.specs._economics import MAX_MONEY, Economics
from core.specs._model import (
    ACTIVATIONS,
    ENSEMBLE,
    ENSEMBLE_MEMBERS,
    FAMILY_FIT_DEFAULTS,
    FAMILY_GROUPS,
    KERAS_MODELS,
    LOSSES,
    MISSING_LABELS,
    MISSING_POLICIES,
    MODEL_LABELS,
    MODELS,
    OPTIMIZERS,
    PIPELINE_LABELS,
    PIPELINES,
    SCHEDULES,
    TABM_VARIANTS,
    TASKS,
    DatasetSpec,
    DPOptions,
    FitOptions,
    MLPOptions,
    ModelConfig,
    TabMOptions,
    TransformerOptions,
    from_dict,
    to_dict,
)

__all__ = [
    "ACTIVATIONS",
    "DPOptions",
    "DatasetSpec",
    "ENSEMBLE",
    "ENSEMBLE_MEMBERS",
    "Economics",
    "FAMILY_FIT_DEFAULTS",
    "FAMILY_GROUPS",
    "FitOptions",
    "KERAS_MODELS",
    "LOSSES",
    "MAX_MONEY",
    "MISSING_LABELS",
    "MISSING_POLICIES",
    "MLPOptions",
    "MODELS",
    "MODEL_LABELS",
    "ModelConfig",
    "OPTIMIZERS",
    "PIPELINES",
    "PIPELINE_LABELS",
    "SCHEDULES",
    "TABM_VARIANTS",
    "TASKS",
    "TabMOptions",
    "TransformerOptions",
    "from_dict",
    "to_dict",
]
