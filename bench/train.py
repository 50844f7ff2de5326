"""Training throughput and memory (issue 4), printed as JSON lines.

1. Samples per second of LiftLab's training path (:func:`core.training.fit_keras`: progress
   bridge, cancel check every batch, early stopping) against a bare ``model.fit`` of the same
   network on the same preprocessed NumPy arrays, in the same process, alternating runs.
2. Peak resident memory of a full ``train()`` on a generated table (default 1M rows × 20 numeric
   columns) in a fresh process, against the in-memory float32 size of the table and of the
   encoded matrix.

Usage: ``python bench/train.py [--rows 1000000] [--epochs 3]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def throughput(epochs: int) -> dict:
    """Bank training split, default DNN: LiftLab path vs bare fit (best of 2 each)."""
    import keras

    from core.config import load_settings
    from core.features import TabularPreprocessor, load_task_data, split_indices
    from core.ingest import IngestOptions, ingest_file
    from core.specs import DatasetSpec, ModelConfig
    from core.training import FitData, build_network, fit_keras
    from core.warehouse import connect
    from models.tabular import compile_model, make_optimizer

    bank = ROOT.parent / "shared" / "data" / "bank_marketing" / "bank-additional-full.csv"
    with tempfile.TemporaryDirectory() as tmp:
        s = load_settings(tmp)
        with connect(s) as con:
            ingest_file(con, bank, IngestOptions(table="bank"))
            data = load_task_data(con, DatasetSpec("bank", "y", exclude=("duration",)))
    cfg = ModelConfig(epochs=epochs, early_stopping=False)
    sp = split_indices(data.y, 0.2, 0.1, 42)
    pre = TabularPreprocessor(numeric_bins=cfg.numeric_bins).fit(data.x.iloc[sp.train])
    fit = FitData(pre.transform(data.x.iloc[sp.train]), data.y[sp.train],
                  pre.transform(data.x.iloc[sp.valid]), data.y[sp.valid])
    n = len(fit.y_train) * epochs
    ours, bare = [], []
    for _ in range(2):
        t = time.perf_counter()
        fit_keras(cfg, pre, "binary", 2, fit, 42, progress=lambda e: None,
                  should_stop=lambda: False)
        ours.append(n / (time.perf_counter() - t))
        keras.backend.clear_session()
        keras.utils.set_random_seed(42)
        model = compile_model(build_network(cfg, pre, "binary", 2), "binary",
                              "binary_crossentropy", make_optimizer("adamw", 3e-4))
        t = time.perf_counter()
        model.fit(fit.x_train, fit.y_train, validation_data=(fit.x_valid, fit.y_valid),
                  epochs=epochs, batch_size=cfg.batch_size, verbose=0)
        bare.append(n / (time.perf_counter() - t))
    return {"bench": "train_throughput", "rows_train": len(fit.y_train), "epochs": epochs,
            "liftlab_samples_per_s": round(max(ours)), "bare_fit_samples_per_s": round(max(bare)),
            "ratio": round(max(ours) / max(bare), 3)}


MEMORY_CHILD = """
import json, resource, sys, tempfile
sys.path.insert(0, {root!r})
from core.config import load_settings
from core.specs import DatasetSpec, ModelConfig
from core.training import train
from core.warehouse import connect
rows, enc = {rows}, {enc!r}
with tempfile.TemporaryDirectory() as tmp:
    s = load_settings(tmp)
    cols = ", ".join(f"random() * {{i + 1}} AS x{{i}}" for i in range(19))
    with connect(s) as con:
        con.execute(f"CREATE TABLE big AS SELECT {{cols}}, (random() < 0.2)::INT AS y "
                    f"FROM range({{rows}})")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    r = train(s, DatasetSpec("big", "y"), ModelConfig(epochs=1, early_stopping=False,
                                                      numeric_encoding=enc))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"peak_mb": peak / 1024, "before_train_mb": before / 1024,
                  "encoded": r.config["encoded_features"]}}))
"""


def memory(rows: int, encoding: str) -> dict:
    """Peak RSS of one full training run in a fresh interpreter."""
    code = MEMORY_CHILD.format(root=str(ROOT), rows=rows, enc=encoding)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": ""})
    res = json.loads(out.stdout.strip().splitlines()[-1])
    table_mb = rows * 20 * 4 / 2**20
    encoded_mb = rows * res["encoded"] * 4 / 2**20
    return {"bench": "train_memory", "rows": rows, "numeric_encoding": encoding,
            "peak_rss_mb": round(res["peak_mb"]), "rss_before_train_mb": round(res["before_train_mb"]),
            "table_float32_mb": round(table_mb), "encoded_float32_mb": round(encoded_mb),
            "growth_during_train_over_encoded": round(
                (res["peak_mb"] - res["before_train_mb"]) / encoded_mb, 2)}


def main() -> None:
    """Print the throughput line, then one memory line per numeric encoding."""
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--epochs", type=int, default=3)
    args = p.parse_args()
    print(json.dumps(throughput(args.epochs)), flush=True)
    for enc in ("standard", "ple"):
        print(json.dumps(memory(args.rows, enc)), flush=True)


if __name__ == "__main__":
    main()
