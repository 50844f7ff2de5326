"""What an analyst does to a table before training: profile it (types, missing values,
distributions, target balance, leakage and ID-like flags), prepare it with a replayable recipe of
steps written to a new table, and protect personal data (drop, keyed pseudonyms, generalise,
k-anonymity), with the marks kept in the warehouse.

Layer: above ``features``; imports ``core.features``, ``core.warehouse`` and the shared modules.
Private modules: ``_profile``, ``_plots``, ``_recipe``, ``_steps``, ``_privacy``.
"""

from core.tables._plots import association_figure, balance_figure, column_figure
from core.tables._privacy import (
    ACTIONS,
    PersonalMark,
    hmac_pads,
    k_anonymity,
    load_marks,
    personal_key,
    protect_table,
    pseudonym_sql,
    save_marks,
    suggest_personal,
)
from core.tables._profile import profile_table
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
    "ACTIONS", "DEFAULT_VALUE", "METHODS", "PersonalMark", "PrepResult", "Recipe", "STEP_KINDS",
    "Step", "apply_recipe", "association_figure", "balance_figure", "column_figure", "hmac_pads",
    "k_anonymity", "list_recipes", "load_marks", "personal_key", "preview_recipe", "profile_table",
    "protect_table", "pseudonym_sql", "replay_recipe", "save_marks", "suggest_personal",
]
