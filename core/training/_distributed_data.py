"""The data of multi-worker training (:mod:`core.training._distributed`): what the coordinator
hands the Ray Train workers, and each worker's shard of it.

Two sources, both described by a plain dict every worker can unpickle:

- ``memory``: the in-memory pipeline's encoded arrays, written once as Parquet
  (:func:`write_arrays`); worker ``r`` of ``N`` reads rows ``r, r + N, …`` into memory.
- ``stream``: the streamed pipeline's snapshots, or the splits it encoded once to disk
  (:func:`stream_source`); worker ``r`` reads the split chunk by chunk and keeps rows
  ``r, r + N, …`` of each pass's read order (:func:`core.features.shard_chunks`: the same bucket
  or chunk order on every worker, so the shards partition the rows), encoded with the fitted
  :class:`~core.features.TabularPreprocessor` as the single-worker streamed path does. Memory
  stays a few chunks, whatever the table's size.

Both cut every shard to ``n // N`` rows, so that every worker runs the same number of steps, as
collective all-reduce requires; the ``n mod N`` rows left out are fewer than the workers.
"""

from __future__ import annotations

import dataclasses
import math
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from core.features import EncodedFile, chunk_rows_for, shard_chunks, shard_rows
from core.training._fit import FitData, StreamFit

VALID_BATCH = 4096
"""Rows per forward pass when a worker computes the validation loss."""


def write_arrays(folder: Path, data: FitData) -> dict:
    """Write the in-memory pipeline's encoded arrays as Parquet in ``folder``.

    Returns:
        The ``memory`` source: ``{"kind", "train", "valid", "rows", "y_dtype"}``.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    for name, x, y in (("train", data.x_train, data.y_train),
                       ("valid", data.x_valid, data.y_valid)):
        cols = {f"f{i}": np.asarray(x[:, i], np.float32) for i in range(x.shape[1])}
        cols["y"] = np.asarray(y, np.float32)
        pq.write_table(pa.table(cols), folder / f"{name}.parquet", row_group_size=16_384)
    return {"kind": "memory", "train": str(folder / "train.parquet"),
            "valid": str(folder / "valid.parquet"), "rows": len(data.y_train),
            "y_dtype": "float32"}


def read_arrays(path: Path, shard: int = 0, shards: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``shard, shard + shards, …`` of a :func:`write_arrays` file, cut to
    ``n // shards`` rows: x float32 (rows, n_encoded), y float32 (rows,)."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    x = np.stack([table.column(c).to_numpy() for c in table.column_names if c != "y"], axis=1)
    y = table.column("y").to_numpy()
    if shards > 1:
        keep = shard_rows(len(y), shards)
        x, y = x[shard::shards][:keep], y[shard::shards][:keep]
    return x.astype(np.float32), y.astype(np.float32)


def _copy(source, folder: Path):
    """A snapshot or an encoded split, copied into ``folder`` (the storage every node sees)."""
    if isinstance(source, EncodedFile):
        paths = [Path(shutil.copy2(p, folder)) for p in (source.x_path, source.y_path)]
        return dataclasses.replace(source, x_path=paths[0], y_path=paths[1])
    target = folder / "snapshot"
    target.mkdir(exist_ok=True)
    files = [Path(shutil.copy2(p, target / f"{i:05d}-{p.name}"))
             for i, p in enumerate(source.files)]
    return dataclasses.replace(source, folder=target, files=files)


def stream_source(folder: Path, data: StreamFit, task: str, shared: bool) -> dict:
    """The ``stream`` source: the streamed pipeline's training and validation sources.

    Args:
        folder: This training's folder (under the storage every worker sees).
        data: The streamed pipeline's :class:`~core.training.StreamFit`, with its ``sources``.
        task: binary, multiclass or regression.
        shared: Copy the files into ``folder`` (a cluster: the scratch folder that holds them
            is this machine's); False reads them in place (one machine).

    Returns:
        ``{"kind", "train", "valid", "scaling", "rows", "y_dtype"}``.

    Raises:
        ValueError: ``data`` carries no sources (built without :mod:`core.training._stream`).
    """
    if not data.sources:
        raise ValueError("streamed data without its sources cannot be sharded")
    sources = dict(data.sources)
    if shared:
        copied: dict[int, object] = {}  # the same snapshot serves both splits: copied once
        for name, src in sources.items():
            if id(src) not in copied:
                (folder / name).mkdir(exist_ok=True)
                copied[id(src)] = _copy(src, folder / name)
            sources[name] = copied[id(src)]
    return {"kind": "stream", "train": sources["train"], "valid": sources["valid"],
            "scaling": data.scaling, "rows": data.n_train,
            "y_dtype": "int32" if task == "multiclass" else "float32"}


def train_dataset(source: dict, pre, per_replica: int, rank: int, world: int, seed: int):
    """Worker ``rank``'s training batches, reshuffled every pass (epoch).

    Args:
        source: A :func:`write_arrays` or :func:`stream_source` dict.
        pre: The fitted preprocessor (encodes snapshot rows on the fly).
        per_replica: Rows per batch on this worker (global batch / workers).
        rank: This worker, 0 ≤ rank < world.
        world: Number of workers.
        seed: Shuffle seed.

    Returns:
        A ``tf.data.Dataset`` of ``(x, y)``; ``ceil(n // world / per_replica)`` batches.
    """
    import tensorflow as tf

    if source["kind"] == "memory":
        x, y = read_arrays(Path(source["train"]), rank, world)
        ds = tf.data.Dataset.from_tensor_slices((x, y))
        ds = ds.shuffle(len(y), seed=seed + rank, reshuffle_each_iteration=True)
        return ds.batch(per_replica)
    width = len(pre.feature_names_out_)
    chunk = chunk_rows_for(width, per_replica * world)
    passes = [0]

    def generate():  # the pass's read order is the same on every worker: a partition
        order = seed + passes[0]
        passes[0] += 1
        rng = np.random.default_rng([order, rank])
        for x, y in shard_chunks(source["train"], "train", pre, chunk, rank, world, order,
                                 source["scaling"]):
            perm = rng.permutation(len(y))
            yield x[perm], y[perm]

    ds = tf.data.Dataset.from_generator(generate, output_signature=(
        tf.TensorSpec((None, width), tf.float32),
        tf.TensorSpec((None,), tf.as_dtype(source["y_dtype"]))))
    steps = math.ceil(shard_rows(source["rows"], world) / per_replica)
    return (ds.rebatch(per_replica).apply(tf.data.experimental.assert_cardinality(steps))
            .prefetch(2))


def valid_chunks(source: dict, pre) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The whole validation split in chunks of at most :data:`VALID_BATCH` rows, file order:
    every worker computes the same validation loss."""
    if source["kind"] == "memory":
        parts = [read_arrays(Path(source["valid"]))]
    else:
        chunk = chunk_rows_for(len(pre.feature_names_out_), VALID_BATCH)
        parts = shard_chunks(source["valid"], "valid", pre, chunk, 0, 1, None, source["scaling"])
    for x, y in parts:
        for start in range(0, len(y), VALID_BATCH):
            yield x[start:start + VALID_BATCH], y[start:start + VALID_BATCH]
