"""Next-item models on tiny data: baselines exactly, networks learn a cycle, masks hold, save/load."""

from __future__ import annotations

import numpy as np
import pytest

from models.rec_baselines import PopularRecommender, TransitionRecommender

N_ITEMS = 6
WINDOW = 6


def cycles(n_users: int = 24, length: int = 12) -> list[np.ndarray]:
    """Each user walks the cycle 1 → 2 → … → 6 → 1 from their own start."""
    return [np.array([(start + j) % N_ITEMS + 1 for j in range(length)])
            for start in range(n_users)]


def test_popular_counts_and_scores():
    model = PopularRecommender(3).fit([np.array([1, 2, 2]), np.array([2, 3])])
    assert model.counts_.tolist() == [0, 1, 3, 1]
    scores = model.score([np.array([1]), np.array([3, 2])])
    assert scores.shape == (2, 4)
    assert scores[0].tolist() == scores[1].tolist() == pytest.approx([0, .2, .6, .2])
    again = PopularRecommender.from_arrays(model.to_arrays())
    assert again.counts_.tolist() == model.counts_.tolist()


def test_transitions_by_hand():
    model = TransitionRecommender(3).fit([np.array([1, 2, 3]), np.array([1, 2]),
                                          np.array([2, 3])])
    p = np.array([0, 2, 3, 2]) / 7  # popularity of items 1..3
    after_1, after_3 = model.score([np.array([3, 1]), np.array([3])])
    # (count(1 → j) + 0.5 p_j) / (count(1 → ·) + 0.5); 1 was followed by 2 twice
    assert after_1 == pytest.approx((np.array([0, 0, 2, 0]) + 0.5 * p) / 2.5)
    assert after_1.sum() == pytest.approx(1.0) and after_1.argmax() == 2
    assert after_3 == pytest.approx(p)  # 3 was never followed: popularity
    assert model.followers(1) == [(2, 2.0)]
    again = TransitionRecommender.from_arrays(model.to_arrays())
    assert again.score([np.array([1])]) == pytest.approx(after_1[None, :])


def test_transitions_never_reorder_counts():
    model = TransitionRecommender(3).fit([np.array([1, 3]), np.array([1, 2]), np.array([1, 2]),
                                          np.array([3, 3, 3, 3, 3])])
    s = model.score([np.array([1])])[0]
    assert s[2] > s[3]  # 2 followed 1 twice, 3 once, although 3 is far more popular


# ---------------------------------------------------------------- Keras (slow: builds and fits)


def _fit(network, x, y, sampled=False, epochs=40, n_items=N_ITEMS):
    import keras

    from models.sequence import training_model

    trainer = training_model(network, n_items, 1e-2, sampled=sampled, negatives=4)
    hist = trainer.fit([x, y] if sampled else x, y, epochs=epochs, batch_size=16, verbose=0)
    keras.backend.clear_session(free_memory=False)
    return hist.history["loss"]


def _next_after(network, history) -> int:
    from core.recommend._sequences import pad_left

    return int(network.predict(pad_left([np.array(history)], WINDOW), verbose=0)[0, -1].argmax())


@pytest.mark.slow
@pytest.mark.parametrize("kind,sampled", [("gru", False), ("lstm", False), ("sasrec", False),
                                          ("sasrec", True)])
def test_networks_learn_a_cycle(kind, sampled):
    import keras

    from core.recommend._sequences import training_windows
    from models.sequence import build_gru4rec, build_sasrec

    keras.utils.set_random_seed(0)
    x, y = training_windows(cycles(), WINDOW)
    if kind == "sasrec":
        network = build_sasrec(N_ITEMS, WINDOW, 16, blocks=1, heads=2, dropout=0.0)
    else:
        network = build_gru4rec(N_ITEMS, WINDOW, 16, cell=kind, dropout=0.0)
    assert network.output_shape == (None, WINDOW, N_ITEMS + 1)
    losses = _fit(network, x, y, sampled)
    assert losses[-1] < 0.3 * losses[0]
    assert [_next_after(network, h) for h in ([1, 2, 3], [5], [4, 5, 6])] == [4, 6, 1]


@pytest.mark.slow
def test_sasrec_is_causal_and_saves_in_safe_mode(tmp_path):
    import keras

    from models.sequence import build_sasrec, custom_objects

    keras.utils.set_random_seed(1)
    network = build_sasrec(N_ITEMS, WINDOW, 16, blocks=2, heads=2)
    a = np.array([[0, 0, 1, 2, 3, 4]], dtype=np.int32)
    b = a.copy()
    b[0, -1] = 6  # change only the last step
    out_a, out_b = network.predict(a, verbose=0), network.predict(b, verbose=0)
    assert np.allclose(out_a[0, :-1], out_b[0, :-1], atol=1e-5)  # earlier steps never see it
    assert not np.allclose(out_a[0, -1], out_b[0, -1])
    network.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True, compile=False,
                                     custom_objects=custom_objects())
    assert np.allclose(loaded.predict(a, verbose=0), out_a, atol=1e-5)


@pytest.mark.slow
def test_gru_skips_left_padding():
    import keras

    from models.sequence import build_gru4rec

    keras.utils.set_random_seed(2)
    padded = build_gru4rec(N_ITEMS, WINDOW, 8)
    exact = build_gru4rec(N_ITEMS, 2, 8)  # same weights, a window with no padding
    exact.set_weights(padded.get_weights())
    long = padded.predict(np.array([[0, 0, 0, 0, 2, 3]], dtype=np.int32), verbose=0)[0, -1]
    short = exact.predict(np.array([[2, 3]], dtype=np.int32), verbose=0)[0, -1]
    assert np.allclose(long, short, atol=1e-5)


@pytest.mark.slow
def test_repeat_bias_scores_seen_items_and_learns_its_sign():
    import keras

    from core.recommend._sequences import training_windows
    from models.sequence import REPEAT_LAYER, build_gru4rec

    keras.utils.set_random_seed(3)
    network = build_gru4rec(N_ITEMS, WINDOW, 8, dropout=0.0)
    layer = network.get_layer(REPEAT_LAYER)
    x = np.array([[0, 0, 0, 1, 2, 1]], dtype=np.int32)
    before = network.predict(x, verbose=0)[0]
    layer.set_weights([np.array(2.0, dtype="float32")])
    shift = network.predict(x, verbose=0)[0] - before
    expected = np.zeros_like(shift)
    expected[3:, 1] = 2.0  # item 1 from step 3 on, item 2 from step 4 on, padding never
    expected[4:, 2] = 2.0
    assert np.allclose(shift, expected, atol=1e-5)
    rng = np.random.default_rng(0)  # nobody takes an item twice: the bias must turn negative
    seqs = [rng.permutation(np.arange(1, 13)) for _ in range(60)]
    keras.utils.set_random_seed(3)
    network = build_gru4rec(12, 12, 8, dropout=0.0)
    _fit(network, *training_windows(seqs, 12), epochs=15, n_items=12)
    assert float(network.get_layer(REPEAT_LAYER).get_weights()[0]) < -0.5


def test_builders_reject_bad_shapes():
    from models.sequence import build_gru4rec, build_sasrec

    with pytest.raises(ValueError, match="cell must be 'gru' or 'lstm'"):
        build_gru4rec(5, cell="rnn")
    with pytest.raises(ValueError, match="divisible by heads"):
        build_sasrec(5, embed_dim=10, heads=3)


def _seen_brute(items: np.ndarray, n_rows: int) -> np.ndarray:
    """seen[b, t, j] = item j (not padding) occurs at a step <= t of row b, by loops."""
    out = np.zeros((*items.shape, n_rows), dtype=np.float32)
    for b, row in enumerate(items):
        for t in range(len(row)):
            for j in row[:t + 1]:
                if j:
                    out[b, t, j] = 1.0
    return out


def test_first_seen_and_seen_before_match_loops():
    from models.sequence_layers import first_seen, seen_before

    items = np.array([[0, 0, 3, 1, 3, 2], [5, 5, 5, 0, 1, 4], [0, 0, 0, 0, 0, 0]], dtype=np.int32)
    assert np.asarray(first_seen(items, 6)).tolist() == [[6, 3, 5, 2, 6, 6],
                                                         [6, 4, 6, 6, 5, 0],
                                                         [6, 6, 6, 6, 6, 6]]
    rng = np.random.default_rng(4)
    many = rng.integers(0, 9, size=(7, 11)).astype(np.int32)  # repeats and padding anywhere
    assert np.array_equal(np.asarray(seen_before(many, 9)), _seen_brute(many, 9))


@pytest.mark.slow
def test_sampled_logits_equal_the_full_logits_of_the_same_items():
    """Column 0 is the full-softmax logit of the true next item and every other column the
    full logit of one shared negative at every step (seen flags included), hits masked."""
    import keras

    from models.sequence import REPEAT_LAYER, build_sasrec, training_model

    keras.utils.set_random_seed(5)
    network = build_sasrec(N_ITEMS, WINDOW, 8, blocks=1, dropout=0.0)
    network.get_layer(REPEAT_LAYER).set_weights([np.array(1.5, dtype="float32")])
    trainer = training_model(network, N_ITEMS, sampled=True, negatives=5, seed=2)
    x = np.array([[0, 0, 1, 2, 1, 3], [4, 4, 5, 6, 2, 4], [0, 0, 0, 0, 6, 6]], dtype=np.int32)
    y = np.array([[0, 0, 2, 1, 3, 1], [4, 5, 6, 2, 4, 1], [0, 0, 0, 0, 6, 1]], dtype=np.int32)
    full = np.asarray(network(x, training=False))
    sampled = np.asarray(trainer([x, y], training=False))
    true = np.take_along_axis(full, y[..., None], axis=2)[..., 0]
    assert np.allclose(sampled[..., 0], true, atol=1e-5)
    for c in range(1, sampled.shape[-1]):  # each column is one item j for every row and step
        col = sampled[..., c]
        errors = [np.abs(np.where(y == j, 0.0, full[..., j] - col)).max()
                  for j in range(1, N_ITEMS + 1)]
        j = int(np.argmin(errors)) + 1
        assert errors[j - 1] < 1e-5
        assert np.all(col[y == j] < -1e8)  # an accidental hit never counts as a negative


@pytest.mark.slow
def test_layer_names_never_depend_on_keras_naming_state():
    """Both builders name every layer themselves: building again in the same thread, with no
    ``clear_session`` in between (as a reused job thread does), gives the same unique names."""
    from models.sequence import build_gru4rec, build_sasrec

    for build in (lambda: build_sasrec(N_ITEMS, WINDOW, 8, blocks=2),
                  lambda: build_gru4rec(N_ITEMS, WINDOW, 8)):
        first, second = ([layer.name for layer in build().layers] for _ in range(2))
        assert first == second and len(set(first)) == len(first)
        assert "block1_ffn_dropout2" in first or "gru" in first


def test_gru4rec_adds_the_item_embedding_to_the_recurrent_state():
    import keras

    from models.sequence import build_gru4rec

    with_res = build_gru4rec(N_ITEMS, WINDOW, 8, dropout=0.0)
    add = with_res.get_layer("residual")
    assert isinstance(add, keras.layers.Add)
    sources = {t._keras_history.operation.name for t in add.input}
    assert sources == {"gru", "embedding_dropout"}
    without = build_gru4rec(N_ITEMS, WINDOW, 8, dropout=0.0, residual=False)
    assert "residual" not in [layer.name for layer in without.layers]
    assert with_res.count_params() == without.count_params()  # no extra weights
