"""Next-item runs on disk, and everything read back from them: recommendations, per-user and
per-item views.

A next-item run lives in ``<data_dir>/runs/<run_id>/`` like a tabular run and shows in the same
runs list (``config.json`` has ``task = "next_item"``, ``spec.table`` and ``spec.target`` = the
item column, ``positive_class = null``). Its files: ``config.json``, ``metrics.json``,
``history.json``, ``items.json`` (item labels and names), ``sequences.npz`` (every user's item
sequence and the item values), ``baselines.npz`` (most-popular and transition counts),
``ranks.npz`` (test-split rank counts per model) and, for neural models, ``model.keras``, loaded
with Keras safe mode. Nothing is pickled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from core.config import Settings
from core.errors import SchemaError
from core.recommend._metrics import RankStats, mask_scores, top_k
from core.recommend._sequences import Sequences, SequenceStats, pad_left
from core.runs import RunConfig, load_run_config, run_folder, write_run_folder
from models.rec_baselines import TransitionRecommender

TASK = "next_item"
NEURAL = ("gru4rec", "sasrec")
RANKED = ("model", "popular", "transitions")
SHOWN_HISTORY = 20


class NetworkScorer:
    """Full-catalogue next-item probabilities from a network's last step.

    Args:
        network: A model from :mod:`models.sequence`, mapping (batch, window) items to
            (batch, window, n_items + 1) logits.
    """

    def __init__(self, network) -> None:
        import keras

        from models.sequence import EMBEDDING_LAYER, HIDDEN_LAYER, REPEAT_LAYER

        self.network = network
        self.window = int(network.input_shape[1])
        self.encoder = keras.Model(network.input, network.get_layer(HIDDEN_LAYER).output)
        self.embedding_layer = network.get_layer(EMBEDDING_LAYER)
        self.repeat_layer = network.get_layer(REPEAT_LAYER)

    @property
    def repeat_score(self) -> float:
        """The learned logit added to items the user already had (< 0: repeats are rare)."""
        return float(np.asarray(self.repeat_layer.get_weights()[0]))

    def __call__(self, histories: list[np.ndarray]) -> np.ndarray:
        """Softmax probabilities of the next item, shape (n_histories, n_items + 1).

        The repeat score applies to every item of a history, also those older than the
        window the network reads. The encoder is called directly, 256 histories at a time:
        ``Model.predict`` builds a tf.data pipeline per call, and after one in a background
        job the next training epoch waited about 20 s to start.
        """
        x = pad_left(histories, self.window)
        table, bias = (np.asarray(w, dtype=np.float64)
                       for w in self.embedding_layer.get_weights())
        hidden = np.concatenate(
            [np.zeros((0, table.shape[1]))]
            + [np.asarray(self.encoder(x[i:i + 256], training=False))[:, -1, :]
               for i in range(0, len(x), 256)])
        logits = hidden.astype(np.float64) @ table.T + bias
        rows = np.repeat(np.arange(len(histories)), [len(h) for h in histories])
        if len(rows):
            seen = np.zeros_like(logits, dtype=bool)
            seen[rows, np.concatenate(histories)] = True
            logits += self.repeat_score * seen
        logits[:, 0] = -np.inf
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def item_embeddings(self) -> np.ndarray:
        """Input item embeddings, shape (n_items + 1, embed_dim)."""
        return np.asarray(self.embedding_layer.get_weights()[0])


@dataclass
class RecArtifacts:
    """Everything a finished next-item training writes.

    Attributes:
        run_id: The run id.
        config: JSON-ready run description.
        metrics: JSON-ready metrics (test split) with a ``metrics`` dict and ``baselines``.
        history: Per-epoch logs (empty for baselines).
        sequences: The users' sequences and item catalogue.
        baselines: ``{"popular": PopularRecommender, "transitions": TransitionRecommender}``.
        ranks: Test-split :class:`RankStats` for ``model``, ``popular`` and ``transitions``.
        network: The trained Keras network, or None for a baseline run.
    """

    run_id: str
    config: dict
    metrics: dict
    history: list[dict]
    sequences: Sequences
    baselines: dict
    ranks: dict
    network: object | None = None


def save_rec_run(settings: Settings, art: RecArtifacts) -> Path:
    """Write a next-item run atomically and register it with the other runs.

    Returns:
        The final run folder.
    """
    return write_run_folder(settings, art.run_id, art.config, art.metrics,
                            lambda folder: _write(folder, art))


def _write(folder: Path, art: RecArtifacts) -> None:
    seqs = art.sequences
    (folder / "config.json").write_text(json.dumps(art.config, indent=2))
    (folder / "metrics.json").write_text(json.dumps(art.metrics, indent=2))
    (folder / "history.json").write_text(json.dumps(art.history))
    (folder / "items.json").write_text(json.dumps({"labels": seqs.item_labels,
                                                   "names": seqs.item_names}))
    np.savez(folder / "sequences.npz", users=seqs.users.astype(str), offsets=seqs.offsets,
             items=seqs.items, item_values=seqs.item_values)
    np.savez(folder / "baselines.npz", **art.baselines["transitions"].to_arrays())
    ranks = {f"{name}_{field}": getattr(stats, field) for name, stats in art.ranks.items()
             for field in ("greater", "ties", "reachable", "top_items")}
    np.savez(folder / "ranks.npz", **ranks)
    if art.network is not None:
        art.network.save(folder / "model.keras")


class RecRun:
    """A saved next-item run, loaded lazily.

    Args:
        folder: The run folder.

    Raises:
        SchemaError: The folder holds another kind of run.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.run_id = folder.name
        self.config: RunConfig = load_run_config(
            json.loads((folder / "config.json").read_text()))
        self.metrics: dict = json.loads((folder / "metrics.json").read_text())
        if self.config.kind != "next_item":
            raise SchemaError(
                f"Run '{self.run_id}' is a {self.config.task} run, not a recommender. "
                f"Pick a next-item run (trained on the Recommend page or with "
                f"'python -m core recommend train')."
            )

    @property
    def model_name(self) -> str:
        """``popular``, ``transitions``, ``gru4rec`` or ``sasrec``."""
        return self.config.model

    @property
    def exclude_seen(self) -> bool:
        """Whether items a user already has are never recommended."""
        return bool(self.config.extra["sequence_options"]["exclude_seen"])

    def baseline_names(self) -> list[str]:
        """The baselines this run is compared with: both, less the run's own model."""
        return [n for n in ("transitions", "popular") if n != self.model_name]

    def best_baseline(self, metric: str = "hit_rate@10") -> str:
        """The baseline with the higher test ``metric`` (of :meth:`baseline_names`): the one a
        model has to beat."""
        base = self.metrics["baselines"]
        return max(self.baseline_names(), key=lambda n: base[n]["metrics"][metric])

    @property
    def history(self) -> list[dict]:
        """Per-epoch logs (loss, validation HitRate@10 and NDCG@10)."""
        return json.loads((self.folder / "history.json").read_text())

    @cached_property
    def sequences(self) -> Sequences:
        """The users' sequences and the item catalogue as trained."""
        items = json.loads((self.folder / "items.json").read_text())
        with np.load(self.folder / "sequences.npz", allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        return Sequences(arrays["users"], arrays["offsets"], arrays["items"], items["labels"],
                         items["names"], arrays["item_values"],
                         SequenceStats(**self.config.extra["sequence_stats"]))

    @cached_property
    def baselines(self) -> dict:
        """``{"popular": PopularRecommender, "transitions": TransitionRecommender}``."""
        with np.load(self.folder / "baselines.npz", allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        transitions = TransitionRecommender.from_arrays(arrays)
        return {"popular": transitions.popular_, "transitions": transitions}

    @cached_property
    def network(self) -> NetworkScorer | None:
        """The trained network (loaded in Keras safe mode), or None for a baseline run."""
        path = self.folder / "model.keras"
        if not path.exists():
            return None
        import keras

        from models.sequence import custom_objects

        model = keras.saving.load_model(path, safe_mode=True, compile=False,
                                        custom_objects=custom_objects())
        return NetworkScorer(model)

    def scorer(self, name: str = "model"):
        """A function mapping histories to scores of shape (n, n_items + 1).

        Args:
            name: ``"model"`` (this run's model), ``"popular"`` or ``"transitions"``.
        """
        if name == "model":
            name = self.model_name
        if name in self.baselines:
            return self.baselines[name].score
        return self.network

    @cached_property
    def ranks(self) -> dict[str, RankStats]:
        """Test-split rank counts for ``model``, ``popular`` and ``transitions``."""
        n_items = self.sequences.n_items
        with np.load(self.folder / "ranks.npz", allow_pickle=False) as z:
            return {name: RankStats(z[f"{name}_greater"], z[f"{name}_ties"],
                                    z[f"{name}_reachable"], z[f"{name}_top_items"], n_items)
                    for name in RANKED}

    @property
    def test_targets(self) -> np.ndarray:
        """Each user's held-out last item, shape (n_users,)."""
        seqs = self.sequences
        return seqs.items[seqs.offsets[1:] - 1]

    def user_position(self, user: str) -> int:
        """Index of a user in the run.

        Raises:
            SchemaError: The user has no sequence in this run.
        """
        users = self.sequences.users
        matches = np.flatnonzero(users == str(user).strip())
        if len(matches):
            return int(matches[0])
        raise SchemaError(
            f"User '{user}' has no sequence in run {self.run_id} (users need "
            f"{self.config.extra['sequence_options']['min_user']}+ events after the filters). "
            f"Known users include: {', '.join(map(str, users[:5]))}."
        )

    def item_frame(self, indices: np.ndarray, scores: np.ndarray | None = None) -> pd.DataFrame:
        """Items as a table: ``item``, ``name`` (and ``score`` when given)."""
        seqs = self.sequences
        frame = pd.DataFrame({"item": [seqs.item_labels[i - 1] for i in indices],
                              "name": [seqs.item_names[i - 1] for i in indices]})
        if scores is not None:
            frame["score"] = np.asarray(scores, dtype=np.float64)
        return frame

    def recommend(self, history: np.ndarray, k: int = 10, name: str = "model") -> pd.DataFrame:
        """Top-k items after a history, as ``item``, ``name``, ``score``.

        Args:
            history: Item indices, oldest first.
            k: List length.
            name: ``"model"``, ``"popular"`` or ``"transitions"``.
        """
        scores = np.array(self.scorer(name)([history]), dtype=np.float64)
        mask_scores(scores, [history] if self.exclude_seen else None)
        best = top_k(scores, k)[0]
        best = best[np.isfinite(scores[0, best])]
        return self.item_frame(best, scores[0, best])

    def recommend_for(self, user: str, k: int = 10) -> pd.DataFrame:
        """What to show a known user next, from their whole history (production use)."""
        return self.recommend(self.sequences.sequence(self.user_position(user)), k)


def load_rec_run(settings: Settings, run_id: str) -> RecRun:
    """Open a saved next-item run.

    Raises:
        RunNotFoundError: No such run.
        SchemaError: The run is not a next-item run.
    """
    return RecRun(run_folder(settings, run_id))


def list_rec_runs(runs: list[dict]) -> list[dict]:
    """The next-item runs of a :func:`core.runs.list_runs` listing."""
    return [r for r in runs if r.get("task") == TASK]


@dataclass(frozen=True)
class UserReport:
    """One test user: what they did, what each list would have shown, where the truth ranked.

    Attributes:
        user: User id.
        history: Their last items before the held-out one (``item``, ``name``), most recent
            first: row 0 is the item just before the held-out one.
        recommendations: The run's top-k after that history (``item``, ``name``, ``score``).
        true_item: The held-out next item (``item``, ``name``).
        rank: Expected position of the true item in the run's ranking (1 = top; inf when it
            could not be recommended).
        baseline_ranks: The same for ``popular`` and ``transitions``.
    """

    user: str
    history: pd.DataFrame
    recommendations: pd.DataFrame
    true_item: dict
    rank: float
    baseline_ranks: dict


def user_report(run: RecRun, user: str, k: int = 10) -> UserReport:
    """Explain one test user's recommendations (their last item hidden, as in evaluation).

    Raises:
        SchemaError: Unknown user.
    """
    pos = run.user_position(user)
    seq = run.sequences.sequence(pos)
    history, target = seq[:-1], int(seq[-1])
    truth = run.item_frame(np.array([target])).iloc[0].to_dict()
    ranks = {name: float(stats.expected_rank()[pos]) for name, stats in run.ranks.items()}
    recent = history[-SHOWN_HISTORY:][::-1]
    return UserReport(str(run.sequences.users[pos]), run.item_frame(recent),
                      run.recommend(history, k), truth, ranks["model"],
                      {"popular": ranks["popular"], "transitions": ranks["transitions"]})


def item_position(run: RecRun, item) -> int:
    """Index (1..n_items) of an item label.

    Raises:
        SchemaError: Unknown item.
    """
    labels = [str(x) for x in run.sequences.item_labels]
    if str(item) not in labels:
        raise SchemaError(f"Item '{item}' is not in run {run.run_id}'s catalogue "
                          f"({len(labels):,} items). Pick one from the list.")
    return labels.index(str(item)) + 1


def similar_items(run: RecRun, item, n: int = 10) -> pd.DataFrame:
    """Nearest items to one item: by cosine similarity of the learned item embeddings (neural
    runs), or the items that most often followed it (baseline runs).

    Returns:
        Columns ``item``, ``name``, ``similarity`` (cosine, or transition count).

    Raises:
        SchemaError: Unknown item.
    """
    idx = item_position(run, item)
    if run.network is None:
        pairs = run.baselines["transitions"].followers(idx, n)
        frame = run.item_frame(np.array([j for j, _ in pairs], dtype=np.int64))
        return frame.assign(similarity=[c for _, c in pairs])
    emb = run.network.item_embeddings()
    unit = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    sims = unit @ unit[idx]
    sims[[0, idx]] = -np.inf
    best = top_k(sims[None, :], n)[0]
    return run.item_frame(best).assign(similarity=sims[best])
