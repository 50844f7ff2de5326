"""Layout of the Impact page's figures: titles that fit a third of a page, legends that keep
clear of the axis titles."""

from __future__ import annotations

import numpy as np
import pytest

from core.impact import (
    Decision,
    ScenarioInputs,
    ab_figure,
    credit_figure,
    credit_view,
    impact_gains_figure,
    impact_lift_figure,
    profit_figure,
    read_ab,
    scenarios_figure,
    sensitivity,
    sensitivity_figure,
    simulate_scenario,
)
from core.specs import Economics

RNG = np.random.default_rng(0)
SCORES = RNG.random(2000)
Y = (RNG.random(2000) < SCORES ** 3 * 0.5).astype(int)
INPUTS = ScenarioInputs(Decision("fraction", 0.2), Economics(5, 100), "age < 30", 50, 1)
RESULT = simulate_scenario(Y, SCORES, INPUTS, policy_mask=RNG.random(2000) < 0.1)


def _figures():
    saved = [{"name": "A", "curve": RESULT.curve, "summary": RESULT.summary()}]
    return {
        "profit": profit_figure(RESULT), "gains": impact_gains_figure(RESULT),
        "lift": impact_lift_figure(RESULT),
        "sensitivity": sensitivity_figure(sensitivity(RESULT, INPUTS.economics), 0.2),
        "scenarios": scenarios_figure(saved), "ab": ab_figure(read_ab(110, 1000, 150, 1000, 0.5)),
        "credit": credit_figure(credit_view(Y, SCORES)),
    }


@pytest.mark.parametrize("name", list(_figures()))
def test_legend_sits_at_the_foot_of_the_figure_not_on_the_axis_title(name):
    fig = _figures()[name]
    legend = fig.layout.legend
    # relative to the whole figure: Plotly reserves room below the x-axis title for it
    assert (legend.yref, legend.y, legend.yanchor, legend.orientation) == \
        ("container", 0, "bottom", "h")
    assert fig.layout.xaxis.automargin is True
    title = fig.layout.title
    assert title.xanchor == "left" and len(title.text) <= 36  # fits a third of a wide page


def test_impact_curves_have_short_titles_and_mark_the_chosen_share():
    figs = _figures()
    assert [figs[k].layout.title.text for k in ("profit", "gains", "lift")] == \
        ["Profit by share contacted", "Cumulative gains", "Cumulative lift"]
    for k in ("gains", "lift"):
        assert any(s.x0 == pytest.approx(RESULT.fraction) for s in figs[k].layout.shapes)
    names = [t.name for t in figs["profit"].data]
    assert "current policy" in names and "your scenario" in names
    assert figs["credit"].layout.yaxis2.automargin is True


def test_gains_curve_keeps_its_values():
    fig = impact_gains_figure(RESULT)
    model = next(t for t in fig.data if t.name == "model")
    assert list(model.y[1:]) == pytest.approx(RESULT.curve["gain"])
