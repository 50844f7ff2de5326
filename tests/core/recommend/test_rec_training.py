"""Next-item runs end to end: training, saved run, runs list, recommendations, CLI, jobs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.app import JobManager, main
from core.errors import RunNotFoundError, SchemaError, TrainingError
from core.recommend import (
    EventColumns,
    NetOptions,
    RecModelConfig,
    SequenceOptions,
    leave_last_out,
    load_rec_run,
    rank_users,
    similar_items,
    summarize,
    train_recommender,
    user_report,
)
from core.recommend._value import ValueInputs, simulate_run_value
from core.runs import list_runs
from tests.conftest import CYCLE_ITEMS

pytestmark = pytest.mark.slow
COLS = EventColumns("clicks", "user_id", "item", "ts", price="price")
OPTS = SequenceOptions(min_item=1, min_user=3)


def _cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def test_transitions_run_is_saved_listed_and_exact(rec_ws):
    s, runs = rec_ws
    run = load_rec_run(s, runs["transitions"])
    assert run.config.task == "next_item" and run.config.positive_class is None
    assert run.config.rows == {"users": 30, "items": 8, "events": 300, "train_events": 240,
                                  "valid": 30, "test": 30}
    # a deterministic cycle: what followed the last item is always right
    assert run.metrics["metrics"]["hit_rate@5"] == 1.0 and run.metrics["metrics"]["mrr"] == 1.0
    popular = run.metrics["baselines"]["popular"]["metrics"]
    assert popular["hit_rate@5"] == pytest.approx(5 / 8, abs=0.1)  # 8 near-equally popular items
    listed = {r["run_id"]: r for r in list_runs(s)}[run.run_id]
    assert (listed["task"], listed["table"], listed["target"]) == ("next_item", "clicks", "item")
    assert {p.name for p in run.folder.iterdir()} == {
        "config.json", "metrics.json", "history.json", "items.json", "sequences.npz",
        "baselines.npz", "ranks.npz"}


def test_saved_ranks_match_a_fresh_ranking(rec_ws):
    s, runs = rec_ws
    run = load_rec_run(s, runs["gru4rec"])
    split = leave_last_out(run.sequences)
    fresh = summarize(rank_users(run.scorer(), split.test_histories, split.test_targets,
                                 run.exclude_seen))
    assert fresh == pytest.approx(run.metrics["metrics"])
    assert run.network is not None and len(run.history) == run.config.epochs_run == 3
    assert set(run.metrics["ci95"]) >= {"hit_rate@10", "ndcg@10", "mrr"}


def test_recommend_report_and_neighbours(rec_ws):
    s, runs = rec_ws
    run = load_rec_run(s, runs["transitions"])
    recs = run.recommend_for("u03", k=3)  # u03's sequence ends with item (3 + 9) % 8 + 1 = 5
    assert recs["item"].tolist()[0] == 6 and len(recs) == 3
    assert recs["score"].is_monotonic_decreasing
    rep = user_report(run, "u03", k=3)
    assert rep.true_item["item"] == 5 and rep.rank == 1.0
    # most recent first: u03 walked 4, 5, …, 8, 1, 2, 3, 4 before the held-out 5
    assert rep.history["item"].tolist() == [4, 3, 2, 1, 8, 7, 6, 5, 4]
    assert similar_items(run, 2)["item"].tolist() == [3]  # the only item that followed 2
    neural = load_rec_run(s, runs["gru4rec"])
    near = similar_items(neural, 2, n=3)
    assert len(near) == 3 and 2 not in near["item"].tolist()
    assert near["similarity"].between(-1, 1).all()
    with pytest.raises(SchemaError, match="User 'nobody' has no sequence"):
        run.recommend_for("nobody")
    with pytest.raises(SchemaError, match="not in run"):
        similar_items(run, 99)


def test_value_on_a_run(rec_ws):
    s, runs = rec_ws
    run = load_rec_run(s, runs["transitions"])
    r = simulate_run_value(run, ValueInputs(ctr=0.5, conversion_rate=0.2, users=1000,
                                            impressions=1, k=1), n_boot=50)
    targets = run.test_targets
    assert r.conversions["personalised"] == pytest.approx(100.0)  # every list holds the item
    assert r.revenue["personalised"] == pytest.approx(100.0 * np.mean(1.5 * targets))
    assert set(r.revenue) == {"personalised", "popular"}  # a run is not its own baseline
    assert r.best_baseline == "popular" and r.incremental_revenue["popular"] > 0


def test_sasrec_and_sampled_softmax_train(rec_ws):
    s, _ = rec_ws
    cfg = RecModelConfig("sasrec", epochs=2, embed_dim=16, window=8,
                         net=NetOptions(blocks=1, softmax="sampled", negatives=10))
    result = train_recommender(s, COLS, OPTS, cfg, n_boot=20)
    assert result.config.extra["sampled_softmax"] is True and result.config.epochs_run == 2
    run = load_rec_run(s, result.run_id)
    assert run.scorer()([np.array([1, 2])]).shape == (1, CYCLE_ITEMS + 1)


def test_cancel_and_bad_config(rec_ws):
    s, _ = rec_ws
    with pytest.raises(TrainingError, match="cancelled"):
        train_recommender(s, COLS, OPTS, RecModelConfig("gru4rec", epochs=5, embed_dim=8,
                                                        window=4), should_stop=lambda: True)
    with pytest.raises(TrainingError, match="model must be one of"):
        RecModelConfig("bert4rec")
    with pytest.raises(TrainingError, match="divisible"):
        RecModelConfig("sasrec", embed_dim=30, net=NetOptions(heads=4))


def test_background_job_runs_and_reports(rec_ws):
    s, _ = rec_ws
    jobs = JobManager(s)
    cfg = RecModelConfig("gru4rec", epochs=2, embed_dim=8, window=6)
    job_id = jobs.submit("recommend", "gru4rec on clicks",
                         lambda p, stop: train_recommender(s, COLS, OPTS, cfg, p, stop,
                                                           n_boot=10).run_id, epochs=2)
    job = jobs.wait(job_id, timeout=300)
    assert job.state == "done" and job.kind == "recommend" and job.epoch == 2
    assert set(job.history[-1]) >= {"loss", "val_hit_rate@10", "val_ndcg@10"}
    assert job.message == f"Finished: run {job.run_id}"
    assert load_rec_run(s, job.run_id).model_name == "gru4rec"


def test_cli_recommend_train_and_for(rec_ws, capsys):
    s, runs = rec_ws
    d = str(s.data_dir)
    code, out, _ = _cli(capsys, "--data-dir", d, "recommend", "train", "--table", "clicks",
                        "--user", "user_id", "--item", "item", "--time", "ts", "--min-item", "1",
                        "--min-user", "3", "--model", "popular")
    assert code == 0 and out["task"] == "next_item" and out["model"] == "popular"
    assert set(out["metrics"]) == {"hit_rate@10", "ndcg@10", "mrr"}
    assert set(out["baselines"]) == {"popular", "transitions"}
    assert out["baselines"]["transitions"]["hit_rate@10"] == 1.0
    assert out["metrics"] == out["baselines"]["popular"]
    code, out, _ = _cli(capsys, "--data-dir", d, "recommend", "for", runs["transitions"],
                        "--user", "u03", "--k", "2")
    assert code == 0 and out["user"] == "u03"
    assert len(out["items"]) == 2 and out["items"][0]["item"] == 6  # 6 always followed 5
    assert set(out["items"][0]) == {"item", "name", "score"}
    for bad in (["recommend", "for", "nope", "--user", "u03"],
                ["recommend", "for", runs["transitions"], "--user", "zz"],
                ["recommend", "train", "--table", "clicks", "--user", "user_id"],
                ["recommend", "train", "--table", "clicks", "--user", "user_id", "--item",
                 "nope", "--time", "ts"]):
        code, out, err = _cli(capsys, "--data-dir", d, *bad)
        assert code == 2 and out is None and err.startswith("error: ") and err.count("\n") == 1
    with pytest.raises(RunNotFoundError):
        load_rec_run(s, "nope")
