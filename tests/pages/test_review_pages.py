"""AppTest of issue 13's reviewer checks on Evaluate and Explain: fairness at the page's
threshold (Fairlearn's numbers), partial dependence and ICE, SHAP interactions for trees, the
permutation importance with progress, and SHAP units said next to the charts."""

from __future__ import annotations

import pytest
from fairlearn.metrics import demographic_parity_difference

from core.runs import LABEL_COL, SCORE_COL, load_run
from tests.pages.test_pages import _run as _page

pytestmark = pytest.mark.slow


@pytest.fixture
def bank_env(bank_ws, monkeypatch):
    s, runs = bank_ws
    monkeypatch.setenv("LIFTLAB_DATA_DIR", str(s.data_dir))
    return s, runs


def test_evaluate_fairness_follows_the_threshold(bank_env):
    s, runs = bank_env
    rid = runs["hgb"]
    at = _page("pages/evaluate.py", active_run=rid)
    key = f"evaluate__fair_{rid}"
    assert at.selectbox(key=key).options[:2] == ["(choose a column)", "age"]
    at.selectbox(key=key).select("marital").run()
    assert not at.exception
    t = load_run(s, rid).test_frame
    want = demographic_parity_difference(t[LABEL_COL], (t[SCORE_COL] >= 0.5).astype(int),
                                         sensitive_features=t["marital"])
    shown = {m.label: m.value for m in at.metric}
    assert shown["Demographic parity difference"] == f"{want:.3f}"
    at.slider(key="evaluate__threshold").set_value(0.1).run()
    want = demographic_parity_difference(t[LABEL_COL], (t[SCORE_COL] >= 0.1).astype(int),
                                         sensitive_features=t["marital"])
    assert {m.label: m.value for m in at.metric}["Demographic parity difference"] == \
        f"{want:.3f}"
    assert any(e.key == "evaluate__fairness_chart" for e in at.get("plotly_chart"))


def test_explain_pdp_interactions_and_permutation(bank_env):
    s, runs = bank_env
    at = _page("pages/explain.py", active_run=runs["hgb"])
    at.number_input(key="explain__rows").set_value(100).run()
    at.button(key="explain__go").click().run()
    assert not at.exception
    at.selectbox(key=f"explain__pdp_col_{runs['hgb']}").select("job").run()
    assert not at.exception
    at.toggle(key="explain__interactions").set_value(True).run()
    assert not at.exception
    keys = [e.key for e in at.get("plotly_chart")]
    assert "explain__pdp" in keys and "explain__interaction_map" in keys
    at.toggle(key="explain__perm").set_value(True).run()
    assert not at.exception
    assert "explain__perm_chart" in [e.key for e in at.get("plotly_chart")]
