"""The leaderboard: every family on one split and the same folds, ranked by ROC-AUC with
intervals, and "tied with the best" by a paired bootstrap on the shared test rows."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from core.errors import TrainingError
from core.leaderboard import build_leaderboard, load_leaderboard, paired_bootstrap
from core.runs import LABEL_COL, SCORE_COL, load_run
from core.specs import DatasetSpec

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


def test_paired_bootstrap_equals_a_hand_loop():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    a = y * 0.3 + rng.random(400)
    b = y * 0.25 + rng.random(400)
    ci, diff = paired_bootstrap("binary", y, {"a": a, "b": b}, "a", n_boot=300, seed=7)
    draw = np.random.default_rng(7)
    da, db = [], []
    for _ in range(300):
        idx = draw.integers(0, 400, 400)
        da.append(roc_auc_score(y[idx], a[idx]))
        db.append(roc_auc_score(y[idx], b[idx]))
    da, db = np.array(da), np.array(db)
    assert ci["b"] == pytest.approx([np.quantile(db, 0.025), np.quantile(db, 0.975)])
    assert diff["b"] == pytest.approx([np.quantile(db - da, 0.025),
                                       np.quantile(db - da, 0.975)])
    # the paired interval is narrower than the two separate intervals suggest
    assert diff["b"][1] - diff["b"][0] < (ci["a"][1] - ci["a"][0]) + (ci["b"][1] - ci["b"][0])


def test_leaderboard_shares_the_split_and_folds_and_says_ties(bank_ws):
    s, _ = bank_ws
    spec = DatasetSpec("bank", "y", exclude=("duration",))
    board = build_leaderboard(s, spec, ("logreg", "hgb"), cv=3, n_boot=200)
    assert [m["rank"] for m in board.models] == [1, 2]
    assert board.best == board.models[0]["model"] and board.metric == "roc_auc"
    runs = {m["model"]: load_run(s, m["run_id"]) for m in board.models}
    tests = [r.test_frame for r in runs.values()]
    assert np.array_equal(tests[0][LABEL_COL], tests[1][LABEL_COL])
    for m in board.models:
        t = runs[m["model"]].test_frame
        assert m["roc_auc"] == pytest.approx(roc_auc_score(t[LABEL_COL], t[SCORE_COL]))
        assert m["ci95"][0] <= m["roc_auc"] <= m["ci95"][1]
        assert m["cv"]["k"] == 3 and len(m["cv"]["folds"]) == 3
        assert "duration" not in runs[m["model"]].features
    other = board.models[1]
    lo, hi = other["difference_ci95"]
    assert other["tied_with_best"] == (lo <= 0 <= hi)
    assert board.tied_with_best == ([other["model"]] if other["tied_with_best"] else [])
    oofs = [runs[m].config.run_id for m in runs]
    folds = [json.loads((s.runs_dir / r / "metrics.json").read_text())["cv"]["k"] for r in oofs]
    assert folds == [3, 3]
    assert load_leaderboard(s, board.board_id).models == board.models


def test_leaderboard_refuses_one_family(bank_ws):
    s, _ = bank_ws
    with pytest.raises(TrainingError, match="at least two"):
        build_leaderboard(s, DatasetSpec("bank", "y"), ("hgb",))
    with pytest.raises(TrainingError, match="at least two"):
        build_leaderboard(s, DatasetSpec("bank", "y"), ("hgb", "bogus"))


def test_cli_leaderboard(bank_ws):
    from core.app import main

    s, _ = bank_ws
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["--data-dir", str(s.data_dir), "leaderboard", "--table", "bank",
                     "--target", "y", "--positive", "yes", "--models", "logreg,hgb,mlp",
                     "--epochs", "2", "--bootstrap", "100"])
    assert code == 0, err.getvalue()
    js = json.loads(out.getvalue())
    assert [m["model"] for m in js["models"]][0] == js["best"]
    assert {"model", "roc_auc", "ci95", "tied_with_best", "difference_ci95", "run_id"} <= \
        set(js["models"][0])
    assert isinstance(js["tied_with_best"], list) and len(js["models"]) == 3
    epochs = {m["model"]: m["epochs"] for m in js["models"]}  # the network's, as trained
    assert epochs["mlp"] == len(load_run(s, next(m["run_id"] for m in js["models"]
                                                 if m["model"] == "mlp")).history) <= 2
    assert epochs["mlp"] >= 1 and epochs["logreg"] is None and epochs["hgb"] is None
    assert "NaN" not in out.getvalue()
