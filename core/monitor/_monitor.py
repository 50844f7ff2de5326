"""Monitor a run on a table of new rows: quality, drift, estimated and realised performance.

One pass: the table is copied into chunks (:mod:`core.monitor._chunks`), every feature is
summarised and tested in DuckDB (:mod:`core.monitor._features`), the run scores the rows in
batches (:mod:`core.monitor._scoring`), the scores give prediction drift, CBPE estimates and,
with the target, realised metrics (:mod:`core.monitor._cbpe`), and a domain classifier checks
the rows as a whole (:mod:`core.monitor._multivariate`). The result is stored in
``liftlab.monitor_results``.
"""

from __future__ import annotations

import contextlib
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import numpy as np

from core.config import Settings
from core.errors import MonitorError
from core.monitor._alerts import chunk_alerts, overall_alerts
from core.monitor._calibration import Calibration, load_or_fit
from core.monitor._cbpe import N_BOOT, band, estimated, realized, single_class
from core.monitor._cells import Cells, score_support
from core.monitor._chunks import REFERENCE, Chunking, build_current, build_reference, check_columns
from core.monitor._features import drift_block, feature_drift, quality_blocks
from core.monitor._meta import RunMeta, run_meta
from core.monitor._multivariate import domain_classifier
from core.monitor._scoring import score_current
from core.monitor._stats import numeric_drift
from core.monitor._store import save_result
from core.monitor._summaries import seen_values
from core.monitor._value import latest_scenario, scenario_threshold, scenario_value
from core.warehouse import META_SCHEMA, capped_memory, connect, original_names

MEMORY_MB = 256  # DuckDB's cap while monitoring: its cache of the table stays bounded
CLI_KEYS = ("run_id", "table", "dataset_drift", "alerts", "chunks")
CHUNK_KEYS = ("chunk", "rows", "reliable", "drift", "prediction_drift", "quality", "estimated",
              "realized", "alerts")


class _Clock:
    """Seconds per stage, for the result's ``timings``."""

    def __init__(self) -> None:
        self.stages: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.stages[stage] = round(now - self._last, 3)
        self._last = now


def _summaries_beside(side, table: str, plan, chunking: Chunking, folder, features: list[str],
                      numeric: set[str], names: dict, seen) -> tuple:
    """Data quality and feature drift on a second connection, in a worker thread.

    DuckDB runs queries on its own threads without holding Python's lock, so these summaries
    proceed while the run scores batches in Python on the main connection. Temporary views
    belong to one connection, so the current and reference rows are declared again here.

    Returns:
        ``(quality, FeatureResults, seconds)``.
    """
    started = time.perf_counter()
    build_current(side, table, features, plan.target, chunking)
    build_reference(side, str(folder / "test.parquet"), features)
    quality = quality_blocks(side, features, numeric, names, seen)
    drift = feature_drift(side, features, numeric, names, plan.kept)
    return quality, drift, round(time.perf_counter() - started, 3)


def _names(con, meta: RunMeta, table: str) -> dict[str, str]:
    """SQL column name → the header of the analyst's file: the run's table's, else the new
    table's, else any loaded file's that maps the name one way only (tables derived with SQL
    have no headers of their own)."""
    import json

    seen: dict[str, set[str]] = {}
    for (cols,) in con.execute(f"SELECT columns_json FROM {META_SCHEMA}.catalog").fetchall():
        for c in json.loads(cols or "[]"):
            if c["original_name"] != c["name"]:  # a name kept as it was tells nothing
                seen.setdefault(c["name"], set()).add(c["original_name"])
    names = {k: next(iter(v)) for k, v in seen.items() if len(v) == 1}
    return {**names, **original_names(con, table), **original_names(con, meta.table)}


def _reference_cells(con, meta: RunMeta, cal: Calibration, scenario) -> tuple[Cells, float]:
    """The test split's scores as cells, and their standard deviation."""
    got = con.execute(f"SELECT __score, __label FROM {REFERENCE}").fetchnumpy()
    scores = np.asarray(got["__score"], dtype=np.float64)
    support = score_support(scores, (meta.threshold, *scenario_threshold(scenario)),
                            probabilities=meta.task == "binary")
    labels = np.asarray(got["__label"], dtype=np.float64) if meta.task == "binary" else None
    return Cells.build(support, scores, cal.apply(scores), labels), float(np.nanstd(scores))


def _prediction_drift(ref: Cells, cur: Cells, ref_std: float) -> dict:
    ref_s, cur_s = ref.summary(), cur.summary()
    d = numeric_drift("prediction", "__score", ref_s, cur_s, ref_std).to_dict()
    d.pop("feature")
    return {**d, "mean_score": cur_s.mean(), "reference_mean_score": ref_s.mean()}


def _performance(meta: RunMeta, ref: Cells, cur: Cells, scenario, n_boot: int,
                 bands: dict) -> dict:
    """The chunk's estimated / realised entries (binary runs); ``bands`` caches the expected
    range per chunk size (equal chunks share one)."""
    t_ref = ref.threshold_cell(meta.threshold)
    if cur.rows not in bands:
        bands[cur.rows] = band(ref, t_ref, cur.rows)
    est = {**estimated(cur, t_ref), "band": bands[cur.rows]}
    value = scenario_value(scenario, cur, realised=False)
    if value is not None:
        est["business"] = value
    undefined = single_class(cur, meta.positive_class or "positive") if cur.labelled else None
    real = None
    if cur.labelled:
        real = realized(cur, t_ref, n_boot=n_boot)
        value = scenario_value(scenario, cur, realised=True)
        if value is not None:
            real["business"] = value
        if undefined:
            real["undefined"] = undefined
    return {"estimated": est, "realized": real, "undefined": undefined}


def _scores_per_chunk(meta: RunMeta, kept: list[int], cells, ref_cells: Cells, ref_std: float,
                      scenario, n_boot: int) -> tuple[dict, dict]:
    """Prediction drift, and for binary runs estimated and realised performance, per chunk."""
    pred, perf, bands = {}, {}, {}
    for c in kept:
        cur = cells.chunk(c)
        pred[c] = _prediction_drift(ref_cells, cur, ref_std)
        if meta.task == "binary":
            perf[c] = _performance(meta, ref_cells, cur, scenario, n_boot, bands)
    return pred, perf


def _chunk_entries(plan, features, quality, drift_items, mv, perf, pred, n_features,
                   training) -> list[dict]:
    out = []
    for c in plan.kept:
        q = quality.get(c, {})
        block = drift_block(drift_items.get(c, []), n_features)
        block["multivariate"] = mv.get(c)
        entry = {"chunk": plan.labels[c], "rows": plan.rows[c],
                 "reliable": bool(q.get("reliable", True)), "drift": block,
                 "prediction_drift": pred.get(c), "quality": q,
                 **(perf.get(c) or {"estimated": None, "realized": None, "undefined": None})}
        entry["alerts"] = chunk_alerts(entry, training)
        out.append(entry)
    return out


def _assemble(meta: RunMeta, table: str, chunking: Chunking, plan, chunks: list[dict],
              cal: Calibration | None, reference: dict, distributions: dict) -> dict:
    notes = list(plan.notes) + ([cal.note] if cal is not None and cal.note else [])
    if meta.task != "binary":
        notes.append(f"Performance is estimated for binary runs only; this run is {meta.task}: "
                     f"quality, drift and prediction drift are shown.")
    elif not plan.has_target:
        notes.append(f"Table '{table}' has no target column '{meta.target}': performance is "
                     f"estimated only.")
    return {
        "run_id": meta.run_id, "table": table,
        "created_at": datetime.now().isoformat(timespec="milliseconds"),
        "chunking": chunking.to_dict(),
        "dataset_drift": any(c["drift"]["dataset_drift"] for c in chunks),
        "alerts": list(plan.notes) + overall_alerts(chunks), "chunks": chunks, "notes": notes,
        "calibration": cal.to_dict() if cal is not None else None, "reference": reference,
        "distributions": {k: {**v, "chunks": {plan.labels[c]: s for c, s in v["chunks"].items()}}
                          for k, v in distributions.items()}}


def monitor(settings: Settings, run, table: str, chunking: Chunking | None = None, *,
            multivariate: bool = True, n_boot: int = N_BOOT, save: bool = True) -> dict:
    """Monitor ``run`` on the rows of ``table``.

    Args:
        settings: Workspace settings.
        run: A :class:`core.runs.Run` with features (binary runs also get performance
            estimates; other tasks get quality and drift).
        table: Warehouse table of new rows: the run's features, the target optional.
        chunking: How to split the rows (default: 4 equal chunks in table order).
        multivariate: Run the domain classifier too.
        n_boot: Bootstrap resamples of the realised metrics' intervals.
        save: Store the result in ``liftlab.monitor_results``.

    Returns:
        The result: ``run_id``, ``table``, ``dataset_drift``, ``alerts``, ``chunks`` (see the
        command line's ``monitor``), and ``monitor_id``, ``created_at``, ``chunking``, ``notes``,
        ``reference``, ``calibration``, ``distributions`` (drill-down), ``timings`` (seconds).

    Raises:
        SchemaError: The table is missing, lacks features (named), holds text where numbers
            were learned, or its time column is not a date.
        MonitorError: The run has no features, or the chunking is invalid.
    """
    started = time.perf_counter()
    meta = run_meta(run)
    if not meta.features:
        raise MonitorError(f"Run {meta.run_id} ({meta.task}) has no tabular features to "
                           f"monitor; pick a classifier or regression run.")
    chunking = chunking or Chunking(n_chunks=4)
    features = list(meta.features)
    numeric = set(run.preprocessor.numeric_)
    binary = meta.task == "binary"
    cal = (load_or_fit(run.folder, run.valid_scores, not run.calibrated_scores) if binary
           else Calibration(note="Performance is estimated for binary runs only."))
    scenario = latest_scenario(settings, meta.run_id) if binary else None
    clock = _Clock()
    with connect(settings) as con, capped_memory(con, MEMORY_MB):
        names = _names(con, meta, table)
        types = check_columns(con, table, features, numeric, names)
        plan = build_current(con, table, features, meta.target if meta.target in types else None,
                             chunking)
        ref_rows = build_reference(con, str(run.folder / "test.parquet"), features)
        seen = seen_values(con, meta.table, [f for f in features if f in numeric],
                           [f for f in features if f not in numeric], run.background)
        clock.lap("prepare")
        side = con.cursor()  # a second connection to the same database, for the thread
        with contextlib.closing(side), ThreadPoolExecutor(1, thread_name_prefix="lm") as pool:
            beside = pool.submit(_summaries_beside, side, table, plan, chunking, run.folder,
                                 features, numeric, names, seen)
            ref_cells, ref_std = _reference_cells(con, meta, cal, scenario)
            scored = score_current(con, run, features, meta.positive_class if binary else None,
                                   ref_cells.support, cal.apply, len(plan.labels),
                                   plan.has_target)
            clock.lap("scoring_pass")
            mv = domain_classifier(con, run, features, plan.kept) if multivariate else {}
            clock.lap("multivariate")
            quality, drift, seconds = beside.result()
        clock.lap("waiting_for_drift")
        clock.stages["quality_and_drift_in_parallel"] = seconds
        pred, perf = _scores_per_chunk(meta, plan.kept, scored.cells, ref_cells, ref_std,
                                       scenario, n_boot)
        clock.lap("performance")
        training = (run.metrics or {}).get("metrics") or {}
        chunks = _chunk_entries(plan, features, quality, drift.drift, mv, perf, pred,
                                len(features), training)
        result = _assemble(meta, table, chunking, plan, chunks, cal if binary else None,
                           {"rows": ref_rows, "source": "test split", "seen_from": seen.source,
                            "training_metrics": training, "threshold": meta.threshold,
                            "scenario": scenario["name"] if scenario else None},
                           drift.distributions)
        total = time.perf_counter() - started
        result["timings"] = {"total_s": total, "predict_s": scored.predict_s,
                             "monitor_s": total - scored.predict_s, "rows": scored.rows,
                             "stages": clock.stages}
        if save:
            save_result(con, result)
    return result


def cli_view(result: dict) -> dict:
    """The command line's JSON of a monitoring result (the issue's shape, plus ``monitor_id``
    and ``notes``)."""
    out = {k: result[k] for k in CLI_KEYS}
    out["chunks"] = [{k: c[k] for k in CHUNK_KEYS} for c in result["chunks"]]
    out["monitor_id"] = result.get("monitor_id")
    out["notes"] = result.get("notes", [])
    return out
