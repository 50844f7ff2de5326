"""Reading streamed snapshots back: chunks through an in-memory DuckDB, encoded mini-batches,
a ``tf.data.Dataset`` for ``model.fit``, and scored rows written beside their outputs.

The snapshots are the hash-ordered Parquet buckets of :func:`core.features.export_splits`;
nothing here touches the warehouse.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from core.features._stream_export import (
    LABEL,
    ROW_GROUP,
    SPLIT,
    SPLITS,
    StreamedSplits,
    sql_literal,
)

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


def _batches(chunks: Iterator[tuple[np.ndarray, np.ndarray]], batch_size: int,
             rng: np.random.Generator | None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Mini-batches from encoded chunks, all full but the last; rows permuted within each
    chunk when ``rng`` is given (a partial batch is topped up from the next chunk)."""
    carry_x = carry_y = None
    for x, y in chunks:
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


def _y_type(splits: StreamedSplits):
    return np.int32 if splits.task == "multiclass" else np.float32


def encoded_chunks(splits: StreamedSplits, name: str, pre, chunk_rows: int,
                   order_seed: int | None = None, scaling: list[float] | None = None
                   ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """One split read from the snapshot and encoded chunk by chunk.

    Yields:
        ``(x, y)``: float32 of shape (rows, n_encoded) and the target of shape (rows,)
        (float32; int32 class indices for multiclass; standardised when ``scaling``).
    """
    for frame in iter_frames(splits.files, name, chunk_rows, order_seed):
        yield _encode(frame, pre, scaling, _y_type(splits))


def _encode(frame: pd.DataFrame, pre, scaling: list[float] | None, y_type
            ) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` of snapshot rows: the preprocessor's encoding and the (scaled) target."""
    y = frame[LABEL].to_numpy(np.float64)
    if scaling is not None:
        y = (y - scaling[0]) / scaling[1]
    return pre.transform(frame), y.astype(y_type)


def encoded_batches(splits: StreamedSplits, name: str, pre, batch_size: int,
                    shuffle_seed: int | None, scaling: list[float] | None = None
                    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Encoded mini-batches of one split, encoding on the fly; all full but the last.

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
    return _batches(encoded_chunks(splits, name, pre, chunk, shuffle_seed, scaling),
                    batch_size, rng)


@dataclass(frozen=True)
class EncodedFile:
    """A split encoded once into raw float32 files on disk, so later epochs only read.

    Attributes:
        x_path: Row-major float32 matrix of shape (rows, width).
        y_path: Targets of shape (rows,), dtype ``y_dtype``.
        rows: Rows written.
        width: Encoded features per row.
        chunk_rows: Rows per read (about :data:`CHUNK_BYTES`).
        y_dtype: ``float32`` or ``int32``.
    """

    x_path: Path
    y_path: Path
    rows: int
    width: int
    chunk_rows: int
    y_dtype: str


def encoded_bytes(splits: StreamedSplits, names: tuple[str, ...], pre) -> int:
    """Disk bytes :func:`encode_to_disk` needs for these splits."""
    return sum(splits.counts[n] for n in names) * (len(pre.feature_names_out_) + 1) * 4


def encode_to_disk(splits: StreamedSplits, name: str, pre, folder: Path,
                   scaling: list[float] | None = None) -> EncodedFile:
    """Encode one split once, chunk by chunk, into raw float32 files in ``folder``.

    Re-encoding every epoch is the streamed pipeline's main cost (pandas work on two cores
    halves the samples per second); reading raw float32 back costs almost nothing. The files
    keep the snapshot's hash order, so reading chunks in a new order each epoch still
    shuffles.

    Returns:
        The :class:`EncodedFile`.
    """
    width = len(pre.feature_names_out_)
    chunk = chunk_rows_for(width, 1)
    x_path, y_path = folder / f"{name}-x.f32", folder / f"{name}-y.bin"
    rows = 0
    with open(x_path, "wb") as fx, open(y_path, "wb") as fy:
        for x, y in encoded_chunks(splits, name, pre, chunk, None, scaling):
            x.tofile(fx)
            y.tofile(fy)
            rows += len(y)
    return EncodedFile(x_path, y_path, rows, width, chunk, np.dtype(_y_type(splits)).name)


def disk_chunks(enc: EncodedFile, order_seed: int | None = None
                ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Chunks of an :class:`EncodedFile`, in a seeded random chunk order (file order when
    None). Plain reads, not a memory map, so the pages stay in the OS cache, not in this
    process's memory."""
    starts = np.arange(0, enc.rows, enc.chunk_rows)
    if order_seed is not None:
        np.random.default_rng(order_seed).shuffle(starts)
    y_type = np.dtype(enc.y_dtype)
    with open(enc.x_path, "rb") as fx, open(enc.y_path, "rb") as fy:
        for start in starts:
            n = int(min(enc.chunk_rows, enc.rows - start))
            fx.seek(int(start) * enc.width * 4)
            fy.seek(int(start) * y_type.itemsize)
            x = np.fromfile(fx, dtype=np.float32, count=n * enc.width).reshape(n, enc.width)
            yield x, np.fromfile(fy, dtype=y_type, count=n)


def shard_rows(rows: int, shards: int) -> int:
    """Rows of each shard of :func:`shard_chunks`: ``rows // shards`` (the remainder is
    left out, so that every shard, hence every data-parallel worker, runs as many steps)."""
    return rows // shards


def shard_chunks(source: StreamedSplits | EncodedFile, name: str, pre, chunk_rows: int,
                 shard: int, shards: int, order_seed: int | None = None,
                 scaling: list[float] | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """One shard of a split, read chunk by chunk and encoded: rows ``shard, shard + shards, …``
    counted in this pass's read order, cut to :func:`shard_rows` rows.

    The read order depends only on ``order_seed`` (bucket or chunk order), so shards read with
    the same seed partition the split's rows. Every shard reads the whole split but encodes
    only its own rows (the preprocessor is the costly part); memory stays one chunk.

    Args:
        source: The snapshots (encoded on the fly), or the split encoded to disk.
        name: ``train``, ``valid`` or ``test`` (snapshots only).
        pre: The fitted :class:`~core.features.TabularPreprocessor`.
        chunk_rows: Rows per read from the snapshots (an :class:`EncodedFile` keeps its own).
        shard: This shard, 0 ≤ shard < shards.
        shards: Number of shards (data-parallel workers).
        order_seed: Seed of the read order; None keeps the file order.
        scaling: ``[mean, std]`` of a regression target (snapshots only).

    Yields:
        ``(x, y)``: float32 of shape (rows, n_encoded) and the target of shape (rows,).

    Raises:
        ValueError: ``shard`` outside ``[0, shards)``.
    """
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} is not in [0, {shards})")
    encoded = isinstance(source, EncodedFile)
    rows = source.rows if encoded else source.counts[name]
    parts = (disk_chunks(source, order_seed) if encoded
             else iter_frames(source.files, name, chunk_rows, order_seed))
    keep, seen, given = shard_rows(rows, shards), 0, 0
    for part in parts:
        n = len(part[1]) if encoded else len(part)
        idx = np.arange((shard - seen) % shards, n, shards)[:keep - given]
        seen += n
        if len(idx) == 0:
            continue
        given += len(idx)
        if encoded:
            yield part[0][idx], part[1][idx]
        else:
            yield _encode(part.iloc[idx], pre, scaling, _y_type(source))
        if given >= keep:
            break


def keras_dataset(source: StreamedSplits | EncodedFile, name: str, pre, batch_size: int,
                  seed: int | None, scaling: list[float] | None = None):
    """A ``tf.data.Dataset`` of encoded batches of one split, with a known number of steps.

    Each pass (epoch) reads the split anew, from the snapshot (encoding on the fly) or from
    its :class:`EncodedFile`; with a ``seed`` every pass shuffles differently (seed, seed + 1,
    …): chunk order and rows within a chunk. Python hands over whole chunks and
    ``Dataset.rebatch`` cuts them into batches across chunk boundaries, so no Python runs per
    batch; batches are prefetched while the model trains.

    Args:
        source: The snapshots, or the split already encoded to disk.
        name: ``train``, ``valid`` or ``test`` (for snapshots).
        pre: The fitted preprocessor.
        batch_size: Rows per batch.
        seed: Shuffle seed of the first pass; None keeps the file order.
        scaling: ``[mean, std]`` of a regression target (snapshots only; an
            :class:`EncodedFile` is scaled already).

    Returns:
        A dataset of ``(x, y)`` with ``ceil(rows / batch_size)`` batches.
    """
    import tensorflow as tf

    passes = [0]

    def generate():  # whole permuted chunks; TensorFlow cuts them into batches (rebatch)
        shuffle = None if seed is None else seed + passes[0]
        passes[0] += 1
        rng = np.random.default_rng(shuffle) if shuffle is not None else None
        if isinstance(source, EncodedFile):
            chunks = disk_chunks(source, shuffle)
        else:
            chunk = chunk_rows_for(len(pre.feature_names_out_), batch_size)
            chunks = encoded_chunks(source, name, pre, chunk, shuffle, scaling)
        for x, y in chunks:
            if rng is not None:
                order = rng.permutation(len(y))
                x, y = x[order], y[order]
            yield x, y

    if isinstance(source, EncodedFile):
        rows, y_dtype = source.rows, tf.as_dtype(source.y_dtype)
    else:
        rows, y_dtype = source.counts[name], tf.as_dtype(_y_type(source))
    ds = tf.data.Dataset.from_generator(generate, output_signature=(
        tf.TensorSpec((None, len(pre.feature_names_out_)), tf.float32),
        tf.TensorSpec((None,), y_dtype)))
    steps = math.ceil(rows / batch_size)
    return (ds.rebatch(batch_size).apply(tf.data.experimental.assert_cardinality(steps))
            .prefetch(2))


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
