"""The Train page's tuning record: finished and pruned trials, the best marked."""

from __future__ import annotations

import math

from streamlit.testing.v1 import AppTest

from ui.tuning_views import trials_frame

TUNING = {"objective": "validation roc_auc", "direction": "maximize", "parallel": 2,
          "seconds": 41.6, "pruner": "Optuna MedianPruner on the validation loss per epoch",
          "best_params": {"units": 64, "learning_rate": 0.01},
          "trials": [{"number": 0, "value": 0.71, "params": {"units": 32, "learning_rate": 0.001}},
                     {"number": 2, "value": 0.78, "params": {"units": 64, "learning_rate": 0.01}}],
          "pruned": [{"number": 1, "epoch": 3, "val_loss": 0.6931,
                      "params": {"units": 16, "learning_rate": 0.3}}]}


def test_trials_frame_lists_every_trial_in_order_with_its_state():
    frame = trials_frame(TUNING)
    assert frame["trial"].tolist() == [0, 1, 2]
    assert frame["state"].tolist() == ["finished", "pruned at epoch 3", "best"]
    scores = frame["validation roc_auc"].tolist()
    assert scores[0] == 0.71 and math.isnan(scores[1]) and scores[2] == 0.78
    assert frame["units"].tolist() == [32, 16, 64]
    losses = frame["validation loss when pruned"].tolist()
    assert math.isnan(losses[0]) and losses[1] == 0.6931 and math.isnan(losses[2])
    unpruned = trials_frame({**TUNING, "pruned": []})
    assert "validation loss when pruned" not in unpruned and len(unpruned) == 2


def _page(tuning: dict) -> None:
    from ui.tuning_views import tuning_summary

    tuning_summary(tuning)


def test_the_summary_says_how_many_trials_were_pruned_and_the_best_score():
    at = AppTest.from_function(_page, args=(TUNING,)).run()
    assert not at.exception
    assert at.expander[0].label == ("Tuning: 2 trials finished, 1 pruned · best validation "
                                    "roc_auc 0.7800")
    assert "2 trials at a time on Ray Tune" in at.caption[0].value
    assert "MedianPruner" in at.caption[0].value
    assert at.dataframe[0].value["state"].tolist() == ["finished", "pruned at epoch 3", "best"]


def test_the_trials_table_shows_a_dash_where_a_trial_has_no_score():
    # st.dataframe showed "None" in a pruned trial's score cell
    from ui.tuning_views import trials_table

    lines = trials_table(TUNING).hide(axis="index").to_string(delimiter="|").splitlines()
    header, rows = lines[0].split("|"), [line.split("|") for line in lines[1:]]
    score, loss = header.index("validation roc_auc"), header.index("validation loss when pruned")
    assert [r[score] for r in rows] == ["0.7100", "—", "0.7800"]
    assert [r[loss] for r in rows] == ["—", "0.6931", "—"]


def test_a_job_without_epochs_shows_its_trials_not_a_scikit_learn_fit():
    # A network's tuning job (and a leaderboard while it starts) read "Fitting (scikit-learn
    # reports no progress until it finishes)" on a half bar.
    from core.app import JobState
    from ui.tuning_views import job_bar

    tuning = JobState("a", "train", "mlp on bank (target y, 8 tuning trials)", state="running",
                      message="Tuning: trial 6/8 · best so far 0.7837",
                      params={"model_config": {"model": "mlp"}})
    assert job_bar(tuning) == (0.75, "Tuning: trial 6/8 · best so far 0.7837")
    board = JobState("b", "leaderboard", "leaderboard of 7 families", state="running",
                     message="Exporting bank for the worker")
    assert job_bar(board) == (0.5, "Exporting bank for the worker (no measured progress yet)")
    hgb = JobState("c", "train", "hgb on bank", state="running", message="Fitting hgb",
                   params={"model_config": {"model": "hgb"}})
    assert job_bar(hgb) == (0.5, "Fitting (scikit-learn reports no progress until it finishes)")
    assert job_bar(JobState("d", "train", "queued one")) == (0.0, "Waiting for the worker")
