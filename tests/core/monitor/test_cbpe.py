"""CBPE on synthetic populations: right when P(y|x) holds, visibly wrong when it changes;
realised metrics and their intervals; calibration check and recalibration."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import f1_score, roc_auc_score

from core.monitor import Cells, calibration_check, fit_calibration, metrics_from, score_support
from core.monitor._calibration import FILE, load_or_fit
from core.monitor._cbpe import band, estimated, realized, single_class

THRESHOLD = 0.3


def _population(n: int, slope: float, seed: int, label_slope: float | None = None):
    """Scores that are calibrated probabilities sigmoid(-1.5 + slope·x); labels drawn from
    sigmoid(-1.5 + label_slope·x) (the same relation unless ``label_slope`` changes it)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    p = 1 / (1 + np.exp(-(-1.5 + slope * x)))
    q = p if label_slope is None else 1 / (1 + np.exp(-(-1.5 + label_slope * x)))
    return p, (rng.random(n) < q).astype(float)


def _cells(p, y):
    return Cells.build(score_support(p, (THRESHOLD,)), p, p, y)


def _sd(ci):
    return (ci[1] - ci[0]) / (2 * 1.96)


def test_cbpe_estimates_auc_and_f1_within_sampling_error_of_the_realised_values():
    p, y = _population(20000, 1.6, seed=0)
    cells = _cells(p, y)
    t = cells.threshold_cell(THRESHOLD)
    est, real = estimated(cells, t), realized(cells, t, n_boot=400)
    exact_auc = roc_auc_score(y, p)
    exact_f1 = f1_score(y, p >= THRESHOLD)
    # the realised numbers from the cells are the exact ones (binning costs < 1e-3)
    assert real["roc_auc"] == pytest.approx(exact_auc, abs=1e-3)
    assert real["f1"] == pytest.approx(exact_f1, abs=1e-12)
    for key, exact in (("roc_auc", exact_auc), ("f1", exact_f1)):
        sd = _sd(real["ci95"][key])
        assert 0 < sd < 0.02
        assert abs(est[key] - exact) < 3 * sd, (key, est[key], exact, sd)
    assert "P(y|x)" in est["assumption"]


def test_changed_relation_between_x_and_y_moves_the_realised_value_away_from_the_estimate():
    p, y = _population(20000, 1.6, seed=1, label_slope=0.4)  # concept drift: x matters less
    cells = _cells(p, y)
    t = cells.threshold_cell(THRESHOLD)
    est, real = estimated(cells, t), realized(cells, t, n_boot=400)
    sd = _sd(real["ci95"]["roc_auc"])
    assert est["roc_auc"] - real["roc_auc"] > 10 * sd
    assert not real["ci95"]["roc_auc"][0] <= est["roc_auc"] <= real["ci95"]["roc_auc"][1]


def test_expected_confusion_matrix_is_the_sum_of_probabilities():
    p = np.array([0.9, 0.8, 0.4, 0.2, 0.1])
    cells = Cells.build(score_support(p, (0.5,)), p, p)
    m = metrics_from(cells.sum_p, cells.n - cells.sum_p, cells.threshold_cell(0.5))
    tp, fp, fn = 0.9 + 0.8, 0.1 + 0.2, 0.4 + 0.2 + 0.1
    assert m["precision"] == pytest.approx(tp / (tp + fp))
    assert m["recall"] == pytest.approx(tp / (tp + fn))
    assert m["f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
    # NannyML's expected ROC curve: rank by score, tpr = cumsum(p) / Σp, fpr = cumsum(1-p) / Σ(1-p)
    tpr = np.r_[0, np.cumsum(p) / p.sum()]
    fpr = np.r_[0, np.cumsum(1 - p) / (1 - p).sum()]
    assert m["roc_auc"] == pytest.approx(np.trapezoid(tpr, fpr), rel=1e-12)


def test_single_class_chunk_says_why_metrics_are_undefined():
    p = np.linspace(0.05, 0.6, 50)
    cells = Cells.build(score_support(p, (0.5,)), p, p, np.zeros(50))
    t = cells.threshold_cell(0.5)
    real = realized(cells, t, n_boot=50)
    assert real["roc_auc"] is None and real["recall"] is None and real["ci95"]["roc_auc"] is None
    why = single_class(cells, "yes")
    assert "no 'yes' outcome" in why and "undefined" in why


def test_band_is_the_reference_resampled_at_the_chunk_size():
    p, y = _population(8000, 1.6, seed=2)
    cells = _cells(p, y)
    t = cells.threshold_cell(THRESHOLD)
    small, large = band(cells, t, 500)["roc_auc"], band(cells, t, 50000)["roc_auc"]
    assert small["reference"] == pytest.approx(roc_auc_score(y, p), abs=1e-3)
    assert small["lower"] < large["lower"] < small["reference"] < large["upper"] < small["upper"]


def test_calibration_check_keeps_calibrated_scores_and_fixes_distorted_ones():
    p, y = _population(5000, 1.6, seed=3)
    ok = fit_calibration(y, p, balanced=False)
    assert ok.method == "none" and ok.checked and "used as they are" in ok.note
    distorted = p ** 0.4                      # far too high
    ece, hl_p = calibration_check(y, distorted)
    assert ece > 0.1 and hl_p < 1e-6
    cal = fit_calibration(y, distorted, balanced=False)
    assert cal.method == "isotonic" and cal.ece_after < 0.02
    # few rows: Platt scaling instead of isotonic
    small = fit_calibration(y[:400], distorted[:400], balanced=False)
    assert small.method == "platt"
    assert calibration_check(y[:400], small.apply(distorted[:400]))[0] < ece / 3


def test_calibration_is_saved_with_the_run_once(tmp_path):
    import pandas as pd

    p, y = _population(3000, 1.6, seed=4)
    valid = pd.DataFrame({"__label": y, "__score": p ** 0.4})
    cal = load_or_fit(tmp_path, valid, balanced=False)
    saved = json.loads((tmp_path / FILE).read_text())
    assert saved["method"] == cal.method == "isotonic" and not list(tmp_path.glob(".*tmp"))
    again = load_or_fit(tmp_path, None, balanced=False)  # read back, not refitted
    assert again.to_dict() == cal.to_dict()
    assert np.allclose(again.apply(p ** 0.4), cal.apply(p ** 0.4))
    (tmp_path / FILE).write_text('{"method": "isotonic", "params": {"x": "oops"}}')
    assert load_or_fit(tmp_path, valid, balanced=False).to_dict() == cal.to_dict()  # refitted
    none = load_or_fit(tmp_path / "old", None, balanced=True)
    assert none.method == "none" and not none.checked and "no validation scores" in none.note
