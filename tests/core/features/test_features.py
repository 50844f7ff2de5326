"""Target handling, positive class, split and preprocessing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import SchemaError
from core.features import TabularPreprocessor, load_xy, split_indices, summarize_target
from core.features._target import check_binary_target, suggest_positive_class
from core.ingest import ingest_file
from core.specs import DatasetSpec
from tests.conftest import CASES


def _table(con, name, frame):
    con.register("frame_view", frame)
    con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM frame_view')
    con.unregister("frame_view")


def test_yes_like_positive_is_never_alphabetical():
    assert suggest_positive_class(["no", "yes"], [90, 10])[0] == "yes"
    assert suggest_positive_class(["Yes", "No"], [10, 90])[0] == "Yes"
    assert suggest_positive_class(["0", "1"], [10, 90])[0] == "1"
    label, reason = suggest_positive_class(["stay", "leave"], [800, 200])
    assert label == "leave" and "rarer" in reason


def test_telco_target_yes_no(con):
    r = ingest_file(con, CASES / "telco_totalcharges_blank.csv")
    s = summarize_target(con, r.table, "Churn")
    assert sorted(s.classes) == ["No", "Yes"] and s.suggested_positive == "Yes"
    assert sum(s.counts) == 24


def test_single_class_and_multiclass_refused(con):
    _table(con, "t", pd.DataFrame({"x": [1, 2, 3, 4], "one": ["a"] * 4, "three": list("abca")}))
    with pytest.raises(SchemaError, match="single class"):
        check_binary_target(summarize_target(con, "t", "one"), "one", None)
    with pytest.raises(SchemaError, match="3 classes"):
        check_binary_target(summarize_target(con, "t", "three"), "three", None)
    with pytest.raises(SchemaError, match="no column 'nope'"):
        summarize_target(con, "t", "nope")


def test_wrong_positive_label_refused(con):
    _table(con, "t", pd.DataFrame({"y": ["yes", "no", "no"]}))
    with pytest.raises(SchemaError, match="not a value"):
        check_binary_target(summarize_target(con, "t", "y"), "y", "maybe")


def test_load_xy_encodes_positive_and_drops_missing_target(con):
    _table(con, "t", pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": ["x", "y", "x", "y"],
                                   "y": ["yes", "no", None, "yes"]}))
    x, y, classes, feats = load_xy(con, DatasetSpec("t", "y", exclude=("b",)))
    assert feats == ["a"] and classes == ("no", "yes")
    assert y.tolist() == [1, 0, 1] and len(x) == 3


def test_split_is_stratified_disjoint_and_seeded():
    y = np.array([1] * 100 + [0] * 900)
    s = split_indices(y, 0.2, 0.1, 7)
    assert len(s.train) + len(s.valid) + len(s.test) == 1000
    assert len(set(s.train) | set(s.valid) | set(s.test)) == 1000
    assert y[s.test].sum() == 20 and len(s.test) == 200
    assert np.array_equal(s.test, split_indices(y, 0.2, 0.1, 7).test)


def test_split_refuses_tiny_class():
    with pytest.raises(SchemaError, match="only 2 rows"):
        split_indices(np.array([1, 1] + [0] * 50), 0.2, 0.1, 0)


def test_preprocessor_fit_on_train_only_and_json_roundtrip():
    train = pd.DataFrame({"n": [1.0, 2.0, 3.0, np.nan], "c": ["a", "b", "a", None]})
    pre = TabularPreprocessor().fit(train)
    assert pre.numeric_["n"][0] == 2.0  # median of train
    assert pre.feature_names_out_ == ["n", "c=a", "c=(missing)", "c=b", "c=(other)"] or \
        pre.feature_names_out_[0] == "n"
    assert pre.source_columns_.count("c") == 4
    new = pd.DataFrame({"n": [np.nan, np.inf], "c": ["zzz", "a"]})
    x = pre.transform(new)
    assert x.dtype == np.float32 and np.isfinite(x).all()
    assert x[0, 0] == pytest.approx((2.0 - 2.0) / pre.numeric_["n"][2])
    other = pre.feature_names_out_.index("c=(other)")
    assert x[0, other] == 1.0
    again = TabularPreprocessor.from_json(pre.to_json())
    assert np.array_equal(again.transform(new), x)


def test_preprocessor_missing_column_refused():
    pre = TabularPreprocessor().fit(pd.DataFrame({"a": [1.0, 2.0]}))
    with pytest.raises(SchemaError, match="lacks column"):
        pre.transform(pd.DataFrame({"b": [1.0]}))


def test_piecewise_linear_encoding_hand_computed():
    from core.features._tabular import piecewise_linear

    out = piecewise_linear(np.array([0.0, 1.5, 3.0, 10.0]), np.array([1.0, 2.0, 4.0]))
    assert out.tolist() == [[0.0, 0.0], [0.5, 0.0], [1.0, 0.5], [1.0, 1.0]]


def test_preprocessor_with_bins_groups_to_source_columns():
    train = pd.DataFrame({"n": np.arange(100.0), "c": ["a", "b"] * 50})
    pre = TabularPreprocessor(numeric_bins=4).fit(train)
    assert pre.feature_names_out_[:5] == ["n", "n~bin1", "n~bin2", "n~bin3", "n~bin4"]
    assert pre.source_columns_.count("n") == 5
    assert pre.blocks_[0] == (0, 5, True) and pre.numeric_indices_ == [0]
    x = pre.transform(pd.DataFrame({"n": [49.5], "c": ["a"]}))
    assert x[0, 1:5].tolist() == pytest.approx([1.0, 1.0, 0.0, 0.0], abs=0.02)
    again = TabularPreprocessor.from_json(pre.to_json())
    assert np.array_equal(again.transform(train), pre.transform(train))
