"""AppTest for the Evaluate and Explain pages: threshold policies, segments, undefined values,
multiclass and regression views, explainer choice and fallback, local rows, what-if, report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from core.evaluate import ThresholdPolicy, ThresholdTable
from core.evaluate._thresholds import choose_threshold
from core.runs import load_run
from tests.core.review_fixtures import multiclass_run, regression_run, write_scored_run
from tests.pages.test_pages import _run as _page


def _metrics(at) -> dict:
    return {m.label: m.value for m in at.metric}


@pytest.fixture
def bank_env(bank_ws, monkeypatch):
    """The trained bank workspace, as the app's data directory."""
    s, runs = bank_ws
    monkeypatch.setenv("LIFTLAB_DATA_DIR", str(s.data_dir))
    return s, runs


@pytest.fixture
def synthetic_env(settings, monkeypatch):
    monkeypatch.setenv("LIFTLAB_DATA_DIR", str(settings.data_dir))
    return settings


def test_multiclass_view(synthetic_env):
    rid, y, proba = multiclass_run(synthetic_env)
    at = _page("pages/evaluate.py", active_run=rid)
    assert not at.exception
    m = _metrics(at)
    pred = proba.argmax(axis=1)
    assert m["F1 (macro)"] == f"{skm.f1_score(y, pred, average='macro'):.3f}"
    assert m["ROC-AUC (one-vs-rest)"] == f"{skm.roc_auc_score(y, proba, multi_class='ovr'):.3f}"
    assert list(at.dataframe[0].value["class"]) == ["bronze", "silver", "gold"]
    assert len(at.get("plotly_chart")) == 1


def test_regression_view_and_a_run_without_a_model_says_why_it_cannot_explain(synthetic_env):
    rid, y, p = regression_run(synthetic_env)
    at = _page("pages/evaluate.py", active_run=rid)
    assert not at.exception
    m = _metrics(at)
    assert m["R²"] == f"{skm.r2_score(y, p):.3f}"
    assert m["MAE"] == f"{skm.mean_absolute_error(y, p):.3f}"
    assert len(at.get("plotly_chart")) == 2
    at = _page("pages/explain.py", active_run=rid)  # regression runs are explained too, but
    at.number_input(key="explain__rows").set_value(10).run()  # this one has scores only
    at.button(key="explain__go").click().run()
    assert not at.exception and any("has no model file" in e.value for e in at.error)


@pytest.mark.slow
def test_policies_set_the_threshold(bank_env):
    s, runs = bank_env
    run = load_run(s, runs["hgb"])
    t, v = run.test_frame, run.valid_scores
    y, score = t["__label"].to_numpy(), t["__score"].to_numpy()
    at = _page("pages/evaluate.py", active_run=runs["hgb"])
    assert not at.exception and len(at.get("plotly_chart")) == 8
    at.radio(key="evaluate__policy").set_value("best_f1").run()
    at.button(key="evaluate__apply").click().run()
    # chosen on the validation split, measured on the test split
    want = choose_threshold(ThresholdTable.build(v["__label"].to_numpy(), v["__score"].to_numpy()),
                            ThresholdPolicy("best_f1")).threshold
    assert at.slider(key="evaluate__threshold").value == pytest.approx(want)
    assert _metrics(at)["F1"] == f"{skm.f1_score(y, (score >= want).astype(int)):.3f}"
    assert any("highest F1" in x.value and "validation split" in x.value for x in at.success)
    at.radio(key="evaluate__policy").set_value("top_k").run()
    at.number_input(key="evaluate__target_top_k").set_value(0.25).run()
    at.button(key="evaluate__apply").click().run()
    chosen = at.slider(key="evaluate__threshold").value
    assert int((v["__score"] >= chosen).sum()) >= 0.25 * len(v)
    assert 0.2 < (score >= chosen).mean() < 0.3  # about the same share of the test rows
    assert any("best-scored 25%" in x.value for x in at.success)


def test_unreachable_precision_warns_and_keeps_the_threshold(synthetic_env):
    y = np.array([0, 1, 1, 0, 1, 0, 0, 0])
    s = np.array([0.95, 0.9, 0.8, 0.7, 0.6, 0.3, 0.2, 0.1])
    test = pd.DataFrame({"segment": list("abababab"), "x": np.arange(8.0), "__label": y,
                         "__score": s})
    rid = write_scored_run(synthetic_env, "20260101-000000-synthetic-tiny", "binary", test,
                           {"positive_class": "yes", "negative_class": "no"})
    at = _page("pages/evaluate.py", active_run=rid)
    at.radio(key="evaluate__policy").set_value("precision").run()
    at.number_input(key="evaluate__target_precision").set_value(1.0).run()
    at.button(key="evaluate__apply").click().run()
    assert not at.exception
    assert any("No threshold reaches precision 100%" in w.value for w in at.warning)
    assert at.slider(key="evaluate__threshold").value == 0.5


@pytest.mark.slow
def test_segments_and_undefined_precision(bank_env):
    s, runs = bank_env
    at = _page("pages/evaluate.py", active_run=runs["logreg"])
    at.slider(key="evaluate__threshold").set_value(1.0).run()
    assert not at.exception and _metrics(at)["Precision"] == "undefined"
    assert any("nothing is predicted 'yes'" in i.value for i in at.info)
    at.slider(key="evaluate__threshold").set_value(0.2).run()
    at.selectbox(key="evaluate__segment").select("marital").run()
    table = at.dataframe[0].value
    assert table["rows"].sum() == len(load_run(s, runs["logreg"]).test_frame)
    f1 = table["f1"].to_numpy(dtype=float)
    assert np.all(np.diff(f1[np.isfinite(f1)]) >= 0)


@pytest.mark.slow
def test_explain_page_local_rows_what_if_and_report(bank_env):
    s, runs = bank_env
    at = _page("pages/explain.py", active_run=runs["hgb"])
    at.number_input(key="explain__rows").set_value(120).run()
    at.button(key="explain__go").click().run()
    assert not at.exception
    assert any("TreeExplainer" in c.value and "120 test rows" in c.value for c in at.caption)
    assert any("Additivity" in c.value for c in at.caption)
    assert len(at.get("plotly_chart")) == 5  # importance, beeswarm, dependence, PD/ICE, waterfall
    assert any("SHAP values here are in **log-odds**" in c.value for c in at.caption)
    assert at.info[0].value.startswith("The probability of 'yes' is ")
    at.radio(key="explain__row_mode").set_value("surprising").run()
    assert not at.exception
    at.radio(key="explain__row_mode").set_value("id").run()
    at.number_input(key="explain__row_id").set_value(7).run()
    assert not at.exception and any("Test row 7" in m.value for m in at.markdown)
    at.toggle(key="explain__encoded").set_value(True).run()
    assert not at.exception
    next(b for b in at.selectbox if b.label == "poutcome").select("success").run()
    next(b for b in at.button if b.label == "Score the edited row").click().run()  # what-if
    assert not at.exception and any(m.label == "New score" for m in at.metric)
    labels = [d.label for d in at.get("download_button")]
    assert labels == ["Download the report (HTML)", "Download the report (PDF)"]


@pytest.mark.slow
def test_explain_page_forced_fallback_is_named(bank_env):
    s, runs = bank_env
    at = _page("pages/explain.py", active_run=runs["logreg"])
    at.number_input(key="explain__rows").set_value(20).run()
    at.selectbox(key="explain__method").select("permutation").run()
    at.button(key="explain__go").click().run()
    assert not at.exception
    assert any("PermutationExplainer" in c.value and "chosen by the user" in c.value
               for c in at.caption)
    assert at.toggle(key="explain__encoded").disabled
