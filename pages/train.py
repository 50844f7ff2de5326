"""Train: pick table, target, positive class and features; configure a model; train in the
background with live progress."""

import streamlit as st

from core.errors import AppError
from core.features import summarize_target
from core.specs import ACTIVATIONS, MODEL_LABELS, MODELS, DatasetSpec, ModelConfig
from core.warehouse import connect, list_tables, table_columns
from ui import resources, state
from ui.train_views import show_job
from ui.widgets import errors_shown, link_to, page_setup, show_error

data_dir = page_setup()
settings = resources.settings()
st.title("Train")
st.caption(f"Training device: **{resources.device_label()}**")

with errors_shown(), connect(settings) as con:
    tables = [t.table for t in list_tables(con)]
if not tables:
    st.info("Load a table on the Data page first.")
    link_to("pages/data.py", "Go to Data", ":material/database:")
    st.stop()
current = state.active_table()
table = st.selectbox("Table", tables, index=tables.index(current) if current in tables else 0,
                     key="train__table")
state.set_active_table(table)
with errors_shown(), connect(settings) as con:
    columns = [c for c, _ in table_columns(con, table)]
default_target = "y" if "y" in columns else columns[-1]
target = st.selectbox("Target column (what to predict)", columns,
                      index=columns.index(default_target), key="train__target")
with errors_shown(), connect(settings) as con:
    summary = summarize_target(con, table, target)

balance = ", ".join(f"{c}: {n:,}" for c, n in zip(summary.classes[:6], summary.counts[:6]))
st.caption(f"Class balance: {balance}" + (f" · {summary.missing:,} missing" if summary.missing else ""))
if len(summary.classes) != 2:
    st.error(f"'{target}' has {len(summary.classes)} classes; LiftLab trains binary targets. "
             "Choose a yes/no column.")
    st.stop()
positive = st.radio("Positive class (the outcome you want to find)", summary.classes,
                    index=summary.classes.index(summary.suggested_positive), horizontal=True,
                    key="train__positive", help=summary.reason)
st.caption(f"Suggested because {summary.reason}.")
share = summary.counts[summary.classes.index(positive)] / sum(summary.counts)

others = [c for c in columns if c != target]
leaky = [c for c in others if c == "duration"]
features = st.multiselect("Feature columns", others, default=[c for c in others if c not in leaky],
                          key="train__features",
                          help="Leave out columns only known after the outcome (e.g. bank's "
                               "call 'duration'): they leak the answer.")

with st.form("train__form"):
    model = st.selectbox("Model", MODELS, format_func=MODEL_LABELS.get, key="train__model")
    c1, c2, c3 = st.columns(3)
    layers = c1.text_input("Hidden layers (units, comma-separated)", "128,64", key="train__layers")
    activation = c2.selectbox("Activation", ACTIVATIONS, key="train__activation")
    dropout = c3.slider("Dropout", 0.0, 0.8, 0.2, 0.05, key="train__dropout")
    lr = c1.number_input("Learning rate", 1e-5, 1.0, 1e-3, format="%.5f", key="train__lr")
    epochs = c2.number_input("Epochs (max)", 1, 500, 30, key="train__epochs")
    batch = c3.number_input("Batch size", 8, 65536, 256, key="train__batch")
    early = c1.checkbox("Early stopping (restore best weights)", True, key="train__early")
    weights = c2.checkbox("Class weights (balanced)", share < 0.2, key="train__weights",
                          help=f"Positive class share is {share:.1%}; weights help when it is rare.")
    seed = c3.number_input("Seed", 0, 2**31 - 1, 42, key="train__seed")
    submitted = st.form_submit_button("Train", type="primary")

if submitted and not features:
    st.error("Choose at least one feature column.")
elif submitted:
    try:
        units = tuple(int(u) for u in layers.replace(" ", "").split(",") if u)
        spec = DatasetSpec(table, target, positive, tuple(features), seed=int(seed))
        cfg = ModelConfig(model, units, activation, dropout, float(lr), int(epochs), int(batch),
                          early, class_weight="balanced" if weights else "none")
        state.set_active_job(resources.job_manager(data_dir).submit_training(spec, cfg))
    except ValueError:
        st.error("Hidden layers must be whole numbers separated by commas, e.g. 128,64.")
    except AppError as err:
        show_error(err)

if state.active_job():
    show_job(data_dir)
