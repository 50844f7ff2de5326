"""Training throughput and memory (issue 4), printed as JSON lines.

1. Samples per second of LiftLab's training path (:func:`core.training.fit_keras`: progress
   bridge, cancel check every batch, early stopping) against a bare ``model.fit`` of the same
   network on the same preprocessed NumPy arrays, in the same process, alternating runs; for
   both pipelines (``memory``: encoded NumPy arrays; ``stream``: Parquet snapshots encoded
   once to raw float32 files, read back in shuffled chunks and fed through ``tf.data``; the
   one-off encoding pass is timed separately and also shown folded into the ratio).
   LiftLab's timing includes building and compiling the network (``fit_keras`` does both);
   two bare references are timed: ``fit`` alone (``ratio``), and the same work as LiftLab's
   (clear session, build, compile, fit: ``ratio_same_work``). 10 epochs by default, so the
   fixed build-and-compile time does not stand for throughput.
2. Peak resident memory of a full ``train()`` on a generated table (default 1M rows × 20 numeric
   columns) in a fresh process, after a warm-up run on 2,000 rows (so TensorFlow's start-up is
   not counted): the peak RSS is reset just before the run (Linux ``/proc/self/clear_refs``),
   and its growth over the RSS at that moment is compared with the in-memory float32 size of
   the table and of the encoded matrix, for each pipeline.

Usage: ``python bench/train.py [--rows 1000000] [--epochs 10] [--skip-throughput]
[--pipelines memory,stream|none]``.
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
REPEATS = 4  # best of 4 alternating runs: on a shared machine the best is the least disturbed
sys.path.insert(0, str(ROOT))


def throughput(epochs: int) -> list[dict]:
    """Bank training split, default DNN: LiftLab's two pipelines vs bare fit (best of REPEATS)."""
    import keras

    from core.config import load_settings
    from core.features import (
        TabularPreprocessor,
        encode_to_disk,
        export_splits,
        keras_dataset,
        load_task_data,
        split_indices,
    )
    from core.ingest import IngestOptions, ingest_file
    from core.specs import DatasetSpec, ModelConfig
    from core.training import FitData, StreamFit, build_network, fit_keras
    from core.warehouse import connect
    from models.tabular import compile_model, make_optimizer

    bank = ROOT.parent / "shared" / "data" / "bank_marketing" / "bank-additional-full.csv"
    with tempfile.TemporaryDirectory() as tmp:
        s = load_settings(tmp)
        with connect(s) as con:
            ingest_file(con, bank, IngestOptions(table="bank"))
            data = load_task_data(con, DatasetSpec("bank", "y", exclude=("duration",)))
        cfg = ModelConfig.of(epochs=epochs, early_stopping=False)
        sp = split_indices(data.y, 0.2, 0.1, 42)
        pre = TabularPreprocessor(numeric_bins=cfg.numeric_bins).fit(data.x.iloc[sp.train])
        fit = FitData(pre.transform(data.x.iloc[sp.train]), data.y[sp.train],
                      pre.transform(data.x.iloc[sp.valid]), data.y[sp.valid])
        folder = Path(tmp) / "stream"
        folder.mkdir()
        with connect(s) as con:
            splits = export_splits(con, DatasetSpec("bank", "y", exclude=("duration",)),
                                   "binary", folder)
        n_stream = splits.counts["train"] * epochs
        n = len(fit.y_train) * epochs
        ours, bare, bare_total, streamed, encode_s = [], [], [], [], []
        for _ in range(REPEATS):
            t = time.perf_counter()
            fit_keras(cfg, pre, "binary", 2, fit, 42, progress=lambda e: None,
                      should_stop=lambda: False)
            ours.append(n / (time.perf_counter() - t))
            t = time.perf_counter()
            encoded = {n: encode_to_disk(splits, n, pre, folder) for n in ("train", "valid")}
            encode_s.append(time.perf_counter() - t)
            stream_fit = StreamFit(
                keras_dataset(encoded["train"], "train", pre, cfg.fit.batch_size, 42),
                keras_dataset(encoded["valid"], "valid", pre, cfg.fit.batch_size, None),
                splits.counts["train"], splits.label_counts["train"])
            t = time.perf_counter()
            fit_keras(cfg, pre, "binary", 2, stream_fit, 42, progress=lambda e: None,
                      should_stop=lambda: False)
            streamed.append(n_stream / (time.perf_counter() - t))
            t_build = time.perf_counter()
            keras.backend.clear_session()
            keras.utils.set_random_seed(42)
            model = compile_model(build_network(cfg, pre, "binary", 2), "binary",
                                  "binary_crossentropy", make_optimizer("adamw", 3e-4))
            t = time.perf_counter()
            model.fit(fit.x_train, fit.y_train, validation_data=(fit.x_valid, fit.y_valid),
                      epochs=epochs, batch_size=cfg.fit.batch_size, verbose=0)
            done = time.perf_counter()
            bare.append(n / (done - t))
            bare_total.append(n / (done - t_build))
    base = {"bench": "train_throughput", "rows_train": len(fit.y_train), "epochs": epochs,
            "bare_fit_samples_per_s": round(max(bare)),
            "bare_build_compile_fit_samples_per_s": round(max(bare_total))}
    return [{**base, "pipeline": "memory", "liftlab_samples_per_s": round(max(ours)),
             "ratio": round(max(ours) / max(bare), 3),
             "ratio_same_work": round(max(ours) / max(bare_total), 3)},
            {**base, "pipeline": "stream", "liftlab_samples_per_s": round(max(streamed)),
             "ratio": round(max(streamed) / max(bare), 3),
             "ratio_same_work": round(max(streamed) / max(bare_total), 3),
             "one_off_encoding_s": round(min(encode_s), 2),
             "ratio_with_encoding_over_these_epochs": round(
                 n_stream / (n_stream / max(streamed) + min(encode_s)) / max(bare), 3)}]


MEMORY_CHILD = """
import json, sys, tempfile
sys.path.insert(0, {root!r})


def status_kb(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])


def reset_peak():
    # Linux: writing 5 to clear_refs resets the peak RSS (VmHWM) to the current RSS, so the
    # peak we read next belongs to the measured run alone, not to the table's creation.
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    return status_kb("VmRSS")


from core.config import load_settings
from core.specs import DatasetSpec, ModelConfig
from core.training import train
from core.warehouse import connect
rows, enc, pipe = {rows}, {enc!r}, {pipe!r}
cols = ", ".join(f"random() * {{i + 1}} AS x{{i}}" for i in range(19))
with tempfile.TemporaryDirectory() as tmp:
    s = load_settings(tmp)
    with connect(s) as con:
        con.execute(f"CREATE TABLE warm AS SELECT {{cols}}, (random() < 0.2)::INT AS y "
                    f"FROM range(2000)")
        con.execute(f"CREATE TABLE big AS SELECT {{cols}}, (random() < 0.2)::INT AS y "
                    f"FROM range({{rows}})")
    # TensorFlow's own start-up (import, first graph, thread pools) is the same for any table:
    # a tiny run first keeps it out of the growth we measure.
    train(s, DatasetSpec("warm", "y"), ModelConfig.of(epochs=1, numeric_encoding=enc,
                                                   data_pipeline=pipe))
    before = reset_peak()
    r = train(s, DatasetSpec("big", "y"), ModelConfig.of(epochs=1, early_stopping=False,
                                                      numeric_encoding=enc, data_pipeline=pipe))
    peak = status_kb("VmHWM")
print(json.dumps({{"peak_mb": peak / 1024, "before_train_mb": before / 1024,
                  "encoded": r.config.encoded_features,
                  "pipeline": r.config.data_pipeline}}))
"""


def memory(rows: int, encoding: str, pipeline: str) -> dict:
    """Peak RSS of one full training run in a fresh interpreter, after a warm-up run."""
    code = MEMORY_CHILD.format(root=str(ROOT), rows=rows, enc=encoding, pipe=pipeline)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": ""})
    res = json.loads(out.stdout.strip().splitlines()[-1])
    table_mb = rows * 20 * 4 / 2**20
    encoded_mb = rows * res["encoded"] * 4 / 2**20
    growth = res["peak_mb"] - res["before_train_mb"]
    return {"bench": "train_memory", "rows": rows, "numeric_encoding": encoding,
            "pipeline": res["pipeline"], "peak_rss_mb": round(res["peak_mb"]),
            "rss_before_train_mb": round(res["before_train_mb"]),
            "growth_mb": round(growth), "table_float32_mb": round(table_mb),
            "encoded_float32_mb": round(encoded_mb),
            "growth_over_table_float32": round(growth / table_mb, 2),
            "growth_over_encoded_float32": round(growth / encoded_mb, 2)}


def main() -> None:
    """Print the throughput lines, then one memory line per pipeline and numeric encoding."""
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--skip-throughput", action="store_true")
    p.add_argument("--pipelines", default="memory,stream",
                   help="pipelines of the memory measurement; 'none' skips it")
    args = p.parse_args()
    if not args.skip_throughput:
        for line in throughput(args.epochs):
            print(json.dumps(line), flush=True)
    for pipeline in [] if args.pipelines == "none" else args.pipelines.split(","):
        for enc in ("standard", "ple"):
            print(json.dumps(memory(args.rows, enc, pipeline)), flush=True)


if __name__ == "__main__":
    main()
