"""Evaluate page: fairness of the decision at the page's threshold across the groups of a
sensitive column (Fairlearn), with bootstrap intervals."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.fairness import fairness_figure
from ui import resources
from ui.widgets import KEEP, errors_shown, fmt

SENSITIVE_HINTS = ("sex", "gender", "race", "ethnic", "age", "marital", "nationality",
                   "native", "religion", "disab", "citizen")
LABELS = {"demographic_parity_difference": ("Demographic parity difference",
                                            "Largest minus smallest selection rate across "
                                            "groups; 0 = every group selected equally often."),
          "demographic_parity_ratio": ("Demographic parity ratio",
                                       "Smallest over largest selection rate; below 0.8 fails "
                                       "the 'four-fifths' rule of thumb."),
          "equalized_odds_difference": ("Equalised odds difference",
                                        "The larger of the recall and false-positive-rate gaps "
                                        "between groups; 0 = equal error rates."),
          "equalized_odds_ratio": ("Equalised odds ratio",
                                   "The smaller of the recall and false-positive-rate ratios.")}


def _candidates(run) -> list[str]:
    columns = [*run.features, *[c for c in run.config.excluded_columns
                                if c not in run.features]]
    hinted = [c for c in columns if any(h in c.lower() for h in SENSITIVE_HINTS)]
    return [*hinted, *[c for c in columns if c not in hinted]]


def fairness_view(data_dir: str, run, threshold: float) -> None:
    """Per-group metrics, parity differences and ratios with 95% intervals, and a chart."""
    st.subheader("Fairness")
    key = f"evaluate__fair_{run.run_id}"
    by = st.selectbox("Sensitive column (a feature, or a column the model never saw)",
                      ["(choose a column)", *_candidates(run)], key=key,
                      help="Columns whose names suggest a protected attribute come first; the "
                           "review report (Explain) adds a fairness section for it.", **KEEP)
    if by == "(choose a column)":
        st.caption("Pick a column such as sex, race or age band to compare how often each "
                   "group is selected and how often the model is wrong for it (Fairlearn's "
                   "MetricFrame).")
        return
    with errors_shown(), st.spinner("Comparing groups (500 bootstrap resamples) …"):
        rep = resources.fairness(data_dir, run.run_id, by, round(float(threshold), 4))
    st.caption(f"At threshold {rep.threshold:.4f} on the test split · intervals: bootstrap "
               f"95% over {rep.n_boot} resamples of the test rows")
    for col, (name, (label, why)) in zip(st.columns(4), LABELS.items()):
        ci = rep.ci95.get(name)
        col.metric(label, fmt(rep.disparities[name]),
                   help=why + (f" 95% interval {ci[0]:.3f} – {ci[1]:.3f}." if ci else ""))
    ratio = rep.disparities["demographic_parity_ratio"]
    if ratio is not None and ratio < 0.8:
        rated = [g for g in rep.groups if g["selection_rate"] is not None]
        lo = min(rated, key=lambda g: g["selection_rate"])
        hi = max(rated, key=lambda g: g["selection_rate"])
        small = (f" '{lo['group']}' has only {lo['rows']} test rows, so this may be chance."
                 if lo["rows"] < 30 else "")
        st.warning(f"'{lo['group']}' is selected at {lo['selection_rate']:.1%}, "
                   f"{ratio:.0%} of the rate of '{hi['group']}' ({hi['selection_rate']:.1%}): "
                   f"below the four-fifths (80%) rule of thumb.{small}",
                   icon=":material/balance:")
    if rep.notes:
        st.caption(" ".join(f":material/info: {n}" for n in rep.notes))
    left, right = st.columns([3, 2])
    left.plotly_chart(fairness_figure(rep), key="evaluate__fairness_chart")
    table = pd.DataFrame([{k: v for k, v in g.items() if k != "ci95"} for g in rep.groups])
    right.dataframe(table, hide_index=True, width="stretch", column_config={
        c: st.column_config.NumberColumn(format="%.3f") for c in
        ("selection_rate", "recall", "false_positive_rate", "precision", "roc_auc")})
