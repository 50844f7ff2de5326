"""Shared fixtures: temporary workspaces, the bank file, one small trained run per model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CASES = SHARED / "cases"
BANK_SHARED = SHARED / "data" / "bank_marketing" / "bank-additional-full.csv"
BANK = BANK_SHARED if BANK_SHARED.exists() else ROOT / "data" / "samples" / "bank-additional-full.csv"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["LIFTLAB_LOAD_SAMPLE"] = "0"
os.environ.setdefault("LIFTLAB_ENGINE", "thread")  # Ray jobs: tests/core/app/test_engine.py


@pytest.fixture
def settings(tmp_path):
    """Settings of an empty temporary workspace."""
    from core.config import load_settings

    return load_settings(tmp_path / "ws")


@pytest.fixture
def con(settings):
    """An open connection to the empty temporary workspace."""
    from core.warehouse import connect

    with connect(settings) as c:
        yield c


def _bank_subsample(settings, rows: int, table: str) -> None:
    """Ingest the real bank file, then keep a seeded random subsample as ``table``."""
    from core.ingest import IngestOptions, ingest_file
    from core.warehouse import connect, quote_ident

    with connect(settings) as c:
        ingest_file(c, BANK, IngestOptions(table="bank_full"))
        c.execute(
            f"CREATE TABLE {quote_ident(table)} AS SELECT * FROM bank_full "
            f"USING SAMPLE reservoir({int(rows)} ROWS) REPEATABLE (42)"
        )


@pytest.fixture(scope="session")
def bank_ws(tmp_path_factory):
    """A workspace holding the full bank table and a 6,000-row subsample ``bank``, with one
    small trained run per model family (without ``duration``)."""
    from core.config import load_settings
    from core.specs import DatasetSpec, ModelConfig
    from core.training import train

    s = load_settings(tmp_path_factory.mktemp("bank_ws"))
    _bank_subsample(s, 6000, "bank")
    spec = DatasetSpec("bank", "y", exclude=("duration",))
    runs = {}
    for model in ("mlp", "hgb", "logreg"):
        cfg = ModelConfig.of(model=model, hidden_units=(32, 16), epochs=6, batch_size=128)
        runs[model] = train(s, spec, cfg).run_id
    return s, runs


CYCLE_ITEMS = 8


def make_cycle_events(con, table: str = "clicks", users: int = 30, length: int = 10) -> None:
    """A tiny event table: user ``uNN`` walks the cycle 1 → 2 → … → 8 → 1 from their own start
    item, one event per minute, each item priced at 1.5 × its id. Rows are stored in reverse so
    that only the time column orders them."""
    from core.warehouse import quote_ident

    rows = [(f"u{u:02d}", (u + j) % CYCLE_ITEMS + 1, j, 1.5 * ((u + j) % CYCLE_ITEMS + 1))
            for u in range(users) for j in range(length)]
    con.execute(f"CREATE TABLE {quote_ident(table)} (user_id VARCHAR, item BIGINT, "
                f"ts TIMESTAMP, price DOUBLE)")
    con.executemany(f"INSERT INTO {quote_ident(table)} VALUES (?, ?, TIMESTAMP '2024-01-01' + "
                    f"to_minutes(CAST(? AS BIGINT)), ?)", rows[::-1])


@pytest.fixture(scope="session")
def rec_ws(tmp_path_factory):
    """A workspace with the cycle table ``clicks`` and two next-item runs on it:
    ``transitions`` and a 3-epoch ``gru4rec`` (ids in the returned dict)."""
    from core.config import load_settings
    from core.recommend import EventColumns, RecModelConfig, SequenceOptions, train_recommender
    from core.warehouse import connect

    s = load_settings(tmp_path_factory.mktemp("rec_ws"))
    with connect(s) as c:
        make_cycle_events(c)
    cols = EventColumns("clicks", "user_id", "item", "ts", price="price")
    opts = SequenceOptions(min_item=1, min_user=3)
    runs = {m: train_recommender(s, cols, opts, RecModelConfig(m, epochs=3, embed_dim=16,
                                                               window=8), n_boot=50).run_id
            for m in ("transitions", "gru4rec")}
    return s, runs
