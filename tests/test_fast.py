"""Every fast path equals its plain twin (STYLE.md item 12).

The fast training step (reused buffers, fused softmax cross-entropy) and the lean
one-example predict are compared with the plain code, switched on by
``mlp.fast_paths(False)``, on every activation, loss, dtype and batch size.
"""

import numpy as np
import pytest

import mlp
from conftest import InterruptingMSE

pytestmark = [pytest.mark.filterwarnings("ignore:all .* hidden layer:UserWarning"),
              pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")]

HIDDEN = ["relu", "identity", "tanh", "sigmoid", "leaky_relu", "softplus"]
TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}


def plain(fn, *args, **kwargs):
    with mlp.fast_paths(False):
        return fn(*args, **kwargs)


def make(sizes, hidden="relu", output="identity", dtype=np.float32, seed=0):
    return mlp.Network.from_sizes(sizes, hidden=hidden, output=output, seed=seed, dtype=dtype)


def targets(loss, n, n_out, rng, onehot=False):
    if loss == "cross_entropy":
        y = rng.integers(0, n_out, size=n)
        return np.eye(n_out)[y] if onehot else y
    if loss == "binary_cross_entropy":
        return rng.uniform(size=(n, n_out))
    return rng.normal(size=(n, n_out))


def step_both(net, X, y, loss, sample_weight=None):
    """(loss, grads, caches) from the fast path and from the plain path."""
    out = []
    for fast in (True, False):
        with mlp.fast_paths(fast):
            value = net.loss_and_grad(X, y, loss, sample_weight=sample_weight)
        caches = [(layer.x.copy(), layer.z.copy(), layer.h.copy(), layer.delta.copy())
                  for layer in net.layers]
        out.append((value, net.grads.copy(), caches))
    return out


def assert_same(fast, slow, dtype):
    tol = TOL[dtype]
    np.testing.assert_allclose(fast[0], slow[0], **tol)
    scale = max(1.0, float(np.abs(slow[1]).max()))
    np.testing.assert_allclose(fast[1], slow[1], rtol=tol["rtol"], atol=tol["atol"] * scale)
    for (xf, zf, hf, df), (xs, zs, hs, ds) in zip(fast[2], slow[2]):
        for a, b in ((xf, xs), (zf, zs), (hf, hs), (df, ds)):
            np.testing.assert_allclose(a, b, rtol=tol["rtol"], atol=tol["atol"] * max(1.0, np.abs(b).max()))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("loss, output", [("mse", "identity"), ("mse", "sigmoid"), ("mse", "softmax"),
                                          ("cross_entropy", "softmax"),
                                          ("binary_cross_entropy", "sigmoid")])
def test_training_step_equals_plain(dtype, hidden, loss, output, monkeypatch):
    monkeypatch.setattr(mlp._fast, "BLAS_MIN_MACS", 0)      # the BLAS forward on these small layers too
    rng = np.random.default_rng(1)
    net = make([5, 7, 6, 3], hidden, output, dtype)
    for n in (1, 8, 33, 8):          # several sizes, and a size seen before (buffers reused)
        X = rng.normal(size=(n, 5)).astype(dtype)
        y = targets(loss, n, 3, rng)
        assert_same(*step_both(net, X, y, loss), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_variants_equal_plain(dtype):
    rng = np.random.default_rng(2)
    net = make([4, 8, 5], "relu", "softmax", dtype)
    X = rng.normal(size=(16, 4)).astype(dtype)
    w = rng.uniform(0.1, 2.0, size=16)
    for y, sw, loss in [(targets("cross_entropy", 16, 5, rng), None, mlp.CrossEntropy("sum")),
                        (targets("cross_entropy", 16, 5, rng, onehot=True), None, "cross_entropy"),
                        (targets("cross_entropy", 16, 5, rng), w, "cross_entropy")]:
        assert_same(*step_both(net, X, y, loss, sw), dtype)


def test_big_net_batch_128_equals_plain():
    rng = np.random.default_rng(3)
    net = make([784, 256, 128, 10], "relu", "softmax")
    X = rng.normal(size=(128, 784)).astype(np.float32)
    y = rng.integers(0, 10, size=128)
    assert_same(*step_both(net, X, y, "cross_entropy"), np.float32)


@pytest.mark.parametrize("scale", [1e4, -1e4])
def test_wide_logits_stay_finite_and_equal(scale):
    # Rows far apart: the kernel must fall back to per-row shifts, as the plain softmax.
    net = make([2, 3], "relu", "softmax", np.float64)
    net.layers[0].W = [[scale, 0], [0, scale], [-scale, -scale]]
    X = np.array([[1.0, 0.0], [0.0, 1.0], [0.001, 0.0], [-1.0, -1.0]])
    y = np.array([0, 2, 1, 2])
    fast, slow = step_both(net, X, y, "cross_entropy")
    assert np.isfinite(fast[0]) and np.all(np.isfinite(fast[1]))
    assert_same(fast, slow, np.float64)


def test_nan_logits_give_nan_loss_on_both_paths():
    net = make([2, 2], "relu", "softmax", np.float64)
    net.params = np.full(net.n_params, np.nan)
    X, y = np.ones((3, 2)), np.array([0, 1, 0])
    fast, slow = step_both(net, X, y, "cross_entropy")
    assert np.isnan(fast[0]) and np.isnan(slow[0])


def test_fast_step_keeps_gradients_as_views_of_grads():
    rng = np.random.default_rng(4)
    net = make([3, 4, 2], "relu", "softmax")
    net.loss_and_grad(rng.normal(size=(5, 3)), rng.integers(0, 2, 5), "cross_entropy")
    for layer in net.layers:
        assert np.shares_memory(layer.dW, net.grads) and np.shares_memory(layer.db, net.grads)
        assert np.shares_memory(layer.W, net.params)


def test_fast_paths_switch_restores_previous_state():
    with mlp.fast_paths(False):
        with mlp.fast_paths(True):
            pass
        net = make([2, 2, 1])
        x = np.array([0.5, -0.25])
        np.testing.assert_array_equal(net(x), net(x[None])[0])
    assert mlp._fast.ENABLED


# -- the fused SGD step (fit with plain SGD) ----------------------------------------------------
def fit_both(sizes, hidden, output, dtype, X, y, loss, optimizer, **kw):
    """(network, history) after the same fit on the fast path and on the plain path."""
    out = []
    for fast in (True, False):
        net = make(sizes, hidden, output, dtype, seed=5)
        with mlp.fast_paths(fast):
            history = net.fit(X, y, loss=loss, optimizer=optimizer(), seed=3, progress=False, **kw)
        out.append((net, history))
    return out


@pytest.mark.filterwarnings("ignore:loss still falling")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("hidden, output, loss, lr", [("relu", "softmax", "cross_entropy", 0.2),
                                                      ("tanh", "identity", "mse", 0.01),
                                                      ("relu", "sigmoid", "binary_cross_entropy", 0.2)])
@pytest.mark.parametrize("blas_min_macs", [0, None])      # BLAS's C ← A B + C on every layer, or as set
def test_fit_with_sgd_fused_into_backward_equals_plain(dtype, hidden, output, loss, lr, blas_min_macs,
                                                       monkeypatch):
    if blas_min_macs is not None:
        monkeypatch.setattr(mlp._fast, "BLAS_MIN_MACS", blas_min_macs)
    rng = np.random.default_rng(6)
    X = rng.normal(size=(50, 4)).astype(dtype)     # 50 = 6 batches of 8 and one of 2
    y = (rng.integers(0, 3, size=50) if loss == "cross_entropy"
         else rng.integers(0, 2, size=(50, 1)).astype(dtype) if loss == "binary_cross_entropy"
         else rng.normal(size=(50, 3)))
    n_out = 1 if loss == "binary_cross_entropy" else 3
    (fast, hf), (slow, hs) = fit_both([4, 6, 5, n_out], hidden, output, dtype, X, y, loss,
                                      lambda: mlp.optimizers.SGD(lr=lr), epochs=4, batch_size=8)
    tol = TOL[dtype]
    np.testing.assert_allclose(hf.loss, hs.loss, **tol)
    assert hf.metrics.get("accuracy") == hs.metrics.get("accuracy")
    np.testing.assert_allclose(fast.params, slow.params, rtol=tol["rtol"], atol=tol["atol"])
    # after fit, grads and deltas hold ∂L/∂θ and ∂L/∂z of the last batch, as on the plain path
    scale = max(1.0, float(np.abs(slow.grads).max()))
    np.testing.assert_allclose(fast.grads, slow.grads, rtol=10 * tol["rtol"], atol=10 * tol["atol"] * scale)
    for a, b in zip(fast.layers, slow.layers):
        np.testing.assert_allclose(a.delta, b.delta, rtol=10 * tol["rtol"],
                                   atol=10 * tol["atol"] * max(1.0, np.abs(b.delta).max()))
    assert fast.train_state.optimizer.t == slow.train_state.optimizer.t == 4 * 7


@pytest.mark.filterwarnings("ignore:loss still falling")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_sgd_without_blas_accumulate_equals_plain(dtype, monkeypatch):
    # Where NumPy's BLAS cannot be called for W ← W + A B, dW goes through memory: same numbers.
    monkeypatch.setattr(mlp._fast, "_GEMMS", {})
    test_fit_with_sgd_fused_into_backward_equals_plain(dtype, "relu", "softmax", "cross_entropy", 0.2, 0,
                                                       monkeypatch)


def test_fused_sgd_uses_the_blas_accumulate_where_numpy_ships_openblas():
    info = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    if info.get("name") != "scipy-openblas":
        pytest.skip(f"NumPy built against {info.get('name')}")
    assert mlp._fast._gemm(np.float32) is not None and mlp._fast._gemm(np.float64) is not None


def test_fused_sgd_interrupted_mid_epoch_leaves_a_true_gradient(monkeypatch):
    monkeypatch.setattr(mlp._fast, "BLAS_MIN_MACS", 0)
    # Batches 1-2 of epoch 2 write W directly (no dW); after Ctrl-C in batch 3, grads must
    # still be a gradient: that of the last finished batch (X[10:20]) at the final parameters.
    rng = np.random.default_rng(8)
    X, y = rng.normal(size=(40, 3)), rng.normal(size=(40, 2))
    net = make([3, 5, 2], "relu", "identity", np.float64, seed=2)
    h = net.fit(X, y, loss=InterruptingMSE(7), optimizer=mlp.optimizers.SGD(lr=0.01), epochs=3,
                batch_size=10, shuffle=False, progress=False)
    assert h.stop_reason == "interrupted" and net.train_state.optimizer.t == 6
    expected = net.copy()
    with mlp.fast_paths(False):
        expected.loss_and_grad(X[10:20], y[10:20], "mse")
    np.testing.assert_allclose(net.grads, expected.grads, rtol=1e-12, atol=1e-12)


def test_fused_sgd_step_leaves_params_untouched_when_the_loss_overflows():
    # The loss ½ Σ (ŷ − y)² overflows float32 while the gradient ŷ − y ≈ −1e20 is finite: no
    # step is taken and TrainingDiverged is raised, on both paths.
    X = np.array([[1.0, 0.5], [1.0, -1.0]])
    y = np.array([[1e20], [0.0]])
    results = []
    for fast in (True, False):
        net = make([2, 3, 1], "relu", "identity", np.float32, seed=1)
        before = net.params.copy()
        with mlp.fast_paths(fast), pytest.raises(mlp.TrainingDiverged):
            net.fit(X, y, loss="mse", optimizer=mlp.optimizers.SGD(lr=0.1), epochs=1, batch_size=2,
                    progress=False)
        results.append(net.params.copy())
        np.testing.assert_array_equal(net.params, before)
    np.testing.assert_array_equal(*results)


# -- one example -------------------------------------------------------------------------------
SMALL = [([2, 2, 1], "relu", "identity"), ([2, 3, 2], "tanh", "softmax"), ([3, 2, 1], "sigmoid", "sigmoid"),
         ([2, 2, 1], "leaky_relu", "identity"), ([2, 2], "identity", "softmax")]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sizes, hidden, output", SMALL + [([784, 256, 128, 10], "relu", "softmax"),
                                                           ([30, 20, 3], "softplus", "identity")])
def test_predict_one_equals_plain(dtype, sizes, hidden, output):
    rng = np.random.default_rng(5)
    net = make(sizes, hidden, output, dtype)
    net.params = net.params + rng.normal(scale=0.1, size=net.n_params)   # non-zero biases
    x64 = rng.normal(size=sizes[0])
    inputs = [x64, x64.astype(np.float32), list(x64), tuple(x64), (x64 > 0), (x64 * 3).astype(int)]
    for x in inputs:
        want = plain(net, x)
        got = net(x)
        assert got.shape == want.shape == (sizes[-1],) and got.dtype == want.dtype == dtype
        np.testing.assert_allclose(got, want, **TOL[dtype])
        np.testing.assert_allclose(net.predict(x), want, **TOL[dtype])


def test_predict_one_sees_changed_weights():
    net = make([2, 2, 1])
    x = np.array([1.0, 1.0], np.float32)
    net.layers[0].W = [[1, 1], [2, 2]]
    net.layers[0].b = [-1, -1]
    net.layers[1].W = [[-3, 1]]
    net.layers[1].b = [0]
    assert net(x)[0] == pytest.approx(0.0)       # the lecture's XOR solution: (1, 1) -> 0
    net.params[-1] = 0.5                          # in-place change of b3
    assert net(x)[0] == pytest.approx(0.5)


@pytest.mark.parametrize("sizes", [[2, 2, 1], [784, 256, 128, 10]])
@pytest.mark.parametrize("bad, error", [("nan", ValueError), ("inf", ValueError), ("wide", ValueError),
                                        ("text", TypeError), ("huge", ValueError)])
def test_predict_one_raises_the_plain_errors(sizes, bad, error):
    net = make(sizes)
    n_in = sizes[0]
    x = {"nan": np.r_[np.nan, np.zeros(n_in - 1)], "inf": [np.inf] + [0.0] * (n_in - 1),
         "wide": np.zeros(n_in + 1), "text": ["a"] * n_in, "huge": [1e39] + [0.0] * (n_in - 1)}[bad]
    with pytest.raises(error) as fast_err:
        net(x)
    with pytest.raises(error) as plain_err:
        plain(net, x)
    assert str(fast_err.value) == str(plain_err.value)


def test_predict_one_with_overflowing_sums_equals_plain():
    # x is finite but z = W x + b overflows float32: the fast path must hand over to the plain one.
    net = make([784, 16, 3], "relu", "identity")
    x = np.full(784, 3e38, np.float32)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(net(x), plain(net, x))


def test_predict_one_follows_a_changed_activation():
    net = make([3, 4, 2], "relu", "identity")
    x = np.array([0.5, -1.0, 2.0])
    net(x)                                         # the fast path has seen this network
    net.layers[0].activation = mlp.activations.get("tanh")
    np.testing.assert_allclose(net(x), plain(net, x), **TOL[np.float32])
    np.testing.assert_allclose(net(x), net.layers[1](np.tanh(net.layers[0].W @ x + net.layers[0].b)),
                               rtol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 2, 255, 256, 1000])
@pytest.mark.parametrize("compiled", [True, False])       # the one-pass kernel (numba) and NumPy's blocks
def test_max_feature_std_equals_numpy(dtype, n, compiled, monkeypatch):
    monkeypatch.setattr(mlp._fast, "COMPILED", compiled)
    monkeypatch.setattr(mlp._fast, "MOMENTS_KERNEL_MIN", 0)
    rng = np.random.default_rng(n)
    X = (rng.normal(size=(n, 7)) * [1e-3, 1, 10, 100, 1e3, 0.5, 2] + [5, -3, 0, 1e3, 0, 1, 2]).astype(dtype)
    np.testing.assert_allclose(mlp._fast.max_feature_std(X), X.std(axis=0).max(), rtol=1e-4 if
                               dtype == np.float32 else 1e-10, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_flush_denormals_zeroes_only_subnormal_entries(dtype):
    tiny = np.finfo(dtype).tiny
    a = np.array([0.0, tiny / 4, -tiny / 2, tiny, -tiny, 1.0, -3.5], dtype)
    mlp._fast.flush_denormals(a, None, np.arange(3))
    np.testing.assert_array_equal(a, np.array([0.0, 0.0, 0.0, tiny, -tiny, 1.0, -3.5], dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bad", [None, np.nan, np.inf, -np.inf, "inf-inf", "overflow"])
def test_all_finite_on_a_large_array_equals_numpy(dtype, bad):
    from mlp._validation import all_finite
    rng = np.random.default_rng(7)
    X = rng.normal(size=(700, 100)).astype(dtype)       # 70,000 entries: the column-sum path
    if bad == "inf-inf":
        X[3, 5], X[400, 5] = np.inf, -np.inf
    elif bad == "overflow":                             # finite, but the column sums overflow
        X[:, 7] = np.finfo(dtype).max / 2
    elif bad is not None:
        X[rng.integers(700), rng.integers(100)] = bad
    assert all_finite(X) == bool(np.isfinite(X).all())
    assert all_finite(X) == (bad in (None, "overflow"))
