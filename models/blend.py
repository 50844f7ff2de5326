"""A weighted average of two fitted models' outputs: LiftLab's ``ensemble`` (a Keras network and
histogram gradient boosting), one model to every caller.

Plain Python on purpose: no Keras, no scikit-learn import, no pickle. A run saves the members in
their own safe formats (``model.keras``, ``model.skops``) and the weights in ``blend.json``;
:func:`core.runs.predict_output` scores a :class:`Blend` as the weighted sum of its members'
outputs, each on the output scale of the run (probabilities for classification, the target's
units for regression).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

WEIGHT_GRID = tuple(round(0.05 * i, 2) for i in range(21))  # the network's weight, 0 … 1


@dataclass
class Blend:
    """Two fitted models whose outputs are averaged with fixed weights.

    Attributes:
        network: A Keras network reading every encoded column.
        booster: A fitted scikit-learn estimator reading the encoded columns ``columns``.
        weight: The network's weight ``w`` in [0, 1]; the output is
            ``w · network + (1 − w) · booster``.
        columns: Encoded column indices the booster reads (the standardised value of each
            numeric column and every one-hot level; the network's piecewise-linear bins are
            left out, as trees split on the value itself).
        names: Member names, e.g. ``("tabm", "hgb")``.
        selection: How the weight was chosen (criterion, grid, validation scores), when known.
    """

    network: object
    booster: object
    weight: float
    columns: list[int] = field(default_factory=list)
    names: tuple[str, str] = ("tabm", "hgb")
    selection: dict = field(default_factory=dict)

    @property
    def weights(self) -> tuple[float, float]:
        """``(network weight, booster weight)``, summing to 1."""
        return float(self.weight), 1.0 - float(self.weight)

    def booster_input(self, x: np.ndarray) -> np.ndarray:
        """The booster's columns of encoded rows, shape (n_rows, len(columns))."""
        return np.asarray(x)[:, self.columns]

    def to_json(self) -> dict:
        """``blend.json``: weights, names, the booster's columns and the weight's selection."""
        return {"names": list(self.names), "weights": list(self.weights),
                "columns": [int(c) for c in self.columns], "selection": self.selection}

    @classmethod
    def from_json(cls, data: dict, network, booster) -> Blend:
        """Rebuild from :meth:`to_json` output and the loaded members."""
        return cls(network, booster, float(data["weights"][0]), list(data["columns"]),
                   tuple(data["names"]), dict(data.get("selection", {})))


def best_weight(score, outputs: Sequence[np.ndarray], higher_is_better: bool = True,
                grid: Sequence[float] = WEIGHT_GRID) -> tuple[float, list[float]]:
    """The network's weight that scores best on validation rows.

    Args:
        score: ``score(output) -> float`` of a blended output on the validation rows
            (e.g. ROC-AUC, or minus the log loss).
        outputs: ``(network output, booster output)`` on the validation rows, same scale,
            shape (n,) or (n, n_classes).
        higher_is_better: Whether a larger score is better.
        grid: Candidate weights of the network, in [0, 1].

    Returns:
        ``(weight, scores)``: the best weight (ties go to the weight nearest 0.5, the plain
        average) and the score of every grid weight.
    """
    net, boost = (np.asarray(o, dtype=np.float64) for o in outputs)
    scores = [float(score(w * net + (1.0 - w) * boost)) for w in grid]
    sign = 1.0 if higher_is_better else -1.0
    best = max(range(len(grid)), key=lambda i: (sign * scores[i], -abs(grid[i] - 0.5)))
    return float(grid[best]), scores
