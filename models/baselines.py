"""scikit-learn baselines that every DNN result stands next to."""

from __future__ import annotations


def build_baseline(name: str, seed: int = 42, class_weight: str | None = None):
    """Create an unfitted scikit-learn classifier.

    Args:
        name: ``"logreg"`` (L2 logistic regression, lbfgs) or ``"hgb"``
            (``HistGradientBoostingClassifier`` with early stopping).
        seed: Random seed.
        class_weight: ``"balanced"`` or None.

    Returns:
        An estimator with ``fit(X, y)`` and ``predict_proba(X)``; X of shape
        (n_samples, n_features), y of shape (n_samples,) with values 0/1.

    Raises:
        ValueError: Unknown name.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    if name == "logreg":
        return LogisticRegression(max_iter=2000, C=1.0, class_weight=class_weight)
    if name == "hgb":
        return HistGradientBoostingClassifier(random_state=seed, class_weight=class_weight)
    raise ValueError(f"Unknown baseline '{name}'; expected 'logreg' or 'hgb'.")
