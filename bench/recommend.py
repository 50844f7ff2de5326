"""Next-item quality on MovieLens 100k and Online Retail: neural models against both baselines.

Protocol (see bench/RESULTS.md, "Recommender (issue 7)"): sequences built by
core.recommend.build_sequences (time order, ties in table row order), leave-last-out split per
user, full ranking over the whole catalogue, HitRate/NDCG@10 and MRR with 95% bootstrap
intervals over users. Prints one JSON line per dataset and model, with the ratio of the model's
HitRate@10 to the item-to-item baseline's, measured in the same run.

    nice .venv/bin/python bench/recommend.py [--datasets ml100k,online_retail]
        [--models gru4rec,sasrec] [--epochs N] [--learning-rate LR] [--patience N]

MovieLens is read from ../shared/data (its licence forbids shipping it); nothing is written
outside a temporary workspace.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from core.config import load_settings  # noqa: E402
from core.ingest import IngestOptions, ingest_file
from core.recommend import (
    EventColumns,
    NetOptions,
    RecModelConfig,
    SequenceOptions,
    leave_last_out,
    load_rec_run,
    rank_users,
    summarize,
    train_recommender,
)
from core.warehouse import connect

SHARED = ROOT.parent / "shared" / "data"
ML_DATA = SHARED / "movielens_100k" / "u.data"
RETAIL = SHARED / "online_retail" / "online_retail.parquet"
NON_PRODUCTS = ("POST", "D", "M", "DOT", "BANK CHARGES", "AMAZONFEE", "CRUK", "PADS", "C2", "S",
                "B")

DATASETS = {
    "ml100k": (EventColumns("ml100k", "user_id", "item_id", "ts"),
               SequenceOptions(min_item=1, min_user=3, max_len=1000, exclude_seen=False)),
    "online_retail": (EventColumns("online_retail", "CustomerID", "StockCode", "InvoiceDate",
                                   quantity="Quantity", price="UnitPrice", order="InvoiceNo",
                                   name="Description"),
                      SequenceOptions(exclude_items=NON_PRODUCTS, min_item=5, min_user=5,
                                      max_len=200, exclude_seen=False)),
}


def load_tables(settings) -> None:
    """MovieLens u.data (tab-separated, no header) and the Online Retail Parquet."""
    with connect(settings) as con:
        con.execute(
            "CREATE OR REPLACE TABLE ml100k AS SELECT * FROM read_csv(?, delim='\t', "
            "header=false, columns={'user_id': 'BIGINT', 'item_id': 'BIGINT', "
            "'rating': 'BIGINT', 'ts': 'BIGINT'})", [str(ML_DATA)])
        ingest_file(con, RETAIL, IngestOptions(table="online_retail", if_exists="replace"))


def seen_filtered_hr10(settings, run_id: str, cols, opts) -> float:
    """HitRate@10 of the same run when seen items are excluded (a second view, same model)."""
    run = load_rec_run(settings, run_id)
    split = leave_last_out(run.sequences)
    stats = rank_users(run.scorer(), split.test_histories, split.test_targets, True, 10)
    return summarize(stats, (10,))["hit_rate@10"]


def bench(settings, name: str, model: str, epochs: int | None, learning_rate: float | None = None,
          patience: int | None = None) -> dict:
    cols, opts = DATASETS[name]
    net = NetOptions(**({"patience": patience} if patience else {}))
    cfg = RecModelConfig(model=model, net=net, **({"epochs": epochs} if epochs else {}),
                         **({"learning_rate": learning_rate} if learning_rate else {}))
    started = time.perf_counter()
    r = train_recommender(settings, cols, opts, cfg)
    m, base = r.metrics["metrics"], r.metrics["baselines"]
    trans = base["transitions"]["metrics"]["hit_rate@10"]
    return {
        "dataset": name, "model": model, "run_id": r.run_id, "users": r.config.rows["users"],
        "items": r.config.rows["items"], "epochs_run": r.config.epochs_run,
        "max_epochs": cfg.epochs, "learning_rate": cfg.learning_rate, "patience": net.patience,
        "seconds": round(time.perf_counter() - started, 1),
        "hit_rate@10": m["hit_rate@10"], "hit_rate@10_ci95": r.metrics["ci95"]["hit_rate@10"],
        "ndcg@10": m["ndcg@10"], "mrr": m["mrr"], "coverage@10": m["coverage@10"],
        "popular_hit_rate@10": base["popular"]["metrics"]["hit_rate@10"],
        "transitions_hit_rate@10": trans,
        "transitions_ndcg@10": base["transitions"]["metrics"]["ndcg@10"],
        "transitions_mrr": base["transitions"]["metrics"]["mrr"],
        "ratio_vs_transitions": m["hit_rate@10"] / trans if trans else None,
        "difference_ci95": r.metrics["vs_transitions"]["ci95"]["hit_rate@10"],
        "hit_rate@10_seen_excluded": seen_filtered_hr10(settings, r.run_id, cols, opts),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", default="ml100k,online_retail")
    p.add_argument("--models", default="gru4rec,sasrec")
    p.add_argument("--epochs", type=int)
    p.add_argument("--learning-rate", type=float)
    p.add_argument("--patience", type=int)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(Path(tmp) / "ws")
        load_tables(settings)
        for name in args.datasets.split(","):
            for model in args.models.split(","):
                print(json.dumps(bench(settings, name, model, args.epochs, args.learning_rate,
                                       args.patience)), flush=True)


if __name__ == "__main__":
    main()
