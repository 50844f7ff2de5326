"""AppTest of the Recommend page: setup defaults, training through the page, the numbers shown."""

from __future__ import annotations

import threading
import time

import pytest
from streamlit.testing.v1 import AppTest

from core.config import load_settings
from core.recommend import (
    EventColumns,
    RecModelConfig,
    SequenceOptions,
    load_rec_run,
    train_recommender,
)
from core.recommend._value import ValueInputs, simulate_run_value
from core.warehouse import connect
from tests.conftest import ROOT, make_cycle_events
from ui import resources

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


@pytest.fixture
def cycle_page(tmp_path, monkeypatch) -> AppTest:
    """The Recommend page, run once on a fresh workspace holding the tiny cycle events."""
    settings = load_settings(tmp_path / "ws")
    with connect(settings) as con:
        make_cycle_events(con)
    monkeypatch.setenv("LIFTLAB_DATA_DIR", str(settings.data_dir))
    return _run()


def test_setup_defaults_and_preview(cycle_page):
    at = cycle_page
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
    assert any("ranked **#1** by transitions (item-to-item: #1, most popular: #" in md.value
               for md in at.markdown)  # whole-number ranks, never "#1.0"
    recs = at.dataframe[2].value
    assert recs["item"].tolist()[0] == 5 and bool(recs["next"].iloc[0]) is True
    assert at.dataframe[3].value["item"].tolist() == [2]  # item 1 is only ever followed by 2
    m = _metrics(at)
    assert float(m["Conversions (transitions)"].replace(",", "")) == pytest.approx(
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


def _labels(at) -> set[str]:
    return {w.label for w in (*at.number_input, *at.selectbox, *at.slider)}


def test_only_the_chosen_models_controls(cycle_page):
    at = cycle_page
    assert at.selectbox(key="recommend__model").value == "sasrec"
    assert {"Epochs (max)", "Self-attention blocks", "Output layer"} <= _labels(at)
    assert "Recurrent cell" not in _labels(at)  # a Transformer has no recurrent cell
    assert at.number_input(key="recommend__epochs").value == 15  # CPU defaults
    assert at.number_input(key="recommend__patience").value == 3
    assert at.number_input(key="recommend__lr").value == pytest.approx(0.003)
    assert at.selectbox(key="recommend__softmax").value == "auto"
    at.selectbox(key="recommend__model").select("gru4rec").run()
    assert "Recurrent cell" in _labels(at) and "Self-attention blocks" not in _labels(at)
    at.selectbox(key="recommend__model").select("transitions").run()
    assert not {"Epochs (max)", "Embedding size", "Learning rate", "Recurrent cell",
                "Self-attention blocks"} & _labels(at)
    assert any("nothing to tune" in c.value for c in at.caption)
    assert not at.exception


def test_job_progress_shows_the_stage_and_the_time_left(rec_ws, monkeypatch):
    s, runs = rec_ws
    monkeypatch.setenv("LIFTLAB_DATA_DIR", str(s.data_dir))
    jobs = resources.job_manager(str(s.data_dir))  # the process-wide manager the page uses
    go_on, wrote = threading.Event(), threading.Event()

    def work(progress, stop):
        progress({"stage": "batch", "epoch": 0, "batch": 3, "batches": 59,
                  "message": "Epoch 1/20 · batch 3/59 · loss 6.500 · at most about 5 min left"})
        wrote.set()
        go_on.wait(60)
        progress({"stage": "epoch", "epoch": 1, "epochs": 20, "message": "Epoch 1/20 · 14 s",
                  "logs": {"loss": 6.4, "val_hit_rate@10": 0.04756, "val_ndcg@10": 0.02,
                           "seconds": 14.0}})
        wrote.set()
        go_on.wait(60)
        return runs["transitions"]

    job_id = jobs.submit("recommend", "sasrec on clicks", work, epochs=20)
    try:
        assert wrote.wait(30)
        at = _run(recommend__active_job=job_id)
        assert not at.exception
        assert at.status[0].label == ("sasrec on clicks: Epoch 1/20 · batch 3/59 · loss 6.500 "
                                      "· at most about 5 min left")
        assert at.progress[0].value == 0
        wrote.clear()
        go_on.set()
        go_on.clear()
        assert wrote.wait(30)
        at.run()
        assert at.progress[0].value == 5  # percent: 1 of 20 epochs
        assert at.progress[0].text.startswith("1 of at most 20 epochs")
        assert any(c.value.startswith("Best so far: validation HitRate@10 0.048 (epoch 1)")
                   for c in at.caption)  # text while it runs, no chart redrawn every poll
    finally:
        go_on.set()
    jobs.wait(job_id, 30)


@pytest.fixture(scope="module")
def wide_ws(tmp_path_factory):
    """40 users walk a 30-item cycle, 10 steps each (item i priced 2 × i): item-to-item is
    exact, most popular finds the next item only by chance. One ``popular`` run."""
    s = load_settings(tmp_path_factory.mktemp("wide_ws"))
    rows = [(f"w{u:02d}", (u + j) % 30 + 1, j, 2.0 * ((u + j) % 30 + 1))
            for u in range(40) for j in range(10)]
    with connect(s) as con:
        con.execute("CREATE TABLE walks (user_id VARCHAR, item BIGINT, ts BIGINT, price DOUBLE)")
        con.executemany("INSERT INTO walks VALUES (?, ?, ?, ?)", rows)
    run = train_recommender(s, EventColumns("walks", "user_id", "item", "ts", price="price"),
                            SequenceOptions(min_item=1, min_user=3), RecModelConfig("popular"),
                            n_boot=50)
    return s, run.run_id


def test_a_stronger_baseline_is_stated_and_never_shown_as_a_loss(wide_ws, monkeypatch):
    s, run_id = wide_ws
    monkeypatch.setenv("LIFTLAB_DATA_DIR", str(s.data_dir))
    at = _run(recommend__active_run=run_id)
    assert not at.exception
    run = load_rec_run(s, run_id)
    model = run.metrics["metrics"]["hit_rate@10"]
    assert run.metrics["baselines"]["transitions"]["metrics"]["hit_rate@10"] == 1.0
    warnings = [w.value for w in at.warning]
    assert (f"The item-to-item baseline beats popular: HitRate@10 1.000 against {model:.3f} "
            f"({model - 1:+.3f}). Show the baseline's lists, or improve the model and compare "
            f"again."
            ) in warnings
    value = simulate_run_value(run, ValueInputs(), n_boot=300)
    assert value.best_baseline == "transitions" and value.incremental_revenue["transitions"] < 0
    loss = -value.incremental_revenue["transitions"]
    assert any(w.startswith(f"**The item-to-item baseline earns more than popular: {loss:,.0f} "
                            f"more revenue.**") for w in warnings)
    assert not at.success  # nothing says the model wins
    m = _metrics(at)
    assert m["Revenue (popular)"] == f"{value.revenue['personalised']:,.0f}"
    assert m["Revenue (best baseline: item-to-item)"] == f"{value.revenue['transitions']:,.0f}"
    table = at.dataframe[-1].value  # the value table, last on the page
    assert table.index.tolist() == ["popular", "item-to-item (best baseline)"]
    assert table.loc["item-to-item (best baseline)", "popular − this"] == round(-loss)


def test_history_most_recent_first_and_whole_ranks(wide_ws, monkeypatch):
    s, run_id = wide_ws
    monkeypatch.setenv("LIFTLAB_DATA_DIR", str(s.data_dir))
    at = _run(recommend__active_run=run_id, recommend__user_pick="w03")
    assert any(c.value.startswith("History, most recent first") for c in at.caption)
    history = at.dataframe[1].value  # metrics, history, top K, neighbours, value
    assert history["item"].tolist() == [12, 11, 10, 9, 8, 7, 6, 5, 4]  # w03 walked 4 … 12, 13
    assert history.index.tolist() == list(range(1, 10))
    text = next(md.value for md in at.markdown if "Held-out next item" in md.value)
    assert "ranked **#" in text and ".0" not in text.split("ranked")[1]
    assert "(item-to-item: #1, most popular: #" in text
