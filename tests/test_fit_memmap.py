"""fit on memory maps: the same result as in memory, without ever reading the file whole."""

import numpy as np
import pytest

import mlp
from mlp import sources

RNG = np.random.default_rng(0)
X = RNG.normal(size=(300, 5)).astype(np.float32)
Y = RNG.integers(0, 3, 300)
KW = dict(epochs=3, batch_size=32, seed=4, optimizer="adam", lr=0.01, dropout=0.1)


def _net():
    return mlp.Network.from_sizes([5, 12, 3], hidden="relu", output="softmax", seed=1)


@pytest.fixture
def files(tmp_path):
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", Y)
    return tmp_path


@pytest.fixture(params=["map", "preadv"])
def way(request, monkeypatch):
    """Both ways of gathering a batch: through the map (a table of at most MAP_BYTES) and by preadv."""
    if request.param == "preadv":
        monkeypatch.setattr(sources, "MAP_BYTES", 0)
    return request.param


@pytest.mark.parametrize("split", [0.0, 0.2])
def test_memmap_fit_equals_the_in_memory_fit(files, split, way):
    a, b = _net(), _net()
    ha = a.fit(X, Y, validation_split=split, **KW)
    hb = b.fit(np.load(files / "X.npy", mmap_mode="r"), np.load(files / "y.npy", mmap_mode="r"),
               validation_split=split, **KW)
    np.testing.assert_array_equal(b.params, a.params)
    np.testing.assert_array_equal(hb.loss, ha.loss)
    if split:
        np.testing.assert_allclose(hb.val_loss, ha.val_loss, rtol=1e-6)


def test_the_memmap_is_never_read_whole_and_each_row_once_per_epoch(files, monkeypatch, way):
    monkeypatch.setattr(sources, "CHUNK_BYTES", 40 * 5 * 4)        # validation reads 40 rows at a time
    monkeypatch.setattr(sources, "CHECK_BYTES", 40 * 5 * 4)        # and so does the check pass
    rows = sources.as_rows(sources.open_npy(files / "X.npy"))
    assert rows.via_map is (way == "map")
    seen = []
    original = sources.MappedRows._finish

    def spy(self, out):
        seen.append(out.shape[0])
        return original(self, out)

    monkeypatch.setattr(sources.MappedRows, "_finish", spy)
    net = _net()
    net.fit(rows, Y, **KW)
    assert max(seen) == 40 < len(X)                 # never more than a chunk or a batch at once
    assert sum(seen) == len(X) * (1 + KW["epochs"])  # one checking pass, then each row once an epoch
    ref = _net()
    ref.fit(X, Y, **KW)
    np.testing.assert_array_equal(net.params, ref.params)


def test_a_memmap_with_nan_or_the_wrong_width_is_refused_before_training(files):
    bad = X.copy()
    bad[123, 2] = np.nan
    np.save(files / "bad.npy", bad)
    with pytest.raises(ValueError, match="X contains NaN or infinite values"):
        _net().fit(np.load(files / "bad.npy", mmap_mode="r"), Y, epochs=1)
    with pytest.raises(ValueError, match="X has 5 features per example, but the network expects 4"):
        mlp.Network.from_sizes([4, 3]).fit(np.load(files / "X.npy", mmap_mode="r"), Y, epochs=1)
