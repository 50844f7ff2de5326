"""Ingest benchmark (issue 3): LiftLab vs DuckDB's own read_csv vs pandas, time and peak memory.

Generates a CSV of ``--rows`` rows x 20 columns (ints, decimals, categories, an ISO date, a
Yes/No target, free text) under ``--dir`` (default /tmp), then loads it ``--repeat`` times with
each method, interleaved, every load in a fresh Python process into a fresh DuckDB file:

* ``liftlab``: ``core.ingest.ingest_file`` (encoding and dialect detection, footer check, type
  widening, missing markers, date check, NULL counts, catalog, one transaction);
* ``duckdb``:  ``CREATE TABLE t AS SELECT * FROM read_csv(path)``;
* ``pandas``:  ``pandas.read_csv(path)`` then ``CREATE TABLE t AS SELECT * FROM frame``.

Every timing opens the database file, loads, and closes it (so the write is complete), as
LiftLab's ingest does. Peak memory is the child process's maximum resident set size (``ru_maxrss``), imports included;
CPU seconds of the load itself (user + system, imports excluded) are reported next to wall time because on a shared
machine wall time depends on what else runs (the 1-minute load average is printed too).
Prints one JSON object with medians and the ratios LiftLab/DuckDB and LiftLab/pandas.

Usage: ``python bench/ingest.py [--rows 1000000] [--repeat 3] [--dir /tmp]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_CHILD = {
    "duckdb": """
import duckdb
t0, c0 = time.perf_counter(), _cpu()
con = duckdb.connect(DB)
con.execute("CREATE TABLE t AS SELECT * FROM read_csv(?)", [CSV])
con.close()
seconds, cpu = time.perf_counter() - t0, _cpu() - c0
""",
    "liftlab": """
from core.config import load_settings
from core.ingest import IngestOptions, ingest_file
from core.warehouse import connect
settings = load_settings(os.path.dirname(DB))
t0, c0 = time.perf_counter(), _cpu()
with connect(settings) as con:
    ingest_file(con, CSV, IngestOptions(table="t"))
seconds, cpu = time.perf_counter() - t0, _cpu() - c0
""",
    "pandas": """
import duckdb
import pandas as pd
t0, c0 = time.perf_counter(), _cpu()
con = duckdb.connect(DB)
frame = pd.read_csv(CSV)
con.register("frame", frame)
con.execute("CREATE TABLE t AS SELECT * FROM frame")
con.close()
seconds, cpu = time.perf_counter() - t0, _cpu() - c0
""",
}

_WRAPPER = """
import json, os, resource, sys, time
sys.path.insert(0, {root!r})
CSV, DB = {csv!r}, {db!r}


def _cpu():
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime

{body}
rows = __import__("duckdb").connect(DB, read_only=True).execute("SELECT count(*) FROM t").fetchone()[0]
use = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({{"seconds": seconds, "peak_mb": use.ru_maxrss / 1024, "rows": rows,
                  "cpu_s": cpu}}))
"""


def generate(path: Path, rows: int, seed: int = 3) -> None:
    """Write the benchmark CSV (20 columns) in chunks of 100,000 rows."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    cats = [["Male", "Female"], ["Month-to-month", "One year", "Two year"],
            ["North", "South", "East", "West", "Central"], ["A", "B", "C", "D"]]
    with open(path, "w", newline="") as fh:
        for start in range(0, rows, 100_000):
            n = min(100_000, rows - start)
            cols = {"customer_id": np.arange(start + 1, start + n + 1)}
            cols |= {f"count_{k}": rng.integers(0, 100, n) for k in range(5)}
            cols |= {f"amount_{k}": np.round(rng.normal(100, 30, n), 2) for k in range(6)}
            cols |= {f"cat_{k}": rng.choice(c, n) for k, c in enumerate(cats)}
            cols["signup_date"] = (np.datetime64("2020-01-01")
                                   + rng.integers(0, 1500, n)).astype(str)
            cols["churn"] = rng.choice(["Yes", "No"], n)
            cols["note"] = np.char.add("note ", rng.integers(0, 100_000, n).astype(str))
            cols["score"] = np.round(rng.random(n), 6)
            pd.DataFrame(cols).to_csv(fh, index=False, header=start == 0)


def run_once(method: str, csv: Path, workdir: Path) -> dict:
    """Load ``csv`` once with ``method`` in a fresh process; returns seconds, peak MB, rows."""
    folder = Path(tempfile.mkdtemp(dir=workdir, prefix=f"{method}_"))
    code = _WRAPPER.format(root=str(ROOT), csv=str(csv), db=str(folder / "warehouse.duckdb"),
                           body=_CHILD[method])
    env = dict(os.environ, LIFTLAB_LOAD_SAMPLE="0")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True, timeout=1800)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    for f in folder.iterdir():
        f.unlink()
    folder.rmdir()
    return result


def main() -> None:
    """Generate the file, run every method ``--repeat`` times interleaved, print JSON."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--dir", default="/tmp")
    args = p.parse_args()
    load_before = os.getloadavg()[0]
    workdir = Path(tempfile.mkdtemp(dir=args.dir, prefix="liftlab_bench_"))
    csv = workdir / f"bench_{args.rows}x20.csv"
    t0 = time.perf_counter()
    generate(csv, args.rows)
    gen_s = time.perf_counter() - t0
    runs: dict[str, list[dict]] = {m: [] for m in ("duckdb", "liftlab", "pandas")}
    for _ in range(args.repeat):
        for method in runs:
            runs[method].append(run_once(method, csv, workdir))
    med = {m: {"seconds": round(statistics.median(r["seconds"] for r in rs), 3),
               "cpu_s": round(statistics.median(r["cpu_s"] for r in rs), 2),
               "peak_mb": round(statistics.median(r["peak_mb"] for r in rs), 1),
               "rows": rs[0]["rows"], "all_seconds": [round(r["seconds"], 3) for r in rs]}
           for m, rs in runs.items()}
    file_mb = round(csv.stat().st_size / 2**20, 1)
    csv.unlink()
    workdir.rmdir()
    print(json.dumps({
        "bench": "ingest", "rows": args.rows, "columns": 20,
        "file_mb": file_mb, "generate_s": round(gen_s, 1), "repeat": args.repeat,
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, Python "
                   f"{platform.python_version()}",
        **med,
        "ratio_time_liftlab_vs_duckdb": round(med["liftlab"]["seconds"] / med["duckdb"]["seconds"], 3),
        "ratio_time_liftlab_vs_pandas": round(med["liftlab"]["seconds"] / med["pandas"]["seconds"], 3),
        "ratio_cpu_liftlab_vs_duckdb": round(med["liftlab"]["cpu_s"] / med["duckdb"]["cpu_s"], 3),
        "ratio_cpu_liftlab_vs_pandas": round(med["liftlab"]["cpu_s"] / med["pandas"]["cpu_s"], 3),
        "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "ratio_peak_liftlab_vs_duckdb": round(med["liftlab"]["peak_mb"] / med["duckdb"]["peak_mb"], 3),
    }))


if __name__ == "__main__":
    main()
