"""Each Keras builder: shapes per task, one epoch of fit, save/load round-trip in safe mode."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from core.features import TabularPreprocessor
from core.specs import ModelConfig
from core.training import build_network
from models.tabular import compile_model, embedding_dim, make_optimizer
from tests.conftest import ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def encoded():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=96), "b": rng.choice(list("xyz"), 96),
                          "c": rng.integers(0, 5, 96).astype(float), "d": rng.choice(["p", "q"], 96)})
    pre = TabularPreprocessor().fit(frame)
    return pre, pre.transform(frame)


@pytest.mark.parametrize("model", ["mlp", "wide_deep", "ft_transformer"])
@pytest.mark.parametrize("task,n_classes,out", [("binary", 2, 1), ("multiclass", 3, 3),
                                                 ("regression", 1, 1)])
def test_build_fit_save_load(tmp_path, encoded, model, task, n_classes, out):
    import keras

    pre, x = encoded
    cfg = ModelConfig.of(model=model, hidden_units=(8,), d_token=8, n_heads=2, n_blocks=1)
    net = build_network(cfg, pre, task, n_classes)
    compile_model(net, task, cfg.resolved_loss(task), make_optimizer("adam", 1e-3))
    y = {"binary": np.arange(96) % 2, "multiclass": np.arange(96) % 3,
         "regression": np.linspace(-1, 1, 96)}[task]
    hist = net.fit(x, y, epochs=1, batch_size=32, verbose=0)
    assert np.isfinite(hist.history["loss"][0])
    pred = net.predict(x, verbose=0)
    assert pred.shape == (96, out)
    if task == "multiclass":
        assert np.allclose(pred.sum(axis=1), 1.0, atol=1e-5)
    path = tmp_path / "m.keras"
    net.save(path)
    import models.layers  # noqa: F401

    again = keras.saving.load_model(path, safe_mode=True, compile=False)
    assert np.allclose(again.predict(x, verbose=0), pred, atol=1e-6)


def test_embedding_dim_rule():
    assert [embedding_dim(c) for c in (2, 4, 12, 100, 10000)] == [2, 3, 6, 16, 16]


@pytest.mark.parametrize("name", ["adam", "adamw", "adagrad", "rmsprop", "sgd"])
def test_optimizers(name):
    opt = make_optimizer(name, 0.01)
    assert float(opt.learning_rate) == pytest.approx(0.01)


def test_mirrored_strategy_on_two_logical_cpus():
    code = """
import numpy as np, pandas as pd, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from core.device import training_strategy
from core.features import TabularPreprocessor
from core.specs import ModelConfig
from core.training import FitData, fit_keras
strategy = training_strategy(["/cpu:0", "/cpu:1"])
rng = np.random.default_rng(0)
frame = pd.DataFrame({"a": rng.normal(size=256), "b": rng.choice(list("xy"), 256)})
y = (frame["a"] > 0).astype(int).to_numpy()
pre = TabularPreprocessor().fit(frame)
x = pre.transform(frame)
model, hist = fit_keras(ModelConfig.of(model="mlp", hidden_units=(8,), epochs=2,
                                       early_stopping=False), pre,
                        "binary", 2, FitData(x, y, x, y), 0, strategy=strategy)
tabm, hist2 = fit_keras(ModelConfig.of(model="tabm", members=2, width=8, epochs=2,
                                      early_stopping=False), pre,
                        "binary", 2, FitData(x, y, x, y), 0, strategy=strategy)
ok = np.isfinite(hist[-1]["loss"]) and np.isfinite(tabm.predict(x, verbose=0)).all()
print(strategy.num_replicas_in_sync, len(hist), len(hist2), ok)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip().splitlines()[-1] == "2 2 2 True"
