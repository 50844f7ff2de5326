"""Private and compact models on the full bank file (issue 16), printed as JSON lines.

On ``bank-additional-full.csv`` without ``duration`` (41,188 rows; 28,831 training rows), in
one process, so every ratio compares figures of the same run:

1. The non-private default DNN (``ModelConfig.of(model="mlp")``) and DP-SGD MLPs at ε = 1 and
   ε = 8 (and the other ε of ``--curve``), with analyst bounds for the preprocessing, their test
   ROC-AUC and the gap to the default (goal at ε = 1: within 0.03).
2. Time per epoch: the median time between epoch events of DP-SGD against the same network
   trained without DP at the same batch size, epochs and learning rate (goal ≤ 3×); the
   default run's epoch time is printed too.
3. The membership-inference audit of the default and of the DP runs.
4. int8, 80 % pruned and distilled copies of the default: weights' bytes, file size,
   throughput and the ROC-AUC / PR-AUC change (goals for int8: weights ≤ 0.3×, ROC-AUC within
   0.003).

Usage: ``python bench/privacy.py [--curve 0.5,1,2,4,8] [--dp-epochs 20] [--dp-batch 1024]
[--dp-lr 0.002]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["LIFTLAB_LOAD_SAMPLE"] = "0"
BANK = ROOT.parent / "shared" / "data" / "bank_marketing" / "bank-additional-full.csv"


def emit(**row) -> None:
    print(json.dumps(row), flush=True)


class EpochClock:
    """Progress listener that records when each epoch ends."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def __call__(self, event: dict) -> None:
        if event.get("stage") in ("fit", "epoch"):
            self.times.append(time.perf_counter())

    def per_epoch(self) -> float:
        gaps = [b - a for a, b in zip(self.times[1:], self.times[2:], strict=False)]
        return statistics.median(gaps) if gaps else float("nan")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--curve", default="1,8", help="ε values of DP runs")
    p.add_argument("--dp-epochs", type=int, default=20)
    p.add_argument("--dp-batch", type=int, default=1024)
    p.add_argument("--dp-lr", type=float, default=2e-3)
    p.add_argument("--dp-clip", type=float, default=1.0)
    args = p.parse_args()

    from core.compress import compress_run
    from core.config import load_settings
    from core.ingest import IngestOptions, ingest_file
    from core.privacy import audit_run, suggest_bounds
    from core.runs import load_run, run_splits
    from core.specs import DatasetSpec, ModelConfig
    from core.training import train
    from core.warehouse import connect

    s = load_settings(tempfile.mkdtemp())
    with connect(s) as con:
        ingest_file(con, BANK, IngestOptions(table="bank"))
    spec = DatasetSpec("bank", "y", exclude=("duration",))

    clock = EpochClock()
    base = train(s, spec, ModelConfig.of(model="mlp"), clock)
    base_auc = base.metrics["metrics"]["roc_auc"]
    emit(step="default", run_id=base.run_id, roc_auc=base_auc,
         pr_auc=base.metrics["metrics"]["pr_auc"], epochs=base.config.epochs_run,
         s_per_epoch=clock.per_epoch())
    bounds = suggest_bounds(run_splits(s, load_run(s, base.run_id)).x)
    dp_settings = {"epochs": args.dp_epochs, "batch_size": args.dp_batch,
                   "learning_rate": args.dp_lr, "optimizer": "adam", "dropout": 0.0}

    # time per epoch: the same network and settings with and without DP
    plain_clock = EpochClock()
    plain = train(s, spec, ModelConfig.of(model="mlp", **dp_settings, early_stopping=False),
                  plain_clock)
    emit(step="non-private, DP settings", run_id=plain.run_id,
         roc_auc=plain.metrics["metrics"]["roc_auc"], s_per_epoch=plain_clock.per_epoch())
    runs = {}
    for eps in (float(e) for e in args.curve.split(",")):
        c = EpochClock()
        r = train(s, spec, ModelConfig.of(model="mlp", **dp_settings, early_stopping=False,
                                          dp=True, dp_epsilon=eps, dp_clip=args.dp_clip,
                                          dp_bounds=bounds), c)
        runs[eps] = r.run_id
        priv = r.config.extra["privacy"]
        emit(step=f"DP eps={eps:g}", run_id=r.run_id, roc_auc=r.metrics["metrics"]["roc_auc"],
             pr_auc=r.metrics["metrics"]["pr_auc"],
             roc_auc_gap_vs_default=base_auc - r.metrics["metrics"]["roc_auc"],
             epsilon=priv["epsilon"], epsilon_rdp=priv["epsilon_rdp"],
             noise_multiplier=priv["noise_multiplier"], steps=priv["steps"],
             s_per_epoch=c.per_epoch(), time_ratio=c.per_epoch() / plain_clock.per_epoch())

    for name, rid in [("default", base.run_id)] + [(f"DP eps={e:g}", r) for e, r in runs.items()]:
        t = time.perf_counter()
        a = audit_run(s, load_run(s, rid))["membership_inference"]
        emit(step=f"audit {name}", attack_roc_auc=a["attack_roc_auc"], ci95=a["ci95"],
             calibrated=a["calibrated"]["attack_roc_auc"], calibrated_ci95=a["calibrated"]["ci95"],
             advantage=a["advantage"], bound=a["dp_advantage_bound"],
             seconds=time.perf_counter() - t)

    for method in ("int8", "prune", "distill"):
        out = compress_run(s, base.run_id, method, sparsity=0.8, units=(32, 16))
        emit(step=method, run_id=out["run_id"],
             weights_ratio=out["weights_bytes"] / out["parent_weights_bytes"],
             file_ratio=out["file_bytes"] / out["parent_file_bytes"],
             throughput_ratio=out["rows_per_s"] / out["parent_rows_per_s"],
             roc_auc_change=out["change"]["roc_auc"], pr_auc_change=out["change"]["pr_auc"],
             weights_bytes=out["weights_bytes"], parent_weights_bytes=out["parent_weights_bytes"],
             details=out["details"])


if __name__ == "__main__":
    main()
