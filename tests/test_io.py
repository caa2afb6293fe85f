"""Model files: round trips, interchange with the safetensors package, hostile files, atomic saves."""

import errno
import json
import os
import struct
import warnings

import numpy as np
import pytest

import mlp
from mlp.data import StandardScaler
from mlp.io import read_safetensors, write_safetensors


def _net(dtype=np.float32, seed=0):
    return mlp.Network([mlp.Dense(3, 4, "leaky_relu", seed=seed), mlp.Dense(4, 5, "tanh", seed=seed + 1),
                        mlp.Dense(5, 3, "softmax", seed=seed + 2)], dtype=dtype)


def _raw(header: dict, data: bytes = b"") -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def _valid_header(path):
    """The header dict and data bytes of a real model file, to tamper with."""
    blob = open(path, "rb").read()
    n = struct.unpack("<Q", blob[:8])[0]
    return json.loads(blob[8:8 + n]), blob[8 + n:]


@pytest.fixture
def saved(tmp_path):
    net = _net()
    path = tmp_path / "model.safetensors"
    mlp.save(net, path, classes=["a", "b", "c"], metadata={"data": "test"})
    return net, path


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_is_bit_identical(tmp_path, dtype):
    net = _net(dtype)
    net.layers[0].activation.negative_slope = 0.2
    scaler = StandardScaler([1.0, 2.0, 3.0], [0.5, 1.0, 4.0])
    path = tmp_path / "m.safetensors"
    mlp.save(net, path, classes=[0, 1, 2], scaler=scaler, metadata={"note": "x", "n": 3},
             history={"loss": [1.0, 0.5]})
    again = mlp.load(path)
    assert again.dtype == np.dtype(dtype)
    assert again.sizes == [3, 4, 5, 3]
    assert [layer.activation.name for layer in again.layers] == ["leaky_relu", "tanh", "softmax"]
    assert again.layers[0].activation.negative_slope == 0.2
    np.testing.assert_array_equal(again.params, net.params)
    X = np.random.default_rng(0).normal(size=(7, 3))
    # the scaler is part of the loaded model: it takes raw rows (issue 14)
    np.testing.assert_array_equal(again(X), net(scaler.transform(X).astype(dtype)))
    assert again.classes_ == [0, 1, 2]
    assert again.scaler == scaler
    assert again.metadata == {"note": "x", "n": 3}
    history = again.history
    losses = history["loss"] if isinstance(history, dict) else history.loss
    assert list(losses) == [1.0, 0.5]


def test_load_sets_every_documented_attribute(tmp_path):
    path = tmp_path / "plain.safetensors"
    mlp.save(mlp.Network.from_sizes([2, 2, 1], seed=0), path)
    net = mlp.load(path)
    assert net.classes_ is None and net.scaler is None and net.history is None
    assert net.metadata == {}


def test_save_round_trips_attributes_of_a_loaded_network(saved, tmp_path):
    _, path = saved
    net = mlp.load(path)
    copy = tmp_path / "copy.safetensors"
    mlp.save(net, copy)
    again = mlp.load(copy)
    assert again.classes_ == ["a", "b", "c"] and again.metadata == {"data": "test"}


def test_files_are_readable_by_the_safetensors_package(saved):
    st = pytest.importorskip("safetensors.numpy")
    from safetensors import safe_open

    net, path = saved
    tensors = st.load_file(str(path))
    for i, layer in enumerate(net.layers):
        np.testing.assert_array_equal(tensors[f"layers.{i}.weight"], layer.W)
        np.testing.assert_array_equal(tensors[f"layers.{i}.bias"], layer.b)
    with safe_open(str(path), framework="np") as f:
        meta = f.metadata()
    assert meta["format"] == "mlp"
    assert json.loads(meta["classes"]) == ["a", "b", "c"]
    assert json.loads(meta["architecture"])["layers"][1] == {"n_in": 4, "n_out": 5,
                                                            "activation": {"name": "tanh"}}


def test_files_written_by_the_safetensors_package_load(saved, tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    from safetensors import safe_open

    net, path = saved
    with safe_open(str(path), framework="np") as f:
        meta = f.metadata()
    other = tmp_path / "by_safetensors.safetensors"
    st.save_file(st.load_file(str(path)), str(other), metadata=meta)
    again = mlp.load(other)
    np.testing.assert_array_equal(again.params, net.params)
    assert again.classes_ == ["a", "b", "c"]


def test_raw_tensor_round_trip_keeps_dtypes_and_shapes(tmp_path):
    tensors = {"f64": np.arange(6.0).reshape(2, 3), "i8": np.array([-1, 2], dtype=np.int8),
               "u32": np.array([[7]], dtype=np.uint32), "b": np.array([True, False]),
               "scalar": np.array(2.5), "empty": np.zeros((0, 4), dtype=np.float32),
               "big_endian": np.array([1.0, 2.0], dtype=">f8")}
    path = tmp_path / "t.safetensors"
    write_safetensors(path, tensors, {"k": "v"})
    back, meta = read_safetensors(path)
    assert meta == {"k": "v"}
    for name, arr in tensors.items():
        assert back[name].shape == arr.shape
        assert back[name].dtype == arr.dtype.newbyteorder("=")
        np.testing.assert_array_equal(back[name], arr)
    assert (os.path.getsize(path) - 8 - len(b"")) >= 0
    header_len = struct.unpack("<Q", open(path, "rb").read(8))[0]
    assert header_len % 8 == 0          # data section aligned


def test_new_files_get_normal_permissions(tmp_path):
    path = tmp_path / "m.safetensors"
    umask = os.umask(0o022)
    try:
        mlp.save(_net(), path)
    finally:
        os.umask(umask)
    assert (os.stat(path).st_mode & 0o777) == 0o644


# --------------------------------------------------------------------------- hostile or broken files


def _expect_bad(path, *words):
    with pytest.raises(ValueError) as info:
        mlp.load(path)
    message = str(info.value)
    assert str(path) in message
    for word in words:
        assert word in message, message
    assert "\n" not in message


def test_empty_and_tiny_files(tmp_path):
    for content in (b"", b"abc"):
        path = tmp_path / "tiny.safetensors"
        path.write_bytes(content)
        _expect_bad(path, "bytes")


def test_truncated_file(saved, tmp_path):
    _, path = saved
    blob = path.read_bytes()
    for cut in (len(blob) - 1, len(blob) - 20, 8 + 10, 9):
        bad = tmp_path / "cut.safetensors"
        bad.write_bytes(blob[:cut])
        _expect_bad(bad)


def test_trailing_bytes_are_refused(saved, tmp_path):
    _, path = saved
    bad = tmp_path / "long.safetensors"
    bad.write_bytes(path.read_bytes() + b"\0" * 8)
    _expect_bad(bad, "trailing")


def test_huge_header_length_fails_fast(tmp_path):
    path = tmp_path / "huge.safetensors"
    path.write_bytes(struct.pack("<Q", 2**63) + b"{}")
    _expect_bad(path, "header claims")


@pytest.mark.parametrize("content", [
    b"x0,x1,y\n0,0,0\n1,1,0\n",                       # a CSV
    b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4,     # binary junk
    b"PK\x03\x04" + b"\0" * 100,                       # a zip / .npz
])
def test_not_a_safetensors_file(tmp_path, content):
    path = tmp_path / "foreign.safetensors"
    path.write_bytes(content)
    _expect_bad(path)


@pytest.mark.parametrize("header_text", [b"not json at all", b"[1, 2, 3]", b"{\"a\": NaN}",
                                         b"{" * 5000 + b"}" * 5000, b"\xff\xfe{}"])
def test_malformed_json_header(tmp_path, header_text):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(struct.pack("<Q", len(header_text)) + header_text)
    _expect_bad(path)


def test_duplicate_keys_are_refused(tmp_path):
    text = b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, ' \
           b'"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}'
    path = tmp_path / "dup.safetensors"
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"\0" * 4)
    _expect_bad(path, "duplicate")


def test_huge_declared_shape_is_refused_without_allocating(saved, tmp_path):
    _, path = saved
    header, data = _valid_header(path)
    header["layers.0.weight"]["shape"] = [10**12, 10**12]
    bad = tmp_path / "huge_shape.safetensors"
    bad.write_bytes(_raw(header, data))
    _expect_bad(bad, "layers.0.weight")


def test_offsets_beyond_the_file_are_refused(saved, tmp_path):
    _, path = saved
    header, data = _valid_header(path)
    entry = header["layers.0.weight"]
    entry["shape"] = [10**6]
    entry["data_offsets"] = [entry["data_offsets"][0], entry["data_offsets"][0] + 4 * 10**6]
    bad = tmp_path / "beyond.safetensors"
    bad.write_bytes(_raw(header, data))
    _expect_bad(bad)


def test_overlapping_tensors_are_refused(saved, tmp_path):
    _, path = saved
    header, data = _valid_header(path)
    header["layers.0.bias"]["data_offsets"] = list(header["layers.1.bias"]["data_offsets"])
    header["layers.0.bias"]["shape"] = header["layers.1.bias"]["shape"]
    bad = tmp_path / "overlap.safetensors"
    bad.write_bytes(_raw(header, data))
    _expect_bad(bad)


def test_shapes_that_disagree_with_the_architecture(saved, tmp_path):
    _, path = saved
    header, data = _valid_header(path)
    header["layers.1.weight"]["shape"] = header["layers.1.weight"]["shape"][::-1]   # same bytes
    bad = tmp_path / "transposed.safetensors"
    bad.write_bytes(_raw(header, data))
    _expect_bad(bad, "layers.1.weight", "architecture")


def test_architecture_that_disagrees_with_the_tensors(saved, tmp_path):
    _, path = saved
    header, data = _valid_header(path)
    arch = json.loads(header["__metadata__"]["architecture"])
    arch["layers"][0]["n_out"] = 400
    arch["layers"][1]["n_in"] = 400
    header["__metadata__"]["architecture"] = json.dumps(arch)
    bad = tmp_path / "arch.safetensors"
    bad.write_bytes(_raw(header, data))
    _expect_bad(bad, "architecture")


@pytest.mark.parametrize("change, word", [
    (lambda a: a["layers"][0]["activation"].update(name="os.system"), "activation"),
    (lambda a: a["layers"][1].update(n_in=7), "layer 1"),
    (lambda a: a.update(dtype="object"), "dtype"),
    (lambda a: a.update(layers=[]), "layers"),
    (lambda a: a["layers"][0]["activation"].update(params={"negative_slope": "x"}), "params"),
    (lambda a: a["layers"][0]["activation"].update(params={"exec": 1.0}), "activation"),
])
def test_hostile_architecture(saved, tmp_path, change, word):
    _, path = saved
    header, data = _valid_header(path)
    arch = json.loads(header["__metadata__"]["architecture"])
    change(arch)
    header["__metadata__"]["architecture"] = json.dumps(arch)
    bad = tmp_path / "hostile.safetensors"
    bad.write_bytes(_raw(header, data))
    _expect_bad(bad, word)


def test_dtype_that_disagrees_with_the_architecture(saved, tmp_path):
    _, path = saved
    header, data = _valid_header(path)
    arch = json.loads(header["__metadata__"]["architecture"])
    arch["dtype"] = "float64"
    header["__metadata__"]["architecture"] = json.dumps(arch)
    bad = tmp_path / "dtype.safetensors"
    bad.write_bytes(_raw(header, data))
    _expect_bad(bad, "float64")


def test_missing_tensor_and_unknown_tensor(saved, tmp_path):
    _, path = saved
    tensors, meta = read_safetensors(path)
    missing = dict(tensors)
    del missing["layers.2.bias"]
    write_safetensors(tmp_path / "missing.safetensors", missing, meta)
    _expect_bad(tmp_path / "missing.safetensors", "layers.2.bias", "missing")
    extra = dict(tensors, payload=np.zeros(3))
    write_safetensors(tmp_path / "extra.safetensors", extra, meta)
    _expect_bad(tmp_path / "extra.safetensors", "payload")


def test_non_finite_parameters_are_refused(saved, tmp_path):
    _, path = saved
    tensors, meta = read_safetensors(path)
    tensors["layers.0.weight"][0, 0] = np.nan
    write_safetensors(tmp_path / "nan.safetensors", tensors, meta)
    _expect_bad(tmp_path / "nan.safetensors", "NaN")


def test_wrong_number_of_classes(saved, tmp_path):
    _, path = saved
    tensors, meta = read_safetensors(path)
    meta["classes"] = json.dumps(["only", "two"])
    write_safetensors(tmp_path / "classes.safetensors", tensors, meta)
    _expect_bad(tmp_path / "classes.safetensors", "class")
    meta["classes"] = json.dumps(["a", "b", "a"])
    write_safetensors(tmp_path / "repeated.safetensors", tensors, meta)
    _expect_bad(tmp_path / "repeated.safetensors", "distinct", "'a'")


def test_plain_safetensors_without_mlp_metadata(tmp_path):
    path = tmp_path / "plain.safetensors"
    write_safetensors(path, {"weight": np.ones((2, 2))})
    _expect_bad(path, "mlp")


def test_newer_format_version_is_refused(saved, tmp_path):
    _, path = saved
    tensors, meta = read_safetensors(path)
    meta["format_version"] = "99"
    write_safetensors(tmp_path / "new.safetensors", tensors, meta)
    _expect_bad(tmp_path / "new.safetensors", "upgrade")


def test_missing_file_folder_and_fifo(tmp_path):
    with pytest.raises(FileNotFoundError):
        mlp.load(tmp_path / "nope.safetensors")
    with pytest.raises(IsADirectoryError):
        mlp.load(tmp_path)
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "pipe.safetensors"
        os.mkfifo(fifo)
        _expect_bad(fifo, "regular")     # refused without blocking on the open


def test_load_checkpoint_of_a_plain_model_is_refused(saved):
    _, path = saved
    with pytest.raises(ValueError, match="not a checkpoint"):
        mlp.load_checkpoint(path)


# --------------------------------------------------------------------------- atomic saves


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


@pytest.mark.parametrize("failing", ["fsync", "replace", "write"])
def test_failed_save_leaves_the_earlier_file_intact(saved, tmp_path, monkeypatch, failing):
    old_net, path = saved
    before = path.read_bytes()
    full = OSError(errno.ENOSPC, "No space left on device")

    if failing == "write":
        real_fdopen = os.fdopen

        class Half:
            def __init__(self, f):
                self.f = f

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.f.close()

            def write(self, data):
                self.f.write(data[: len(data) // 2])
                raise full

        monkeypatch.setattr(os, "fdopen", lambda fd, mode: Half(real_fdopen(fd, mode)))
    else:
        def fail(*args, **kwargs):
            raise full
        monkeypatch.setattr(os, failing, fail)

    with pytest.raises(OSError):
        mlp.save(_net(seed=10), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    np.testing.assert_array_equal(mlp.load(path).params, old_net.params)
    assert _leftovers(tmp_path) == []


def test_invalid_arguments_fail_before_touching_the_file(saved):
    old_net, path = saved
    before = path.read_bytes()
    with pytest.raises(ValueError, match="classes"):
        mlp.save(_net(seed=3), path, classes=["just one"])
    with pytest.raises(TypeError, match="metadata"):
        mlp.save(_net(seed=3), path, metadata={"f": object()})
    with pytest.raises(ValueError, match="scaler"):
        mlp.save(_net(seed=3), path, scaler=StandardScaler([0.0], [1.0]))
    with pytest.raises(TypeError):
        mlp.save("not a network", path)
    assert path.read_bytes() == before


def test_save_into_a_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError):
        mlp.save(_net(), tmp_path / "no" / "such" / "folder" / "m.safetensors")
    with pytest.raises(IsADirectoryError):
        mlp.save(_net(), tmp_path)


# --------------------------------------------------------------------------- checkpoints


@pytest.mark.parametrize("optimizer, extra", [
    ("adam", {}),
    ("momentum", {"dropout": 0.2}),
    ("rmsprop", {"weight_decay": 1e-3, "validation_split": 0.25}),
    ("sgd", {"schedule": "cosine"}),
])
def test_checkpoint_resume_is_bit_identical(tmp_path, optimizer, extra):
    X, y = mlp.datasets.spirals(n=120, seed=0)
    options = dict(loss="cross_entropy", optimizer=optimizer, lr=0.01, batch_size=16, seed=7,
                   progress=False, **extra)
    more = {k: v for k, v in options.items() if k != "seed"}   # a new seed would restart the generator

    def fresh():
        return mlp.Network.from_sizes([2, 16, 16, 2], hidden="relu", output="softmax", seed=1)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # "loss still falling: raise epochs"
        continued = fresh()                      # in memory: fit 5, fit 5 more
        continued.fit(X, y, epochs=5, **options)
        continued.fit(X, y, epochs=5, **more)

        half = fresh()                           # through a file: fit 5, save, load, fit 5 more
        half.fit(X, y, epochs=5, **options)
        path = tmp_path / "half.ckpt.safetensors"
        mlp.save(half, path, train_state=half.train_state)
        del half
        resumed = mlp.load_checkpoint(path)
        assert resumed.train_state.epoch == 5
        resumed.fit(X, y, epochs=5, **more)

        straight = fresh()                       # without stopping: fit 10
        straight.fit(X, y, epochs=10, **options)

    np.testing.assert_array_equal(resumed.params, continued.params)
    assert resumed.history.loss == continued.history.loss
    assert resumed.train_state.step == continued.train_state.step
    if "schedule" not in extra:    # a schedule spans the epochs of the fit call that set it
        np.testing.assert_array_equal(resumed.params, straight.params)
        assert resumed.history.loss == straight.history.loss


def test_checkpoint_holds_optimiser_and_generator_state(tmp_path):
    X, y = mlp.datasets.moons(n=64, seed=0)
    net = mlp.Network.from_sizes([2, 8, 2], output="softmax", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net.fit(X, y, epochs=3, optimizer="adam", batch_size=8, seed=0, progress=False)
    path = tmp_path / "ckpt.safetensors"
    mlp.save(net, path, train_state=net.train_state)
    back = mlp.load_checkpoint(path).train_state
    state = net.train_state
    assert type(back.optimizer) is type(state.optimizer) and back.optimizer.t == state.optimizer.t
    assert back.optimizer.betas == state.optimizer.betas            # a tuple stays a tuple
    np.testing.assert_array_equal(back.optimizer.m, state.optimizer.m)
    np.testing.assert_array_equal(back.optimizer.v, state.optimizer.v)
    assert back.rng.bit_generator.state == state.rng.bit_generator.state
    assert back.rng.random() == state.rng.random()
    assert back.history.loss == state.history.loss
    # A checkpoint is also a model file.
    np.testing.assert_array_equal(mlp.load(path).params, net.params)


def _one_epoch_checkpoint(tmp_path):
    """A 2-4-2 net fitted one epoch and saved with its training state: (tensors, metadata, state)."""
    X, y = mlp.datasets.moons(n=32, seed=0)
    net = mlp.Network.from_sizes([2, 4, 2], output="softmax", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net.fit(X, y, epochs=1, progress=False)
    path = tmp_path / "ckpt.safetensors"
    mlp.save(net, path, train_state=net.train_state)
    tensors, meta = read_safetensors(path)
    return tensors, meta, json.loads(meta["train_state"])


def test_checkpoint_with_a_hostile_training_state(tmp_path):
    tensors, meta, state = _one_epoch_checkpoint(tmp_path)
    state["optimizer"]["m"] = {"__tensor__": "layers.0.weight.elsewhere"}
    meta["train_state"] = json.dumps(state)
    write_safetensors(tmp_path / "bad.safetensors", tensors, meta)
    with pytest.raises(ValueError, match="missing tensor"):
        mlp.load_checkpoint(tmp_path / "bad.safetensors")
    state["optimizer"] = {"name": "os.system"}
    meta["train_state"] = json.dumps(state)
    write_safetensors(tmp_path / "bad2.safetensors", tensors, meta)
    with pytest.raises(ValueError, match="training state"):
        mlp.load_checkpoint(tmp_path / "bad2.safetensors")


@pytest.mark.parametrize("tamper, words", [
    (lambda st: st["rng"].update(bit_generator="seed"), "random generator"),     # np.random.seed()
    (lambda st: st["optimizer"].update(lr="0.1; rm -rf"), "training state"),
    (lambda st: st.update(history={"loss": 5}), "training state"),
    (lambda st: st.update(epoch={"__float__": "inf"}), "training state"),
])
def test_checkpoint_state_is_validated_before_use(tmp_path, tamper, words):
    tensors, meta, state = _one_epoch_checkpoint(tmp_path)
    tamper(state)
    meta["train_state"] = json.dumps(state)
    write_safetensors(tmp_path / "bad.safetensors", tensors, meta)
    before = np.random.get_state()[1].copy()
    with pytest.raises(ValueError, match=words):
        mlp.load_checkpoint(tmp_path / "bad.safetensors")
    np.testing.assert_array_equal(np.random.get_state()[1], before)    # global state untouched


def _early_stopping_checkpoint(tmp_path):
    X, y = mlp.datasets.moons(n=64, seed=0)
    net = mlp.Network.from_sizes([2, 4, 2], output="softmax", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net.fit(X, y, epochs=4, early_stopping=True, patience=50, validation_split=0.25, optimizer="sgd",
                lr=0.5, batch_size=8, seed=0, progress=False)
    path = tmp_path / "ckpt.safetensors"
    mlp.save(net, path, train_state=net.train_state)
    return net, path


def test_checkpoint_holds_the_early_stopping_watch(tmp_path):
    net, path = _early_stopping_checkpoint(tmp_path)
    val = net.history.val_loss
    watch = mlp.load_checkpoint(path).train_state.early_stopping
    assert watch["best"] == min(val) and watch["best_epoch"] == val.index(min(val)) + 1
    assert watch["wait"] == 4 - watch["best_epoch"] and watch["stopped_epoch"] is None
    np.testing.assert_array_equal(watch["best_params"], net.train_state.early_stopping["best_params"])
    assert watch["best_params"].dtype == net.dtype


def _retensor(change):
    """Replace early stopping's best_params tensor in the file by ``change(tensor)``."""
    def tamper(es, tensors):
        name = es["best_params"]["__tensor__"]
        tensors[name] = change(tensors[name])
    return tamper


@pytest.mark.parametrize("tamper, words", [
    (lambda es, t: es.update(wait="3"), "early_stopping wait"),
    (lambda es, t: es.update(wait=-1), "early_stopping wait"),
    (lambda es, t: es.update(best_epoch=2.5), "early_stopping best_epoch"),
    (lambda es, t: es.update(stopped_epoch=True), "early_stopping stopped_epoch"),
    (lambda es, t: es.update(best=[1.0]), "early_stopping best"),
    (lambda es, t: es.update(patience=3), "early_stopping must be an object"),
    (_retensor(lambda a: a[:-1]), "early_stopping best_params"),
    (_retensor(lambda a: a.astype(np.int32)), "early_stopping best_params"),
])
def test_checkpoint_early_stopping_state_is_validated(tmp_path, tamper, words):
    _, path = _early_stopping_checkpoint(tmp_path)
    tensors, meta = read_safetensors(path)
    state = json.loads(meta["train_state"])
    tamper(state["early_stopping"], tensors)
    meta["train_state"] = json.dumps(state)
    write_safetensors(tmp_path / "bad.safetensors", tensors, meta)
    with pytest.raises(ValueError, match=words):
        mlp.load_checkpoint(tmp_path / "bad.safetensors")


def test_copy_keeps_the_model_file_attributes(tmp_path):
    # a converted copy saves (and exports) the same model: classes, scaler and metadata come along
    X, y = mlp.datasets.gaussians(n=60, n_classes=3, seed=0)
    net = mlp.Network.from_sizes([2, 4, 3], hidden="relu", output="softmax", seed=0)
    mlp.save(net, tmp_path / "m.safetensors", classes=["a", "b", "c"],
             scaler=StandardScaler(X.mean(0), X.std(0)), metadata={"note": "kept"})
    loaded = mlp.load(tmp_path / "m.safetensors")
    copy64 = loaded.copy(dtype=np.float64)
    assert copy64.dtype == np.float64 and copy64.classes_ == ["a", "b", "c"]
    assert copy64.metadata["note"] == "kept"
    np.testing.assert_array_equal(copy64.scaler.mean, loaded.scaler.mean)
    copy64.metadata["note"] = "changed"               # independent of the original
    assert loaded.metadata["note"] == "kept"
    mlp.save(copy64, tmp_path / "c.safetensors")
    again = mlp.load(tmp_path / "c.safetensors")
    assert again.classes_ == ["a", "b", "c"] and again.scaler is not None


def test_save_refuses_repeated_class_labels(tmp_path):
    net = mlp.Network.from_sizes([2, 3], output="softmax", seed=0)
    with pytest.raises(ValueError, match="distinct; repeated: 'a'"):
        mlp.save(net, tmp_path / "m.safetensors", classes=["a", "a", "b"])
    assert not (tmp_path / "m.safetensors").exists()


def test_save_never_replaces_a_good_file_with_one_load_refuses(tmp_path):
    net = _net()
    path = tmp_path / "good.safetensors"
    mlp.save(net, path)
    good = path.read_bytes()
    broken = net.copy()
    broken.params = np.full(net.n_params, np.nan)
    with pytest.raises(ValueError, match="NaN or infinite.*nothing was written"):
        mlp.save(broken, path)
    assert path.read_bytes() == good
    np.testing.assert_array_equal(mlp.load(path).params, net.params)


@pytest.mark.parametrize("bad", [None, 5, ["m.safetensors"]])
def test_a_path_that_is_not_a_path_is_a_type_error(bad):
    with pytest.raises(TypeError, match="path must be a str or os.PathLike"):
        mlp.save(_net(), bad)
    with pytest.raises(TypeError, match="path must be a str or os.PathLike"):
        mlp.load(bad)
