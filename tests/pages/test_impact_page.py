"""AppTest of the Impact page (targeting and uplift runs) and the Train page's uplift section."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::FutureWarning")]
TIMEOUT = 180


def _run(path: str, **state) -> AppTest:
    at = AppTest.from_file(str(ROOT / path), default_timeout=TIMEOUT)
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


@pytest.fixture
def bank_env(bank_ws, monkeypatch):
    s, runs = bank_ws
    monkeypatch.setenv("LIFTLAB_DATA_DIR", str(s.data_dir))
    return s, runs


def test_decision_rules_policy_and_money(bank_env):
    s, runs = bank_env
    at = _run("pages/impact.py", active_run=runs["hgb"])
    assert not at.exception
    profit = float(_metric(at, "Profit").replace(",", ""))
    assert float(_metric(at, "Conversion lift")[:-1]) > 1.5
    at.selectbox(key="impact__rule").select("top_n").run()
    at.number_input(key="impact__top_n").set_value(100).run()
    assert not at.exception
    assert any("reaches **100 customers**" in m.value for m in at.markdown)
    at.text_input(key="impact__policy").set_value("age < 30 AND previous > 0").run()
    assert not at.exception
    assert any("current policy (age < 30 AND previous > 0)" in m.value for m in at.markdown)
    at.text_input(key="impact__policy").set_value("(SELECT count(*) FROM read_csv('/etc/passwd'))"
                                                  " > 0").run()
    assert any("read_csv" in e.value for e in at.error)
    at.text_input(key="impact__policy").set_value("").run()
    at.number_input(key="impact__fixed").set_value(1000.0).run()
    assert float(_metric(at, "Profit").replace(",", "")) != profit
    assert len(at.get("plotly_chart")) >= 5  # profit, gains, lift, sensitivity, credit …


def test_scenarios_are_saved_and_compared(bank_env):
    s, runs = bank_env
    at = _run("pages/impact.py", active_run=runs["hgb"])
    at.text_input(key="impact__name").set_value("Top 20% at 5/100").run()
    at.button(key="impact__save").click().run()
    assert not at.exception and any("Saved" in m.value for m in at.success)
    at.slider(key="impact__fraction").set_value(0.5).run()
    at.text_input(key="impact__name").set_value("Half").run()
    at.button(key="impact__save").click().run()
    fresh = _run("pages/impact.py", active_run=runs["hgb"])  # a new session: read from disk
    compared = next(d.value for d in fresh.dataframe if "scenario" in d.value.columns)
    assert {"Top 20% at 5/100", "Half"} <= set(compared["scenario"])
    from core.scenarios import delete_scenario

    for name in ("Top 20% at 5/100", "Half"):
        delete_scenario(s, name)


@pytest.fixture(scope="module")
def uplift_env(tmp_path_factory):
    from core.config import load_settings
    from core.specs import DatasetSpec, ModelConfig
    from core.uplift_training import UpliftConfig, train_uplift
    from core.warehouse import connect
    from tests.core.test_uplift_training import make_campaign

    s = load_settings(tmp_path_factory.mktemp("uplift_page"))
    with connect(s) as con:
        con.register("f", make_campaign(6000, 3))
        con.execute("CREATE TABLE promo AS SELECT * FROM f")
    run_id = train_uplift(s, DatasetSpec("promo", "bought"), ModelConfig(model="logreg"),
                          UpliftConfig("campaign", "offer", "t", n_bootstrap=50)).run_id
    return s, run_id


def test_uplift_run_shows_incremental_numbers(uplift_env, monkeypatch):
    s, run_id = uplift_env
    monkeypatch.setenv("LIFTLAB_DATA_DIR", str(s.data_dir))
    at = _run("pages/impact.py", active_run=run_id)
    assert not at.exception
    inc = float(_metric(at, "Incremental conversions").replace(",", ""))
    assert inc > 0
    at.slider(key="uplift__fraction").set_value(0.6).run()
    assert not at.exception
    assert float(_metric(at, "Incremental conversions").replace(",", "")) != inc
    assert len(at.get("plotly_chart")) >= 5


def test_train_page_uplift_section_trains_a_run(uplift_env, monkeypatch):
    s, _ = uplift_env
    monkeypatch.setenv("LIFTLAB_DATA_DIR", str(s.data_dir))
    at = _run("pages/train.py", active_table="promo")
    assert not at.exception
    at.checkbox(key="train__uplift").check().run()
    assert at.selectbox(key="uplift__treatment").value == "campaign"
    assert at.radio(key="uplift__treated").value == "offer"
    at.selectbox(key="uplift__model").select("logreg")
    at.button(key="FormSubmitter:uplift__form-Train uplift model").click().run()
    assert not at.exception
    assert any(m.label == "Qini coefficient" for m in at.metric)
    assert at.session_state["active_run"].endswith(tuple("0123456789abcdef"))
