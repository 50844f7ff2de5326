"""Open a page through ``app.py`` (sidebar, navigation and all) the way a user reaches it."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT


def open_via_app(page: str, timeout: float = 180, **state) -> AppTest:
    """Run ``app.py`` with ``state`` in the session, then switch to ``page``.

    Args:
        page: A page path as ``st.Page`` names it, e.g. ``"pages/impact.py"``.
        timeout: Seconds each script run may take.
        **state: Session-state entries set before the first run.

    Returns:
        The AppTest, showing ``page``.
    """
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    return at.switch_page(page).run()
