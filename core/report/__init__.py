"""The model review report: one self-contained HTML file (charts inline, opens offline) or a PDF
printed from it by headless Chromium, with the model card, metrics, curves, segments, SHAP and
the business scenario.

Layer: above ``explain``, ``impact`` and ``uplift``; imports any lower package's face.
Private modules: ``_report`` (write), ``_sections``, ``_explain``, ``_fairness``, ``_html``,
``_options``.
"""

from core.report._options import ReportError, ReportOptions
from core.report._report import report_bytes, write_report

__all__ = ["ReportError", "ReportOptions", "report_bytes", "write_report"]
