"""Data: upload a file into the warehouse, list tables, preview and column types."""

import streamlit as st

from core.ingest import SUPPORTED, IngestOptions, ingest_bytes
from core.warehouse import connect, list_tables, original_names, read_table, table_columns
from ui import resources, state
from ui.widgets import errors_shown, page_setup

data_dir = page_setup()
settings = resources.settings()
st.title("Data")
st.caption("Load a file into LiftLab's DuckDB warehouse. Separator, quoting and encoding are "
           "detected for you; the original file is never changed.")

limit_mb = st.get_option("server.maxUploadSize")
upload = st.file_uploader(
    f"Upload CSV, TSV, Parquet, Excel or JSON (up to {limit_mb} MB)",
    type=[s.lstrip(".") for s in SUPPORTED], key="data__upload",
)
if upload is not None and st.button("Load into warehouse", type="primary", key="data__load"):
    with st.spinner(f"Loading {upload.name} …"), errors_shown(), connect(settings) as con:
        report = ingest_bytes(con, upload, upload.name, IngestOptions(),
                              workdir=settings.data_dir)
    state.set_active_table(report.table)
    st.success(f"Loaded **{report.rows:,} rows** × {len(report.columns)} columns into table "
               f"`{report.table}` (encoding {report.encoding or 'binary'}, separator "
               f"{report.delimiter!r}).")
    for warning in report.warnings:
        st.warning(warning)

with errors_shown(), connect(settings) as con:
    tables = list_tables(con)
if not tables:
    st.info("The warehouse is empty. Upload a file above to start.")
    st.stop()

st.subheader("Tables")
st.dataframe(
    [{"table": t.table, "rows": t.rows, "columns": t.columns, "source": t.source} for t in tables],
    hide_index=True, width="stretch",
)
names = [t.table for t in tables]
current = state.active_table()
table = st.selectbox("Table", names, index=names.index(current) if current in names else 0,
                     key="data__table")
state.set_active_table(table)

with errors_shown(), connect(settings) as con:
    preview = read_table(con, table, limit=100)
    columns = table_columns(con, table)
    originals = original_names(con, table)
tab_preview, tab_types = st.tabs(["Preview (first 100 rows)", "Column types"])
tab_preview.dataframe(preview, hide_index=True, width="stretch")
tab_types.dataframe(
    [{"column": c, "type": t, "header in file": originals.get(c, c)} for c, t in columns],
    hide_index=True, width="stretch",
)
