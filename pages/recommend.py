"""Recommend: next-item recommendations from behaviour sequences (who took what, when), each
model beside the most-popular and item-to-item baselines, and what better lists are worth."""

import streamlit as st

from ui import recommend_views as views
from ui.widgets import page_setup

data_dir = page_setup()
st.title("Recommend")
st.caption("Each customer's items in time order → a network predicts the next item → every "
           "item of the catalogue is ranked for every held-out customer.")

build, quality, explore, value = st.tabs(
    ["Sequences & training", "Quality", "Users & items", "Business value"])
with build:
    setup = views.event_setup(data_dir)
    if setup is not None:
        cols, opts = setup
        opts = views.sequence_preview(data_dir, cols, opts)
        views.train_form(data_dir, cols, opts)
    views.show_job(data_dir)

with quality:
    run = views.pick_run(data_dir)
    if run is not None:
        views.results_section(run)
if run is not None:
    with explore:
        views.explore_section(run)
    with value:
        views.value_section(run)
