"""5-fold stratified CV ROC-AUC of LiftLab's models on seven shared tables, in one run (issues 4, 15).

Models: the default network (``tabm``), the former default MLP (``mlp``, with the settings it
had as the default), ``hgb``, ``logreg`` and the ``ensemble`` (TabM + ``hgb``, weight chosen on
each fold's validation rows). Every model sees the same folds (stratified, seed 42) through
:func:`core.training.cross_validate`, the app's own path: the preprocessor is fitted on each
fold's training rows, networks early-stop on 10% of them.

Tables, from ``../shared/data`` (each folder's README names target, positive class and leaks):

- ``bank``: bank marketing, 41,188 rows, ``y`` = yes, without the leaking ``duration``;
- ``telco``: Telco churn, 7,043 rows, ``Churn`` = Yes, without the ID ``customerID``;
- ``german``: German credit, 1,000 rows, class 2 (bad risk) positive; no header;
- ``shoppers``: online shoppers, 12,330 rows, ``Revenue`` = TRUE (``PageValues`` kept, as
  the README's reference figure does);
- ``churners``: bank churners, 10,127 rows, ``Attrited Customer``, without ``CLIENTNUM`` and
  the two leaking ``Naive_Bayes_Classifier_*`` columns;
- ``caravan``: Caravan insurance, 5,822 rows, ``Purchase`` = Yes;
- ``credit``: Give Me Some Credit, ``SeriousDlqin2yrs`` = 1, without the row-number column;
  **subsampled** to ``--credit-rows`` (30,000 by default: a seeded uniform sample) so that
  5 folds × 5 models fit in the machine's time; the sample's size is printed.

Tables are loaded as the app loads them (:func:`core.ingest.ingest_file`, types inferred, no
per-table preparation), and every model keeps its defaults on every table.

Prints one JSON line per table and model (``roc_auc_mean``, ``roc_auc_std``, per-fold AUCs,
``seconds_per_fold`` and their mean), then one summary line per table (gaps to ``hgb``) and a
final line with the goals of issue 15: the default network ≥ ``hgb`` on at least 5 tables and
never more than 0.005 below, the ensemble ≥ ``hgb`` on all, and the default's training time
per fold on bank against the former default's, measured in this run.

Usage: ``python bench/quality.py [--folds 5] [--tables bank,telco,...] [--models ...]
[--credit-rows 30000] [--tabm-size 4x128]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.config import load_settings  # noqa: E402
from core.ingest import IngestOptions, ingest_file  # noqa: E402
from core.specs import DatasetSpec, ModelConfig  # noqa: E402
from core.training import cross_validate  # noqa: E402
from core.warehouse import connect, quote_ident  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
NB = "Naive_Bayes_Classifier_Attrition_Flag_Card_Category_Contacts"  # ingest shortens the names
TABLES = {  # file, ingest options, target, positive class, excluded columns
    "bank": ("bank_marketing/bank-additional-full.csv", {}, "y", "yes", ("duration",)),
    "telco": ("telco_customer_churn/WA_Fn-UseC_-Telco-Customer-Churn.csv", {}, "Churn", "Yes",
              ("customerID",)),
    "german": ("german_credit/german.data", {"header": False, "delimiter": " "}, "column_21",
               "2", ()),
    "shoppers": ("online_shoppers_intention/online_shoppers_intention.csv", {}, "Revenue",
                 None, ()),
    "churners": ("bank_churners/BankChurners.csv", {}, "Attrition_Flag", "Attrited Customer",
                 ("CLIENTNUM", NB, f"{NB}_2")),
    "caravan": ("caravan_insurance/Caravan.csv", {}, "Purchase", "Yes", ()),
    "credit": ("give_me_some_credit/cs-training.csv", {}, "SeriousDlqin2yrs", "1",
               ("column_1",)),
}
MODELS = ("tabm", "mlp", "hgb", "logreg", "ensemble")


def load_tables(settings, names: list[str], credit_rows: int, tmp: Path) -> dict[str, int]:
    """Ingest each table as the app does; subsample ``credit``. Returns rows per table."""
    rows = {}
    with connect(settings) as con:
        for name in names:
            rel, options, *_ = TABLES[name]
            path = DATA / rel
            if path.suffix == ".data":  # the ingest takes text files by their usual suffixes
                path = Path(shutil.copy(path, tmp / f"{name}.txt"))
            ingest_file(con, path, IngestOptions(table=name, **options))
            if name == "credit" and credit_rows:
                con.execute(f"CREATE TABLE credit_sample AS SELECT * FROM credit USING SAMPLE "
                            f"reservoir({int(credit_rows)} ROWS) REPEATABLE (0)")
                con.execute("DROP TABLE credit")
                con.execute("ALTER TABLE credit_sample RENAME TO credit")
            rows[name] = con.execute(f"SELECT count(*) FROM {quote_ident(name)}").fetchone()[0]
    return rows


def run_cv(settings, spec: DatasetSpec, model: str, folds: int, tabm: dict | None = None) -> dict:
    """Cross-validate one model with its defaults (``tabm``: TabM's size for ``tabm`` and the
    ensemble instead, e.g. ``{"members": 4, "width": 128}``); seconds per fold from the fold
    events."""
    marks: list[float] = []
    size = tabm if tabm and model in ("tabm", "ensemble") else {}
    cv = cross_validate(settings, spec, ModelConfig.of(model=model, **size), folds,
                        progress=lambda e: marks.append(time.perf_counter()))
    marks.append(time.perf_counter())
    seconds = [round(b - a, 1) for a, b in zip(marks, marks[1:])]
    aucs = [round(f["roc_auc"], 4) for f in cv["folds"]]
    return {"roc_auc_mean": round(cv["roc_auc_mean"], 4),
            "roc_auc_std": round(cv["roc_auc_std"], 4), "roc_auc_folds": aucs,
            "seconds_per_fold": seconds,
            "mean_seconds_per_fold": round(sum(seconds) / len(seconds), 1)}


def goals(results: dict, tables: list[str]) -> dict:
    """Issue 15's goals from this run's figures."""
    out: dict = {"bench": "quality_goals"}
    have = [t for t in tables if (t, "tabm") in results and (t, "hgb") in results]
    gaps = {t: round(results[(t, "tabm")]["roc_auc_mean"] - results[(t, "hgb")]["roc_auc_mean"],
                     4) for t in have}
    out["tabm_minus_hgb"] = gaps
    out["tabm_at_least_hgb"] = sum(g >= 0 for g in gaps.values())
    out["tabm_worst_gap"] = min(gaps.values()) if gaps else None
    ens = {t: round(results[(t, "ensemble")]["roc_auc_mean"]
                    - results[(t, "hgb")]["roc_auc_mean"], 4)
           for t in tables if (t, "ensemble") in results and (t, "hgb") in results}
    out["ensemble_minus_hgb"] = ens
    out["ensemble_at_least_hgb"] = sum(g >= 0 for g in ens.values())
    if ("bank", "tabm") in results and ("bank", "mlp") in results:
        out["bank_time_per_fold_tabm_over_mlp"] = round(
            results[("bank", "tabm")]["mean_seconds_per_fold"]
            / results[("bank", "mlp")]["mean_seconds_per_fold"], 2)
    return out


def main() -> None:
    """Run the comparison and print JSON lines."""
    p = argparse.ArgumentParser()
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--tables", default=",".join(TABLES))
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--tabm-size", default="",
                   help="members x width of TabM (and the ensemble's TabM), e.g. 4x128")
    p.add_argument("--credit-rows", type=int, default=30_000,
                   help="rows sampled from Give Me Some Credit (0 = all 150,000)")
    args = p.parse_args()
    tables, models = args.tables.split(","), args.models.split(",")
    tabm = None
    if args.tabm_size:
        k, w = (int(v) for v in args.tabm_size.split("x"))
        tabm = {"members": k, "width": w}
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(Path(tmp) / "ws")
        rows = load_tables(settings, tables, args.credit_rows, Path(tmp))
        for name in tables:
            _, _, target, positive, exclude = TABLES[name]
            spec = DatasetSpec(name, target, positive, exclude=exclude)
            for model in models:
                line = {"bench": "quality", "table": name, "rows": rows[name], "model": model,
                        "folds": args.folds, **run_cv(settings, spec, model, args.folds, tabm)}
                results[(name, model)] = line
                print(json.dumps(line), flush=True)
            base = results.get((name, "hgb"))
            if base:
                print(json.dumps({"bench": "quality_gap", "table": name, **{
                    f"{m}_minus_hgb": round(results[(name, m)]["roc_auc_mean"]
                                            - base["roc_auc_mean"], 4)
                    for m in models if m != "hgb"}}), flush=True)
    print(json.dumps(goals(results, tables)), flush=True)


if __name__ == "__main__":
    main()
