"""Profile: statistics in DuckDB, target balance, single-column AUC, warnings and figures."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from core.errors import SchemaError
from core.ingest import IngestOptions, ingest_file
from core.tables import association_figure, balance_figure, column_figure, profile_table
from core.tables._profile import ColumnProfile, leakage_warnings, single_column_auc
from tests.conftest import BANK, CASES


@pytest.fixture(scope="module")
def bank_profile(tmp_path_factory):
    from core.config import load_settings
    from core.warehouse import connect

    s = load_settings(tmp_path_factory.mktemp("prof") / "ws")
    with connect(s) as con:
        ingest_file(con, BANK, IngestOptions(table="bank"))
        return profile_table(con, "bank", "y")


def _col(p, name):
    return next(c for c in p.columns if c.name == name)


def test_bank_balance_and_duration_leakage(bank_profile):
    p = bank_profile
    assert (p.rows, p.positive) == (41188, "yes")
    assert [(label, n) for label, n, _ in p.balance] == [("no", 36548), ("yes", 4640)]
    leaks = [w for w in p.warnings if w.startswith("Possible leakage")]
    assert leaks == ["Possible leakage: 'duration' predicts the target on its own with AUC "
                     "0.82, far better than any other column (the next best reaches AUC 0.75); "
                     "if it is recorded after the outcome (like a call's duration), exclude it."]
    assert _col(p, "duration").target_auc == pytest.approx(0.818, abs=0.002)
    assert _col(p, "nr_employed").target_auc < 0.8


def test_bank_numeric_statistics(bank_profile):
    age = _col(bank_profile, "age")
    assert (age.kind, age.missing, age.distinct) == ("numeric", 0, 78)
    assert (age.stats["min"], age.stats["max"], age.stats["p50"]) == (17.0, 98.0, 38.0)
    assert age.stats["mean"] == pytest.approx(40.02406, abs=1e-4)
    assert sum(b[2] for b in age.histogram) == 41188 and len(age.histogram) == 20
    job = _col(bank_profile, "job")
    assert job.top[:2] == [("admin.", 10422), ("blue-collar", 9254)]
    assert _col(bank_profile, "emp_var_rate").original_name == "emp.var.rate"


def test_auc_matches_scikit_learn(con):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 20, 500)  # ties on purpose
    y = (rng.random(500) < 0.2 + 0.03 * x).astype(int)
    con.execute("CREATE TABLE s AS SELECT * FROM (SELECT unnest(?) AS x, unnest(?) AS y)",
                [x.tolist(), y.tolist()])
    auc = single_column_auc(con, '"s"', "x", "y", by_rate=False)
    expected = roc_auc_score(y, x)
    assert auc == pytest.approx(max(expected, 1 - expected), abs=1e-4)


def test_id_constant_missing_warnings_and_hidden_columns(con):
    con.execute("CREATE TABLE c AS SELECT range AS id, 'same' AS k, "
                "CASE WHEN range < 70 THEN NULL ELSE range END AS sparse, "
                "'user' || range || '@x.com' AS email, range % 2 AS y FROM range(100)")
    p = profile_table(con, "c", "y", hidden=("email",))
    assert "'id' looks like an ID (100 distinct values in 100 rows); leave it out of the " \
           "features." in p.warnings
    assert "'k' is constant (1 distinct value); it cannot help a model." in p.warnings
    assert "'sparse' is 70% missing." in p.warnings
    email = _col(p, "email")
    assert email.hidden and email.top == [] and email.stats == {} and email.target_auc is None
    assert column_figure(email) is None


def test_telco_blank_numbers_and_figures(con):
    ingest_file(con, CASES / "telco_totalcharges_blank.csv", IngestOptions(table="telco"))
    p = profile_table(con, "telco", "Churn")
    total = _col(p, "TotalCharges")
    assert (total.missing, round(total.missing_pct, 2)) == (3, 12.5)
    assert p.positive == "Yes" and [b[0] for b in p.balance] == ["No", "Yes"]
    assert _col(p, "Contract").top == [("Month-to-month", 12), ("One year", 7), ("Two year", 5)]
    assert balance_figure(p).data[0].x == ("No", "Yes")
    assert len(association_figure(p).data[0].y) == sum(c.target_auc is not None
                                                       for c in p.columns)
    assert column_figure(_col(p, "MonthlyCharges")).layout.title.text == \
        "Distribution of MonthlyCharges"
    summary = p.summary()
    assert list(summary.columns)[:4] == ["column", "header in file", "type", "missing %"]


def test_dates_and_bad_inputs(con, tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("d,y\n2024-01-01,a\n2024-03-01,b\n2024-02-01,a\n")
    ingest_file(con, path, IngestOptions(table="d"))
    p = profile_table(con, "d")
    d = _col(p, "d")
    assert (d.kind, d.stats["min"], d.stats["max"]) == ("date", "2024-01-01", "2024-03-01")
    with pytest.raises(SchemaError, match="no column 'nope'"):
        profile_table(con, "d", "nope")
    with pytest.raises(SchemaError, match="'c' is not a value of 'y'"):
        profile_table(con, "d", "y", positive="c")


def _scored(name: str, auc: float) -> ColumnProfile:
    return ColumnProfile(name, name, "DOUBLE", "numeric", 0, 0.0, 10, target_auc=auc)


@pytest.mark.parametrize("cols, expected", [
    ([_scored("x", 0.97), _scored("y", 0.6)],
     "Possible leakage: 'x' predicts the target almost perfectly on its own (AUC 0.97); if it "
     "is recorded after the outcome (like a call's duration), exclude it."),
    ([_scored("call_length", 0.72), _scored("z", 0.70)],
     "Possible leakage: 'call_length' predicts the target on its own with AUC 0.72, and its name "
     "suggests it is only known after the outcome; if it is recorded after the outcome (like a "
     "call's duration), exclude it."),
])
def test_leakage_warning_is_one_sentence(cols, expected):
    assert leakage_warnings(cols) == [expected]
    assert ") (" not in expected  # no stacked brackets
