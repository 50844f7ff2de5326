"""Differential privacy of trained networks (not the personal-data marks of ``core.tables``):
the DP-SGD accountant on Google's ``dp-accounting`` (RDP and PLD for the Poisson-subsampled
Gaussian mechanism), the noise multiplier for a target ε, preprocessing from analyst-given
bounds, what a guarantee covers in words, the membership-inference audit of any run (loss
threshold and difficulty-calibrated attacks with bootstrap intervals) and the privacy/utility
curve. The DP-SGD train step itself is :mod:`models.dp`.

Layer: beside ``evaluate``; imports ``core.runs``, ``core.features``, ``core.warehouse`` and the
shared modules (``dp_accounting`` and Plotly only inside functions or at module level; no
TensorFlow).
Private modules: ``_accountant``, ``_bounds``, ``_audit``, ``_card``, ``_plots``.
"""

from core.privacy._accountant import (
    MAX_NOISE,
    DPPlan,
    PrivacyError,
    default_delta,
    epsilon_for,
    noise_for_epsilon,
    plan_dp,
    spent,
    steps_per_epoch,
)
from core.privacy._audit import (
    attack_auc,
    audit_run,
    dp_advantage_bound,
    example_losses,
    save_audit,
    verdict,
)
from core.privacy._bounds import bounded_preprocessor, bounds_json, parse_bounds, suggest_bounds
from core.privacy._card import guarantee_lines
from core.privacy._plots import privacy_utility_figure, privacy_utility_points

__all__ = [
    "MAX_NOISE",
    "DPPlan",
    "PrivacyError",
    "attack_auc",
    "audit_run",
    "bounded_preprocessor",
    "bounds_json",
    "default_delta",
    "dp_advantage_bound",
    "epsilon_for",
    "example_losses",
    "guarantee_lines",
    "noise_for_epsilon",
    "parse_bounds",
    "plan_dp",
    "privacy_utility_figure",
    "privacy_utility_points",
    "save_audit",
    "spent",
    "steps_per_epoch",
    "suggest_bounds",
    "verdict",
]
