"""Evaluate: test-split metrics at a threshold, confusion matrix, ROC and precision-recall curves."""

import streamlit as st

from core.metrics import evaluate_binary
from core.plots import confusion_figure, pr_figure, roc_figure
from ui import resources, state
from ui.widgets import fmt, page_setup, require_run

data_dir = page_setup()
st.title("Evaluate")
run = require_run(data_dir, "evaluate__run")
c = resources.curves(data_dir, run.run_id)
positive = run.config["positive_class"]
st.caption(f"Test split: **{len(c['y']):,} rows** never seen in training · positive class "
           f"**{positive}** · base rate {c['base_rate']:.1%}")


@st.fragment
def threshold_view() -> None:
    """Threshold control and everything that depends on it (reruns alone)."""
    t = st.slider("Decision threshold (score ≥ threshold → predicted positive)", 0.0, 1.0,
                  state.threshold(), 0.01, key="evaluate__threshold")
    state.set_threshold(t)
    rep = evaluate_binary(c["y"], c["s"], t, table=c["table"], ranking=c["ranking"])
    m = rep.metrics
    cols = st.columns(6)
    for col, key, label in zip(cols, ("accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc"),
                               ("Accuracy", "Precision", "Recall", "F1", "ROC-AUC", "PR-AUC")):
        col.metric(label, fmt(m[key]))
    for note in rep.notes:
        st.info(note)
    (tn, fp), (fn, tp) = rep.confusion
    fpr = fp / (fp + tn) if fp + tn else 0.0
    left, mid, right = st.columns(3)
    negative = run.config.get("negative_class", "negative")
    left.plotly_chart(confusion_figure(rep.confusion, positive, negative), key="evaluate__cm")
    mid.plotly_chart(roc_figure(c["roc"]["fpr"], c["roc"]["tpr"], m["roc_auc"],
                                (fpr, m["recall"] or 0.0)), key="evaluate__roc")
    right.plotly_chart(pr_figure(c["pr"]["recall"], c["pr"]["precision"], m["pr_auc"],
                                 c["base_rate"], (m["recall"] or 0.0, m["precision"] or 0.0)),
                       key="evaluate__pr")


threshold_view()
