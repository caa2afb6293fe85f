"""fit(engine="torch"): PyTorch runs each step, mlp's loop does the rest — the same results."""

import copy
import sys

import numpy as np
import pytest

import mlp

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
X = RNG.normal(size=(150, 6))
Y = RNG.integers(0, 3, 150)

CONFIGS = {
    "sgd": dict(optimizer=mlp.optimizers.SGD(lr=0.1), clip_value=0.5, schedule="step"),
    "momentum": dict(optimizer=mlp.optimizers.SGD(lr=0.05, momentum=0.9, nesterov=True), weight_decay=1e-3,
                     clip_norm=1.0, schedule="exponential"),
    "adam": dict(optimizer="adam", lr=0.01, weight_decay=1e-3, clip_norm=0.5, schedule="cosine"),
    "adamw": dict(optimizer=mlp.optimizers.AdamW(lr=0.01, weight_decay=0.1), l1=1e-4, clip_norm=0.5,
                  schedule="cosine"),
}


def _net(dtype, hidden="relu"):
    return mlp.Network.from_sizes([6, 16, 8, 3], hidden=hidden, output="softmax", seed=3, dtype=dtype)


def _pair(dtype, config, **extra):
    """The same fit on the NumPy engine and on engine="torch" (device cpu); both networks."""
    out = []
    for engine in ("numpy", "torch"):
        kw = {**copy.deepcopy(CONFIGS[config]), **extra}
        net = _net(dtype)
        net.fit(X.astype(dtype), Y, epochs=3, batch_size=32, seed=1, engine=engine, **kw)
        out.append(net)
    return out


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 1e-5)])
@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_torch_engine_equals_the_numpy_engine_after_three_epochs(dtype, tol, config):
    a, b = _pair(dtype, config)
    np.testing.assert_allclose(b.params, a.params, rtol=0, atol=tol)
    np.testing.assert_allclose(b.history.loss, a.history.loss, rtol=0, atol=tol)
    assert b.history.lr == a.history.lr
    assert b.history.metrics["accuracy"] == a.history.metrics["accuracy"]
    assert b.train_state.optimizer.t == a.train_state.optimizer.t == 15
    for name in a.train_state.optimizer._buffers:     # the optimiser's state came back too
        mine, theirs = getattr(a.train_state.optimizer, name), getattr(b.train_state.optimizer, name)
        assert (mine is None) == (theirs is None), name
        if mine is not None:
            np.testing.assert_allclose(theirs, mine, rtol=0, atol=tol)


def test_dropout_validation_and_early_stopping_behave_the_same():
    kw = dict(optimizer="adam", lr=0.05, dropout=0.2, validation_split=0.2, early_stopping=True, patience=1)
    nets = []
    for engine in ("numpy", "torch"):
        net = _net(np.float64)
        net.fit(X, Y, epochs=30, batch_size=16, seed=2, engine=engine, **kw)
        nets.append(net)
    a, b = nets
    assert a.history.stop_reason == b.history.stop_reason == "early_stopping"
    assert len(a.history) == len(b.history) < 30
    np.testing.assert_allclose(b.history.val_loss, a.history.val_loss, atol=1e-10)
    np.testing.assert_allclose(b.params, a.params, atol=1e-10)       # the best epoch, put back


def test_exact_resume_and_engines_can_take_turns():
    whole = _net(np.float64)
    whole.fit(X, Y, epochs=3, batch_size=32, seed=1, engine="torch", optimizer="adam", lr=0.01)
    cut = _net(np.float64)
    cut.fit(X, Y, epochs=2, batch_size=32, seed=1, engine="torch", optimizer="adam", lr=0.01)
    cut.fit(X, Y, epochs=1, batch_size=32, engine="torch", optimizer="adam")
    np.testing.assert_array_equal(cut.params, whole.params)
    assert len(cut.history) == 3
    mixed = _net(np.float64)
    mixed.fit(X, Y, epochs=2, batch_size=32, seed=1, optimizer="adam", lr=0.01)
    mixed.fit(X, Y, epochs=1, batch_size=32, engine="torch", optimizer="adam")
    np.testing.assert_allclose(mixed.params, whole.params, atol=1e-10)


class _Record(mlp.callbacks.Callback):
    def __init__(self, stop_at=None):
        self.seen, self.stop_at, self.batches = [], stop_at, 0

    def on_batch_end(self, batch, loss):
        self.batches += 1
        if self.batches == self.stop_at:
            raise KeyboardInterrupt

    def on_epoch_end(self, epoch, history):
        self.seen.append(self.network.params.copy())


def test_callbacks_see_the_synced_weights_and_ctrl_c_stops_after_the_batch():
    runs = []
    for engine in ("numpy", "torch"):
        net, cb = _net(np.float64), _Record(stop_at=12)
        net.fit(X, Y, epochs=3, batch_size=32, seed=1, engine=engine, optimizer="adam", callbacks=[cb])
        runs.append((net, cb))
    (a, ca), (b, cb) = runs
    assert len(ca.seen) == len(cb.seen) == 2
    for pa, pb in zip(ca.seen, cb.seen):
        np.testing.assert_allclose(pb, pa, atol=1e-10)
    assert a.history.stop_reason == b.history.stop_reason == "interrupted"
    np.testing.assert_allclose(b.params, a.params, atol=1e-10)


def test_divergence_is_reported_as_by_the_numpy_engine():
    errors = []
    for engine in ("numpy", "torch"):
        net = mlp.Network.from_sizes([6, 8, 1], hidden="identity", seed=0, dtype=np.float64)
        with pytest.raises(mlp.TrainingDiverged) as info:
            net.fit(X, X[:, :1], loss="mse", optimizer=mlp.optimizers.SGD(lr=1e3), epochs=50, batch_size=50,
                    seed=0, engine=engine)
        errors.append((info.value.epoch, info.value.batch, net.params.copy()))
    assert errors[0][:2] == errors[1][:2] == (2, 2)
    assert np.isfinite(errors[1][2]).all()
    np.testing.assert_allclose(errors[1][2], errors[0][2], rtol=1e-10)


def test_devices_and_engines_are_checked():
    net = _net(np.float32)
    with pytest.raises(ValueError, match="needs engine='torch'"):
        net.fit(X, Y, epochs=1, device="cuda")
    with pytest.raises(ValueError, match="unknown engine 'jax'"):
        net.fit(X, Y, epochs=1, engine="jax")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match=r"device='cuda': no CUDA device is available here"):
            net.fit(X, Y, epochs=1, engine="torch", device="cuda")
    with pytest.raises(ValueError, match="device must be 'cpu', 'cuda', 'cuda:N' or 'mps'"):
        net.fit(X, Y, epochs=1, engine="torch", device="tpu")


def test_without_torch_the_option_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match=r"pip install 'mlp\[torch\]'"):
        _net(np.float32).fit(X, Y, epochs=1, engine="torch")


@pytest.mark.skipif(not torch.cuda.is_available(),
                    reason="no CUDA device in this session: the CUDA path is the same code, covered by "
                           "these tests on device='cpu'")
def test_cuda_equals_the_numpy_engine():      # pragma: no cover - needs a GPU
    nets = []
    for engine, device in (("numpy", None), ("torch", "cuda")):
        net = _net(np.float64)
        net.fit(X, Y, epochs=3, batch_size=32, seed=1, engine=engine, device=device, optimizer="adam",
                lr=0.01)
        nets.append(net)
    np.testing.assert_allclose(nets[1].params, nets[0].params, atol=1e-10)
