"""The report's fairness section: the Evaluate page's group comparison at the report's
threshold (Fairlearn), for the sensitive column the analyst chose."""

from __future__ import annotations

import pandas as pd

from core.config import Settings
from core.errors import AppError
from core.fairness import fairness_figure, run_fairness
from core.report._html import figure_html, paragraph, section, table_html
from core.runs import Run

_NAMES = {"demographic_parity_difference": "Demographic parity difference",
          "demographic_parity_ratio": "Demographic parity ratio",
          "equalized_odds_difference": "Equalised odds difference",
          "equalized_odds_ratio": "Equalised odds ratio"}


def fairness_section(settings: Settings, run: Run, by: str | None, threshold: float,
                     n_boot: int = 500) -> str | None:
    """Per-group metrics and disparities with 95% intervals, or None without a column.

    A column that cannot be compared (one value, unknown) becomes a note in the section
    instead of failing the whole report.
    """
    if not by:
        return None
    try:
        rep = run_fairness(settings, run, by, threshold, n_boot)
    except AppError as err:
        return section("Fairness", paragraph(f"Fairness by '{by}' could not be computed: "
                                             f"{err}", "note"), anchor="fairness")
    rows = [{"measure": _NAMES[k], "value": v,
             "95% low": (rep.ci95.get(k) or [None, None])[0],
             "95% high": (rep.ci95.get(k) or [None, None])[1]}
            for k, v in rep.disparities.items()]
    groups = pd.DataFrame([{k: v for k, v in g.items() if k != "ci95"} for g in rep.groups])
    return section(
        "Fairness",
        paragraph(f"Decisions at threshold {rep.threshold:.4f} compared across the groups of "
                  f"'{by}' on the test split (Fairlearn's MetricFrame; intervals: bootstrap "
                  f"95% over {rep.n_boot} resamples). A demographic parity ratio below 0.8 "
                  f"fails the four-fifths rule of thumb."),
        table_html(pd.DataFrame(rows)), table_html(groups),
        figure_html(fairness_figure(rep)), *(paragraph(n, "note") for n in rep.notes),
        anchor="fairness")
