"""Evaluate page views: the threshold control and everything it drives, threshold policies,
charts, segments; multiclass and regression runs."""

from __future__ import annotations

import sys

import pandas as pd
import streamlit as st

from core.errors import AppError
from core.evaluate import (
    ThresholdPolicy,
    choose_run_threshold,
    evaluate_multiclass,
    evaluate_regression,
    multiclass_confusion_figure,
    predicted_actual_figure,
    residual_figure,
    threshold_figures,
)
from ui import resources, state
from ui.fairness_views import fairness_view
from ui.widgets import bold, errors_shown, fmt

THRESHOLD_KEY = "evaluate__threshold"
POLICY_NOTE = "evaluate__policy_note"
THRESHOLD_RUN = "evaluate__threshold_run"
METRICS = (("accuracy", "Accuracy"), ("balanced_accuracy", "Balanced accuracy"),
           ("precision", "Precision"), ("recall", "Recall"), ("specificity", "Specificity"),
           ("f1", "F1"), ("roc_auc", "ROC-AUC"), ("pr_auc", "PR-AUC"), ("log_loss", "Log loss"),
           ("brier", "Brier score"))
HELP = {"balanced_accuracy": "Mean of recall and specificity: accuracy that ignores class balance.",
        "pr_auc": "Average precision (area under the precision-recall curve).",
        "log_loss": "Cross-entropy of the scores; lower is better.",
        "brier": "Mean squared error of the scores as probabilities; lower is better."}
POLICY_LABELS = {"best_f1": "Best F1", "recall": "Reach a target recall",
                 "precision": "Keep a target precision", "top_k": "Flag the top share",
                 "cost": "Lowest expected cost"}


def _note(note: str) -> None:
    """A metric note: a warning when the evaluation set is too small to trust."""
    if note.startswith("Unreliable:"):
        st.warning(note, icon=":material/warning:")
    else:
        st.info(note)


def show(data_dir: str, run) -> None:
    """The Evaluate page body for a run of any task."""
    resources.freeze_heap("tensorflow" in sys.modules)
    task = run.config.task
    if task == "binary":
        binary_view(data_dir, run)
    elif task == "multiclass":
        multiclass_view(data_dir, run)
    elif task == "regression":
        regression_view(data_dir, run)
    else:
        st.info(f"This is a '{task}' run; its evaluation lives on the Impact page.")


def _apply_policy(ev, policy: ThresholdPolicy, run) -> None:
    """Button callback: set the threshold the policy picks on the run's validation split
    (runs before the slider exists)."""
    try:
        choice = choose_run_threshold(run.valid_scores, ev.table, policy)
    except AppError as err:
        st.session_state[POLICY_NOTE] = ("error", str(err))
        return
    t = min(max(choice.threshold, 0.0), 1.0)
    st.session_state[THRESHOLD_KEY] = t
    state.set_threshold(t)
    st.session_state[POLICY_NOTE] = ("success", choice.explanation)


def policy_picker(ev, run) -> None:
    """Policies that pick the threshold for the analyst."""
    with st.expander("Pick the threshold for me", icon=":material/tune:"):
        kind = st.radio("Policy", list(POLICY_LABELS), format_func=POLICY_LABELS.get,
                        horizontal=True, key="evaluate__policy")
        st.caption("The threshold is chosen on the validation split; the metrics below are "
                   "then measured on the test split, which took no part in the choice.")
        target, c_fp, c_fn = None, 1.0, 1.0
        if kind in ("recall", "precision", "top_k"):
            label = {"recall": "Target recall", "precision": "Target precision",
                     "top_k": "Share of rows to flag"}[kind]
            target = st.number_input(label, 0.01, 1.0, 0.8 if kind != "top_k" else 0.1, 0.01,
                                     key=f"evaluate__target_{kind}")
        elif kind == "cost":
            left, right = st.columns(2)
            c_fp = left.number_input("Cost of a false positive (acting in vain)", 0.0, 1e9, 1.0,
                                     key="evaluate__cost_fp")
            c_fn = right.number_input("Cost of a false negative (a missed positive)", 0.0, 1e9,
                                      5.0, key="evaluate__cost_fn")
        with errors_shown():
            policy = ThresholdPolicy(kind, target, c_fp, c_fn)
        st.button("Apply", key="evaluate__apply", on_click=_apply_policy,
                  args=(ev, policy, run))
        note = st.session_state.get(POLICY_NOTE)
        if note:
            (st.success if note[0] == "success" else st.warning)(note[1])


def _metrics_grid(rep) -> None:
    for row in (METRICS[:5], METRICS[5:]):
        for col, (key, label) in zip(st.columns(5), row):
            ci = rep.ci95.get(key)
            help_text = " ".join(filter(None, [HELP.get(key), f"95% bootstrap interval "
                                                              f"{ci[0]:.3f} – {ci[1]:.3f}."
                                               if ci else None]))
            col.metric(label, fmt(rep.metrics[key]), help=help_text or None)


def _segment_view(data_dir: str, run, threshold: float) -> None:
    st.subheader("Segments")
    left, right = st.columns([2, 1])
    names = resources.column_names(data_dir, run.run_id)  # as the analyst's file named them
    column = left.selectbox("Segment by", ["(choose a column)", *run.features],
                            format_func=lambda c: names.get(c, c), key="evaluate__segment")
    metric = right.selectbox("Worst first by", ["f1", "recall", "precision", "roc_auc",
                                                "accuracy"], key="evaluate__segment_sort")
    if column == "(choose a column)":
        return
    table = resources.segments(data_dir, run.run_id, column).at(threshold, metric)
    st.caption(f"Every metric per segment of **{names.get(column, column)}** at threshold {threshold:.4f}, worst "
               f"{metric} first. Empty cells are undefined, never 0: precision where nothing "
               f"is predicted positive, recall where the segment has no positives, ROC-AUC "
               f"where it has one class. F1 is 0 where the segment has positives and none is "
               f"found. Segments under 30 rows or 10 positives are listed last ('small'): their "
               f"metrics move a lot by chance.")
    config = {c: st.column_config.NumberColumn(format="%.3f") for c in table.columns
              if pd.api.types.is_float_dtype(table[c])}
    config["base_rate"] = st.column_config.NumberColumn("base rate", format="percent")
    config["roc_auc"] = st.column_config.NumberColumn("ROC-AUC", format="%.3f")
    st.dataframe(table, hide_index=True, width="stretch", column_config=config)


@st.fragment
def threshold_view(data_dir: str, run) -> None:
    """Threshold control and everything that depends on it (reruns alone, instantly)."""
    ev = resources.evaluation(data_dir, run.run_id)
    if st.session_state.get(THRESHOLD_RUN) != run.run_id:  # another run: its own threshold
        st.session_state[THRESHOLD_RUN] = run.run_id
        st.session_state[THRESHOLD_KEY] = state.threshold()
        st.session_state.pop(POLICY_NOTE, None)
    policy_picker(ev, run)
    st.session_state.setdefault(THRESHOLD_KEY, state.threshold())
    t = st.slider("Decision threshold (score ≥ threshold → predicted positive)", 0.0, 1.0,
                  step=0.0001, format="%.4f", key=THRESHOLD_KEY)
    state.set_threshold(t)
    rep = ev.at(t)
    _metrics_grid(rep)
    for note in rep.notes:
        _note(note)
    figs = threshold_figures(ev, rep)
    for row in (("confusion", "roc", "pr"), ("sweep", "distribution")):
        for col, name in zip(st.columns(3), row):
            col.plotly_chart(figs[name], key=f"evaluate__{name}")
    _segment_view(data_dir, run, t)
    fairness_view(data_dir, run, t)


def binary_view(data_dir: str, run) -> None:
    """A binary run: metrics with intervals at a threshold, policies, charts, segments."""
    with errors_shown():
        ev = resources.evaluation(data_dir, run.run_id)
    st.caption(f"Test split: **{len(ev.y):,} rows** never seen in training · positive class "
               f"{bold(ev.positive)} (the class chosen when training, whatever the label "
               f"order) · base rate {ev.base_rate:.1%} · intervals: bootstrap 95%")
    threshold_view(data_dir, run)
    st.subheader("Calibration and gains")
    figs = resources.static_figures(data_dir, run.run_id)
    for col, name in zip(st.columns(3), ("calibration", "gains", "lift")):
        if name in figs:
            col.plotly_chart(figs[name], key=f"evaluate__{name}")


def _metric_row(metrics: dict, labels: dict) -> None:
    for col, (key, label) in zip(st.columns(len(labels)), labels.items()):
        col.metric(label, fmt(metrics.get(key)))


def multiclass_view(data_dir: str, run) -> None:
    """A multiclass run: averaged and per-class metrics, confusion matrix."""
    with errors_shown():
        s = resources.scored(data_dir, run.run_id)
        rep = evaluate_multiclass(s.y, s.output, s.classes)
    st.caption(f"Test split: **{len(s.y):,} rows**, {len(s.classes)} classes; prediction = the "
               f"most probable class.")
    _metric_row(rep.metrics, {"accuracy": "Accuracy", "balanced_accuracy": "Balanced accuracy",
                              "f1_macro": "F1 (macro)", "f1_weighted": "F1 (weighted)",
                              "roc_auc_ovr": "ROC-AUC (one-vs-rest)", "log_loss": "Log loss"})
    for note in rep.notes:
        _note(note)
    left, right = st.columns([3, 2])
    left.plotly_chart(multiclass_confusion_figure(rep.confusion, rep.classes),
                      key="evaluate__mc_confusion")
    right.dataframe(pd.DataFrame(rep.per_class), hide_index=True, width="stretch")


def regression_view(data_dir: str, run) -> None:
    """A regression run: error metrics, predicted against actual, residuals."""
    with errors_shown():
        s = resources.scored(data_dir, run.run_id)
        rep = evaluate_regression(s.y, s.output)
    st.caption(f"Test split: **{len(s.y):,} rows** never seen in training.")
    _metric_row(rep.metrics, {"mae": "MAE", "rmse": "RMSE", "r2": "R²",
                              "median_ae": "Median abs. error", "mape": "MAPE", "bias": "Bias"})
    for note in rep.notes:
        _note(note)
    left, right = st.columns(2)
    left.plotly_chart(predicted_actual_figure(s.y, s.output), key="evaluate__pred_actual")
    right.plotly_chart(residual_figure(s.y, s.output), key="evaluate__residuals")
