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
for tab, section in ((quality, views.results_section), (explore, views.explore_section),
                     (value, views.value_section)):
    with tab:
        if run is not None:
            section(run)
        elif tab is not quality:
            st.info("No recommender run yet: train one in the first tab.")
