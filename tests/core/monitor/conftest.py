"""Fixtures of the monitoring tests: the bank file split in time order, small runs on its first
half, and DuckDB connections holding a reference and a current sample."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from tests.conftest import BANK

HALF = 20594  # the bank file is in time order: rows before this are May 2008 – ~Nov 2009


@pytest.fixture(scope="session")
def mon_ws(tmp_path_factory):
    """A workspace with the full bank file (``bank``), its first half (``bank_first``) and its
    second half (``bank_second``), and two runs trained on the first half without
    ``duration``: ``hgb`` and ``logreg`` (ids in the returned dict)."""
    from core.config import load_settings
    from core.ingest import IngestOptions, ingest_file
    from core.specs import DatasetSpec, ModelConfig
    from core.training import train
    from core.warehouse import connect

    s = load_settings(tmp_path_factory.mktemp("mon_ws"))
    with connect(s) as con:
        ingest_file(con, BANK, IngestOptions(table="bank"))
        con.execute(f"CREATE TABLE bank_first AS SELECT * FROM bank WHERE rowid < {HALF}")
        con.execute(f"CREATE TABLE bank_second AS SELECT * FROM bank WHERE rowid >= {HALF}")
    spec = DatasetSpec("bank_first", "y", exclude=("duration",))
    runs = {m: train(s, spec, ModelConfig(model=m)).run_id for m in ("hgb", "logreg")}
    return s, runs


def duck_samples(reference: dict, current: dict, chunks: np.ndarray | None = None):
    """An in-memory DuckDB connection holding ``__monitor_reference`` and
    ``__monitor_current`` (with ``__chunk``, all 0 unless given) built from column dicts."""
    from core.monitor._chunks import CURRENT, REFERENCE

    con = duckdb.connect()
    ref = pd.DataFrame(reference)
    cur = pd.DataFrame(current)
    cur.insert(0, "__chunk", np.zeros(len(cur), dtype=np.int64) if chunks is None else chunks)
    con.register("ref_df", ref)
    con.register("cur_df", cur)
    con.execute(f"CREATE TEMP TABLE {REFERENCE} AS SELECT * FROM ref_df")
    con.execute(f"CREATE TEMP TABLE {CURRENT} AS SELECT * FROM cur_df")
    return con
