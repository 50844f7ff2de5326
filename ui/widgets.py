"""Shared page pieces: page setup, error display, run picker, prerequisites."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator

import streamlit as st
from streamlit.errors import StreamlitAPIException

from core.errors import AppError
from ui import resources, state

# widget values that outlive reruns and page changes (Streamlit >= 1.5x ``persist_state``)
KEEP = {"persist_state": "session"}
JOB_POLL_S = 2.0
"""How often a page redraws a running job's progress. Each redraw costs the browser CPU that
a small machine's job shares: on 2 cores an app job ran at 0.89× the command line's speed with
1-s redraws and 0.92× with 2-s ones (median of 6 pairs each, ``bench/engine.py``)."""

log = logging.getLogger(__name__)


def _leave_pages_directory_mode() -> None:
    """Route a first visit to a page's own URL through ``app.py``.

    Streamlit decides, before a server's first script run, whether the app uses the old
    ``pages/`` directory navigation, and runs a requested ``/evaluate`` directly in that mode
    (auto-generated page list, no wide layout, no sidebar) until some run calls
    ``st.navigation``. A bookmark, or a browser reconnecting after a server restart, would
    land there. Clearing the flag and rerunning runs ``app.py``, whose ``st.navigation`` then
    opens the requested page. (Streamlit keeps the flag on ``PagesManager``; see
    streamlit/streamlit#9624 and #9992.)
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # pragma: no cover - a Streamlit without the v1 mode
        return
    if getattr(PagesManager, "uses_pages_directory", False):
        PagesManager.uses_pages_directory = False
        st.rerun()


STREAMLIT_CLEANUP = None
"""Streamlit's own post-run cleanup, once :func:`keep_keras_session` replaced it (tests)."""


def keep_keras_session() -> None:
    """Stop Streamlit from clearing Keras's session after every script run.

    Streamlit (1.67, ``script_runner._clean_problem_modules``) calls
    ``keras.backend.clear_session()`` whenever ``keras`` is imported, after every run of a page
    or fragment; Keras 3 runs ``gc.collect()`` there. The Train page polled a job every second,
    so the server spent ~40 % of its CPU samples in it (py-spy, 2026-12-03) and took that CPU
    from the job on a 2-core machine, and on the thread engine it reset Keras's global state
    under a training thread. LiftLab manages that state itself (every fit starts from a clear
    session, in its own worker process on Ray), so the cleanup keeps only its matplotlib part
    (closing figures). Idempotent; a Streamlit without that function is left as it is.
    """
    from streamlit.runtime.scriptrunner import script_runner

    global STREAMLIT_CLEANUP
    current = getattr(script_runner, "_clean_problem_modules", None)
    if current in (None, _close_figures):
        return
    STREAMLIT_CLEANUP = current
    script_runner._clean_problem_modules = _close_figures


def _close_figures() -> None:
    """What Streamlit's post-run cleanup does besides clearing Keras: close pyplot figures."""
    import sys

    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close("all")


def page_setup() -> str:
    """Initialise state and the workspace for a page; returns the data directory.

    Idempotent, so each page also runs on its own (``AppTest.from_file("pages/x.py")``).
    """
    _leave_pages_directory_mode()
    keep_keras_session()
    state.init_state()
    data_dir = str(resources.settings().data_dir)
    try:
        resources.job_manager(data_dir)
    except AppError as err:
        show_error(err)
        st.stop()
    return data_dir


def initial(key: str, value, neutral=None):
    """A widget's default, or ``neutral`` when Session State already holds its value.

    Streamlit warns (in the server log) when a widget gets a default *and* a value set
    through Session State (e.g. restored from a running job); passing the widget's neutral
    default avoids that while the stored value wins. Neutral values (what Streamlit treats as
    "no default"): ``index=0`` for selectbox and radio, ``value="min"`` for number_input,
    ``None`` for slider and multiselect, ``""`` for text_input, ``False`` for checkbox.
    """
    return neutral if key in st.session_state else value


def bold(value) -> str:
    """A value in bold Markdown that renders whatever it holds: surrounding spaces (``" >50K"``
    rendered as a literal ``** >50K**``) are trimmed and Markdown characters escaped."""
    text = str(value).strip() or repr(str(value))
    for ch in "\\`*_[]<>|$~":
        text = text.replace(ch, "\\" + ch)
    return f"**{text}**"


def link_to(page: str, label: str, icon: str) -> None:
    """A link to another page; plain text when the page runs outside the app's navigation."""
    try:
        st.page_link(page, label=label, icon=icon)
    except StreamlitAPIException:
        st.caption(f"Open **{label.removeprefix('Go to ')}** in the sidebar.")


def show_error(err: AppError) -> None:
    """Show a domain error as a titled message (never a traceback)."""
    st.error(f"**{err.title}.** {err}")


@contextlib.contextmanager
def errors_shown() -> Iterator[None]:
    """Context manager: an :class:`AppError` inside becomes ``st.error`` and stops the page."""
    try:
        yield
    except AppError as err:
        show_error(err)
        st.stop()


def run_label(r: dict) -> str:
    """A run as one line: id · model · table → target · ROC-AUC."""
    auc = r["metrics"].get("roc_auc")
    auc_text = f" · ROC-AUC {auc:.3f}" if auc is not None else ""
    return f"{r['run_id']} · {r['model']} · {r['table']} → {r['target']}{auc_text}"


def require_run(data_dir: str, key: str):
    """Pick the run to show (defaults to the active or newest run).

    Shows a pointer to the Train page and stops when there is no run yet.

    Returns:
        The selected :class:`core.runs.Run`.
    """
    runs = resources.runs(data_dir)
    if not runs:
        st.info("No trained run yet. Train a model first.")
        link_to("pages/train.py", "Go to Train", ":material/model_training:")
        st.stop()
    ids = [r["run_id"] for r in runs]
    current = state.active_run()
    index = ids.index(current) if current in ids else 0
    labels = {r["run_id"]: run_label(r) for r in runs}
    chosen = st.selectbox("Run", ids, index=index, format_func=labels.get, key=key)
    state.set_active_run(chosen)
    with errors_shown():
        return resources.run(data_dir, chosen)


def fmt(value: float | None, pattern: str = "{:.3f}") -> str:
    """Format a metric; undefined values read 'undefined', never 0 or NaN."""
    return "undefined" if value is None else pattern.format(value)


_FRACTION = re.compile(r"(\d[\d,]*)/(\d[\d,]*)")


def fraction(message: str) -> float:
    """The share done that a progress message states (``"Scoring rows 200,000/1,000,000"``
    → 0.2), or 0 when it states none."""
    found = _FRACTION.search(message or "")
    if not found:
        return 0.0
    done, total = (int(g.replace(",", "")) for g in found.groups())
    return min(done / total, 1.0) if total else 0.0
