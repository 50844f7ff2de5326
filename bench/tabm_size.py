"""TabM's size against its time on bank (issue 15: default time per fold ≤ 3× the former
default MLP's): 5-fold stratified CV ROC-AUC and seconds per fold of smaller TabM networks and
of the former default MLP, in one run (the ratios compare figures of the same run).

Usage: ``python bench/tabm_size.py [--folds 5] [--sizes 8x128,4x128]`` (members × width).
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

from bench.quality import load_tables  # noqa: E402
from core.config import load_settings  # noqa: E402
from core.specs import DatasetSpec, ModelConfig  # noqa: E402
from core.training import cross_validate  # noqa: E402


def _cv(settings, spec: DatasetSpec, cfg: ModelConfig, folds: int) -> dict:
    marks: list[float] = []
    cv = cross_validate(settings, spec, cfg, folds, progress=lambda e: marks.append(
        time.perf_counter()))
    marks.append(time.perf_counter())
    seconds = [b - a for a, b in zip(marks, marks[1:])]
    return {"roc_auc_mean": round(cv["roc_auc_mean"], 4), "roc_auc_std": round(
        cv["roc_auc_std"], 4), "mean_seconds_per_fold": round(sum(seconds) / len(seconds), 1)}


def main() -> None:
    """Print one JSON line per configuration, then the time ratios to the MLP."""
    p = argparse.ArgumentParser()
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--sizes", default="8x128,4x128")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(Path(tmp) / "ws")
        load_tables(settings, ["bank"], 0, Path(tmp))
        spec = DatasetSpec("bank", "y", "yes", exclude=("duration",))
        rows = {"mlp": _cv(settings, spec, ModelConfig.of(model="mlp"), args.folds)}
        print(json.dumps({"config": "mlp (former default)", **rows["mlp"]}), flush=True)
        for size in args.sizes.split(","):
            k, w = (int(v) for v in size.split("x"))
            r = _cv(settings, spec, ModelConfig.of(model="tabm", members=k, width=w), args.folds)
            r["time_over_mlp"] = round(r["mean_seconds_per_fold"]
                                       / rows["mlp"]["mean_seconds_per_fold"], 2)
            print(json.dumps({"config": f"tabm k={k} width={w}", **r}), flush=True)


if __name__ == "__main__":
    main()
