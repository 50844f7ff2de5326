"""Frozen, validated configurations that pages and the command line build; no heavy imports."""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field, fields

from core.errors import SchemaError, TrainingError
from core.specs._economics import _finite
from models.tabular import ACTIVATIONS, OPTIMIZERS, SCHEDULES, TASK_LOSSES

TABM_VARIANTS = ("tabm", "tabm_mini", "tabm_lite")

KERAS_MODELS = ("tabm", "mlp", "wide_deep", "ft_transformer")
ENSEMBLE = "ensemble"  # a Keras network and gradient boosting, averaged (models.blend)
ENSEMBLE_MEMBERS = ("tabm", "hgb")
MODELS = (*KERAS_MODELS, ENSEMBLE, "logreg", "hgb")
MODEL_LABELS = {
    "tabm": "TabM (ensemble-style MLP, Keras)",
    "mlp": "DNN (Keras MLP)",
    "wide_deep": "Wide & deep (Keras)",
    "ft_transformer": "Tabular Transformer (FT-Transformer, Keras)",
    "ensemble": "Ensemble: TabM + gradient boosting, weights chosen on validation",
    "logreg": "Logistic / ridge regression (scikit-learn)",
    "hgb": "Histogram gradient boosting (scikit-learn)",
}
TASKS = ("binary", "multiclass", "regression")
MISSING_POLICIES = ("impute", "drop")
MISSING_LABELS = {"impute": "fill in (median / a '(missing)' category) — default",
                  "drop": "leave the rows out"}
LOSSES = ("auto", *dict.fromkeys(loss for names in TASK_LOSSES.values() for loss in names))
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
        missing: Rows with a missing feature value: ``impute`` (numbers get the training
            median, categories a ``(missing)`` level; the default) or ``drop`` (the rows are
            left out before the split). Either way the run's notes say how many.
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
    missing: str = "impute"

    def __post_init__(self) -> None:
        if self.missing not in MISSING_POLICIES:
            raise SchemaError(f"missing must be one of {', '.join(MISSING_POLICIES)}; got "
                              f"{self.missing!r}.")
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


def _check(obj, error: type, checks: list[tuple[str, bool, str]]) -> None:
    for name, ok, allowed in checks:
        if not ok:
            raise error(f"{name} must be {allowed}; got {getattr(obj, name)!r}.")


@dataclass(frozen=True)
class FitOptions:
    """How a Keras network trains (every Keras family). The defaults are TabM's, the default
    family's; :meth:`ModelConfig.of` starts the other families from
    :data:`FAMILY_FIT_DEFAULTS`.

    Attributes:
        epochs: Maximum training epochs, 1–1000.
        batch_size: Mini-batch size, 8–65536.
        learning_rate: Initial learning rate, in (0, 1].
        optimizer: adam, adamw, adagrad, rmsprop or sgd (momentum 0.9); see
            :data:`models.tabular.OPTIMIZERS`.
        lr_schedule: ``constant`` or ``cosine`` (cosine decay over all training steps).
        loss: ``auto`` (the task's cross-entropy, or MSE for regression), or a named loss.
        early_stopping: Stop when validation loss has not improved for ``patience`` epochs and
            restore the best weights.
        patience: Epochs without improvement before stopping, 1–100.
        workers: Data-parallel training workers, 1–64: above 1, Ray Train runs the network on
            that many workers under ``MultiWorkerMirroredStrategy`` (:mod:`core.training`),
            ``batch_size`` being the global batch.
    """

    epochs: int = 60
    batch_size: int = 256
    learning_rate: float = 2e-3
    optimizer: str = "adamw"
    lr_schedule: str = "constant"
    loss: str = "auto"
    early_stopping: bool = True
    patience: int = 8
    workers: int = 1

    def __post_init__(self) -> None:
        _check(self, TrainingError, [
            ("epochs", 1 <= self.epochs <= 1000, "an integer in [1, 1000]"),
            ("batch_size", 8 <= self.batch_size <= 65536, "an integer in [8, 65536]"),
            ("learning_rate", 0.0 < self.learning_rate <= 1.0, "in (0, 1]"),
            ("optimizer", self.optimizer in OPTIMIZERS, f"one of {', '.join(OPTIMIZERS)}"),
            ("lr_schedule", self.lr_schedule in SCHEDULES, f"one of {', '.join(SCHEDULES)}"),
            ("loss", self.loss in LOSSES, f"one of {', '.join(LOSSES)}"),
            ("patience", 1 <= self.patience <= 100, "an integer in [1, 100]"),
            ("workers", 1 <= self.workers <= 64, "an integer in [1, 64]"),
        ])


@dataclass(frozen=True)
class MLPOptions:
    """Architecture of the MLP (``mlp``) and of the deep part of ``wide_deep``.

    Attributes:
        hidden_units: Units of each hidden layer, 1–8 layers of 1–4096 units.
        activation: Hidden-layer activation, one of relu, tanh, sigmoid, gelu.
        dropout: Dropout rate after each hidden layer, in [0, 0.9].
        batch_norm: Batch normalisation in the MLP's hidden layers.
        l2: L2 penalty on the MLP's hidden kernels, in [0, 1].
    """

    hidden_units: tuple[int, ...] = (128, 64)
    activation: str = "relu"
    dropout: float = 0.15
    batch_norm: bool = False
    l2: float = 0.0

    def __post_init__(self) -> None:
        _check(self, TrainingError, [
            ("hidden_units", 1 <= len(self.hidden_units) <= 8
             and all(1 <= u <= 4096 for u in self.hidden_units), "1–8 layers of 1–4096 units"),
            ("activation", self.activation in ACTIVATIONS, f"one of {', '.join(ACTIVATIONS)}"),
            ("dropout", 0.0 <= self.dropout <= 0.9, "in [0, 0.9]"),
            ("l2", 0.0 <= self.l2 <= 1.0, "in [0, 1]"),
        ])


@dataclass(frozen=True)
class TransformerOptions:
    """Architecture of the FT-Transformer (``ft_transformer``, Gorishniy et al., 2021).

    Attributes:
        d_token: Token size, in [4, 512] and divisible by ``n_heads``.
        n_blocks: Transformer blocks, 1–8.
        n_heads: Attention heads.
        dropout: Dropout rate in attention and feed-forward layers, in [0, 0.9].
    """

    d_token: int = 32
    n_blocks: int = 2
    n_heads: int = 4
    dropout: float = 0.15

    def __post_init__(self) -> None:
        _check(self, TrainingError, [
            ("n_blocks", 1 <= self.n_blocks <= 8, "an integer in [1, 8]"),
            ("n_heads", 1 <= self.n_heads <= 32, "an integer in [1, 32]"),
            ("d_token", 4 <= self.d_token <= 512 and self.d_token % self.n_heads == 0,
             "in [4, 512] and divisible by n_heads"),
            ("dropout", 0.0 <= self.dropout <= 0.9, "in [0, 0.9]"),
        ])


@dataclass(frozen=True)
class DPOptions:
    """Differential privacy of a Keras network's training (DP-SGD, Abadi et al. 2016); the
    accounting and the audit live in :mod:`core.privacy`.

    Attributes:
        dp: Train with DP-SGD (per-example clipping, Gaussian noise, Poisson sampling).
        dp_epsilon: Target ε of the (ε, δ) guarantee, > 0; the noise multiplier is found for it.
        dp_delta: δ, in (0, 1); None uses 1/(10·n) for n training rows (checked < 1/n).
        dp_clip: L2 norm C each example's gradient is clipped to, > 0.
        dp_bounds: Analyst-given preprocessing bounds, ``(column, low, high)`` for a number or
            ``(column, (level, ...))`` for a category list; empty fits the preprocessor on the
            training rows, which the guarantee then does not cover.
    """

    dp: bool = False
    dp_epsilon: float = 8.0
    dp_delta: float | None = None
    dp_clip: float = 1.0
    dp_bounds: tuple = ()

    def __post_init__(self) -> None:
        _check(self, TrainingError, [
            ("dp_epsilon", _finite(self.dp_epsilon) and self.dp_epsilon > 0,
             "a number > 0 (e.g. 1 for a strong guarantee, 8 for a common one)"),
            ("dp_delta", self.dp_delta is None or 0 < self.dp_delta < 1, "None or in (0, 1)"),
            ("dp_clip", _finite(self.dp_clip) and self.dp_clip > 0, "a finite norm > 0")])
        object.__setattr__(self, "dp_bounds", tuple(
            (str(b[0]), tuple(str(v) for v in b[1])) if len(b) == 2 else
            (str(b[0]), float(b[1]), float(b[2])) for b in self.dp_bounds))


@dataclass(frozen=True)
class TabMOptions:
    """Architecture of TabM (``tabm``; Gorishniy, Kotelnikov & Babenko, ICLR 2025): one MLP
    that imitates an ensemble of ``members`` MLPs by sharing their weights.

    Attributes:
        members: Ensemble members (TabM's k), 1–64; the prediction is their mean.
        width: Units of every hidden layer, 8–2048.
        depth: Hidden layers, 1–6.
        dropout: Dropout rate after each hidden layer, in [0, 0.9].
        variant: ``tabm`` (BatchEnsemble layers: each member scales and shifts every layer),
            ``tabm_mini`` (each member scales only the input; hidden layers shared) or
            ``tabm_lite`` (the first hidden layer shared, the members after it); see
            :func:`models.tabm.build_tabm`.
    """

    # 4 x 128 meets issue 15's goals on the 7 benchmark tables (>= hgb on 5, worst gap -0.0037)
    # at 1.45x the former default MLP's time per fold on bank; 16 x 256 took ~10x
    # (bench/RESULTS.md)
    members: int = 4
    width: int = 128
    depth: int = 2
    dropout: float = 0.1
    variant: str = "tabm"

    def __post_init__(self) -> None:
        _check(self, TrainingError, [
            ("members", 1 <= self.members <= 64, "an integer in [1, 64]"),
            ("width", 8 <= self.width <= 2048, "an integer in [8, 2048]"),
            ("depth", 1 <= self.depth <= 6, "an integer in [1, 6]"),
            ("dropout", 0.0 <= self.dropout <= 0.9, "in [0, 0.9]"),
            ("variant", self.variant in TABM_VARIANTS, f"one of {', '.join(TABM_VARIANTS)}"),
        ])


# fit settings a family starts from when ModelConfig.of names it (FitOptions' own defaults
# are the default family's): the MLP-style families keep the settings their cross-validation
# chose (bench/RESULTS.md, issue 4)
FAMILY_FIT_DEFAULTS = {m: {"learning_rate": 3e-4, "batch_size": 512}
                       for m in ("mlp", "wide_deep", "ft_transformer")}
_GROUPS = {"fit": FitOptions, "mlp": MLPOptions, "transformer": TransformerOptions,
           "tabm": TabMOptions, "dp": DPOptions}
# the option groups each model family uses (the others keep their defaults and are not shown)
FAMILY_GROUPS = {"tabm": ("fit", "tabm"), "mlp": ("fit", "mlp"), "wide_deep": ("fit", "mlp"),
                 "ft_transformer": ("fit", "transformer"), ENSEMBLE: ("fit", "tabm"),
                 "logreg": (), "hgb": ()}
_WIDE_DEEP_UNUSED = ("batch_norm", "l2")


@dataclass(frozen=True)
class ModelConfig:
    """Model family and its settings, in one option group per concern.

    Build one from flat setting names with :meth:`of` (``ModelConfig.of(model="mlp",
    epochs=20, hidden_units=(64,))``); config.json stores the flat form (:meth:`flat`), which
    :func:`from_dict` reads back, also from runs saved before the groups existed.

    Attributes:
        model: ``tabm`` (the default: TabM, an ensemble-style Keras MLP), ``mlp`` (Keras
            DNN), ``wide_deep``, ``ft_transformer``, ``ensemble`` (TabM and ``hgb`` with their
            scores averaged, the weight chosen on the validation split), or the scikit-learn
            baselines ``logreg`` and ``hgb``.
        class_weight: ``"balanced"`` to weight classes by inverse frequency, or ``"none"``.
        numeric_encoding: ``standard`` (standardised value), ``ple`` (standardised value plus a
            16-bin piecewise-linear encoding, Gorishniy et al. 2022) or ``auto`` (PLE for the
            Keras networks, standard for the scikit-learn baselines).
        data_pipeline: ``memory`` (read the table into memory), ``stream`` (Keras networks:
            shuffled Parquet snapshots fed through ``tf.data`` in batches, for tables larger
            than memory; see :mod:`core.features`) or ``auto`` (stream a Keras network when
            the table has at least 20 million feature cells).
        fit: How a Keras network trains (:class:`FitOptions`).
        mlp: MLP and wide & deep architecture (:class:`MLPOptions`).
        transformer: FT-Transformer architecture (:class:`TransformerOptions`).
        tabm: TabM architecture, also the ensemble's network (:class:`TabMOptions`).
    """

    model: str = "tabm"
    class_weight: str = "none"
    numeric_encoding: str = "auto"
    data_pipeline: str = "auto"
    fit: FitOptions = field(default_factory=FitOptions)
    mlp: MLPOptions = field(default_factory=MLPOptions)
    transformer: TransformerOptions = field(default_factory=TransformerOptions)
    tabm: TabMOptions = field(default_factory=TabMOptions)
    dp: DPOptions = field(default_factory=DPOptions)

    def __post_init__(self) -> None:
        _check(self, TrainingError, [
            ("model", self.model in MODELS, f"one of {', '.join(MODELS)}"),
            ("class_weight", self.class_weight in ("none", "balanced"), "'none' or 'balanced'"),
            ("numeric_encoding", self.numeric_encoding in ("auto", "standard", "ple"),
             "'auto', 'standard' or 'ple'"),
            ("data_pipeline", self.data_pipeline in PIPELINES, "'auto', 'memory' or 'stream'"),
        ])
        if self.dp.dp:
            _dp_refusals(self)

    @classmethod
    def of(cls, **options) -> ModelConfig:
        """A config from flat setting names (``epochs``, ``hidden_units``, ``d_token``, …).

        ``dropout`` sets the dropout of every network family. Fit settings not given start
        from the named family's (:data:`FAMILY_FIT_DEFAULTS`). Unknown names raise.

        Raises:
            TrainingError: An unknown setting or a value out of range.
        """
        family = FAMILY_FIT_DEFAULTS.get(options.get("model", cls.model), {})
        return cls().replace(**{**family, **options})

    def replace(self, **options) -> ModelConfig:
        """A copy with flat-named settings changed (see :meth:`of`).

        Raises:
            TrainingError: An unknown setting or a value out of range.
        """
        top = {f.name for f in fields(self) if f.name not in _GROUPS}
        changes: dict = {k: v for k, v in options.items() if k in top}
        known = set(changes)
        for group, kind in _GROUPS.items():
            names = {f.name for f in fields(kind)}
            mine = {k: tuple(v) if isinstance(v, list) else v
                    for k, v in options.items() if k in names}
            if mine:
                changes[group] = dataclasses.replace(getattr(self, group), **mine)
                known |= set(mine)
        unknown = sorted(set(options) - known)
        if unknown:
            raise TrainingError(f"Unknown model setting {', '.join(unknown)}; the settings are "
                                f"{', '.join(sorted(_flat_names()))}.")
        return dataclasses.replace(self, **changes)

    def flat(self) -> dict:
        """Every setting by its flat name, JSON-ready (tuples as lists); config.json's form.
        ``dropout`` is the dropout of the family's own network."""
        out = {"model": self.model}
        for group in _GROUPS:
            for k, v in asdict(getattr(self, group)).items():
                out.setdefault(k, list(v) if isinstance(v, tuple) else v)
        out["dropout"] = self.dropout
        out.update(class_weight=self.class_weight, numeric_encoding=self.numeric_encoding,
                   data_pipeline=self.data_pipeline)
        return out

    def used_options(self) -> dict:
        """The settings this model family actually uses, by flat name (for a model card):
        training settings first, then the family's architecture."""
        names = ["class_weight", "numeric_encoding"]
        if self.is_keras:
            fit = [f.name for f in fields(FitOptions)]
            names = [*fit[:6], "dropout", *fit[6:], *names, "data_pipeline"]
        for group in FAMILY_GROUPS.get(self.model, ()):
            names += [f.name for f in fields(_GROUPS[group]) if group != "fit"
                      and f.name != "dropout"
                      and not (self.model == "wide_deep" and f.name in _WIDE_DEEP_UNUSED)]
        flat = self.flat()
        return {n: flat[n] for n in dict.fromkeys(names)}

    @property
    def numeric_bins(self) -> int:
        """Piecewise-linear bins per numeric column (0 = plain standardisation)."""
        ple = self.numeric_encoding == "ple" or (self.numeric_encoding == "auto" and self.is_keras)
        return 16 if ple else 0

    @property
    def is_keras(self) -> bool:
        """Whether the model trains a Keras network in epochs: a Keras family, or the
        ensemble (whose network is :data:`ENSEMBLE_MEMBERS`' first)."""
        return self.model in KERAS_MODELS or self.model == ENSEMBLE

    @property
    def dropout(self) -> float:
        """The dropout of this family's network."""
        if self.model == "ft_transformer":
            return self.transformer.dropout
        return self.tabm.dropout if self.model in ("tabm", ENSEMBLE) else self.mlp.dropout

    def resolved_loss(self, task: str) -> str:
        """The loss used for ``task``.

        Raises:
            TrainingError: The chosen loss does not fit the task.
        """
        loss = self.fit.loss
        if loss == "auto":
            return TASK_LOSSES[task][0]
        if loss not in TASK_LOSSES[task]:
            raise TrainingError(f"loss '{loss}' does not fit a {task} task; use one of "
                                f"{', '.join(TASK_LOSSES[task])}.")
        return loss


def _dp_refusals(cfg: ModelConfig) -> None:
    """What DP-SGD cannot train, with the reason (raises TrainingError)."""
    if cfg.model not in KERAS_MODELS:  # the ensemble's gradient boosting is not DP-SGD
        raise TrainingError(f"Differential privacy (DP-SGD) trains the Keras networks only: "
                            f"{', '.join(KERAS_MODELS)}; '{cfg.model}' is not one. Choose mlp, "
                            f"or train {cfg.model} without --dp.")
    bad = [(cfg.class_weight == "balanced", "class_weight 'balanced' (the weights come from "
            "the training rows' class counts, which the guarantee does not cover)"),
           (cfg.mlp.batch_norm and cfg.model == "mlp", "batch_norm (it mixes the examples of "
            "a batch, so one example's gradient is no longer its own)"),
           (cfg.data_pipeline == "stream", "the streamed pipeline (DP-SGD samples rows in "
            "memory, each with probability batch/n, as the accountant assumes)")]
    for is_bad, what in bad:
        if is_bad:
            raise TrainingError(f"Differential privacy cannot be used with {what}; turn it off "
                                f"for a DP run.")


def _flat_names() -> set[str]:
    names = {f.name for f in fields(ModelConfig) if f.name not in _GROUPS}
    return names | {f.name for kind in _GROUPS.values() for f in fields(kind)}


def to_dict(obj) -> dict:
    """A JSON-ready dict of a config dataclass (tuples become lists; a :class:`ModelConfig`
    in its flat form)."""
    if isinstance(obj, ModelConfig):
        return obj.flat()
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(obj).items()}


def from_dict(cls, data: dict):
    """Rebuild a config dataclass from :func:`to_dict` output, ignoring unknown keys.

    A :class:`ModelConfig` is read from its flat form, as every run since the first saved it.
    """
    if cls is ModelConfig:
        names = _flat_names()
        return ModelConfig.of(**{k: v for k, v in data.items() if k in names})
    names = {f.name for f in fields(cls)}
    kwargs = {}
    for key, value in data.items():
        if key in names:
            kwargs[key] = tuple(value) if isinstance(value, list) else value
    return cls(**kwargs)
