"""Preparation figures on Online Retail II (525,461 rows), printed as JSON lines (issue 12).

- dedupe: a recipe of one ``drop_duplicates`` step by (Invoice, StockCode), which keeps the first
  row of each key in file order and writes the table in file order, against DuckDB's own
  ``DISTINCT ON`` (arbitrary row per key, any order) in the same run (ratio); and whether a replay
  equals the first application (same rows in the same order, compared by a hash of every row);
- recipe: five steps (dedupe, impute, signed log, one-hot, date parts from text), fit + notes +
  write, against a plain copy of the table (``CREATE TABLE AS SELECT *``) in the same run;
- profile: the whole profile, and the share of it spent reading text columns as dates.

Usage: ``python bench/prepare.py [--repeats N]``.
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
from core.ingest import IngestOptions, ingest_file  # noqa: E402
from core.tables import (  # noqa: E402
    Recipe,
    Step,
    apply_recipe,
    column_date_readings,
    profile_table,
    replay_recipe,
)
from core.warehouse import connect  # noqa: E402

RETAIL = (ROOT.parent / "shared" / "data" / "online_retail_ii_2009_2010"
          / "online_retail_ii_year_2009-2010.parquet")
KEYS = ("Invoice", "StockCode")
STEPS = (Step("drop_duplicates", KEYS), Step("impute", ("Customer_ID",), "median"),
         Step("log", ("Quantity",), "signed"), Step("encode", ("Country",), "onehot", 10),
         Step("date_parts", ("InvoiceDate",), "day_first"))


def _best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def _hash(con, table: str) -> int:
    """Order-sensitive hash of every row (its position in the table, ``rowid``, included)."""
    return con.execute(f'SELECT sum(hash(t, rowid)) FROM "{table}" t').fetchone()[0]


def bench_dedupe(con, repeats: int) -> dict:
    i = iter(range(1000))
    ours = _best(lambda: apply_recipe(con, "retail", Recipe("dd", (STEPS[0],)),
                                      f"dd_{next(i)}"), repeats)
    duck = _best(lambda: con.execute(
        'CREATE OR REPLACE TABLE duck_dd AS SELECT DISTINCT ON ("Invoice", "StockCode") * '
        'FROM retail'), repeats)
    replay_recipe(con, "dd", "retail", "dd_replayed")
    rows = con.execute("SELECT count(*) FROM dd_0").fetchone()[0]
    return {"bench": "drop_duplicates_retail", "rows_in": 525461, "rows_out": rows,
            "liftlab_s": round(ours, 3), "duckdb_distinct_on_s": round(duck, 3),
            "ratio": round(ours / duck, 2),
            "replay_equals_first": _hash(con, "dd_0") == _hash(con, "dd_replayed")}


def bench_recipe(con, repeats: int) -> dict:
    i = iter(range(1000))
    result = None

    def run():
        nonlocal result
        result = apply_recipe(con, "retail", Recipe("five", STEPS), f"five_{next(i)}")

    ours = _best(run, repeats)
    copy = _best(lambda: con.execute("CREATE OR REPLACE TABLE copy AS SELECT * FROM retail"),
                 repeats)
    return {"bench": "recipe_5_steps_retail", "rows_out": result.rows,
            "liftlab_s": round(ours, 3), "copy_table_s": round(copy, 3),
            "ratio": round(ours / copy, 2), "notes": result.notes}


def bench_profile(con, repeats: int) -> dict:
    whole = _best(lambda: profile_table(con, "retail"), repeats)
    dates = _best(lambda: column_date_readings(con, "retail", "InvoiceDate"), repeats)
    return {"bench": "profile_retail", "profile_s": round(whole, 3),
            "dates_as_text_s": round(dates, 3), "share": round(dates / whole, 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(Path(tmp) / "ws")
        with connect(settings) as con:
            ingest_file(con, RETAIL, IngestOptions(table="retail"))
            for bench in (bench_dedupe, bench_recipe, bench_profile):
                print(json.dumps(bench(con, args.repeats)), flush=True)


if __name__ == "__main__":
    main()
