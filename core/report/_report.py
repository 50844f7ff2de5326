"""The model review report: one self-contained HTML file (charts included, opens offline) and a
PDF of it.

The HTML embeds plotly.js once and every chart as a Plotly figure (WebGL traces are redrawn as
SVG so they print). The PDF is the same page printed by headless Chromium
(``--print-to-pdf``), so the two never disagree. Sections: summary, data and profile highlights,
preparation, model card, metrics with 95% intervals at the chosen threshold, curves, segments,
SHAP global and three local explanations, and the business scenario when one was run.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from datetime import datetime
from pathlib import Path

from core import __version__
from core.config import Settings
from core.report._html import page_html
from core.report._options import ReportError, ReportOptions
from core.report._sections import build_sections
from core.runs import Run
from core.warehouse import pid_tag, scratch_root

log = logging.getLogger(__name__)
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


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


def html_to_pdf(html_path: Path, pdf_path: Path, timeout_s: float = 180.0,
                workdir: Path | None = None) -> None:
    """Print an HTML file to PDF with headless Chromium, offline (its profile in ``workdir``).

    Raises:
        ReportError: Chromium is missing, fails or times out.
    """
    browser = find_chromium()
    with tempfile.TemporaryDirectory(prefix=f"pdf-{pid_tag()}-", dir=workdir) as profile:
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
    with tempfile.TemporaryDirectory(prefix=f"report-{pid_tag()}-",
                                     dir=scratch_root(settings)) as tmp:
        source = Path(tmp) / "report.html"
        source.write_text(text, encoding="utf-8")
        html_to_pdf(source, out, workdir=Path(tmp))
    return {"out": str(out), "format": "pdf", "bytes": out.stat().st_size, "sections": names,
            "threshold": threshold}


def report_bytes(settings: Settings, run: Run, fmt: str, options: ReportOptions | None = None,
                 explanation=None) -> bytes:
    """The report as bytes (for a download button): ``fmt`` is ``"html"`` or ``"pdf"``."""
    with tempfile.TemporaryDirectory(prefix=f"report-{pid_tag()}-",
                                     dir=scratch_root(settings)) as tmp:
        path = Path(tmp) / f"review.{fmt}"
        write_report(settings, run, path, options, explanation)
        return path.read_bytes()
