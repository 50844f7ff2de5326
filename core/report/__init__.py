"""report: TODO face docstring."""

from core.report._options import ReportError, ReportOptions
from core.report._report import report_bytes, write_report

__all__ = ["ReportError", "ReportOptions", "report_bytes", "write_report"]
