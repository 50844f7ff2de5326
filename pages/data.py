"""Data: upload a file (encoding, separator and header detected, with a preview), list tables,
and per table: preview, columns, profile, personal data and a read-only SQL console."""

import streamlit as st

from ui import resources
from ui.data_views import table_tabs, tables_section, upload_section
from ui.widgets import page_setup

data_dir = page_setup()
settings = resources.settings()
st.title("Data")
st.caption("Load a file into LiftLab's DuckDB warehouse. Encoding, separator and header are "
           "detected and shown before loading; the original file is never changed, and a "
           "failed load leaves nothing behind.")

upload_section(settings)
selected = tables_section(settings)
if selected is None:
    st.stop()
table, info = selected
table_tabs(settings, table, info)
