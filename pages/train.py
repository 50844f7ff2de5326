"""Train: pick table, target, task, positive class and features; configure a model; train in the
background with live progress."""

import streamlit as st

from core.specs import MISSING_LABELS, MISSING_POLICIES, TASKS, DatasetSpec
from ui import resources, state
from ui.leaderboard_views import leaderboard_section
from ui.privacy_views import dp_settings
from ui.train_job_views import recent_jobs_table, show_job
from ui.train_views import feature_picker, model_form, reattach
from ui.widgets import KEEP, bold, errors_shown, initial, link_to, page_setup

data_dir = page_setup()
st.title("Train")
st.caption(f"Training device: **{resources.device_label()}**")
reattach(data_dir)  # a reloaded page follows its running job and shows its settings again

with errors_shown():
    infos = {t.table: t for t in resources.tables(data_dir)}
tables = list(infos)
if not tables:
    st.info("Load a table on the Data page first.")
    link_to("pages/data.py", "Go to Data", ":material/database:")
    st.stop()
current = state.active_table()
table = st.selectbox("Table", tables, key="train__table",
                     index=initial("train__table",
                                   tables.index(current) if current in tables else 0, 0))
state.set_active_table(table)
stamp = (infos[table].rows, infos[table].columns)  # changes when the table is replaced
with errors_shown():
    columns = [c for c, _ in resources.table_layout(data_dir, table, stamp)[0]]
default_target = "y" if "y" in columns else columns[-1]
left, right = st.columns([2, 1])
target = left.selectbox("Target column (what to predict)", columns, key="train__target",
                        index=initial("train__target", columns.index(default_target), 0), **KEEP)
with errors_shown():
    summary, inferred, why = resources.target_info(data_dir, table, target, stamp)
task_key = f"train__task_{target}"
task = right.selectbox("Task", TASKS, index=initial(task_key, TASKS.index(inferred), 0),
                       key=task_key, help=f"Inferred: {inferred} ({why}).", **KEEP)
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
    pos_key = f"train__positive_{target}"
    positive = st.radio("Positive class (the outcome you want to find)", summary.classes,
                        index=initial(pos_key, summary.classes.index(summary.suggested_positive),
                                      0),
                        horizontal=True, key=pos_key, help=summary.reason, **KEEP)
    st.caption(f"Suggested because {summary.reason}. Positive class: {bold(positive)}.")
    share = summary.counts[summary.classes.index(positive)] / sum(summary.counts)

features = feature_picker(data_dir, table, target, positive, task, stamp, columns)
if features:
    if len(features) >= infos[table].rows * 0.8:
        st.warning(f"{len(features)} features for {infos[table].rows:,} rows: the model can "
                   f"memorise the rows instead of learning a pattern. Use fewer features or more "
                   f"rows.")
    missing = st.radio("Rows with a missing feature value", MISSING_POLICIES, horizontal=True,
                       format_func=MISSING_LABELS.get, key=f"train__missing_{table}", **KEEP,
                       help="Either way the run's notes say how many rows and values it "
                            "concerned.")
    spec = DatasetSpec(table, target, positive, tuple(features), task=task, missing=missing)
    dp = dp_settings(data_dir, table, tuple(features), stamp)
    model_form(data_dir, task, share, spec, infos[table].rows, dp)
    leaderboard_section(data_dir, spec)
else:
    st.error("Choose at least one feature column.")

if state.active_job():  # right under the Train button, where the analyst is looking
    show_job(data_dir)
recent_jobs_table(data_dir)

if st.checkbox("This table has a randomised treatment column", key="train__uplift"):
    from ui.uplift_views import uplift_training_form  # uplift section (Impact engineer)

    uplift_training_form(data_dir, table, target, positive)
