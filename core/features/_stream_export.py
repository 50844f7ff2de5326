"""Streamed training data: a table too big to hold in memory, fed to Keras through ``tf.data``.

The table is split and shuffled in DuckDB, written once to Parquet snapshots in a temporary
folder (so the warehouse is held only for the export and a CLI or the app can write meanwhile),
then read back through an in-memory DuckDB in chunks of a few thousand rows, encoded with the
run's preprocessor and handed to ``model.fit`` as a ``tf.data.Dataset``.

How the export stays bounded and still shuffled: every row gets a seeded hash ``h``; the split
(stratified per class for classification) is ranked on a narrow ``(rowid, y, h)`` projection;
the wide rows are then written in ``K`` buckets (``h % K``), each sorted by split and ``h``, so
no single sort holds more than ``1/K`` of the table, and reading one split's rows bucket after
bucket gives a uniform random order. DuckDB's memory is capped meanwhile
(:func:`core.warehouse.capped_memory`), since its buffer pool would otherwise keep every scanned block. Each
epoch reads the buckets in a new order and permutes rows within a chunk
(:mod:`core.features`). Memory while training is a few encoded chunks, whatever the
table's size; ``bench/train.py`` measures it.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import SchemaError
from core.features._tabular import resolve_features
from core.features._target import MAX_CLASSES, check_binary_target, label_text, summarize_target
from core.specs import DatasetSpec, ModelConfig
from core.warehouse import (
    capped_memory,
    quote_ident,
    require_table,
    table_columns,
    with_memory_retry,
)

STREAM_CELLS = 20_000_000
"""``rows × features`` from which the ``auto`` pipeline streams (1M rows × 20 columns)."""
PREPROCESSOR_ROWS = 200_000
"""Training rows the preprocessor is fitted on when streaming (a uniform random sample)."""
BUCKET_BYTES = 24 * 2**20
"""Rough size of one export bucket: the most one DuckDB sort holds at once."""
MAX_BUCKETS = 4096
EXPORT_MB = 48
"""DuckDB's memory cap during an export, in MiB (raised on an out-of-memory error)."""
MAX_EXPORT_MB = 4096
ROW_GROUP = 16_384
"""Rows per Parquet row group of a snapshot (small groups keep the writer's buffers small)."""
LABEL = "__y"
SPLIT = "__split"
SPLITS = ("test", "valid", "train")
"""Split names by code (0 test, 1 validation, 2 train), the order of the stratified ranks."""


@dataclass(frozen=True)
class StreamedSplits:
    """Train / validation / test snapshots of a table, written as shuffled Parquet buckets.

    Attributes:
        folder: The temporary folder holding the files (the caller removes it).
        files: Bucket files, each holding rows of every split (``__split``), sorted by split
            and then by the row hash.
        counts: Rows of each split.
        label_counts: Rows per class index of each split (classification), else empty.
        task: ``binary``, ``multiclass`` or ``regression``.
        classes: Class labels in index order (binary: ``[negative, positive]``).
        features: Feature column names, in table order.
        rows: Rows with a target (the table's rows minus missing targets).
    """

    folder: Path
    files: list[Path]
    counts: dict[str, int]
    label_counts: dict[str, list[int]]
    task: str
    classes: list[str]
    features: list[str]
    rows: int
    y_train_stats: list[float] = field(default_factory=list)


def table_cells(con, spec: DatasetSpec) -> int:
    """``rows × feature columns`` of a spec's table (what decides the ``auto`` pipeline)."""
    require_table(con, spec.table)
    rows = con.execute(f"SELECT count(*) FROM {quote_ident(spec.table)}").fetchone()[0]
    return int(rows) * len(resolve_features(con, spec))


def use_streaming(con, spec: DatasetSpec, cfg: ModelConfig) -> bool:
    """Whether a run reads its table in streamed batches rather than into memory.

    ``stream`` always does (Keras models only), ``memory`` never; ``auto`` streams a Keras model
    when the table has at least :data:`STREAM_CELLS` feature cells.

    Raises:
        SchemaError: ``stream`` was asked for a scikit-learn baseline, which fits in memory.
    """
    if cfg.data_pipeline == "memory":
        return False
    if not cfg.is_keras:
        if cfg.data_pipeline == "stream":
            raise SchemaError(
                f"The streamed pipeline trains Keras networks only; {cfg.model} is fitted in "
                f"memory. Choose the memory pipeline (or 'auto') for it.")
        return False
    return cfg.data_pipeline == "stream" or table_cells(con, spec) >= STREAM_CELLS


def _label_sql(con, spec: DatasetSpec, task: str) -> tuple[str, list, list[str]]:
    """SQL expression of the encoded target, its bound values, and the class labels."""
    target = quote_ident(spec.target)
    if task == "regression":
        bad = con.execute(
            f"SELECT count(*) FROM {quote_ident(spec.table)} WHERE {target} IS NOT NULL "
            f"AND TRY_CAST({target} AS DOUBLE) IS NULL").fetchone()[0]
        if bad:
            raise SchemaError(
                f"'{spec.target}' has {bad} non-numeric values; a regression target must be "
                f"numeric. Choose multiclass, or clean the column.")
        return f"CAST({target} AS DOUBLE)", [], []
    raw = [r[0] for r in con.execute(
        f"SELECT DISTINCT {target} FROM {quote_ident(spec.table)} WHERE {target} IS NOT NULL "
        f"LIMIT {MAX_CLASSES + 1}").fetchall()]
    if task == "binary":
        summary = summarize_target(con, spec.table, spec.target)
        positive = check_binary_target(summary, spec.target, spec.positive_class)
        negative = next(c for c in summary.classes if c != positive)
        hits = [v for v in raw if label_text(v) == positive]
        marks = ", ".join("?" for _ in hits)
        return f"CASE WHEN {target} IN ({marks}) THEN 1 ELSE 0 END", hits, [negative, positive]
    classes = sorted({label_text(v) for v in raw})
    if not 3 <= len(classes) <= MAX_CLASSES:
        raise SchemaError(
            f"A multiclass target needs 3–{MAX_CLASSES} labels; '{spec.target}' has "
            f"{len(classes)}. Use binary for two labels.")
    cases, params = [], []
    for v in raw:
        cases.append(f"WHEN {target} = ? THEN {classes.index(label_text(v))}")
        params.append(v)
    return f"CASE {' '.join(cases)} END", params, classes


def _split_table(con, spec: DatasetSpec, y_sql: str, params: list, stratify: bool) -> None:
    """Temp table ``__ll_split(rid, y, h, split)``: a seeded, stratified split (0 test,
    1 validation, 2 train) ranked on a narrow projection of the table."""
    part = "PARTITION BY y" if stratify else ""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE __ll_split AS
        SELECT rid, y, h, CASE WHEN r <= round(n * {float(spec.test_size)!r}) THEN 0
                               WHEN r <= round(n * {float(spec.test_size + spec.valid_size)!r})
                               THEN 1 ELSE 2 END AS split
        FROM (SELECT rid, y, h, row_number() OVER ({part} ORDER BY h) AS r,
                     count(*) OVER ({part}) AS n
              FROM (SELECT rowid AS rid, {y_sql} AS y, hash(rowid, {int(spec.seed)}) AS h
                    FROM {quote_ident(spec.table)}
                    WHERE {quote_ident(spec.target)} IS NOT NULL))""", params)


def _select_list(con, spec: DatasetSpec, features: list[str]) -> str:
    """Feature columns as written to the snapshot: DECIMAL and HUGEINT become DOUBLE (as
    ``read_table`` hands them to pandas)."""
    types = dict(table_columns(con, spec.table))
    out = []
    for c in features:
        t = types[c].upper()
        q = quote_ident(c)
        out.append(f"CAST(f.{q} AS DOUBLE) AS {q}" if t.startswith(("DECIMAL", "HUGEINT"))
                   else f"f.{q}")
    return ", ".join(out)


def export_splits(con, spec: DatasetSpec, task: str, folder: Path,
                  should_stop=None) -> StreamedSplits:
    """Split, shuffle and write a table to Parquet buckets for streamed training.

    Args:
        con: Open warehouse connection (held only while exporting).
        spec: Table, target, features, split sizes and seed.
        task: ``binary``, ``multiclass`` or ``regression``.
        folder: An empty folder for the files.
        should_stop: Polled between buckets; True stops the export (files are left for the
            caller to remove).

    Returns:
        The :class:`StreamedSplits`.

    Raises:
        SchemaError: Bad table, target or features; a class with fewer than 5 rows; fewer
            than 20 rows.
    """
    features = resolve_features(con, spec)
    y_sql, params, classes = _label_sql(con, spec, task)
    with capped_memory(con, EXPORT_MB) as cap:
        try:
            return _export(con, spec, task, folder, features, y_sql, params, classes, cap,
                           should_stop)
        finally:
            con.execute("DROP TABLE IF EXISTS __ll_split")


def _export(con, spec, task, folder, features, y_sql, params, classes, cap,
            should_stop) -> StreamedSplits:
    stratify = task != "regression"
    with_memory_retry(con, lambda: _split_table(con, spec, y_sql, params, stratify), cap,
                      MAX_EXPORT_MB)
    counts_rows = con.execute(
        "SELECT split, y, count(*) FROM __ll_split GROUP BY ALL ORDER BY ALL"
        if stratify else "SELECT split, 0, count(*) FROM __ll_split GROUP BY ALL").fetchall()
    counts = {s: 0 for s in SPLITS}
    label_counts = {s: [0] * len(classes) for s in SPLITS}
    for split, y, n in counts_rows:
        name = SPLITS[int(split)]
        counts[name] += int(n)
        if stratify:
            label_counts[name][int(y)] += int(n)
    rows = sum(counts.values())
    if stratify and min(sum(label_counts[s][k] for s in SPLITS) for k in range(len(classes))) < 5:
        raise SchemaError("A class of the target has fewer than 5 rows; at least 5 of each class "
                          "are needed to split into train, validation and test. Load more data.")
    if rows < 20 or min(counts.values()) == 0:
        raise SchemaError(f"Only {rows} rows with a target; too few to train, validate and test.")
    stats = []
    if task == "regression":
        stats = [float(v) for v in con.execute(
            f"SELECT avg(y), coalesce(stddev_pop(y), 0) FROM __ll_split WHERE split = "
            f"{SPLITS.index('train')}").fetchone()]
    select = _select_list(con, spec, features)
    width = (len(features) + 2) * 16
    buckets = max(1, min(MAX_BUCKETS, math.ceil(rows * width / BUCKET_BYTES)))
    files: list[Path] = []
    for k in range(buckets):
        if should_stop is not None and should_stop():
            break
        path = folder / f"bucket-{k:03d}.parquet"
        sql = (f"COPY (SELECT {select}, s.y AS {LABEL}, s.split AS {SPLIT} "
               f"FROM {quote_ident(spec.table)} f JOIN __ll_split s ON f.rowid = s.rid "
               f"WHERE s.h % {buckets} = {k} ORDER BY s.split, s.h) TO {sql_literal(path)} "
               f"(FORMAT parquet, ROW_GROUP_SIZE {ROW_GROUP})")
        with_memory_retry(con, lambda sql=sql: con.execute(sql), cap, MAX_EXPORT_MB)
        files.append(path)
    return StreamedSplits(folder, files, counts, label_counts, task, classes, features, rows,
                          stats)


def sql_literal(path: Path) -> str:
    """A file path as a quoted SQL string literal (for COPY and read_parquet, which take no
    bound parameters)."""
    return "'" + str(path).replace("'", "''") + "'"


def remove(splits_folder: Path) -> None:
    """Delete a snapshot folder (best effort)."""
    shutil.rmtree(splits_folder, ignore_errors=True)
