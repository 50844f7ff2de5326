"""What an analyst does to a table before training: profile it (types, missing values,
distributions, target balance, leakage and ID-like flags), prepare it with a replayable recipe of
steps written to a new table, and protect personal data (drop, keyed pseudonyms, generalise,
k-anonymity), with the marks kept in the warehouse; and decide which columns a training uses
(leakage, identifier, personal and post-treatment flags, said in words).

Layer: above ``features``; imports ``core.features``, ``core.warehouse`` and the shared modules.
Private modules: ``_profile``, ``_plots``, ``_recipe``, ``_steps``, ``_privacy``, ``_exclusions``
(which columns a training may use, and why the others are left out).
"""

from core.tables._exclusions import (
    balance_tests, choose_features, Exclusion, FeatureChoice, REASONS, treatment_flags,
)
from core.tables._plots import association_figure, balance_figure, column_figure
from core.tables._privacy import (
    ACTIONS, hmac_pads, k_anonymity, load_marks, personal_key, PersonalMark, protect_table,
    pseudonym_sql, save_marks, suggest_personal,
)
from core.tables._profile import column_flags, id_name, identifier_reason, profile_table
from core.tables._recipe import (
    apply_recipe, list_recipes, PrepResult, preview_recipe, Recipe, replay_recipe,
)
from core.tables._steps import DEFAULT_VALUE, METHODS, Step, STEP_KINDS

__all__ = [
    "ACTIONS", "DEFAULT_VALUE", "Exclusion", "FeatureChoice", "METHODS", "PersonalMark",
    "REASONS", "balance_tests", "choose_features", "column_flags", "id_name", "identifier_reason",
    "treatment_flags", "PrepResult", "Recipe", "STEP_KINDS",
    "Step", "apply_recipe", "association_figure", "balance_figure", "column_figure", "hmac_pads",
    "k_anonymity", "list_recipes", "load_marks", "personal_key", "preview_recipe", "profile_table",
    "protect_table", "pseudonym_sql", "replay_recipe", "save_marks", "suggest_personal",
]
