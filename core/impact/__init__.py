"""impact: TODO face docstring."""

from core.impact._abtest import ABReadout, ab_counts_frame, plan_ab, read_ab
from core.impact._credit import bad_class_meaning, credit_view
from core.impact._inputs import policy_rule_mask, sql_column_names
from core.impact._plots import (
    ab_figure, credit_figure, impact_gains_figure, impact_lift_figure, incremental_figure,
    profit_figure, scenarios_figure, segments_figure, sensitivity_figure, uplift_curve_figure,
)
from core.impact._scenarios import (
    compare_scenarios, delete_scenario, describe_population, id_columns, list_scenarios,
    load_population, run_scenario, save_scenario, simulate_population, targeted_list,
    write_targeted_table,
)
from core.impact._simulate import (
    DECISION_LABELS, DECISION_RULES, Decision, Economics, ImpactResult, ScenarioInputs,
    sensitivity, simulate_scenario, simulate_targeting, targeted_count,
)

__all__ = ["ABReadout", "DECISION_LABELS", "DECISION_RULES", "Decision", "Economics", "ImpactResult", "ScenarioInputs", "ab_counts_frame", "ab_figure", "bad_class_meaning", "compare_scenarios", "credit_figure", "credit_view", "delete_scenario", "describe_population", "id_columns", "impact_gains_figure", "impact_lift_figure", "incremental_figure", "list_scenarios", "load_population", "plan_ab", "policy_rule_mask", "profit_figure", "read_ab", "run_scenario", "save_scenario", "scenarios_figure", "segments_figure", "sensitivity", "sensitivity_figure", "simulate_population", "simulate_scenario", "simulate_targeting", "sql_column_names", "targeted_count", "targeted_list", "uplift_curve_figure", "write_targeted_table"]
