"""Frozen, validated configurations that pages and the command line build; no heavy imports."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from core.errors import SchemaError, TrainingError

ACTIVATIONS = ("relu", "tanh", "sigmoid", "gelu")
KERAS_MODELS = ("mlp", "wide_deep", "ft_transformer")
MODELS = (*KERAS_MODELS, "logreg", "hgb")
MODEL_LABELS = {
    "mlp": "DNN (Keras MLP)",
    "wide_deep": "Wide & deep (Keras)",
    "ft_transformer": "Tabular Transformer (FT-Transformer, Keras)",
    "logreg": "Logistic / ridge regression (scikit-learn)",
    "hgb": "Histogram gradient boosting (scikit-learn)",
}
TASKS = ("binary", "multiclass", "regression")
OPTIMIZERS = ("adam", "adamw", "adagrad", "rmsprop", "sgd")
LOSSES = ("auto", "binary_crossentropy", "sparse_categorical_crossentropy", "mse", "mae", "huber")
SCHEDULES = ("constant", "cosine")
PIPELINES = ("auto", "memory", "stream")
PIPELINE_LABELS = {
    "auto": "Auto (stream from 20 million feature cells)",
    "memory": "In memory",
    "stream": "Streamed batches (tables larger than memory)",
}


@dataclass(frozen=True)
class DatasetSpec:
    """Which table, target and features a run learns from, and how it is split.

    Attributes:
        table: Warehouse table name.
        target: Target column (binary).
        positive_class: The label counted as positive, as text (e.g. ``"yes"``); None lets
            :func:`core.features.suggest_positive_class` choose and report it.
        features: Feature columns; empty means every column but the target and ``exclude``.
        exclude: Columns left out (e.g. a leaking ``duration``).
        test_size: Fraction of rows held out for the test split, in (0, 0.5].
        valid_size: Fraction of rows for validation (early stopping), in (0, 0.5].
        seed: Seed of the stratified split.
        task: ``binary``, ``multiclass`` or ``regression``; None infers it from the target.
    """

    table: str
    target: str
    positive_class: str | None = None
    features: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    test_size: float = 0.2
    valid_size: float = 0.1
    seed: int = 42
    task: str | None = None

    def __post_init__(self) -> None:
        if self.task is not None and self.task not in TASKS:
            raise SchemaError(f"task must be one of {', '.join(TASKS)} (or None to infer); "
                              f"got {self.task!r}.")
        for name in ("test_size", "valid_size"):
            value = getattr(self, name)
            if not 0.0 < value <= 0.5:
                raise SchemaError(f"{name} must be in (0, 0.5]; got {value}.")
        if self.target in self.features:
            raise SchemaError(
                f"The target '{self.target}' is also listed as a feature. Remove it from the "
                f"features: a model must not see the answer."
            )


@dataclass(frozen=True)
class ModelConfig:
    """Model family, architecture and training hyper-parameters.

    Attributes:
        model: ``mlp`` (Keras DNN), ``wide_deep``, ``ft_transformer``, or the scikit-learn
            baselines ``logreg`` and ``hgb``.
        hidden_units: Units of each hidden layer (MLP, deep part of wide & deep).
        activation: Hidden-layer activation, one of relu, tanh, sigmoid, gelu.
        dropout: Dropout rate after each hidden layer, in [0, 0.9].
        learning_rate: Initial learning rate, in (0, 1].
        epochs: Maximum training epochs, 1–1000.
        batch_size: Mini-batch size, 8–65536.
        early_stopping: Stop when validation loss has not improved for ``patience`` epochs and
            restore the best weights.
        patience: Epochs without improvement before stopping.
        class_weight: ``"balanced"`` to weight classes by inverse frequency, or ``"none"``.
        optimizer: adam, adamw, adagrad, rmsprop or sgd (momentum 0.9).
        lr_schedule: ``constant`` or ``cosine`` (cosine decay over all training steps).
        loss: ``auto`` (the task's cross-entropy, or MSE for regression), or a named loss.
        batch_norm: Batch normalisation in the MLP's hidden layers.
        l2: L2 penalty on the MLP's hidden kernels, in [0, 1].
        d_token: FT-Transformer token size (divisible by ``n_heads``).
        n_blocks: FT-Transformer blocks, 1–8.
        n_heads: FT-Transformer attention heads.
        numeric_encoding: ``standard`` (standardised value), ``ple`` (standardised value plus a
            16-bin piecewise-linear encoding, Gorishniy et al. 2022) or ``auto`` (PLE for the
            Keras networks, standard for the scikit-learn baselines).
        data_pipeline: ``memory`` (read the table into memory), ``stream`` (Keras networks:
            shuffled Parquet snapshots fed through ``tf.data`` in batches, for tables larger
            than memory; see :mod:`core.features`) or ``auto`` (stream a Keras network when
            the table has at least 20 million feature cells).
    """

    model: str = "mlp"
    hidden_units: tuple[int, ...] = (128, 64)
    activation: str = "relu"
    dropout: float = 0.15
    learning_rate: float = 3e-4
    epochs: int = 60
    batch_size: int = 512
    early_stopping: bool = True
    patience: int = 8
    class_weight: str = "none"
    optimizer: str = "adamw"
    lr_schedule: str = "constant"
    loss: str = "auto"
    batch_norm: bool = False
    l2: float = 0.0
    d_token: int = 32
    n_blocks: int = 2
    n_heads: int = 4
    numeric_encoding: str = "auto"
    data_pipeline: str = "auto"

    def __post_init__(self) -> None:
        checks = [
            ("model", self.model in MODELS, f"one of {', '.join(MODELS)}"),
            ("activation", self.activation in ACTIVATIONS, f"one of {', '.join(ACTIVATIONS)}"),
            ("dropout", 0.0 <= self.dropout <= 0.9, "in [0, 0.9]"),
            ("learning_rate", 0.0 < self.learning_rate <= 1.0, "in (0, 1]"),
            ("epochs", 1 <= self.epochs <= 1000, "an integer in [1, 1000]"),
            ("batch_size", 8 <= self.batch_size <= 65536, "an integer in [8, 65536]"),
            ("patience", 1 <= self.patience <= 100, "an integer in [1, 100]"),
            ("class_weight", self.class_weight in ("none", "balanced"), "'none' or 'balanced'"),
            ("hidden_units", 1 <= len(self.hidden_units) <= 8
             and all(1 <= u <= 4096 for u in self.hidden_units), "1–8 layers of 1–4096 units"),
            ("optimizer", self.optimizer in OPTIMIZERS, f"one of {', '.join(OPTIMIZERS)}"),
            ("lr_schedule", self.lr_schedule in SCHEDULES, f"one of {', '.join(SCHEDULES)}"),
            ("loss", self.loss in LOSSES, f"one of {', '.join(LOSSES)}"),
            ("l2", 0.0 <= self.l2 <= 1.0, "in [0, 1]"),
            ("numeric_encoding", self.numeric_encoding in ("auto", "standard", "ple"),
             "'auto', 'standard' or 'ple'"),
            ("data_pipeline", self.data_pipeline in PIPELINES, "'auto', 'memory' or 'stream'"),
            ("n_blocks", 1 <= self.n_blocks <= 8, "an integer in [1, 8]"),
            ("d_token", 4 <= self.d_token <= 512 and self.d_token % self.n_heads == 0,
             "in [4, 512] and divisible by n_heads"),
        ]
        for name, ok, allowed in checks:
            if not ok:
                raise TrainingError(
                    f"{name} must be {allowed}; got {getattr(self, name)!r}."
                )

    @property
    def numeric_bins(self) -> int:
        """Piecewise-linear bins per numeric column (0 = plain standardisation)."""
        ple = self.numeric_encoding == "ple" or (self.numeric_encoding == "auto" and self.is_keras)
        return 16 if ple else 0

    @property
    def is_keras(self) -> bool:
        """Whether the model is a Keras network (trained in epochs)."""
        return self.model in KERAS_MODELS

    def resolved_loss(self, task: str) -> str:
        """The loss used for ``task``.

        Raises:
            TrainingError: The chosen loss does not fit the task.
        """
        default = {"binary": "binary_crossentropy",
                   "multiclass": "sparse_categorical_crossentropy", "regression": "mse"}[task]
        if self.loss == "auto":
            return default
        allowed = {"binary": ("binary_crossentropy",),
                   "multiclass": ("sparse_categorical_crossentropy",),
                   "regression": ("mse", "mae", "huber")}[task]
        if self.loss not in allowed:
            raise TrainingError(
                f"loss '{self.loss}' does not fit a {task} task; use one of {', '.join(allowed)}."
            )
        return self.loss


def to_dict(obj) -> dict:
    """A JSON-ready dict of a config dataclass (tuples become lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(obj).items()}


def from_dict(cls, data: dict):
    """Rebuild a config dataclass from :func:`to_dict` output, ignoring unknown keys."""
    names = {f.name: f for f in fields(cls)}
    kwargs = {}
    for key, value in data.items():
        if key in names:
            kwargs[key] = tuple(value) if isinstance(value, list) else value
    return cls(**kwargs)


@dataclass(frozen=True)
class ImpactInputs:
    """Economics of a targeting campaign.

    Attributes:
        contact_cost: Cost of contacting one customer, in currency units (>= 0).
        conversion_value: Value of one conversion, in currency units (> 0).
        fraction: Fraction of the population contacted, best-scored first, in (0, 1].
        n_bootstrap: Bootstrap resamples for the 95% intervals (0 to skip).
        seed: Seed of the bootstrap.
    """

    contact_cost: float = 5.0
    conversion_value: float = 100.0
    fraction: float = 0.2
    n_bootstrap: int = 500
    seed: int = 42

    def __post_init__(self) -> None:
        from core.errors import SimulationError

        if self.contact_cost < 0:
            raise SimulationError(f"contact_cost must be >= 0; got {self.contact_cost}.")
        if self.conversion_value <= 0:
            raise SimulationError(f"conversion_value must be > 0; got {self.conversion_value}.")
        if not 0.0 < self.fraction <= 1.0:
            raise SimulationError(
                f"fraction must be in (0, 1] (e.g. 0.2 for the top 20%); got {self.fraction}."
            )
        if not 0 <= self.n_bootstrap <= 10000:
            raise SimulationError(f"n_bootstrap must be in [0, 10000]; got {self.n_bootstrap}.")
