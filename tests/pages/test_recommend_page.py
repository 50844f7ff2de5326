"""AppTest of the Recommend page: setup defaults, training through the page, the numbers shown."""

from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest

from core.config import load_settings
from core.rec_runs import load_rec_run
from core.warehouse import connect
from tests.conftest import ROOT, make_cycle_events

pytestmark = pytest.mark.slow
PAGE = str(ROOT / "pages" / "recommend.py")


def _run(**state) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def _metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_empty_workspace_points_to_data(tmp_path, monkeypatch):
    monkeypatch.setenv("LIFTLAB_DATA_DIR", str(tmp_path / "ws"))
    at = _run()
    assert not at.exception
    assert any("Load an event table" in i.value for i in at.info)
    assert any("No recommender run yet" in i.value for i in at.info)


def test_setup_defaults_and_preview(tmp_path, monkeypatch):
    settings = load_settings(tmp_path / "ws")
    with connect(settings) as con:
        make_cycle_events(con)
    monkeypatch.setenv("LIFTLAB_DATA_DIR", str(settings.data_dir))
    at = _run()
    assert not at.exception
    assert at.selectbox(key="recommend__table").value == "clicks"
    assert at.selectbox(key="recommend__user_clicks").value == "user_id"
    assert at.selectbox(key="recommend__item_clicks").value == "item"
    assert at.selectbox(key="recommend__time_clicks").value == "ts"
    assert at.selectbox(key="recommend__price_clicks").value == "price"
    at.number_input(key="recommend__clicks_min_item").set_value(1).run()
    m = _metrics(at)
    assert (m["Users"], m["Items"], m["Events"]) == ("30", "8", "300")
    assert at.checkbox(key="recommend__allow_seen_clicks").value is True  # cycles repeat items


def test_results_users_items_and_value(rec_ws, monkeypatch):
    s, runs = rec_ws
    monkeypatch.setenv("LIFTLAB_DATA_DIR", str(s.data_dir))
    at = _run(recommend__active_run=runs["transitions"])
    assert not at.exception
    assert at.selectbox(key="recommend__run").value == runs["transitions"]
    m = _metrics(at)
    run = load_rec_run(s, runs["transitions"])
    assert m["HitRate@10"] == "1.000" and m["MRR"] == "1.000"
    assert m["Catalogue coverage @10"] == f"{run.metrics['metrics']['coverage@10']:.0%}"
    table = at.dataframe[0].value  # tables in page order: metrics, history, top K, neighbours
    assert table.loc["transitions", "hit_rate@10"] == 1.0
    assert set(table.index) == {"transitions", "most popular"}
    at.selectbox(key="recommend__user_pick").select("u03").run()
    assert any("ranked **#1.0** by transitions" in md.value for md in at.markdown)
    recs = at.dataframe[2].value
    assert recs["item"].tolist()[0] == 5 and bool(recs["next"].iloc[0]) is True
    assert at.dataframe[3].value["item"].tolist() == [2]  # item 1 is only ever followed by 2
    m = _metrics(at)
    assert float(m["Conversions (personalised)"].replace(",", "")) == pytest.approx(
        10_000 * 4 * 0.3 * 0.1, rel=0.01)  # every list holds the wanted item at K = 10


def test_train_through_the_page(rec_ws, monkeypatch):
    s, _ = rec_ws
    monkeypatch.setenv("LIFTLAB_DATA_DIR", str(s.data_dir))
    at = _run()
    at.number_input(key="recommend__clicks_min_item").set_value(1).run()
    at.selectbox(key="recommend__model").select("popular")  # inside the form: no rerun yet
    at.button[0].click().run()  # the form's Train button submits both
    assert not at.exception
    deadline = time.monotonic() + 120
    while not at.success and time.monotonic() < deadline:
        time.sleep(0.5)
        at.run()
    assert at.success and "Saved run" in at.success[0].value
    new_run = at.session_state["recommend__active_run"]
    assert load_rec_run(s, new_run).model_name == "popular"
    assert at.selectbox(key="recommend__run").value == new_run
