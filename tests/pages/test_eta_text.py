"""The Train page's time line: seconds per epoch from the measured epochs."""

from __future__ import annotations

from core.app import JobState
from ui.train_job_views import eta_text


def _job(seconds: list[float]) -> JobState:
    return JobState("j", "train", "mlp", state="running", epoch=len(seconds), epochs=10,
                    epoch_seconds=seconds)


def test_sub_second_epochs_show_two_decimals_and_longer_ones_one():
    assert eta_text(_job([1.9, 0.781, 0.779])).startswith("0.78 s per epoch (measured)")
    assert eta_text(_job([3.0, 2.54, 2.46])).startswith("2.5 s per epoch (measured)")
    assert eta_text(_job([])) == "timing the first epoch"
