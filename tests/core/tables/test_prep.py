"""Preparation recipes: every step's result, preview vs apply, storage and replay."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from core.errors import SchemaError
from core.ingest import IngestOptions, ingest_file
from core.tables import Recipe, Step, apply_recipe, list_recipes, preview_recipe, replay_recipe
from core.tables._recipe import FittedRecipe, fit_recipe, load_recipe
from core.warehouse import list_tables
from tests.conftest import CASES


@pytest.fixture
def t(con):
    con.execute("""CREATE TABLE t AS SELECT * FROM (VALUES
        (1, 10.0, 'a', DATE '2024-01-15', '03/04/2024'),
        (2, NULL, 'b', DATE '2024-02-29', '25/12/2023'),
        (3, 30.0, 'a', NULL, NULL),
        (4, 1000.0, NULL, DATE '2023-12-31', '01/01/2024'),
        (4, 1000.0, NULL, DATE '2023-12-31', '01/01/2024')
    ) AS v(id, amount, grp, d, d_text)""")
    return "t"


def _rows(result, col):
    return result.preview[col].tolist()


def test_impute_methods(con, t):
    r = preview_recipe(con, t, Recipe("r", (Step("impute", ("amount",), "median"),)))
    assert _rows(r, "amount") == [10.0, 515.0, 30.0, 1000.0, 1000.0]  # median of 10, 30, 1000, 1000
    r = preview_recipe(con, t, Recipe("r", (Step("impute", ("amount",), "mean"),)))
    assert _rows(r, "amount")[1] == pytest.approx(510.0)
    r = preview_recipe(con, t, Recipe("r", (Step("impute", ("grp",), "mode"),)))
    assert _rows(r, "grp") == ["a", "b", "a", "a", "a"]
    r = preview_recipe(con, t, Recipe("r", (Step("impute", ("amount",), "constant", "-1"),)))
    assert _rows(r, "amount")[1] == -1.0


def test_drop_duplicates_filter_and_drop_columns(con, t):
    r = preview_recipe(con, t, Recipe("r", (
        Step("drop_duplicates"), Step("filter", ("amount",), ">=", "30"),
        Step("drop_columns", ("d_text",)))))
    assert r.rows == 2 and r.columns == ["id", "amount", "grp", "d"]
    assert [s[1] for s in r.steps] == [4, 2, 2]
    r = preview_recipe(con, t, Recipe("r", (Step("filter", ("grp",), "==", "x' OR '1'='1"),)))
    assert r.rows == 0  # the value is bound, never spliced into SQL
    r = preview_recipe(con, t, Recipe("r", (Step("filter", ("grp",), "is missing"),)))
    assert r.rows == 2


def test_clip_scale_log_bin(con, t):
    r = preview_recipe(con, t, Recipe("r", (Step("clip", ("amount",), "iqr", 1.5),)))
    # q1 = 25, q3 = 1000 (quantile_cont over 10, 30, 1000, 1000): bounds -1437.5 .. 2462.5
    assert _rows(r, "amount")[3] == 1000.0
    r = preview_recipe(con, t, Recipe("r", (Step("scale", ("id",), "minmax"),)))
    assert _rows(r, "id") == [0.0, 1 / 3, 2 / 3, 1.0, 1.0]
    r = preview_recipe(con, t, Recipe("r", (Step("scale", ("id",), "standard"),)))
    assert sum(_rows(r, "id")) == pytest.approx(0.0, abs=1e-9)
    r = preview_recipe(con, t, Recipe("r", (Step("log", ("amount",)),)))
    assert _rows(r, "amount")[0] == pytest.approx(math.log(11.0))
    r = preview_recipe(con, t, Recipe("r", (Step("bin", ("id",), "width", 3),)))
    assert _rows(r, "id_bin") == ["< 2", "2–3", ">= 3", ">= 3", ">= 3"]


def test_encode_and_date_parts(con, t):
    r = preview_recipe(con, t, Recipe("r", (Step("encode", ("grp",), "onehot"),)))
    assert "grp" not in r.columns and _rows(r, "grp_a") == [1, 0, 1, 0, 0]
    r = preview_recipe(con, t, Recipe("r", (Step("encode", ("grp",), "ordinal"),)))
    assert [None if pd.isna(v) else int(v) for v in _rows(r, "grp")] == [0, 1, 0, None, None]
    r = preview_recipe(con, t, Recipe("r", (Step("date_parts", ("d", "d_text"), "day_first"),)))
    assert r.preview.loc[1, ["d_year", "d_month", "d_day", "d_weekday"]].tolist() == [2024, 2, 29, 4]
    assert r.preview.loc[1, ["d_text_year", "d_text_month", "d_text_day"]].tolist() == [2023, 12, 25]


def test_steps_refuse_clearly(con, t):
    with pytest.raises(SchemaError, match="needs numeric columns; grp is not"):
        fit_recipe(con, t, Recipe("r", (Step("scale", ("grp",)),)))
    con.execute("CREATE TABLE neg AS SELECT -3.0 AS x")
    with pytest.raises(SchemaError, match=r"needs values >= 0; x has 1 value\(s\) below 0 "
                                          r"\(min -3\)\. Use the method 'signed'"):
        fit_recipe(con, "neg", Recipe("r", (Step("log", ("x",)),)))
    with pytest.raises(SchemaError, match="choose day-first or month-first"):
        fit_recipe(con, t, Recipe("r", (Step("date_parts", ("d_text",)),)))
    with pytest.raises(SchemaError, match="uses column\\(s\\) nope"):
        fit_recipe(con, t, Recipe("r", (Step("impute", ("nope",), "mode"),)))
    with pytest.raises(SchemaError, match="Unknown step 'explode'"):
        Step("explode", ("id",))


def test_apply_writes_new_table_stores_recipe_and_keeps_raw(con):
    ingest_file(con, CASES / "telco_totalcharges_blank.csv", IngestOptions(table="telco"))
    raw_before = con.execute("SELECT * FROM telco ORDER BY customerID").fetchall()
    recipe = Recipe("telco_clean", (Step("drop_columns", ("customerID",)),
                                    Step("impute", ("TotalCharges",), "median"),
                                    Step("encode", ("Contract",), "onehot")))
    result = apply_recipe(con, "telco", recipe, "telco_clean")
    assert result.table == "telco_clean" and result.rows == 24
    assert con.execute("SELECT count(*) FROM telco_clean WHERE TotalCharges IS NULL").fetchone()[0] == 0
    assert con.execute("SELECT * FROM telco ORDER BY customerID").fetchall() == raw_before
    assert [r[0] for r in list_recipes(con)] == ["telco_clean"]
    stored = load_recipe(con, "telco_clean")
    assert stored.needs == ("customerID", "TotalCharges", "Contract")
    assert FittedRecipe.from_json(stored.to_json()) == stored
    with pytest.raises(SchemaError, match="is a raw table"):
        apply_recipe(con, "telco_clean", recipe, "telco")


def test_replay_uses_learned_numbers_and_refuses_missing_columns(con):
    ingest_file(con, CASES / "telco_totalcharges_blank.csv", IngestOptions(table="telco"))
    apply_recipe(con, "telco", Recipe("fill", (Step("impute", ("TotalCharges",), "median"),
                                               Step("encode", ("Contract",), "onehot"))), "out")
    median = con.execute("SELECT median(TotalCharges) FROM telco").fetchone()[0]
    con.execute("CREATE TABLE next_month AS SELECT * REPLACE (NULL::DOUBLE AS TotalCharges, "
                "'Two year' AS Contract) FROM telco LIMIT 4")
    r = replay_recipe(con, "fill", "next_month", "next_month_ready")
    assert _rows(r, "TotalCharges") == [median] * 4
    assert _rows(r, "Contract_Two_year") == [1] * 4 and _rows(r, "Contract_One_year") == [0] * 4
    con.execute("CREATE TABLE lacking AS SELECT * EXCLUDE (Contract) FROM telco")
    with pytest.raises(SchemaError) as err:
        replay_recipe(con, "fill", "lacking", "x")
    assert str(err.value).startswith("Recipe 'fill' needs column(s) Contract that table "
                                     "'lacking' does not have.")
    assert "x" not in [t.table for t in list_tables(con)]
    with pytest.raises(SchemaError, match="no recipe named 'nope'. Stored recipes: fill"):
        replay_recipe(con, "nope", "telco", "y")
