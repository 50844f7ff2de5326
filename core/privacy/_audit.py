"""Membership-inference audit of any run, private or not: can an attacker tell the customers a
model trained on from customers it never saw?

- **Loss threshold** (Yeom et al., 2018, "Privacy Risk in Machine Learning: Analyzing the
  Connection to Overfitting"): a row is called a member when the model's loss on it is low.
  Its ROC-AUC over members (training rows) and non-members (test rows) is 0.5 for a model that
  leaks nothing this way.
- **Difficulty-calibrated** (Watson et al., 2022, "On the Importance of Difficulty Calibration
  in Membership Inference Attacks"): the score is the run's loss minus a reference model's loss
  on the same row, so rows that are easy for any model stop looking like members. The
  reference is a gradient-boosting model on the run's encoding, trained on the validation rows
  (disjoint from both audited sets; one reference model instead of the paper's several).

Intervals: percentile bootstrap of the AUC, members and non-members resampled separately.
"""

from __future__ import annotations

import json
import math

import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import roc_auc_score, roc_curve

from core.config import Settings
from core.privacy._accountant import PrivacyError
from core.runs import Run, RunSplits, predict_output, run_splits

MAX_ROWS = 2000
EPS = 1e-12


def example_losses(out: np.ndarray, y: np.ndarray, task: str) -> np.ndarray:
    """Per-example loss: cross-entropy (binary, multiclass) or squared error (regression).

    Args:
        out: Model output as :func:`core.runs.predict_output` gives it.
        y: Targets (n,).
        task: binary, multiclass or regression.

    Returns:
        float64 (n,).
    """
    if task == "binary":
        p = np.clip(np.asarray(out, np.float64), EPS, 1 - EPS)
        return -(y * np.log(p) + (1 - y) * np.log1p(-p))
    if task == "multiclass":
        p = np.clip(np.asarray(out, np.float64)[np.arange(len(y)), y.astype(np.int64)], EPS, 1)
        return -np.log(p)
    return (np.asarray(out, np.float64) - y) ** 2


def attack_auc(member_scores: np.ndarray, non_member_scores: np.ndarray, n_boot: int = 500,
               seed: int = 0) -> dict:
    """ROC-AUC of a membership score (higher = member) with a bootstrap interval.

    Args:
        member_scores: Scores of training rows (m,).
        non_member_scores: Scores of held-out rows (k,).
        n_boot: Bootstrap resamples (members and non-members resampled separately).
        seed: Seed of the resampling.

    Returns:
        ``{"attack_roc_auc", "ci95": [lo, hi], "advantage", "tpr_at_1pct_fpr"}``;
        ``advantage`` is max(TPR − FPR) over thresholds (Yeom et al.'s membership advantage).
    """
    m, k = len(member_scores), len(non_member_scores)
    labels = np.r_[np.ones(m), np.zeros(k)]
    scores = np.r_[member_scores, non_member_scores]
    auc = float(roc_auc_score(labels, scores))
    fpr, tpr, _ = roc_curve(labels, scores)
    rng = np.random.default_rng(seed)
    draws = np.empty(n_boot)
    for b in range(n_boot):  # Mann–Whitney form of the AUC: mid-ranks, ties count half
        mi, ki = rng.integers(0, m, m), rng.integers(0, k, k)
        ranks = rankdata(np.r_[member_scores[mi], non_member_scores[ki]])
        draws[b] = (ranks[:m].sum() - m * (m + 1) / 2) / (m * k)
    lo, hi = np.percentile(draws, [2.5, 97.5])
    return {"attack_roc_auc": auc, "ci95": [float(lo), float(hi)],
            "advantage": float(np.max(tpr - fpr)),
            "tpr_at_1pct_fpr": float(np.interp(0.01, fpr, tpr))}


def dp_advantage_bound(epsilon: float, delta: float) -> float:
    """The most membership advantage (TPR − FPR) any attack has on an (ε, δ)-DP model:
    (e^ε − 1 + 2δ)/(e^ε + 1) (Humphries et al., 2023; from TPR ≤ e^ε·FPR + δ)."""
    return float(min(1.0, (math.exp(epsilon) - 1 + 2 * delta) / (math.exp(epsilon) + 1)))


def _reference_losses(run: Run, s: RunSplits, rows: np.ndarray, seed: int) -> np.ndarray:
    from models.baselines import build_baseline

    task = run.task
    pre = run.preprocessor
    ref = build_baseline("hgb", seed, None, task)
    ref.fit(pre.transform(s.x.iloc[s.valid]), s.y[s.valid])
    x = pre.transform(s.x.iloc[rows])
    if task == "regression":
        return example_losses(ref.predict(x), s.y[rows], task)
    proba = np.full((len(rows), max(len(run.config.classes), 2)), EPS)
    proba[:, ref.classes_.astype(np.int64)] = ref.predict_proba(x)
    out = proba[:, 1] if task == "binary" else proba
    return example_losses(out, s.y[rows], task)


def audit_run(settings: Settings, run: Run, max_rows: int = MAX_ROWS, n_boot: int = 500,
              seed: int = 0, calibrated: bool = True) -> dict:
    """Membership-inference audit of a tabular run (any model family).

    Members are a random sample of the run's training rows, non-members as many of its test
    rows (the split is made again with the run's seed); both are scored through
    :func:`core.runs.predict_output`.

    Args:
        settings: Workspace settings.
        run: A tabular run trained in memory.
        max_rows: Rows per side, at most.
        n_boot: Bootstrap resamples for the intervals.
        seed: Seed of the row sample and the bootstrap.
        calibrated: Also run the difficulty-calibrated attack (fits one reference model).

    Returns:
        ``{"membership_inference": {"attack", "attack_roc_auc", "ci95", "advantage",
        "tpr_at_1pct_fpr", "members", "non_members", "calibrated": {...} | None,
        "dp_advantage_bound": float | None, "verdict"}}``.

    Raises:
        PrivacyError: Fewer than 20 test rows.
        RunNotFoundError: Not a tabular in-memory run, or its table changed since training.
    """
    s = run_splits(settings, run)
    n = min(max_rows, len(s.test), len(s.train))
    if n < 20:
        raise PrivacyError(f"The audit needs at least 20 test rows; run '{run.run_id}' has "
                           f"{len(s.test)}.")
    rng = np.random.default_rng(seed)
    members = np.sort(rng.choice(s.train, n, replace=False))
    non_members = np.sort(rng.choice(s.test, n, replace=False))
    rows = np.r_[members, non_members]
    out = predict_output(run.model, run.preprocessor.transform(s.x.iloc[rows][run.features]),
                         run.task, run.config.target_scaling)
    loss = example_losses(out, s.y[rows], run.task)
    result = {"attack": "loss threshold (Yeom et al. 2018)",
              **attack_auc(-loss[:n], -loss[n:], n_boot, seed), "members": int(n),
              "non_members": int(n), "calibrated": None}
    if calibrated and len(s.valid) >= 50:
        score = _reference_losses(run, s, rows, seed) - loss
        result["calibrated"] = {
            "attack": "difficulty-calibrated loss (Watson et al. 2022), reference: gradient "
                      "boosting trained on the validation rows",
            "reference_rows": len(s.valid), **attack_auc(score[:n], score[n:], n_boot, seed)}
    privacy = run.config.extra.get("privacy")
    result["dp_advantage_bound"] = (dp_advantage_bound(privacy["epsilon"], privacy["delta"])
                                    if privacy else None)
    result["verdict"] = verdict(result)
    return {"membership_inference": result}


def verdict(result: dict) -> str:
    """The audit in one sentence."""
    aucs = [result["attack_roc_auc"]]
    if result.get("calibrated"):
        aucs.append(result["calibrated"]["attack_roc_auc"])
    worst = max(aucs)
    lo = max([result["ci95"][0]] + ([result["calibrated"]["ci95"][0]]
                                     if result.get("calibrated") else []))
    if lo <= 0.5:
        text = (f"No measurable membership leak: the attacks' ROC-AUC (best {worst:.3f}) is "
                f"within chance, 0.5, given the interval.")
    elif worst < 0.55:
        text = (f"A small membership signal: the best attack tells members from non-members "
                f"with ROC-AUC {worst:.3f} (0.5 is chance).")
    else:
        text = (f"The model leaks membership: an attacker tells training customers from others "
                f"with ROC-AUC {worst:.3f} (0.5 is chance). Train with differential privacy, "
                f"more regularisation or fewer epochs.")
    if result.get("dp_advantage_bound") is not None:
        text += (f" The DP guarantee caps any attack's advantage at "
                 f"{result['dp_advantage_bound']:.3f}; measured {result['advantage']:.3f}.")
    return text


def save_audit(settings: Settings, run: Run, audit: dict) -> None:
    """Store an audit in the run's config.json (key ``privacy_audit``), written atomically."""
    path = run.folder / "config.json"
    data = json.loads(path.read_text())
    data["privacy_audit"] = audit["membership_inference"]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    tmp.replace(path)
