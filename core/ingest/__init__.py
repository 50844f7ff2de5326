"""Load analysts' files into the warehouse as immutable raw tables, or say exactly why not:
encoding (charset-normalizer), CSV dialect, header and footer detection, Excel/Parquet/JSON,
missing-value markers, type refinement; a preview (:func:`inspect_file`) before the load.

Layer: above ``warehouse``; imports ``core.warehouse`` and the shared modules only.
Private modules: ``_options``, ``_preview``, ``_ingest``, ``_formats``, ``_dialect``,
``_encodings``, ``_types``.
"""

from core.ingest._formats import SUPPORTED, excel_sheets, file_kind
from core.ingest._ingest import IngestReport, ingest_file, load_report, planned_table_name
from core.ingest._options import IngestOptions
from core.ingest._preview import FilePreview, inspect_file, split_notes

__all__ = [
    "FilePreview", "IngestOptions", "IngestReport", "SUPPORTED", "excel_sheets", "file_kind",
    "ingest_file", "inspect_file", "load_report", "planned_table_name", "split_notes",
]
