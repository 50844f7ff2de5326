"""The command-line contract: JSON on stdout, `error: ...` and exit 2 on bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from core.app import main
from tests.conftest import CASES, ROOT


def _run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def test_ingest_tables_and_errors(capsys, tmp_path):
    d = str(tmp_path / "ws")
    code, out, _ = _run(capsys, "--data-dir", d, "ingest", str(CASES / "special_char_headers.csv"))
    assert code == 0 and out["table"] == "special_char_headers" and out["rows"] == 3
    assert out["columns"][1] == {"name": "Monthly_Charges", "type": "DOUBLE",
                                 "original_name": "Monthly Charges ($)", "missing": 0}
    code, out, _ = _run(capsys, "--data-dir", d, "tables")
    assert out["tables"] == [{"table": "special_char_headers", "rows": 3, "columns": 7,
                              "source": "special_char_headers.csv"}]
    for bad in ("empty.csv", "header_only.csv", "README.md"):
        code, out, err = _run(capsys, "--data-dir", d, "ingest", str(CASES / bad))
        assert code == 2 and out is None
        assert err.startswith("error: ") and err.count("\n") == 1
    code, out, _ = _run(capsys, "--data-dir", d, "tables")
    assert len(out["tables"]) == 1


def test_train_bad_target_and_unknown_run(capsys, tmp_path):
    d = str(tmp_path / "ws")
    _run(capsys, "--data-dir", d, "ingest", str(CASES / "special_char_headers.csv"))
    code, _, err = _run(capsys, "--data-dir", d, "train", "--table", "special_char_headers",
                        "--target", "missing_col")
    assert code == 2 and "has no column" in err and "missing_col" in err
    code, _, err = _run(capsys, "--data-dir", d, "train", "--table", "special_char_headers",
                        "--target", "客户等级", "--model", "logreg")
    assert code == 2 and "at least 5" in err
    code, _, err = _run(capsys, "--data-dir", d, "evaluate", "no-such-run")
    assert code == 2 and "no run 'no-such-run'" in err
    code, _, err = _run(capsys, "--data-dir", d, "train", "--table", "x", "--target", "y",
                        "--model", "bogus")
    assert code == 2 and err.startswith("error: ")


@pytest.mark.slow
def test_path_on_trained_run(capsys, bank_ws):
    s, runs = bank_ws
    d = str(s.data_dir)
    code, out, _ = _run(capsys, "--data-dir", d, "evaluate", runs["hgb"], "--threshold", "0.3")
    assert code == 0 and out["threshold"] == 0.3
    (tn, fp), (fn, tp) = out["confusion"]
    assert tn + fp + fn + tp == 1200
    assert set(out["metrics"]) >= {"accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc"}
    code, out, _ = _run(capsys, "--data-dir", d, "simulate", runs["hgb"], "--contact-cost", "5",
                        "--conversion-value", "100", "--fraction", "0.2", "--bootstrap", "100")
    assert code == 0 and out["targeted"] == 240
    assert out["conversion_lift"] > 1.5 and set(out["ci95"]) >= {
        "conversions_model", "conversion_lift", "profit_model"}
    assert out["profit_model"] == pytest.approx(out["conversions_model"] * 100 - 240 * 5)
    code, out, _ = _run(capsys, "--data-dir", d, "explain", runs["logreg"], "--rows", "50")
    assert code == 0 and out["explainer"] == "LinearExplainer" and out["rows"] == 50
    assert out["additivity_max_error"] <= 1e-3 and len(out["importance"]) == 19
    code, out, _ = _run(capsys, "--data-dir", d, "score", runs["logreg"], "--table", "bank",
                        "--out", "bank_scored")
    assert out == {"table": "bank_scored", "rows": 6000}
    code, out, _ = _run(capsys, "--data-dir", d, "runs")
    assert {r["run_id"] for r in out["runs"]} >= set(runs.values())


def test_module_entry_point_prints_json(tmp_path):
    r = subprocess.run([sys.executable, "-m", "core", "--data-dir", str(tmp_path), "tables"],
                       capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 0 and json.loads(r.stdout) == {"tables": []}
    r = subprocess.run([sys.executable, "-m", "core", "--data-dir", str(tmp_path), "ingest",
                        str(CASES / "empty.csv")], capture_output=True, text=True, cwd=ROOT,
                       timeout=60)
    assert r.returncode == 2 and r.stdout == "" and r.stderr.startswith("error: ")
    assert "Traceback" not in r.stderr


@pytest.mark.slow
def test_train_with_cv_and_reproduce_from_config(capsys, bank_ws):
    s, _ = bank_ws
    d = str(s.data_dir)
    code, out, _ = _run(capsys, "--data-dir", d, "train", "--table", "bank", "--target", "y",
                        "--exclude", "duration", "--model", "hgb", "--cv", "3")
    assert code == 0 and out["cv"]["k"] == 3 and len(out["cv"]["folds"]) == 3
    assert 0.6 < out["cv"]["roc_auc_mean"] < 0.9 and out["cv"]["roc_auc_std"] > 0
    config = s.runs_dir / out["run_id"] / "config.json"
    assert (s.runs_dir / out["run_id"] / "oof.parquet").exists()
    code, again, _ = _run(capsys, "--data-dir", d, "train", "--config", str(config))
    assert code == 0 and again["run_id"] != out["run_id"]
    assert again["metrics"] == out["metrics"]
    code, _, err = _run(capsys, "--data-dir", d, "train", "--config", str(CASES / "empty.csv"))
    assert code == 2 and "not a LiftLab run config" in err


@pytest.mark.slow
def test_train_streamed_pipeline_and_its_refusal(capsys, bank_ws):
    s, _ = bank_ws
    d = str(s.data_dir)
    code, out, _ = _run(capsys, "--data-dir", d, "train", "--table", "bank", "--target", "y",
                        "--exclude", "duration", "--model", "mlp", "--epochs", "2",
                        "--hidden-units", "16", "--pipeline", "stream")
    assert code == 0 and out["data_pipeline"] == "stream" and out["model"] == "mlp"
    assert out["rows"] == {"table": 6000, "train": 4200, "valid": 600, "test": 1200}
    assert 0.5 < out["metrics"]["roc_auc"] <= 1.0
    code, _, err = _run(capsys, "--data-dir", d, "train", "--table", "bank", "--target", "y",
                        "--model", "hgb", "--pipeline", "stream")
    assert code == 2 and "streamed pipeline trains Keras networks only" in err
