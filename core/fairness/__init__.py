"""Is the model's decision fair across groups: for a sensitive column the analyst picks, each
group's rows, selection rate, recall, false-positive rate, precision and ROC-AUC (Fairlearn's
``MetricFrame``), demographic-parity and equalised-odds differences and ratios (Fairlearn's
functions), all with bootstrap 95% intervals, at the chosen threshold.

Layer: beside ``training``; imports ``core.runs``, ``core.features``, ``core.warehouse`` and
the shared modules (Fairlearn and scikit-learn inside functions).
Private modules: ``_metrics`` (the report), ``_run`` (a run's test rows and their sensitive
values), ``_plots``.
"""

from core.fairness._metrics import DISPARITIES, GROUP_METRICS, FairnessReport, fairness_report
from core.fairness._plots import fairness_figure
from core.fairness._run import run_fairness, sensitive_values

__all__ = ["DISPARITIES", "FairnessReport", "GROUP_METRICS", "fairness_figure",
           "fairness_report", "run_fairness", "sensitive_values"]
