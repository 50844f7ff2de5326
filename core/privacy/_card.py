"""What a DP run's guarantee covers, in plain words, for the model card, the report, the Train
page and the command line (one text everywhere)."""

from __future__ import annotations


def guarantee_lines(privacy: dict | None) -> list[str]:
    """Sentences for a run's ``privacy`` block (config.json); one line for a non-private run.

    Args:
        privacy: The block :func:`core.privacy.spent` wrote (plus ``preprocessing``), or None.

    Returns:
        Sentences: the guarantee, what it covers and what it does not.
    """
    if not privacy:
        return ["Not trained with differential privacy: nothing bounds what the weights "
                "reveal about an individual training row (see the membership audit)."]
    bounded = privacy.get("preprocessing") == "analyst bounds"
    lines = [
        f"({privacy['epsilon']:.3g}, {privacy['delta']:.3g})-differential privacy for each "
        f"training row (add/remove one row), by DP-SGD: per-example gradients clipped to L2 "
        f"norm C = {privacy['clip']:g}, Gaussian noise σ·C with σ = "
        f"{privacy['noise_multiplier']:.3f}, {privacy['steps']:,} steps at sampling rate q = "
        f"{privacy['sampling_rate']:.4g}.",
        f"Accountant: {privacy['accountant']} ε = {privacy['epsilon']:.3g} (RDP: "
        f"{privacy['epsilon_rdp']:.3g}), target ε = {privacy['target_epsilon']:g}; sampling: "
        f"{privacy['sampling']}, as the accountant assumes.",
        "Covered: the network's weights and everything computed from them alone (scores, SHAP "
        "values, impact figures) given the preprocessor.",
        ("Preprocessing: built from analyst-given bounds (numeric ranges, category lists), so "
         "it reveals no training row and the guarantee covers the whole pipeline."
         if bounded else
         "Not covered: the preprocessor was fitted on the training rows (means, spreads, "
         "quantile bins, frequent categories); give bounds for a DP run to cover it."),
        "Not covered: the validation rows, which choose the epoch kept by early stopping; the "
        "row counts and the positive share stored with the run; the test rows kept in the run "
        "for evaluation (they are customers too: export a run with care).",
        "The per-epoch training loss is shown while training but not saved with a DP run; the "
        "SHAP background rows are drawn from the test split, not from training rows.",
    ]
    return lines + list(privacy.get("notes") or [])
