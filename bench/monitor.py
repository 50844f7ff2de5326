"""Monitoring figures (issue 14), printed as JSON lines.

- ``scale``: monitoring N new rows × 20 columns (14 numeric, 6 categorical, drift in the
  second half) in 10 chunks against a 100,000-row reference (the run's test split), timed
  against scoring the same rows with ``run.predict`` (read from DuckDB in the same batches),
  each in a fresh process so that peak memory (``ru_maxrss``) is its own; repeated for several
  N to show memory flat in the number of rows.
- ``bank``: trained on the first half of the bank file (it is in time order), monitoring the
  second half in 4 chunks: which columns drift, estimated and realised ROC-AUC per chunk.

Usage: ``python bench/monitor.py [--model mlp|hgb|logreg] [--rows 250000,500000,1000000]
[--bank-only]``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.config import load_settings
from core.warehouse import connect

SHARED = ROOT.parent / "shared" / "data" / "bank_marketing" / "bank-additional-full.csv"
BANK = SHARED if SHARED.exists() else ROOT / "data" / "samples" / "bank-additional-full.csv"
FEATURES = [f"n{i}" for i in range(1, 15)] + [f"c{i}" for i in range(1, 7)]


def _normal(i: int) -> str:
    return f"sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS n{i}"


def make_table(con, name: str, rows: int, drift_from: int | None, seed: float) -> None:
    """A synthetic table: 14 numeric and 6 categorical columns and a binary target ``y``;
    from row ``drift_from`` on, n1 shifts by 0.7, n2 scales by 1.5 and c1's levels change."""
    con.execute(f"SELECT setseed({seed})")
    shift = f"(CASE WHEN i >= {drift_from} THEN 1 ELSE 0 END)" if drift_from is not None else "0"
    nums = ", ".join(_normal(i) for i in range(1, 15))
    cats = ", ".join(f"['a','b','c','d','e','f','g','h'][1 + CAST(floor(random() * {k}) AS INTEGER)]"
                     f" AS c{j}" for j, k in zip(range(2, 7), (3, 4, 5, 6, 8)))
    con.execute(f"""
        CREATE OR REPLACE TABLE {name} AS
        SELECT * EXCLUDE (i, d, u), CASE WHEN u < 1 / (1 + exp(-(-2.2 + 0.9 * n1 - 0.6 * n2 +
               0.4 * n3 + 0.5 * (c1 = 'a')::INT - 0.4 * (c2 = 'b')::INT))) THEN 'yes' ELSE 'no'
               END AS y
        FROM (SELECT i, d, random() AS u, n1 + 0.7 * d AS n1, n2 * (1 + 0.5 * d) AS n2,
                     * EXCLUDE (i, d, n1, n2),
                     CASE WHEN d = 1 AND random() < 0.5 THEN 'new' ELSE
                          ['a','b','c','d'][1 + CAST(floor(random() * 4) AS INTEGER)] END AS c1
              FROM (SELECT i, {shift} AS d, {nums}, {cats} FROM range({rows}) r(i)))""")


def setup(ws: Path, model: str, sizes: list[int]) -> str:
    """Train a run with a 100,000-row test split and write the new tables; returns the run."""
    from core.specs import DatasetSpec, ModelConfig
    from core.training import train

    s = load_settings(ws)
    with connect(s) as con:
        make_table(con, "train_src", 200_000, None, 0.1)
        for n in sizes:
            make_table(con, f"new_{n}", n, n // 2, 0.2)
    cfg = ModelConfig(model=model, epochs=3, hidden_units=(64, 32), data_pipeline="memory")
    return train(s, DatasetSpec("train_src", "y", test_size=0.5, valid_size=0.1), cfg).run_id


def child(ws: str, run_id: str, table: str, what: str) -> dict:
    """One measurement in this process: ``score`` or ``monitor``."""
    from core.monitor import Chunking, monitor
    from core.runs import load_run

    s = load_settings(ws)
    run = load_run(s, run_id)
    _ = run.model, run.preprocessor  # loading the model is not part of either
    started = time.perf_counter()
    if what == "score":
        predict_s, rows = 0.0, 0
        with connect(s) as con:
            res = con.execute(f"SELECT {', '.join(FEATURES)} FROM {table}")
            while len(batch := res.fetch_df_chunk(50)):
                t = time.perf_counter()
                run.predict(batch)
                predict_s += time.perf_counter() - t
                rows += len(batch)
        out = {"seconds": time.perf_counter() - started, "predict_s": predict_s, "rows": rows}
    else:
        result = monitor(s, run, table, Chunking(n_chunks=10), save=False)
        out = {"seconds": time.perf_counter() - started, **result["timings"],
               "dataset_drift": result["dataset_drift"],
               "drifted_last_chunk": [f["feature"] for f in
                                      result["chunks"][-1]["drift"]["features"] if f["drifted"]],
               "alerts": len(result["alerts"])}
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def _spawn(ws: Path, run_id: str, table: str, what: str) -> dict:
    cmd = [sys.executable, __file__, "--child", what, "--ws", str(ws), "--run", run_id,
           "--table", table]
    r = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def bench_scale(model: str, sizes: list[int]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "ws"
        run_id = setup(ws, model, sizes)
        for n in sizes:
            score = _spawn(ws, run_id, f"new_{n}", "score")
            mon = _spawn(ws, run_id, f"new_{n}", "monitor")
            print(json.dumps({
                "bench": "monitor_scale", "model": model, "rows": n, "columns": 20, "chunks": 10,
                "reference_rows": 100_000, "score_s": round(score["seconds"], 2),
                "score_predict_s": round(score["predict_s"], 2),
                "monitor_s": round(mon["seconds"], 2),
                "monitor_own_predict_s": round(mon["predict_s"], 2),
                "ratio_total": round(mon["seconds"] / score["seconds"], 2),
                "ratio_without_its_scoring": round((mon["seconds"] - mon["predict_s"])
                                                   / score["seconds"], 2),
                "score_peak_mb": round(score["peak_rss_mb"]),
                "monitor_peak_mb": round(mon["peak_rss_mb"]),
                "dataset_drift": mon["dataset_drift"],
                "drifted_last_chunk": mon["drifted_last_chunk"]}), flush=True)


def bench_bank(model: str) -> None:
    from core.ingest import IngestOptions, ingest_file
    from core.monitor import Chunking, monitor
    from core.runs import load_run
    from core.specs import DatasetSpec, ModelConfig
    from core.training import train

    with tempfile.TemporaryDirectory() as tmp:
        s = load_settings(Path(tmp) / "ws")
        with connect(s) as con:
            ingest_file(con, BANK, IngestOptions(table="bank"))
            con.execute("CREATE TABLE bank_first AS SELECT * FROM bank WHERE rowid < 20594")
            con.execute("CREATE TABLE bank_second AS SELECT * FROM bank WHERE rowid >= 20594")
        run_id = train(s, DatasetSpec("bank_first", "y", exclude=("duration",)),
                       ModelConfig(model=model, epochs=20)).run_id
        run = load_run(s, run_id)
        res = monitor(s, run, "bank_second", Chunking(n_chunks=4))
        for c in res["chunks"]:
            print(json.dumps({
                "bench": "monitor_bank", "model": model, "chunk": c["chunk"], "rows": c["rows"],
                "test_roc_auc": run.metrics["metrics"]["roc_auc"],
                "drifted": [f["feature"] for f in c["drift"]["features"] if f["drifted"]],
                "share_drifted": round(c["drift"]["share_drifted"], 3),
                "domain_auc": round(c["drift"]["multivariate"]["statistic"], 3),
                "estimated_roc_auc": round(c["estimated"]["roc_auc"], 3),
                "realized_roc_auc": round(c["realized"]["roc_auc"], 3),
                "realized_ci95": [round(v, 3) for v in c["realized"]["ci95"]["roc_auc"]],
                "reliable": c["reliable"], "seconds": round(res["timings"]["total_s"], 2)}),
                flush=True)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="mlp", choices=["mlp", "hgb", "logreg"])
    p.add_argument("--rows", default="250000,500000,1000000")
    p.add_argument("--bank-only", action="store_true")
    p.add_argument("--scale-only", action="store_true")
    p.add_argument("--child")
    p.add_argument("--ws")
    p.add_argument("--run")
    p.add_argument("--table")
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(args.ws, args.run, args.table, args.child)))
        return
    if not args.scale_only:
        bench_bank(args.model if args.model != "mlp" else "hgb")
    if not args.bank_only:
        bench_scale(args.model, [int(n) for n in args.rows.split(",")])


if __name__ == "__main__":
    main()
