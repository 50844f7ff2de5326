"""Why a model says what it says: SHAP values for a bounded sample of test rows (batched
DeepLIFT for Keras networks, TreeExplainer, LinearExplainer, permutation and kernel fallbacks,
within a time budget), grouped back to source columns, cached in the run folder; one customer's
contributions in words, what-if, permutation importance; partial dependence and ICE curves for
any model (scikit-learn), SHAP interaction values for tree models.

Layer: above ``runs``; imports ``core.runs`` and the shared modules (TensorFlow and shap only
inside functions).
Private modules: ``_explain``, ``_explainers``, ``_deeplift``, ``_local``, ``_pdp``, ``_cost``
(an explanation's cost estimated before it starts).
"""

from core.explain._cost import ExplainCost, explain_cost
from core.explain._explain import (
    BACKGROUND_MAX,
    ExplainCancelled,
    explain_cached,
    explain_run,
    load_explanation,
    save_explanation,
)
from core.explain._local import (
    RowFacts,
    contributions,
    explain_in_words,
    explain_test_row,
    explainer_names,
    permutation_importance_run,
    row_facts,
    row_order,
    strongest_interaction,
    what_if,
    with_names,
)
from core.explain._pdp import (
    Interactions,
    PartialDependence,
    interaction_values_run,
    is_categorical,
    partial_dependence_run,
)

__all__ = [
    "BACKGROUND_MAX", "ExplainCancelled", "ExplainCost", "explain_cost", "Interactions", "PartialDependence", "contributions", "explain_cached",
    "explain_in_words", "explain_run", "explain_test_row", "explainer_names",
    "interaction_values_run", "is_categorical", "load_explanation", "partial_dependence_run",
    "permutation_importance_run", "row_order", "save_explanation", "strongest_interaction",
    "what_if", "with_names", "RowFacts", "row_facts",
]
