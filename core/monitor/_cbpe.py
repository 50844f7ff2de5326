"""Performance without labels (CBPE), realised performance, and the band a chunk should fall in.

Confidence-based performance estimation (NannyML, "How it works: performance estimation"):
when the scores are calibrated probabilities p_i, a row scored p_i is a positive with
probability p_i, so the confusion matrix at threshold t has expected cells
TP = Σ_{s_i >= t} p_i, FP = Σ_{s_i >= t} (1 − p_i), FN = Σ_{s_i < t} p_i, TN = Σ_{s_i < t} (1 − p_i),
and precision, recall and F1 follow from them. The expected ROC curve ranks rows by score and
accumulates p_i as true and 1 − p_i as false positives; its area is the estimated ROC-AUC. All of
it holds only while P(y | x) is what it was when the scores were calibrated (covariate shift is
fine, concept drift is not), which every estimate states.

Realised metrics use the labels, with 95% percentile intervals from a bootstrap over rows (one
multinomial draw over the (cell, class) counts per resample, the same distribution as resampling
rows; Efron & Tibshirani, 1993). The band around the reference is NannyML's idea of a sampling
error: the reference (test split) resampled at the chunk's size, mean ± 3 standard deviations.
"""

from __future__ import annotations

import numpy as np

from core.monitor._cells import Cells

METRICS = ("roc_auc", "precision", "recall", "f1")
ASSUMPTION = ("Estimated from the scores, assuming P(y|x) has not changed since training "
              "(no concept drift).")
N_BOOT = 300
BAND_BOOT = 100
BAND_SIGMAS = 3.0


def _safe(num, den):
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def metrics_from(pos: np.ndarray, neg: np.ndarray, t_cell: int) -> dict[str, np.ndarray]:
    """ROC-AUC, precision, recall, F1 and positive rate from (expected or observed) positives
    and negatives per cell.

    Args:
        pos: Positives per cell in increasing score order, shape (..., k).
        neg: Negatives per cell, same shape.
        t_cell: First cell predicted positive.

    Returns:
        Metric name → array of shape ``pos.shape[:-1]`` (NaN where undefined).
    """
    pos, neg = np.asarray(pos, dtype=np.float64), np.asarray(neg, dtype=np.float64)
    p_tot, n_tot = pos.sum(axis=-1), neg.sum(axis=-1)
    dp, dn = pos[..., ::-1], neg[..., ::-1]  # best scores first
    above = np.cumsum(dp, axis=-1) - dp       # positives strictly above each cell
    auc = _safe(((above + dp / 2) * dn).sum(axis=-1), p_tot * n_tot)
    tp, fp = pos[..., t_cell:].sum(axis=-1), neg[..., t_cell:].sum(axis=-1)
    fn = p_tot - tp
    return {"roc_auc": auc, "precision": _safe(tp, tp + fp), "recall": _safe(tp, p_tot),
            "f1": _safe(2 * tp, 2 * tp + fp + fn),
            "positive_rate": _safe(p_tot, p_tot + n_tot)}


def _compact(pos: np.ndarray, neg: np.ndarray, t_cell: int):
    """Drop empty cells (they change no metric) before resampling; the threshold cell moves
    to the number of kept cells below it."""
    keep = (pos + neg) > 0
    return pos[keep], neg[keep], int(np.count_nonzero(keep[:t_cell]))


def _num(v) -> float | None:
    v = float(v)
    return v if np.isfinite(v) else None


def estimated(cells: Cells, t_cell: int) -> dict:
    """CBPE estimates of a chunk (calibrated probabilities as expected labels).

    Returns:
        ``{"roc_auc", "precision", "recall", "f1", "positive_rate", "assumption"}``.
    """
    m = metrics_from(cells.sum_p, cells.n - cells.sum_p, t_cell)
    return {**{k: _num(v) for k, v in m.items()}, "assumption": ASSUMPTION}


def single_class(cells: Cells, positive: str) -> str | None:
    """Why realised metrics are undefined (labelled rows of one class only), or None."""
    p, n = int(cells.pos.sum()), int(cells.neg.sum())
    if p and n:
        return None
    if not p and not n:
        return "No row of this chunk has a known outcome."
    which = f"no '{positive}' outcome" if not p else f"every labelled row is '{positive}'"
    return (f"Only one class among its {p + n:,} labelled rows ({which}): ROC-AUC, and "
            f"{'recall and F1' if not p else 'the negative side of the ROC curve'}, are "
            f"undefined.")


def realized(cells: Cells, t_cell: int, n_boot: int = N_BOOT, seed: int = 0) -> dict:
    """Realised metrics of the labelled rows with bootstrap 95% intervals.

    Returns:
        ``{"roc_auc", "precision", "recall", "f1", "positive_rate", "rows", "ci95": {metric:
        [lo, hi] | None}}``; undefined metrics are None.
    """
    point = metrics_from(cells.pos, cells.neg, t_cell)
    out = {k: _num(v) for k, v in point.items()}
    out["rows"] = cells.labelled
    ci = dict.fromkeys(METRICS)
    n = cells.labelled
    if n_boot and n:
        pos, neg, t = _compact(cells.pos, cells.neg, t_cell)
        k = pos.size
        draws = np.random.default_rng(seed).multinomial(n, np.r_[pos, neg] / n, size=n_boot)
        boot = metrics_from(draws[:, :k], draws[:, k:], t)
        for key in METRICS:
            b = boot[key][np.isfinite(boot[key])]
            if out[key] is not None and b.size >= 0.9 * n_boot:
                ci[key] = [float(v) for v in np.percentile(b, [2.5, 97.5])]
    out["ci95"] = ci
    return out


def band(reference: Cells, t_cell: int, rows: int, seed: int = 0) -> dict:
    """The range a chunk of ``rows`` rows drawn like the reference falls in.

    Args:
        reference: The test split's cells (labelled).
        t_cell: First cell predicted positive.
        rows: The chunk's rows.
        seed: Seed of the resampling.

    Returns:
        Metric → ``{"reference", "lower", "upper"}`` (reference value ± 3 bootstrap standard
        deviations at that size, clipped to [0, 1]); None where undefined.
    """
    ref = metrics_from(reference.pos, reference.neg, t_cell)
    n = reference.labelled
    if not n or rows <= 0:
        return dict.fromkeys(METRICS)
    pos, neg, t = _compact(reference.pos, reference.neg, t_cell)
    k = pos.size
    draws = np.random.default_rng(seed).multinomial(int(rows), np.r_[pos, neg] / n,
                                                    size=BAND_BOOT)
    boot = metrics_from(draws[:, :k], draws[:, k:], t)
    out = {}
    for key in METRICS:
        b = boot[key][np.isfinite(boot[key])]
        value = _num(ref[key])
        if value is None or b.size < 10:
            out[key] = None
            continue
        sd = float(np.std(b))
        out[key] = {"reference": value, "lower": max(0.0, value - BAND_SIGMAS * sd),
                    "upper": min(1.0, value + BAND_SIGMAS * sd)}
    return out


def _top(cells_desc_n: np.ndarray, values_desc: np.ndarray, k: float) -> float:
    """Sum of ``values`` over the best ``k`` rows (the cell on the boundary pro rata)."""
    cum_n = np.cumsum(cells_desc_n)
    cum_v = np.cumsum(values_desc)
    j = int(np.searchsorted(cum_n, k, side="left"))
    if j >= cum_n.size:
        return float(cum_v[-1]) if cum_v.size else 0.0
    before_n = cum_n[j - 1] if j else 0.0
    before_v = cum_v[j - 1] if j else 0.0
    share = (k - before_n) / cells_desc_n[j] if cells_desc_n[j] else 0.0
    return float(before_v + share * values_desc[j])
