"""Which columns every training path leaves out, and why: leakage, identifiers (numeric ones
too), personal data, post-treatment columns of an experiment, the analyst's own choice."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2_contingency, ttest_ind

from core.errors import SchemaError
from core.specs import DatasetSpec
from core.tables import (
    PersonalMark,
    balance_tests,
    choose_features,
    identifier_reason,
    profile_table,
    save_marks,
    treatment_flags,
)


def _table(con, name: str, frame: pd.DataFrame) -> None:
    con.register("f", frame)
    con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM f')
    con.unregister("f")


def email_experiment(n: int = 8000, seed: int = 0) -> pd.DataFrame:
    """An e-mail experiment in the shape of MineThatData's: pre-treatment columns, a random
    e-mail flag, then ``visit`` (the e-mail doubles visits) and ``spend`` (only buyers spend),
    both observed after the e-mail; buying needs a visit."""
    rng = np.random.default_rng(seed)
    f = pd.DataFrame({"recency": rng.integers(1, 13, n), "history": rng.gamma(2.0, 200.0, n),
                      "channel": rng.choice(["web", "phone", "multichannel"], n),
                      "newbie": rng.integers(0, 2, n)})
    t = rng.integers(0, 2, n)
    visit = rng.random(n) < 0.10 + 0.08 * t + 0.05 * (f["recency"] < 4)
    buy = visit & (rng.random(n) < 0.10 + 0.05 * (f["history"] > 500))
    return f.assign(emailed=np.where(t == 1, "yes", "no"), visit=visit.astype(int),
                    spend=np.where(buy, rng.lognormal(4.0, 0.5, n), 0.0),
                    conversion=np.where(buy, "yes", "no"))


def test_balance_tests_equal_scipy_on_raw_arrays(con):
    frame = email_experiment(3000, seed=1)
    _table(con, "mail", frame)
    got = balance_tests(con, "mail", "emailed", "yes", ["history", "channel", "visit"])
    treated = frame["emailed"] == "yes"
    want = ttest_ind(frame.loc[treated, "history"], frame.loc[~treated, "history"],
                     equal_var=False).pvalue
    assert got["history"][0] == pytest.approx(want, rel=1e-9)
    table = pd.crosstab(frame["emailed"], frame["channel"]).to_numpy()
    assert got["channel"][0] == pytest.approx(chi2_contingency(table, correction=False).pvalue,
                                              rel=1e-9)
    want = ttest_ind(frame.loc[treated, "visit"], frame.loc[~treated, "visit"],
                     equal_var=False).pvalue
    assert got["visit"][0] == pytest.approx(want, rel=1e-9)


def test_post_treatment_flagged_and_random_columns_never(con):
    frame = email_experiment()
    rng = np.random.default_rng(5)
    noise = {f"n{i}": rng.normal(size=len(frame)) for i in range(20)}
    noise |= {f"c{i}": rng.choice(list("abcd"), len(frame)) for i in range(10)}
    _table(con, "mail", frame.assign(**noise))
    cols = ["recency", "history", "channel", "newbie", "visit", *noise]
    flags = treatment_flags(con, "mail", "emailed", "yes", cols)
    assert list(flags) == ["visit"]
    assert "more than random assignment allows" in flags["visit"]


def test_uplift_choice_leaves_out_leaking_and_post_treatment_columns(con):
    _table(con, "mail", email_experiment())
    choice = choose_features(con, DatasetSpec("mail", "conversion", "yes"), "emailed", "yes")
    assert choice.features == ("recency", "history", "channel", "newbie")
    reasons = {e.column: e.reason for e in choice.excluded}
    assert reasons == {"visit": "post-treatment", "spend": "leakage"}
    assert choice.summary() == ("Left out of the features: 'visit' (post-treatment); 'spend' "
                                "(leakage).")
    kept = choose_features(con, DatasetSpec("mail", "conversion", "yes",
                                            features=("recency", "visit")), "emailed", "yes")
    assert kept.features == ("recency", "visit")
    assert kept.notes and "'visit' was kept because it was chosen" in kept.notes[0]
    assert {e.column: e.reason for e in kept.excluded}["spend"] == "leakage"


def retail(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    """Invoice lines: ``CustomerID`` repeats (300 customers), ``InvoiceNo`` too (1,000
    invoices); neither is near-unique, both are identifiers."""
    rng = np.random.default_rng(seed)
    customer = rng.integers(12000, 12300, n)
    quantity = rng.integers(1, 20, n)
    price = rng.gamma(2.0, 2.0, n).round(2)
    return pd.DataFrame({"InvoiceNo": rng.integers(536000, 537000, n), "CustomerID": customer,
                         "Quantity": quantity, "UnitPrice": price,
                         "Country": rng.choice(["UK", "France", "Germany"], n),
                         "returned": np.where(rng.random(n) < 0.2, "yes", "no")})


def test_numeric_identifiers_flagged_as_features_and_refused_as_targets(con):
    _table(con, "lines", retail())
    choice = choose_features(con, DatasetSpec("lines", "returned", "yes"))
    assert {e.column: e.reason for e in choice.excluded} == {"InvoiceNo": "identifier",
                                                             "CustomerID": "identifier"}
    assert choice.features == ("Quantity", "UnitPrice", "Country")
    p = profile_table(con, "lines")
    assert any("'CustomerID' looks like an ID (300 distinct values" in w for w in p.warnings)
    with pytest.raises(SchemaError, match="'CustomerID' looks like an identifier"):
        choose_features(con, DatasetSpec("lines", "CustomerID", task="regression"))
    choose_features(con, DatasetSpec("lines", "Quantity", task="regression"))  # a quantity


@pytest.mark.parametrize(("name", "typ", "present", "distinct", "flagged"), [
    ("CustomerID", "BIGINT", 9000, 4372, True),
    ("InvoiceNo", "VARCHAR", 9000, 2000, True),
    ("account_number", "INTEGER", 500, 450, True),
    ("region_id", "INTEGER", 9000, 12, False),       # few values: a category
    ("num_children", "INTEGER", 9000, 300, False),   # "num" first: a count
    ("UnitPrice", "DOUBLE", 9000, 8999, False),      # continuous, not an identifier
    ("row", "BIGINT", 100, 100, True),               # near-unique whatever its name
])
def test_identifier_rules(name, typ, present, distinct, flagged):
    assert (identifier_reason(name, typ, present, distinct) is not None) is flagged


def test_personal_and_user_exclusions_and_bad_input(con):
    _table(con, "lines", retail().assign(email=lambda f: "c" + f["CustomerID"].astype(str)
                                         + "@x.com"))
    save_marks(con, "lines", [PersonalMark("email", "drop")])
    choice = choose_features(con, DatasetSpec("lines", "returned", "yes",
                                              exclude=("Country",)))
    reasons = {e.column: e.reason for e in choice.excluded}
    assert reasons["email"] == "personal" and reasons["Country"] == "user"
    assert choice.excluded_dicts()[0].keys() == {"column", "reason", "detail", "table_column"}
    with pytest.raises(SchemaError, match="no column"):
        choose_features(con, DatasetSpec("lines", "returned", features=("nope",)))
    with pytest.raises(SchemaError, match="No feature columns are left"):
        choose_features(con, DatasetSpec("lines", "returned", "yes",
                                         exclude=("Quantity", "UnitPrice", "Country")))
