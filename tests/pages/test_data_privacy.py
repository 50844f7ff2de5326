"""AppTest of Data → Personal data: k-anonymity after the analyst's bands, and Reach k."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from core.tables import PersonalMark, save_marks
from core.warehouse import connect
from tests.conftest import ROOT
from tests.core.tables.test_anonymity import PEOPLE

TIMEOUT = 60


def test_reach_k_writes_the_protected_copy_and_says_what_it_suppressed(settings, monkeypatch):
    monkeypatch.setenv("LIFTLAB_DATA_DIR", str(settings.data_dir))
    with connect(settings) as con:
        con.execute("CREATE TABLE people (name VARCHAR, age BIGINT, postcode VARCHAR, "
                    "gender VARCHAR, spend BIGINT)")
        con.executemany("INSERT INTO people VALUES (?, ?, ?, ?, ?)", PEOPLE)
        con.execute("CREATE TABLE accounts AS SELECT 'x' AS plan")  # shown first
        save_marks(con, "people", [PersonalMark("name", "drop"),
                                   PersonalMark("age", "generalise", 10),
                                   PersonalMark("postcode", "generalise", 3)])
    at = AppTest.from_file(str(ROOT / "pages" / "data.py"), default_timeout=TIMEOUT).run()
    assert at.multiselect(key="data__personal__accounts").value == []
    at.selectbox(key="data__table").select("people").run()
    # the other table's (empty) choice does not carry over: people's saved marks are shown
    assert at.multiselect(key="data__personal__people").value == ["age", "name", "postcode"]
    assert at.text_input(key="data__protected_name__people").value == "people_protected"
    at.multiselect(key="data__qi__people").set_value(["age", "postcode", "gender"])
    at.number_input(key="data__k__people").set_value(2).run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Smallest group (k) now"] == "1"
    assert metrics["Smallest group after the bands"] == "1"
    assert metrics["Rows to suppress (groups < 2)"] == "4"
    at.button(key="data__reach_k__people").click().run()
    assert not at.exception and not at.error
    assert at.success[0].value == (
        "Wrote `people_protected`: 6 of 10 rows, 3-anonymous over age, postcode, gender "
        "(4 rows suppressed, in 4 groups smaller than 2).")
    with connect(settings) as con:
        cols = [r[0] for r in con.execute("DESCRIBE people_protected").fetchall()]
        assert cols == ["age", "postcode", "gender", "spend"]
        assert con.execute("SELECT count(*) FROM people").fetchone() == (10,)
