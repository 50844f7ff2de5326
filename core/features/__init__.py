"""From a warehouse table to model-ready arrays: target summary and positive class, task
inference, feature selection, the seeded split, the :class:`TabularPreprocessor` (fitted on the
training split only, saved as JSON), and the streamed pipeline (shuffled Parquet snapshots read
back through ``tf.data``) for tables larger than memory.

Layer: above ``warehouse``; imports ``core.warehouse`` and the shared modules only.
Private modules: ``_tabular`` (target, split, preprocessor), ``_stream_export`` (snapshots),
``_stream_batches`` (encoded chunks and ``tf.data``).
"""

from core.features._stream_batches import (
    EncodedFile,
    chunk_rows_for,
    encode_to_disk,
    encoded_batches,
    encoded_bytes,
    head_frame,
    keras_dataset,
    shard_chunks,
    shard_rows,
    write_scored,
)
from core.features._stream_export import (
    LABEL,
    PREPROCESSOR_ROWS,
    StreamedSplits,
    export_splits,
    remove,
    use_streaming,
)
from core.features._tabular import (
    TabularPreprocessor,
    excluded_columns,
    load_task_data,
    load_xy,
    split_indices,
)
from core.features._target import infer_task, label_text, summarize_target, task_of

__all__ = [
    "LABEL", "PREPROCESSOR_ROWS", "EncodedFile", "StreamedSplits", "TabularPreprocessor", "chunk_rows_for",
    "encode_to_disk", "encoded_batches", "encoded_bytes", "excluded_columns", "export_splits",
    "head_frame", "infer_task", "keras_dataset", "label_text", "load_task_data", "load_xy",
    "remove", "shard_chunks", "shard_rows", "split_indices", "summarize_target", "task_of", "use_streaming", "write_scored",
]
