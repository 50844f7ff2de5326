"""Threshold policies: pick the decision threshold from a goal, on a run's cumulative counts.

Best F1, a target recall or precision, the best-scored share (top-k%), or the lowest expected
cost from the cost of a false positive and of a false negative (the payoff view of Elkan, 2001,
"The Foundations of Cost-Sensitive Learning"). Each is one vectorised pass over the distinct
scores of a :class:`~core.evaluate.ThresholdTable`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import SchemaError
from core.evaluate._binary import ThresholdTable, threshold_metrics
from core.evaluate._evaluation import rate_curves

POLICIES = ("best_f1", "recall", "precision", "top_k", "cost")


@dataclass(frozen=True)
class ThresholdPolicy:
    """A rule that picks the decision threshold for the analyst.

    Attributes:
        kind: ``best_f1``; ``recall`` or ``precision`` (reach ``target``); ``top_k`` (flag the
            best-scored ``target`` share, in (0, 1]); ``cost`` (lowest ``cost_fp × FP +
            cost_fn × FN``).
        target: Target recall / precision / share, in (0, 1].
        cost_fp: Cost of one false positive (>= 0).
        cost_fn: Cost of one false negative (>= 0).
    """

    kind: str = "best_f1"
    target: float | None = None
    cost_fp: float = 1.0
    cost_fn: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in POLICIES:
            raise SchemaError(f"policy must be one of {', '.join(POLICIES)}; got {self.kind!r}.")
        if self.kind in ("recall", "precision", "top_k") and not (
                self.target is not None and 0.0 < self.target <= 1.0):
            raise SchemaError(f"The {self.kind} policy needs a target in (0, 1], e.g. 0.8; "
                              f"got {self.target!r}.")
        if self.cost_fp < 0 or self.cost_fn < 0 or self.cost_fp + self.cost_fn == 0:
            raise SchemaError(f"Costs must be >= 0 and not both 0; got false positive "
                              f"{self.cost_fp}, false negative {self.cost_fn}.")


@dataclass(frozen=True)
class PolicyChoice:
    """The threshold a policy picked, and why.

    Attributes:
        threshold: Scores ``>=`` this are predicted positive.
        explanation: One plain-language sentence.
        flagged: Rows predicted positive at that threshold, on the split it was chosen on.
        expected_cost: ``cost_fp × FP + cost_fn × FN`` (cost policy only, else None), on that
            split.
        split: The split it was chosen on: ``validation``, ``test``, or ``evaluation`` (the
            rows given to :func:`choose_threshold`).
    """

    threshold: float
    explanation: str
    flagged: int
    expected_cost: float | None = None
    split: str = "evaluation"


def _pick(table: ThresholdTable, policy: ThresholdPolicy) -> tuple[int, float | None]:
    """Index into ``table.thresholds`` (-1 = flag nobody) chosen by the policy."""
    tp, fp = table.tp.astype(float), table.fp.astype(float)
    rates = rate_curves(tp, fp, table.n_pos)
    if policy.kind == "best_f1":
        return int(np.nanargmax(rates["f1"])) if table.n_pos else 0, None
    if policy.kind == "recall":
        ok = np.flatnonzero(rates["recall"] >= policy.target - 1e-12)
        return (int(ok[0]) if ok.size else table.thresholds.size - 1), None
    if policy.kind == "precision":
        ok = np.flatnonzero(rates["precision"] >= policy.target - 1e-12)
        if not ok.size:
            best = np.nanmax(rates["precision"]) if table.n_pos else 0.0
            raise SchemaError(f"No threshold reaches precision {policy.target:.0%} on this "
                              f"evaluation set (the highest is {best:.1%}). Lower the target.")
        return int(ok[-1]), None
    if policy.kind == "top_k":
        want = int(np.ceil(policy.target * (table.n_pos + table.n_neg) - 1e-9))
        return int(np.searchsorted(tp + fp, max(want, 1), side="left")), None
    cost = np.r_[policy.cost_fn * table.n_pos,
                 policy.cost_fp * fp + policy.cost_fn * (table.n_pos - tp)]
    best = int(np.argmin(cost))
    return best - 1, float(cost[best])


def choose_run_threshold(valid_scores, test_table: ThresholdTable,
                         policy: ThresholdPolicy) -> PolicyChoice:
    """Pick a run's threshold on its validation split, so the test metrics stay honest.

    A threshold tuned on the rows it is then measured on flatters them (the best F1 of a
    test split is above what the same threshold gives on new rows). The validation split took
    no part in the test metrics; only early stopping saw it. Runs saved without validation
    scores fall back to the test split, and the explanation says so.

    Args:
        valid_scores: The run's ``valid_scores`` frame (``__label``, ``__score``), or None.
        test_table: The test split's :class:`ThresholdTable` (the fallback).
        policy: The rule.

    Returns:
        The :class:`PolicyChoice`; its explanation starts with the split it was chosen on.

    Raises:
        SchemaError: The precision target cannot be reached on that split.
    """
    if valid_scores is not None and len(valid_scores) and valid_scores["__label"].nunique() == 2:
        table = ThresholdTable.build(valid_scores["__label"].to_numpy(),
                                     valid_scores["__score"].to_numpy())
        choice, split = choose_threshold(table, policy), "validation"
        note = (f"Chosen on the validation split ({len(valid_scores):,} rows, not used by the "
                f"test metrics): ")
    else:
        choice, split = choose_threshold(test_table, policy), "test"
        note = ("Chosen on the test split itself (this run has no saved validation scores; "
                "retrain it to get them), so its test metrics at this threshold are a little "
                "optimistic: ")
    return PolicyChoice(choice.threshold, note + choice.explanation[0].lower()
                        + choice.explanation[1:], choice.flagged, choice.expected_cost, split)


def choose_threshold(table: ThresholdTable, policy: ThresholdPolicy) -> PolicyChoice:
    """Pick the threshold a policy asks for.

    ``best_f1`` maximises F1; ``recall`` takes the highest threshold whose recall reaches the
    target (so precision is as high as it can be); ``precision`` the lowest threshold whose
    precision reaches it (so recall is as high as it can be); ``top_k`` the threshold that flags
    the best-scored share (ties at the cut are all flagged); ``cost`` minimises
    ``cost_fp × FP + cost_fn × FN`` (flagging nobody included).

    Args:
        table: The evaluation set's :class:`ThresholdTable`.
        policy: The rule.

    Returns:
        The :class:`PolicyChoice`.

    Raises:
        SchemaError: The precision target cannot be reached.
    """
    k, cost = _pick(table, policy)
    if k < 0:
        t = float(np.nextafter(table.thresholds[0], np.inf))
        conf = table.confusion(t)
    else:
        t = float(table.thresholds[k])
        conf = table.confusion(t)
    m = threshold_metrics(conf)
    flagged = int(conf[0, 1] + conf[1, 1])
    n = int(conf.sum())
    return PolicyChoice(t, _explain_choice(policy, t, m, flagged, n, cost), flagged, cost)


def _pct(v: float | None) -> str:
    return "undefined" if v is None else f"{v:.1%}"


def _explain_choice(policy, t, m, flagged, n, cost) -> str:
    at = f"Threshold {t:.4f} flags {flagged:,} of {n:,} rows ({flagged / max(n, 1):.1%})"
    tail = f"precision {_pct(m['precision'])}, recall {_pct(m['recall'])}, F1 {_pct(m['f1'])}"
    if policy.kind == "best_f1":
        return f"{at}: the highest F1 there ({tail})."
    if policy.kind == "recall":
        return f"{at}: the highest threshold that reaches recall {policy.target:.0%} ({tail})."
    if policy.kind == "precision":
        return f"{at}: the lowest threshold that keeps precision at {policy.target:.0%} ({tail})."
    if policy.kind == "top_k":
        return f"{at}: the best-scored {policy.target:.0%}, ties at the cut included ({tail})."
    return (f"{at}: the lowest expected cost, {cost:,.2f} with a false positive costing "
            f"{policy.cost_fp:g} and a false negative {policy.cost_fn:g} ({tail}).")
