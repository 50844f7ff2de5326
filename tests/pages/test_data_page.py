"""AppTest of the Data page: upload with detection, encoding question, name clash, tabs."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core.ingest import IngestOptions, ingest_file
from core.ingest._ingest import ingest_bytes
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


def test_empty_workspace_states_the_upload_limit_once(data_ws):
    at = _page()
    assert not at.exception
    uploader = at.file_uploader(key="data__upload_0")
    assert uploader.label == ("Upload a data file: CSV, TSV or TXT, Excel (.xlsx), Parquet, or "
                              "JSON/NDJSON (other extensions, e.g. UCI's .data, are read by "
                              "their content)")
    assert "MB" not in uploader.label and "maxUploadSize" not in uploader.label
    assert uploader.proto.max_upload_size_mb == 1024  # the drop zone says "1GB per file"
    assert at.info[0].value == "The warehouse is empty. Upload a file above to start."


def test_bad_upload_shows_its_error_and_the_tables_stay(data_ws):
    with connect(data_ws) as con:
        ingest_file(con, CASES / "quoted_newlines.csv", IngestOptions(table="tickets"))
    at = _upload(_page(), "empty.csv", (CASES / "empty.csv").read_bytes())
    assert not at.exception
    assert at.error[0].value == ("**The file could not be loaded.** The file is empty: it has no "
                                 "header and no data rows.")
    assert at.dataframe[0].value["table"].tolist() == ["tickets"]  # the Tables list
    assert at.selectbox(key="data__table").value == "tickets"
    assert len(at.tabs) == 5 and len(at.dataframe[1].value) == 3  # tabs and preview
    assert at.text_area(key="data__sql_tickets").value == 'SELECT * FROM "tickets" LIMIT 10'


def test_failed_load_shows_its_error_and_the_tables_stay(data_ws):
    with connect(data_ws) as con:
        ingest_file(con, CASES / "quoted_newlines.csv", IngestOptions(table="tickets"))
    at = _upload(_page(), "header_only.csv", (CASES / "header_only.csv").read_bytes())
    at.button(key="data__load").click().run()
    assert not at.exception
    assert at.error[0].value.startswith("**The file could not be loaded.** 'header_only.csv' "
                                        "has a header but no data rows.")
    lists = [d.value for d in at.dataframe if "source" in d.value.columns]
    assert [t["table"].tolist() for t in lists] == [["tickets"]]  # the Tables list
    assert len(at.tabs) == 5


def test_upload_shows_detection_then_loads(data_ws):
    at = _upload(_page(), "export.csv", (CASES / "cp1252_excel_export.csv").read_bytes())
    assert not at.exception
    assert any("encoding **cp1252**" in c.value and "separator **','**" in c.value
               for c in at.caption)
    assert at.dataframe[1].value["City"].tolist() == ["Zürich", "Málaga", "Cork"]
    at.button(key="data__load").click().run()
    assert not at.exception
    assert at.success[0].value.startswith("Loaded **3 rows** × 5 columns into table `export`")
    assert len(at.warning) == 0  # a confidently detected encoding is a note, not a warning
    assert ":material/info: Encoding: Windows Western (cp1252), as Excel saves CSV files on " \
        "Windows; the file is not UTF-8 and every character reads correctly as cp1252." in \
        [c.value for c in at.caption]
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
    at.text_area(key="data__sql_tickets").input("COPY tickets TO 'out.csv'")
    at.button(key="data__sql_run").click().run()
    assert at.error[0].value.startswith("**The query was refused.** COPY statements are not "
                                        "allowed. The SQL console only reads the tables")
    at.text_area(key="data__sql_tickets").input("SELECT count(*) AS n FROM tickets")
    at.button(key="data__sql_run").click().run()
    assert at.dataframe[-1].value["n"].tolist() == [3]


def test_sql_typo_is_a_failure_with_the_clean_column_names(data_ws):
    with connect(data_ws) as con:
        ingest_bytes(con, b"emp.var.rate,age\n1.1,30\n-1.8,41\n", "rates.csv")
    at = _page()
    at.text_area(key="data__sql_rates").input("SELECT emp.var.rate FROM rates")
    at.button(key="data__sql_run").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        '**The query failed.** Binder Error: Referenced table "emp.var" not found!']
    assert at.info[0].value == (
        "Columns of rates: emp_var_rate, age. SQL uses the cleaned column names shown in the "
        "Columns tab, not the file's headers ('emp.var.rate' is \"emp_var_rate\"); quote names "
        'with double quotes, e.g. SELECT "emp_var_rate" FROM "rates".')
    at.text_area(key="data__sql_rates").input('SELECT avg("emp_var_rate") AS m FROM rates')
    at.button(key="data__sql_run").click().run()
    assert not at.error
    assert at.dataframe[-1].value["m"].tolist() == [pytest.approx(-0.35)]


def test_a_raw_uci_file_loads_with_its_missing_markers_said(data_ws):
    rows = [f"{20 + i % 50}, {['Private', 'State-gov', '?'][i % 3]}, {['<=50K', '>50K'][i % 2]}"
            for i in range(60)]
    at = _upload(_page(), "adult.data", ("\n".join(rows) + "\n").encode())
    assert not at.exception
    assert "'?' ×20" in at.dataframe[0].value["missing markers in the first rows"].tolist()
    assert at.text_input(key=next(t.key for t in at.text_input if "markers" in t.key)).value \
        .startswith("?, NA")
    at.button(key="data__load").click().run()
    assert not at.exception
    with connect(data_ws) as con:
        assert con.execute("SELECT count(*) - count(column_2), min(column_3) FROM adult"
                           ).fetchone() == (20, "<=50K")


def test_personal_data_tab_keeps_each_tables_own_state(data_ws):
    # The personal-data tab proposed 'bank_marketing_protected' for 'adult': its widgets were
    # keyed once for every table.
    with connect(data_ws) as con:
        ingest_bytes(con, b"name,age,y\nAnn,30,1\nBob,41,0\n", "people.csv")
        ingest_bytes(con, b"email,score\na@x.com,1\nb@y.com,2\n", "contacts.csv")
    at = _page()
    at.selectbox(key="data__table").select("people").run()
    assert at.text_input(key="data__protected_name__people").value == "people_protected"
    at.selectbox(key="data__table").select("contacts").run()
    assert not at.exception
    assert at.text_input(key="data__protected_name__contacts").value == "contacts_protected"
    assert at.multiselect(key="data__personal__contacts").value == ["email"]
    assert at.text_area(key="data__sql_contacts").value == 'SELECT * FROM "contacts" LIMIT 10'
    warned = [w.value for w in at.warning if "Session State" in w.value]
    assert not warned
