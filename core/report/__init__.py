"""report: TODO face docstring."""

from core.report._report import ReportOptions, report_bytes, write_report

__all__ = ["ReportOptions", "report_bytes", "write_report"]
