"""Quick tests of the examples' own code: the data fetcher (code/data.py) and the solubility
model and training loop (code/solubility.py). No network and no real data set needed."""

import hashlib

import numpy as np
import pytest

import data
import layers
import solubility


# -- data.fetch ------------------------------------------------------------------------


def _write(path, content):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return hashlib.sha256(content).hexdigest()


UNREACHABLE = "http://127.0.0.1:9/solubility.npz"  # the discard port: nothing listens there


@pytest.fixture
def folders(tmp_path, monkeypatch):
    """An empty cache folder and an empty seed folder, named by the environment variables."""
    cache, seed = tmp_path / "cache", tmp_path / "seed"
    seed.mkdir()
    monkeypatch.setenv(data.CACHE_ENV, str(cache))
    monkeypatch.delenv(data.SEED_ENV, raising=False)
    return cache, seed


def test_fetch_copies_a_seed_file_with_the_right_hash_into_the_cache(folders, monkeypatch):
    cache, seed = folders
    digest = _write(seed / "toy.npz", b"toy data")
    monkeypatch.setenv(data.SEED_ENV, str(seed))
    path = data.fetch("toy.npz", UNREACHABLE, digest)
    assert path == cache / "toy.npz"
    assert path.read_bytes() == b"toy data"


def test_fetch_uses_the_cache_without_network_or_seed(folders):
    cache, _ = folders
    digest = _write(cache / "toy.npz", b"cached")
    assert data.fetch("toy.npz", UNREACHABLE, digest).read_bytes() == b"cached"


def test_fetch_rejects_a_seed_file_with_another_hash(folders, monkeypatch):
    cache, seed = folders
    _write(seed / "toy.npz", b"not the file")
    monkeypatch.setenv(data.SEED_ENV, str(seed))
    expected = hashlib.sha256(b"the file").hexdigest()
    with pytest.raises(data.DataUnavailableError, match=f"expected {expected}"):
        data.fetch("toy.npz", UNREACHABLE, expected)
    assert not (cache / "toy.npz").exists()


def test_fetch_without_cache_seed_or_network_says_how_to_seed(folders):
    expected = hashlib.sha256(b"the file").hexdigest()
    with pytest.raises(data.DataUnavailableError) as error:
        data.fetch("toy.npz", UNREACHABLE, expected)
    message = str(error.value)
    assert f"export {data.SEED_ENV}=" in message
    assert "toy.npz" in message and expected in message and UNREACHABLE in message


def test_fetch_ignores_a_seed_folder_without_the_file(folders, monkeypatch):
    cache, seed = folders
    monkeypatch.setenv(data.SEED_ENV, str(seed))
    digest = _write(cache / "toy.npz", b"cached")
    assert data.fetch("toy.npz", UNREACHABLE, digest).read_bytes() == b"cached"


def test_the_pinned_hash_is_the_one_of_the_shared_data_readme():
    assert data.SOLUBILITY_SHA256 == "37b2e198e5d28a7468c67d7599c88f4ab4c37d8d2481be7fb314f40caeaf085d"
    assert data.SOLUBILITY_URL.endswith("whitead/dmol-book/raw/main/data/solubility.npz")


# -- solubility ------------------------------------------------------------------------


def n_params(model):
    return sum(p.size for p in model.params.values())


def test_model_has_the_chapters_parameter_count_and_output_shape():
    model = solubility.build_model(rng=0)
    assert n_params(model) == 60_929
    logits = model.forward(np.random.default_rng(0).integers(0, 21, (4, 200)))
    assert logits.shape == (4, 1) and logits.dtype == np.float32


def test_dropout_variant_adds_three_dropout_layers_and_no_parameters():
    model = solubility.build_model(dropout=0.3, rng=0)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds.count("Dropout") == 3
    for i, kind in enumerate(kinds):
        if kind == "Dropout":
            assert kinds[i - 1] in ("Flatten", "ReLU") and kinds[i + 1] == "Linear"
    assert n_params(model) == 60_929


def test_same_seed_same_model():
    a, b = solubility.build_model(rng=3), solubility.build_model(rng=3)
    for name, p in a.params.items():
        np.testing.assert_array_equal(p, b.params[name])


def test_transpose_swaps_axes_and_its_gradient():
    t = solubility.Transpose()
    x = np.arange(24.0).reshape(2, 3, 4)
    y = t.forward(x)
    assert y.shape == (2, 4, 3) and y[1, 2, 0] == x[1, 0, 2]
    dy = np.random.default_rng(0).standard_normal(y.shape)
    # <dy, T(x)> = <T^-1(dy), x>: backward is the adjoint of forward
    assert np.isclose(np.sum(dy * y), np.sum(t.backward(dy) * x))


def _fake_solubility(monkeypatch, n_pos=70, n_neg=30):
    rng = np.random.default_rng(0)
    positives = rng.integers(1, 21, (n_pos, 200))
    negatives = rng.integers(1, 21, (n_neg, 200))
    monkeypatch.setattr(solubility, "load_solubility", lambda: (positives, negatives))
    return positives, negatives


def test_split_is_shuffled_10_10_80_disjoint_and_seeded(monkeypatch):
    positives, negatives = _fake_solubility(monkeypatch)
    split = solubility.load_split(seed=0)
    assert [len(split[k][0]) for k in ("test", "val", "train")] == [10, 10, 80]
    rows = np.concatenate([split[k][0] for k in ("test", "val", "train")])
    labels = np.concatenate([split[k][1] for k in ("test", "val", "train")])[:, 0]
    assert len({r.tobytes() for r in rows}) == 100  # every sequence exactly once
    pos_rows = {r.tobytes() for r in positives}
    assert all((r.tobytes() in pos_rows) == (t == 1) for r, t in zip(rows, labels))
    assert not np.array_equal(labels, np.sort(labels)[::-1])  # shuffled, not positives first
    again = solubility.load_split(seed=0)
    np.testing.assert_array_equal(again["test"][0], split["test"][0])


def test_training_learns_an_easy_rule_and_the_monitor_does_not_touch_the_run(monkeypatch):
    # label = "the sequence contains token 7 in its first 20 positions"
    rng = np.random.default_rng(1)
    x = rng.integers(1, 21, (600, 200))
    y = (x[:, :20] == 7).any(axis=1).astype(np.float32)[:, None]
    split = {"train": (x[:400], y[:400]), "val": (x[400:500], y[400:500]), "test": (x[500:], y[500:])}

    def fit(stopper):
        model = solubility.build_model(rng=0)
        history = solubility.train(model, split, epochs=3, early_stopping=stopper, log=None)
        return model, history

    model, history = fit(layers.EarlyStopping(patience=0))
    assert set(history) >= {"loss", "bce", "accuracy", "val_loss", "val_accuracy", "seconds", "stopped_epoch"}
    assert len(history["loss"]) == 3
    assert history["loss"][-1] < history["loss"][0]
    # the same run without a monitor ends with the same parameters: watching changes nothing
    plain, _ = fit(None)
    for name, p in model.params.items():
        np.testing.assert_array_equal(p, plain.params[name])


def test_l2_penalty_is_added_to_the_reported_loss_and_shrinks_the_dense_kernels(monkeypatch):
    rng = np.random.default_rng(2)
    x = rng.integers(0, 21, (64, 200))
    y = rng.integers(0, 2, (64, 1)).astype(np.float32)
    split = {"train": (x, y), "val": (x[:16], y[:16]), "test": (x[:16], y[:16])}
    plain, penalised = solubility.build_model(rng=0), solubility.build_model(rng=0)
    h_plain = solubility.train(plain, split, epochs=1, log=None)
    h_l2 = solubility.train(penalised, split, epochs=1, l2=0.01, log=None)
    assert h_plain["loss"] == h_plain["bce"]
    assert h_l2["loss"][0] > h_l2["bce"][0] + 0.5  # the penalty starts near 0.85 for these layers
    norm = lambda m: sum(float(np.sum(l.params["weight"] ** 2)) for l in solubility.dense_layers(m))
    assert norm(penalised) < norm(plain)
