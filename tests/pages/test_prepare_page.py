"""AppTest of the Prepare page: build a recipe, preview it, apply it, replay it."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core.ingest import IngestOptions, ingest_file
from core.warehouse import connect
from tests.conftest import CASES, ROOT

TIMEOUT = 60


@pytest.fixture
def prep_ws(settings, monkeypatch):
    with connect(settings) as con:
        ingest_file(con, CASES / "telco_totalcharges_blank.csv", IngestOptions(table="telco"))
    monkeypatch.setenv("LIFTLAB_DATA_DIR", str(settings.data_dir))
    return settings


def _page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / "prepare.py"), default_timeout=TIMEOUT)
    at.session_state["active_table"] = "telco"
    return at.run()


def _add(at: AppTest, kind: str, columns: list[str], method: str | None = None) -> AppTest:
    at.selectbox(key="prep__kind").select(kind).run()
    for c in columns:
        at.multiselect(key="prep__columns").select(c)
    if method:
        at.selectbox(key="prep__method").select(method)
    at.button(key="prep__add").click().run()
    return at


def test_build_preview_apply_and_replay(prep_ws):
    at = _page()
    assert not at.exception and at.title[0].value == "Prepare"
    _add(at, "impute", ["TotalCharges"], "median")
    _add(at, "encode", ["Contract"], "onehot")
    assert not at.exception
    assert [m.value for m in at.markdown if m.value.startswith("**")][:2] == [
        "**1.** impute median: TotalCharges", "**2.** encode onehot 20: Contract"]
    steps = at.dataframe[0].value
    assert steps["rows after"].tolist() == [24, 24] and steps["columns after"].tolist() == [10, 12]
    preview = at.dataframe[1].value
    assert preview["TotalCharges"].isna().sum() == 0 and "Contract_Two_year" in preview.columns
    at.text_input(key="prep__out").input("telco_ready").run()
    at.button(key="prep__apply").click().run()
    assert not at.exception
    assert at.success[0].value.startswith("Wrote `telco_ready` (24 rows × 12 columns) and saved "
                                          "recipe `telco_recipe`.")
    with connect(prep_ws) as con:
        assert con.execute("SELECT count(*) FROM telco_ready WHERE TotalCharges IS NULL"
                           ).fetchone()[0] == 0
        con.execute("CREATE TABLE telco_june AS SELECT * FROM telco LIMIT 5")
    at = _page()
    at.selectbox(key="prep__replay_table").select("telco_june")
    at.text_input(key="prep__replay_out").input("june_ready")
    at.button(key="prep__replay").click().run()
    assert not at.exception
    assert at.success[0].value.startswith("Wrote `june_ready` (5 rows)")


def test_step_that_does_not_fit_shows_a_clear_error(prep_ws):
    at = _page()
    _add(at, "scale", ["Contract"], "standard")
    assert not at.exception
    assert "needs numeric columns; Contract is not" in at.error[0].value
    at.button(key="prep__remove_0").click().run()
    assert not at.error and not at.exception


def test_rename_step_and_notes_are_shown(prep_ws):
    at = _page()
    at.selectbox(key="prep__kind").select("rename").run()
    at.multiselect(key="prep__columns").select("TotalCharges")
    at.text_input(key="prep__value_rename").input("total charges")
    at.button(key="prep__add").click().run()
    _add(at, "impute", ["total_charges"], "median")
    assert not at.exception and not at.error
    steps = at.dataframe[0].value
    assert steps["step"].tolist() == ["rename: TotalCharges → total charges",
                                      "impute median: total_charges"]
    assert steps["notes"][0] == "the new name 'total charges' was cleaned to 'total_charges'"
    assert steps["notes"][1] == "filled 3 missing value(s) of 'total_charges' with median 1156.25"
    assert at.warning[0].value.startswith("What the steps changed:\n\n- Step 1 (rename: "
                                          "TotalCharges → total charges): the new name")
    assert "total_charges" in at.dataframe[1].value.columns
