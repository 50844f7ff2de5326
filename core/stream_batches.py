"""Reading streamed snapshots back: chunks through an in-memory DuckDB, encoded mini-batches,
a ``tf.data.Dataset`` for ``model.fit``, and scored rows written beside their outputs.

The snapshots are the hash-ordered Parquet buckets of :func:`core.streaming.export_splits`;
nothing here touches the warehouse.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from core.streaming import LABEL, ROW_GROUP, SPLIT, SPLITS, StreamedSplits, sql_literal

CHUNK_BYTES = 8 * 2**20
"""Target size of one encoded float32 chunk."""
READER_MB = 64
"""Memory cap of the in-memory DuckDB that reads snapshots back, in MiB."""


def _reader() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB for reading snapshots: one thread and a small memory cap, since it
    only streams files (it spills to disk past the cap)."""
    mem = duckdb.connect(config={"threads": 1, "memory_limit": f"{READER_MB}MiB"})
    return mem


def _split_query(files: list[Path], name: str) -> str:
    """Rows of one split from the given buckets, in file order (row groups of the other splits
    are skipped by their statistics, since each bucket is sorted by split)."""
    listed = ", ".join(sql_literal(p) for p in files)
    return (f"SELECT * EXCLUDE ({SPLIT}) FROM read_parquet([{listed}]) "
            f"WHERE {SPLIT} = {SPLITS.index(name)}")


def iter_frames(files: list[Path], name: str, chunk_rows: int, order_seed: int | None = None
                ) -> Iterator[pd.DataFrame]:
    """Read one split of the snapshot in chunks through an in-memory DuckDB (the same pandas
    types as :func:`core.warehouse.read_table`).

    Args:
        files: Bucket files, read in this order (shuffled when ``order_seed`` is given).
        name: ``train``, ``valid`` or ``test``.
        chunk_rows: Rows per chunk (rounded up to DuckDB's 2,048-row vectors).
        order_seed: Seed of the bucket order; None keeps the given order.

    Yields:
        DataFrames of at most about ``chunk_rows`` rows, features plus ``__y``.
    """
    order = list(files)
    if order_seed is not None:
        np.random.default_rng(order_seed).shuffle(order)
    vectors = max(1, math.ceil(chunk_rows / 2048))
    with _reader() as mem:
        for path in order:
            res = mem.execute(_split_query([path], name))
            while True:
                frame = res.fetch_df_chunk(vectors)
                if frame.empty:
                    break
                yield frame


def head_frame(files: list[Path], name: str, rows: int) -> pd.DataFrame:
    """The first ``rows`` rows of a split (a uniform random sample, since the files are
    hash-ordered), features plus ``__y``."""
    parts, n = [], 0
    for frame in iter_frames(files, name, min(rows, 65536)):
        parts.append(frame)
        n += len(frame)
        if n >= rows:
            break
    return pd.concat(parts, ignore_index=True).iloc[:rows]


def chunk_rows_for(n_encoded: int, batch_size: int) -> int:
    """Rows per encoded chunk: about :data:`CHUNK_BYTES` of float32, a multiple of the batch."""
    rows = max(batch_size, CHUNK_BYTES // max(4 * n_encoded, 1))
    return int(math.ceil(rows / batch_size) * batch_size)


def encoded_batches(splits: StreamedSplits, name: str, pre, batch_size: int,
                    shuffle_seed: int | None, scaling: list[float] | None = None
                    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Encoded mini-batches of one split; all full but the last.

    Args:
        splits: The snapshots.
        name: ``train``, ``valid`` or ``test``.
        pre: A fitted :class:`~core.features.TabularPreprocessor`.
        batch_size: Rows per batch.
        shuffle_seed: Seed of the file order and of the permutation inside each chunk; None
            reads in file order.
        scaling: ``[mean, std]`` to standardise a regression target, or None.

    Yields:
        ``(x, y)``: float32 of shape (batch, n_encoded) and the target of shape (batch,)
        (float32; int32 class indices for multiclass).
    """
    rng = np.random.default_rng(shuffle_seed) if shuffle_seed is not None else None
    chunk = chunk_rows_for(len(pre.feature_names_out_), batch_size)
    y_type = np.int32 if splits.task == "multiclass" else np.float32
    carry_x = carry_y = None
    for frame in iter_frames(splits.files, name, chunk, shuffle_seed):
        x = pre.transform(frame)
        y = frame[LABEL].to_numpy(np.float64)
        if scaling is not None:
            y = (y - scaling[0]) / scaling[1]
        y = y.astype(y_type)
        order = rng.permutation(len(y)) if rng is not None else np.arange(len(y))
        start = 0
        if carry_x is not None:  # top up the previous chunk's last, partial batch
            start = min(batch_size - len(carry_y), len(y))
            carry_x = np.concatenate([carry_x, x[order[:start]]])
            carry_y = np.concatenate([carry_y, y[order[:start]]])
            if len(carry_y) < batch_size:
                continue
            yield carry_x, carry_y
        carry_x = carry_y = None
        while start + batch_size <= len(y):
            idx = order[start:start + batch_size]
            yield x[idx], y[idx]
            start += batch_size
        if start < len(y):
            carry_x, carry_y = x[order[start:]], y[order[start:]]
    if carry_x is not None:
        yield carry_x, carry_y


def keras_dataset(splits: StreamedSplits, name: str, pre, batch_size: int, seed: int | None,
                  scaling: list[float] | None = None):
    """A ``tf.data.Dataset`` of encoded batches of one split, with a known number of steps.

    Each pass (epoch) reads the split anew; with a ``seed`` every pass shuffles differently
    (seed, seed + 1, …). Batches are prefetched while the model trains.

    Returns:
        A dataset of ``(x, y)`` with ``ceil(rows / batch_size)`` batches.
    """
    import tensorflow as tf

    passes = [0]

    def generate():
        shuffle = None if seed is None else seed + passes[0]
        passes[0] += 1
        yield from encoded_batches(splits, name, pre, batch_size, shuffle, scaling)

    n_enc = len(pre.feature_names_out_)
    y_dtype = tf.int32 if splits.task == "multiclass" else tf.float32
    ds = tf.data.Dataset.from_generator(generate, output_signature=(
        tf.TensorSpec((None, n_enc), tf.float32), tf.TensorSpec((None,), y_dtype)))
    steps = math.ceil(splits.counts[name] / batch_size)
    return ds.apply(tf.data.experimental.assert_cardinality(steps)).prefetch(2)


def write_scored(splits: StreamedSplits, name: str, outputs: pd.DataFrame, path: Path) -> None:
    """Write a split's raw rows beside their outputs (``__label``, ``__score``, …) to Parquet,
    row for row in file order, without holding the rows in memory.

    Args:
        splits: The snapshots.
        name: The split whose files were scored in order.
        outputs: One row per scored row, same order, e.g. ``__label`` and ``__score``.
        path: The Parquet file to write.
    """
    with _reader() as mem:
        mem.register("__outputs", outputs)
        mem.execute(f"COPY (SELECT t.* EXCLUDE ({LABEL}), o.* FROM "
                    f"({_split_query(splits.files, name)}) t POSITIONAL JOIN __outputs o) "
                    f"TO {sql_literal(path)} (FORMAT parquet, ROW_GROUP_SIZE {ROW_GROUP})")
