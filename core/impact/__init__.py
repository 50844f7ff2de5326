"""What acting on a model is worth: the scenario vocabulary (decision, economics, current policy),
targeting simulation with conversions, lift, profit and ROI with bootstrap intervals, saved
scenarios on a population (test split or a scored table), the credit-risk view, the A/B planner
and readout, and the Impact page's figures.

Layer: above ``runs`` and ``tables``; imports ``core.runs``, ``core.evaluate``, ``core.tables``,
``core.features``, ``core.warehouse`` and the shared modules.
Private modules: ``_inputs``, ``_simulate``, ``_scenarios``, ``_credit``, ``_abtest``, ``_plots``.
"""

from core.impact._abtest import ABReadout, ab_counts, ab_counts_frame, plan_ab, read_ab
from core.impact._credit import bad_class_meaning, credit_view
from core.impact._inputs import (
    DECISION_LABELS,
    DECISION_RULES,
    Decision,
    ScenarioInputs,
    targeted_count,
)
from core.impact._plots import (
    ab_figure,
    credit_figure,
    impact_gains_figure,
    impact_lift_figure,
    incremental_figure,
    profit_figure,
    scenarios_figure,
    segments_figure,
    sensitivity_figure,
    uplift_curve_figure,
)
from core.impact._scenarios import (
    compare_scenarios,
    delete_scenario,
    describe_population,
    id_columns,
    list_scenarios,
    load_population,
    run_scenario,
    save_scenario,
    simulate_population,
    targeted_list,
    write_targeted_table,
)
from core.impact._simulate import ImpactResult, sensitivity, simulate_scenario

__all__ = [
    "ABReadout", "DECISION_LABELS", "DECISION_RULES", "Decision", "ImpactResult", "ScenarioInputs",
    "ab_counts", "ab_counts_frame", "ab_figure", "bad_class_meaning", "compare_scenarios",
    "credit_figure", "credit_view", "delete_scenario", "describe_population", "id_columns",
    "impact_gains_figure", "impact_lift_figure", "incremental_figure", "list_scenarios",
    "load_population", "plan_ab", "profit_figure", "read_ab", "run_scenario", "save_scenario",
    "scenarios_figure", "segments_figure", "sensitivity", "sensitivity_figure",
    "simulate_population", "simulate_scenario", "targeted_count", "targeted_list",
    "uplift_curve_figure", "write_targeted_table",
]
