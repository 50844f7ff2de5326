"""Partial dependence and ICE equal scikit-learn's on a baseline (same grid, same average and
individual curves), networks get the same grid, and tree runs get SHAP interaction values whose
row sums are their SHAP values."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.inspection import partial_dependence

from core.errors import ExplainError
from core.explain import interaction_values_run, partial_dependence_run
from core.runs import load_run

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


def _encoded_reference(run, feature, pd_run, rows=300, seed=0):
    """scikit-learn's partial dependence of the fitted estimator on the encoded rows, with the
    same grid mapped through the run's standardisation."""
    test = run.test_frame
    take = np.sort(np.random.default_rng(seed).choice(len(test), min(rows, len(test)),
                                                      replace=False))
    x = run.preprocessor.transform(test.iloc[take][run.features])
    j = run.preprocessor.feature_names_out_.index(feature)
    _, mean, std = run.preprocessor.numeric_[feature]
    grid = (np.asarray(pd_run.grid, dtype=float) - mean) / std
    return partial_dependence(run.model, x, [j], custom_values={j: grid}, method="brute",
                              kind="both")


@pytest.mark.parametrize("model", ["hgb", "logreg"])
def test_pdp_equals_scikit_learn_on_a_baseline(bank_ws, model):
    s, runs = bank_ws
    run = load_run(s, runs[model])
    got = partial_dependence_run(run, "euribor3m", rows=300)
    ref = _encoded_reference(run, "euribor3m", got)
    assert got.average == pytest.approx(ref["average"][0], abs=1e-6)  # float32 inputs
    assert got.individual == pytest.approx(ref["individual"][0], abs=1e-6)
    values = run.test_frame["euribor3m"]
    assert len(got.grid) == 20 and got.grid[0] == pytest.approx(np.quantile(
        values.iloc[np.sort(np.random.default_rng(0).choice(len(values), 300, replace=False))],
        0.05))
    assert got.individual.shape == (300, 20) and got.output == "probability of yes"


def test_categorical_pdp_and_network_grid(bank_ws):
    s, runs = bank_ws
    mlp, hgb = load_run(s, runs["mlp"]), load_run(s, runs["hgb"])
    a = partial_dependence_run(mlp, "euribor3m", rows=100)
    b = partial_dependence_run(hgb, "euribor3m", rows=100)
    assert a.grid == b.grid  # the same grid for networks and baselines
    age = partial_dependence_run(hgb, "age", rows=100)  # an integer column
    assert len(age.grid) == 20 and age.average.shape == (20,)
    job = partial_dependence_run(mlp, "job", rows=100)
    assert job.categorical and set(job.grid) <= set(mlp.preprocessor.categories_["job"]) | {
        "(missing)"}
    # brute force by hand: every row set to one level, the run's own scoring path
    x = mlp.test_frame.iloc[np.sort(np.random.default_rng(0).choice(len(mlp.test_frame), 100,
                                                                    replace=False))]
    x = x[mlp.features].reset_index(drop=True)
    level = job.grid[0]
    assert job.average[0] == pytest.approx(float(np.mean(mlp.predict(x.assign(job=level)))),
                                           abs=1e-6)
    with pytest.raises(ExplainError, match="not a feature"):
        partial_dependence_run(mlp, "duration")


def test_shap_interaction_values_for_trees(bank_ws):
    import shap

    s, runs = bank_ws
    hgb = load_run(s, runs["hgb"])
    inter = interaction_values_run(hgb, rows=60)
    enc = hgb.preprocessor.transform(inter.rows)
    sv = np.asarray(shap.TreeExplainer(hgb.model).shap_values(enc)).reshape(60, -1)
    cols = hgb.preprocessor.source_columns_
    grouped = np.stack([sv[:, [k for k, c in enumerate(cols) if c == name]].sum(axis=1)
                        for name in inter.columns], axis=1)
    assert inter.values.sum(axis=2) == pytest.approx(grouped, abs=1e-6)
    top = inter.top_pairs(3)
    assert list(top.columns) == ["first", "second", "mean_abs_interaction"]
    assert top["mean_abs_interaction"].is_monotonic_decreasing
    with pytest.raises(ExplainError, match="tree model"):
        interaction_values_run(load_run(s, runs["mlp"]))


def test_permutation_importance_with_progress_equals_one_scikit_learn_call(bank_ws):
    from sklearn.inspection import permutation_importance
    from sklearn.metrics import roc_auc_score

    from core.explain import permutation_importance_run
    from core.explain._local import _Scorer
    from core.runs import LABEL_COL

    s, runs = bank_ws
    run = load_run(s, runs["logreg"])
    seen = []
    got = permutation_importance_run(run, rows=400, repeats=3,
                                     progress=lambda d, t, c: seen.append((d, t)))
    assert seen[0] == (0, len(run.features)) and seen[-1] == (len(run.features),) * 2
    test = run.test_frame
    take = np.sort(np.random.default_rng(0).choice(len(test), 400, replace=False))
    frame = test.iloc[take][run.features].reset_index(drop=True)
    y = test[LABEL_COL].to_numpy()[take]
    ref = permutation_importance(_Scorer(run), frame, y, n_repeats=3, random_state=0,
                                 scoring=lambda e, x, t: roc_auc_score(t, e.run.predict(x)))
    want = dict(zip(run.features, ref.importances_mean))
    assert dict(zip(got["feature"], got["importance"])) == pytest.approx(want, abs=1e-12)
