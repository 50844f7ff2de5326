"""Multi-worker training's step without Ray: the same update as single-worker ``model.fit``
(TabM's member loss, class weights), the precision policy, and mixed precision's loss scaling.

The Ray Train runs themselves are in tests/core/app/test_engine.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.device import precision_policy
from core.features import TabularPreprocessor
from core.specs import ModelConfig
from core.training import build_network

ROWS = 64


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=ROWS), "b": rng.choice(list("xyz"), ROWS)})
    y = ((frame["a"] + rng.normal(0, 0.5, ROWS)) > 0.6).astype(np.float32).to_numpy()
    pre = TabularPreprocessor().fit(frame)
    return pre, pre.transform(frame), y


def _weights_after_one_step(cfg, pre, x, y, fit: bool, policy: str = "float32"):
    """Weights after one full-batch SGD step from the same seeded start: by ``model.fit``
    (compiled as the single-worker path compiles it) or by the multi-worker step."""
    import keras
    import tensorflow as tf

    from core.training._distributed_worker import make_step, row_losses
    from core.training._fit import class_weights
    from models import tabm

    keras.mixed_precision.set_global_policy(policy)
    try:
        keras.utils.set_random_seed(3)
        model = build_network(cfg, pre, "binary", 2)
        optimizer = keras.optimizers.SGD(0.1)
        weights = class_weights(y, cfg.class_weight)
        if fit:
            view = tabm.compile_members(tabm.training_view(model), "binary",
                                        cfg.resolved_loss("binary"), optimizer)
            view.fit(x, y, batch_size=ROWS, epochs=1, shuffle=False, verbose=0,
                     class_weight=weights)
            return model.get_weights(), None
        view, per_row = row_losses(cfg, "binary", model)
        if policy == "mixed_float16":
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        table = None if weights is None else [weights[0], weights[1]]
        step = make_step(tf.distribute.get_strategy(), view, per_row, optimizer, ROWS, table)
        loss = float(step(tf.constant(x), tf.constant(y)))
        return model.get_weights(), loss
    finally:
        keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("variant", ["tabm", "tabm_mini", "tabm_lite"])
@pytest.mark.parametrize("class_weight", ["none", "balanced"])
def test_tabm_step_makes_the_same_update_as_model_fit(data, variant, class_weight):
    pre, x, y = data
    cfg = ModelConfig.of(model="tabm", variant=variant, members=3, width=8, dropout=0.0,
                         class_weight=class_weight)
    ref, _ = _weights_after_one_step(cfg, pre, x, y, fit=True)
    got, loss = _weights_after_one_step(cfg, pre, x, y, fit=False)
    assert np.isfinite(loss) and len(ref) == len(got)
    moved = max(float(np.max(np.abs(a - b))) for a, b in zip(ref, got))
    assert moved < 1e-5


def test_the_step_loss_is_the_members_mean_loss(data):
    """The reported loss is MemberLoss over the batch (before the update), by hand: mean over
    rows and members of log(1 + e^z) - y z."""
    import keras

    from models import tabm

    pre, x, y = data
    cfg = ModelConfig.of(model="tabm", members=2, width=8, dropout=0.0)
    keras.utils.set_random_seed(3)
    logits = np.asarray(tabm.training_view(build_network(cfg, pre, "binary", 2))(x))[..., 0]
    by_hand = np.mean(np.log1p(np.exp(logits)) - logits * y[:, None])
    _, loss = _weights_after_one_step(cfg, pre, x, y, fit=False)
    assert loss == pytest.approx(by_hand, rel=1e-5)


def test_precision_policy_is_mixed_on_a_gpu_only():
    assert precision_policy(True) == "mixed_float16"
    assert precision_policy(False) == "float32"


def test_mixed_precision_step_scales_the_loss_and_matches_float32(data):
    """Under mixed_float16 (run on the CPU here: the code path a GPU worker takes), the step
    goes through the LossScaleOptimizer and lands within float16 rounding of the float32 step."""
    pre, x, y = data
    cfg = ModelConfig.of(model="mlp", hidden_units=(8,), dropout=0.0)
    ref, ref_loss = _weights_after_one_step(cfg, pre, x, y, fit=False)
    got, loss = _weights_after_one_step(cfg, pre, x, y, fit=False, policy="mixed_float16")
    import keras

    keras.utils.set_random_seed(3)
    start = build_network(cfg, pre, "binary", 2).get_weights()
    assert loss == pytest.approx(ref_loss, rel=2e-3)
    step = max(float(np.max(np.abs(a - b))) for a, b in zip(ref, start))
    assert step > 1e-2  # the update is far larger than the difference below
    assert max(float(np.max(np.abs(a - b))) for a, b in zip(ref, got)) < 2e-3


def test_streamed_sources_copied_for_a_cluster_give_the_same_shards(con, tmp_path):
    """With shared storage (a cluster) the snapshots and the encoded split are copied into the
    training folder; each worker's shard read from the copies is the shard of the originals,
    and the validation split is read whole, in order."""
    from core.features import (
        LABEL,
        StreamedSplits,
        encode_to_disk,
        export_splits,
        head_frame,
        shard_chunks,
    )
    from core.specs import DatasetSpec
    from core.training import StreamFit
    from core.training._distributed_data import stream_source, valid_chunks

    con.execute("CREATE TABLE t AS SELECT range AS id, (range % 13) * 1.0 AS v, "
                "CASE WHEN range % 4 = 0 THEN 'yes' ELSE 'no' END AS y FROM range(900)")
    (tmp_path / "snap").mkdir()
    splits = export_splits(con, DatasetSpec("t", "y"), "binary", tmp_path / "snap")
    pre = TabularPreprocessor().fit(head_frame(splits.files, "train", 1000).drop(columns=[LABEL]))
    enc = encode_to_disk(splits, "train", pre, tmp_path)
    data = StreamFit(None, None, splits.counts["train"], splits.label_counts["train"],
                     {"train": enc, "valid": splits})
    (tmp_path / "train-folder").mkdir()
    source = stream_source(tmp_path / "train-folder", data, "binary", shared=True)
    assert isinstance(source["valid"], StreamedSplits) and source["rows"] == 629
    assert source["train"].x_path.parent == tmp_path / "train-folder" / "train"
    assert all(p.parent == tmp_path / "train-folder" / "valid" / "snapshot"
               for p in source["valid"].files)
    for rank in (0, 1):
        ref = np.concatenate([x for x, _ in shard_chunks(enc, "train", pre, 256, rank, 2, 4)])
        got = np.concatenate([x for x, _ in shard_chunks(source["train"], "train", pre, 256,
                                                         rank, 2, 4)])
        assert got.shape == (314, len(pre.feature_names_out_)) and np.array_equal(got, ref)
    y_valid = np.concatenate([y for _, y in valid_chunks(source, pre)])
    assert len(y_valid) == splits.counts["valid"] == 91
    assert y_valid.sum() == splits.label_counts["valid"][1]


def test_class_weights_reach_the_workers_as_keras_would_weigh_them():
    """Balanced weights n / (k · n_c), from the arrays or from the streamed class counts; one
    entry per class even when the last is absent from training; none otherwise."""
    from core.training import FitData, StreamFit
    from core.training._distributed import _class_table

    balanced = ModelConfig.of(model="tabm", class_weight="balanced")
    arrays = FitData(np.zeros((4, 1)), np.array([0, 0, 0, 1]), np.zeros((1, 1)), np.zeros(1))
    assert _class_table(balanced, "binary", 2, arrays) == pytest.approx([4 / 6, 2.0])
    streamed = StreamFit(None, None, 4, [3, 1])
    assert _class_table(balanced, "binary", 2, streamed) == pytest.approx([4 / 6, 2.0])
    assert _class_table(balanced, "multiclass", 3, streamed) == pytest.approx([4 / 6, 2.0, 0.0])
    assert _class_table(ModelConfig.of(model="tabm"), "binary", 2, arrays) is None
    assert _class_table(balanced, "regression", 1, arrays) is None
