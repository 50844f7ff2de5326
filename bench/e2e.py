"""End-to-end figures on the full bank file (issue 2), printed as JSON lines.

- ingest: LiftLab's ingest against DuckDB's own ``CREATE TABLE AS SELECT * FROM read_csv`` on
  the same file, in the same run (ratio);
- training: seconds per epoch of the default DNN on the full table without ``duration``;
- SHAP: seconds for 1,000 test rows with the chosen explainer.

Usage: ``python bench/e2e.py [--epochs N]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.config import load_settings  # noqa: E402
from core.explain import explain_run
from core.ingest import IngestOptions, ingest_file
from core.runs import load_run
from core.specs import DatasetSpec, ModelConfig  # noqa: E402
from core.training import train
from core.warehouse import connect

SHARED = ROOT.parent / "shared" / "data" / "bank_marketing" / "bank-additional-full.csv"
BANK = SHARED if SHARED.exists() else ROOT / "data" / "samples" / "bank-additional-full.csv"


def bench_ingest(settings, repeats: int = 3) -> dict:
    """Best-of-N wall time of both ingest paths, alternating to share the machine's noise."""
    ours, duck = [], []
    with connect(settings) as con:
        for i in range(repeats):
            t = time.perf_counter()
            ingest_file(con, BANK, IngestOptions(table=f"bank_{i}", if_exists="replace"))
            ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            con.execute(f"CREATE OR REPLACE TABLE duck_{i} AS SELECT * FROM read_csv(?)", [str(BANK)])
            duck.append(time.perf_counter() - t)
    return {"bench": "ingest_bank", "rows": 41188, "liftlab_s": round(min(ours), 3),
            "duckdb_read_csv_s": round(min(duck), 3), "ratio": round(min(ours) / min(duck), 2)}


def bench_train_and_shap(settings, epochs: int) -> list[dict]:
    """Train the default DNN on the full table, then explain 1,000 test rows."""
    spec = DatasetSpec("bank_0", "y", exclude=("duration",))
    cfg = ModelConfig.of(epochs=epochs, early_stopping=False)
    epoch_times = []
    last = [time.perf_counter()]

    def progress(event):
        if event.get("stage") == "epoch":
            now = time.perf_counter()
            epoch_times.append(now - last[0])
            last[0] = now
        elif event.get("stage") == "fit":
            last[0] = time.perf_counter()

    result = train(settings, spec, cfg, progress)
    run = load_run(settings, result.run_id)
    steady = epoch_times[1:] or epoch_times
    train_line = {"bench": "train_mlp_bank", "rows_train": run.config.rows["train"],
                  "epochs": len(epoch_times), "first_epoch_s": round(epoch_times[0], 2),
                  "seconds_per_epoch": round(sum(steady) / len(steady), 2),
                  "samples_per_s": round(run.config.rows["train"] / (sum(steady) / len(steady))),
                  "device": run.config.device,
                  "test_roc_auc": round(result.metrics["metrics"]["roc_auc"], 4)}
    exp = explain_run(run, n_rows=1000)
    shap_line = {"bench": "shap_mlp_bank", "rows": 1000, "explainer": exp.explainer,
                 "background_rows": exp.background_rows, "seconds": exp.seconds,
                 "additivity_max_error": exp.additivity_max_error}
    return [train_line, shap_line]


def main() -> None:
    """Run every benchmark in a temporary workspace and print one JSON line each."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(tmp)
        print(json.dumps(bench_ingest(settings)), flush=True)
        for line in bench_train_and_shap(settings, args.epochs):
            print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
