"""Personal data: suggestions, keyed pseudonyms (stable across uploads), generalising,
k-anonymity, and personal values kept out of profiles and the SQL console."""

from __future__ import annotations

import hashlib
import hmac
import stat

import pytest

from core.errors import QueryError, SchemaError
from core.ingest import ingest_file
from core.tables import (
    PersonalMark,
    k_anonymity,
    load_marks,
    personal_key,
    profile_table,
    protect_table,
    save_marks,
    suggest_personal,
)
from core.warehouse import connect, run_query

CSV = ("customer_id,Full Name,E-mail,mobile_contact,age,postcode,birth,plan,spend\n"
       "C001,Renée Müller,renee@example.com,+44 20 7946 0001,34,SW1A 1AA,1990-04-01,basic,10\n"
       "C002,José Núñez,jose@example.com,+44 20 7946 0002,37,SW1A 2BB,1987-01-15,basic,20\n"
       "C003,Zoë O’Brien,zoe@example.com,+44 20 7946 0003,52,EC1A 1BB,1972-11-30,pro,30\n"
       "C004,张伟,wei@example.com,+44 20 7946 0004,58,EC1A 9ZZ,1966-06-06,pro,40\n")


@pytest.fixture
def ws(settings, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text(CSV, encoding="utf-8")
    with connect(settings) as con:
        ingest_file(con, path)
    return settings


def _marks():
    return [PersonalMark("E_mail"), PersonalMark("Full_Name", "drop"),
            PersonalMark("age", "generalise", 10), PersonalMark("postcode", "generalise", 3),
            PersonalMark("birth", "generalise")]


def test_suggestions_by_name_values_and_id(ws):
    with connect(ws) as con:
        found = {s.column: s.reason for s in suggest_personal(con, "customers")}
    assert found == {"customer_id": "its name suggests an identifier of a person",
                     "Full_Name": "its name suggests personal data",
                     "E_mail": "its name suggests personal data",
                     "mobile_contact": "its name suggests personal data",
                     "postcode": "its name suggests personal data",
                     "birth": "its name suggests personal data"}
    with connect(ws) as con:
        con.execute("CREATE TABLE logins AS SELECT 'u' || range || '@x.org' AS login, "
                    "'+33 1 ' || (4000000 + range) AS contact, range AS ref, 'x' AS k "
                    "FROM range(30)")
        by_value = {s.column: s.reason for s in suggest_personal(con, "logins")}
    assert by_value == {"login": "its values are e-mail addresses",
                        "contact": "its values look like phone numbers",
                        "ref": "it identifies single rows (ID-like)"}


def test_protected_copy_values(ws):
    with connect(ws) as con:
        out = protect_table(con, ws, "customers", marks=_marks())
        rows = con.execute(f'SELECT * FROM "{out}" ORDER BY customer_id').fetchall()
        cols = [r[0] for r in con.execute(f'DESCRIBE "{out}"').fetchall()]
        raw = con.execute('SELECT "E_mail" FROM customers ORDER BY customer_id').fetchall()
    assert out == "customers_protected" and "Full_Name" not in cols
    key = personal_key(ws)
    expected = "p_" + hmac.new(key, b"renee@example.com", hashlib.sha256).hexdigest()[:20]
    first = dict(zip(cols, rows[0]))
    assert first["E_mail"] == expected
    assert (first["age"], first["postcode"], first["birth"]) == ("30-39", "SW1*", "1990")
    assert [dict(zip(cols, r))["age"] for r in rows] == ["30-39", "30-39", "50-59", "50-59"]
    assert raw[0] == ("renee@example.com",)  # the raw table is untouched


def test_key_file_is_private_and_pseudonyms_are_stable_across_uploads(ws, tmp_path):
    path = ws.data_dir / "privacy.key"
    with connect(ws) as con:
        protect_table(con, ws, "customers", marks=[PersonalMark("E_mail")])
        second = tmp_path / "customers_june.csv"
        second.write_text(CSV, encoding="utf-8")
        again = ingest_file(con, second).table
        protect_table(con, ws, again, f"{again}_protected", [PersonalMark("E_mail")])
        joined = con.execute(
            f'SELECT count(*) FROM customers_protected a JOIN "{again}_protected" b '
            f'USING ("E_mail")').fetchone()[0]
    assert joined == 4
    assert len(path.read_bytes()) == 32 and stat.S_IMODE(path.stat().st_mode) == 0o600


def test_k_anonymity(ws):
    with connect(ws) as con:
        raw = k_anonymity(con, "customers", ["age", "postcode"], threshold=2)
        protect_table(con, ws, "customers", marks=_marks())
        coarse = k_anonymity(con, "customers_protected", ["age", "postcode"], threshold=2)
        with pytest.raises(SchemaError, match="at least one quasi-identifier"):
            k_anonymity(con, "customers", [])
    assert (raw.k, raw.groups, raw.rows_at_risk) == (1, 4, 4)
    assert (coarse.k, coarse.groups, coarse.rows_at_risk, coarse.groups_at_risk) == (2, 2, 0, 0)


def test_marks_hide_values_from_profile_and_console(ws):
    with connect(ws) as con:
        save_marks(con, "customers", [PersonalMark("E_mail"), PersonalMark("Full_Name", "drop")])
        marks = load_marks(con, "customers")
        hidden = tuple(m.column for m in marks)
        p = profile_table(con, "customers", hidden=hidden)
    email = next(c for c in p.columns if c.name == "E_mail")
    assert email.hidden and email.top == [] and email.stats == {}
    r = run_query(ws, "SELECT * FROM customers ORDER BY customer_id")
    assert "E_mail" not in r.columns and "Full_Name" not in r.columns
    assert not any("@" in str(v) for row in r.rows for v in row)
    assert r.notes == ("Personal columns of 'customers' are hidden: E_mail, Full_Name.",)
    for sql in ('SELECT "E_mail" FROM warehouse.main.customers',
                "SELECT * FROM query_table('warehouse.customers')"):
        with pytest.raises(QueryError, match="has columns marked as personal data"):
            run_query(ws, sql)


def test_bad_marks_are_refused(ws):
    with pytest.raises(SchemaError, match="action must be one of drop, pseudonymise, generalise"):
        PersonalMark("age", "encrypt")
    with connect(ws) as con:
        with pytest.raises(SchemaError, match="has no column\\(s\\) nope"):
            save_marks(con, "customers", [PersonalMark("nope")])
        with pytest.raises(SchemaError, match="No column of 'customers' is marked"):
            protect_table(con, ws, "customers")


def test_prepare_refuses_raw_personal_columns_but_takes_the_protected_copy(ws):
    from core.tables import Recipe, Step, apply_recipe

    recipe = Recipe("r", (Step("drop_columns", ("plan",)),))
    with connect(ws) as con:
        protect_table(con, ws, "customers", marks=_marks())
        with pytest.raises(SchemaError, match=r"columns marked as personal data \(E_mail, Full_Name"):
            apply_recipe(con, "customers", recipe, "customers_ready")
        result = apply_recipe(con, "customers_protected", recipe, "customers_ready")
    assert result.rows == 4 and all(v.startswith("p_") for v in result.preview["E_mail"])
