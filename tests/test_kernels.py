"""The compiled kernels (_kernels.py, numba) equal their NumPy twins, and the training step and
``fit`` give the same numbers with and without them (issue 15: to float round-off).

Three paths are compared: the fast path on compiled kernels (numba installed), the fast path
on NumPy calls alone (``_fast.COMPILED = False``) and the plain path (``mlp.fast_paths(False)``).
Each kernel runs both its multi-threaded and its serial form (``PARALLEL_MIN``).
"""

import subprocess
import sys

import numpy as np
import pytest

import mlp
from mlp import _fast, _kernels

numba = pytest.importorskip("numba")
K = _kernels.get()

pytestmark = [pytest.mark.filterwarnings("ignore:loss still falling"),
              pytest.mark.filterwarnings("ignore:all .* hidden layer:UserWarning")]
TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}
DTYPES = [np.float32, np.float64]


@pytest.fixture(params=["parallel", "serial"])
def form(request, monkeypatch):
    monkeypatch.setattr(_kernels, "PARALLEL_MIN", 0 if request.param == "parallel" else 1 << 60)
    return request.param


def run(name, *args):
    """The kernel ``name`` (the form the fixture chose) and its twin, each on its own copy of the
    arrays; returns both results and both argument lists."""
    a1 = [x.copy() if isinstance(x, np.ndarray) else x for x in args]
    a2 = [x.copy() if isinstance(x, np.ndarray) else x for x in args]
    r1 = _kernels.pick(K, name, 1 << 30 if _kernels.PARALLEL_MIN == 0 else 0)(*a1)
    r2 = _kernels.TWINS[name](*a2)
    return (r1, a1), (r2, a2)


def close(a, b, dtype):
    np.testing.assert_allclose(a, b, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 7, 130])
def test_elementwise_kernels_equal_twins(dtype, n, form):
    rng = np.random.default_rng(n)
    z = rng.standard_normal((33, n)).astype(dtype)
    b = rng.standard_normal(33).astype(dtype)
    g = rng.standard_normal((33, n)).astype(dtype)
    for name, args, outs in (("bias_relu", (z, b, np.empty_like(z)), (0, 2)),
                             ("bias_add", (z, b), (0,)),
                             ("relu_delta", (g, z, np.empty(33, dtype)), (0, 2)),
                             ("row_sums", (g, np.empty(33, dtype)), (1,))):
        (_, a1), (_, a2) = run(name, *args)
        for i in outs:
            close(a1[i], a2[i], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 5, 200])
@pytest.mark.parametrize("spread", [1.0, 30.0, 1e4])
def test_softmax_ce_equals_twin(dtype, n, spread, form):
    rng = np.random.default_rng(n)
    z = (rng.standard_normal((10, n)) * spread).astype(dtype)
    labels = rng.integers(0, 10, n).astype(np.intp)
    (r1, a1), (r2, a2) = run("softmax_ce", z, labels, np.empty_like(z), np.empty_like(z),
                             np.empty(10, dtype), -0.05)
    np.testing.assert_allclose(r1[0], r2[0], rtol=TOL[dtype]["rtol"])
    assert r1[1] == r2[1]
    for i in (2, 3, 4):
        close(a1[i], a2[i], dtype)
    assert np.isfinite(r1[0])


def test_softmax_ce_propagates_nan(form):
    z = np.zeros((3, 4), np.float32)
    z[1, 2] = np.nan
    (r1, _), (r2, _) = run("softmax_ce", z, np.zeros(4, np.intp), np.empty_like(z), np.empty_like(z),
                           np.empty(3, np.float32), 1.0)
    assert np.isnan(r1[0]) and np.isnan(r2[0])


@pytest.mark.parametrize("dtype", DTYPES)
def test_gather_and_cast_equals_twin(dtype, form):
    rng = np.random.default_rng(0)
    X = rng.random((50, 9), dtype=np.float32)
    idx = rng.permutation(50)[:17]
    (_, a1), (_, a2) = run("gather", X, idx, np.empty((17, 9), dtype))
    assert np.array_equal(a1[2], a2[2]) and np.array_equal(a1[2], X[idx].astype(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_adam_kernel_equals_twin_and_optimizer(dtype, form):
    rng = np.random.default_rng(0)
    p = rng.standard_normal(1000).astype(dtype)
    g = rng.standard_normal(1000).astype(dtype)
    m, v = rng.standard_normal(1000).astype(dtype) * 0.1, rng.random(1000).astype(dtype)
    (_, a1), (_, a2) = run("adam", p, g, m, v, *(dtype(c) for c in (0.9, 0.1, 0.999, 1 - 0.999, 1e-3, 1e-8)))
    for i in (0, 2, 3):
        close(a1[i], a2[i], dtype)


# -- the fast path with and without kernels, and the plain path ---------------------------------
def step(net, X, y, loss, compiled, fast=True):
    with mlp.fast_paths(fast):
        old, _fast.COMPILED = _fast.COMPILED, compiled
        try:
            value = net.loss_and_grad(X, y, loss)
        finally:
            _fast.COMPILED = old
    return value, net.grads.copy(), [(la.z.copy(), la.h.copy(), la.delta.copy()) for la in net.layers]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden", ["relu", "identity", "tanh"])
@pytest.mark.parametrize("loss, output", [("cross_entropy", "softmax"), ("mse", "identity"),
                                          ("binary_cross_entropy", "sigmoid")])
def test_step_same_with_and_without_kernels(dtype, hidden, loss, output, form):
    rng = np.random.default_rng(2)
    net = mlp.Network.from_sizes([6, 9, 7, 4], hidden=hidden, output=output, seed=0, dtype=dtype)
    for n in (1, 16, 33):
        X = rng.standard_normal((n, 6)).astype(dtype)
        y = (rng.integers(0, 4, n) if loss == "cross_entropy" else
             rng.uniform(size=(n, 4)) if loss == "binary_cross_entropy" else rng.standard_normal((n, 4)))
        runs = [step(net, X, y, loss, True), step(net, X, y, loss, False), step(net, X, y, loss, True, False)]
        for other in runs[1:]:
            tol = TOL[dtype]
            np.testing.assert_allclose(runs[0][0], other[0], **tol)
            scale = max(1.0, float(np.abs(other[1]).max()))
            np.testing.assert_allclose(runs[0][1], other[1], rtol=tol["rtol"], atol=tol["atol"] * scale)
            for a, b in zip(runs[0][2], other[2]):
                for u, w in zip(a, b):
                    atol = tol["atol"] * max(1, np.abs(w).max())
                    np.testing.assert_allclose(u, w, rtol=tol["rtol"], atol=atol)


def test_kernel_step_counts_correct_predictions():
    rng = np.random.default_rng(3)
    net = mlp.Network.from_sizes([4, 8, 5], hidden="relu", output="softmax", seed=0)
    X, y = rng.standard_normal((40, 4)).astype(np.float32), rng.integers(0, 5, 40)
    net.loss_and_grad(X, y, "cross_entropy")
    ws = _fast.workspace(net, 40)
    assert ws.correct == int(np.count_nonzero(net.layers[-1].h.argmax(axis=1) == y))


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_fit_same_with_and_without_kernels(optimizer, monkeypatch):
    """Whole fits (784-wide input, batches large enough for the multi-threaded kernels): the
    History and the parameters with kernels, without them, and on the plain path agree."""
    monkeypatch.setattr(_kernels, "PARALLEL_MIN", 0)
    rng = np.random.default_rng(0)
    X = rng.random((600, 64), dtype=np.float32)
    y = rng.integers(0, 10, 600)
    results = []
    for compiled, fast in ((True, True), (False, True), (False, False)):
        net = mlp.Network.from_sizes([64, 32, 16, 10], hidden="relu", output="softmax", seed=0)
        monkeypatch.setattr(_fast, "COMPILED", compiled)
        with mlp.fast_paths(fast):
            h = net.fit(X, y, optimizer=optimizer, epochs=3, batch_size=128, seed=0, progress=False)
        results.append((np.array(h.loss), np.array(h.metrics.get("accuracy", h.loss)), net.params.copy()))
    for other in results[1:]:
        np.testing.assert_allclose(results[0][0], other[0], rtol=1e-5)
        np.testing.assert_array_equal(results[0][1], other[1])      # the kernel's count of correct ones
        np.testing.assert_allclose(results[0][2], other[2], rtol=1e-4, atol=1e-5)


def test_counted_correct_only_for_the_batch_it_counted():
    """RunningAccuracy takes the fused kernel's count only for the very batch the kernel saw."""
    rng = np.random.default_rng(3)
    net = mlp.Network.from_sizes([4, 8, 5], hidden="relu", output="softmax", seed=0)
    X, y = rng.standard_normal((40, 4)).astype(np.float32), rng.integers(0, 5, 40)
    net.loss_and_grad(X, y, "cross_entropy")
    assert _fast.counted_correct(net, X) == int(np.count_nonzero(net.layers[-1].h.argmax(axis=1) == y))
    assert _fast.counted_correct(net, X.copy()) is None
    with mlp.fast_paths(True):
        _fast.COMPILED = False
        try:
            net.loss_and_grad(X, y, "cross_entropy")
        finally:
            _fast.COMPILED = True
    assert _fast.counted_correct(net, X) is None


def test_import_mlp_does_not_import_numba():
    code = "import sys, mlp; assert 'numba' not in sys.modules, 'numba imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_without_numba_the_twins_run():
    code = ("import os; os.environ['MLP_NO_NUMBA'] = '1'; import numpy as np, mlp; from mlp import _kernels;"
            "assert _kernels.get() is None;"
            "net = mlp.Network.from_sizes([3, 4, 2], output='softmax', seed=0);"
            "net.fit(np.eye(3), [0, 1, 1], epochs=2, progress=False)")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("dtype", DTYPES)
def test_optimizer_step_equals_adam_step(dtype, form):
    """``_fast.optimizer_step`` (Adam in one compiled pass) against ``Adam.step``, past a flush."""
    rng = np.random.default_rng(4)
    p1 = rng.standard_normal(3000).astype(dtype)
    p2 = p1.copy()
    a1, a2 = mlp.optimizers.Adam(lr=1e-2), mlp.optimizers.Adam(lr=1e-2)
    for _ in range(70):
        g = rng.standard_normal(3000).astype(dtype)
        assert _fast.optimizer_step(a1, p1, g)
        a2.step(p2, g)
    assert a1.t == a2.t == 70
    for x, y in ((p1, p2), (a1.m, a2.m), (a1.v, a2.v)):
        np.testing.assert_allclose(x, y, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)


@pytest.mark.parametrize("opt", [mlp.optimizers.Adam(amsgrad=True), mlp.optimizers.Adam(weight_decay=0.1),
                                 mlp.optimizers.SGD(lr=0.1, momentum=0.9), mlp.optimizers.AdamW()])
def test_optimizer_step_declines_what_it_does_not_compute(opt):
    p, g = np.ones(10, np.float32), np.ones(10, np.float32)
    assert not _fast.optimizer_step(opt, p, g)
    assert opt.t == 0 and np.all(p == 1)
    with mlp.fast_paths(False):
        assert not _fast.optimizer_step(mlp.optimizers.Adam(), p, g)
# -- tiny networks: many epochs in one compiled call ---------------------------------------------
def fit_three_ways(make_net, X, y, keep=lambda h, net: (h, net.params.copy(), net.train_state), **kwargs):
    """``keep(History, net)`` of the same fit with the compiled loops, with the NumPy fast path, plain
    (by default: History, params, train_state)."""
    out = []
    for compiled, fast in ((True, True), (False, True), (False, False)):
        net = make_net()
        old, _fast.COMPILED = _fast.COMPILED, compiled
        try:
            with mlp.fast_paths(fast):
                h = net.fit(X, y, progress=False, **kwargs)
        finally:
            _fast.COMPILED = old
        out.append(keep(h, net))
    return out


def assert_fits_agree(runs, rtol):
    (h0, p0, s0), *others = runs
    for h, p, s in others:
        assert len(h.loss) == len(h0.loss)
        np.testing.assert_allclose(h0.loss, h.loss, rtol=rtol, atol=rtol)
        assert h0.metrics.keys() == h.metrics.keys()
        for k in h.metrics:
            np.testing.assert_allclose(h0.metrics[k], h.metrics[k], rtol=rtol)
        np.testing.assert_allclose(p0, p, rtol=rtol, atol=rtol)
        assert (s0.epoch, s0.step, s0.revived, s0.redraws) == (s.epoch, s.step, s.revived, s.redraws)
        assert s0.optimizer.t == s.optimizer.t


@pytest.mark.parametrize("seed, weight_decay", [(0, 0.0), (1, 0.0), (2, 0.0), (3, 0.0), (0, 4e-3), (2, 4e-3)])
def test_xor_fit_same_with_and_without_the_compiled_loop(seed, weight_decay, monkeypatch):
    """The lecture's 2-2-1 XOR fit with its defaults (Adam, ReLU care: revivals and re-draws hand
    epochs back to Python), float64: the same History, parameters and care counts; also with the
    L2 penalty that epochs="auto" brings (weight_decay="auto": 1e-3 per example, 4e-3 for mse's sum)."""
    calls = []
    run = _fast.TinyLoop.run
    monkeypatch.setattr(_fast.TinyLoop, "run", lambda self, *a, **k: calls.append(1) or run(self, *a, **k))
    X, y = mlp.datasets.xor()
    runs = fit_three_ways(lambda: mlp.Network.from_sizes([2, 2, 1], hidden="relu", output="identity",
                                                         seed=seed, dtype=np.float64),
                          X, y, loss="mse", epochs=1500, weight_decay=weight_decay)
    assert calls, "the compiled loop did not run"
    assert_fits_agree(runs, 1e-9)


@pytest.mark.parametrize("loss", ["mse", mlp.MSE("mean"), mlp.MSE("sum")])
@pytest.mark.parametrize("dtype, epochs, rtol", [(np.float64, 12, 1e-9), (np.float32, 4, 1e-4)])
def test_playground_fit_same_with_and_without_the_compiled_loop(dtype, epochs, rtol, loss):
    """TF Playground's default: 2-4-2-1 tanh, SGD lr 0.03, shuffled batches of 10. (This run is
    unstable — with the "sum" reduction round-off differences grow to 10% by epoch 17 even in
    float64 — so few epochs; the kernel sums in float64, so float32 gets fewer still.)"""
    X, y = mlp.datasets.circles(n=250, noise=0.1, seed=0)
    Y = (2.0 * y - 1.0)[:, None]
    runs = fit_three_ways(lambda: mlp.Network.from_sizes([2, 4, 2, 1], hidden="tanh", output="tanh", seed=0,
                                                         dtype=dtype),
                          X, Y, loss=loss, optimizer="sgd", lr=0.03, batch_size=10, epochs=epochs, seed=5)
    assert_fits_agree(runs, rtol)


def test_compiled_loop_continues_as_one_fit():
    """fit(epochs=40) twice equals fit(epochs=80): the generator is where the epochs left it."""
    X, y = mlp.datasets.circles(n=60, noise=0.1, seed=0)
    nets = [mlp.Network.from_sizes([2, 4, 1], hidden="relu", output="sigmoid", seed=0, dtype=np.float64)
            for _ in range(2)]
    nets[0].fit(X, y[:, None] * 1.0, loss="mse", batch_size=8, epochs=40, seed=1, progress=False)
    nets[0].fit(X, y[:, None] * 1.0, loss="mse", batch_size=8, epochs=40, progress=False)
    nets[1].fit(X, y[:, None] * 1.0, loss="mse", batch_size=8, epochs=80, seed=1, progress=False)
    np.testing.assert_array_equal(nets[0].params, nets[1].params)
    np.testing.assert_array_equal(nets[0].history.loss, nets[1].history.loss)


def test_compiled_loop_steps_aside_for_a_callback():
    """A callback needs Python after every epoch: the usual loop runs, and sees every epoch."""
    seen = []

    class Count(mlp.callbacks.Callback):
        def on_epoch_end(self, epoch, history):
            seen.append(epoch)

    X, y = mlp.datasets.xor()
    mlp.Network.from_sizes([2, 2, 1], seed=0).fit(X, y, loss="mse", epochs=50, callbacks=[Count()],
                                                  progress=False)
    assert seen == list(range(1, 51))


# -- an epoch's batches in compiled calls (_fast.EpochLoop, steps.CompiledBatches) ---------------
def _fit_paths(make_net, X, y, **kwargs):
    """(History, params, grads, caches, Adam's t, steps) of the same fit: compiled epochs, the NumPy
    fast path, plain."""
    def keep(h, net):
        caches = [(la.x.copy(), la.z.copy(), la.h.copy(), la.delta.copy()) for la in net.layers]
        return (h, net.params.copy(), net.grads.copy(), caches, net.train_state.optimizer.t,
                net.train_state.step)
    return fit_three_ways(make_net, X, y, keep=keep, seed=0, **kwargs)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("shuffle, weight_decay", [(True, 0.0), (False, 0.0), (True, 0.01)])
def test_compiled_epochs_equal_the_per_batch_paths(dtype, optimizer, shuffle, weight_decay, monkeypatch):
    """A fit whose epochs run in compiled calls (several per epoch: MAX_ROWS) gives the History,
    parameters, gradients, the layers' caches and step counts of the per-batch paths; and it did run.
    Also with an L2 penalty (the epoch losses include it; SGD then takes its step after each batch)."""
    monkeypatch.setattr(mlp.training.steps.CompiledBatches, "MAX_ROWS", 100)
    calls = []
    real = _fast.EpochLoop.run
    monkeypatch.setattr(_fast.EpochLoop, "run",
                        lambda self, *a, **k: calls.append(a[1:]) or real(self, *a, **k))
    rng = np.random.default_rng(1)
    X = rng.standard_normal((530, 12)).astype(dtype)
    y = rng.integers(0, 4, 530)
    runs = _fit_paths(lambda: mlp.Network.from_sizes([12, 16, 8, 4], hidden="relu", output="softmax", seed=0,
                                                     dtype=dtype),
                      X, y, optimizer=optimizer, epochs=4, batch_size=64, shuffle=shuffle,
                      weight_decay=weight_decay)
    assert calls and calls[0] == (0, 1) and (8, 9) in calls      # 9 batches per epoch, one per call
    tol = TOL[dtype]
    for other in runs[1:]:
        np.testing.assert_allclose(runs[0][0].loss, other[0].loss, rtol=tol["rtol"] * 10)
        assert runs[0][0].metrics["accuracy"] == other[0].metrics["accuracy"]
        np.testing.assert_allclose(runs[0][1], other[1], rtol=tol["rtol"] * 10, atol=tol["atol"] * 10)
        np.testing.assert_allclose(runs[0][2], other[2], rtol=tol["rtol"] * 10, atol=tol["atol"] * 10)
        for a, b in zip(runs[0][3], other[3]):
            for u, w in zip(a, b):
                np.testing.assert_allclose(u, w, rtol=tol["rtol"] * 10, atol=tol["atol"] * 10)
        assert runs[0][4:] == other[4:]


def test_compiled_epochs_hand_a_diverging_batch_back():
    """A batch whose loss overflows is not trained by the kernel: the loop runs it, and the
    divergence guard raises the same error on the same batch, the parameters restored alike."""
    rng = np.random.default_rng(2)
    X = (rng.standard_normal((300, 6)) * 50).astype(np.float32)
    y = rng.integers(0, 3, 300)
    found = []
    for compiled in (True, False):
        net = mlp.Network.from_sizes([6, 8, 3], hidden="relu", output="softmax", seed=0)
        old, _fast.COMPILED = _fast.COMPILED, compiled
        try:
            with pytest.raises(mlp.errors.TrainingDiverged) as err:
                net.fit(X, y, optimizer="sgd", lr=1e6, epochs=5, batch_size=32, progress=False, seed=0)
        finally:
            _fast.COMPILED = old
        found.append((str(err.value), net.params.copy()))
    assert found[0][0] == found[1][0]
    np.testing.assert_allclose(found[0][1], found[1][1], rtol=1e-5)


def test_compiled_epochs_decline_what_they_do_not_compute():
    """Weights, another optimiser, a tanh layer, a per-batch callback: the usual per-batch loop."""
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((200, 5)).astype(np.float32), rng.integers(0, 3, 200)

    class Count(mlp.callbacks.Callback):
        def on_batch_end(self, *args):
            pass
    seen = []
    real = _fast.EpochLoop.run
    try:
        _fast.EpochLoop.run = lambda self, *a, **k: seen.append(1) or real(self, *a, **k)
        for hidden, kwargs in (("relu", {"sample_weight": np.ones(200)}), ("relu", {"optimizer": "rmsprop"}),
                               ("tanh", {}), ("relu", {"callbacks": [Count()]}),
                               ("relu", {"optimizer": "adam", "clip_norm": 1.0}), ("relu", {"l1": 0.01})):
            net = mlp.Network.from_sizes([5, 6, 3], hidden=hidden, output="softmax", seed=0)
            net.fit(X, y, epochs=2, batch_size=50, progress=False, **kwargs)
        assert not seen
        mlp.Network.from_sizes([5, 6, 3], hidden="relu", output="softmax", seed=0).fit(
            X, y, epochs=2, batch_size=50, progress=False)
        assert seen
    finally:
        _fast.EpochLoop.run = real
