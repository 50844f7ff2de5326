"""``profile``, ``prepare`` and ``protect`` on the command line: one JSON object with the right
values, ``error: ...`` and exit 2 on bad input (unknown table, column or recipe, malformed
recipe files, SQL-shaped names and values), nothing written when a command refuses, and never
NaN or Infinity in the JSON."""

from __future__ import annotations

import json

import pytest

from core.app import main
from core.config import load_settings
from core.warehouse import connect, list_tables


def _no_constants(token):
    raise AssertionError(f"{token} in the JSON")


def _run(capsys, d, *args):
    code = main(["--data-dir", str(d), *args])
    out, err = capsys.readouterr()
    if code == 0:
        return code, json.loads(out, parse_constant=_no_constants), err
    assert out == "" and err.startswith("error: ") and err.count("\n") == 1, err
    return code, None, err


@pytest.fixture
def ws(tmp_path):
    d = tmp_path / "ws"
    with connect(load_settings(d)) as con:
        con.execute("""CREATE TABLE shop AS SELECT range AS order_id,
            CASE WHEN range % 4 = 0 THEN 'yes' ELSE 'no' END AS y,
            CASE WHEN range % 4 = 0 THEN 100.0 + range ELSE range * 0.1 END AS refund_after,
            range % 7 AS visits, (range % 5) * 10.0 - 10.0 AS balance,
            printf('%02d/%02d/2024', (range // 4) % 28 + 1, (range // 4) % 12 + 1) AS d,
            NULL::DOUBLE AS empty FROM range(200)""")
    return d


def _tables(d) -> list[str]:
    with connect(load_settings(d)) as con:
        return sorted(t.table for t in list_tables(con))


def test_profile(capsys, ws):
    code, out, _ = _run(capsys, ws, "profile", "shop", "--target", "y")
    assert code == 0 and (out["table"], out["rows"], out["positive_class"]) == ("shop", 200, "yes")
    assert out["balance"] == [{"label": "no", "count": 150, "share": 0.75},
                              {"label": "yes", "count": 50, "share": 0.25}]
    cols = {c["name"]: c for c in out["columns"]}
    assert cols["order_id"]["id_like"] and not cols["visits"]["id_like"]
    assert cols["refund_after"]["leakage"] and cols["refund_after"]["target_auc"] == 1.0
    assert [leak["column"] for leak in out["leaks"]] == ["refund_after"]
    assert (cols["empty"]["missing"], cols["empty"]["constant"], cols["empty"]["stats"]) == (
        200, True, {})
    # day-first reads every d; month-first only the 96 rows whose first part is <= 12
    # (j = k // 4 in 0..11 or 28..39, four rows each)
    assert cols["d"]["dates_as_text"] == {"values": 200, "day_first": 200, "month_first": 96,
                                          "iso": 0}
    assert cols["visits"]["stats"]["max"] == 6.0 and cols["visits"]["top"][0]["count"] == 29
    code, out, _ = _run(capsys, ws, "profile", "shop")
    assert code == 0 and out["target"] is None and out["balance"] == []


def test_profile_bad_input(capsys, ws):
    code, _, err = _run(capsys, ws, "profile", "nope")
    assert code == 2 and "There is no table named 'nope'" in err
    code, _, err = _run(capsys, ws, "profile", "shop", "--target", "nope")
    assert code == 2 and "has no column 'nope'" in err
    code, _, err = _run(capsys, ws, "profile", "shop", "--target", "y", "--positive", "maybe")
    assert code == 2 and "'maybe' is not a value of 'y'" in err


def _recipe(tmp_path, steps, name="shop_clean") -> str:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"name": name, "steps": steps}))
    return str(path)


STEPS = [{"kind": "drop_duplicates", "columns": ["visits"]},
         {"kind": "rename", "columns": ["refund_after"], "value": "refund"},
         {"kind": "log", "columns": ["visits"], "method": "log1p"},
         {"kind": "date_parts", "columns": ["d"], "method": "month_first"},
         {"kind": "drop_columns", "columns": ["empty", "order_id"]}]


def test_prepare_and_replay(capsys, ws, tmp_path):
    code, out, _ = _run(capsys, ws, "prepare", "shop", "--recipe", _recipe(tmp_path, STEPS),
                        "--out", "shop_ready")
    assert code == 0 and (out["table"], out["recipe"], out["rows"]) == ("shop_ready",
                                                                        "shop_clean", 7)
    assert out["columns"] == ["y", "refund", "visits", "balance", "d", "d_year", "d_month",
                              "d_day", "d_weekday"]
    assert [s["rows"] for s in out["steps"]] == [7] * 5
    # the first 7 rows (visits 0..6) have d = 01/01 or 02/02: all read month-first
    assert out["notes"] == [] and not out["replayed"]
    with connect(load_settings(ws)) as con:
        con.execute("CREATE TABLE june AS SELECT * REPLACE (-visits - 0.5 AS visits, "
                    "'13/13/2024' AS d) FROM shop WHERE order_id < 3")
    code, out, _ = _run(capsys, ws, "prepare", "june", "--replay", "shop_clean",
                        "--out", "june_ready")
    assert code == 0 and out["replayed"] and out["rows"] == 3
    assert out["notes"] == [
        "Step 3 (log log1p: visits): 3 value(s) of 'visits' were below 0 (min -2.5), outside "
        "the values >= 0 the recipe was fitted on; they were set to 0 before ln(1 + x), so "
        "they read 0",
        "Step 4 (date parts month_first: d): 3 of 3 value(s) of 'd' could not be read as "
        "month-first dates, so their date parts are empty (e.g. '13/13/2024'); day-first "
        "would read 0"]
    assert out["notes"][0].endswith(out["steps"][2]["notes"][0])
    code, _, err = _run(capsys, ws, "prepare", "june", "--replay", "shop_clean",
                        "--out", "june_ready")
    assert code == 2 and "already exists" in err
    code, out, _ = _run(capsys, ws, "prepare", "june", "--replay", "shop_clean",
                        "--out", "JUNE_READY", "--replace")
    assert code == 0 and out["table"] == "june_ready"


@pytest.mark.parametrize("content, message", [
    ("{not json", "is not valid JSON: Expecting property name enclosed in double quotes at "
                  "line 1, column 2"),
    ('["a"]', "A recipe is a JSON object"),
    ('{"name": "r", "steps": [{"kind": "impute", "columns": "visits"}]}',
     '"columns" must be a list of column names'),
    ('{"name": "r", "steps": [{"kind": "explode", "columns": ["visits"]}]}',
     "Unknown step 'explode'"),
    ('{"name": "r", "steps": [{"kind": "bin", "columns": ["visits"], "value": "3) --"}]}',
     "needs a whole number as its value"),
    ('{"name": "r", "steps": [{"kind": "impute", "columns": ["x\\"); DROP TABLE shop; --"], '
     '"method": "mode"}]}', "uses column(s) x\"); DROP TABLE shop; -- that the data does not"),
    ('{"name": "r", "steps": [{"kind": "log", "columns": ["balance"]}]}',
     "balance has 40 value(s) below 0 (min -10)"),
])
def test_prepare_refuses_malformed_recipes_and_writes_nothing(capsys, ws, tmp_path, content,
                                                             message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    code, _, err = _run(capsys, ws, "prepare", "shop", "--recipe", str(path), "--out", "x")
    assert code == 2 and message in err
    assert _tables(ws) == ["shop"]


def test_prepare_bad_input(capsys, ws, tmp_path):
    good = _recipe(tmp_path, STEPS)
    for args, message in [
        (("shop", "--recipe", str(tmp_path / "missing.json"), "--out", "x"),
         "Cannot read --recipe"),
        (("shop", "--out", "x"), "needs either --recipe FILE.json"),
        (("shop", "--recipe", good, "--replay", "r", "--out", "x"), "needs either --recipe"),
        (("shop", "--replay", "nope", "--out", "x"), "There is no recipe named 'nope'"),
        (("nope", "--recipe", good, "--out", "x"), "There is no table named 'nope'"),
        (("shop", "--recipe", good, "--out", "shop"), "computed from"),
        (("shop", "--recipe", good), "the following arguments are required: --out"),
    ]:
        code, _, err = _run(capsys, ws, "prepare", *args)
        assert code == 2 and message in err, (args, err)
    filtered = _recipe(tmp_path, [{"kind": "filter", "columns": ["y"], "method": "==",
                                   "value": "yes' OR '1'='1"}], "f")
    code, out, _ = _run(capsys, ws, "prepare", "shop", "--recipe", filtered, "--out", "f")
    assert code == 0 and out["rows"] == 0  # the value is bound, never spliced into SQL
    assert _tables(ws) == ["f", "shop"]


@pytest.fixture
def people(tmp_path):
    d = tmp_path / "people_ws"
    with connect(load_settings(d)) as con:
        con.execute("CREATE TABLE people AS SELECT * FROM (VALUES "
                    "('a@x.org', 23, 'SW1A 1AA', 'F'), ('b@x.org', 27, 'SW1A 2BB', 'F'), "
                    "('c@x.org', 29, 'SW1B 3CC', 'F'), ('d@x.org', 31, 'EC1A 1BB', 'M'), "
                    "('e@x.org', 35, 'EC1A 9ZZ', 'M'), ('f@x.org', 45, 'N1 9GU', 'M')) "
                    "v(email, age, postcode, gender)")
    return d


def test_protect_and_reach_k(capsys, people):
    code, out, _ = _run(capsys, people, "protect", "people", "--column", "email", "--action",
                        "pseudonymise", "--column", "age", "--action", "generalise",
                        "--bands", "age=10")
    assert code == 0 and (out["table"], out["rows"]) == ("people_protected", 6)
    assert out["marks"] == [{"column": "age", "action": "generalise", "param": 10.0},
                            {"column": "email", "action": "pseudonymise", "param": None}]
    assert out["k_anonymity"] is None
    code, out, _ = _run(capsys, people, "protect", "people", "--column", "email", "--action",
                        "drop", "--column", "age", "--action", "generalise", "--column",
                        "postcode", "--action", "generalise", "--bands", "age=10,postcode=3",
                        "--k", "3", "--quasi", "age,postcode,gender", "--out", "people_k3")
    # groups: 20-29 SW1* F (3), 30-39 EC1* M (2), 40-49 N1 * M (1): 3 rows suppressed
    assert code == 0 and out["columns"] == ["age", "postcode", "gender"]
    k = out["k_anonymity"]
    assert (k["k"], k["k_reached"], k["rows_before"], k["rows_suppressed"], k["groups"],
            k["groups_suppressed"]) == (3, 3, 6, 3, 1, 2)
    assert out["rows"] == 3 and len(out["notes"]) == 2
    code, out, _ = _run(capsys, people, "protect", "people", "--k", "2", "--quasi",
                        "age,postcode", "--out", "people_k2")  # the saved marks
    assert code == 0 and out["k_anonymity"]["rows_suppressed"] == 1


def test_protect_bad_input(capsys, people):
    for args, message in [
        (("nope", "--column", "age", "--action", "drop"), "There is no table named 'nope'"),
        (("people", "--column", "age"), "Give one --action per --column"),
        (("people", "--column", "age", "--action", "encrypt"), "invalid choice: 'encrypt'"),
        (("people", "--column", "nope", "--action", "drop"), "has no column(s) nope"),
        (("people", "--column", "age", "--action", "drop", "--k", "2"),
         "--k and --quasi go together"),
        (("people", "--column", "age", "--action", "generalise", "--bands", "age=wide"),
         "--bands takes COLUMN=WIDTH pairs"),
        (("people", "--column", "age", "--action", "drop", "--bands", "age=5"),
         "--bands names age, which is not generalised"),
        (("people", "--column", "age", "--action", "generalise", "--k", "7", "--quasi", "age"),
         "No group over age reaches 7 rows"),
        (("people", "--column", "age", "--action", "generalise", "--out", "people"),
         "computed from"),
        (("people",), "No column of 'people' is marked"),
    ]:
        code, _, err = _run(capsys, people, "protect", *args)
        assert code == 2 and message in err, (args, err)
    assert _tables(people) == ["people"]
