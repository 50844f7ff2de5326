"""Streamlit's post-run cleanup must not clear Keras's session on LiftLab's pages (it ran
``gc.collect()`` after every poll of a running job, see :func:`ui.widgets.keep_keras_session`)."""

from __future__ import annotations

import keras
from streamlit.runtime.scriptrunner import script_runner
from streamlit.testing.v1 import AppTest

PLAIN = "import streamlit as st\nst.write('a page that does not set LiftLab up')\n"
LIFTLAB = "from ui.widgets import page_setup\npage_setup()\n"


def test_pages_keep_keras_session_while_streamlit_alone_clears_it(monkeypatch, settings):
    monkeypatch.setenv("LIFTLAB_DATA_DIR", str(settings.data_dir))
    from ui import widgets

    streamlits = widgets.STREAMLIT_CLEANUP or script_runner._clean_problem_modules
    monkeypatch.setattr(script_runner, "_clean_problem_modules", streamlits)  # as shipped
    monkeypatch.setattr(widgets, "STREAMLIT_CLEANUP", None)
    calls: list[int] = []
    monkeypatch.setattr(keras.backend, "clear_session", lambda *a, **k: calls.append(1))
    AppTest.from_string(PLAIN).run()
    assert calls == [1]  # Streamlit's own behaviour: one clear per script run
    at = AppTest.from_string(LIFTLAB).run()
    assert not at.exception
    at.run()
    assert calls == [1]  # LiftLab's pages: no clear after either run
