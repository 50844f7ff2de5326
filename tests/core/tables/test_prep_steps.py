"""Recipe steps of issue 12: duplicates keep the first row in file order (replay equals the
first application), log1p's defined behaviour on negative values, dates that cannot be read,
the rename step, every change said in the step's notes, and SQL-shaped input kept as data."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from core.errors import SchemaError
from core.ingest import IngestOptions, ingest_file
from core.tables import Recipe, Step, apply_recipe, preview_recipe, replay_recipe
from core.warehouse import original_names, table_columns
from tests.conftest import SHARED

RETAIL = SHARED / "data" / "online_retail_ii_2009_2010" / "online_retail_ii_year_2009-2010.parquet"


def test_drop_duplicates_keeps_the_first_row_in_file_order(con):
    # 300,000 rows, 997 keys: a parallel DISTINCT ON kept arbitrary rows (996 of 997 wrong)
    con.execute("CREATE TABLE ev AS SELECT range AS i, range % 997 AS k FROM range(300000)")
    apply_recipe(con, "ev", Recipe("by_key", (Step("drop_duplicates", ("k",)),)), "first")
    assert con.execute("SELECT i, k FROM first").fetchall() == [(i, i) for i in range(997)]
    con.execute("CREATE TABLE rep AS SELECT range % 5 AS a, range % 3 AS b FROM range(100000)")
    r = apply_recipe(con, "rep", Recipe("all", (Step("drop_duplicates"),)), "rep_once")
    # pandas' drop_duplicates(keep="first") is the reference: first occurrences, file order
    frame = con.execute("SELECT * FROM rep").df().drop_duplicates(keep="first")
    assert r.rows == 15
    assert con.execute("SELECT * FROM rep_once").fetchall() == list(frame.itertuples(False, None))


def test_a_column_called_rowid_does_not_hide_the_file_order(con):
    con.execute("CREATE TABLE r AS SELECT * FROM (VALUES (9, 'a', 1), (8, 'a', 2), (7, 'b', 3)) "
                "v(rowid, k, x)")
    r = preview_recipe(con, "r", Recipe("r", (Step("drop_duplicates", ("k",)),)))
    assert r.preview.values.tolist() == [[9, "a", 1], [7, "b", 3]]


def test_replay_of_drop_duplicates_equals_the_first_application_on_online_retail(con):
    ingest_file(con, RETAIL, IngestOptions(table="retail"))
    keys = ("Quantity", "Customer_ID")
    apply_recipe(con, "retail", Recipe("dedupe", (Step("drop_duplicates", keys),)), "once")
    replay_recipe(con, "dedupe", "retail", "again")
    once = con.execute("SELECT * FROM once").fetchall()
    assert len(once) == 48987
    assert con.execute("SELECT * FROM again").fetchall() == once  # same rows, same order
    raw = pd.read_parquet(RETAIL).drop_duplicates(["Quantity", "Customer ID"], keep="first")
    got = con.execute("SELECT Invoice, StockCode, Quantity, Price FROM once").df()
    expected = raw[["Invoice", "StockCode", "Quantity", "Price"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)


def test_log1p_refuses_negatives_at_fit_and_clips_them_on_replay_with_a_note(con):
    con.execute("CREATE TABLE fit AS SELECT * FROM (VALUES (0.0), (9.0), (NULL)) v(x)")
    apply_recipe(con, "fit", Recipe("logx", (Step("log", ("x",)),)), "fit_log")
    assert con.execute("SELECT x FROM fit_log").fetchall() == [(0.0,), (math.log(10.0),), (None,)]
    con.execute("CREATE TABLE later AS SELECT * FROM (VALUES (-0.5), (-4.0), (3.0)) v(x)")
    r = replay_recipe(con, "logx", "later", "later_log")
    assert con.execute("SELECT x FROM later_log").fetchall() == [(0.0,), (0.0,), (math.log(4.0),)]
    assert r.notes == ["Step 1 (log log1p: x): 2 value(s) of 'x' were below 0 (min -4), outside "
                       "the values >= 0 the recipe was fitted on; they were set to 0 before "
                       "ln(1 + x), so they read 0"]
    with pytest.raises(SchemaError, match=r"x has 2 value\(s\) below 0 \(min -4\)"):
        apply_recipe(con, "later", Recipe("again", (Step("log", ("x",)),)), "nope")
    r = preview_recipe(con, "later", Recipe("s", (Step("log", ("x",), "signed"),)))
    assert r.preview["x"].tolist() == pytest.approx([-math.log(1.5), -math.log(5.0),
                                                     math.log(4.0)])
    assert r.notes == []


def test_date_parts_report_values_that_cannot_be_read(con):
    con.execute("CREATE TABLE d AS SELECT * FROM (VALUES ('25/12/2023'), ('2024-01-15'), "
                "('13/25/2024'), ('soon'), (NULL), ('1/2/24')) v(d)")
    r = preview_recipe(con, "d", Recipe("dp", (Step("date_parts", ("d",), "day_first"),)))
    assert r.preview[["d_year", "d_month", "d_day"]].astype("Int64").values.tolist() == [
        [2023, 12, 25], [2024, 1, 15], [pd.NA] * 3, [pd.NA] * 3, [pd.NA] * 3, [2024, 2, 1]]
    assert r.step_notes == [["2 of 5 value(s) of 'd' could not be read as day-first dates, so "
                             "their date parts are empty (e.g. '13/25/2024', 'soon'); "
                             "month-first would read 2"]]
    with pytest.raises(SchemaError, match=r"choose day-first or month-first .*'d': day-first "
                                          r"reads 3 of 5 values, month-first 2 \(1 are ISO"):
        preview_recipe(con, "d", Recipe("dp", (Step("date_parts", ("d",)),)))
    # the formats that read values here are stored (then the ISO ones): a replay reads the same
    apply_recipe(con, "d", Recipe("dp", (Step("date_parts", ("d",), "day_first"),)), "d_ready")
    con.execute("CREATE TABLE d2 AS SELECT * FROM (VALUES ('2024-03-01 10:00:00'), "
                "('01.02.2024'), ('31/12/99')) v(d)")
    r = replay_recipe(con, "dp", "d2", "d2_ready")
    assert con.execute("SELECT d_year, d_month, d_day FROM d2_ready").fetchall() == [
        (2024, 3, 1), (None, None, None), (1999, 12, 31)]
    assert r.step_notes == [["1 of 3 value(s) of 'd' could not be read as day-first dates, so "
                             "their date parts are empty (e.g. '01.02.2024'); month-first "
                             "would read 2"]]
    con.execute("CREATE TABLE junk AS SELECT 'n/a' AS d")
    with pytest.raises(SchemaError, match="No value of 'd' reads as a month-first date"):
        preview_recipe(con, "junk", Recipe("dp", (Step("date_parts", ("d",), "month_first"),)))


def test_rename_cleans_refuses_clashes_replays_and_shows_the_new_name(con, tmp_path):
    path = tmp_path / "plans.csv"
    path.write_text("Customer ID,Monthly Charges ($),plan\nA1,10.5,basic\nA2,20,pro\n")
    ingest_file(con, path, IngestOptions(table="plans"))
    assert original_names(con, "plans")["Monthly_Charges"] == "Monthly Charges ($)"
    recipe = Recipe("names", (Step("rename", ("Monthly_Charges",), value="monthly fee"),
                              Step("scale", ("monthly_fee",), "minmax")))
    r = apply_recipe(con, "plans", recipe, "plans_ready")
    assert r.columns == ["Customer_ID", "monthly_fee", "plan"]
    assert r.preview["monthly_fee"].tolist() == [0.0, 1.0]
    assert r.notes == ["Step 1 (rename: Monthly_Charges → monthly fee): the new name "
                       "'monthly fee' was cleaned to 'monthly_fee'"]
    shown = original_names(con, "plans_ready")
    assert shown == {"Customer_ID": "Customer ID", "monthly_fee": "monthly_fee", "plan": "plan"}
    con.execute("CREATE TABLE plans_june AS SELECT * FROM plans")
    replay_recipe(con, "names", "plans_june", "june_ready")
    assert [c for c, _ in table_columns(con, "june_ready")] == r.columns
    with pytest.raises(SchemaError, match="Cannot rename 'plan' to 'customer_id': the data "
                                          "already has a column 'Customer_ID'"):
        preview_recipe(con, "plans", Recipe("x", (Step("rename", ("plan",), value="customer_id"),)))
    con.execute("CREATE TABLE clash AS SELECT *, 1 AS monthly_fee FROM plans")
    with pytest.raises(SchemaError, match="already has a column 'monthly_fee'"):
        replay_recipe(con, "names", "clash", "clash_ready")
    with pytest.raises(SchemaError, match="needs a new name with letters or digits"):
        Step("rename", ("plan",), value=" ?! ")


def test_clip_keeps_missing_values_and_says_what_it_changed(con):
    con.execute("CREATE TABLE c AS SELECT * FROM (VALUES (1.0), (2.0), (NULL), (3.0), (100.0)) "
                "v(x)")
    r = preview_recipe(con, "c", Recipe("c", (Step("clip", ("x",), "quantile", 0.25),)))
    # quantile_cont over 1, 2, 3, 100: q25 = 1.75, q75 = 27.25 (numpy's linear method)
    assert r.preview["x"].tolist()[:2] == [1.75, 2.0] and pd.isna(r.preview["x"][2])
    assert r.preview["x"][4] == pytest.approx(27.25)
    assert r.step_notes == [["clipped 2 value(s) of 'x' to [1.75, 27.25] (1 below, 1 above)"]]
    r = preview_recipe(con, "c", Recipe("i", (Step("impute", ("x",), "median"),)))
    assert r.step_notes == [["filled 1 missing value(s) of 'x' with median 2.5"]]


def test_unseen_categories_are_counted_on_replay(con):
    con.execute("CREATE TABLE g AS SELECT * FROM (VALUES ('a'), ('b'), ('a')) v(grp)")
    apply_recipe(con, "g", Recipe("enc", (Step("encode", ("grp",), "onehot"),)), "g_ready")
    con.execute("CREATE TABLE g2 AS SELECT * FROM (VALUES ('a'), ('z'), ('y'), ('z')) v(grp)")
    r = replay_recipe(con, "enc", "g2", "g2_ready")
    assert r.notes == ["Step 1 (encode onehot: grp): 3 row(s) of 'grp' have a category "
                       "outside the 2 kept (e.g. 'y', 'z'); they read 0 in every one-hot column"]


def test_sql_shaped_names_and_values_stay_data(con):
    evil = 'x"); DROP TABLE t; --'
    con.execute(f'CREATE TABLE t AS SELECT 1 AS "{evil.replace(chr(34), chr(34) * 2)}", '
                "'a' AS s")
    r = preview_recipe(con, "t", Recipe("r", (
        Step("filter", ("s",), "==", "a' OR '1'='1"),)))
    assert r.rows == 0
    r = preview_recipe(con, "t", Recipe("r", (Step("rename", (evil,), value="safe"),
                                             Step("impute", ("s",), "constant", "'); --"))))
    assert r.columns == ["safe", "s"]
    r = preview_recipe(con, "t", Recipe("r", (Step("encode", ("s",), "onehot"),
                                             Step("drop_duplicates", (evil,)))))
    assert r.rows == 1 and con.execute("SELECT count(*) FROM t").fetchone() == (1,)
    with pytest.raises(SchemaError, match="needs a whole number as its value; got '3; DROP"):
        Step("bin", ("x",), "width", "3; DROP TABLE t")
    con.execute("CREATE TABLE nested AS SELECT [1, 2] AS l")
    with pytest.raises(SchemaError, match="has type INTEGER\\[\\], which this step cannot"):
        preview_recipe(con, "nested", Recipe("r", (Step("filter", ("l",), "==", "[1]"),)))


@pytest.mark.parametrize("data, message", [
    ([], "A recipe is a JSON object"),
    ({"name": "r"}, "A recipe is a JSON object"),
    ({"name": "r", "steps": []}, "must be a non-empty list"),
    ({"name": "r", "steps": [{"columns": ["a"]}]}, "Step 1 of the recipe must be an object"),
    ({"name": "r", "steps": [{"kind": "impute", "columns": "age"}]}, '"columns" must be a list'),
    ({"name": "r", "steps": [{"kind": "log", "columns": ["a"], "sql": "1"}]}, "unknown key"),
    ({"name": "r", "steps": [{"kind": "clip", "columns": ["a"], "value": [1]}]},
     '"value" must be text or a number'),
    ({"name": "", "steps": [{"kind": "log", "columns": ["a"]}]}, "Give the recipe a name"),
    ({"name": "r", "steps": [{"kind": "explode", "columns": ["a"]}]}, "Unknown step 'explode'"),
])
def test_recipe_from_dict_says_what_is_malformed(data, message):
    with pytest.raises(SchemaError, match=message):
        Recipe.from_dict(data)


def test_recipe_from_dict_builds_steps():
    r = Recipe.from_dict({"name": "r", "steps": [
        {"kind": "bin", "columns": ["age"], "method": "quantile", "value": 4},
        {"kind": "drop_duplicates"}]})
    assert r.steps == (Step("bin", ("age",), "quantile", 4.0), Step("drop_duplicates"))
