"""Ingest: formats, encodings, dialects, headers, missing markers, and nothing half-written."""

from __future__ import annotations

import pandas as pd
import pytest

from core.errors import IngestError
from core.ingest import IngestOptions, ingest_file, split_notes
from core.ingest._ingest import detect_encoding
from core.warehouse import clean_column_names, list_tables, original_names
from tests.conftest import BANK, CASES


def _tables(con):
    return [t.table for t in list_tables(con)]


def test_bank_semicolon_and_quotes_detected(con):
    r = ingest_file(con, BANK, IngestOptions(table="bank"))
    assert r.rows == 41188
    assert r.delimiter == ";"
    assert len(r.columns) == 21
    names = [c.name for c in r.columns]
    assert names[:3] == ["age", "job", "marital"]
    assert "emp_var_rate" in names and names[-1] == "y"
    assert original_names(con, "bank")["emp_var_rate"] == "emp.var.rate"
    assert con.execute("SELECT count(*) FROM bank WHERE y = 'yes'").fetchone()[0] == 4640
    types = {c.name: c.type for c in r.columns}
    assert types["age"] == "BIGINT" and types["euribor3m"] == "DOUBLE" and types["y"] == "VARCHAR"


def test_utf8_bom_first_column_exact(con):
    r = ingest_file(con, CASES / "utf8_bom_header.csv")
    assert r.columns[0].name == "customerID"
    assert r.encoding == "utf-8-sig"


def test_cp1252_excel_export_keeps_symbols(con):
    r = ingest_file(con, CASES / "cp1252_excel_export.csv")
    assert r.encoding == "cp1252"
    notes = [v for (v,) in con.execute(f'SELECT "Notes" FROM "{r.table}"').fetchall()]
    assert notes == ["Prefers “email” contact – no calls", "Paid €120 deposit", "—"]
    names = [v for (v,) in con.execute(f'SELECT "CustomerName" FROM "{r.table}"').fetchall()]
    assert names[0] == "Renée Müller" and names[2] == "Zoë O’Brien"
    notes, warnings = split_notes(r.warnings)
    assert notes == ["Encoding: Windows Western (cp1252), as Excel saves CSV files on Windows; "
                     "the file is not UTF-8 and every character reads correctly as cp1252."]
    assert not any("cp1252" in w for w in warnings)  # a confident detection is no warning


def test_split_notes_keeps_what_needs_checking_as_warnings():
    messages = ["Encoding gb18030 (chosen by you).", "Read sheet 'b' of 2 (a, b).",
                "Column 1 header 'emp.var.rate' renamed to 'emp_var_rate'.",
                "The file is not UTF-8 throughout (invalid bytes at byte 9); it was read as "
                "cp1252. If some text looks wrong, choose the encoding.",
                "2 malformed line(s) were not loaded (wrong number of fields or unreadable "
                "values): line 3: 'x'."]
    notes, warnings = split_notes(messages)
    assert notes == messages[:2] and warnings == messages[2:]
    assert split_notes([]) == ([], [])


def test_gb18030_chinese_headers_and_values(con):
    r = ingest_file(con, CASES / "gb18030_chinese_headers.csv")
    assert r.encoding == "gb18030"
    assert [c.name for c in r.columns] == ["客户编号", "姓名", "性别", "在网月数", "月费用", "总费用", "是否流失"]
    rows = con.execute(f'SELECT "姓名" FROM "{r.table}"').fetchall()
    assert [v for (v,) in rows] == ["张伟", "李娜", "𠮷明", "王芳"]


def test_quoted_newlines_three_rows(con):
    assert ingest_file(con, CASES / "quoted_newlines.csv").rows == 3


def test_blank_numeric_cells_become_null_and_are_reported(con):
    r = ingest_file(con, CASES / "telco_totalcharges_blank.csv")
    col = next(c for c in r.columns if c.name == "TotalCharges")
    assert col.type == "DOUBLE"
    assert col.missing == 3
    assert any("TotalCharges" in w and "3 blank" in w for w in r.warnings)
    churn = next(c for c in r.columns if c.name == "Churn")
    assert churn.type == "VARCHAR"  # Yes/No kept as the analyst's labels


def test_duplicate_and_blank_headers(con):
    r = ingest_file(con, CASES / "dup_and_blank_headers.csv")
    assert [c.name for c in r.columns] == ["id", "amount", "amount_2", "column_4", "Amount_3", "region"]
    assert [c.original_name for c in r.columns] == ["id", "amount", "amount", "", "Amount ", "region"]
    assert len([w for w in r.warnings if "renamed" in w]) == 3


def test_special_character_headers(con):
    r = ingest_file(con, CASES / "special_char_headers.csv")
    assert [c.name for c in r.columns] == [
        "customer_id", "Monthly_Charges", "tenure_months", "客户等级", "select", "a_quoted_name", "Churn"]
    assert original_names(con, r.table)["a_quoted_name"] == 'a "quoted" name'


@pytest.mark.parametrize("name", ["empty.csv", "header_only.csv"])
def test_no_data_rows_leaves_nothing(con, name):
    with pytest.raises(IngestError, match="no data rows|empty"):
        ingest_file(con, CASES / name)
    assert _tables(con) == []
    assert con.execute("SELECT count(*) FROM liftlab.catalog").fetchone()[0] == 0


def test_unsupported_extension_refused(con, tmp_path):
    p = tmp_path / "model.pkl"
    p.write_bytes(b"\x80\x04junk")
    with pytest.raises(IngestError, match="not a file type LiftLab reads.*not delimited text"):
        ingest_file(con, p)
    assert _tables(con) == []


def test_unknown_extensions_are_read_by_content_and_comma_space_is_one_separator(con, tmp_path):
    """UCI's adult.data: no header, ', ' between values, '?' for missing (issue 12, item 15;
    issue 13, items 2 and 3)."""
    rows = [f"{20 + i % 50}, {['Private', 'State-gov', '?'][i % 3]}, {[40, 20, '?'][i % 3]}, "
            f"{['<=50K', '>50K'][i % 2]}" for i in range(60)]
    for name in ("adult.data", "adult"):
        p = tmp_path / name
        p.write_text("\n".join(rows) + "\n")
        r = ingest_file(con, p, IngestOptions(
            table=f"t_{name.replace('.', '_')}",
            column_names=("age", "workclass", "hours-per-week", "income")))
        labels = sorted(v for (v,) in con.execute(
            f"SELECT DISTINCT income FROM {r.table}").fetchall())
        assert labels == ["<=50K", ">50K"]  # not " >50K"
        assert [c.original_name for c in r.columns] == ["age", "workclass", "hours-per-week",
                                                         "income"]
        assert [c.missing for c in r.columns] == [0, 20, 20, 0]
        assert [c.type for c in r.columns] == ["BIGINT", "VARCHAR", "BIGINT", "VARCHAR"]
        notes = " | ".join(r.warnings)
        assert "its content is delimited text" in notes and "comma and a space" in notes
        assert "'workclass': 20 cell(s) read as missing ('?' ×20)" in notes
    with pytest.raises(IngestError, match="4 columns but 2 names"):
        ingest_file(con, tmp_path / "adult", IngestOptions(table="x", column_names=("a", "b")))
    r = ingest_file(con, tmp_path / "adult", IngestOptions(table="kept", missing_markers=()))
    assert [c.missing for c in r.columns] == [0, 0, 0, 0]


def test_binary_bytes_in_csv_refused(con, tmp_path):
    p = tmp_path / "fake.csv"
    p.write_bytes(b"PK\x03\x04\x00\x00\x00binary" * 50)
    with pytest.raises(IngestError):
        ingest_file(con, p)
    assert _tables(con) == []


def test_excel_workbook(con):
    r = ingest_file(con, CASES / "churn_small.xlsx")
    assert r.rows == 3
    assert [c.name for c in r.columns] == ["customerID", "tenure", "MonthlyCharges", "Churn"]


def test_parquet_roundtrip(con, tmp_path):
    p = tmp_path / "x.parquet"
    pd.DataFrame({"a b": [1, 2, 3], "y": ["no", "yes", "no"]}).to_parquet(p)
    r = ingest_file(con, p)
    assert (r.rows, [c.name for c in r.columns]) == (3, ["a_b", "y"])
    assert r.columns[0].original_name == "a b"


def test_type_change_late_in_file_keeps_all_rows(con, tmp_path):
    p = tmp_path / "late.csv"
    lines = ["id,code"] + [f"{i},{i}" for i in range(30000)] + ["30000,A17"]
    p.write_text("\n".join(lines) + "\n")
    r = ingest_file(con, p)
    assert r.rows == 30001
    assert next(c.type for c in r.columns if c.name == "code") == "VARCHAR"


def test_keep_both_and_replace(con):
    a = ingest_file(con, CASES / "quoted_newlines.csv")
    b = ingest_file(con, CASES / "quoted_newlines.csv")
    assert (a.table, b.table) == ("quoted_newlines", "quoted_newlines_2")
    c = ingest_file(con, CASES / "quoted_newlines.csv", IngestOptions(table="quoted_newlines",
                                                                       if_exists="replace"))
    assert c.table == "quoted_newlines"
    with pytest.raises(IngestError, match="already exists"):
        ingest_file(con, CASES / "quoted_newlines.csv",
                    IngestOptions(table="quoted_newlines", if_exists="fail"))


def test_clean_names_rules():
    names, warnings = clean_column_names([" a ", "1st", "", "A", "x-y"])
    assert names == ["a", "c_1st", "column_3", "A_2", "x_y"]
    assert len(warnings) == 5


def test_detect_encoding_utf16_and_utf8():
    assert detect_encoding("é,ü\n".encode("utf-8"))[0] == "utf-8"
    assert detect_encoding("a,b\n".encode("utf-16"))[0] == "utf-16"


def test_load_runs_under_a_memory_cap_raised_when_short_and_lifted(con, monkeypatch):
    import core.ingest._ingest as ingest_module
    import core.warehouse._connection as warehouse

    default = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    seen = []
    real = warehouse.with_memory_retry

    def spy(c, run, cap, max_mb=4096):
        seen.append(c.execute("SELECT current_setting('memory_limit')").fetchone()[0])
        out = real(c, run, cap, max_mb)
        seen.append(cap[0])
        return out

    monkeypatch.setattr(ingest_module, "with_memory_retry", spy)
    monkeypatch.setattr(ingest_module, "LOAD_MEMORY_MB", 1)  # DuckDB runs out at once
    r = ingest_file(con, BANK, IngestOptions(table="bank_capped"))
    assert r.rows == 41188 and seen[0] == "1.0 MiB" and seen[1] > 1  # doubled until it fitted
    assert con.execute("SELECT count(*) FROM bank_capped").fetchone()[0] == 41188
    assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0] == default
