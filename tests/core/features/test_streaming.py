"""Streamed training: the DuckDB split and shuffle, the tf.data batches, and whole runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import mean_absolute_error, roc_auc_score

from core.errors import SchemaError
from core.features import LABEL, TabularPreprocessor, encoded_batches, export_splits
from core.features import _stream_batches as stream_batches
from core.features import _stream_export as streaming
from core.features._stream_batches import iter_frames
from core.runs import LABEL_COL, SCORE_COL, list_runs, load_run
from core.specs import DatasetSpec, ModelConfig
from core.training import TrainingCancelled, train
from core.warehouse import connect


def _table(con, rows: int = 2000) -> None:
    """``events``: id 0..rows-1, a numeric and a text feature, y positive on every 5th id
    (20%), sorted by y so that an unshuffled read would give one-class batches."""
    con.execute(
        f"CREATE TABLE events AS SELECT range AS id, (range % 97) * 1.5 AS amount, "
        f"'c' || (range % 7) AS grp, CASE WHEN range % 5 = 0 THEN 'yes' ELSE 'no' END AS y "
        f"FROM range({rows}) ORDER BY y, id")


def _read(files, name: str) -> pd.DataFrame:
    return pd.concat(list(iter_frames(files, name, 4096)), ignore_index=True)


def test_split_is_stratified_disjoint_complete_and_shuffled(con, tmp_path, monkeypatch):
    monkeypatch.setattr(streaming, "BUCKET_BYTES", 8_000)  # force several buckets
    _table(con)
    spec = DatasetSpec("events", "y", seed=7)
    got = export_splits(con, spec, "binary", tmp_path)
    assert got.classes == ["no", "yes"] and got.features == ["id", "amount", "grp"]
    assert got.counts == {"train": 1400, "valid": 200, "test": 400}
    assert got.label_counts == {"train": [1120, 280], "valid": [160, 40], "test": [320, 80]}
    assert len(got.files) > 1
    parts = {name: _read(got.files, name) for name in ("train", "valid", "test")}
    ids = np.concatenate([p["id"].to_numpy() for p in parts.values()])
    assert sorted(ids.tolist()) == list(range(2000))  # disjoint and complete
    for p in parts.values():  # the encoded target is the positive class, row for row
        assert ((p["id"] % 5 == 0).astype(int) == p[LABEL]).all()
    train_ids = parts["train"]["id"].to_numpy()
    assert abs(np.corrcoef(np.arange(len(train_ids)), train_ids)[0, 1]) < 0.1  # shuffled
    assert parts["train"][LABEL].iloc[:200].mean() == pytest.approx(0.2, abs=0.08)
    (tmp_path / "again").mkdir()
    again = export_splits(con, spec, "binary", tmp_path / "again")
    assert _read(again.files, "train")["id"].tolist() == train_ids.tolist()  # seeded


def test_batches_are_full_permuted_per_pass_and_cover_every_row(con, tmp_path, monkeypatch):
    monkeypatch.setattr(stream_batches, "CHUNK_BYTES", 4 * 11 * 300)  # ~300-row chunks
    _table(con)
    got = export_splits(con, DatasetSpec("events", "y"), "binary", tmp_path)
    sample = _read(got.files, "train").drop(columns=[LABEL])
    pre = TabularPreprocessor().fit(sample)
    batches = list(encoded_batches(got, "train", pre, 64, shuffle_seed=1))
    sizes = [len(y) for _, y in batches]
    assert sizes[:-1] == [64] * (len(sizes) - 1) and sum(sizes) == 1400 and sizes[-1] == 1400 % 64
    assert all(x.shape == (len(y), len(pre.feature_names_out_)) and x.dtype == np.float32
               for x, y in batches)
    ids = np.concatenate([x[:, 0] for x, _ in batches])  # standardised id: unique per row
    assert len(np.unique(ids)) == 1400
    other = np.concatenate([x[:, 0] for x, _ in encoded_batches(got, "train", pre, 64, 2)])
    same = np.concatenate([x[:, 0] for x, _ in encoded_batches(got, "train", pre, 64, 1)])
    assert np.array_equal(ids, same) and not np.array_equal(ids, other)
    assert np.allclose(np.sort(ids), np.sort(other))
    y = np.concatenate([y for _, y in batches])
    assert y.sum() == 280  # labels travel with their rows


def test_split_encoded_once_to_disk_reads_back_exactly(con, tmp_path, monkeypatch):
    monkeypatch.setattr(stream_batches, "CHUNK_BYTES", 4 * 11 * 300)
    _table(con)
    got = export_splits(con, DatasetSpec("events", "y"), "binary", tmp_path)
    pre = TabularPreprocessor().fit(_read(got.files, "train").drop(columns=[LABEL]))
    enc = stream_batches.encode_to_disk(got, "train", pre, tmp_path)
    assert (enc.rows, enc.width) == (1400, len(pre.feature_names_out_))
    assert enc.x_path.stat().st_size == 1400 * enc.width * 4
    fly = list(stream_batches.encoded_chunks(got, "train", pre, enc.chunk_rows))
    disk = list(stream_batches.disk_chunks(enc))
    assert np.array_equal(np.concatenate([x for x, _ in fly]), np.concatenate([x for x, _ in disk]))
    assert np.array_equal(np.concatenate([y for _, y in fly]), np.concatenate([y for _, y in disk]))
    shuffled = np.concatenate([x[:, 0] for x, _ in stream_batches.disk_chunks(enc, 3)])
    assert not np.array_equal(shuffled, np.concatenate([x[:, 0] for x, _ in disk]))
    assert np.allclose(np.sort(shuffled), np.sort(np.concatenate([x[:, 0] for x, _ in disk])))


def test_shards_partition_a_split_in_equal_lengths_from_snapshots_and_from_disk(
        con, tmp_path, monkeypatch):
    """Two or three shards read with one seed: disjoint, each n // shards rows, together the
    split less its remainder, encoded exactly as the unsharded read; a new seed, new rows."""
    monkeypatch.setattr(stream_batches, "CHUNK_BYTES", 4 * 11 * 300)  # ~300-row chunks
    monkeypatch.setattr(streaming, "BUCKET_BYTES", 8_000)  # several buckets to order
    _table(con)
    got = export_splits(con, DatasetSpec("events", "y"), "binary", tmp_path)
    assert len(got.files) > 1
    pre = TabularPreprocessor().fit(_read(got.files, "train").drop(columns=[LABEL]))
    enc = stream_batches.encode_to_disk(got, "train", pre, tmp_path)

    def rows(source, shard, shards, seed):
        parts = list(stream_batches.shard_chunks(source, "train", pre, 300, shard, shards, seed))
        return np.concatenate([x for x, _ in parts]), np.concatenate([y for _, y in parts])

    whole = {"fly": rows(got, 0, 1, 5), "disk": rows(enc, 0, 1, 5)}
    for name, source in (("fly", got), ("disk", enc)):
        x_all, y_all = whole[name]
        assert len(y_all) == 1400 and y_all.sum() == 280
        for shards in (2, 3):
            parts = [rows(source, r, shards, 5) for r in range(shards)]
            assert [len(y) for _, y in parts] == [1400 // shards] * shards
            for r, (x, y) in enumerate(parts):  # row r, r + shards, … of the pass's order
                assert np.array_equal(x, x_all[r::shards][:1400 // shards])
                assert np.array_equal(y, y_all[r::shards][:1400 // shards])
            ids = np.concatenate([x[:, 0] for x, _ in parts])
            assert len(np.unique(ids)) == len(ids)  # disjoint
        other = rows(source, 0, 2, 6)[0][:, 0]
        assert not np.array_equal(other, rows(source, 0, 2, 5)[0][:, 0])
    assert np.allclose(np.sort(whole["fly"][0][:, 0]), np.sort(whole["disk"][0][:, 0]))
    with pytest.raises(ValueError, match="not in"):
        next(stream_batches.shard_chunks(got, "train", pre, 300, 2, 2))


def test_pipeline_choice_and_refusals(con, monkeypatch):
    _table(con)
    spec = DatasetSpec("events", "y")
    assert not streaming.use_streaming(con, spec, ModelConfig())  # 6,000 cells: memory
    assert streaming.use_streaming(con, spec, ModelConfig.of(data_pipeline="stream"))
    monkeypatch.setattr(streaming, "STREAM_CELLS", 6000)
    assert streaming.use_streaming(con, spec, ModelConfig())  # auto, at the threshold
    assert not streaming.use_streaming(con, spec, ModelConfig.of(model="hgb"))
    assert not streaming.use_streaming(con, spec, ModelConfig.of(data_pipeline="memory"))
    with pytest.raises(SchemaError, match="streamed pipeline trains Keras networks only"):
        streaming.use_streaming(con, spec, ModelConfig.of(model="hgb", data_pipeline="stream"))
    with pytest.raises(Exception, match="data_pipeline must be 'auto', 'memory' or 'stream'"):
        ModelConfig.of(data_pipeline="disk")


@pytest.mark.slow
def test_streamed_run_is_saved_and_its_scores_line_up(bank_ws, monkeypatch):
    monkeypatch.setattr(streaming, "BUCKET_BYTES", 200_000)  # several buckets and chunks
    monkeypatch.setattr(stream_batches, "CHUNK_BYTES", 300_000)
    s, _ = bank_ws
    spec = DatasetSpec("bank", "y", exclude=("duration",))
    events = []
    r = train(s, spec, ModelConfig.of(model="mlp", hidden_units=(32, 16), epochs=4,
                                      batch_size=128, class_weight="balanced",
                                      data_pipeline="stream"),
              events.append)
    c = r.config
    assert c.data_pipeline == "stream" and c.positive_class == "yes"
    assert c.rows == {"table": 6000, "train": 4200, "valid": 600, "test": 1200}
    assert c.extra["preprocessor_rows"] == 4200 and "duration" not in c.features
    assert [e["epoch"] for e in events if e.get("stage") == "epoch"] == list(
        range(1, c.epochs_run + 1))
    run = load_run(s, r.run_id)
    t = run.test_frame
    with connect(s) as con:
        positives = con.execute("SELECT count(*) FROM bank WHERE y = 'yes'").fetchone()[0]
    assert len(t) == 1200 and int(t[LABEL_COL].sum()) == round(positives * 0.2)  # stratified
    assert r.metrics["metrics"]["roc_auc"] == pytest.approx(roc_auc_score(t[LABEL_COL],
                                                                         t[SCORE_COL]))
    assert r.metrics["metrics"]["roc_auc"] > 0.70
    # each saved score belongs to its own row: the reloaded model reproduces it from the raw
    # columns beside it (the positional join of scores and rows kept the order)
    assert np.allclose(run.predict(t), t[SCORE_COL], atol=1e-5)
    v = run.valid_scores
    assert len(v) == 600 and int(v[LABEL_COL].sum()) == round(positives * 0.1)
    assert 0.0 <= v[SCORE_COL].min() and v[SCORE_COL].max() <= 1.0
    assert len(run.background) == 200 and c.extra["encoded_on_disk"] is True
    assert not list((s.data_dir / "tmp").glob("stream-*"))  # snapshots removed


@pytest.mark.slow
def test_streamed_run_encodes_on_the_fly_when_the_disk_is_short(bank_ws, monkeypatch):
    from collections import namedtuple

    from core.training import _stream as training_stream

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(training_stream.shutil, "disk_usage", lambda _: usage(1, 1, 1000))
    s, _ = bank_ws
    r = train(s, DatasetSpec("bank", "y", exclude=("duration",)),
              ModelConfig.of(model="mlp", hidden_units=(8,), epochs=2, batch_size=256,
                             data_pipeline="stream"))
    assert r.config.extra["encoded_on_disk"] is False and r.config.epochs_run == 2
    assert 0.5 < r.metrics["metrics"]["roc_auc"] <= 1.0


@pytest.mark.slow
def test_streamed_regression_and_multiclass(bank_ws):
    s, _ = bank_ws
    cfg = ModelConfig.of(model="mlp", hidden_units=(16,), epochs=3, batch_size=256,
                         data_pipeline="stream")
    reg = train(s, DatasetSpec("bank", "age", exclude=("duration",), task="regression"), cfg)
    t = load_run(s, reg.run_id).test_frame
    assert reg.config.task == "regression" and reg.config.target_scaling[1] > 1
    assert reg.metrics["metrics"]["mae"] == pytest.approx(
        mean_absolute_error(t[LABEL_COL], t[SCORE_COL]))
    multi = train(s, DatasetSpec("bank", "marital", exclude=("duration",)), cfg)
    assert multi.config.task == "multiclass"
    assert list(multi.config.classes) == ["divorced", "married", "single", "unknown"]
    t = load_run(s, multi.run_id).test_frame
    assert {f"__proba_{k}" for k in range(4)} <= set(t.columns)
    assert np.allclose(t[[f"__proba_{k}" for k in range(4)]].sum(axis=1), 1.0, atol=1e-4)


@pytest.mark.slow
def test_streamed_cancel_saves_nothing(bank_ws):
    s, _ = bank_ws
    before = {r["run_id"] for r in list_runs(s)}
    with pytest.raises(TrainingCancelled):
        train(s, DatasetSpec("bank", "y", exclude=("duration",)),
              ModelConfig.of(epochs=2, data_pipeline="stream"), should_stop=lambda: True)
    assert {r["run_id"] for r in list_runs(s)} == before
    assert not list((s.data_dir / "tmp").glob("stream-*"))


def test_streamed_refuses_a_tiny_class(con, settings):
    con.execute("CREATE TABLE tiny AS SELECT range AS x, CASE WHEN range < 3 THEN 'yes' "
                "ELSE 'no' END AS y FROM range(100)")
    con.close()
    with pytest.raises(SchemaError, match="fewer than 5 rows"):
        train(settings, DatasetSpec("tiny", "y", features=("x",)),
              ModelConfig.of(data_pipeline="stream"))
    assert list_runs(settings) == [] and not list((settings.data_dir / "tmp").glob("stream-*"))


def test_export_caps_duckdb_memory_retries_when_short_and_lifts_the_cap(con, tmp_path,
                                                                         monkeypatch):
    _table(con, 5000)
    default = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    seen = []
    real = streaming.with_memory_retry

    def spy(c, run, cap, max_mb):
        seen.append(c.execute("SELECT current_setting('memory_limit')").fetchone()[0])
        real(c, run, cap, max_mb)
        seen.append(cap[0])

    monkeypatch.setattr(streaming, "with_memory_retry", spy)
    monkeypatch.setattr(streaming, "EXPORT_MB", 1)  # far too little: DuckDB runs out at once
    got = export_splits(con, DatasetSpec("events", "y"), "binary", tmp_path)
    assert seen[0] == "1.0 MiB"  # the cap is in force while the split is ranked
    assert seen[1] > 1  # the cap was doubled until the split query fitted
    assert sum(got.counts.values()) == 5000
    assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0] == default
