"""The report's privacy and compactness section: the differential-privacy guarantee in words,
the membership-inference audit (stored in the run, else computed now) and, for a compressed
run, its parent and the size/speed/accuracy comparison."""

from __future__ import annotations

import logging

import pandas as pd

from core.config import Settings
from core.errors import AppError
from core.privacy import audit_run, guarantee_lines
from core.report._html import bullet_list, paragraph, section, table_html
from core.runs import Run

log = logging.getLogger(__name__)


def _audit(settings: Settings, run: Run) -> dict | None:
    stored = run.config.extra.get("privacy_audit")
    if stored:
        return stored
    try:
        return audit_run(settings, run, max_rows=1000, n_boot=200)["membership_inference"]
    except AppError as err:  # e.g. a streamed run, or a table changed since training
        log.info("no audit for the report: %s", err)
        return None


def _audit_rows(audit: dict) -> pd.DataFrame:
    rows = [(audit["attack"], audit["attack_roc_auc"], *audit["ci95"], audit["advantage"])]
    cal = audit.get("calibrated")
    if cal:
        rows.append((cal["attack"], cal["attack_roc_auc"], *cal["ci95"], cal["advantage"]))
    return pd.DataFrame(rows, columns=["attack", "ROC-AUC", "95% low", "95% high",
                                       "advantage (TPR − FPR)"])


def _compression(run: Run) -> list[str]:
    info = run.config.extra.get("compression")
    if not info:
        return []
    keep = ("weights_bytes", "parent_weights_bytes", "file_bytes", "parent_file_bytes",
            "rows_per_s", "parent_rows_per_s")
    facts = [("parent run", run.config.extra.get("parent")), ("method", info["method"]),
             *[(k.replace("_", " "), f"{info[k]:,.0f}") for k in keep if k in info],
             *[(f"change of {k} vs parent", f"{v:+.4f}") for k, v in
               (info.get("change") or {}).items() if v is not None]]
    return ["<h3>Compression</h3>", table_html(pd.DataFrame(facts, columns=["", "value"])),
            bullet_list(list(info.get("notes") or []))]


def privacy_section(settings: Settings, run: Run) -> str:
    """The "Privacy and compactness" section of the review report."""
    parts = ["<h3>Differential privacy</h3>",
             bullet_list(guarantee_lines(run.config.extra.get("privacy")))]
    audit = _audit(settings, run)
    parts.append("<h3>Membership-inference audit</h3>")
    if audit is None:
        parts.append(paragraph("No audit: the run's training rows cannot be told apart again "
                               "(a streamed run, or a table changed since training)."))
    else:
        parts += [paragraph(audit["verdict"]), table_html(_audit_rows(audit)),
                  paragraph(f"{audit['members']:,} training rows against "
                            f"{audit['non_members']:,} test rows; 0.5 is chance.")]
    return section("Privacy and compactness", *parts, *_compression(run), anchor="privacy")
