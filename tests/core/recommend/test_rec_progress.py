"""Training progress a user can follow: a message per stage before the first epoch, batch lines
with the time left, epoch seconds; when the sampled softmax is used; chart ticks."""

from __future__ import annotations

import pytest

from core.recommend import (
    EventColumns,
    NetOptions,
    RecModelConfig,
    SequenceOptions,
    load_rec_run,
    train_recommender,
    training_figure,
)
from core.recommend._plots import epoch_ticks
from core.recommend._training import SAMPLED_ABOVE, _duration, use_sampled

COLS = EventColumns("clicks", "user_id", "item", "ts", price="price")
OPTS = SequenceOptions(min_item=1, min_user=3)


@pytest.mark.slow
def test_every_stage_reports_and_batches_show_the_time_left(rec_ws):
    s, _ = rec_ws
    events = []
    cfg = RecModelConfig("gru4rec", epochs=2, embed_dim=8, window=4, batch_size=8)
    result = train_recommender(s, COLS, OPTS, cfg, events.append, n_boot=10)
    stages = [e["stage"] for e in events]
    assert stages[:4] == ["load", "baselines", "prepare", "fit"]  # all before the first batch
    assert stages[-4:] == ["evaluate", "bootstrap", "save", "done"]
    assert all(e.get("message") for e in events if e["stage"] != "done")
    assert events[1]["message"] == ("30 users, 8 items, 300 events: fitting the most-popular "
                                    "and item-to-item baselines")
    assert "full softmax" in events[3]["message"]
    assert "the first batch compiles the network" in events[3]["message"]
    # 30 users × 2 windows of 4 steps = 60 windows = 8 batches of 8; the last batch of an
    # epoch always reports, then validation, then the epoch
    batches = [e for e in events if e["stage"] == "batch"]
    assert {e["batches"] for e in batches} == {8}
    last = [e for e in batches if e["batch"] == 8]
    assert [e["epoch"] for e in last] == [0, 1]
    assert last[0]["message"].startswith("Epoch 1/2 · batch 8/8 · loss ")
    assert "· at most about " in last[0]["message"] and last[0]["message"].endswith(" s left")
    epochs = [e for e in events if e["stage"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2]
    assert stages[stages.index("epoch") - 1] == "validate"
    assert all(e["logs"]["seconds"] > 0 for e in epochs)
    assert " s per epoch · at most about " in epochs[0]["message"]
    assert "left" not in epochs[1]["message"]  # the last epoch promises nothing more
    saved = load_rec_run(s, result.run_id).history  # the run keeps each epoch's seconds
    assert [h["seconds"] for h in saved] == [e["logs"]["seconds"] for e in epochs]


def test_durations_in_words():
    assert [_duration(x) for x in (-3, 0.4, 45, 89.6, 90, 3599, 3600, 7500)] == [
        "0 s", "0 s", "45 s", "90 s", "2 min", "60 min", "1 h 00 min", "2 h 05 min"]


def test_sampled_softmax_above_the_threshold_unless_chosen():
    assert not use_sampled(NetOptions(), SAMPLED_ABOVE)
    assert use_sampled(NetOptions(), SAMPLED_ABOVE + 1)
    assert use_sampled(NetOptions(softmax="sampled"), 10)
    assert not use_sampled(NetOptions(softmax="full"), 10 * SAMPLED_ABOVE)


def test_training_chart_has_round_ticks_and_whole_epochs():
    history = [{"loss": 7.1, "val_hit_rate@10": 0.04756}, {"loss": 6.9, "val_hit_rate@10": 0.05337},
               {"loss": 6.5, "val_hit_rate@10": 0.067}]
    fig = training_figure(history)
    assert [t.name for t in fig.data] == ["training loss", "validation HitRate@10"]
    assert fig.data[1].xaxis == "x2" and fig.layout.yaxis2.overlaying is None  # own axis
    for axis in (fig.layout.xaxis, fig.layout.xaxis2):
        assert (axis.tickmode, axis.tick0, axis.dtick, axis.tickformat) == ("linear", 1, 1, "d")
    # round ticks (0.05, not 0.04756), trailing zeros trimmed
    assert fig.layout.yaxis.tickformat == ".2~f" and fig.layout.yaxis2.tickformat == ".3~f"
    assert list(fig.data[0].x) == [1, 2, 3]
    assert epoch_ticks(40)["dtick"] == 4 and epoch_ticks(1)["range"] == [0.5, 1.5]
