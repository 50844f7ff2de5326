"""5-fold stratified CV ROC-AUC of LiftLab's default DNN, ``hgb`` and ``logreg`` (issue 4).

Bank marketing without ``duration`` and Telco churn (``customerID`` dropped), all in one run, so
the comparison shares the machine's state. Prints one JSON line per dataset and model, then a
summary line with the gap between the default ``mlp`` and ``hgb``.

Usage: ``python bench/quality.py [--folds 5] [--datasets bank,telco] [--models mlp,hgb,logreg]``.
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
from core.ingest import IngestOptions, ingest_file
from core.specs import DatasetSpec, ModelConfig  # noqa: E402
from core.training import cross_validate
from core.warehouse import connect

DATA = ROOT.parent / "shared" / "data"
DATASETS = {
    "bank": (DATA / "bank_marketing" / "bank-additional-full.csv", "y", ("duration",)),
    "telco": (DATA / "telco_customer_churn" / "WA_Fn-UseC_-Telco-Customer-Churn.csv", "Churn",
              ("customerID",)),
}


def main() -> None:
    """Run the CV comparison and print JSON lines."""
    p = argparse.ArgumentParser()
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--datasets", default="bank,telco")
    p.add_argument("--models", default="mlp,hgb,logreg")
    args = p.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(tmp)
        for name in args.datasets.split(","):
            path, target, exclude = DATASETS[name]
            with connect(settings) as con:
                ingest_file(con, path, IngestOptions(table=name))
            spec = DatasetSpec(name, target, exclude=exclude)
            for model in args.models.split(","):
                started = time.perf_counter()
                cv = cross_validate(settings, spec, ModelConfig.of(model=model), args.folds)
                line = {"dataset": name, "model": model, "folds": args.folds,
                        "roc_auc_mean": round(cv["roc_auc_mean"], 4),
                        "roc_auc_std": round(cv["roc_auc_std"], 4),
                        "seconds": round(time.perf_counter() - started, 1)}
                results[(name, model)] = line["roc_auc_mean"]
                print(json.dumps(line), flush=True)
    for name in args.datasets.split(","):
        if (name, "mlp") in results and (name, "hgb") in results:
            print(json.dumps({"dataset": name, "mlp_minus_hgb": round(
                results[(name, "mlp")] - results[(name, "hgb")], 4)}), flush=True)


if __name__ == "__main__":
    main()
