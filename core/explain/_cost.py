"""What an explanation will cost before it starts: the explainer that would run, its model
evaluations (:func:`core.explain._explainers.cost_per_row`) and the seconds they take at the
model's scoring speed measured on the run's background rows; what a page uses to decide
whether a SHAP request runs at once or as a background job."""

from __future__ import annotations

from dataclasses import dataclass

from core.explain._explain import BACKGROUND_MAX, background_sample, run_output
from core.explain._explainers import METHODS, cost_per_row, method_chain, seconds_per_evaluation
from core.runs import Run


@dataclass(frozen=True)
class ExplainCost:
    """An explanation's cost, estimated a priori.

    Attributes:
        method: Key of the explainer that would run first (``auto`` resolved).
        rows: Rows to explain.
        evaluations: Model evaluations (rows scored) in all, ``rows`` × per row.
        seconds: Estimated wall time: evaluations × the measured seconds per scored row,
            measured on a batch as large as the explainer scores in one call
            (:func:`core.explain._explainers.seconds_per_evaluation`). The explainer's own
            overhead is not counted, so it errs short (shap's permutation masking: about
            half its time on bank's network).
        bytes_per_row: Memory one explained row needs (see ``cost_per_row``).
    """

    method: str
    rows: int
    evaluations: int
    seconds: float
    bytes_per_row: int


def explain_cost(run: Run, n_rows: int, method: str = "auto",
                 background_rows: int = BACKGROUND_MAX,
                 target_class: str | None = None) -> ExplainCost:
    """Estimate what explaining ``n_rows`` test rows of a run costs.

    The model's speed is measured by scoring the background repeated to the explainer's batch
    once (see :attr:`ExplainCost.seconds`); everything else is arithmetic.

    Args:
        run: A saved binary, multiclass or regression run.
        n_rows: Test rows asked for (capped at the test split's size).
        method: ``"auto"`` or a key of ``METHODS``.
        background_rows: Background rows (<= 100).
        target_class: The class explained (multiclass runs).

    Returns:
        The :class:`ExplainCost`.

    Raises:
        ExplainError: A run SHAP does not cover, or an unknown class.
    """
    out, _, _ = run_output(run, target_class)
    rows = max(0, min(int(n_rows), len(run.test_frame)))
    key = method if method in METHODS else method_chain(run.model, run.config.model,
                                                        out.task)[0]
    pre = run.preprocessor
    bg = pre.transform(background_sample(run.background[run.features],
                                         max(1, min(background_rows, BACKGROUND_MAX))))
    evals, nbytes = cost_per_row(key, len(run.features), bg.shape[1], len(bg))
    per_eval = seconds_per_evaluation(out.scorer(run.model), bg, key, evals, rows)
    return ExplainCost(key, rows, rows * evals, rows * evals * per_eval, nbytes)
