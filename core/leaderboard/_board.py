"""A leaderboard across model families, honest about noise.

Every family trains on the same table, features, split and seed (so all test rows are the same
rows, in the same order), and with ``cv`` also on the same k folds. The families are ranked by
one metric on the test split; each gets a percentile bootstrap 95% interval, and each is
compared with the best by a *paired* bootstrap: the same resampled test rows score both models,
so the interval of the difference reflects only how the two models disagree, not which rows
happened to be drawn (as in comparing correlated ROC curves, DeLong et al. 1988; here by
resampling). A family whose difference interval contains 0 is "tied with the best": the test
split cannot tell them apart. This is scikit-learn's and PyCaret's ``compare_models`` idea,
with the noise said out loud.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from core.config import Settings
from core.errors import AppError, TrainingError
from core.runs import LABEL_COL, SCORE_COL, Run, delete_run, load_run
from core.specs import KERAS_MODELS, MODELS, DatasetSpec, ModelConfig
from core.training import TrainingCancelled, attach_cv, cross_validate, train

# task -> (metric, higher is better)
METRICS = {"binary": ("roc_auc", True), "multiclass": ("accuracy", True),
           "regression": ("rmse", False)}
FOLDER = "leaderboards"


@dataclass(frozen=True)
class Leaderboard:
    """Families ranked on one split.

    Attributes:
        board_id: Id of the saved leaderboard (``<data_dir>/leaderboards/<id>.json``).
        table: Table trained on.
        target: Target column.
        task: binary, multiclass or regression.
        metric: The ranking metric (``roc_auc``, ``accuracy`` or ``rmse``).
        higher_is_better: Its direction.
        models: One dict per family, best first: ``model``, ``run_id``, ``rank``, the metric
            under its own name, ``ci95``, ``difference_vs_best``, ``difference_ci95``,
            ``tied_with_best``, ``cv`` (mean, std and folds of the metric, or None),
            ``seconds``, ``epochs`` (a network's epochs as trained, after early stopping;
            None for a family without epochs).
        best: The best family.
        tied_with_best: Families whose paired difference to the best is not clear of 0.
        test_rows: Rows of the shared test split.
        n_boot: Bootstrap resamples.
        notes: Plain sentences (what was left out, families that failed).
        created_at: ISO timestamp.
    """

    board_id: str
    table: str
    target: str
    task: str
    metric: str
    higher_is_better: bool
    models: list[dict]
    best: str
    tied_with_best: list[str]
    test_rows: int
    n_boot: int
    notes: list[str] = field(default_factory=list)
    created_at: str = ""

    def to_dict(self) -> dict:
        """JSON-ready content."""
        return dict(self.__dict__)


def metric_value(task: str, y: np.ndarray, out: np.ndarray) -> float:
    """The ranking metric of one model's test output (:data:`METRICS`)."""
    if task == "binary":
        from sklearn.metrics import roc_auc_score

        return float(roc_auc_score(y, out)) if len(np.unique(y)) == 2 else float("nan")
    if task == "multiclass":
        return float(np.mean(np.argmax(out, axis=1) == y))
    return float(np.sqrt(np.mean((np.asarray(out, float) - y) ** 2)))


def _output(run: Run) -> tuple[np.ndarray, np.ndarray]:
    t = run.test_frame
    y = t[LABEL_COL].to_numpy()
    if run.config.task == "multiclass":
        k = len(run.config.classes)
        return y, t[[f"__proba_{i}" for i in range(k)]].to_numpy(float)
    return y, t[SCORE_COL].to_numpy(float)


def paired_bootstrap(task: str, y: np.ndarray, outputs: dict[str, np.ndarray], best: str,
                     n_boot: int = 1000, seed: int = 42) -> tuple[dict, dict]:
    """Percentile 95% intervals of each model's metric and of its difference to ``best``,
    from the same resampled rows for every model.

    Args:
        task: binary, multiclass or regression.
        y: Test labels, shape (n,).
        outputs: Model → test output (shape (n,) or (n, k)), rows aligned with ``y``.
        best: The model the others are compared with.
        n_boot: Resamples.
        seed: Seed.

    Returns:
        ``(ci95, difference_ci95)``: model → ``[low, high]`` of its metric, and model →
        ``[low, high]`` of (its metric − the best's); resamples where a metric is undefined
        (one class drawn) are skipped.
    """
    rng = np.random.default_rng(seed)
    n = len(y)
    draws = {m: np.full(n_boot, np.nan) for m in outputs}
    for b in range(n_boot):
        idx = rng.integers(0, n, n)
        for m, out in outputs.items():
            draws[m][b] = metric_value(task, y[idx], out[idx])

    def interval(v):
        v = v[np.isfinite(v)]
        return [float(np.quantile(v, 0.025)), float(np.quantile(v, 0.975))] if len(v) > 1 \
            else None

    return ({m: interval(d) for m, d in draws.items()},
            {m: interval(d - draws[best]) for m, d in draws.items()})


def _train_all(settings, spec, models, overrides, cv, progress, should_stop):
    """Train each family; on a cancel, delete the runs trained so far and raise."""
    fitted, notes, saved = {}, [], []
    try:
        for i, model in enumerate(models, start=1):
            if should_stop is not None and should_stop():
                raise TrainingCancelled("The leaderboard was cancelled; nothing was kept.")
            if progress:
                progress({"stage": "model", "message": f"Training {model} ({i} of "
                          f"{len(models)})", "step": i, "steps": len(models), "model": model})
            started = time.perf_counter()
            try:
                cfg = ModelConfig.of(model=model, **(overrides if model in KERAS_MODELS else {}))
                run_id = train(settings, spec, cfg, None, should_stop).run_id
                saved.append(run_id)
                folds = None
                if cv:
                    folds = attach_cv(settings, run_id, cross_validate(settings, spec, cfg, cv,
                                                                       None, should_stop))
            except TrainingCancelled:
                raise
            except AppError as err:
                notes.append(f"{model} could not be trained: {err}")
                continue
            fitted[model] = (run_id, folds, time.perf_counter() - started)
    except TrainingCancelled:
        for run_id in saved:  # a cancelled leaderboard keeps no run (in a worker: its copy)
            delete_run(settings, run_id)
        raise
    return fitted, notes


def rank_families(settings: Settings, spec: DatasetSpec, models: tuple[str, ...] = MODELS,
                  cv: int = 0, n_boot: int = 1000, network_settings: dict | None = None,
                  progress: Callable[[dict], None] | None = None,
                  should_stop: Callable[[], bool] | None = None) -> Leaderboard:
    """Train every family on the same split (and folds), rank them, and say which are tied;
    nothing is saved but the runs (the compute part of :func:`build_leaderboard`, which a
    job's worker runs on its snapshot: its runs are registered and the leaderboard saved by
    the server with :func:`save_leaderboard`).

    Args and Raises: as :func:`build_leaderboard`; a cancel deletes the runs trained so far.

    Returns:
        The unsaved :class:`Leaderboard`.
    """
    unknown = [m for m in models if m not in MODELS]
    if unknown or len(set(models)) < 2:
        raise TrainingError(f"A leaderboard compares at least two of {', '.join(MODELS)}; got "
                            f"{', '.join(models) or 'none'}.")
    fitted, notes = _train_all(settings, spec, list(dict.fromkeys(models)),
                               network_settings or {}, cv, progress, should_stop)
    if len(fitted) < 2:
        for run_id, _, _ in fitted.values():
            delete_run(settings, run_id)
        raise TrainingError("Fewer than two families trained; nothing was kept. " + " ".join(notes))
    if progress:
        progress({"stage": "rank", "message": f"Ranking {len(fitted)} families ({n_boot} "
                                              f"paired bootstrap resamples)"})
    return _rank(settings, spec, fitted, notes, n_boot)


def _rank(settings, spec, fitted, notes, n_boot) -> Leaderboard:
    runs = {m: load_run(settings, rid) for m, (rid, _, _) in fitted.items()}
    task = next(iter(runs.values())).config.task
    metric, higher = METRICS[task]
    outputs, y = {}, None
    for m, run in runs.items():
        y_m, outputs[m] = _output(run)
        if y is not None and not np.array_equal(y, y_m):
            raise TrainingError("The families' test splits differ; the leaderboard needs one "
                                "split for all (the in-memory pipeline).")
        y = y_m
    values = {m: metric_value(task, y, out) for m, out in outputs.items()}
    order = sorted(values, key=lambda m: (-values[m] if higher else values[m]))
    best = order[0]
    ci, diff_ci = paired_bootstrap(task, y, outputs, best, n_boot, spec.seed)
    rows = []
    for rank, m in enumerate(order, start=1):
        run_id, folds, seconds = fitted[m]
        d = diff_ci[m]
        tied = m != best and d is not None and d[0] <= 0.0 <= d[1]
        rows.append({"model": m, "run_id": run_id, "rank": rank, metric: values[m],
                     "ci95": ci[m], "difference_vs_best": values[m] - values[best],
                     "difference_ci95": None if m == best else d, "tied_with_best": tied,
                     "cv": _cv_summary(folds, metric), "seconds": round(seconds, 2),
                     "epochs": len(runs[m].history) or None,  # trained; None: no epochs
                     "notes": list(runs[m].metrics.get("notes", []))})
    return Leaderboard(uuid.uuid4().hex[:10], spec.table, spec.target, task, metric, higher,
                       rows, best, [r["model"] for r in rows if r["tied_with_best"]], len(y),
                       n_boot, notes, datetime.now().isoformat(timespec="seconds"))


def build_leaderboard(settings: Settings, spec: DatasetSpec, models: tuple[str, ...] = MODELS,
                      cv: int = 0, n_boot: int = 1000, network_settings: dict | None = None,
                      progress: Callable[[dict], None] | None = None,
                      should_stop: Callable[[], bool] | None = None) -> Leaderboard:
    """Train every family on the same split (and folds), rank them, and say which are tied:
    :func:`rank_families`, then :func:`save_leaderboard`, in this process.

    Args:
        settings: Workspace settings.
        spec: Table, target, positive class, features, split and seed: shared by all.
        models: Families to compare (default: every one LiftLab has).
        cv: Also cross-validate each family on the same k folds (0 = no).
        n_boot: Bootstrap resamples for the intervals and the paired differences.
        network_settings: Flat settings for the Keras families (e.g. ``{"epochs": 20}``).
        progress: Receives ``{"stage": "model", "message", "step", "steps", "model"}`` per
            family, then ``{"stage": "rank", "message"}``.
        should_stop: Polled between families and every batch; True cancels and deletes the
            runs already trained (nothing is kept).

    Returns:
        The :class:`Leaderboard`, also saved under ``<data_dir>/leaderboards/``.

    Raises:
        TrainingError: Unknown families, fewer than two trained.
        SchemaError: Bad table, target or features.
        TrainingCancelled: ``should_stop`` returned True.
    """
    board = rank_families(settings, spec, models, cv, n_boot, network_settings, progress,
                          should_stop)
    save_leaderboard(settings, board)
    return board


def _cv_summary(folds: dict | None, metric: str) -> dict | None:
    if not folds:
        return None
    return {"k": folds["k"], "mean": folds.get(f"{metric}_mean"),
            "std": folds.get(f"{metric}_std"),
            "folds": [f.get(metric) for f in folds.get("folds", [])]}


def save_leaderboard(settings: Settings, board: Leaderboard) -> None:
    """Write a leaderboard to ``<data_dir>/leaderboards/<board_id>.json`` (atomically)."""
    folder = settings.data_dir / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{board.board_id}.tmp"
    tmp.write_text(json.dumps(board.to_dict(), indent=1))
    tmp.replace(folder / f"{board.board_id}.json")


def load_leaderboard(settings: Settings, board_id: str) -> Leaderboard:
    """A saved leaderboard.

    Raises:
        TrainingError: No leaderboard with that id.
    """
    path = settings.data_dir / FOLDER / f"{board_id}.json"
    try:
        return Leaderboard(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError) as err:
        raise TrainingError(f"No leaderboard '{board_id}' in this workspace.") from err


def list_leaderboards(settings: Settings) -> list[Leaderboard]:
    """Saved leaderboards, newest first."""
    folder = settings.data_dir / FOLDER
    boards = []
    for path in folder.glob("*.json") if folder.exists() else []:
        try:
            boards.append(Leaderboard(**json.loads(path.read_text())))
        except (OSError, ValueError, TypeError):
            continue
    return sorted(boards, key=lambda b: b.created_at, reverse=True)

