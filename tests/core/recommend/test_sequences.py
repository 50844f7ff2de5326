"""Sequences from event tables: time order and row-order ties, merging, filters, split, windows."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from core.app import ensure_sample
from core.config import Settings
from core.errors import SchemaError
from core.recommend import (
    EventColumns,
    SequenceOptions,
    build_sequences,
    distinct_values,
    leave_last_out,
    suggest_columns,
    suggest_excluded_items,
)
from core.recommend._sequences import pad_left, training_windows
from core.warehouse import connect, quote_ident

TABLE = "shop events"
# (customer id, product, when, event type, qty, unit price, invoice, name), in this row order
ROWS = [
    ("u1", "A", 1, "view", 1, 2.0, "100", "apple"),
    ("u1", "C", 2, "buy", 1, 3.0, "101", "cherry"),
    ("u1", "B", 2, "buy", 2, 1.0, "101", "banana"),  # same time as C, later row: after C
    ("u1", "D", 3, "buy", 1, 5.0, "102", "date"),
    ("u1", "D", 3, "buy", 1, 5.0, "102", "date"),  # the same purchase listed twice: one event
    ("u1", "A", 4, "buy", -1, 2.0, "C103", "apple"),  # cancellation
    ("u2", "B", 5, "buy", 1, 1.0, "201", "banana"),
    ("u2", "A", 1, "buy", 1, 2.0, "200", "apple"),  # earlier time, later row: time wins
    ("u2", "C", 3, "buy", 1, 3.0, "202", "cherry"),
    ("u2", "E", 3, "view", 1, None, "202", None),
    ("u3", "A", 1, "buy", 1, 2.0, "300", "apple"),
    ("u3", "B", 2, "buy", 1, 1.0, "301", "banana"),
    (None, "A", 1, "buy", 1, 2.0, "400", "apple"),  # no customer: dropped
]
COLS = EventColumns(TABLE, "customer id", "product", "when", event="event type", quantity="qty",
                    price="unit price", order="invoice", name="name")
BASE = SequenceOptions(min_item=1, min_user=3)


@pytest.fixture
def events(con):
    con.execute(f"CREATE TABLE {quote_ident(TABLE)} (\"customer id\" VARCHAR, product VARCHAR, "
                f"\"when\" BIGINT, \"event type\" VARCHAR, qty BIGINT, \"unit price\" DOUBLE, "
                f"invoice VARCHAR, name VARCHAR)")
    con.executemany(f"INSERT INTO {quote_ident(TABLE)} VALUES (?, ?, ?, ?, ?, ?, ?, ?)", ROWS)
    return con


def _labels(seqs) -> dict[str, list[str]]:
    return {str(u): [seqs.item_labels[i - 1] for i in seqs.sequence(k)]
            for k, u in enumerate(seqs.users)}


def test_time_order_row_order_ties_merged_repeats(events):
    seqs = build_sequences(events, COLS, BASE)
    assert _labels(seqs) == {"u1": ["A", "C", "B", "D"], "u2": ["A", "C", "E", "B"]}
    assert seqs.item_labels == ["A", "B", "C", "D", "E"]
    assert seqs.items.dtype == np.int32 and seqs.offsets.tolist() == [0, 4, 8]
    assert seqs.item_names == ["apple", "banana", "cherry", "date", None]
    # D: the two identical lines are one purchase worth 2 × 5.0; E has no price
    assert seqs.item_values[4] == pytest.approx(10.0) and np.isnan(seqs.item_values[5])
    assert seqs.item_values[2] == pytest.approx((2 * 1.0 + 1.0) / 2)  # B: qty 2 and qty 1
    st = seqs.stats
    assert (st.rows, st.rows_kept, st.events, st.users, st.items) == (13, 11, 8, 2, 5)
    assert st.median_length == 4.0 and st.repeat_share == 0.0


def test_same_table_same_sequences(events):
    first = build_sequences(events, COLS, BASE)
    again = build_sequences(events, COLS, BASE)
    assert first.items.tolist() == again.items.tolist()


@pytest.mark.parametrize("change,expected", [
    ({"event_types": ("buy",)}, {"u1": ["C", "B", "D"], "u2": ["A", "C", "B"]}),
    ({"drop_cancellations": False}, {"u1": ["A", "C", "B", "D", "A"], "u2": ["A", "C", "E", "B"]}),
    ({"exclude_items": ("C",)}, {"u1": ["A", "B", "D"], "u2": ["A", "E", "B"]}),
    ({"min_item": 2}, {"u1": ["A", "C", "B"], "u2": ["A", "C", "B"]}),
    ({"max_len": 3}, {"u1": ["C", "B", "D"], "u2": ["C", "E", "B"]}),
    ({"min_user": 5, "drop_cancellations": False}, {"u1": ["A", "C", "B", "D", "A"]}),
])
def test_filters(events, change, expected):
    seqs = build_sequences(events, COLS, dataclasses.replace(BASE, **change))
    assert _labels(seqs) == expected


def test_cancellations_by_order_id_alone(events):
    cols = dataclasses.replace(COLS, quantity=None)
    assert _labels(build_sequences(events, cols, BASE))["u1"] == ["A", "C", "B", "D"]
    both_off = dataclasses.replace(cols, order=None)
    assert _labels(build_sequences(events, both_off, BASE))["u1"][-1] == "A"


def test_repeat_share_counts_items_seen_before(events):
    seqs = build_sequences(events, COLS, dataclasses.replace(BASE, drop_cancellations=False))
    assert seqs.stats.repeat_share == pytest.approx(1 / 9)  # u1 takes A again


def test_leave_last_out_split_sizes_and_values(events):
    seqs = build_sequences(events, COLS, BASE)
    split = leave_last_out(seqs)
    a, b, c, d, e = range(1, 6)
    assert [s.tolist() for s in split.train] == [[a, c], [a, c]]
    assert split.valid_targets.tolist() == [b, e]
    assert [h.tolist() for h in split.test_histories] == [[a, c, b], [a, c, e]]
    assert split.test_targets.tolist() == [d, b]
    n_events = int(seqs.offsets[-1])
    assert sum(len(s) for s in split.train) + len(split.valid_targets) + len(
        split.test_targets) == n_events


def test_windows_and_padding():
    assert pad_left([np.array([4, 5, 6]), np.array([], dtype=np.int32)], 5).tolist() == [
        [0, 0, 4, 5, 6], [0, 0, 0, 0, 0]]
    assert pad_left([np.arange(1, 9)], 3).tolist() == [[6, 7, 8]]
    x, y = training_windows([np.arange(1, 8), np.array([9, 10])], 3)
    assert x.tolist() == [[4, 5, 6], [1, 2, 3], [0, 0, 9]]
    assert y.tolist() == [[5, 6, 7], [2, 3, 4], [0, 0, 10]]
    with pytest.raises(SchemaError, match="two training events"):
        training_windows([np.array([1])], 3)


def test_errors_name_the_fix(events):
    with pytest.raises(SchemaError, match="no column for item 'sku'.*Its columns are"):
        build_sequences(events, dataclasses.replace(COLS, item="sku"))
    with pytest.raises(SchemaError, match="three different columns"):
        build_sequences(events, dataclasses.replace(COLS, item="customer id"))
    with pytest.raises(SchemaError, match="Lower the minimum interactions"):
        build_sequences(events, COLS, dataclasses.replace(BASE, min_user=50, max_len=50))
    with pytest.raises(SchemaError, match="no table named 'nope'"):
        build_sequences(events, dataclasses.replace(COLS, table="nope"))
    with pytest.raises(SchemaError, match="min_user must be an integer >= 3"):
        SequenceOptions(min_user=2)
    with pytest.raises(SchemaError, match="max_len must be an integer >= min_user"):
        SequenceOptions(min_user=5, max_len=4)


def test_suggestions(events):
    guess = suggest_columns([("InvoiceNo", "VARCHAR"), ("StockCode", "VARCHAR"),
                             ("Description", "VARCHAR"), ("Quantity", "BIGINT"),
                             ("InvoiceDate", "TIMESTAMP"), ("UnitPrice", "DOUBLE"),
                             ("CustomerID", "BIGINT"), ("Country", "VARCHAR")])
    assert guess == {"user": "CustomerID", "item": "StockCode", "time": "InvoiceDate",
                     "event": None, "quantity": "Quantity", "price": "UnitPrice",
                     "order": "InvoiceNo", "name": "Description"}
    assert suggest_columns([("uid", "BIGINT"), ("movie_id", "BIGINT"), ("stamp", "DATE")])[
        "time"] == "stamp"
    assert suggest_excluded_items(events, TABLE, "product") == []  # letters are products here
    events.execute("CREATE TABLE codes AS SELECT * FROM (VALUES ('85123A'), ('22720'), "
                   "('22722'), ('POST'), ('D'), ('M'), ('21212')) t(StockCode)")
    assert suggest_excluded_items(events, "codes", "StockCode") == ["D", "M", "POST"]
    assert distinct_values(events, TABLE, "event type") == ["buy", "view"]


def test_online_retail_sample_loads_once(tmp_path):
    settings = Settings(tmp_path / "ws", load_sample=True)
    assert ensure_sample(settings) == "bank_marketing"
    assert ensure_sample(settings) is None
    with connect(settings) as con:
        n, customers = con.execute(
            "SELECT count(*), count(DISTINCT CustomerID) FROM online_retail").fetchone()
        assert (n, customers) == (541_909, 4_372)
        seqs = build_sequences(con, EventColumns("online_retail", "CustomerID", "StockCode",
                                                 "InvoiceDate", quantity="Quantity",
                                                 order="InvoiceNo"), SequenceOptions())
    assert seqs.stats.users > 4000 and 3000 < seqs.n_items < 3700
