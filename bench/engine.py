"""Engine benchmark (issue 17): ratios measured in one run on this machine.

1. Training throughput of a job on Ray (its own worker process) against the same training in
   the calling process (the command line's path): seconds per epoch after the first, ratio
   in-process / Ray (goal ≥ 0.9; a headless browser tab is NOT kept open here).
2. Server RSS after 10 retrains: the JobManager's process with Ray jobs against thread jobs,
   each as a ratio to its own starting RSS (goal: within 10 % of the start).
3. 2 Ray Train workers vs 1 on the in-memory pipeline (wall time of ``train``).

Run: ``nice -n 10 python bench/engine.py`` (about 5 minutes on 2 cores).
"""

from __future__ import annotations

import itertools
import os
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
from core.specs import ModelConfig
from core.training import train
from tests.core.app.test_engine import SPEC, _make_table

RETRAINS = 10


def rss_mb() -> float:
    """This process's resident memory, in MiB (``VmRSS`` of ``/proc/self/status``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def per_epoch(seconds: list[float]) -> float:
    later = seconds[1:] or seconds
    return sorted(later)[len(later) // 2]


def main() -> None:
    s = load_settings(tempfile.mkdtemp())
    _make_table(s)
    ensure_engine()
    cfg = ModelConfig.of(model="mlp", hidden_units=(64, 32), epochs=12, batch_size=32,
                         early_stopping=False)
    ray_jobs = JobManager(s, engine="ray")
    job = ray_jobs.wait(ray_jobs.submit_training(SPEC, cfg), 600)
    ray_epoch = per_epoch(job.epoch_seconds)
    marks: list[float] = []
    train(s, SPEC, cfg, progress=lambda e: marks.append(time.perf_counter())
          if e.get("stage") in ("fit", "epoch") else None)
    local_epoch = per_epoch([b - a for a, b in itertools.pairwise(marks)])
    print(f"1. s/epoch: Ray job {ray_epoch:.3f}, in-process {local_epoch:.3f}, "
          f"ratio {local_epoch / ray_epoch:.2f}")
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
    times = {}
    for workers in (1, 2):
        t = time.perf_counter()
        train(s, SPEC, ModelConfig.of(model="mlp", hidden_units=(64, 32), epochs=8,
                                      batch_size=64, workers=workers, data_pipeline="memory",
                                      early_stopping=False))
        times[workers] = time.perf_counter() - t
    print(f"3. 2 workers {times[2]:.1f} s vs 1 worker {times[1]:.1f} s: "
          f"ratio {times[1] / times[2]:.2f}")
    shutdown_engine()


if __name__ == "__main__":
    main()
