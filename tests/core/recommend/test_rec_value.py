"""Business value against every baseline: the best baseline is the one to beat, and a model
that loses is never shown as the winner."""

from __future__ import annotations

import numpy as np

from core.recommend import metrics_table, value_figure
from core.recommend._metrics import RankStats
from core.recommend._value import ValueInputs, simulate_value, value_table, value_verdict

INPUTS = ValueInputs(ctr=0.5, conversion_rate=0.2, users=100, impressions=2, k=1)  # scale 20


def _ranks(greater):
    n = len(greater)
    return RankStats(np.array(greater), np.zeros(n, int), np.ones(n, bool),
                     np.zeros((n, 1), int), 10)


def _hits(pattern):
    """Rank counts whose HitRate@1 per user is ``pattern`` (1 = ranked first)."""
    return _ranks([0 if h else 5 for h in pattern])


def test_a_stronger_baseline_is_named_and_beats_the_model():
    values = np.array([10.0, 20.0, 30.0, 40.0])
    model = _hits([1, 0, 0, 0])  # revenue 20 × 10 / 4 = 50
    baselines = {"popular": _hits([0, 0, 0, 0]), "transitions": _hits([1, 1, 1, 1])}
    r = simulate_value(model, baselines, values, INPUTS, n_boot=200)
    assert r.revenue == {"personalised": 50.0, "popular": 0.0, "transitions": 500.0}
    assert r.conversions == {"personalised": 5.0, "popular": 0.0, "transitions": 20.0}
    assert r.incremental_revenue == {"popular": 50.0, "transitions": -450.0}
    assert r.best_baseline == "transitions"
    assert r.verdict() == "worse"
    assert r.verdict("popular") == "unclear"  # one hit in four users: no clear win either
    low, high = r.ci95["incremental_revenue_transitions"]
    assert low <= -450.0 <= high < 0
    kind, text = value_verdict(r, "sasrec")
    assert kind == "worse"
    assert text.startswith("**The item-to-item baseline earns more than sasrec: 450 more "
                           "revenue.**")
    assert "sasrec: revenue 50; item-to-item (the best baseline): 500; difference -450" in text
    assert "earns 50 more" not in text  # the win over the weaker baseline is not the headline
    table = value_table(r, "sasrec")
    assert table.index.tolist() == ["sasrec", "most popular", "item-to-item (best baseline)"]
    assert table["revenue"].tolist() == [50, 0, 500]
    assert table["sasrec − this"].tolist()[1:] == [50, -450]
    assert np.isnan(table.loc["sasrec", "sasrec − this"])  # shown empty
    assert r.by_k["transitions"][0] == 500.0 and len(r.by_k["transitions"]) == 20
    fig = value_figure(r, "sasrec")
    assert [t.name for t in fig.data] == ["sasrec", "item-to-item (best baseline)",
                                          "most popular"]
    assert fig.layout.xaxis.dtick == 1 and fig.layout.xaxis.tickformat == "d"


def test_a_model_that_beats_the_best_baseline_and_an_unclear_tie():
    values = np.full(200, 10.0)
    rng = np.random.default_rng(0)
    better = simulate_value(_hits(np.ones(200)), {"popular": _hits(rng.random(200) < 0.2),
                                                  "transitions": _hits(rng.random(200) < 0.5)},
                            values, INPUTS, n_boot=300)
    assert better.best_baseline == "transitions" and better.verdict() == "better"
    kind, text = value_verdict(better, "gru4rec")
    assert kind == "better" and text.startswith("**gru4rec earns ")
    assert "more than the best baseline (item-to-item).**" in text
    same = simulate_value(_hits(np.arange(200) % 2), {"transitions": _hits(np.arange(200) % 2 == 0
                                                                           )}, values, INPUTS,
                          n_boot=300)
    assert same.incremental_revenue == {"transitions": 0.0}
    assert same.verdict() == "unclear" and value_verdict(same, "m")[0] == "unclear"
    slightly_worse = simulate_value(_hits(np.arange(200) < 98), {"transitions": _hits(
        np.arange(200) < 100)}, values, INPUTS, n_boot=300)
    assert slightly_worse.verdict() == "unclear"  # interval contains 0 …
    assert value_verdict(slightly_worse, "m")[0] == "worse"  # … but it is not called a win


def test_metrics_table_rows():
    rep = {"metrics": {**{f"{m}@{k}": 0.1 for m in ("hit_rate", "ndcg") for k in (5, 10, 20)},
                       "mrr": 0.05, "coverage@10": 0.3}, "ci95": {"hit_rate@10": [0.08, 0.12]}}
    metrics = {**rep, "baselines": {"popular": rep, "transitions": rep}}
    table = metrics_table(metrics, "sasrec")
    assert table.index.tolist() == ["sasrec", "item-to-item", "most popular"]
    assert table.loc["sasrec", "HitRate@10 95% CI"] == "0.080–0.120"
    assert metrics_table(metrics, "transitions").index.tolist() == ["transitions",
                                                                   "most popular"]
