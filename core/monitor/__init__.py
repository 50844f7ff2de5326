"""monitor: a run on new data — quality, drift, estimated and realised performance, champions."""

from core.monitor._chunks import Chunking
from core.monitor._monitor import cli_view, monitor

__all__ = ["Chunking", "cli_view", "monitor"]
