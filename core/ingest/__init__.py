"""ingest: TODO face docstring."""

from core.ingest._ingest import (
    FilePreview, IngestOptions, IngestReport, SUPPORTED, excel_sheets, file_kind, ingest_file,
    inspect_file, load_report, planned_table_name, split_notes,
)

__all__ = ["FilePreview", "IngestOptions", "IngestReport", "SUPPORTED", "excel_sheets", "file_kind", "ingest_file", "inspect_file", "load_report", "planned_table_name", "split_notes"]
