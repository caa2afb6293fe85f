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
    if request.param == "preadv":                  # X (6,000 bytes) by preadv, the labels (2,400) mapped
        monkeypatch.setattr(sources, "MAP_BYTES", X.nbytes - 1)
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


def test_the_memmaps_are_never_read_whole_and_each_row_once_per_epoch(files, monkeypatch, way):
    monkeypatch.setattr(sources, "CHUNK_BYTES", 40 * 5 * 4)        # validation reads 40 rows at a time
    monkeypatch.setattr(sources, "CHECK_BYTES", 40 * 5 * 4)        # and so does the check pass
    rows = sources.as_rows(sources.open_npy(files / "X.npy"))
    targets = sources.open_npy(files / "y.npy")                    # int64 labels: kept on disk
    assert rows.via_map is (way == "map")
    seen, trained_on = {}, []
    original, check = sources.MappedRows._finish, sources.check_target_rows

    def spy(self, out):
        seen.setdefault(self.name, []).append(out.shape[0])
        return original(self, out)

    def kept(*args, **kw):
        trained_on.append(check(*args, **kw))
        return trained_on[-1]

    monkeypatch.setattr(sources.MappedRows, "_finish", spy)
    monkeypatch.setattr(sources, "check_target_rows", kept)
    net = _net()
    net.fit(rows, targets, **KW)
    assert max(seen["X"]) == 40 < len(X)                 # never more than a chunk or a batch at once
    assert sum(seen["X"]) == len(X) * (1 + KW["epochs"])  # one checking pass, then each row once an epoch
    # the targets: one checking pass in chunks of 100 labels (8 bytes each), and what fit trains on
    # is the memory map itself, never a copy
    assert seen["y"] == [100, 100, 100]
    assert np.shares_memory(trained_on[0], targets) and not trained_on[0].flags.writeable
    ref = _net()
    ref.fit(X, Y, **KW)
    np.testing.assert_array_equal(net.params, ref.params)


@pytest.mark.parametrize("values, loss, message", [
    (np.where(np.arange(900).reshape(300, 3) == 7, np.nan, 0.5), "mse", "y contains NaN or infinite values"),
    (np.full(300, 3), "cross_entropy", r"y has class labels out of range: found 3..3, the network has 3"),
    (np.full(300, 1.5), "cross_entropy", "y class labels must be integers 0..2"),
    (np.ones(299, np.int64), "cross_entropy", "y has 299 labels but X has 300 examples"),
    (np.ones((300, 2)), "mse", r"y has shape \(300, 2\), expected \(300, 3\)"),
])
def test_targets_on_disk_are_checked_as_in_memory(files, values, loss, message):
    np.save(files / "t.npy", values)
    for y in (values, np.load(files / "t.npy", mmap_mode="r")):           # in memory, then on disk
        with pytest.raises(ValueError, match=message):
            _net().fit(X, y, loss=loss, epochs=1)


def test_float_targets_on_disk_in_the_networks_dtype_are_not_copied(files):
    T = RNG.normal(size=(300, 3)).astype(np.float32)
    np.save(files / "T.npy", T)
    mapped = np.load(files / "T.npy", mmap_mode="r")
    net = mlp.Network.from_sizes([5, 12, 3], hidden="relu", output="identity", seed=1)
    got = sources.check_target_rows(mapped, 300, 3, np.float32)
    assert np.shares_memory(got, mapped)
    assert sources.check_target_rows(mapped, 300, 3, np.float64).dtype == np.float64   # converted
    ref = mlp.Network.from_sizes([5, 12, 3], hidden="relu", output="identity", seed=1)
    net.fit(X, mapped, epochs=2, seed=0)
    ref.fit(X, T, epochs=2, seed=0)
    np.testing.assert_array_equal(net.params, ref.params)


def test_a_memmap_with_nan_or_the_wrong_width_is_refused_before_training(files):
    bad = X.copy()
    bad[123, 2] = np.nan
    np.save(files / "bad.npy", bad)
    with pytest.raises(ValueError, match="X contains NaN or infinite values"):
        _net().fit(np.load(files / "bad.npy", mmap_mode="r"), Y, epochs=1)
    with pytest.raises(ValueError, match="X has 5 features per example, but the network expects 4"):
        mlp.Network.from_sizes([4, 3]).fit(np.load(files / "X.npy", mmap_mode="r"), Y, epochs=1)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_compiled_epochs_on_a_memmap_read_one_batch_per_call(files, monkeypatch, way, optimizer):
    """A dense ReLU/softmax net (no dropout, unlike the tests above): the epochs run in compiled
    calls, each on one batch read just before it — an epoch of 300 rows is 9 calls of 32 rows and
    a last one of 12. Parameters and step counts equal the in-memory fit bit for bit (the History to
    round-off: the epoch's loss is summed per call), and no read is larger than a batch."""
    pytest.importorskip("numba")
    monkeypatch.setattr(sources, "CHECK_BYTES", 40 * X.shape[1] * X.itemsize)   # the check pass: 40 rows
    calls, reads = [], []
    real_run, real_finish = mlp._fast.EpochLoop.run, sources.MappedRows._finish
    monkeypatch.setattr(mlp._fast.EpochLoop, "run", lambda self, order, first, stop, *a, **k:
                        calls.append((stop - first, len(order), a[2] if len(a) > 2 else None))
                        or real_run(self, order, first, stop, *a, **k))
    monkeypatch.setattr(sources.MappedRows, "_finish",
                        lambda self, out: reads.append(out.shape[0]) or real_finish(self, out))
    kw = dict(epochs=3, batch_size=32, seed=4, optimizer=optimizer, lr=0.05, weight_decay=1e-3)
    a, b = _net(), _net()
    ha = a.fit(X, Y, **kw)
    in_memory = len(calls)
    hb = b.fit(sources.as_rows(sources.open_npy(files / "X.npy")), Y, **kw)
    mapped = calls[in_memory:]
    assert in_memory and mapped == ([(1, 32, False)] * 9 + [(1, 12, True)]) * 3
    assert max(reads) == 40 and reads.count(32) == 27 and reads.count(12) == 3
    np.testing.assert_array_equal(b.params, a.params)
    np.testing.assert_allclose(hb.loss, ha.loss, rtol=1e-15)      # the epoch's sum, grouped per call
    assert b.train_state.step == a.train_state.step == 30
    assert b.train_state.optimizer.t == a.train_state.optimizer.t


def test_a_diverging_batch_inside_a_memmap_call_is_handed_back(files):
    """The kernel stops before a batch whose loss is not finite, mid-call: the loop runs it, and the
    divergence guard says the same as for the same rows in memory, the parameters restored alike."""
    pytest.importorskip("numba")
    big = (X * 1e4).astype(np.float32)
    np.save(files / "big.npy", big)
    found = []
    for data in (big, sources.as_rows(sources.open_npy(files / "big.npy"))):
        net = _net()
        with pytest.raises(mlp.errors.TrainingDiverged) as err:
            net.fit(data, Y, optimizer="sgd", lr=1e3, epochs=5, batch_size=32, progress=False, seed=0)
        found.append((str(err.value), net.params.copy()))
    assert found[0][0] == found[1][0]
    np.testing.assert_array_equal(found[0][1], found[1][1])
