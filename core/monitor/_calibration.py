"""Is the run's score a probability? Check on the validation split, recalibrate when it is not.

Performance estimation without labels (CBPE) reads each score as the probability of the
positive class, so it is only as good as the scores' calibration. The check runs once per run
on its validation split (rows neither fitted on nor used by the test metrics):

- expected calibration error (ECE) over 10 equal-count bins (Naeini et al., 2015), and
- the Hosmer–Lemeshow statistic over the same bins, chi-squared with 8 degrees of freedom
  (Hosmer & Lemeshow, 1980).

Calibration is *poor* when the Hosmer–Lemeshow test rejects at 5% and the ECE is at least 0.02
(a difference both real and large enough to matter), or when the run was trained with balanced
class weights (its scores then overstate the rare class by construction). A poor run gets a
calibrator fitted on the validation split: isotonic regression (Zadrozny & Elkan, 2002;
``sklearn.isotonic.IsotonicRegression``) with at least 1,000 rows and 50 of each class, else
Platt scaling (Platt, 1999: a logistic regression on the score's logit). The decision and the
calibrator are saved with the run as ``calibration.json`` (written atomically), so the check
runs once; runs saved without validation scores keep their raw scores and say so.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FILE = "calibration.json"
BINS = 10
ECE_POOR = 0.02
HL_ALPHA = 0.05
ISOTONIC_MIN_ROWS = 1000
ISOTONIC_MIN_CLASS = 50


@dataclass(frozen=True)
class Calibration:
    """How a run's scores become probabilities.

    Attributes:
        method: ``none`` (scores used as they are), ``isotonic`` or ``platt``.
        checked: Whether the run's validation split was checked.
        rows: Validation rows checked.
        ece: Expected calibration error of the raw scores on them (None when unchecked).
        hl_p: Hosmer–Lemeshow p-value of the raw scores (None when unchecked).
        ece_after: ECE after recalibration, on the same rows (in-sample; None without one).
        params: ``{"x": [...], "y": [...]}`` (isotonic) or ``{"a", "b"}`` (Platt).
        note: One sentence for the reader.
    """

    method: str = "none"
    checked: bool = False
    rows: int = 0
    ece: float | None = None
    hl_p: float | None = None
    ece_after: float | None = None
    params: dict = field(default_factory=dict)
    note: str = ""

    def apply(self, scores: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of raw scores (shape kept), clipped to [0, 1]."""
        s = np.asarray(scores, dtype=np.float64)
        if self.method == "isotonic":
            out = np.interp(s, self.params["x"], self.params["y"])
        elif self.method == "platt":
            z = self.params["a"] * _logit(s) + self.params["b"]
            out = 1.0 / (1.0 + np.exp(-z))
        else:
            out = s
        return np.clip(out, 0.0, 1.0)

    def to_dict(self) -> dict:
        """JSON form (as saved)."""
        return {"method": self.method, "checked": self.checked, "rows": self.rows,
                "ece": self.ece, "hl_p": self.hl_p, "ece_after": self.ece_after,
                "params": self.params, "note": self.note}


def _logit(s: np.ndarray) -> np.ndarray:
    s = np.clip(s, 1e-6, 1 - 1e-6)
    return np.log(s / (1 - s))


def calibration_check(y: np.ndarray, s: np.ndarray, bins: int = BINS) -> tuple[float, float]:
    """ECE and the Hosmer–Lemeshow p-value over equal-count bins.

    Args:
        y: 0/1 labels, shape (n,).
        s: Scores in [0, 1], shape (n,).
        bins: Number of bins.

    Returns:
        ``(ece, hl_p)``.
    """
    from scipy import stats

    order = np.argsort(s, kind="mergesort")
    groups = np.array_split(order, bins)
    ece, hl, used = 0.0, 0.0, 0
    for g in groups:
        if not g.size:
            continue
        used += 1
        obs, exp = y[g].sum(), s[g].sum()
        ece += abs(obs - exp) / y.size
        var = exp * (1 - exp / g.size)
        hl += (obs - exp) ** 2 / var if var > 0 else 0.0
    p = float(stats.chi2.sf(hl, max(used - 2, 1)))
    return float(ece), p


def fit_calibration(y: np.ndarray, s: np.ndarray, balanced: bool) -> Calibration:
    """Check the scores of a validation split and fit a calibrator when they are poor.

    Args:
        y: 0/1 labels, shape (n,).
        s: Raw scores, shape (n,).
        balanced: The run used balanced class weights.

    Returns:
        The :class:`Calibration` (``method`` ``none`` when the scores are fine).
    """
    y = np.asarray(y, dtype=np.float64)
    s = np.asarray(s, dtype=np.float64)
    ece, p = calibration_check(y, s)
    base = {"checked": True, "rows": int(y.size), "ece": ece, "hl_p": p}
    poor = balanced or (p < HL_ALPHA and ece >= ECE_POOR)
    if not poor:
        return Calibration(note=f"Scores are calibrated on the validation split ({y.size:,} rows: "
                                f"ECE {ece:.3f}, Hosmer–Lemeshow p = {p:.2g}); used as they "
                                f"are.", **base)
    n_min = min(int(y.sum()), int(y.size - y.sum()))
    why = "balanced class weights" if balanced else f"ECE {ece:.3f}, Hosmer–Lemeshow p = {p:.2g}"
    if y.size >= ISOTONIC_MIN_ROWS and n_min >= ISOTONIC_MIN_CLASS:
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(s, y)
        cal = Calibration("isotonic", params={"x": iso.X_thresholds_.tolist(),
                                              "y": iso.y_thresholds_.tolist()}, **base)
    else:
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=1e6).fit(_logit(s)[:, None], y.astype(int))
        cal = Calibration("platt", params={"a": float(lr.coef_[0, 0]),
                                           "b": float(lr.intercept_[0])}, **base)
    after = calibration_check(y, cal.apply(s))[0]
    note = (f"Scores were poorly calibrated on the validation split ({why}); "
            f"{cal.method} calibration fitted there (ECE {after:.3f} after, in-sample) is "
            f"applied before estimating performance.")
    return Calibration(cal.method, True, int(y.size), ece, p, after, cal.params, note)


def _read(path: Path) -> Calibration | None:
    """A saved calibration, or None when the file does not hold a usable one (e.g. an imported
    run's damaged file: it is then checked again and rewritten)."""
    try:
        data = json.loads(path.read_text())
        cal = Calibration(**{k: data.get(k, v) for k, v in Calibration().to_dict().items()})
        if cal.method not in ("none", "isotonic", "platt"):
            return None
        cal.apply(np.array([0.1, 0.5, 0.9]))  # the parameters work
        return cal
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def load_or_fit(folder: Path, valid_scores, balanced: bool) -> Calibration:
    """The run's saved calibration, or a new check (saved atomically) when there is none.

    Args:
        folder: The run folder.
        valid_scores: The run's validation ``__label``/``__score`` frame, or None.
        balanced: The run used balanced class weights.

    Returns:
        The :class:`Calibration`; runs without validation scores get ``none`` with a note and
        nothing is written.
    """
    path = folder / FILE
    saved = _read(path) if path.exists() else None
    if saved is not None:
        return saved
    if valid_scores is None or len(valid_scores) < 20 or valid_scores["__label"].nunique() < 2:
        warn = (" It was trained with balanced class weights, so its scores overstate the "
                "positive class and the estimates will be too high.") if balanced else ""
        return Calibration(note="This run has no validation scores (saved before 2026-12-01), "
                                "so its calibration cannot be checked; estimates read its raw "
                                "scores as probabilities." + warn)
    cal = fit_calibration(valid_scores["__label"].to_numpy(), valid_scores["__score"].to_numpy(),
                          balanced)
    tmp = folder / f".{FILE}.tmp"
    tmp.write_text(json.dumps(cal.to_dict(), indent=2))
    os.replace(tmp, path)
    return cal
