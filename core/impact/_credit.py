"""Credit-risk view of the same ranking: approval rate against bad rate and expected loss.

A lender approves the applicants with the lowest risk score first. For each approval rate the
view counts the bad loans approved and the good applicants refused, and prices them with a cost
matrix. Statlog German credit's documentation gives the classic one: approving a bad applicant
costs 5, refusing a good one costs 1 (Hofmann, 1994; UCI doi:10.24432/C5NC77). With calibrated
probabilities the cost-minimising rule approves when ``p_bad < c_fn / (c_fn + c_fp)``, 1/6 for
5:1 (Elkan, 2001, "The foundations of cost-sensitive learning").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import SimulationError

CURVE_POINTS = 100
BAD_LABELS = ("bad", "default", "defaulted", "delinquent", "charged off", "charged_off",
              "bad loan", "bad_loan", "written off", "write-off")
GOOD_LABELS = ("good", "paid", "repaid", "fully paid", "fully_paid", "good loan", "good_loan",
               "current", "performing")
DEFAULT_TARGETS = ("default", "defaulted", "is_default", "bad", "is_bad", "bad_loan",
                   "delinquent", "delinquency", "charged_off", "loan_default", "default_flag")
YES_LIKE = ("yes", "y", "1", "true", "t")


def bad_class_meaning(target: str, positive: str) -> bool | None:
    """Whether the positive class clearly means a bad loan, clearly a good one, or is unknown.

    Only labels that name a loan outcome count (``bad``, ``default``, ``good``, ``paid`` …), or
    a yes-like label of a target named like a default flag (``default``, ``is_bad`` …). A
    marketing target such as ``y`` = ``yes`` is unknown: the analyst must say what it means.

    Args:
        target: The run's target column.
        positive: The label of the positive class.

    Returns:
        True for a bad loan, False for a good one, None when the labels do not say.

    Example:
        >>> bad_class_meaning("y", "yes") is None, bad_class_meaning("status", "bad")
        (True, True)
    """
    label, name = str(positive).strip().lower(), str(target).strip().lower()
    if label in BAD_LABELS:
        return True
    if label in GOOD_LABELS:
        return False
    if name in DEFAULT_TARGETS and label in YES_LIKE:
        return True
    return None


@dataclass(frozen=True)
class CreditView:
    """Approval-rate trade-off of a risk score.

    Attributes:
        applicants: Applicants in the population.
        bad_rate_all: Share of bad applicants.
        cost_bad_approved: Cost of approving one bad applicant.
        cost_good_refused: Cost of refusing one good applicant.
        best_approval_rate: Approval rate with the lowest expected loss (any whole number).
        best_approved: Applicants approved there.
        best_threshold: Highest risk score approved there (None when nobody is approved).
        best_bad_rate: Bad rate among the approved there (None when nobody is approved).
        best_loss: Expected loss per applicant there.
        loss_approve_all: Expected loss per applicant when approving everyone.
        loss_refuse_all: Expected loss per applicant when refusing everyone.
        curve: Per approval rate (<= 101 points, including 0): ``approval_rate``,
            ``bad_rate`` (NaN at 0), ``loss_per_applicant``, ``approved``, ``threshold`` (lists).
    """

    applicants: int
    bad_rate_all: float
    cost_bad_approved: float
    cost_good_refused: float
    best_approval_rate: float
    best_approved: int
    best_threshold: float | None
    best_bad_rate: float | None
    best_loss: float
    loss_approve_all: float
    loss_refuse_all: float
    curve: dict


def credit_view(bad: np.ndarray, risk: np.ndarray, cost_bad_approved: float = 5.0,
                cost_good_refused: float = 1.0) -> CreditView:
    """Expected loss of approving the lowest-risk applicants first, at every approval rate.

    Args:
        bad: 1 for a bad loan (default), 0 for a good one, shape (n_applicants,).
        risk: Risk score (e.g. predicted probability of bad), shape (n_applicants,); lower is
            approved first.
        cost_bad_approved: Cost of approving a bad applicant (> 0), e.g. 5.
        cost_good_refused: Cost of refusing a good applicant (> 0), e.g. 1.

    Returns:
        The :class:`CreditView`; losses are per applicant, in the cost matrix's units.

    Raises:
        SimulationError: Empty input, unequal lengths or non-positive costs.

    Example:
        >>> v = credit_view(np.array([0, 0, 1, 0, 1]), np.array([.1, .2, .3, .4, .5]))
        >>> v.best_approved, v.best_loss
        (2, 0.2)
    """
    bad = np.asarray(bad, dtype=np.float64).ravel()
    risk = np.asarray(risk, dtype=np.float64).ravel()
    if bad.size == 0 or bad.size != risk.size:
        raise SimulationError("The applicants are empty or outcomes and scores differ in length.")
    if cost_bad_approved <= 0 or cost_good_refused <= 0:
        raise SimulationError(f"Both costs must be > 0; got {cost_bad_approved} for a bad loan "
                              f"approved and {cost_good_refused} for a good applicant refused.")
    order = np.argsort(risk, kind="mergesort")
    n = bad.size
    approved = np.arange(n + 1)
    bad_in = np.r_[0.0, np.cumsum(bad[order])]
    goods = n - bad.sum()
    loss = (cost_bad_approved * bad_in + cost_good_refused * (goods - (approved - bad_in))) / n
    best = int(np.argmin(loss))
    grid = np.unique(np.round(np.linspace(0, 1, CURVE_POINTS + 1) * n).astype(int))
    threshold = np.r_[np.nan, risk[order]]
    with np.errstate(invalid="ignore", divide="ignore"):
        bad_rate = bad_in / approved
    return CreditView(
        applicants=n, bad_rate_all=float(bad.mean()), cost_bad_approved=float(cost_bad_approved),
        cost_good_refused=float(cost_good_refused), best_approval_rate=best / n,
        best_approved=best, best_threshold=float(threshold[best]) if best else None,
        best_bad_rate=float(bad_rate[best]) if best else None, best_loss=float(loss[best]),
        loss_approve_all=float(loss[-1]), loss_refuse_all=float(loss[0]),
        curve={"approval_rate": (grid / n).tolist(), "bad_rate": bad_rate[grid].tolist(),
               "loss_per_applicant": loss[grid].tolist(), "approved": grid.tolist(),
               "threshold": threshold[grid].tolist()},
    )
