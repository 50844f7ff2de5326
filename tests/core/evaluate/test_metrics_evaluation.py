"""Precomputed evaluation: curves, calibration, deciles, threshold policies and segments, checked
against scikit-learn and brute force on small fixed data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from core.errors import SchemaError
from core.evaluate import SegmentTables, ThresholdPolicy, ThresholdTable, evaluate_scores
from core.evaluate._evaluation import calibration_bins, curves_from_table, decile_table
from core.evaluate._segments import segment_labels
from core.evaluate._thresholds import choose_threshold


@pytest.fixture
def scored():
    rng = np.random.default_rng(11)
    y = (rng.random(1500) < 0.2).astype(int)
    s = np.clip(rng.normal(0.35 + 0.25 * y, 0.18), 0, 1).round(3)
    return y, s


def _brute(y, s):
    """Every distinct threshold with its confusion counts, by plain counting."""
    out = []
    for t in np.unique(s)[::-1]:
        pred = s >= t
        out.append((t, int(np.sum(~pred & (y == 0))), int(np.sum(pred & (y == 0))),
                    int(np.sum(~pred & (y == 1))), int(np.sum(pred & (y == 1)))))
    return out


def test_curves_equal_sklearn(scored):
    y, s = scored
    c = curves_from_table(ThresholdTable.build(y, s))
    fpr, tpr, _ = skm.roc_curve(y, s, drop_intermediate=False)
    assert np.allclose(c["roc"]["fpr"], fpr) and np.allclose(c["roc"]["tpr"], tpr)
    p, r, _ = skm.precision_recall_curve(y, s)
    assert np.allclose(c["pr"]["precision"][1:], p[::-1][1:])
    assert np.allclose(c["pr"]["recall"][1:], r[::-1][1:])


def test_curves_are_thinned_for_large_data():
    rng = np.random.default_rng(0)
    y = (rng.random(200_000) < 0.1).astype(int)
    c = curves_from_table(ThresholdTable.build(y, rng.random(200_000)))
    assert len(c["roc"]["fpr"]) <= 2001 and c["roc"]["fpr"][-1] == 1.0


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_calibration_matches_sklearn(scored, strategy):
    y, s = scored
    cal = calibration_bins(y, s, n_bins=8, strategy=strategy)
    true, pred = calibration_curve(y, s, n_bins=8, strategy=strategy)
    assert np.allclose(cal["prob_true"], true) and np.allclose(cal["prob_pred"], pred)
    assert cal["count"].sum() == len(y)
    ece = np.sum(cal["count"] * np.abs(cal["prob_true"] - cal["prob_pred"])) / len(y)
    assert cal["ece"] == pytest.approx(ece)


def test_decile_table_hand_computed():
    y = np.array([1, 1, 0, 1, 0, 0, 0, 0, 0, 0])
    s = np.linspace(1, 0, 10)
    d = decile_table(y, s, groups=5)
    assert d["positives"].tolist() == [2, 1, 0, 0, 0]
    assert d["cum_gain"].tolist() == pytest.approx([2 / 3, 1, 1, 1, 1])
    assert d["lift"][0] == pytest.approx(1.0 / 0.3)
    assert d["perfect_gain"].tolist() == pytest.approx([2 / 3, 1, 1, 1, 1])


def test_evaluation_at_threshold_matches_direct_metrics(scored):
    y, s = scored
    ev = evaluate_scores(y, s, "yes", "no", n_boot=100)
    rep = ev.at(0.45)
    pred = (s >= 0.45).astype(int)
    assert rep.metrics["f1"] == pytest.approx(skm.f1_score(y, pred))
    assert set(rep.ci95) >= {"roc_auc", "pr_auc", "f1", "precision", "recall"}
    lo, hi = rep.ci95["f1"]
    assert lo < rep.metrics["f1"] < hi
    i = np.searchsorted(ev.sweep["threshold"], 0.45)
    assert ev.sweep["recall"][i] == pytest.approx(skm.recall_score(y, pred))
    assert ev.point(0.45)["tpr"] == pytest.approx(skm.recall_score(y, pred))


def test_best_f1_policy_is_the_brute_force_optimum(scored):
    y, s = scored
    choice = choose_threshold(ThresholdTable.build(y, s), ThresholdPolicy("best_f1"))
    best = max(_brute(y, s), key=lambda r: (2 * r[4] / (2 * r[4] + r[2] + r[3]), r[0]))
    assert choice.threshold == pytest.approx(best[0])
    assert "highest F1" in choice.explanation


def test_recall_and_precision_targets(scored):
    y, s = scored
    table = ThresholdTable.build(y, s)
    c = choose_threshold(table, ThresholdPolicy("recall", 0.8))
    ok = [r for r in _brute(y, s) if r[4] / (r[4] + r[3]) >= 0.8]
    assert c.threshold == pytest.approx(max(r[0] for r in ok))
    c = choose_threshold(table, ThresholdPolicy("precision", 0.6))
    ok = [r for r in _brute(y, s) if r[4] + r[2] and r[4] / (r[4] + r[2]) >= 0.6]
    assert c.threshold == pytest.approx(min(r[0] for r in ok))
    assert skm.precision_score(y, (s >= c.threshold).astype(int)) >= 0.6
    with pytest.raises(SchemaError, match="No threshold reaches precision 100%"):
        choose_threshold(table, ThresholdPolicy("precision", 1.0))


def test_top_k_flags_the_share_with_ties_included():
    s = np.array([0.9, 0.8, 0.8, 0.5, 0.4, 0.3, 0.2, 0.2, 0.1, 0.0])
    y = np.array([1, 0, 1, 0, 0, 1, 0, 0, 0, 0])
    table = ThresholdTable.build(y, s)
    assert choose_threshold(table, ThresholdPolicy("top_k", 0.1)).threshold == 0.9
    c = choose_threshold(table, ThresholdPolicy("top_k", 0.2))
    assert c.threshold == 0.8 and c.flagged == 3 and "ties" in c.explanation


def test_cost_policy_minimises_expected_cost(scored):
    y, s = scored
    c = choose_threshold(ThresholdTable.build(y, s), ThresholdPolicy("cost", cost_fp=1, cost_fn=5))
    costs = [(r[2] * 1 + r[3] * 5, r[0]) for r in _brute(y, s)]
    assert c.expected_cost == pytest.approx(min(costs)[0])
    c = choose_threshold(ThresholdTable.build(y, s),
                         ThresholdPolicy("cost", cost_fp=100, cost_fn=1))
    assert c.flagged == 0 and c.expected_cost == pytest.approx(y.sum())  # flag nobody


def test_policy_validation():
    with pytest.raises(SchemaError, match="target in"):
        ThresholdPolicy("recall")
    with pytest.raises(SchemaError, match="policy must be one of"):
        ThresholdPolicy("youden")
    with pytest.raises(SchemaError, match="not both 0"):
        ThresholdPolicy("cost", cost_fp=0, cost_fn=0)


def test_segments_match_sklearn_per_group(scored):
    y, s = scored
    rng = np.random.default_rng(2)
    job = pd.Series(rng.choice(["admin", "blue", "tech", None], len(y)))
    seg = SegmentTables.build(y, s, job, "job")
    df = seg.at(0.4, sort_by="f1")
    assert set(df["segment"]) == {"admin", "blue", "tech", "(missing)"}
    assert df["rows"].sum() == len(y)
    f1 = pd.to_numeric(df["f1"]).to_numpy()
    assert np.all(np.diff(f1) >= 0)  # worst first
    for row in df.itertuples():
        mask = (job.fillna("(missing)") == row.segment).to_numpy()
        assert row.f1 == pytest.approx(skm.f1_score(y[mask], (s[mask] >= 0.4).astype(int)))
        assert row.roc_auc == pytest.approx(skm.roc_auc_score(y[mask], s[mask]))


def test_segment_labels_bins_numbers_and_caps_levels():
    ages = pd.Series(np.arange(100, dtype=float))
    assert segment_labels(ages).nunique() == 5
    many = pd.Series([f"c{i % 30}" for i in range(300)])
    labels = segment_labels(many, max_levels=12)
    assert labels.nunique() == 13 and "(other)" in set(labels)


def test_single_class_segment_is_undefined_not_zero():
    y = np.array([0, 0, 0, 1, 1, 0])
    s = np.array([0.1, 0.6, 0.2, 0.7, 0.8, 0.3])
    seg = SegmentTables.build(y, s, pd.Series(["a", "a", "a", "b", "b", "b"]), "g")
    a = seg.at(0.5).set_index("segment").loc["a"]
    assert a["roc_auc"] is None or pd.isna(a["roc_auc"])
    assert a["recall"] is None or pd.isna(a["recall"])


def test_run_threshold_is_chosen_on_the_validation_split(scored):
    from core.evaluate import choose_run_threshold

    y, s = scored
    test_table = ThresholdTable.build(y, s)
    rng = np.random.default_rng(5)
    yv = (rng.random(400) < 0.3).astype(int)
    sv = np.clip(rng.normal(0.35 + 0.3 * yv, 0.2), 0, 1)
    valid = pd.DataFrame({"__label": yv, "__score": sv})
    policy = ThresholdPolicy("best_f1")
    c = choose_run_threshold(valid, test_table, policy)
    on_valid = choose_threshold(ThresholdTable.build(yv, sv), policy)
    assert c.threshold == on_valid.threshold != choose_threshold(test_table, policy).threshold
    assert c.explanation.startswith("Chosen on the validation split (400 rows, not used by the "
                                    "test metrics): threshold ")
    fallback = choose_run_threshold(None, test_table, policy)
    assert fallback.threshold == choose_threshold(test_table, policy).threshold
    assert fallback.explanation.startswith("Chosen on the test split itself")


def test_small_segments_are_ranked_after_the_others():
    rng = np.random.default_rng(3)
    y = np.r_[rng.integers(0, 2, 200), [1, 0, 1, 0, 1]]  # 5 rows, 3 positives
    s = np.r_[rng.random(200), [0.1, 0.9, 0.2, 0.8, 0.1]]  # the small group: all wrong
    groups = pd.Series(["big_a"] * 100 + ["big_b"] * 100 + ["tiny"] * 5)
    df = SegmentTables.build(y, s, groups, "g").at(0.5, sort_by="f1")
    assert df["segment"].tolist()[-1] == "tiny" and df["f1"].iloc[-1] == 0.0
    assert df["small"].tolist() == [False, False, True]
    big = pd.to_numeric(df["f1"].iloc[:2]).to_numpy()
    assert big[0] <= big[1]  # worst first among the large segments


def test_a_segment_with_few_positives_is_small_whatever_its_rows():
    y = np.r_[np.zeros(61, int), np.ones(4, int), np.tile([0, 1], 50)]  # 65 rows, 4 positives
    s = np.linspace(0, 1, len(y))
    groups = pd.Series(["few"] * 65 + ["many"] * 100)
    df = SegmentTables.build(y, s, groups, "g").at(0.5).set_index("segment")
    assert bool(df.loc["few", "small"]) and not bool(df.loc["many", "small"])
