"""A real headless Chromium walks through all five pages of the running app."""

from __future__ import annotations

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
    port = _free_port()
    env = {**os.environ, "LIFTLAB_DATA_DIR": str(s.data_dir), "LIFTLAB_LOAD_SAMPLE": "0"}
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
    yield url, runs
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
