"""The DP-SGD accountant against dp-accounting itself, the noise search and the refusals."""

from __future__ import annotations

import dp_accounting
import pytest
from dp_accounting import pld, rdp

from core.errors import AppError
from core.privacy import (
    PrivacyError,
    default_delta,
    epsilon_for,
    guarantee_lines,
    noise_for_epsilon,
    plan_dp,
    spent,
)
from core.specs import ModelConfig


def test_epsilon_equals_dp_accounting_for_the_poisson_subsampled_gaussian():
    got = epsilon_for(60000, 256, 60, 1.1, 1e-5)
    steps = 60 * 235  # ⌈60000/256⌉ steps an epoch
    event = dp_accounting.SelfComposedDpEvent(dp_accounting.PoissonSampledDpEvent(
        256 / 60000, dp_accounting.GaussianDpEvent(1.1)), steps)
    r, p = rdp.RdpAccountant(), pld.PLDAccountant()
    r.compose(event)
    p.compose(event)
    assert got["steps"] == steps and got["sampling_rate"] == pytest.approx(256 / 60000)
    assert got["epsilon_rdp"] == pytest.approx(r.get_epsilon(1e-5), rel=1e-12)
    assert got["epsilon_pld"] == pytest.approx(p.get_epsilon(1e-5), rel=1e-12)
    # the textbook setting (Abadi et al.'s MNIST): ε ≈ 2.4–2.6, PLD tighter than RDP
    assert 2.2 < got["epsilon_pld"] < got["epsilon_rdp"] < 2.8


def test_noise_search_meets_the_target_and_no_less_noise_would():
    sigma = noise_for_epsilon(1.0, 1e-5, 20000, 500, 10)
    eps = epsilon_for(20000, 500, 10, sigma, 1e-5)["epsilon_pld"]
    assert 0.99 <= eps <= 1.0
    assert epsilon_for(20000, 500, 10, sigma * 0.99, 1e-5)["epsilon_pld"] > 1.0


def test_spent_epsilon_counts_the_epochs_actually_run():
    plan = plan_dp(2.0, None, 1.0, 10000, 200, 20)
    assert plan.delta == pytest.approx(default_delta(10000)) and plan.delta < 1 / 10000
    full, early = spent(plan, 20), spent(plan, 5)
    assert full["epsilon"] == pytest.approx(2.0, rel=0.01)
    assert early["epsilon"] < full["epsilon"] and early["steps"] == 5 * 50
    assert {"epsilon", "delta", "noise_multiplier", "clip", "accountant", "sampling"} <= set(full)
    text = " ".join(guarantee_lines({**full, "preprocessing": "analyst bounds"}))
    assert "σ" in text and "Not covered: the validation rows" in text


@pytest.mark.parametrize("kwargs,needle", [
    ({"target_epsilon": 0.0}, "ε must be a number > 0"),
    ({"target_epsilon": -1.0}, "ε must be a number > 0"),
    ({"target_epsilon": 1e-4}, "noise multiplier above 50"),
    ({"delta": 1e-3}, "not below 1/n"),
    ({"clip": 0.0}, "clip norm"),
])
def test_bad_privacy_settings_are_refused_with_the_reason(kwargs, needle):
    args = {"target_epsilon": 1.0, "delta": None, "clip": 1.0, "rows": 5000, "batch_size": 100,
            "epochs": 10, **kwargs}
    with pytest.raises(PrivacyError, match=needle):
        plan_dp(**args)


def test_heavy_noise_is_warned_about():
    plan = plan_dp(0.05, None, 1.0, 5000, 100, 10)
    assert plan.noise_multiplier > 5 and "heavy noise" in plan.notes[0]


def test_model_config_refuses_dp_where_it_cannot_work():
    with pytest.raises(AppError, match="Keras networks only: tabm, mlp, wide_deep, ft_transformer"):
        ModelConfig.of(model="hgb", dp=True)
    with pytest.raises(AppError, match="'ensemble' is not one"):  # its booster is not DP-SGD
        ModelConfig.of(model="ensemble", dp=True)
    with pytest.raises(AppError, match="batch_norm"):
        ModelConfig.of(model="mlp", dp=True, batch_norm=True)
    with pytest.raises(AppError, match="class_weight"):
        ModelConfig.of(dp=True, class_weight="balanced")
    with pytest.raises(AppError, match="dp_epsilon must be a number > 0"):
        ModelConfig.of(dp=True, dp_epsilon=0)
    cfg = ModelConfig.of(dp=True, dp_epsilon=1.0, dp_bounds=[["age", 17, 100], ["job", ["a"]]])
    again = ModelConfig.of(**cfg.flat())  # config.json's flat form reads back (dropout: the
    assert again.flat() == cfg.flat() and again.dp == cfg.dp  # family's own, as flat() says)


def test_cli_privacy_epsilon_matches_the_accountant(tmp_path, capsys):
    from core.app import main

    code = main(["--data-dir", str(tmp_path / "ws"), "privacy", "epsilon", "--rows", "60000",
                 "--batch-size", "256", "--epochs", "60", "--noise-multiplier", "1.1",
                 "--delta", "1e-5"])
    import json

    out = json.loads(capsys.readouterr().out)
    ref = epsilon_for(60000, 256, 60, 1.1, 1e-5)
    assert code == 0 and set(out) >= {"epsilon_rdp", "epsilon_pld", "steps", "sampling_rate"}
    assert out["epsilon_pld"] == ref["epsilon_pld"] and out["steps"] == 14100
    code = main(["--data-dir", str(tmp_path / "ws"), "privacy", "epsilon", "--rows", "100",
                 "--batch-size", "10", "--epochs", "1", "--noise-multiplier", "1",
                 "--delta", "0.5"])
    assert code == 2 and "not below 1/n" in capsys.readouterr().err
