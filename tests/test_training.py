"""Network.fit: the loop against hand-written loops, History, continuing, determinism,
regularisation and weighting, failure paths (divergence, Ctrl-C), warnings, ReLU care."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import warnings

import numpy as np
import pytest

import mlp
from conftest import InterruptingMSE
from mlp.callbacks import Callback
from mlp.optimizers import SGD, Adam
from mlp.training import TrainingWarning, TrainState

XOR_X, XOR_Y = mlp.datasets.xor()


def blobs(n=60, seed=0):
    """Three Gaussian blobs in 2-D, labels 0, 1, 2 (n examples, shuffled)."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 1.0], [1.0, -1.0], [-1.0, -0.5]])
    y = rng.integers(0, 3, n)
    return centres[y] + 0.4 * rng.normal(size=(n, 2)), y


def quiet(net, *args, **kwargs):
    """fit with the training warnings silenced (tests that check warnings do not use it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrainingWarning)
        return net.fit(*args, **kwargs)


class Recorder(SGD):
    """SGD that keeps a copy of the parameters after every step."""

    def __init__(self, lr):
        super().__init__(lr)
        self.after = []

    def step(self, params, grads):
        super().step(params, grads)
        self.after.append(params.copy())


# -- the loop is exactly gradient descent ----------------------------------------------------

def test_full_batch_fit_is_the_lecture_loop():
    net = mlp.Network.from_sizes([2, 3, 1], hidden="tanh", seed=1, dtype=np.float64)
    twin = net.copy()
    h = quiet(net, XOR_X, XOR_Y, loss="mse", optimizer="gd", lr=0.1, epochs=25, batch_size=None)
    for _ in range(25):           # θ ← θ − η ∇f(θ), f = ½ Σ (ŷ − y)²
        twin.loss_and_grad(XOR_X, XOR_Y, "mse")
        twin.params = twin.params - 0.1 * twin.grads
    np.testing.assert_allclose(net.params, twin.params, rtol=0, atol=1e-12)
    assert len(h) == 25 and h.epochs == list(range(1, 26)) and net.train_state.step == 25
    assert h.lr == [0.1] * 25 and all(s >= 0 for s in h.seconds)
    # the loss of epoch e is measured at the parameters before that epoch's step
    fresh = mlp.Network.from_sizes([2, 3, 1], hidden="tanh", seed=1, dtype=np.float64)
    assert h.loss[0] == pytest.approx(fresh.loss_and_grad(XOR_X, XOR_Y, "mse"))


def test_mini_batches_without_shuffling_walk_the_data_in_order():
    X, y = blobs(10)
    net = mlp.Network.from_sizes([2, 4, 3], hidden="tanh", output="softmax", seed=2, dtype=np.float64)
    twin = net.copy()
    quiet(net, X, y, optimizer="sgd", lr=0.5, epochs=3, batch_size=4, shuffle=False)
    for _ in range(3):
        for start in (0, 4, 8):                 # batches of 4, 4 and 2
            twin.loss_and_grad(X[start:start + 4], y[start:start + 4], "cross_entropy")
            twin.params = twin.params - 0.5 * twin.grads
    np.testing.assert_allclose(net.params, twin.params, rtol=0, atol=1e-12)
    assert net.train_state.step == 9


def test_epoch_loss_is_the_mean_over_batches_and_accuracy_is_recorded():
    X, y = blobs(10)
    net = mlp.Network.from_sizes([2, 4, 3], hidden="tanh", output="softmax", seed=2, dtype=np.float64)
    twin = net.copy()
    h = quiet(net, X, y, optimizer="sgd", lr=0.0, epochs=1, batch_size=4, shuffle=False)
    # lr = 0: every batch sees the same parameters, so the size-weighted mean of the batch
    # means is the loss over all 10 examples
    assert h.loss[0] == pytest.approx(twin.loss_and_grad(X, y, "cross_entropy"), rel=1e-12)
    assert h.metrics["accuracy"][0] == pytest.approx(np.mean(twin.predict_classes(X) == y))


def test_defaults():
    X, y = blobs(300)
    net = mlp.Network.from_sizes([2, 5, 3], hidden="tanh", output="softmax", seed=0)
    h = quiet(net, X, y, epochs=2)
    state = net.train_state
    assert isinstance(state.optimizer, Adam) and state.optimizer.lr == 1e-3
    assert isinstance(state.loss, mlp.CrossEntropy)                 # loss="auto" on softmax
    assert state.step == 2 * 2                                       # batch_size auto = 200
    assert net.history is h is state.history
    sigmoid = mlp.Network.from_sizes([2, 1], output="sigmoid")
    quiet(sigmoid, X[:4], [0, 1, 1, 0], epochs=1)
    assert isinstance(sigmoid.train_state.loss, mlp.BinaryCrossEntropy)
    net = mlp.Network.from_sizes([2, 2, 1], hidden="tanh", seed=0)
    quiet(net, XOR_X, XOR_Y, epochs=3)
    assert isinstance(net.train_state.loss, mlp.MSE) and net.train_state.loss.reduction == "half_sum"


# -- determinism and continuing --------------------------------------------------------------

def _moons_fit(seed, **kwargs):
    X, y = mlp.datasets.moons(80, seed=0)
    net = mlp.Network.from_sizes([2, 8, 8, 2], hidden="relu", output="softmax", seed=3)
    quiet(net, X, y, epochs=6, batch_size=16, dropout=0.2, seed=seed, **kwargs)
    return net


def test_same_seed_is_bit_identical_and_another_seed_differs():
    a, b, c = _moons_fit(7), _moons_fit(7), _moons_fit(8)
    np.testing.assert_array_equal(a.params, b.params)
    assert a.train_state.history.loss == b.train_state.history.loss
    assert not np.array_equal(a.params, c.params)


def test_bit_identical_in_another_process():
    code = ("import warnings, mlp; warnings.simplefilter('ignore');"
            "X, y = mlp.datasets.moons(80, seed=0);"
            "net = mlp.Network.from_sizes([2, 8, 8, 2], hidden='relu', output='softmax', seed=3);"
            "net.fit(X, y, epochs=6, batch_size=16, dropout=0.2, seed=7);"
            "print(net.params.tobytes().hex())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONHASHSEED": "123"})
    assert out.stdout.strip() == _moons_fit(7).params.tobytes().hex()


def test_fit_twice_equals_fit_once():
    X, y = mlp.datasets.moons(80, seed=0)
    kw = dict(epochs=4, batch_size=16, dropout=0.1, weight_decay=1e-3, seed=5)
    once = mlp.Network.from_sizes([2, 8, 2], hidden="relu", output="softmax", seed=3)
    quiet(once, X, y, **{**kw, "epochs": 8})
    twice = mlp.Network.from_sizes([2, 8, 2], hidden="relu", output="softmax", seed=3)
    h1 = quiet(twice, X, y, **kw)
    opt = twice.train_state.optimizer
    kw.pop("seed")                          # the second call keeps the generator
    h2 = quiet(twice, X, y, **kw)
    assert h2 is h1 and h1.epochs == list(range(1, 9)) and twice.train_state.optimizer is opt
    np.testing.assert_array_equal(twice.params, once.params)
    assert h1.loss == once.train_state.history.loss


def test_continuing_after_relu_care_put_back_its_best():
    # seed 25 of the 2-2-1 XOR net plateaus and gets a ReLU unit re-drawn; after 800 epochs
    # the run is worse than its best, so fit ends with the best parameters put back — and a
    # second fit must still continue the run itself, exactly as one long fit
    once = mlp.Network.from_sizes([2, 2, 1], hidden="relu", output="identity", seed=25)
    quiet(once, XOR_X, XOR_Y, loss="mse", epochs=1200)
    twice = mlp.Network.from_sizes([2, 2, 1], hidden="relu", output="identity", seed=25)
    quiet(twice, XOR_X, XOR_Y, loss="mse", epochs=800)
    state = twice.train_state
    assert state.redraws >= 1 and state.resume_params is not None
    np.testing.assert_array_equal(twice.params, state.best_params)
    quiet(twice, XOR_X, XOR_Y, loss="mse", epochs=400)
    np.testing.assert_array_equal(twice.params, once.params)


def test_train_state_round_trip_continues_exactly():
    X, y = mlp.datasets.moons(80, seed=0)
    ref = mlp.Network.from_sizes([2, 8, 2], hidden="relu", output="softmax", seed=3)
    quiet(ref, X, y, epochs=6, batch_size=16, seed=1, schedule="plateau")
    net = mlp.Network.from_sizes([2, 8, 2], hidden="relu", output="softmax", seed=3)
    quiet(net, X, y, epochs=3, batch_size=16, seed=1, schedule="plateau")
    state = net.train_state.state_dict()
    arrays = {k for k, v in _walk(state) if isinstance(v, np.ndarray)}
    assert arrays and "optimizer.m" in arrays
    plain = {k: v for k, v in _walk(state) if not isinstance(v, np.ndarray)}
    json.dumps(plain)                                   # everything else is JSON-able
    restored = mlp.Network.from_sizes([2, 8, 2], hidden="relu", output="softmax", seed=0)
    restored.params = net.params
    restored.train_state = TrainState.from_state_dict(state, restored)
    quiet(restored, X, y, epochs=3, batch_size=16, schedule="plateau")
    np.testing.assert_array_equal(restored.params, ref.params)
    assert restored.train_state.history.loss == ref.train_state.history.loss


def _walk(d, prefix=""):
    for k, v in d.items():
        if isinstance(v, dict):
            yield from _walk(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}", v


def test_new_optimizer_or_reset_train_state_starts_afresh():
    net = mlp.Network.from_sizes([2, 3, 1], hidden="tanh", seed=0)
    quiet(net, XOR_X, XOR_Y, epochs=2)
    adam = net.train_state.optimizer
    quiet(net, XOR_X, XOR_Y, epochs=2, lr=0.01)            # same optimiser, new rate
    assert net.train_state.optimizer is adam and adam.lr == 0.01 and adam.t == 4
    quiet(net, XOR_X, XOR_Y, epochs=2, optimizer="sgd")
    assert isinstance(net.train_state.optimizer, SGD) and len(net.train_state.history) == 6
    net.train_state = None
    h = quiet(net, XOR_X, XOR_Y, epochs=1)
    assert len(h) == 1


def test_history_to_dict_and_back():
    X, y = blobs(40)
    net = mlp.Network.from_sizes([2, 4, 3], hidden="tanh", output="softmax", seed=0)
    h = quiet(net, X, y, epochs=3, validation_split=0.25)
    d = json.loads(json.dumps(h.to_dict()))
    back = mlp.History.from_dict(d)
    assert back.loss == h.loss and back.val_loss == h.val_loss and back.metrics == h.metrics
    assert back.epochs == [1, 2, 3] and "3 epochs" in repr(back)


# -- validation and early stopping -----------------------------------------------------------

def test_validation_split_holds_out_the_last_examples():
    X, y = blobs(40)
    net = mlp.Network.from_sizes([2, 4, 3], hidden="tanh", output="softmax", seed=0, dtype=np.float64)
    h = quiet(net, X, y, epochs=2, validation_split=0.25, batch_size=None)
    assert net.train_state.step == 2
    assert h.val_loss[-1] == pytest.approx(net.copy().loss_and_grad(X[30:], y[30:], "cross_entropy"))
    assert h.metrics["val_accuracy"][-1] == pytest.approx(np.mean(net.predict_classes(X[30:]) == y[30:]))
    h2 = quiet(mlp.Network.from_sizes([2, 4, 3], hidden="tanh", output="softmax", seed=0),
               X[:30], y[:30], epochs=1, validation_data=(X[30:], y[30:]))
    assert len(h2.val_loss) == 1 and "val_accuracy" in h2.metrics
    assert quiet(net, X, y, epochs=1).val_loss[-1] != h.val_loss[-1]   # NaN: no validation now
    assert len(net.train_state.history.val_loss) == 3


def test_early_stopping_restores_the_best_epoch():
    X, y = blobs(40)
    net = mlp.Network.from_sizes([2, 4, 3], hidden="tanh", output="softmax", seed=0)
    seen = {}

    class Keep(Callback):
        def on_epoch_end(self, epoch, history):
            seen[epoch] = self.network.params.copy()

    # a huge rate makes the validation loss bounce: it stops after `patience` bad epochs
    h = quiet(net, X[:30], y[:30], optimizer="sgd", lr=50.0, epochs=200, early_stopping=True,
              patience=3, validation_data=(X[30:], y[30:]), callbacks=[Keep()])
    assert h.stop_reason == "early_stopping" and len(h) < 200
    best = int(np.nanargmin(h.val_loss)) + 1
    assert len(h) == best + 3
    np.testing.assert_array_equal(net.params, seen[best])


# -- regularisation, weights, clipping, dropout ----------------------------------------------

def one_gd_step(**kwargs):
    net = mlp.Network.from_sizes([2, 3, 1], hidden="tanh", seed=4, dtype=np.float64)
    net.layers[0].b = [0.1, -0.2, 0.3]
    before = net.params.copy()
    quiet(net, XOR_X, XOR_Y, loss="mse", optimizer="gd", lr=1.0, epochs=1, batch_size=None, **kwargs)
    return before, net


def plain_gradient(params, sample_weight=None):
    net = mlp.Network.from_sizes([2, 3, 1], hidden="tanh", dtype=np.float64)
    net.params = params
    net.loss_and_grad(XOR_X, XOR_Y, "mse", sample_weight=sample_weight)
    return net.grads.copy()


def test_weight_decay_and_l1_penalise_weights_not_biases():
    before, net = one_gd_step(weight_decay=0.1, l1=0.01)
    g = plain_gradient(before)
    n_w = 9      # 2·3 + 3·1 weights come first, then 4 biases
    expected = g.copy()
    expected[:n_w] += 0.1 * before[:n_w] + 0.01 * np.sign(before[:n_w])
    np.testing.assert_allclose(net.params, before - expected, atol=1e-12)
    w = before[:n_w]
    loss = net.train_state.history.loss[0]
    # reported loss: data loss + ½ λ ‖w‖² + λ₁ ‖w‖₁
    data = mlp.MSE().value(_net_with(before)(XOR_X), XOR_Y)
    assert loss == pytest.approx(data + 0.05 * w @ w + 0.01 * np.abs(w).sum())


def _net_with(params):
    net = mlp.Network.from_sizes([2, 3, 1], hidden="tanh", dtype=np.float64)
    net.params = params
    return net


def test_sample_weight_and_class_weight():
    sw = np.array([2.0, 0.5, 1.0, 3.0])
    before, net = one_gd_step(sample_weight=sw)
    np.testing.assert_allclose(net.params, before - plain_gradient(before, sw), atol=1e-12)
    # weight 2 on an example = the example twice (the half-sum loss adds examples up)
    twice = _net_with(before)
    twice.loss_and_grad(np.vstack([XOR_X, XOR_X[:1]]), np.vstack([XOR_Y, XOR_Y[:1]]), "mse")
    np.testing.assert_allclose(plain_gradient(before, [2.0, 1, 1, 1]), twice.grads, atol=1e-12)

    X, y = blobs(30)
    kw = dict(optimizer="sgd", lr=0.3, epochs=2, batch_size=8, seed=0)

    def run(**extra):
        net = mlp.Network.from_sizes([2, 4, 3], hidden="tanh", output="softmax", seed=0)
        quiet(net, X, y, **kw, **extra)
        return net.params

    np.testing.assert_array_equal(run(class_weight={0: 3.0, 2: 0.5}),
                                  run(sample_weight=np.array([3.0, 1.0, 0.5])[y]))
    counts = np.bincount(y)
    balanced = len(y) / (3 * counts)                    # w_c = n / (k · n_c)
    np.testing.assert_allclose(run(class_weight="balanced"), run(sample_weight=balanced[y]), atol=1e-6)
    np.testing.assert_allclose(run(class_weight={1: 2.0}, sample_weight=np.full(30, 0.5)),
                               run(sample_weight=np.where(y == 1, 1.0, 0.5)), atol=1e-6)
    with pytest.raises(ValueError, match="class_weight"):
        one_gd_step(class_weight="balanced")            # MSE regression has no classes


def test_clipping():
    before, net = one_gd_step(clip_value=0.01)
    g = plain_gradient(before)
    np.testing.assert_allclose(net.params, before - np.clip(g, -0.01, 0.01), atol=1e-12)
    before, net = one_gd_step(clip_norm=0.05)
    norm = np.linalg.norm(g)
    assert norm > 0.05
    np.testing.assert_allclose(net.params, before - g * 0.05 / (norm + 1e-6), atol=1e-12)
    before, net = one_gd_step(clip_norm=1e3)            # no effect below the threshold
    np.testing.assert_allclose(net.params, before - g, atol=1e-12)


def test_dropout_step_by_hand():
    # 2-3-1 tanh net, dropout 0.5 on the hidden layer, one full-batch GD step with lr = 1
    before, net = one_gd_step(dropout=0.5, seed=9)
    rng = np.random.default_rng(9)                      # the generator fit draws the mask from
    mask = (rng.random((4, 3)) < 0.5) / 0.5             # inverted dropout: kept units × 1/(1 − p)
    ref = _net_with(before)
    W1, b1, W2, b2 = ref.layers[0].W, ref.layers[0].b, ref.layers[1].W, ref.layers[1].b
    z1 = XOR_X @ W1.T + b1
    h1 = np.tanh(z1) * mask
    y_hat = h1 @ W2.T + b2
    delta2 = y_hat - XOR_Y                              # ∂(½ Σ (ŷ − y)²)/∂ŷ
    dW2, db2 = delta2.T @ h1, delta2.sum(0)
    delta1 = (delta2 @ W2) * mask * (1 - np.tanh(z1) ** 2)
    dW1, db1 = delta1.T @ XOR_X, delta1.sum(0)
    grad = np.concatenate([dW1.ravel(), dW2.ravel(), db1, db2])
    np.testing.assert_allclose(net.params, before - grad, atol=1e-12)
    np.testing.assert_array_equal(net(XOR_X), net(XOR_X))   # prediction drops nothing
    with pytest.raises(ValueError, match="dropout"):
        one_gd_step(dropout=1.0)
    with pytest.raises(ValueError, match="one rate per hidden layer"):
        one_gd_step(dropout=[0.1, 0.2])


# -- failure paths ---------------------------------------------------------------------------

def test_divergence_raises_with_finite_parameters_left():
    X, y = blobs(40)
    net = mlp.Network.from_sizes([2, 16, 1], hidden="relu", seed=0)
    with pytest.raises(mlp.TrainingDiverged) as info:
        net.fit(X, y.astype(float) * 100, loss="mse", optimizer="sgd", lr=1e6, epochs=50, batch_size=8)
    err = info.value
    assert err.epoch >= 1 and 1 <= err.batch <= 5 and err.lr == 1e6
    assert "learning rate" in err.hint and f"epoch {err.epoch}, batch {err.batch}" in str(err)
    assert np.all(np.isfinite(net.params))
    assert net.train_state.optimizer.t == 0                       # state cleared for a retry
    assert len(net.train_state.history) == err.epoch - 1


def test_keyboard_interrupt_mid_epoch_returns_a_usable_network():
    X, y = blobs(40)
    net = mlp.Network.from_sizes([2, 4, 1], hidden="tanh", seed=0)
    opt = Recorder(lr=0.01)
    # batches of 10: 4 per epoch; the 7th loss evaluation is batch 3 of epoch 2
    h = net.fit(X, y.astype(float), loss=InterruptingMSE(7), optimizer=opt, epochs=5, batch_size=10)
    assert h.stop_reason == "interrupted"
    assert len(opt.after) == 6                                    # 4 + 2 completed updates
    np.testing.assert_array_equal(net.params, opt.after[-1])
    assert len(h) == 2 and net.train_state.epoch == 2            # epoch 2 was partly done
    assert np.all(np.isfinite(net(X)))
    h = net.fit(X, y.astype(float), loss="mse", epochs=1, progress=False)   # and it trains on
    assert len(h) == 3 and h.stop_reason is None


def test_keyboard_interrupt_from_a_callback_stops_after_the_epoch():
    class CtrlC(Callback):
        def on_epoch_end(self, epoch, history):
            if epoch == 2:
                raise KeyboardInterrupt

    net = mlp.Network.from_sizes([2, 3, 1], hidden="tanh", seed=0)
    h = quiet(net, XOR_X, XOR_Y, epochs=10, callbacks=[CtrlC()])
    assert len(h) == 2 and h.stop_reason == "interrupted"


@pytest.mark.skipif(signal.getsignal(signal.SIGINT) is not signal.default_int_handler,
                    reason="a SIGINT handler other than Python's default is installed")
def test_real_sigint_stops_after_the_current_batch():
    class SigintOnce(mlp.MSE):
        calls = 0

        def value(self, y_hat, y, sample_weight=None):
            SigintOnce.calls += 1
            if SigintOnce.calls == 3:
                os.kill(os.getpid(), signal.SIGINT)
            return super().value(y_hat, y, sample_weight)

    X, y = blobs(40)
    net = mlp.Network.from_sizes([2, 4, 1], hidden="tanh", seed=0)
    opt = Recorder(lr=0.01)
    h = net.fit(X, y.astype(float), loss=SigintOnce(), optimizer=opt, epochs=5, batch_size=10)
    assert h.stop_reason == "interrupted" and len(opt.after) == 3     # batch 3 was finished
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


# -- warnings that say what to do ------------------------------------------------------------

def test_warnings():
    net = mlp.Network.from_sizes([2, 3, 1], hidden="tanh", seed=0)
    with pytest.warns(TrainingWarning, match="loss still falling at the last epoch: raise epochs") as w1:
        net.fit(XOR_X, XOR_Y, optimizer="sgd", lr=0.05, epochs=5)
    with pytest.warns(TrainingWarning, match="inputs have standard deviation 1e3: scale them") as w2:
        mlp.Network.from_sizes([2, 3, 1], seed=0).fit(XOR_X * 2000, XOR_Y, epochs=1)
    mse_on_labels = "MSE on integer class labels: did you mean cross_entropy?"
    with pytest.warns(TrainingWarning, match=mse_on_labels) as w3:
        mlp.Network.from_sizes([2, 3, 1], seed=0).fit(XOR_X, np.array([0, 1, 1, 0]), epochs=1)
    # each warning points at the line that called fit
    assert {r.filename for w in (w1, w2, w3) for r in w if r.category is TrainingWarning} == {__file__}
    with pytest.raises(ValueError, match="MSE on integer class labels: did you mean cross_entropy?"):
        mlp.Network.from_sizes([2, 3, 3], seed=0).fit(XOR_X, np.array([0, 1, 2, 0]), loss="mse")


def test_no_warning_in_a_good_run():
    X, y = blobs(200)
    net = mlp.Network.from_sizes([2, 8, 3], hidden="tanh", output="softmax", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net.fit(X, y)                                   # epochs="auto": 10,000 steps here
    assert np.mean(net.predict_classes(X) == y) > 0.9


def test_bad_arguments():
    net = mlp.Network.from_sizes([2, 3, 1], seed=0)
    for kwargs, match in [
        (dict(epochs=-1), "epochs"), (dict(epochs=1.5), "epochs"), (dict(batch_size=0), "batch_size"),
        (dict(lr=-1.0), "lr"), (dict(weight_decay=-1.0), "weight_decay"), (dict(l1=math.nan), "l1"),
        (dict(validation_split=1.0), "validation_split"), (dict(clip_norm=-1.0), "clip_norm"),
        (dict(validation_split=0.5, validation_data=(XOR_X, XOR_Y)), "not both"),
        (dict(validation_data=(XOR_X,)), "validation_data"), (dict(optimizer="adma"), "'adam'"),
        (dict(loss="cross_entropy"), "softmax"), (dict(schedule="cosin"), "'cosine'"),
        (dict(sample_weight=[1.0, 2.0]), "sample_weight"),
    ]:
        with pytest.raises(ValueError, match=match):
            net.fit(XOR_X, XOR_Y, **kwargs)
    with pytest.raises(TypeError, match="Callback"):
        net.fit(XOR_X, XOR_Y, callbacks=[print])
    with pytest.raises(ValueError, match="features"):
        net.fit(XOR_X[:, :1], XOR_Y)
    assert net.train_state is None                        # nothing was started


def test_progress_bar(capsys, monkeypatch):
    pytest.importorskip("tqdm")
    net = mlp.Network.from_sizes([2, 3, 1], hidden="tanh", seed=0)
    quiet(net, XOR_X, XOR_Y, epochs=3, progress=True, validation_data=(XOR_X, XOR_Y))
    err = capsys.readouterr().err
    assert "3/3" in err and "loss=" in err and "val_loss=" in err
    quiet(net, XOR_X, XOR_Y, epochs=3)                   # progress=None, stderr not a terminal
    quiet(net, XOR_X, XOR_Y, epochs=3, progress=False)
    assert capsys.readouterr().err == ""
    monkeypatch.setitem(sys.modules, "tqdm", None)
    with pytest.raises(ImportError, match=r"mlp\[progress\]"):
        net.fit(XOR_X, XOR_Y, epochs=1, progress=True)


# -- dead units and ReLU care ----------------------------------------------------------------

def test_dead_units_and_revival_keeps_the_function():
    net = mlp.Network.from_sizes([2, 3, 1], hidden="relu", seed=0, dtype=np.float64)
    net.layers[0].b = [-10.0, 0.5, 0.5]             # unit 0: z ≤ −8 on every XOR input
    assert net.dead_units(XOR_X) == [(0, 0)]
    before = net(XOR_X)
    quiet(net, XOR_X, XOR_Y, loss="mse", optimizer="sgd", lr=0.0, epochs=1)
    assert net.train_state.revived == 1 and net.dead_units(XOR_X) == []
    assert net.layers[1].W[0, 0] == 0 and net.layers[0].b[0] == 0   # zero out, fresh in
    np.testing.assert_array_equal(net(XOR_X), before)               # the same function
    plain = mlp.Network.from_sizes([2, 3, 1], hidden="relu", seed=0)
    plain.layers[0].b = [-10.0, 0.5, 0.5]
    quiet(plain, XOR_X, XOR_Y, loss="mse", epochs=50, relu_care=False)
    assert plain.dead_units(XOR_X) == [(0, 0)]
    assert mlp.Network.from_sizes([2, 3, 1], hidden="tanh").dead_units(XOR_X) == []


def test_relu_care_never_touches_networks_without_relu_hidden_layers():
    for hidden in ("tanh", "sigmoid", "leaky_relu"):
        runs = []
        for care in (True, False):
            net = mlp.Network.from_sizes([2, 2, 1], hidden=hidden, seed=1)
            quiet(net, XOR_X, XOR_Y, epochs=600, relu_care=care)
            runs.append(net.params.copy())
        np.testing.assert_array_equal(*runs)


def test_xor_defaults_solve_the_lecture_net_from_almost_every_seed():
    # the 1000-seed measurement is benchmarks/xor_reliability.py; 30 seeds here, and no
    # warning from a good default run
    solved = 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrainingWarning)
        for seed in range(30):
            net = mlp.Network.from_sizes([2, 2, 1], hidden="relu", output="identity", seed=seed)
            h = net.fit(XOR_X, XOR_Y, loss="mse")
            solved += bool(np.all(np.abs(net(XOR_X) - XOR_Y) < 0.1))
    assert solved >= 29 and len(h) == 10000


def test_digits_demo_with_fit_defaults_is_accurate_and_quiet():
    pytest.importorskip("sklearn")
    from mlp import demo

    lines = []
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrainingWarning)
        accuracy = demo.digits(print=lines.append, progress=False)
    assert accuracy >= 0.975 and lines[-1] == f"   test accuracy: {accuracy:.2%}"
