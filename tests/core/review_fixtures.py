"""Synthetic scored runs (no training) for the Evaluate/Explain/report tests: a multiclass and a
regression run with the test-split layout core/training.py writes, and a large binary run."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd


def _config(run_id: str, task: str, extra: dict) -> dict:
    return {"run_id": run_id, "created_at": datetime.now().isoformat(timespec="seconds"),
            "task": task, "model": "synthetic",
            "spec": {"table": "synthetic", "target": "target", "exclude": []},
            "positive_class": None, "negative_class": None, "features": ["segment", "x"],
            "rows": {"test": 0}, **extra}


def write_scored_run(settings, run_id: str, task: str, test: pd.DataFrame, extra: dict) -> str:
    """Write a run folder holding only config, metrics and the scored test split."""
    from core.runs import write_run_folder

    config = _config(run_id, task, extra)
    config["rows"] = {"test": len(test)}

    def files(folder):
        import json

        (folder / "config.json").write_text(json.dumps(config))
        (folder / "metrics.json").write_text(json.dumps({"metrics": {}}))
        test.to_parquet(folder / "test.parquet", index=False)

    write_run_folder(settings, run_id, config, {"metrics": {}}, files)
    return run_id


def multiclass_run(settings, n: int = 400, seed: int = 0) -> tuple[str, np.ndarray, np.ndarray]:
    """A 3-class run; returns ``(run_id, y, proba)``."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    logits = rng.normal(size=(n, 3)) + 1.2 * np.eye(3)[y]
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    test = pd.DataFrame({"segment": rng.choice(["a", "b"], n), "x": rng.normal(size=n),
                         "__label": y, **{f"__proba_{k}": proba[:, k] for k in range(3)}})
    rid = write_scored_run(settings, "20260101-000000-synthetic-mc01", "multiclass", test,
                           {"classes": ["bronze", "silver", "gold"]})
    return rid, y, proba


def regression_run(settings, n: int = 300, seed: int = 1) -> tuple[str, np.ndarray, np.ndarray]:
    """A regression run; returns ``(run_id, y, prediction)``."""
    rng = np.random.default_rng(seed)
    y = rng.normal(50, 10, n)
    pred = y + rng.normal(1, 4, n)
    test = pd.DataFrame({"segment": rng.choice(["a", "b"], n), "x": rng.normal(size=n),
                         "__label": y, "__score": pred})
    return write_scored_run(settings, "20260101-000000-synthetic-rg01", "regression", test,
                            {}), y, pred


def binary_run(settings, n: int, seed: int = 2, run_id: str = "20260101-000000-synthetic-bn01",
               ) -> str:
    """A binary run with ``n`` scored rows (for timing the Evaluate page at scale)."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.1).astype(np.int8)
    s = np.clip(rng.normal(0.3 + 0.3 * y, 0.18), 0, 1)
    test = pd.DataFrame({"segment": rng.choice(["north", "south", "east", "west"], n),
                         "x": rng.normal(size=n), "__label": y, "__score": s})
    return write_scored_run(settings, run_id, "binary", test,
                            {"positive_class": "yes", "negative_class": "no"})
