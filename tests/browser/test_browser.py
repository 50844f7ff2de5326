"""A real headless Chromium walks through all five pages of the running app."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.browser]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(bank_ws, tmp_path):
    s, runs = bank_ws
    with _serving(s.data_dir, tmp_path) as url:
        yield url, runs


@pytest.fixture
def empty_server(tmp_path):
    """The app on a new, empty workspace."""
    with _serving(tmp_path / "ws", tmp_path) as url:
        yield url


@contextlib.contextmanager
def _serving(data_dir, tmp_path):
    port = _free_port()
    env = {**os.environ, "LIFTLAB_DATA_DIR": str(data_dir), "LIFTLAB_LOAD_SAMPLE": "0"}
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.headless", "true", "--server.address", "127.0.0.1"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("the Streamlit server did not start: " + (tmp_path / "server.log").read_text())
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_walk_through_all_pages(server, tmp_path):
    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is required for the browser test (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    url, runs = server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(90_000)
        page.goto(url)
        expect.set_options(timeout=90_000)

        def heading(name):
            return page.get_by_role("heading", name=name, level=1)

        expect(heading("Data")).to_be_visible()
        expect(page.get_by_text("bank_full", exact=True).first).to_be_attached()

        page.get_by_role("link", name="Train").click()
        expect(heading("Train")).to_be_visible()
        expect(page.get_by_text("Positive class (the outcome you want to find)")).to_be_visible()

        page.get_by_role("link", name="Evaluate").click()
        expect(heading("Evaluate")).to_be_visible()
        expect(page.get_by_text("ROC curve").first).to_be_visible()
        expect(page.get_by_text("ROC-AUC").first).to_be_visible()
        page.screenshot(path=str(tmp_path / "evaluate.png"))

        page.get_by_role("link", name="Explain").click()
        expect(heading("Explain")).to_be_visible()
        page.get_by_role("button", name=re.compile("Compute SHAP values")).click()
        expect(page.get_by_text("Additivity").first).to_be_visible()

        page.get_by_role("link", name="Impact").click()
        expect(heading("Impact")).to_be_visible()
        lift = page.get_by_test_id("stMetric").filter(has_text="Conversion lift")
        expect(lift).to_contain_text(re.compile(r"\d+\.\d\d×"))
        value = float(re.search(r"(\d+\.\d\d)×", lift.inner_text()).group(1))
        assert value > 1.5
        page.screenshot(path=str(tmp_path / "impact.png"), full_page=True)
        browser.close()


def _screens(tmp_path):
    folder = os.environ.get("LIFTLAB_SCREENSHOTS")
    return folder if folder else str(tmp_path)


def test_double_click_and_reload_keep_one_job(server, bank_ws, tmp_path):
    # Issue 13: a double click queued two identical jobs and the page followed the copy; a
    # reload detached the page from its job (no progress, no Cancel, the form at defaults).
    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is required for the browser test (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    from core.app import recent_jobs

    url, _ = server
    settings = bank_ws[0]
    shots = _screens(tmp_path)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(90_000)
        expect.set_options(timeout=90_000)
        page.goto(f"{url}/train")
        expect(page.get_by_role("heading", name="Train", level=1)).to_be_visible()
        page.get_by_text("Network settings").click()
        epochs = page.get_by_label("Epochs (max)")
        epochs.fill("400")
        epochs.press("Tab")
        page.get_by_text("Early stopping (restore best weights)").click()  # runs long
        page.wait_for_timeout(1500)
        train = page.get_by_role("button", name="Train", exact=True)
        expect(train).to_be_enabled()
        train.dblclick()
        expect(page.get_by_role("button", name="Cancel training")).to_be_visible()
        expect(train).to_be_disabled()
        active = [j for j in recent_jobs(settings) if j["state"] in ("queued", "running")]
        assert len(active) == 1, active
        page.screenshot(path=f"{shots}/train.png")

        page.reload()  # a new browser session: the page finds its job and settings again
        expect(page.get_by_text("Following the running job")).to_be_visible()
        expect(page.get_by_role("button", name="Cancel training")).to_be_visible()
        expect(page.get_by_text(re.compile(r"Epoch \d+ of at most 400"))).to_be_visible()
        expect(page.get_by_role("button", name="Train", exact=True)).to_be_disabled()
        assert page.get_by_label("Epochs (max)").input_value() == "400"
        # the restored settings reach the widgets without a second default (Streamlit logs
        # "created with a default value but also had its value set via the Session State API")
        assert "created with a default value" not in (tmp_path / "server.log").read_text()
        keep = page.get_by_role("button", name="Stop and keep the best so far")
        expect(keep).to_be_visible()
        page.screenshot(path=f"{shots}/train_reloaded.png")
        keep.click()
        expect(page.get_by_text(re.compile("Stopped by the analyst after epoch"))).to_be_visible()
        expect(page.get_by_test_id("stMetric").filter(has_text="ROC-AUC")).to_be_visible()
        active = [j for j in recent_jobs(settings) if j["state"] in ("queued", "running")]
        assert not active
        page.screenshot(path=f"{shots}/train_kept.png", full_page=True)
        browser.close()


def test_evaluate_and_explain_at_1400x900(server, tmp_path):
    """Fairness on Evaluate, PD/ICE and SHAP units on Explain, as an analyst sees them."""
    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is required for the browser test (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    url, runs = server
    shots = _screens(tmp_path)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(90_000)
        expect.set_options(timeout=90_000)
        page.goto(f"{url}/evaluate")
        expect(page.get_by_role("heading", name="Evaluate", level=1)).to_be_visible()
        expect(page.get_by_text("ROC curve").first).to_be_visible()
        page.screenshot(path=f"{shots}/evaluate.png")
        box = page.get_by_role("combobox", name="Sensitive column (a feature, or a column")
        box.scroll_into_view_if_needed()
        box.click()
        page.get_by_role("option", name="marital", exact=True).click()
        expect(page.get_by_text("Demographic parity difference")).to_be_visible()
        page.get_by_text("Demographic parity difference").scroll_into_view_if_needed()
        page.screenshot(path=f"{shots}/evaluate_fairness.png")
        page.screenshot(path=f"{shots}/evaluate_full.png", full_page=True)

        page.goto(f"{url}/explain")
        expect(page.get_by_role("heading", name="Explain", level=1)).to_be_visible()
        page.get_by_role("button", name=re.compile("Compute SHAP values")).click()
        expect(page.get_by_text("Additivity").first).to_be_visible()
        expect(page.get_by_text(re.compile("SHAP values here are in"))).to_be_visible()
        page.screenshot(path=f"{shots}/explain.png")
        pdp = page.get_by_text("Partial dependence and ICE")
        pdp.scroll_into_view_if_needed()
        expect(page.get_by_text(re.compile("Bold: the model's average output"))).to_be_visible()
        page.screenshot(path=f"{shots}/explain_pdp.png")
        page.screenshot(path=f"{shots}/explain_full.png", full_page=True)
        browser.close()


def _settled(page) -> None:
    """Wait until Streamlit has finished its rerun (its status widget is gone)."""
    page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')",
                           timeout=60_000)


def test_a_headerless_file_gets_names_that_reach_training(empty_server, tmp_path):
    # Issue 13: a headerless UCI file could never get names: every chart said column_6.
    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is required for the browser test (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    rows = [f"{20 + i % 50}, {['State-gov', 'Private', 'Self-emp'][i % 3]}, {1000 + 7 * i}, "
            f"{['<=50K', '>50K'][i % 2]}" for i in range(200)]
    data = tmp_path / "adult.data"
    data.write_text("\n".join(rows) + "\n")
    names = ["age", "workclass", "fnlwgt", "income"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_context(viewport={"width": 1400, "height": 900},
                                   permissions=["clipboard-read", "clipboard-write"]).new_page()
        page.set_default_timeout(90_000)
        expect.set_options(timeout=90_000)
        page.goto(empty_server)
        expect(page.get_by_role("heading", name="Data", level=1)).to_be_visible()
        page.locator("input[type=file]").first.set_input_files(str(data))
        expect(page.get_by_text("this file has no header: name its columns here")).to_be_visible()
        grid = page.locator('[data-testid="stDataFrame"]').first
        grid.scroll_into_view_if_needed()
        _settled(page)
        page.wait_for_timeout(1500)  # the grid takes edits once drawn
        # paste the names into the "name" column, as an analyst pastes them from a README
        page.evaluate(f"navigator.clipboard.writeText({chr(10).join(names)!r})")
        box = grid.bounding_box()
        page.mouse.click(box["x"] + box["width"] * 0.45, box["y"] + 52)  # first "name" cell
        page.wait_for_timeout(400)
        page.keyboard.press("Control+V")
        page.wait_for_timeout(600)
        _settled(page)
        page.screenshot(path=f"{_screens(tmp_path)}/data_names.png")
        page.get_by_role("button", name="Load into warehouse").click()
        expect(page.get_by_role("heading", name="Tables")).to_be_visible()
        expect(page.get_by_text("adult", exact=True).first).to_be_visible()  # the table chooser
        page.get_by_role("link", name="Train").click()
        expect(page.get_by_role("heading", name="Train", level=1)).to_be_visible()
        page.wait_for_timeout(2000)
        page.screenshot(path=f"{_screens(tmp_path)}/train_names.png", full_page=True)
        expect(page.get_by_text("workclass", exact=True).first).to_be_visible()  # a feature
        expect(page.get_by_text("column_2")).to_have_count(0)
        browser.close()
    from core.config import load_settings
    from core.warehouse import connect, table_columns

    with connect(load_settings(tmp_path / "ws")) as con:
        assert [c for c, _ in table_columns(con, "adult")] == names
