"""Compare, delete, export and import runs (safely)."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from core.app import ImportRunError, export_run, import_run
from core.config import load_settings
from core.errors import AppError, RunNotFoundError
from core.runs import SCORE_COL, compare_runs, delete_run, list_runs, load_run

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("model", ["mlp", "hgb"])
def test_export_import_roundtrip_predicts_the_same(bank_ws, tmp_path, model):
    s, runs = bank_ws
    other = load_settings(tmp_path / "other")
    blob = export_run(s, runs[model])
    run_id = import_run(other, blob)
    assert run_id == runs[model]
    imported = load_run(other, run_id)
    original = load_run(s, runs[model])
    assert np.allclose(imported.predict(original.test_frame), original.test_frame[SCORE_COL],
                       atol=1e-5)
    assert imported.config.extra["imported_from"] == runs[model]
    again = import_run(other, blob)  # same id exists: kept both
    assert again == f"{runs[model]}-imported"
    assert {r["run_id"] for r in list_runs(other)} == {run_id, again}


def _zip(files: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_import_refuses_bad_archives(tmp_path):
    s = load_settings(tmp_path / "ws")
    with pytest.raises(ImportRunError, match="not a zip"):
        import_run(s, b"hello")
    with pytest.raises(ImportRunError, match="no config.json"):
        import_run(s, _zip({"a.json": "{}"}))
    with pytest.raises(ImportRunError, match="never"):
        import_run(s, _zip({"config.json": "{}", "metrics.json": "{}", "model.pkl": b"x"}))
    with pytest.raises(ImportRunError, match="never"):
        import_run(s, _zip({"config.json": "{}", "metrics.json": "{}", "../evil.json": "{}"}))
    with pytest.raises(ImportRunError, match="not a LiftLab run configuration"):
        import_run(s, _zip({"config.json": '{"run_id": "x"}', "metrics.json": "{}"}))
    assert list_runs(s) == [] and not any(s.runs_dir.glob("*"))  # nothing left behind


def test_compare_and_delete(bank_ws, tmp_path):
    s, runs = bank_ws
    metrics, params = compare_runs(s, [runs["mlp"], runs["hgb"]])
    assert list(metrics.columns) == [runs["mlp"], runs["hgb"]]
    assert metrics.loc["roc_auc", runs["hgb"]] == load_run(s, runs["hgb"]).metrics["metrics"]["roc_auc"]
    assert "model" in params.index and "data.target" not in params.index
    assert "model.model" not in params.index and params.index.is_unique
    assert params.loc["model.epochs", runs["hgb"]] == "—"  # set in the form, unused by hgb
    with pytest.raises(AppError, match="2 to 4"):
        compare_runs(s, [runs["mlp"]])
    other = load_settings(tmp_path / "del")
    run_id = import_run(other, export_run(s, runs["logreg"]))
    delete_run(other, run_id)
    assert list_runs(other) == []
    with pytest.raises(RunNotFoundError):
        delete_run(other, run_id)
