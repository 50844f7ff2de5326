"""A run's configuration, typed: what it learned from, how, and what kind of run it is.

``config.json`` stays the file format (written by the trainers as a plain dict);
:func:`load_run_config` is the one reader. It reads every run written since the first version:
keys added later get the defaults those runs implied (``task`` was binary, ``excluded_columns``
was the spec's ``exclude``, ``data_pipeline`` was memory), and the run's ``kind`` is derived
from its task when the file predates kinds. Keys this version does not know are kept, so a run
saved back (:meth:`RunConfig.to_dict`) loses nothing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from core.errors import RunNotFoundError
from core.specs import DatasetSpec, ModelConfig, from_dict

RUN_KINDS = ("tabular", "uplift", "next_item")
TABULAR_TASKS = ("binary", "multiclass", "regression")


@dataclass(frozen=True)
class UpliftSetup:
    """The randomised experiment an uplift run learned from.

    Attributes:
        treatment: Treatment/control column.
        treated_value: Its value meaning treated.
        control_value: Its value meaning control.
        learner: ``t`` (two models), ``s`` (single model) or ``ct`` (class transformation).
        arms: Sub-runs saved under ``arms/`` (e.g. ``["control"]`` for the T-learner).
    """

    treatment: str
    treated_value: str
    control_value: str
    learner: str
    arms: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunConfig:
    """A saved run's ``config.json``, typed and frozen.

    Attributes:
        run_id: The run id (its folder name).
        created_at: ISO timestamp (milliseconds since 2026-12-01).
        kind: ``tabular`` (binary, multiclass, regression), ``uplift`` or ``next_item``.
        task: ``binary``, ``multiclass``, ``regression``, ``uplift`` or ``next_item``.
        model: Model family, e.g. ``mlp``, ``hgb``, ``sasrec``.
        table: Warehouse table it learned from.
        target: Target column (the item column for a next-item run).
        positive_class: Positive label (binary and uplift runs), else None.
        negative_class: Negative label (binary and uplift runs), else None.
        classes: Class labels in index order (classification), else empty.
        features: Encoded-model input columns, as the table names them.
        source_features: Columns a caller must supply to score (uplift runs: the features
            without the treatment column); equals ``features`` otherwise.
        excluded_columns: The table's other columns left out (target excepted).
        device: Where it trained, in words.
        rows: Row counts (``table``, ``train``, ``valid``, ``test``; ``users``, ``items`` … for
            next-item runs).
        positive_rate_train: Positive share of the training split (binary), else None.
        target_scaling: ``(mean, std)`` of a regression network's target, else None.
        encoded_features: Width of the encoded input.
        data_pipeline: ``memory`` or ``stream``.
        epochs_run: Epochs trained (0 for baselines).
        duration_s: Training time in seconds.
        uplift: The experiment of an uplift run, else None.
        spec_fields: The saved spec as written (DatasetSpec fields, or event columns).
        model_fields: The saved model settings as written (flat).
        extra: Every other key of the file (tuning, estimator, sequence options, …).
    """

    run_id: str
    created_at: str
    kind: str
    task: str
    model: str
    table: str
    target: str
    positive_class: str | None = None
    negative_class: str | None = None
    classes: tuple = ()
    features: tuple[str, ...] = ()
    source_features: tuple[str, ...] = ()
    excluded_columns: tuple[str, ...] = ()
    device: str | None = None
    rows: dict = field(default_factory=dict)
    positive_rate_train: float | None = None
    target_scaling: tuple[float, float] | None = None
    encoded_features: int | None = None
    data_pipeline: str = "memory"
    epochs_run: int = 0
    duration_s: float | None = None
    uplift: UpliftSetup | None = None
    spec_fields: dict = field(default_factory=dict)
    model_fields: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    _raw: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_tabular(self) -> bool:
        """Whether this is a binary, multiclass or regression run."""
        return self.kind == "tabular"

    @property
    def spec(self) -> DatasetSpec:
        """The :class:`~core.specs.DatasetSpec` of a tabular or uplift run.

        Raises:
            RunNotFoundError: A next-item run (it has event columns, not a dataset spec).
        """
        if self.kind == "next_item":
            raise RunNotFoundError(f"Run '{self.run_id}' is a next-item recommender; it has "
                                   f"event columns, not a dataset spec.")
        return from_dict(DatasetSpec, self.spec_fields)

    @property
    def model_config(self) -> ModelConfig:
        """The :class:`~core.specs.ModelConfig` of a tabular or uplift run.

        Raises:
            RunNotFoundError: A next-item run (its settings are a recommender's).
        """
        if self.kind == "next_item":
            raise RunNotFoundError(f"Run '{self.run_id}' is a next-item recommender; its "
                                   f"settings are not a tabular model config.")
        return from_dict(ModelConfig, self.model_fields)

    @property
    def class_weight(self) -> str:
        """``balanced`` or ``none``."""
        return str(self.model_fields.get("class_weight", "none"))

    @property
    def calibrated_scores(self) -> bool:
        """False when balanced class weights were used: the scores then overstate the
        probability of the rare class and read as a ranking, not a probability."""
        return self.class_weight != "balanced"

    def to_dict(self) -> dict:
        """The ``config.json`` content, every key kept (JSON-ready)."""
        return dict(self._raw)

    def with_extra(self, **values) -> RunConfig:
        """A copy with keys added to (or replaced in) the file's content, e.g. ``tuning``."""
        return load_run_config({**self._raw, **values})


def _kind(task: str, data: dict) -> str:
    kind = data.get("kind")
    if kind in RUN_KINDS:
        return kind
    return {"uplift": "uplift", "next_item": "next_item"}.get(task, "tabular")


def _uplift(data: dict) -> UpliftSetup | None:
    up = data.get("uplift")
    if not isinstance(up, dict):
        return None
    return UpliftSetup(str(up["treatment"]), str(up["treated_value"]),
                       str(up["control_value"]), str(up.get("learner", data.get("learner", "t"))),
                       tuple(up.get("arms") or ()))


def load_run_config(data: dict) -> RunConfig:
    """Read a ``config.json`` of any LiftLab version into a :class:`RunConfig`.

    Args:
        data: The parsed file.

    Returns:
        The typed configuration.

    Raises:
        RunNotFoundError: The content is not a run configuration (a key every version wrote is
            missing or has the wrong type).
    """
    try:
        task = str(data.get("task") or "binary")
        spec = dict(data["spec"])
        features = tuple(str(c) for c in data.get("features") or ())
        known = {f.name for f in dataclasses.fields(RunConfig)} | {"spec", "model_config",
                                                                   "kind"}
        scaling = data.get("target_scaling")
        return RunConfig(
            run_id=str(data["run_id"]), created_at=str(data["created_at"]),
            kind=_kind(task, data), task=task, model=str(data["model"]),
            table=str(spec["table"]), target=str(spec["target"]),
            positive_class=data.get("positive_class"), negative_class=data.get("negative_class"),
            classes=tuple(data.get("classes") or ()), features=features,
            source_features=tuple(data.get("source_features") or features),
            excluded_columns=tuple(data.get("excluded_columns", spec.get("exclude") or ())),
            device=data.get("device"), rows=dict(data.get("rows") or {}),
            positive_rate_train=data.get("positive_rate_train"),
            target_scaling=tuple(scaling) if scaling else None,
            encoded_features=data.get("encoded_features"),
            data_pipeline=str(data.get("data_pipeline") or "memory"),
            epochs_run=int(data.get("epochs_run") or 0), duration_s=data.get("duration_s"),
            uplift=_uplift(data), spec_fields=spec,
            model_fields=dict(data.get("model_config") or {}),
            extra={k: v for k, v in data.items() if k not in known}, _raw=dict(data))
    except (KeyError, TypeError, ValueError) as err:
        raise RunNotFoundError(f"This is not a LiftLab run configuration (config.json lacks or "
                               f"mangles {err}).") from err
