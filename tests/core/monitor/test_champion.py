"""Champion and challenger: retrain with the champion's own settings, compare on the same
labelled rows with a paired bootstrap, promote with a reason, read the log."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from core.errors import MonitorError, RunNotFoundError
from core.features import label_text
from core.monitor import (
    challenger_spec,
    champion_run_id,
    compare_runs_on,
    list_models,
    promote,
    resolve_run,
    retrain,
)
from core.monitor._compare import _paired, _Ranked
from core.runs import load_run
from core.specs import DatasetSpec, ModelConfig
from core.training import train
from core.warehouse import connect, read_table


def test_paired_bootstrap_interval_of_a_difference_is_narrower_than_unpaired():
    rng = np.random.default_rng(0)
    n = 3000
    y = (rng.random(n) < 0.2).astype(float)
    base = y * 1.0 + rng.normal(size=n)
    sa = base + 0.3 * rng.normal(size=n)   # two models sharing most of their errors
    sb = base + 0.3 * rng.normal(size=n) + 0.25 * y
    ra, rb = _Ranked(sa, y, 0.5), _Ranked(sb, y, 0.5)
    ci = _paired(ra, rb, n, 400, 1, None)["roc_auc"]
    diff = roc_auc_score(y, sb) - roc_auc_score(y, sa)
    assert ci[0] < diff < ci[1] and ci[0] > 0
    # resampling the two models independently ignores their shared errors: much wider
    rng2 = np.random.default_rng(2)
    unpaired = []
    for _ in range(400):
        i, j = rng2.integers(0, n, n), rng2.integers(0, n, n)
        unpaired.append(roc_auc_score(y[j], sb[j]) - roc_auc_score(y[i], sa[i]))
    lo, hi = np.percentile(unpaired, [2.5, 97.5])
    assert (ci[1] - ci[0]) < 0.6 * (hi - lo)
    # the point difference through the weighted path equals sklearn's
    ones = np.ones((1, n))
    assert rb.metrics(ones)["roc_auc"][0] - ra.metrics(ones)["roc_auc"][0] == pytest.approx(diff)


@pytest.fixture(scope="module")
def champion_ws(mon_ws):
    s, runs = mon_ws
    with connect(s) as con:
        con.execute("CREATE OR REPLACE TABLE recent AS SELECT * FROM bank_second "
                    "WHERE rowid < 12000")
        con.execute("CREATE OR REPLACE TABLE later AS SELECT * FROM bank_second "
                    "WHERE rowid >= 12000")
    return s, runs


def test_retrain_uses_the_champions_own_spec_and_settings(champion_ws):
    s, runs = champion_ws
    champ = load_run(s, runs["logreg"])
    spec, cfg = challenger_spec(champ, "recent")
    assert spec.table == "recent" and spec.target == "y" and spec.positive_class == "yes"
    assert list(spec.features) == champ.features and "duration" not in spec.features
    assert cfg.model == "logreg" and spec.seed == champ.config.spec.seed
    promote(s, "campaign", champ.run_id, "first model in production")
    out = retrain(s, champ, "recent")
    child = load_run(s, out["result"].run_id)
    assert out["parent_run"] == champ.run_id and out["models"] == {"campaign": 2}
    assert child.features == champ.features and child.config.table == "recent"
    assert champion_run_id(s, "campaign") == champ.run_id  # a challenger is not promoted


def test_compare_champion_and_challenger_on_the_same_rows(champion_ws):
    s, runs = champion_ws
    champ = load_run(s, runs["logreg"])
    models = {m["model"]: m for m in list_models(s)}
    challenger = load_run(s, models["campaign"]["versions"][-1]["run_id"])
    res = compare_runs_on(s, champ, challenger, "later", n_boot=300)
    with connect(s) as con:
        frame = read_table(con, "later")
    y = (frame["y"].map(label_text) == "yes").to_numpy(int)
    assert res["rows"] == len(frame) and res["positives"] == y.sum()
    auc = res["metrics"]["roc_auc"]
    assert auc["a"] == pytest.approx(roc_auc_score(y, champ.predict(frame)))
    assert auc["b"] == pytest.approx(roc_auc_score(y, challenger.predict(frame)))
    assert auc["diff"] == pytest.approx(auc["b"] - auc["a"])
    assert auc["ci95"][0] < auc["diff"] < auc["ci95"][1]
    assert set(res["metrics"]) == {"roc_auc", "precision", "recall", "f1"}
    assert res["profit"]["scenario"] is None and "Impact" in res["profit"]["note"]
    assert res["warnings"] == []  # neither run was trained on 'later'
    own = compare_runs_on(s, champ, challenger, "recent", n_boot=0, save=False)
    assert own["warnings"] == [(f"Run {challenger.run_id} was trained on 'recent': its numbers "
                                f"here are optimistic. Compare on rows neither run was "
                                f"trained on.")]
    # the promotion that follows logs this comparison as its evidence
    promo = promote(s, "campaign", challenger.run_id, "higher ROC-AUC on the later rows")
    assert promo["previous"] == champ.run_id and promo["champion"] == challenger.run_id
    entry = {m["model"]: m for m in list_models(s)}["campaign"]
    assert entry["champion"] == challenger.run_id
    assert [v["run_id"] for v in entry["versions"]] == [champ.run_id, challenger.run_id]
    last = entry["history"][0]
    assert (last["from"], last["to"], last["why"]) == (champ.run_id, challenger.run_id,
                                                       "higher ROC-AUC on the later rows")
    assert last["evidence"]["comparison"]["comparison_id"] == res["comparison_id"]
    assert entry["history"][1]["from"] is None  # the first promotion
    assert resolve_run(s, "campaign").run_id == challenger.run_id


def test_promotion_refusals(champion_ws):
    s, runs = champion_ws
    with pytest.raises(MonitorError, match="Say why"):
        promote(s, "campaign", runs["hgb"], " ")
    with pytest.raises(MonitorError, match="not a usable model name"):
        promote(s, "bad name!", runs["hgb"], "because")
    champ = champion_run_id(s, "campaign")
    with pytest.raises(MonitorError, match="already the champion"):
        promote(s, "campaign", champ, "again")
    with pytest.raises(RunNotFoundError):
        promote(s, "campaign", "no-such-run", "because")
    with pytest.raises(RunNotFoundError, match="Nor is 'nobody' a model name"):
        resolve_run(s, "nobody")


def test_runs_of_different_targets_are_not_compared_or_promoted(champion_ws):
    s, runs = champion_ws
    other = train(s, DatasetSpec("bank_first", "default", exclude=("duration", "y")),
                  ModelConfig(model="logreg")).run_id
    with pytest.raises(MonitorError, match="predicts 'y' but run .* predicts 'default'"):
        compare_runs_on(s, load_run(s, runs["logreg"]), load_run(s, other), "later")
    with pytest.raises(MonitorError, match="cannot replace the champion of 'campaign'"):
        promote(s, "campaign", other, "different target")


def test_retrain_on_the_reference_plus_new_rows(champion_ws):
    s, runs = champion_ws
    champ = load_run(s, runs["logreg"])
    out = retrain(s, champ, "recent", with_reference=True)
    window = out["table"]
    assert window.startswith("recent_plus_bank_first_")
    with connect(s) as con:
        rows = con.execute(f"SELECT count(*) FROM {window}").fetchone()[0]
        cols = [r[0] for r in con.execute(f"DESCRIBE {window}").fetchall()]
    assert rows == 20594 + 12000
    assert cols == [*champ.features, "y"]
    child = load_run(s, out["result"].run_id)
    assert child.config.rows["table"] == rows and child.features == champ.features
