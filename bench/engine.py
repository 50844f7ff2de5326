"""Engine benchmark (issue 17): ratios measured in one run on this machine.

0. The issue's first figure: a training job started from the app's Train page while a headless
   Chromium tab (Playwright) keeps the page open until it ends, against the same job
   (``--config`` of the app's run) on the command line (``python -m core -v train``), seconds
   per epoch after the first; ratio command line / app, in ``--repeats`` pairs (app, then
   command line) with the default Ray engine, reported as the pairs' median and range, then
   once with ``LIFTLAB_ENGINE=thread`` (the job on a thread of the Streamlit server, as before
   Ray). Data: bank-additional.csv (4,119 rows), DNN (Keras MLP) 128,64, 20 epochs, batch 8,
   early stopping off. The app's figure is what the page says ("… s per epoch (measured)":
   the job's mean of the epochs after the first, two decimals under a second), the command
   line's is the same statistic from the time stamps of its ``epoch k/N`` lines (its median
   is printed too).
1. Training throughput of a job on Ray (its own worker process) against the same training in
   the calling process (the command line's path), on a 40,000-row table (~440 steps per
   epoch): seconds per epoch after the first (median), in-process before and after the Ray
   job, ratio mean in-process / Ray (goal ≥ 0.9; no browser here). The Ray job's epochs are
   timed by its worker's own stamps.
2. Server RSS after 10 retrains: the JobManager's process with Ray jobs against thread jobs,
   each as a ratio to its own starting RSS (goal: within 10 % of the start).
3. 2 Ray Train workers vs 1 on the in-memory pipeline, then on the streamed pipeline (each
   worker encodes its shard of the snapshot chunk by chunk); wall time of ``train``.

Run: ``nice -n 10 python bench/engine.py`` (about 16 minutes on 2 cores); ``--app-only`` runs
scenario 0 only (``--repeats N`` pairs of app and command line, 3 by default), ``--throughput-only`` scenario 1 only, ``--workers-only`` scenario 3 only.
Scenario 0 needs Playwright and ``/usr/bin/chromium``; port 8621
(``LIFTLAB_BENCH_PORT``).
"""

from __future__ import annotations

import itertools
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("LIFTLAB_LOAD_SAMPLE", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("LIFTLAB_RAY_CPUS", "2")

from core.app import JobManager, ensure_engine, shutdown_engine
from core.config import load_settings
from core.ingest import IngestOptions, ingest_file
from core.specs import DatasetSpec, ModelConfig
from core.training import train
from core.warehouse import connect
from tests.core.app.test_engine import SPEC, _make_table

RETRAINS = 10
BIG_ROWS = 40_000
ROOT = Path(__file__).resolve().parent.parent
BANK_SAMPLE = ROOT.parent / "shared" / "data" / "bank_marketing" / "bank-additional.csv"
PORT = int(os.environ.get("LIFTLAB_BENCH_PORT", "8621"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]
APP_EPOCHS, APP_BATCH = 20, 8
PER_EPOCH = re.compile(r"([0-9.]+) s per epoch \(measured\)")
FINISHED = re.compile(r"Evaluate this run|Finished: run")


def rss_mb() -> float:
    """This process's resident memory, in MiB (``VmRSS`` of ``/proc/self/status``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def per_epoch(seconds: list[float]) -> float:
    later = seconds[1:] or seconds
    return sorted(later)[len(later) // 2]


def app_workspace() -> Path:
    """A temporary workspace with the table ``bank`` (bank-additional.csv, 4,119 rows)."""
    data_dir = Path(tempfile.mkdtemp(prefix="liftlab_bench_app_"))
    with connect(load_settings(data_dir)) as con:
        ingest_file(con, BANK_SAMPLE, IngestOptions(table="bank"))
    return data_dir


def _wait_port(port: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise TimeoutError(f"the app did not listen on port {port} within {timeout:.0f} s")


def _start_job_on_page(page) -> None:
    """On the Train page: DNN (Keras MLP), APP_EPOCHS epochs, batch APP_BATCH, early stopping
    off; then the Train button."""
    page.goto(f"http://127.0.0.1:{PORT}/train")
    page.get_by_text("Feature columns").first.wait_for(timeout=180_000)
    option = page.get_by_role("option", name="DNN (Keras MLP)")
    for _ in range(5):  # a rerun may close the list before it is read
        page.get_by_label("Model", exact=True).click()
        try:
            option.click(timeout=10_000)
            break
        except Exception:  # noqa: BLE001 -- playwright's TimeoutError: open it again
            page.keyboard.press("Escape")
    page.get_by_text("Network settings:").first.click()
    for label, value in (("Epochs (max)", APP_EPOCHS), ("Batch size", APP_BATCH)):
        box = page.get_by_label(label, exact=True)
        box.fill(str(value))
        box.press("Enter")
        time.sleep(1.5)
    page.get_by_text("Early stopping (restore best weights)").first.click()
    time.sleep(1.5)
    page.get_by_role("button", name="Train", exact=True).click()


def app_job(data_dir: Path, engine: str) -> tuple[float, str]:
    """Start the app (``LIFTLAB_ENGINE=engine``), start the job from a headless Chromium tab
    and keep the tab open until it ends; returns (the page's seconds per epoch, run id)."""
    from playwright.sync_api import sync_playwright

    env = {**os.environ, "LIFTLAB_DATA_DIR": str(data_dir), "LIFTLAB_ENGINE": engine,
           "LIFTLAB_LOAD_SAMPLE": "0"}
    log = open(data_dir / f"streamlit_{engine}.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(PORT), "--server.address", "127.0.0.1",
         "--browser.gatherUsageStats", "false"], cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        _wait_port(PORT)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            _start_job_on_page(page)
            seen, deadline = None, time.monotonic() + 900
            figure, finished = page.get_by_text(PER_EPOCH), page.get_by_text(FINISHED)
            while time.monotonic() < deadline:
                # two targeted text queries a second, not the whole page's rendered text
                # (``inner_text("body")`` twice a second lays out and serialises the long
                # Train page: browser work a person looking at the tab does not cause)
                if figure.count():
                    found = PER_EPOCH.search(figure.last.text_content() or "")
                    seen = float(found.group(1)) if found else seen
                if finished.count():
                    break
                time.sleep(1.0)
            page.screenshot(path=str(data_dir / f"train_{engine}.png"))
            browser.close()
    finally:
        server.terminate()
        server.wait(30)
        log.close()
    runs = sorted((data_dir / "runs").glob("*/config.json"), key=lambda p: p.stat().st_mtime)
    if seen is None or not runs:
        raise RuntimeError(f"the app job ({engine}) showed no epoch time; see {data_dir}")
    return seen, runs[-1].parent.name


def cli_job(data_dir: Path, run_id: str) -> tuple[float, float]:
    """``python -m core -v train --config <the app run's config.json>``: (mean, median)
    seconds per epoch after the first, from the time stamps of its ``epoch k/N`` lines."""
    config = data_dir / "runs" / run_id / "config.json"
    proc = subprocess.Popen([sys.executable, "-m", "core", "--data-dir", str(data_dir), "-v",
                             "train", "--config", str(config)], cwd=ROOT, text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "LIFTLAB_ENGINE": "thread"})
    marks = [time.perf_counter() for line in proc.stderr if line.startswith("epoch ")]
    if proc.wait() != 0 or len(marks) < 3:
        raise RuntimeError("the command-line job failed")
    later = [b - a for a, b in itertools.pairwise(marks)]  # epochs 2..N
    return sum(later) / len(later), statistics.median(later)


def big_table(settings, rows: int) -> None:
    """``big``: the test table's rule (x1 ~ N(0, 1), x2 ~ U(-1, 1), seg; P(y) = σ(2·x1 − x2 ±
    1)) with ``rows`` rows, so that an epoch is long next to the page's and the channel's
    0.25-s polling."""
    with connect(settings) as con:
        con.execute("SELECT setseed(0.17)")
        con.execute(f"CREATE OR REPLACE TABLE big AS WITH base AS (SELECT sqrt(-2 * "
                    f"ln(random())) * cos(2 * pi() * random()) AS x1, random() * 2 - 1 AS x2, "
                    f"CASE WHEN random() < 0.5 THEN 'a' ELSE 'b' END AS seg, random() AS u "
                    f"FROM range({rows})) SELECT x1, x2, seg, CASE WHEN u < 1 / (1 + exp(-(2 "
                    f"* x1 - x2 + CASE seg WHEN 'a' THEN 1 ELSE -1 END))) THEN 'yes' ELSE "
                    f"'no' END AS y FROM base")


def throughput_scenario(s, ray_jobs: JobManager) -> tuple[list[float], float]:
    """Scenario 1: in-process, then the same training as a Ray job, then in-process again
    (the machine's drift shows as the two in-process figures' difference); seconds per epoch
    after the first (median), the Ray job's from its worker's own time stamps."""
    big_table(s, BIG_ROWS)
    spec = DatasetSpec("big", "y", features=("x1", "x2", "seg"))
    cfg = ModelConfig.of(model="mlp", hidden_units=(64, 32), epochs=6, batch_size=64,
                         early_stopping=False)

    def in_process() -> float:
        marks: list[float] = []
        train(s, spec, cfg, progress=lambda e: marks.append(time.perf_counter())
              if e.get("stage") in ("fit", "epoch") else None)
        return per_epoch([b - a for a, b in itertools.pairwise(marks)])

    first = in_process()
    job = ray_jobs.wait(ray_jobs.submit_training(spec, cfg), 900)
    return [first, in_process()], per_epoch(job.epoch_seconds)


def app_scenario(repeats: int) -> None:
    """Scenario 0: the app on Ray against the command line, same config, ``repeats`` pairs
    (app, then command line) so that the figure is a distribution, not one draw; then the
    thread engine once. Each pair's ratio is the command line's mean over the app's."""
    data_dir = app_workspace()
    ratios = []
    for i in range(repeats):
        ray_app, run_id = app_job(data_dir, "ray")
        cli_mean, cli_median = cli_job(data_dir, run_id)
        ratios.append(cli_mean / ray_app)
        print(f"0. pair {i + 1}/{repeats}: s/epoch app (Ray, tab open) {ray_app:.2f}, command "
              f"line {cli_mean:.2f} (median {cli_median:.2f}): ratio {ratios[-1]:.2f}",
              flush=True)
    thread_app, run_id = app_job(data_dir, "thread")
    cli_mean, _ = cli_job(data_dir, run_id)
    print(f"0. Ray: ratio median {statistics.median(ratios):.2f} over {repeats} pairs (min "
          f"{min(ratios):.2f}, max {max(ratios):.2f}); thread engine: app {thread_app:.2f}, "
          f"command line {cli_mean:.2f}, ratio {cli_mean / thread_app:.2f}", flush=True)


def workers_scenario(s) -> None:
    """Scenario 3: 2 Ray Train workers vs 1, the in-memory then the streamed pipeline (wall
    time of ``train``; ratio 1-worker time / 2-worker time, above 1 when 2 are faster)."""
    for pipeline in ("memory", "stream"):
        times, auc = {}, {}
        for workers in (1, 2):
            t = time.perf_counter()
            result = train(s, SPEC, ModelConfig.of(model="mlp", hidden_units=(64, 32), epochs=8,
                                                   batch_size=64, workers=workers,
                                                   data_pipeline=pipeline, early_stopping=False))
            times[workers] = time.perf_counter() - t
            auc[workers] = result.metrics["metrics"]["roc_auc"]
        print(f"3. {pipeline}: 2 workers {times[2]:.1f} s vs 1 worker {times[1]:.1f} s: "
              f"ratio {times[1] / times[2]:.2f} (ROC-AUC {auc[2]:.4f} vs {auc[1]:.4f})",
              flush=True)


def main() -> None:
    if "--workers-only" in sys.argv:
        s = load_settings(tempfile.mkdtemp())
        _make_table(s)
        ensure_engine()
        workers_scenario(s)
        shutdown_engine()
        return
    if "--throughput-only" not in sys.argv:
        repeats = sys.argv.index("--repeats") if "--repeats" in sys.argv else None
        app_scenario(int(sys.argv[repeats + 1]) if repeats else 3)
    if "--app-only" in sys.argv:
        return
    s = load_settings(tempfile.mkdtemp())
    _make_table(s)
    ensure_engine()
    ray_jobs = JobManager(s, engine="ray")
    inproc, ray_epoch = throughput_scenario(s, ray_jobs)
    print(f"1. s/epoch on {BIG_ROWS:,} rows: Ray job {ray_epoch:.3f}, in-process "
          f"{inproc[0]:.3f} before and {inproc[1]:.3f} after, ratio "
          f"{statistics.mean(inproc) / ray_epoch:.2f}", flush=True)
    if "--throughput-only" in sys.argv:
        shutdown_engine()
        return
    small = ModelConfig.of(model="mlp", hidden_units=(32,), epochs=3, batch_size=64)
    for name, manager in (("ray", ray_jobs), ("thread", JobManager(s, engine="thread"))):
        start = rss_mb()
        peak = start
        for i in range(RETRAINS):
            job_cfg = small.replace(learning_rate=1e-3 + i * 1e-4)  # a new fingerprint each
            manager.wait(manager.submit_training(SPEC, job_cfg), 600)
            peak = max(peak, rss_mb())
        print(f"2. {name}: RSS start {start:.0f} MiB, after {RETRAINS} retrains {rss_mb():.0f} "
              f"MiB (peak {peak:.0f}), ratio {rss_mb() / start:.2f}")
        manager.shutdown()
    workers_scenario(s)
    shutdown_engine()


if __name__ == "__main__":
    main()
