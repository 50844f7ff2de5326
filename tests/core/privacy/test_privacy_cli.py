"""train --dp, audit and compress on the command line (bank subsample)."""

from __future__ import annotations

import json

import pytest

from core.app import main


def _run(capsys, settings, *argv):
    code = main(["--data-dir", str(settings.data_dir), *argv])
    cap = capsys.readouterr()
    return code, (json.loads(cap.out) if code == 0 else None), cap.err


def test_train_dp_then_audit_and_compress(bank_ws, capsys):
    s, runs = bank_ws
    code, out, _ = _run(capsys, s, "train", "--table", "bank", "--target", "y", "--exclude",
                        "duration", "--hidden-units", "16", "--epochs", "2", "--dp",
                        "--epsilon", "4", "--clip", "0.5")
    assert code == 0
    p = out["privacy"]
    assert {"epsilon", "delta", "noise_multiplier", "clip", "accountant", "sampling"} <= set(p)
    assert p["epsilon"] <= 4.0 and p["clip"] == 0.5 and p["delta"] < 1 / out["rows"]["train"]
    code, audit, _ = _run(capsys, s, "audit", out["run_id"], "--rows", "300", "--bootstrap",
                          "50")
    mi = audit["membership_inference"]
    assert code == 0 and mi["members"] == mi["non_members"] == 300
    assert len(mi["ci95"]) == 2 and mi["dp_advantage_bound"] is not None
    code, comp, _ = _run(capsys, s, "compress", out["run_id"], "--method", "int8")
    assert code == 0 and comp["parent"] == out["run_id"]
    assert {"run_id", "method", "weights_bytes", "parent_weights_bytes", "file_bytes",
            "metrics", "parent_metrics"} <= set(comp)
    assert any("carries over" in n for n in comp["notes"])
    # a plain run says it has no DP
    code, plain, _ = _run(capsys, s, "train", "--table", "bank", "--target", "y", "--model",
                          "logreg")
    assert code == 0 and plain["privacy"] is None


@pytest.mark.parametrize("argv,needle", [
    (["train", "--table", "bank", "--target", "y", "--model", "hgb", "--dp"],
     "Keras networks only"),
    (["train", "--table", "bank", "--target", "y", "--dp", "--epsilon", "-1"], "> 0"),
    (["train", "--table", "bank", "--target", "y", "--epsilon", "1"], "add --dp"),
    (["train", "--table", "bank", "--target", "y", "--dp", "--tune-trials", "2"],
     "not available with differential privacy"),
    (["compress", "RUN_MLP", "--method", "prune", "--sparsity", "1"], "strictly between"),
    (["compress", "RUN_HGB", "--method", "int8"], "Distil it"),
    (["compress", "RUN_MLP", "--method", "distill", "--units", "a,b"], "integers"),
])
def test_bad_input_exits_2_with_the_reason(bank_ws, capsys, argv, needle):
    s, runs = bank_ws
    argv = [a.replace("RUN_MLP", runs["mlp"]).replace("RUN_HGB", runs["hgb"]) for a in argv]
    code, _, err = _run(capsys, s, *argv)
    assert code == 2 and err.startswith("error: ") and needle in err
