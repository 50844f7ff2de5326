"""AppTest for the Explain page on multiclass and regression runs (issue 12, items 14 and 23):
SHAP per class probability or in the target's units, rows that say their class or prediction,
and the columns named as the analyst's file had them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.runs import load_run
from core.specs import DatasetSpec, ModelConfig
from core.training import train
from tests.pages.test_pages import _run as _page

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def homes(tmp_path_factory):
    """A workspace with a file-loaded table (a header with dots), a multiclass and a
    regression run."""
    from core.config import load_settings
    from core.ingest import IngestOptions, ingest_file
    from core.warehouse import connect

    folder = tmp_path_factory.mktemp("homes_ws")
    s = load_settings(folder)
    rng = np.random.default_rng(0)
    n = 500
    frame = pd.DataFrame({"floor.area": rng.normal(50, 10, n), "rooms": rng.integers(1, 6, n),
                          "area": rng.choice(["north", "south", "east"], n)})
    frame["price"] = (3 * frame["floor.area"] + 20 * frame["rooms"]
                      + frame["area"].map({"north": 40, "south": 0, "east": -20})
                      + rng.normal(0, 25, n))
    frame["band"] = pd.cut(frame["price"], 3, labels=["low", "mid", "high"]).astype(str)
    path = folder / "homes.csv"
    frame.to_csv(path, index=False)
    with connect(s) as con:
        ingest_file(con, path, IngestOptions(table="homes"))
    features = ("floor_area", "rooms", "area")
    multi = train(s, DatasetSpec("homes", "band", features=features, task="multiclass"),
                  ModelConfig.of(model="logreg")).run_id
    reg = train(s, DatasetSpec("homes", "price", features=features, task="regression"),
                ModelConfig.of(model="hgb")).run_id
    return s, multi, reg


@pytest.fixture
def homes_env(homes, monkeypatch):
    monkeypatch.setenv("LIFTLAB_DATA_DIR", str(homes[0].data_dir))
    return homes


def _compute(at, rows: int = 30):
    at.number_input(key="explain__rows").set_value(rows).run()
    at.button(key="explain__go").click().run()
    assert not at.exception
    return at


def test_multiclass_run_is_explained_per_class(homes_env):
    s, multi, _ = homes_env
    at = _compute(_page("pages/explain.py", active_run=multi))
    charts = [c.key for c in at.get("plotly_chart")]
    assert {"explain__importance", "explain__beeswarm", "explain__waterfall"} <= set(charts)
    assert "explain__pdp" not in charts  # partial dependence covers binary and regression
    units = next(c.value for c in at.caption if "probability points" in c.value)
    assert "class **high**" in units or "class **low**" in units or "class **mid**" in units
    heading = next(m.value for m in at.markdown if m.value.startswith("**Test row"))
    assert "probability of" in heading and "actual" in heading
    # the importance chart and the row table use the file's header
    run = load_run(s, multi)
    assert run.features[0] == "floor_area"
    table = at.dataframe[-1].value
    assert "floor.area" in list(table.index) and "floor_area" not in list(table.index)
    # another class: the cache explains the first, so the page offers to compute it
    klass = f"explain__class_{multi}"
    other = next(c for c in at.selectbox(key=klass).options if c != at.selectbox(key=klass).value)
    at.selectbox(key=klass).select(other).run()
    assert not at.exception and at.button(key="explain__go").label.startswith("Compute")
    _compute(at)
    units = next(c.value for c in at.caption if "probability points" in c.value)
    assert f"class **{other}**" in units


def test_regression_run_is_explained_in_target_units(homes_env):
    s, _, reg = homes_env
    at = _compute(_page("pages/explain.py", active_run=reg))
    charts = [c.key for c in at.get("plotly_chart")]
    assert {"explain__importance", "explain__pdp", "explain__waterfall"} <= set(charts)
    assert any("units of 'price'" in c.value for c in at.caption)
    heading = next(m.value for m in at.markdown if m.value.startswith("**Test row"))
    assert "prediction" in heading and "actual" in heading
    assert any(i.value.startswith("The prediction of 'price' is ") for i in at.info)
    next(b for b in at.button if b.label == "Score the edited row").click().run()
    assert not at.exception and any(m.label == "New score" for m in at.metric)
