"""Train: pick table, target, task, positive class and features; configure a model; train in the
background with live progress."""

import streamlit as st

from core.errors import AppError
from core.specs import TASKS, DatasetSpec
from ui import resources, state
from ui.privacy_views import dp_settings, with_dp
from ui.train_views import model_form, recent_jobs_table, show_job
from ui.widgets import KEEP, errors_shown, link_to, page_setup, show_error

data_dir = page_setup()
st.title("Train")
st.caption(f"Training device: **{resources.device_label()}**")

with errors_shown():
    infos = {t.table: t for t in resources.tables(data_dir)}
tables = list(infos)
if not tables:
    st.info("Load a table on the Data page first.")
    link_to("pages/data.py", "Go to Data", ":material/database:")
    st.stop()
current = state.active_table()
table = st.selectbox("Table", tables, index=tables.index(current) if current in tables else 0,
                     key="train__table")
state.set_active_table(table)
stamp = (infos[table].rows, infos[table].columns)  # changes when the table is replaced
with errors_shown():
    columns = [c for c, _ in resources.table_layout(data_dir, table, stamp)[0]]
default_target = "y" if "y" in columns else columns[-1]
left, right = st.columns([2, 1])
target = left.selectbox("Target column (what to predict)", columns,
                        index=columns.index(default_target), key="train__target", **KEEP)
with errors_shown():
    summary, inferred, why = resources.target_info(data_dir, table, target, stamp)
task = right.selectbox("Task", TASKS, index=TASKS.index(inferred), key=f"train__task_{target}",
                       help=f"Inferred: {inferred} ({why}).", **KEEP)
balance = ", ".join(f"{c}: {n:,}" for c, n in zip(summary.classes[:8], summary.counts[:8]))
if task != "regression":
    st.caption(f"Class balance: {balance}" +
               (f" · {summary.missing:,} missing" if summary.missing else ""))
positive, share = None, 1.0
if task == "binary":
    if len(summary.classes) != 2:
        st.error(f"'{target}' has {len(summary.classes)} classes; a binary task needs two. "
                 "Choose multiclass or another column.")
        st.stop()
    positive = st.radio("Positive class (the outcome you want to find)", summary.classes,
                        index=summary.classes.index(summary.suggested_positive), horizontal=True,
                        key=f"train__positive_{target}", help=summary.reason, **KEEP)
    st.caption(f"Suggested because {summary.reason}.")
    share = summary.counts[summary.classes.index(positive)] / sum(summary.counts)

others = [c for c in columns if c != target]
leaks = (resources.leaking_columns(data_dir, table, target, positive, stamp)
         if task == "binary" else {})
leaky = [c for c in others if c in leaks]
features = st.multiselect("Feature columns", others, default=[c for c in others if c not in leaky],
                          key=f"train__features_{table}_{target}",
                          help="Leave out columns only known after the outcome (e.g. bank's "
                               "call 'duration'): they leak the answer.", **KEEP)
kept = [c for c in leaky if c in features]
if kept:
    st.warning(f"{', '.join(kept)} is a feature, but it is usually only known after the "
               f"outcome: the model would learn the answer, and its ROC-AUC would overstate "
               f"what it can do beforehand. Leave it out unless you know it is known in time. "
               + " ".join(leaks[c] for c in kept), icon=":material/warning:")
elif leaky:
    st.caption(f"Left out by default because it leaks the outcome: {', '.join(leaky)}.")

dp = dp_settings(data_dir, table, tuple(features), stamp)
choice = with_dp(model_form(task, share), dp)
if choice is not None and not features:
    st.error("Choose at least one feature column.")
elif choice is not None:
    try:
        spec = DatasetSpec(table, target, positive, tuple(features), seed=choice.seed, task=task)
        job_id = resources.job_manager(data_dir).submit_training(
            spec, choice.config, choice.cv, choice.tune_trials, choice.tune_timeout_s)
        state.set_active_job(job_id)
        st.toast(f"Training started: {choice.config.model} on {table}. Progress is shown "
                 f"under the Train button; the sidebar lists running jobs on every page.",
                 icon=":material/model_training:")
    except AppError as err:
        show_error(err)

if state.active_job():  # right under the Train button, where the analyst is looking
    show_job(data_dir)
recent_jobs_table(data_dir)

if st.checkbox("This table has a randomised treatment column", key="train__uplift"):
    from ui.uplift_views import uplift_training_form  # uplift section (Impact engineer)

    uplift_training_form(data_dir, table, target, positive)
