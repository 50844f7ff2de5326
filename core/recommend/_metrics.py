"""Next-item ranking metrics over the whole catalogue, with bootstrap intervals over users.

Every item of the catalogue is ranked for every user; nothing is sampled (sampled-negative
metrics can reverse model comparisons: Krichene & Rendle, 2020, "On sampled metrics for item
recommendation", KDD). Items tied with the true next item are ordered at random, and the metrics
are their exact expectation under that random order, so a model that scores everything alike
gets chance-level numbers, not a perfect score:

- the true item lands at positions g+1 … g+t+1 with equal chance, where g items scored higher
  and t others tied;
- HitRate@K = share of those positions <= K; NDCG@K = mean of 1 / log2(position + 1) over the
  positions <= K (one relevant item, so the ideal DCG is 1); MRR = mean of 1 / position.

A true item that may not be recommended (already seen, when seen items are excluded) is a miss.
Intervals are percentile bootstrap 95% intervals over users (Efron & Tibshirani, 1993).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

KS = (5, 10, 20)
BATCH_USERS = 512

ScoreFn = Callable[[list[np.ndarray]], np.ndarray]


@dataclass(frozen=True)
class RankStats:
    """Where each user's true next item ranked.

    Attributes:
        greater: Items scored strictly higher than the true item, shape (n_users,) int64.
        ties: Other items scored exactly as high, shape (n_users,) int64.
        reachable: Whether the true item could be recommended at all, shape (n_users,) bool.
        top_items: The top ``max_k`` item indices per user, best first, shape (n_users, max_k).
        n_items: Catalogue size.
    """

    greater: np.ndarray
    ties: np.ndarray
    reachable: np.ndarray
    top_items: np.ndarray
    n_items: int

    def expected_rank(self) -> np.ndarray:
        """Mean position of the true item (1 = top), shape (n_users,); inf when unreachable."""
        return np.where(self.reachable, self.greater + 1 + self.ties / 2.0, np.inf)


def mask_scores(scores: np.ndarray, histories: list[np.ndarray] | None) -> np.ndarray:
    """Scores with padding (index 0) and, when given, each user's seen items set to -inf.

    Args:
        scores: Scores of shape (n_users, n_items + 1); modified in place and returned.
        histories: Item-index arrays whose items may not be recommended, or None.

    Returns:
        ``scores``.
    """
    scores[:, 0] = -np.inf
    if histories is not None:
        rows = np.repeat(np.arange(len(histories)), [len(h) for h in histories])
        if len(rows):
            scores[rows, np.concatenate(histories)] = -np.inf
    return scores


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k best scores per row, best first (ties: lower index first).

    Args:
        scores: Array of shape (n_users, n_candidates).
        k: How many.

    Returns:
        int64 array of shape (n_users, min(k, n_candidates)).
    """
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -vals), axis=1)
    return np.take_along_axis(part, order, axis=1)


def rank_stats(scores: np.ndarray, targets: np.ndarray, max_k: int = max(KS)) -> RankStats:
    """Rank counts of the true items from already-masked scores.

    Args:
        scores: Scores of shape (n_users, n_items + 1), masked with :func:`mask_scores`.
        targets: True next item per user, shape (n_users,).
        max_k: Length of the top lists kept.

    Returns:
        The :class:`RankStats`.
    """
    t = scores[np.arange(len(targets)), targets][:, None]
    reachable = np.isfinite(t[:, 0])
    greater = (scores > t).sum(axis=1)
    ties = (scores == t).sum(axis=1) - 1
    return RankStats(np.where(reachable, greater, 0), np.where(reachable, ties, 0), reachable,
                     top_k(scores, max_k), scores.shape[1] - 1)


def rank_users(score_fn: ScoreFn, histories: list[np.ndarray], targets: np.ndarray,
               exclude_seen: bool, max_k: int = max(KS)) -> RankStats:
    """Score the full catalogue for every user, in batches, and rank the true next items.

    Args:
        score_fn: Maps a list of histories to scores of shape (n, n_items + 1).
        histories: Item-index arrays, one per user (the model's input).
        targets: True next item per user, shape (n_users,).
        exclude_seen: Mask each user's history items before ranking.
        max_k: Length of the top lists kept.

    Returns:
        The :class:`RankStats` over all users.
    """
    parts = []
    for start in range(0, len(histories), BATCH_USERS):
        batch = histories[start:start + BATCH_USERS]
        scores = np.nan_to_num(np.array(score_fn(batch), dtype=np.float64), nan=-np.inf)
        mask_scores(scores, batch if exclude_seen else None)
        parts.append(rank_stats(scores, targets[start:start + BATCH_USERS], max_k))
    return RankStats(*(np.concatenate([getattr(p, f) for p in parts])
                       for f in ("greater", "ties", "reachable", "top_items")),
                     parts[0].n_items)


def _dcg_prefix(k: int) -> np.ndarray:
    return np.r_[0.0, np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))]


def per_user(stats: RankStats, ks: tuple[int, ...] = KS) -> dict[str, np.ndarray]:
    """Each user's expected HitRate@K, NDCG@K and reciprocal rank.

    Args:
        stats: Rank counts.
        ks: Cut-offs.

    Returns:
        ``{"hit_rate@K": (n_users,), "ndcg@K": (n_users,), ..., "mrr": (n_users,)}``.
    """
    g, t, ok = stats.greater, stats.ties, stats.reachable
    n = t + 1.0
    out = {}
    for k in ks:
        dcg = _dcg_prefix(k)
        out[f"hit_rate@{k}"] = np.where(ok, np.clip(k - g, 0, n) / n, 0.0)
        out[f"ndcg@{k}"] = np.where(ok, (dcg[np.minimum(g + t + 1, k)] - dcg[np.minimum(g, k)]) / n,
                                    0.0)
    harmonic = np.r_[0.0, np.cumsum(1.0 / np.arange(1, stats.n_items + 2))]
    out["mrr"] = np.where(ok, (harmonic[g + t + 1] - harmonic[g]) / n, 0.0)
    return out


def coverage(stats: RankStats, k: int) -> float:
    """Share of the catalogue that appears in at least one user's top-k list."""
    return float(len(np.unique(stats.top_items[:, :k])) / max(stats.n_items, 1))


def summarize(stats: RankStats, ks: tuple[int, ...] = KS) -> dict[str, float]:
    """Mean metrics over users plus catalogue coverage.

    Returns:
        ``{"hit_rate@K", "ndcg@K", "coverage@K" for each K, "mrr"}`` as floats.
    """
    means = {name: float(v.mean()) for name, v in per_user(stats, ks).items()}
    return {**means, **{f"coverage@{k}": coverage(stats, k) for k in ks}}


def bootstrap_ci(values: dict[str, np.ndarray], n_boot: int = 500, seed: int = 42,
                 block: int = 100) -> dict[str, list[float]]:
    """Percentile 95% intervals of per-user means, resampling users with replacement.

    Args:
        values: Per-user values, each of shape (n_users,), all resampled together.
        n_boot: Bootstrap resamples; 0 returns an empty dict.
        seed: Seed of the resampling.
        block: Resamples drawn at once (bounds memory to block × n_users).

    Returns:
        ``{name: [low, high]}``.
    """
    if n_boot <= 0 or not values:
        return {}
    rng = np.random.default_rng(seed)
    n = len(next(iter(values.values())))
    draws: dict[str, list[np.ndarray]] = {k: [] for k in values}
    for start in range(0, n_boot, block):
        idx = rng.integers(0, n, size=(min(block, n_boot - start), n))
        for name, v in values.items():
            draws[name].append(np.asarray(v, dtype=np.float64)[idx].mean(axis=1))
    return {name: [float(q) for q in np.quantile(np.concatenate(d), [0.025, 0.975])]
            for name, d in draws.items()}


def metrics_table(metrics: dict, model: str) -> pd.DataFrame:
    """The model and each baseline it is not, one row each, for display.

    Args:
        metrics: A next-item run's metrics.json content.
        model: The run's model name (its row comes first).

    Returns:
        Rows ``model``, ``item-to-item``, ``most popular`` (less the model's own); columns
        HitRate@K and NDCG@K for each K, MRR, coverage@10 and the HitRate@10 95% interval.
    """
    labels = {"transitions": "item-to-item", "popular": "most popular"}
    rows = {model: metrics, **{labels[n]: metrics["baselines"][n] for n in labels
                               if n != model and n in metrics["baselines"]}}
    keys = [*(f"hit_rate@{k}" for k in KS), *(f"ndcg@{k}" for k in KS), "mrr", "coverage@10"]
    table = pd.DataFrame({name: {k: rep["metrics"][k] for k in keys}
                          for name, rep in rows.items()}).T
    table["HitRate@10 95% CI"] = [
        "{:.3f}–{:.3f}".format(*rep["ci95"]["hit_rate@10"]) if rep.get("ci95") else ""
        for rep in rows.values()]
    return table
