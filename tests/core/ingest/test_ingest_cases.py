"""Every awkward input of ../shared/cases, and the kinds the README names without a file."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib

import openpyxl
import pandas as pd
import pytest

from core.errors import IngestError
from core.features import summarize_target
from core.ingest import (
    IngestOptions,
    file_kind,
    ingest_file,
    inspect_file,
    load_report,
    planned_table_name,
    split_notes,
)
from core.ingest._encodings import guess_encoding
from core.ingest._formats import EncodingUncertainError
from core.ingest._ingest import ingest_bytes
from core.warehouse import list_tables, original_names
from tests.conftest import CASES, ROOT


def _tables(con) -> list[str]:
    return [t.table for t in list_tables(con)]


def _catalog_rows(con) -> int:
    return con.execute("SELECT count(*) FROM liftlab.catalog").fetchone()[0]


def _column(con, table: str, col: str) -> list:
    return [v for (v,) in con.execute(f'SELECT "{col}" FROM "{table}" ORDER BY rowid').fetchall()]


# ---------------------------------------------------------------- the files in ../shared/cases


def test_gb18030_chinese_headers_values_and_named_encoding(con):
    r = ingest_file(con, CASES / "gb18030_chinese_headers.csv")
    assert r.encoding == "gb18030" and r.rows == 4
    assert any("gb18030" in w for w in r.warnings)  # says which encoding it used
    assert _column(con, r.table, "是否流失") == ["否", "是", "否", "是"]
    assert _column(con, r.table, "月费用") == [79.5, 29.9, 99.0, 45.0]


def test_cp1252_export_has_no_control_characters(con):
    r = ingest_file(con, CASES / "cp1252_excel_export.csv")
    text = " ".join(str(v) for row in con.execute(f'SELECT * FROM "{r.table}"').fetchall()
                    for v in row)
    assert not any(0x80 <= ord(ch) <= 0x9F for ch in text)
    assert _column(con, r.table, "City") == ["Zürich", "Málaga", "Cork"]
    assert _column(con, r.table, "CustomerName")[1] == "José Núñez"
    assert any("cp1252" in w for w in r.warnings)


def test_utf8_bom_is_not_part_of_the_first_name(con):
    r = ingest_file(con, CASES / "utf8_bom_header.csv")
    assert [c.name for c in r.columns] == ["customerID", "tenure", "MonthlyCharges", "Churn"]
    assert r.columns[0].original_name == "customerID"
    assert _column(con, r.table, "customerID") == ["0001-SYNT", "0002-SYNT", "0003-SYNT"]


def test_telco_blank_total_charges_and_yes_no_target(con):
    r = ingest_file(con, CASES / "telco_totalcharges_blank.csv")
    types = {c.name: c.type for c in r.columns}
    assert types["TotalCharges"] == "DOUBLE" and types["tenure"] == "BIGINT"
    assert [c.missing for c in r.columns if c.name == "TotalCharges"] == [3]
    assert con.execute(f'SELECT count(*) FROM "{r.table}" WHERE "TotalCharges" IS NULL AND '
                       f'tenure = 0').fetchone()[0] == 3
    summary = summarize_target(con, r.table, "Churn")
    assert sorted(summary.classes) == ["No", "Yes"] and summary.suggested_positive == "Yes"


def test_dup_and_blank_headers_list_each_rename(con):
    r = ingest_file(con, CASES / "dup_and_blank_headers.csv")
    renames = [w for w in r.warnings if "renamed" in w]
    assert renames == ["Column 3 header 'amount' renamed to 'amount_2'.",
                       "Column 4 header '' renamed to 'column_4'.",
                       "Column 5 header 'Amount ' renamed to 'Amount_3'."]
    assert original_names(con, r.table)["Amount_3"] == "Amount "


def test_special_char_headers_keep_the_analysts_names(con):
    r = ingest_file(con, CASES / "special_char_headers.csv")
    shown = original_names(con, r.table)
    assert shown == {"customer_id": "customer id", "Monthly_Charges": "Monthly Charges ($)",
                     "tenure_months": "tenure/months", "客户等级": "客户等级", "select": "select",
                     "a_quoted_name": 'a "quoted" name', "Churn": "Churn?"}
    assert _column(con, r.table, "select") == [0, 1, 0]


@pytest.mark.parametrize("name", ["empty.csv", "header_only.csv"])
def test_no_data_rows_message_and_nothing_written(con, name):
    with pytest.raises(IngestError) as err:
        ingest_file(con, CASES / name)
    assert "no data rows" in str(err.value) and "Nothing was loaded" in str(err.value)
    assert (_tables(con), _catalog_rows(con)) == ([], 0)


def test_quoted_newlines_exact_values(con):
    r = ingest_file(con, CASES / "quoted_newlines.csv")
    assert r.rows == 3
    notes = _column(con, r.table, "customer_note")
    assert notes[0] == "Line one of the complaint.\r\nLine two, with a comma."
    assert notes[1] == 'Said "cancel my plan"\nthen called back'


def test_churn_small_xlsx(con):
    r = ingest_file(con, CASES / "churn_small.xlsx")
    assert (r.sheet, r.rows) == ("Churn", 3)  # the only sheet, named in the report
    assert {c.name: c.type for c in r.columns}["tenure"] == "BIGINT"
    assert _column(con, r.table, "Churn") == ["No", "No", "Yes"]


def test_imbalanced_class_balance(con):
    r = ingest_file(con, CASES / "imbalanced_4pct_positive.csv")
    counts = dict(con.execute(f'SELECT converted, count(*) FROM "{r.table}" GROUP BY 1').fetchall())
    summary = summarize_target(con, r.table, "converted")
    assert summary.suggested_positive == "1"
    assert dict(zip(summary.classes, summary.counts)) == {"0": counts[0], "1": counts[1]}
    assert 0.03 < counts[1] / r.rows < 0.05


def test_generated_large_csv_streams_and_upload_limit_is_configured(con, tmp_path):
    path = tmp_path / "large.csv"
    subprocess.run([sys.executable, str(CASES / "gen_large_csv.py"), "2", str(path)], check=True)
    lines = sum(1 for _ in open(path, encoding="utf-8")) - 1
    r = ingest_file(con, path)
    assert r.rows == lines and r.dropped_rows == 0
    assert {c.name: c.type for c in r.columns}["TotalCharges"] == "DOUBLE"
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] >= 250  # the README's few-hundred-MB file fits


# ---------------------------------------------------------------- kinds named without a file


def test_semicolon_decimal_comma_and_footer(con, tmp_path):
    p = tmp_path / "erp.csv"
    p.write_text("id;name;amount;price\n1;Anna;1.234,56;3,5\n2;Bob;12,00;-\n3;Cé;-1.000.000,5;2\n"
                 "\nTotal;;-998.753,94\nExported by SAP on 2024-05-01\n", encoding="utf-8")
    r = ingest_file(con, p)
    assert (r.rows, r.delimiter) == (3, ";")
    assert _column(con, r.table, "amount") == [1234.56, 12.0, -1000000.5]
    assert _column(con, r.table, "price") == [3.5, None, 2.0]
    assert _column(con, r.table, "id") == [1, 2, 3]  # the footer did not turn ids into text
    assert r.skipped_lines == ["Total;;-998.753,94", "Exported by SAP on 2024-05-01"]
    assert any("2 footer/notes line(s)" in w for w in r.warnings)
    assert any("decimal comma" in w for w in r.warnings)


def test_type_change_after_the_sample_widens_without_losing_rows(con, tmp_path):
    p = tmp_path / "late.csv"
    rows = [f"{i},{i},{i}" for i in range(25000)] + ["25000,1.5,X-7"]
    p.write_text("id,amount,code\n" + "\n".join(rows) + "\n")
    r = ingest_file(con, p)
    assert r.rows == 25001 and r.dropped_rows == 0
    assert {c.name: c.type for c in r.columns} == {"id": "BIGINT", "amount": "DOUBLE",
                                                   "code": "VARCHAR"}
    assert _column(con, r.table, "code")[-1] == "X-7"


def test_numbers_after_an_empty_start_are_numbers(con, tmp_path):
    p = tmp_path / "sparse.csv"
    p.write_text("id,refund\n" + "".join(f"{i},\n" for i in range(30000)) + "30000,12.5\n")
    r = ingest_file(con, p)
    assert {c.name: c.type for c in r.columns}["refund"] == "DOUBLE"
    assert con.execute(f'SELECT sum(refund), count(refund) FROM "{r.table}"').fetchone() == (12.5, 1)


def test_mixed_dates_parsed_only_when_unambiguous(con, tmp_path):
    p = tmp_path / "dates.csv"
    p.write_text("id,signup,paid,visit\n"
                 "1,2024-01-31,25/01/2024,03/04/2024\n"
                 "2,13.02.2024,01/02/2024,05/06/2024\n"
                 "3,,13/12/2023,07/08/2024\n")
    r = ingest_file(con, p)
    types = {c.name: c.type for c in r.columns}
    assert (types["signup"], types["paid"], types["visit"]) == ("DATE", "DATE", "VARCHAR")
    assert [str(d) for d in _column(con, r.table, "signup")] == ["2024-01-31", "2024-02-13", "None"]
    assert [str(d) for d in _column(con, r.table, "paid")] == ["2024-01-25", "2024-02-01",
                                                               "2023-12-13"]
    assert _column(con, r.table, "visit") == ["03/04/2024", "05/06/2024", "07/08/2024"]
    assert any("'visit'" in w and "cannot be told apart" in w for w in r.warnings)


def test_missing_markers_and_unknown_opt_in(con, tmp_path):
    p = tmp_path / "markers.csv"
    p.write_text("a,b,c\n1,NA,x\n2,N/A,unknown\n3,null,y\n4,-,z\nunknown,5,w\n")
    r = ingest_file(con, p)
    assert {c.name: (c.type, c.missing) for c in r.columns} == {
        "a": ("VARCHAR", 0), "b": ("BIGINT", 4), "c": ("VARCHAR", 0)}
    assert any("'b': 4 blank or missing-marker cells" in w for w in r.warnings)
    r2 = ingest_file(con, p, IngestOptions(unknown_as_missing=True))
    assert {c.name: (c.type, c.missing) for c in r2.columns}["a"] == ("BIGINT", 1)


def test_sql_looking_identifiers_are_only_names(con, tmp_path):
    con.execute("CREATE TABLE keep_me AS SELECT 1 AS x")
    p = tmp_path / "inject.csv"
    p.write_text('"id""; DROP TABLE keep_me; --",select,"from",x\n1,2,3,"\'); DROP TABLE keep_me;"\n')
    r = ingest_file(con, p, IngestOptions(table='t"; DROP TABLE keep_me; --'))
    assert [c.name for c in r.columns] == ["id_DROP_TABLE_keep_me", "select", "from", "x"]
    assert r.table == "t_DROP_TABLE_keep_me"
    assert "keep_me" in _tables(con)
    assert _column(con, r.table, "x") == ["'); DROP TABLE keep_me;"]
    assert original_names(con, r.table)["id_DROP_TABLE_keep_me"] == 'id"; DROP TABLE keep_me; --'


def test_very_wide_file(con, tmp_path):
    p = tmp_path / "wide.csv"
    header = ",".join(f"feature {i} with a rather long descriptive name (unit €)" for i in range(1500))
    p.write_text(header + "\n" + "\n".join(",".join(str(i * r) for i in range(1500))
                                           for r in range(3)) + "\n", encoding="utf-8")
    r = ingest_file(con, p)
    names = [c.name for c in r.columns]
    assert (r.rows, len(names), len(set(n.lower() for n in names))) == (3, 1500, 1500)
    assert all(len(n) <= 60 for n in names)
    assert names[0] == "feature_0_with_a_rather_long_descriptive_name_unit"


def test_no_header_generates_names(con, tmp_path):
    p = tmp_path / "nohdr.csv"
    p.write_text("1,2.5,abc\n2,3.5,def\n3,4.5,ghi\n")
    r = ingest_file(con, p)
    assert [c.name for c in r.columns] == ["column_1", "column_2", "column_3"]
    assert any(w.startswith("No header row was found; columns were named column_1 … column_3.")
               for w in r.warnings)


@pytest.mark.parametrize("sep", ["\t", "|", ";"])
def test_separators(con, tmp_path, sep):
    p = tmp_path / "sep.txt"
    p.write_text(sep.join(["id", "city", "amount"]) + "\n" + sep.join(["1", "Le Mans", "2"]) + "\n"
                 + sep.join(["2", "Köln", "3"]) + "\n", encoding="utf-8")
    r = ingest_file(con, p)
    assert r.delimiter == sep and _column(con, r.table, "city") == ["Le Mans", "Köln"]


def test_true_false_column_stays_usable_labels(con, tmp_path):
    p = tmp_path / "flags.csv"
    p.write_text("id,active\n1,true\n2,false\n3,true\n")
    r = ingest_file(con, p)
    assert {c.name: c.type for c in r.columns}["active"] == "VARCHAR"
    assert summarize_target(con, r.table, "active").suggested_positive == "true"


def test_malformed_middle_line_is_counted_not_silently_dropped(con, tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("a,b\n1,2\n3\n4,5\n6,7\n8,9\n10,11\n")
    r = ingest_file(con, p)
    assert (r.rows, r.dropped_rows) == (5, 1)
    assert "1 malformed line(s) were not loaded" in " ".join(r.warnings)
    assert "line 3: '3'" in " ".join(r.warnings)


def test_wrong_separator_fails_whole_and_writes_nothing(con, tmp_path):
    p = tmp_path / "broken.csv"
    p.write_text("a,b,c\n" + "".join(f"{i},{i}\n" for i in range(30)) + "1,2,3\n")
    with pytest.raises(IngestError, match="do not fit"):
        ingest_file(con, p, IngestOptions(delimiter=","))
    assert (_tables(con), _catalog_rows(con)) == ([], 0)


# ---------------------------------------------------------------- encodings


def test_latin1_file_reads_as_cp1252_and_says_so(con, tmp_path):
    p = tmp_path / "latin1.csv"
    p.write_bytes("nom,ville\nRenée,Besançon\nFrançois,Nîmes\n".encode("latin-1"))
    r = ingest_file(con, p)
    assert r.encoding == "cp1252"
    assert any("identical to latin-1" in w for w in r.warnings)
    assert split_notes(r.warnings) == ([
        "Encoding: Windows Western (cp1252, identical to latin-1 for this file), as Excel saves "
        "CSV files on Windows; the file is not UTF-8 and every character reads correctly as "
        "cp1252."], [])
    assert _column(con, r.table, "ville") == ["Besançon", "Nîmes"]
    r2 = ingest_file(con, p, IngestOptions(encoding="latin-1"))
    assert r2.encoding == "latin-1" and _column(con, r2.table, "nom") == ["Renée", "François"]


def test_utf16_with_bom(con, tmp_path):
    p = tmp_path / "u16.txt"
    p.write_bytes("name\tcity\nZoë\t北京\n".encode("utf-16"))
    r = ingest_file(con, p)
    assert (r.encoding, _column(con, r.table, "city")) == ("utf-16", ["北京"])


def test_utf8_that_breaks_after_the_first_mib_is_reread(con, tmp_path):
    p = tmp_path / "late_cp.csv"
    body = "".join(f"{i},cafe{i}\n" for i in range(120000)).encode()
    p.write_bytes(b"id,name\n" + body + "120000,Zoë O’Brien\n".encode("cp1252"))
    assert p.stat().st_size > (1 << 20)
    r = ingest_file(con, p)
    assert (r.rows, r.encoding) == (120001, "cp1252")
    assert _column(con, r.table, "name")[-1] == "Zoë O’Brien"
    assert any("not UTF-8 throughout" in w for w in r.warnings)


def test_uncertain_encoding_asks_with_previews(con, tmp_path):
    p = tmp_path / "short_gbk.csv"
    p.write_bytes("名字\n张伟\n".encode("gbk"))
    with pytest.raises(EncodingUncertainError) as err:
        ingest_file(con, p)
    assert "gb18030" in err.value.guess.candidates and "--encoding gb18030" in str(err.value)
    assert err.value.previews["gb18030"] == "名字\n张伟"
    assert (_tables(con), _catalog_rows(con)) == ([], 0)
    preview = inspect_file(p)
    assert preview.encoding.certain is False and preview.previews["gb18030"] == "名字\n张伟"
    r = ingest_file(con, p, IngestOptions(encoding="gbk"))
    assert _column(con, r.table, "名字") == ["张伟"]


def test_cp1250_polish_is_not_read_as_cp1252():
    guess = guess_encoding("imię,miasto\nŁukasz,Łódź\nŻaneta,Gdańsk\n".encode("cp1250"))
    assert (guess.encoding, guess.certain) == ("cp1250", True)


# ---------------------------------------------------------------- other formats and flows


def test_excel_sheet_choice(con, tmp_path):
    p = tmp_path / "book.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = "Notes"
    wb.active.append(["just", "notes"])
    ws = wb.create_sheet("Customers")
    ws.append(["id", "signed up", "spend €"])
    ws.append([1, pd.Timestamp("2024-03-01").to_pydatetime(), 12.5])
    ws.append([2, pd.Timestamp("2024-04-02").to_pydatetime(), None])
    wb.save(p)
    r = ingest_file(con, p, IngestOptions(sheet="Customers"))
    assert r.sheet == "Customers" and r.rows == 2
    assert {c.name: c.type for c in r.columns} == {"id": "BIGINT", "signed_up": "DATE",
                                                   "spend": "DOUBLE"}
    assert "Read sheet 'Customers' of 2 (Notes, Customers)." in r.warnings
    with pytest.raises(IngestError, match="no sheet 'Nope'"):
        ingest_file(con, p, IngestOptions(sheet="Nope"))
    assert inspect_file(p).sheets == ("Notes", "Customers")


def test_json_ndjson_and_nested_values(con, tmp_path):
    p = tmp_path / "rows.json"
    p.write_text(json.dumps([{"id": 1, "addr": {"city": "Köln"}, "tags": ["a"]},
                             {"id": 2, "addr": {"city": "Lyon"}, "tags": []}]))
    r = ingest_file(con, p)
    assert _column(con, r.table, "addr") == ['{"city":"Köln"}', '{"city":"Lyon"}']
    q = tmp_path / "rows.ndjson"
    q.write_text("".join(json.dumps({"a": i, "b": "x"}) + "\n" for i in range(25000))
                 + json.dumps({"a": "late text", "b": "y"}) + "\n")
    r = ingest_file(con, q)
    assert r.rows == 25001 and {c.name: c.type for c in r.columns}["a"] == "VARCHAR"
    assert _column(con, r.table, "a")[-1] == '"late text"'  # mixed types kept as JSON text


def test_replace_or_keep_both_question(con):
    ingest_file(con, CASES / "quoted_newlines.csv")
    assert planned_table_name(con, "quoted_newlines.csv") == ("quoted_newlines", True)
    assert planned_table_name(con, "other.csv") == ("other", False)


def test_upload_bytes_report_is_kept_in_the_catalog(con):
    data = (CASES / "telco_totalcharges_blank.csv").read_bytes()
    r = ingest_bytes(con, data, "Telco export (2).csv")
    assert r.table == "telco_export_2"
    stored = load_report(con, r.table)
    assert stored["source"] == "Telco export (2).csv" and stored["rows"] == r.rows
    assert file_kind("x.XLSX") == "excel" and file_kind("y.tsv") == "text"
