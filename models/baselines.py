"""scikit-learn baselines that every DNN result stands next to."""

from __future__ import annotations

BASELINES = ("logreg", "hgb")


def build_baseline(name: str, seed: int = 42, class_weight: str | None = None,
                   task: str = "binary"):
    """Create an unfitted scikit-learn estimator.

    Args:
        name: ``"logreg"`` (L2 logistic regression, lbfgs; ridge regression for a regression
            task) or ``"hgb"`` (``HistGradientBoostingClassifier``/``Regressor``).
        seed: Random seed.
        class_weight: ``"balanced"`` or None (classification only).
        task: ``binary``, ``multiclass`` or ``regression``.

    Returns:
        An estimator with ``fit(X, y)`` and ``predict`` (plus ``predict_proba`` for
        classification); X of shape (n_samples, n_features).

    Raises:
        ValueError: Unknown name.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.linear_model import LogisticRegression, Ridge

    regression = task == "regression"
    if name == "logreg":
        if regression:
            return Ridge(alpha=1.0)
        return LogisticRegression(max_iter=2000, C=1.0, class_weight=class_weight)
    if name == "hgb":
        if regression:
            return HistGradientBoostingRegressor(random_state=seed)
        return HistGradientBoostingClassifier(random_state=seed, class_weight=class_weight)
    raise ValueError(f"Unknown baseline '{name}'; expected one of {', '.join(BASELINES)}.")


def estimator_summary(model) -> dict:
    """What a fitted baseline is, for the run's config and the model card.

    Args:
        model: A fitted scikit-learn estimator from :func:`build_baseline`.

    Returns:
        ``{"class": name, "params": {the JSON-ready entries of get_params()},
        "iterations": boosting iterations or solver iterations actually run (or None)}``.
    """
    params = {k: v for k, v in model.get_params().items()
              if v is None or isinstance(v, bool | int | float | str)}
    n_iter = getattr(model, "n_iter_", None)
    if n_iter is not None and not isinstance(n_iter, int):  # LogisticRegression: an array
        n_iter = int(max(n_iter))
    return {"class": type(model).__name__, "params": params,
            "iterations": None if n_iter is None else int(n_iter)}
