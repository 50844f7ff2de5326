"""The review report's monitoring section: the run's newest monitoring result and its place in
the model registry (champion or not, promotions), shown only when such results exist."""

from __future__ import annotations

import pandas as pd

from core.config import Settings
from core.monitor import list_models, load_monitor, monitor_history, timeline_figure
from core.report._html import bullet_list, figure_html, paragraph, section, table_html
from core.runs import Run


def _chunk_rows(result: dict) -> pd.DataFrame:
    rows = []
    for c in result["chunks"]:
        est, real = c.get("estimated") or {}, c.get("realized") or {}
        ci = (real.get("ci95") or {}).get("roc_auc")
        drifted = [f["feature"] for f in c["drift"]["features"] if f["drifted"]]
        rows.append({"chunk": c["chunk"], "rows": c["rows"],
                     "reliable": "yes" if c["reliable"] else "no",
                     "drifted features": f"{len(drifted)} of {c['drift']['n_features']}"
                                         + (f" ({', '.join(drifted[:3])}…)" if drifted else ""),
                     "ROC-AUC estimated": est.get("roc_auc"),
                     "ROC-AUC realised": real.get("roc_auc"),
                     "95% CI": f"{ci[0]:.3f} – {ci[1]:.3f}" if ci else "—"})
    return pd.DataFrame(rows)


def _registry_lines(settings: Settings, run_id: str) -> list[str]:
    lines = []
    for m in list_models(settings):
        version = next((v["version"] for v in m["versions"] if v["run_id"] == run_id), None)
        if version is None:
            continue
        role = "the champion" if m["champion"] == run_id else f"not the champion ({m['champion']})"
        lines.append(f"Model '{m['model']}', version {version}: {role}.")
        for h in m["history"]:
            if run_id in (h["from"], h["to"]):
                lines.append(f"{h['at'][:16]}: {h['from'] or '(none)'} → {h['to']}, because "
                             f"“{h['why']}”.")
    return lines


def monitoring_section(settings: Settings, run: Run) -> str | None:
    """The monitoring section, or None when the run was never monitored nor registered.

    Args:
        settings: Workspace settings.
        run: The run under review.

    Returns:
        An HTML section: the newest result's table, chunking, alerts, per-chunk table and
        ROC-AUC timeline, and the run's model names and promotions.
    """

    stored = monitor_history(settings, run_id=run.run_id)
    registry = _registry_lines(settings, run.run_id)
    if not stored and not registry:
        return None
    parts = []
    if stored:
        res = load_monitor(settings, stored[0]["monitor_id"])
        how = ("by " + res["chunking"]["period"] + " of " + res["chunking"]["time_column"]
               if res["chunking"].get("time_column") else
               f"{res['chunking']['n_chunks']} equal chunks")
        parts += [paragraph(f"Newest of {len(stored)} monitoring result(s): table "
                            f"'{res['table']}' on {res['created_at'][:16].replace('T', ' ')}, "
                            f"{how}, against the run's test split "
                            f"({res['reference']['rows']:,} rows). Dataset drift: "
                            f"{'yes' if res['dataset_drift'] else 'no'}."),
                  bullet_list(res["alerts"][:10]) or paragraph("No alert."),
                  table_html(_chunk_rows(res))]
        if any(c.get("estimated") for c in res["chunks"]):
            parts.append(figure_html(timeline_figure(res, "roc_auc")))
            parts.append(paragraph(res["chunks"][0]["estimated"]["assumption"], "muted"))
    if registry:
        parts.append(bullet_list(registry))
    return section("Monitoring", *parts, anchor="monitoring")
