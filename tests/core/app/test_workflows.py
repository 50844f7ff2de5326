"""The train workflow shared by the command line and the jobs: cancel reaches every phase."""

from __future__ import annotations

import pytest

from core.app._workflows import train_workflow
from core.runs import list_runs
from core.specs import DatasetSpec, ModelConfig
from core.training import TrainingCancelled


def _stop_after(events: list, stage: str, count: int = 1):
    """A should_stop that turns True once ``count`` events of ``stage`` were seen."""
    return lambda: sum(e.get("stage") == stage for e in events) >= count


@pytest.mark.slow
def test_cancel_reaches_tuning_and_cross_validation(bank_ws):
    s, _ = bank_ws
    spec = DatasetSpec("bank", "y", exclude=("duration",))
    before = {r["run_id"] for r in list_runs(s)}
    events: list = []
    with pytest.raises(TrainingCancelled, match="Tuning was cancelled"):
        train_workflow(s, spec, ModelConfig.of(model="mlp", epochs=2, hidden_units=(8,)),
                       tune_trials=5,
                       progress=events.append, should_stop=_stop_after(events, "trial"))
    assert sum(e.get("stage") == "trial" for e in events) == 1  # the other 4 never ran
    events.clear()
    with pytest.raises(TrainingCancelled, match="Cross-validation was cancelled"):
        train_workflow(s, spec, ModelConfig.of(model="logreg"), cv=5, progress=events.append,
                       should_stop=_stop_after(events, "fold", 2))
    assert [e["fold"] for e in events if e.get("stage") == "fold"] == [1, 2]
    assert {r["run_id"] for r in list_runs(s)} == before  # no run left behind


@pytest.mark.slow
def test_workflow_trains_then_attaches_cross_validation(bank_ws):
    s, _ = bank_ws
    result, cv = train_workflow(s, DatasetSpec("bank", "y", exclude=("duration",)),
                                ModelConfig.of(model="logreg"), cv=3)
    assert cv["k"] == 3 and len(cv["folds"]) == 3 and "oof" not in cv
    assert (s.runs_dir / result.run_id / "oof.parquet").exists()
