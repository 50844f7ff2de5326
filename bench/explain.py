"""Explain and evaluate figures (issue 5), printed as JSON lines.

- SHAP for 1,000 bank test rows: LiftLab's chosen explainer for the ``mlp`` against
  ``shap.KernelExplainer`` on the same model and the same 100 background rows, in one run. Kernel
  SHAP is timed on a few rows and scaled to 1,000 (it is linear in rows); ``shap.DeepExplainer``
  on all 1,000 rows is reported beside them.
- The SHAP cost estimate (what sends a request to a background job) against each explainer's
  measured time on the same run (``--cost-only`` runs this alone).
- The Evaluate page with 1,000,000 scored rows: AppTest time of a threshold change (median of
  several moves), and of the first open, which computes the curves once.

Usage: ``python bench/explain.py [--epochs N] [--kernel-rows N] [--page-rows N] [--cost-only]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import warnings
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["LIFTLAB_LOAD_SAMPLE"] = "0"

import numpy as np  # noqa: E402

from core.config import load_settings  # noqa: E402
from core.explain import BACKGROUND_MAX, explain_cost, explain_run
from core.ingest import IngestOptions, ingest_file
from core.runs import fast_scorer, load_run
from core.specs import DatasetSpec, ModelConfig  # noqa: E402
from core.training import train
from core.warehouse import connect
from tests.core.review_fixtures import binary_run  # noqa: E402  (the scored-run layout)

SHARED = ROOT.parent / "shared" / "data" / "bank_marketing" / "bank-additional-full.csv"
BANK = SHARED if SHARED.exists() else ROOT / "data" / "samples" / "bank-additional-full.csv"


def _emit(line: dict) -> None:
    print(json.dumps(line), flush=True)


def trained_mlp(settings, epochs: int):
    """The default DNN (128-64, relu, dropout 0.2) on the full bank table without duration."""
    with connect(settings) as con:
        ingest_file(con, BANK, IngestOptions(table="bank"))
    result = train(settings, DatasetSpec("bank", "y", exclude=("duration",)),
                   ModelConfig.of(epochs=epochs, early_stopping=False))
    return load_run(settings, result.run_id)


def bench_shap(run, rows: int, kernel_rows: int) -> dict:
    """LiftLab's explainer vs KernelExplainer (scaled) vs DeepExplainer on the same inputs."""
    import shap

    ours = explain_run(run, n_rows=rows)
    deep = explain_run(run, n_rows=rows, method="deep")
    x = ours.encoded_rows
    bg = run.preprocessor.transform(run.background[run.features].head(BACKGROUND_MAX))
    f = fast_scorer(run.model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kernel = shap.KernelExplainer(f, bg)
        started = time.perf_counter()
        kv = np.asarray(kernel.shap_values(x[:kernel_rows], silent=True)).reshape(kernel_rows, -1)
        kernel_s = time.perf_counter() - started
    kernel_err = float(np.max(np.abs(float(np.ravel(kernel.expected_value)[0]) + kv.sum(1)
                                     - f(x[:kernel_rows]))))
    agree = float(np.max(np.abs(kv - ours.encoded_values[:kernel_rows])))
    scaled = kernel_s * rows / kernel_rows
    return {"bench": "shap_mlp_bank", "rows": len(ours.rows), "explainer": ours.explainer,
            "background_rows": ours.background_rows, "encoded_features": x.shape[1],
            "liftlab_s": ours.seconds, "additivity_max_error": ours.additivity_max_error,
            "shap_deep_s": deep.seconds, "shap_deep_additivity": deep.additivity_max_error,
            "max_abs_diff_vs_shap_deep": float(np.max(np.abs(ours.encoded_values
                                                             - deep.encoded_values))),
            "kernel_rows_timed": kernel_rows, "kernel_s_timed": round(kernel_s, 2),
            "kernel_s_scaled_to_rows": round(scaled, 1), "kernel_additivity": kernel_err,
            "max_abs_diff_vs_kernel": agree,
            "speedup_vs_kernel": round(scaled / ours.seconds, 1),
            "speedup_vs_shap_deep": round(deep.seconds / ours.seconds, 1)}


def bench_cost(run) -> list[dict]:
    """The a-priori estimate (:func:`core.explain.explain_cost`, what decides whether SHAP
    runs as a background job) against the explainer's measured time, per explainer."""
    out = []
    for method, rows in (("kernel", 20), ("permutation", 50), ("deeplift", 1000)):
        cost = explain_cost(run, rows, method=method)
        actual = explain_run(run, n_rows=rows, method=method).seconds
        out.append({"bench": "shap_cost_estimate", "method": method, "rows": rows,
                    "evaluations": cost.evaluations, "estimate_s": round(cost.seconds, 3),
                    "actual_s": round(actual, 3),
                    "estimate_over_actual": round(cost.seconds / actual, 2)})
    return out


def bench_threshold(settings, n: int, moves: int = 9) -> dict:
    """AppTest: open the Evaluate page on ``n`` scored rows, then move the threshold."""
    from streamlit.testing.v1 import AppTest

    os.environ["LIFTLAB_DATA_DIR"] = str(settings.data_dir)
    run_id = binary_run(settings, n, run_id=f"{datetime.now():%Y%m%d-%H%M%S}-synthetic-1m00")
    at = AppTest.from_file(str(ROOT / "pages" / "evaluate.py"), default_timeout=600)
    at.session_state["active_run"] = run_id
    started = time.perf_counter()
    at.run()
    first = time.perf_counter() - started
    times = []
    for t in np.linspace(0.2, 0.6, moves):
        started = time.perf_counter()
        at.slider(key="evaluate__threshold").set_value(float(round(t, 3))).run()
        times.append(time.perf_counter() - started)
    assert not at.exception, at.exception
    return {"bench": "evaluate_threshold_move", "rows": n, "first_open_s": round(first, 2),
            "move_median_s": round(statistics.median(times), 3),
            "move_max_s": round(max(times), 3), "moves": moves, "goal_s": 0.3}


def main() -> None:
    """Run both benchmarks in one temporary workspace."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--rows", type=int, default=1000)
    p.add_argument("--kernel-rows", type=int, default=10)
    p.add_argument("--page-rows", type=int, default=1_000_000)
    p.add_argument("--cost-only", action="store_true", help="only the cost estimate's check")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="liftlab-bench-") as tmp:
        settings = load_settings(Path(tmp) / "ws")
        run = trained_mlp(settings, args.epochs)
        for line in bench_cost(run):
            _emit(line)
        if args.cost_only:
            return
        _emit(bench_shap(run, args.rows, args.kernel_rows))
        _emit(bench_threshold(settings, args.page_rows))


if __name__ == "__main__":
    main()
