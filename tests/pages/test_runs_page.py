"""AppTest of the Runs page: comparable default pair, readable metrics, settings that apply."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from core.app import export_run, import_run
from core.config import load_settings
from core.runs import load_run
from tests.conftest import ROOT

pytestmark = pytest.mark.slow
TIMEOUT = 120


def fake_next_item_run(settings, run_id: str, created_at: str) -> None:
    """A registered-looking next-item run folder (config and metrics only, no model)."""
    folder = settings.runs_dir / run_id
    folder.mkdir(parents=True)
    config = {"run_id": run_id, "created_at": created_at, "task": "next_item",
              "model": "transitions", "spec": {"table": "clicks", "target": "item"},
              "model_config": {"model": "transitions", "epochs": 40, "seed": 42,
                               "net": {"cell": "gru"}},
              "positive_class": None, "features": [], "device": "CPU (NumPy)"}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "metrics.json").write_text(json.dumps({"metrics": {"hit_rate@10": 0.5}}))


@pytest.fixture
def runs_ws(bank_ws, tmp_path, monkeypatch):
    """A workspace with the bank mlp and hgb runs and a newer next-item run."""
    s, runs = bank_ws
    ws = load_settings(tmp_path / "runs_ws")
    ids = {m: import_run(ws, export_run(s, runs[m])) for m in ("mlp", "hgb")}
    ids["rec"] = "20991231-235959-transitions-0000"
    fake_next_item_run(ws, ids["rec"], "2099-12-31T23:59:59")
    monkeypatch.setenv("LIFTLAB_DATA_DIR", str(ws.data_dir))
    return ws, ids


def _page() -> AppTest:
    return AppTest.from_file(str(ROOT / "pages" / "runs.py"), default_timeout=TIMEOUT).run()


def test_default_pair_is_the_newest_comparable_one(runs_ws):
    ws, ids = runs_ws
    at = _page()
    assert not at.exception
    assert at.multiselect(key="runs__compare").value == [ids["hgb"], ids["mlp"]]  # not the rec
    metrics = at.dataframe[1].value
    assert list(metrics.columns) == [ids["hgb"], ids["mlp"]]
    assert not metrics.isna().any().any()
    assert "F1 @0.5" in metrics.index and "roc_auc" not in metrics.index
    assert metrics.loc["ROC-AUC", ids["mlp"]] == \
        load_run(ws, ids["mlp"]).metrics["metrics"]["roc_auc"]
    formats = json.loads(at.dataframe[1].proto.columns)
    assert {formats[r]["type_config"]["format"] for r in ids.values() if r in formats} == {"%.4f"}
    assert formats[ids["mlp"]]["width"] == "medium"


def test_settings_table_shows_only_what_each_model_uses(runs_ws):
    _, ids = runs_ws
    params = _page().dataframe[2].value
    assert params.index.is_unique and "model.model" not in params.index
    assert params.loc["model", ids["hgb"]] == "hgb" and params.loc["model", ids["mlp"]] == "mlp"
    assert params.loc["model.epochs", ids["mlp"]] == "6"
    for setting in ("model.epochs", "model.batch_size", "model.learning_rate",
                    "model.hidden_units"):
        assert params.loc[setting, ids["hgb"]] == "—"  # hgb never used them
    assert params.loc["model.hidden_units", ids["mlp"]] == "32, 16"
    assert "model.class_weight" not in params.index  # both use it, with the same value


def test_runs_of_different_tasks_are_not_compared(runs_ws):
    _, ids = runs_ws
    at = _page()
    at.multiselect(key="runs__compare").set_value([ids["rec"], ids["hgb"]]).run()
    assert not at.exception
    assert at.warning[0].value.startswith("These runs cannot be compared: they solve different "
                                          "tasks and share no metric")
    assert f"{ids['rec']} is a next-item recommender" in at.warning[0].value
    assert f"{ids['hgb']} is a binary classifier" in at.warning[0].value
    assert len(at.dataframe) == 1  # only the run list: no column of None
    assert at.selectbox(key="runs__manage").value == ids["rec"]  # the page goes on below
