"""What an analyst does to a table before training: profile it (types, missing values,
distributions, target balance, leakage and ID-like flags, dates written as text), prepare it
with a replayable recipe of steps written to a new table (rows kept in file order, every change
a step makes said in its notes), and protect personal data (drop, keyed pseudonyms, generalise,
measure k-anonymity and reach it by generalising and suppressing), with the marks kept in the
warehouse; and decide which columns a training uses (leakage, identifier, personal and
post-treatment flags, said in words).

Layer: above ``features``; imports ``core.features``, ``core.warehouse`` and the shared modules.
Private modules: ``_profile``, ``_kinds`` (column kinds, identifiers), ``_plots``, ``_dates`` (text dates), ``_recipe``, ``_steps``
(steps and their fitting), ``_apply`` (steps' SQL and notes), ``_privacy``, ``_anonymity``
(k-anonymity measured and reached), ``_exclusions`` (which columns a training may use, and why
the others are left out).
"""

from core.tables._anonymity import KAnonymised, KAnonymity, k_anonymity, reach_k
from core.tables._dates import DateReadings, column_date_readings
from core.tables._exclusions import (
    REASONS,
    Exclusion,
    FeatureChoice,
    balance_tests,
    choose_features,
    treatment_flags,
)
from core.tables._kinds import id_name, identifier_reason
from core.tables._plots import association_figure, balance_figure, column_figure
from core.tables._privacy import (
    ACTIONS,
    PersonalMark,
    hmac_pads,
    load_marks,
    personal_key,
    protect_table,
    pseudonym_sql,
    save_marks,
    suggest_personal,
)
from core.tables._profile import column_flags, profile_table
from core.tables._recipe import (
    PrepResult,
    Recipe,
    apply_recipe,
    list_recipes,
    preview_recipe,
    replay_recipe,
)
from core.tables._steps import DEFAULT_VALUE, METHODS, STEP_KINDS, Step

__all__ = [
    "ACTIONS", "DEFAULT_VALUE", "DateReadings", "Exclusion", "FeatureChoice", "KAnonymised",
    "KAnonymity", "METHODS", "PersonalMark", "PrepResult", "REASONS", "Recipe", "STEP_KINDS",
    "Step", "apply_recipe", "association_figure", "balance_figure", "balance_tests",
    "choose_features", "column_date_readings", "column_figure", "column_flags", "hmac_pads",
    "id_name", "identifier_reason", "treatment_flags",
    "k_anonymity", "list_recipes", "load_marks", "personal_key", "preview_recipe", "profile_table",
    "protect_table", "pseudonym_sql", "reach_k", "replay_recipe", "save_marks", "suggest_personal",
]
