"""The command line of the loop: monitor, retrain, compare, promote, models, and score by
model name; JSON shapes as the issue gives them, exit 0 with alerts, exit 2 on bad input."""

from __future__ import annotations

import json

from core.app import main

CHUNK_KEYS = {"chunk", "rows", "reliable", "drift", "prediction_drift", "quality", "estimated",
              "realized", "alerts"}
FEATURE_KEYS = {"feature", "method", "statistic", "p_value", "threshold", "drifted", "psi"}


def _run(capsys, ws, *args):
    code = main(["--data-dir", str(ws.data_dir), *args])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def test_monitor_prints_the_issue_shape_and_exits_0_with_alerts(capsys, mon_ws):
    ws, runs = mon_ws
    code, out, _ = _run(capsys, ws, "monitor", runs["hgb"], "--table", "bank_second",
                        "--chunks", "4")
    assert code == 0 and out["alerts"] and out["dataset_drift"] is True
    assert {"run_id", "table", "dataset_drift", "alerts", "chunks"} <= set(out)
    assert out["run_id"] == runs["hgb"] and out["table"] == "bank_second"
    chunk = out["chunks"][0]
    assert set(chunk) == CHUNK_KEYS
    assert {"share_drifted", "features"} <= set(chunk["drift"])
    assert set(chunk["drift"]["features"][0]) == FEATURE_KEYS
    assert "emp.var.rate" in {f["feature"] for f in chunk["drift"]["features"]}  # file's names
    assert {"roc_auc", "precision", "recall", "f1"} <= set(chunk["estimated"])
    assert {"roc_auc", "precision", "recall", "f1"} <= set(chunk["realized"])
    assert isinstance(chunk["reliable"], bool) and isinstance(chunk["rows"], int)


def test_monitor_bad_input_exits_2_with_one_line(capsys, mon_ws):
    ws, runs = mon_ws
    code, out, err = _run(capsys, ws, "monitor", runs["hgb"], "--table", "nope")
    assert code == 2 and out is None and err.startswith("error: There is no table named 'nope'")
    code, _, err = _run(capsys, ws, "monitor", runs["hgb"], "--table", "bank_second", "--time",
                        "age", "--chunk-by", "month")
    assert code == 2 and "is not a date" in err and err.count("\n") == 1
    code, _, err = _run(capsys, ws, "monitor", runs["hgb"], "--table", "bank_second",
                        "--chunk-by", "month")
    assert code == 2 and "needs a time column" in err


def test_retrain_compare_promote_models_and_score_by_name(capsys, mon_ws):
    ws, runs = mon_ws
    code, out, _ = _run(capsys, ws, "promote", "cli_model", runs["logreg"], "--why",
                        "baseline in production")
    assert code == 0 and out == {"model": "cli_model", "champion": runs["logreg"],
                                 "previous": None}
    code, out, _ = _run(capsys, ws, "retrain", "cli_model", "--table", "bank_second")
    assert code == 0 and out["parent_run"] == runs["logreg"] and out["model"] == "logreg"
    assert {"run_id", "task", "metrics", "rows", "duration_s"} <= set(out)
    challenger = out["run_id"]
    code, out, _ = _run(capsys, ws, "compare", runs["logreg"], challenger, "--table", "bank",
                        "--bootstrap", "200")
    assert code == 0 and out["rows"] == 41188
    assert set(out["metrics"]["roc_auc"]) == {"a", "b", "diff", "ci95"}
    assert len(out["metrics"]["roc_auc"]["ci95"]) == 2 and "profit" in out
    code, out, _ = _run(capsys, ws, "promote", "cli_model", challenger, "--why",
                        "better on the whole file")
    assert out == {"model": "cli_model", "champion": challenger, "previous": runs["logreg"]}
    code, out, _ = _run(capsys, ws, "models")
    entry = next(m for m in out["models"] if m["model"] == "cli_model")
    assert entry["champion"] == challenger and len(entry["versions"]) == 2
    assert [h["why"] for h in entry["history"]] == ["better on the whole file",
                                                    "baseline in production"]
    code, out, _ = _run(capsys, ws, "score", "cli_model", "--table", "bank_second", "--out",
                        "scored_by_name")
    assert code == 0 and out == {"table": "scored_by_name", "rows": 41188 - 20594}
    code, _, err = _run(capsys, ws, "promote", "cli_model", challenger, "--why", "x")
    assert code == 2 and err.startswith("error: Say why")
