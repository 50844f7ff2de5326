"""AppTest of the Data page: upload with detection, encoding question, name clash, tabs."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core.warehouse import connect
from tests.conftest import CASES, ROOT

TIMEOUT = 60


@pytest.fixture
def data_ws(settings, monkeypatch):
    monkeypatch.setenv("LIFTLAB_DATA_DIR", str(settings.data_dir))
    return settings


def _page() -> AppTest:
    return AppTest.from_file(str(ROOT / "pages" / "data.py"), default_timeout=TIMEOUT).run()


def _upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader[0].upload(name, data, "text/csv")
    return at.run()


def test_empty_workspace_states_the_upload_limit(data_ws):
    at = _page()
    assert not at.exception
    assert "up to 1,024 MB per file (server.maxUploadSize in .streamlit/config.toml)" in \
        at.file_uploader(key="data__upload_0").label
    assert at.info[0].value == "The warehouse is empty. Upload a file above to start."


def test_upload_shows_detection_then_loads(data_ws):
    at = _upload(_page(), "export.csv", (CASES / "cp1252_excel_export.csv").read_bytes())
    assert not at.exception
    assert any("encoding **cp1252**" in c.value and "separator **','**" in c.value
               for c in at.caption)
    assert at.dataframe[0].value["City"].tolist() == ["Zürich", "Málaga", "Cork"]
    at.button(key="data__load").click().run()
    assert not at.exception
    assert at.success[0].value.startswith("Loaded **3 rows** × 5 columns into table `export`")
    assert at.file_uploader(key="data__upload_1").value is None  # emptied for the next file
    with connect(data_ws) as con:
        assert con.execute("SELECT \"Notes\" FROM export ORDER BY rowid").fetchall()[1] == \
            ("Paid €120 deposit",)


def test_uncertain_encoding_is_asked_before_loading(data_ws):
    at = _upload(_page(), "names.csv", "名字\n张伟\n".encode("gbk"))
    assert not at.exception
    assert at.warning[0].value.startswith("The text encoding is not certain.")
    assert "data__load" not in [b.key for b in at.button]  # nothing loads before the choice
    at.radio(key="data__encoding_choice").set_value("gb18030").run()
    at.button(key="data__load").click().run()
    assert not at.exception
    with connect(data_ws) as con:
        assert con.execute('SELECT "名字" FROM names').fetchall() == [("张伟",)]


def test_same_name_asks_replace_or_keep_both_and_console_refuses_copy(data_ws):
    data = (CASES / "quoted_newlines.csv").read_bytes()
    at = _upload(_page(), "tickets.csv", data)
    at.button(key="data__load").click().run()
    at = _upload(at, "tickets.csv", data)
    assert at.radio(key="data__if_exists").options == ["keep both (new name)", "replace it"]
    at.radio(key="data__if_exists").set_value("replace it")
    at.button(key="data__load").click().run()
    assert "into table `tickets`" in at.success[0].value
    at.text_area(key="data__sql").input("COPY tickets TO 'out.csv'")
    at.button(key="data__sql_run").click().run()
    assert "COPY statements are not allowed." in at.error[0].value
    at.text_area(key="data__sql").input("SELECT count(*) AS n FROM tickets")
    at.button(key="data__sql_run").click().run()
    assert at.dataframe[-1].value["n"].tolist() == [3]
