"""Compact models: int8 post-training quantisation (Keras 3 ``quantize``), magnitude pruning to a
target sparsity with a short fine-tune, and knowledge distillation of any run (gradient boosting
included) into a small MLP. Each result is a new run with its ``parent`` in config.json, usable
everywhere a run is, and compared with its parent (weights' bytes, file size, scoring
throughput, ROC-AUC / PR-AUC change on the same test rows).

Layer: above ``training``; imports ``core.evaluate``, ``core.runs``, ``core.features`` and the
shared modules (Keras only inside functions).
Private modules: ``_methods`` (int8, masks, byte counts), ``_compress`` (child models),
``_run`` (the new run and the comparison).
"""

from core.compress._compress import METHODS, check_request, rows_per_second
from core.compress._methods import CompressError, model_bytes, zero_share
from core.compress._run import comparison, compress_run, compressed_children, is_compressed

__all__ = [
    "METHODS", "CompressError", "check_request", "comparison", "compress_run", "compressed_children",
    "is_compressed", "model_bytes", "rows_per_second", "zero_share",
]
