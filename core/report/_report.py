"""The model review report: one self-contained HTML file (charts included, opens offline) and a
PDF of it.

The HTML embeds plotly.js once and every chart as a Plotly figure (WebGL traces are redrawn as
SVG so they print). The PDF is the same page printed by headless Chromium
(``--print-to-pdf``), so the two never disagree. Sections: summary, data and profile highlights,
preparation, model card, metrics with 95% intervals at the chosen threshold, curves, segments,
SHAP global and three local explanations, and the business scenario when one was run.
"""

from __future__ import annotations

import html
import logging
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core import __version__
from core.config import Settings
from core.errors import AppError
from core.runs import Run

log = logging.getLogger(__name__)
FIGURE_WIDTH = 720
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class ReportError(AppError):
    """The review report could not be written."""

    default_title = "The report could not be built"


@dataclass(frozen=True)
class ReportOptions:
    """What the review report shows.

    Attributes:
        threshold: Decision threshold for every threshold-dependent number (None: the run's
            saved threshold, 0.5 by default).
        rows: Test rows to explain when the run has no cached explanation.
        segment: Column of the segment table (None: the column whose segments differ most).
        scenario: ``{"contact_cost", "conversion_value", "fraction"}`` of a business scenario to
            simulate on the test split, or None (then the run's latest saved scenario, if any).
        intended_use: The model card's intended use (None: a sentence built from the run).
        scenario_result: ``{"title", "summary", "curve"}`` of a scenario already simulated
            (the Impact page passes its own result, so the report repeats its numbers);
            takes precedence over ``scenario``.
    """

    threshold: float | None = None
    rows: int = 1000
    segment: str | None = None
    scenario: dict | None = None
    intended_use: str | None = None
    scenario_result: dict | None = None


def _e(value) -> str:
    return html.escape(str(value))


def _num(v, pattern: str = "{:.3f}") -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "undefined"
    if isinstance(v, bool | np.bool_):
        return str(v)
    if isinstance(v, int | np.integer):
        return f"{int(v):,}"
    if isinstance(v, float | np.floating):
        if v != 0 and abs(v) < 0.001:  # e.g. a learning rate of 3e-4, not "0.000"
            return f"{v:.2g}"
        return pattern.format(v)
    return str(v)


def table_html(df: pd.DataFrame, pattern: str = "{:.3f}") -> str:
    """An HTML table of a DataFrame; undefined numbers read 'undefined'."""
    head = "".join(f"<th>{_e(c)}</th>" for c in df.columns)
    body = "".join("<tr>" + "".join(f"<td>{_e(_num(v, pattern))}</td>" for v in row) + "</tr>"
                   for row in df.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _kv(pairs: list[tuple[str, object]]) -> str:
    return table_html(pd.DataFrame(pairs, columns=["", "value"]))


def svg_only(fig: go.Figure) -> go.Figure:
    """A copy of a figure with WebGL traces redrawn as SVG (WebGL does not print)."""
    data = [go.Scatter(**{k: v for k, v in t.to_plotly_json().items() if k != "type"})
            if t.type == "scattergl" else t for t in fig.data]
    return go.Figure(data=data, layout=fig.layout)


def figure_html(fig: go.Figure) -> str:
    """One chart as an HTML fragment (plotly.js is embedded once in the page head)."""
    fig = svg_only(fig)
    fig.update_layout(width=FIGURE_WIDTH, autosize=False, template="plotly_white")
    return ('<div class="chart">' + fig.to_html(full_html=False, include_plotlyjs=False,
                                                config={"displayModeBar": False,
                                                        "staticPlot": False}) + "</div>")


def section(title: str, *parts: str, anchor: str = "") -> str:
    """A report section: heading and body parts."""
    ident = f' id="{_e(anchor)}"' if anchor else ""
    return f"<section{ident}><h2>{_e(title)}</h2>{''.join(parts)}</section>"


def paragraph(text: str, cls: str = "") -> str:
    """An escaped paragraph."""
    return f'<p class="{cls}">{_e(text)}</p>' if cls else f"<p>{_e(text)}</p>"


def bullet_list(items: list[str]) -> str:
    """An escaped bullet list (empty string for no items)."""
    return "<ul>" + "".join(f"<li>{_e(i)}</li>" for i in items) + "</ul>" if items else ""


_CSS = """
body{font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;color:#222;
max-width:780px;margin:24px auto;padding:0 16px;font-size:13px;line-height:1.45}
h1{font-size:22px;margin-bottom:2px}h2{font-size:17px;border-bottom:2px solid #2c7fb8;
padding-bottom:3px;margin-top:28px}h3{font-size:14px;margin:16px 0 4px}
table{border-collapse:collapse;margin:6px 0 10px;font-size:12px}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#eef4fa}.muted{color:#666}.note{background:#fff7e0;border-left:4px solid #f0ad4e;
padding:4px 8px}.chart{page-break-inside:avoid;break-inside:avoid;margin:6px 0}
section{page-break-inside:auto}code{background:#f3f3f3;padding:0 3px}
@media print{body{margin:0 auto}h2{page-break-after:avoid}}
"""


def page_html(title: str, subtitle: str, sections: list[str]) -> str:
    """The whole self-contained page (plotly.js inline, no external resource)."""
    from plotly.offline import get_plotlyjs

    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{_e(title)}</title><style>{_CSS}</style>"
            f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body>"
            f"<h1>{_e(title)}</h1>{paragraph(subtitle, 'muted')}{''.join(sections)}"
            "</body></html>")


def find_chromium() -> str:
    """Path of a Chromium-family browser (``LIFTLAB_CHROMIUM`` first).

    Raises:
        ReportError: None is installed.
    """
    configured = os.environ.get("LIFTLAB_CHROMIUM")
    if configured and Path(configured).exists():
        return configured
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise ReportError("PDF export prints the HTML report with Chromium, which is not installed. "
                      "Install it (Debian/Ubuntu: 'apt-get install chromium') or set "
                      "LIFTLAB_CHROMIUM to its path; the HTML report works without it.")


def html_to_pdf(html_path: Path, pdf_path: Path, timeout_s: float = 180.0) -> None:
    """Print an HTML file to PDF with headless Chromium, offline.

    Raises:
        ReportError: Chromium is missing, fails or times out.
    """
    browser = find_chromium()
    with tempfile.TemporaryDirectory(prefix="liftlab-pdf-") as profile:
        cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-background-networking", "--disable-component-update",
               "--disable-extensions", "--no-first-run", f"--user-data-dir={profile}",
               "--no-pdf-header-footer", "--virtual-time-budget=30000",
               "--run-all-compositor-stages-before-draw",
               f"--print-to-pdf={pdf_path}", Path(html_path).resolve().as_uri()]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired as err:
            raise ReportError(f"Chromium did not finish printing the PDF within "
                              f"{timeout_s:.0f} s. Export the HTML report instead.") from err
    if done.returncode != 0 or not pdf_path.exists() or pdf_path.stat().st_size == 0:
        tail = (done.stderr or "").strip().splitlines()[-1:] or ["no message"]
        raise ReportError(f"Chromium could not print the PDF (exit {done.returncode}: "
                          f"{tail[0][:200]}). Export the HTML report instead.")


def write_report(settings: Settings, run: Run, out: Path | str,
                 options: ReportOptions | None = None, explanation=None) -> dict:
    """Write the review report as HTML, or as PDF when ``out`` ends with ``.pdf``.

    Args:
        settings: Workspace settings.
        run: The run under review.
        out: Output file path (``.html`` or ``.pdf``).
        options: What to show.
        explanation: A SHAP explanation to use (default: the run's cache, computed if absent).

    Returns:
        ``{"out", "format", "bytes", "sections", "threshold"}``.

    Raises:
        ReportError: The folder does not exist, or the PDF could not be printed.
    """
    from core.report._sections import build_sections

    out = Path(out)
    if not out.parent.exists():
        raise ReportError(f"The folder {out.parent} does not exist; create it or choose another "
                          f"output path.")
    options = options or ReportOptions()
    page, names, threshold = build_sections(settings, run, options, explanation)
    text = page_html(f"Model review: {run.run_id}",
                     f"Generated {datetime.now():%Y-%m-%d %H:%M} by LiftLab {__version__}", page)
    if out.suffix.lower() != ".pdf":
        out.write_text(text, encoding="utf-8")
        return {"out": str(out), "format": "html", "bytes": out.stat().st_size,
                "sections": names, "threshold": threshold}
    with tempfile.TemporaryDirectory(prefix="liftlab-report-") as tmp:
        source = Path(tmp) / "report.html"
        source.write_text(text, encoding="utf-8")
        html_to_pdf(source, out)
    return {"out": str(out), "format": "pdf", "bytes": out.stat().st_size, "sections": names,
            "threshold": threshold}


def report_bytes(settings: Settings, run: Run, fmt: str, options: ReportOptions | None = None,
                 explanation=None) -> bytes:
    """The report as bytes (for a download button): ``fmt`` is ``"html"`` or ``"pdf"``."""
    with tempfile.TemporaryDirectory(prefix="liftlab-report-") as tmp:
        path = Path(tmp) / f"review.{fmt}"
        write_report(settings, run, path, options, explanation)
        return path.read_bytes()
