"""Uplift runs: T-, S- and class-transformation learners on a table with a known true uplift,
the run folder, scoring, and the command line."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.app import main
from core.errors import SchemaError
from core.runs import list_runs, load_run
from core.specs import DatasetSpec, ModelConfig
from core.uplift import UpliftConfig, train_uplift, uplift_population
from core.uplift._scoring import predict_uplift
from core.warehouse import connect, read_table

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


def true_uplift(frame: pd.DataFrame) -> np.ndarray:
    """Young customers are persuadable (+15 points); old ones are hurt (−6 points)."""
    return 0.15 * (frame["age"] < 35) - 0.06 * (frame["age"] >= 65)


def make_campaign(n: int, seed: int, treated: str = "offer") -> pd.DataFrame:
    """A randomised campaign: frequent visitors convert anyway (sure things)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"age": rng.integers(18, 80, n), "visits": rng.poisson(3, n),
                          "region": rng.choice(["north", "south", "east"], n),
                          "tenure": rng.random(n) * 10})
    p_c = 0.05 + 0.40 * (frame["visits"] >= 5) + 0.03 * (frame["region"] == "east")
    t = rng.integers(0, 2, n)
    p = np.where(t == 1, p_c + true_uplift(frame), p_c)
    return frame.assign(campaign=np.where(t == 1, treated, "holdout"),
                        bought=np.where(rng.random(n) < p, "yes", "no"))


@pytest.fixture(scope="module")
def campaign_ws(tmp_path_factory):
    from core.config import load_settings

    s = load_settings(tmp_path_factory.mktemp("uplift_ws"))
    with connect(s) as con:
        for name, frame in (("promo", make_campaign(12000, 0)),
                            ("next_month", make_campaign(3000, 1).drop(columns=["bought",
                                                                                "campaign"]))):
            con.register("f", frame)
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM f")
            con.unregister("f")
    return s


def _true_incremental(run, order_by: str, share: float = 0.3) -> float:
    t = run.test_frame
    k = int(round(share * len(t)))
    top = np.argsort(-t[order_by].to_numpy(), kind="mergesort")[:k]
    return float(true_uplift(t).to_numpy()[top].sum())


@pytest.mark.parametrize("learner,model", [("t", "logreg"), ("s", "hgb"), ("ct", "logreg")])
def test_learners_find_the_persuadables(campaign_ws, learner, model):
    r = train_uplift(campaign_ws, DatasetSpec("promo", "bought"), ModelConfig.of(model=model),
                     UpliftConfig("campaign", learner=learner, n_bootstrap=100))
    assert r.config.task == "uplift" and r.config.uplift.treated_value == "offer"
    m = r.metrics["metrics"]
    assert {"qini_coefficient", "auuc", "uplift_at_10", "uplift_at_30"} <= set(m)
    assert m["uplift_at_30"] > 0.05 and r.metrics["ci95"]["qini_coefficient"][0] > 0
    run = load_run(campaign_ws, r.run_id)
    # ranked by predicted uplift, the top 30% hold far more true incremental conversions
    # than ranked by the probability of converting when treated
    assert _true_incremental(run, "__uplift") > 1.5 * _true_incremental(run, "__score")
    p_t, p_c, up = predict_uplift(run, run.test_frame)
    np.testing.assert_allclose(up, run.test_frame["__uplift"], atol=1e-6)
    np.testing.assert_allclose(p_t, run.test_frame["__score"], atol=1e-6)
    assert any(x["run_id"] == r.run_id and x["task"] == "uplift" for x in list_runs(campaign_ws))


@pytest.mark.slow
def test_keras_s_learner_saves_and_reloads(campaign_ws):
    r = train_uplift(campaign_ws, DatasetSpec("promo", "bought"),
                     ModelConfig.of(model="mlp", hidden_units=(16,), epochs=3),
                     UpliftConfig("campaign", "offer", "s", n_bootstrap=50))
    run = load_run(campaign_ws, r.run_id)
    assert (run.folder / "model.keras").exists()
    p_t, p_c, up = predict_uplift(run, run.test_frame)
    np.testing.assert_allclose(up, run.test_frame["__uplift"], atol=1e-5)
    assert np.all((p_t >= 0) & (p_t <= 1) & (p_c >= 0) & (p_c <= 1))


def test_treatment_errors(campaign_ws):
    with pytest.raises(SchemaError, match="exactly two values"):
        train_uplift(campaign_ws, DatasetSpec("promo", "bought"), ModelConfig.of(model="logreg"),
                     UpliftConfig("region"))
    with pytest.raises(SchemaError, match="is not a value"):
        train_uplift(campaign_ws, DatasetSpec("promo", "bought"), ModelConfig.of(model="logreg"),
                     UpliftConfig("campaign", "treated"))
    with pytest.raises(SchemaError, match="cannot be the target"):
        train_uplift(campaign_ws, DatasetSpec("promo", "bought"), ModelConfig.of(model="logreg"),
                     UpliftConfig("bought"))


def _run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def test_command_line_train_simulate_score(campaign_ws, capsys):
    d = str(campaign_ws.data_dir)
    code, out, err = _run(capsys, "--data-dir", d, "train", "--table", "promo", "--target",
                          "bought", "--treatment", "campaign", "--treated-value", "offer",
                          "--learner", "t", "--model", "logreg")
    assert code == 0, err
    assert out["task"] == "uplift" and out["learner"] == "t"
    assert {"qini_coefficient", "auuc", "uplift_at_10", "uplift_at_30"} <= set(out["metrics"])
    run_id = out["run_id"]
    code, sim, err = _run(capsys, "--data-dir", d, "simulate", run_id, "--contact-cost", "1",
                          "--conversion-value", "40", "--fraction", "0.3", "--bootstrap", "200")
    assert code == 0, err
    for key in ("fraction", "targeted", "incremental_conversions",
                "incremental_conversions_ci95", "incremental_profit", "profit"):
        assert key in sim, key
    # one profit figure at the top, the incremental one (issue 12, item 19); the response
    # view that counts every treated conversion as caused is labelled and kept apart
    assert "profit_model" not in sim and sim["profit"] == sim["incremental_profit"]
    assert {"profit_model", "conversions_model", "ci95"} <= set(sim["response_view"])
    assert "not" in sim["response_view"]["meaning"]
    lo, hi = sim["incremental_conversions_ci95"]
    assert lo < sim["incremental_conversions"] < hi
    assert sim["incremental_profit"] == pytest.approx(
        sim["incremental_conversions"] * 40 - sim["uplift"]["treated"])
    assert sim["targeted"] == sim["uplift"]["treated"] == round(0.3 * 2400)
    code, out, err = _run(capsys, "--data-dir", d, "score", run_id, "--table", "next_month",
                          "--out", "next_scored")
    assert code == 0 and out == {"table": "next_scored", "rows": 3000}
    with connect(campaign_ws) as con:
        scored = read_table(con, "next_scored")
    assert {"p_treated", "p_control", "uplift"} <= set(scored.columns)
    np.testing.assert_allclose(scored["uplift"], scored["p_treated"] - scored["p_control"],
                               atol=1e-9)
    code, sim, err = _run(capsys, "--data-dir", d, "simulate", run_id, "--contact-cost", "1",
                          "--conversion-value", "40", "--top-n", "500", "--table", "next_scored",
                          "--bootstrap", "100")
    assert code == 0, err
    assert sim["population_source"] == "next_scored" and sim["uplift"]["outcomes"] == "expected"
    top = np.sort(scored["uplift"].to_numpy())[::-1][:500]
    assert sim["incremental_conversions"] == pytest.approx(top.sum())
    code, _, err = _run(capsys, "--data-dir", d, "simulate", run_id, "--contact-cost", "1",
                        "--conversion-value", "40", "--payoff", "1,-1,0,0")
    assert code == 2 and "payoff" in err


def test_uplift_population_of_a_new_randomised_table(campaign_ws):
    run_id = train_uplift(campaign_ws, DatasetSpec("promo", "bought"),
                          ModelConfig.of(model="logreg"),
                          UpliftConfig("campaign", learner="t", n_bootstrap=0)).run_id
    with connect(campaign_ws) as con:
        con.register("f", make_campaign(2000, 7))
        con.execute("CREATE OR REPLACE TABLE wave2 AS SELECT * FROM f")
    pop = uplift_population(campaign_ws, load_run(campaign_ws, run_id), "wave2")
    assert pop.observed and len(pop.y) == 2000 and set(np.unique(pop.t)) == {0, 1}


@pytest.mark.slow
def test_ensemble_t_learner_saves_both_arms_and_reloads(campaign_ws):
    from models.blend import Blend

    r = train_uplift(campaign_ws, DatasetSpec("promo", "bought"),
                     ModelConfig.of(model="ensemble", members=2, width=8, epochs=2),
                     UpliftConfig("campaign", "offer", "t", n_bootstrap=50))
    run = load_run(campaign_ws, r.run_id)
    assert {"model.keras", "model.skops", "blend.json"} <= {p.name for p in run.folder.iterdir()}
    assert isinstance(run.model, Blend)
    p_t, p_c, up = predict_uplift(run, run.test_frame)
    np.testing.assert_allclose(up, run.test_frame["__uplift"], atol=1e-5)
    np.testing.assert_allclose(up, p_t - p_c, atol=1e-9)
