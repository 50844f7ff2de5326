"""Next-item baselines every neural recommender stands next to: most popular and item-to-item.

Both follow the scikit-learn contract (``fit`` returns ``self``, learned attributes end with
``_``) and score the whole catalogue for a batch of histories. Scores are probabilities, so the
app can show them as "chance this is the next item". Item indices run 1..n_items; 0 is padding
and always scores 0. State round-trips through plain arrays (saved as ``.npz``, never pickled).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse


class PopularRecommender:
    """Recommend the items bought (watched, clicked) most often in training, to everyone.

    Args:
        n_items: Catalogue size; item indices are 1..n_items.
    """

    def __init__(self, n_items: int) -> None:
        self.n_items = n_items

    def fit(self, sequences: list[np.ndarray]) -> PopularRecommender:
        """Count each item's training events.

        Args:
            sequences: Training item-index arrays, one per user.

        Returns:
            self, with ``counts_`` of shape (n_items + 1,).
        """
        flat = np.concatenate(sequences) if sequences else np.zeros(0, dtype=np.int64)
        self.counts_ = np.bincount(flat, minlength=self.n_items + 1).astype(np.float64)
        self.counts_[0] = 0.0
        return self

    @property
    def probabilities_(self) -> np.ndarray:
        """Share of training events per item, shape (n_items + 1,)."""
        return self.counts_ / max(self.counts_.sum(), 1.0)

    def score(self, histories: list[np.ndarray]) -> np.ndarray:
        """The same popularity scores for every history.

        Args:
            histories: Item-index arrays, one per user (ignored beyond their number).

        Returns:
            float64 array of shape (n_histories, n_items + 1).
        """
        return np.broadcast_to(self.probabilities_, (len(histories), self.n_items + 1)).copy()

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Learned state as named arrays (for ``np.savez``)."""
        return {"popular_counts": self.counts_}

    @classmethod
    def from_arrays(cls, arrays) -> PopularRecommender:
        """Rebuild from :meth:`to_arrays` output."""
        counts = np.asarray(arrays["popular_counts"], dtype=np.float64)
        model = cls(len(counts) - 1)
        model.counts_ = counts
        return model


class TransitionRecommender:
    """Item-to-item transitions: recommend what most often followed the user's last item.

    The score is P(next = j | last = i), estimated from consecutive pairs in the training
    sequences and smoothed towards popularity:
    ``(count(i → j) + alpha · pop(j)) / (count(i → ·) + alpha)``. With ``alpha < 1`` the
    smoothing never reorders items with different transition counts; it ranks the items that
    never followed ``i`` (and every item when ``i`` was never followed) by popularity.

    Args:
        n_items: Catalogue size; item indices are 1..n_items.
        alpha: Popularity smoothing weight, in (0, 1).
    """

    def __init__(self, n_items: int, alpha: float = 0.5) -> None:
        self.n_items = n_items
        self.alpha = alpha

    def fit(self, sequences: list[np.ndarray]) -> TransitionRecommender:
        """Count consecutive (previous, next) item pairs.

        Args:
            sequences: Training item-index arrays, one per user.

        Returns:
            self, with ``transitions_`` (sparse, shape (n_items + 1, n_items + 1)) and
            ``popular_`` (a fitted :class:`PopularRecommender`).
        """
        pairs = [(s[:-1], s[1:]) for s in sequences if len(s) > 1]
        src = np.concatenate([p for p, _ in pairs]) if pairs else np.zeros(0, dtype=np.int64)
        dst = np.concatenate([n for _, n in pairs]) if pairs else np.zeros(0, dtype=np.int64)
        size = self.n_items + 1
        self.transitions_ = sparse.csr_matrix(
            (np.ones(len(src)), (src, dst)), shape=(size, size), dtype=np.float64)
        self.transitions_.sum_duplicates()
        self.popular_ = PopularRecommender(self.n_items).fit(sequences)
        return self

    def score(self, histories: list[np.ndarray]) -> np.ndarray:
        """Transition probabilities from each history's last item.

        Args:
            histories: Item-index arrays, one per user; an empty history scores by popularity.

        Returns:
            float64 array of shape (n_histories, n_items + 1).
        """
        last = np.array([h[-1] if len(h) else 0 for h in histories], dtype=np.int64)
        counts = self.transitions_[last].toarray()
        totals = counts.sum(axis=1, keepdims=True)
        return (counts + self.alpha * self.popular_.probabilities_) / (totals + self.alpha)

    def followers(self, item: int, n: int = 10) -> list[tuple[int, float]]:
        """The items that most often followed ``item``, with their transition counts."""
        row = self.transitions_[item].toarray().ravel()
        order = np.argsort(-row, kind="stable")[:n]
        return [(int(j), float(row[j])) for j in order if row[j] > 0]

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Learned state as named arrays (for ``np.savez``)."""
        coo = self.transitions_.tocoo()
        return {"transition_row": coo.row.astype(np.int32), "transition_col": coo.col.astype(np.int32),
                "transition_count": coo.data, "transition_alpha": np.array([self.alpha]),
                **self.popular_.to_arrays()}

    @classmethod
    def from_arrays(cls, arrays) -> TransitionRecommender:
        """Rebuild from :meth:`to_arrays` output."""
        popular = PopularRecommender.from_arrays(arrays)
        model = cls(popular.n_items, float(arrays["transition_alpha"][0]))
        size = popular.n_items + 1
        model.transitions_ = sparse.csr_matrix(
            (arrays["transition_count"], (arrays["transition_row"], arrays["transition_col"])),
            shape=(size, size))
        model.popular_ = popular
        return model
