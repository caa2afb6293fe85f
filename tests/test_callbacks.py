"""Callbacks: the interface fit calls (order, epoch numbers, stopping) and the built-ins."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest

import mlp
from mlp.callbacks import Callback, Checkpoint, EarlyStopping, TextLogger
from mlp.training import TrainingWarning

X, Y = mlp.datasets.xor()


def fit(net, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrainingWarning)
        return net.fit(X, Y, loss="mse", **kwargs)


def tanh_net(seed=0):
    return mlp.Network.from_sizes([2, 3, 1], hidden="tanh", seed=seed)


class Log(Callback):
    def __init__(self):
        self.calls = []

    def set_network(self, net):
        super().set_network(net)
        self.calls.append(("set_network", net))

    def on_train_begin(self, history):
        self.calls.append(("begin", len(history)))

    def on_epoch_end(self, epoch, history):
        self.calls.append(("epoch", epoch, history.loss[-1]))

    def on_train_end(self, history):
        self.calls.append(("end", len(history)))


def test_call_order_and_epoch_numbers_continue_across_fits():
    net, log = tanh_net(), Log()
    h = fit(net, epochs=3, callbacks=[log])
    assert log.calls[0] == ("set_network", net) and log.network is net
    assert [c[0] for c in log.calls] == ["set_network", "begin", "epoch", "epoch", "epoch", "end"]
    assert [c[1] for c in log.calls if c[0] == "epoch"] == [1, 2, 3]
    assert [c[2] for c in log.calls if c[0] == "epoch"] == h.loss
    log.calls.clear()
    fit(net, epochs=2, callbacks=[log])
    assert [c[1] for c in log.calls if c[0] == "epoch"] == [4, 5]
    assert log.calls[1] == ("begin", 3)


def test_returning_true_stops_training():
    class StopAt(Callback):
        def on_epoch_end(self, epoch, history):
            return epoch == 4

    net, log = tanh_net(), Log()
    h = fit(net, epochs=50, callbacks=[StopAt(), log])
    assert len(h) == 4 and h.stop_reason == "callback"
    assert log.calls[-1] == ("end", 4)          # every callback still sees the epoch and the end


def test_base_callback_does_nothing():
    cb = Callback()
    h = fit(tanh_net(), epochs=2, callbacks=[cb])
    assert len(h) == 2 and cb.on_epoch_end(1, h) is None


def test_early_stopping_on_the_training_loss_and_on_an_accuracy():
    # lr = 0: the loss never improves after epoch 1, so patience 2 stops at epoch 3
    net = tanh_net()
    stop = EarlyStopping(patience=2)
    h = fit(net, optimizer="sgd", lr=0.0, epochs=20, callbacks=[stop])
    assert len(h) == 3 and stop.stopped_epoch == 3 and stop.best_epoch == 1
    assert h.stop_reason == "callback"
    Xb = np.array([[0.0, 0], [1, 1], [0, 1], [1, 0]])
    yb = np.array([0, 1, 0, 1])
    clf = mlp.Network.from_sizes([2, 3, 2], hidden="tanh", output="softmax", seed=0)
    acc = EarlyStopping(monitor="val_accuracy", patience=3, restore_best=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrainingWarning)
        h = clf.fit(Xb, yb, optimizer="sgd", lr=0.0, epochs=20, validation_data=(Xb, yb), callbacks=[acc])
    assert len(h) == 4 and acc.best == h.metrics["val_accuracy"][0]


def test_early_stopping_restores_the_best_parameters():
    seen = {}

    class Keep(Callback):
        def on_epoch_end(self, epoch, history):
            seen[epoch] = self.network.params.copy()

    net = tanh_net()
    stop = EarlyStopping(patience=3, min_delta=0.0)
    # a rate this large makes the loss bounce, so the best epoch is not the last
    h = fit(net, optimizer="sgd", lr=3.0, epochs=40, callbacks=[Keep(), stop])
    assert h.loss[stop.best_epoch - 1] == min(h.loss[:len(h)])
    np.testing.assert_array_equal(net.params, seen[stop.best_epoch])


def test_early_stopping_errors():
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(patience=-1)
    with pytest.raises(ValueError, match="cannot monitor 'val_f1'"):
        fit(tanh_net(), epochs=2, callbacks=[EarlyStopping(monitor="val_f1")])


def test_checkpoint_through_a_function_every_second_epoch():
    saved = []
    cp = Checkpoint(lambda net, history: saved.append((len(history), net.params.copy())), every=2)
    net = tanh_net()
    fit(net, epochs=5, callbacks=[cp])
    assert [n for n, _ in saved] == [2, 4] and cp.saved == [2, 4]
    with pytest.raises(ValueError):
        Checkpoint(print, every=0)
    with pytest.raises(TypeError):
        Checkpoint(3)


def test_checkpoint_to_a_file_resumes_exactly(tmp_path):
    if not hasattr(mlp, "load_checkpoint"):
        pytest.skip("model files (mlp.save) have not landed")
    X2, y2 = mlp.datasets.moons(64, seed=0)
    kw = dict(epochs=4, batch_size=16, seed=2)
    ref = mlp.Network.from_sizes([2, 6, 2], hidden="relu", output="softmax", seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrainingWarning)
        ref.fit(X2, y2, **{**kw, "epochs": 6})
        net = mlp.Network.from_sizes([2, 6, 2], hidden="relu", output="softmax", seed=1)
        path = tmp_path / "ckpt-{epoch}.safetensors"
        net.fit(X2, y2, callbacks=[Checkpoint(path, every=2)], **kw)
        assert (tmp_path / "ckpt-2.safetensors").exists() and (tmp_path / "ckpt-4.safetensors").exists()
        resumed = mlp.load_checkpoint(tmp_path / "ckpt-4.safetensors")
        resumed.fit(X2, y2, epochs=2, batch_size=16)
    np.testing.assert_array_equal(resumed.params, ref.params)


def test_text_logger_writes_one_line_per_epoch():
    stream = io.StringIO()
    h = fit(tanh_net(), epochs=3, callbacks=[TextLogger(stream)], validation_data=(X, Y))
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3 and lines[0].startswith("epoch 1  loss ")
    assert f"loss {h.loss[2]:.6g}" in lines[2] and "val_loss" in lines[2] and "lr 0.001" in lines[2]
    stream = io.StringIO()
    fit(tanh_net(), epochs=5, callbacks=[TextLogger(stream, every=2)])
    assert [line.split()[1] for line in stream.getvalue().splitlines()] == ["2", "4", "5"]


def test_monitor_records_into_the_history():
    h = fit(tanh_net(), epochs=3, monitor=True)
    assert [r["epoch"] for r in h.monitor] == [1, 2, 3]


# -- early stopping across fit calls and checkpoints: one run, cut anywhere, is the same run
def _es_data():
    rng = np.random.default_rng(0)
    X, Xv = rng.normal(size=(80, 3)), rng.normal(size=(40, 3))
    return X, (X[:, 0] * X[:, 1] > 0).astype(int), Xv, (Xv[:, 0] * Xv[:, 1] > 0).astype(int)


def _es_fit(net, epochs, **kwargs):
    X, y, Xv, yv = _es_data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrainingWarning)
        return net.fit(X, y, loss="cross_entropy", optimizer="sgd", lr=0.5, batch_size=16, epochs=epochs,
                       early_stopping=True, patience=4, validation_data=(Xv, yv), progress=False,
                       **kwargs)


def _es_net():
    return mlp.Network.from_sizes([3, 8, 2], hidden="relu", output="softmax", seed=1)


class _StopAfter(Callback):
    """Stops the run at the end of epoch k, as the CLI's Ctrl-C does."""

    def __init__(self, k):
        self.k = k

    def on_epoch_end(self, epoch, history):
        return True if epoch == self.k else None


@pytest.mark.parametrize("cut", ["callback", "epochs", "checkpoint"])
def test_early_stopping_run_cut_in_two_equals_one_run(cut, tmp_path):
    whole = _es_net()
    h = _es_fit(whole, 60, seed=0)
    assert h.stop_reason == "early_stopping" and 14 < len(h) < 60     # it stops after the cut
    assert h.val_loss.index(min(h.val_loss)) < 14 - 1                   # with its best before it

    net = _es_net()
    if cut == "callback":            # stopped from outside (Ctrl-C in the CLI): latest parameters kept
        _es_fit(net, 60, seed=0, callbacks=[_StopAfter(14)])
    else:                            # ran out of epochs: best parameters put back, the rest kept
        _es_fit(net, 14, seed=0)
    assert net.train_state.early_stopping["best_epoch"] is not None
    if cut == "checkpoint":
        mlp.save(net, tmp_path / "ck.safetensors", train_state=net.train_state)
        net = mlp.load_checkpoint(tmp_path / "ck.safetensors")
    h2 = _es_fit(net, 60 - 14)
    assert h2.stop_reason == "early_stopping" and len(h2) == len(h)
    assert list(h2.val_loss) == list(h.val_loss)
    np.testing.assert_array_equal(net.params, whole.params)


def test_checkpoint_callback_files_hold_the_early_stopping_watch(tmp_path):
    # Checkpoint(every=1) writes each epoch's file after early stopping has looked at that epoch:
    # resuming from the file of any epoch before the stop ends as the uninterrupted run ends.
    whole = _es_net()
    h = _es_fit(whole, 60, seed=0, callbacks=[Checkpoint(str(tmp_path / "e{epoch}.safetensors"))])
    stop = len(h)
    best = h.val_loss.index(min(h.val_loss)) + 1
    assert h.stop_reason == "early_stopping" and best < stop - 1
    cut = best + 1                                   # past the best: the watch is counting (wait 1)
    net = mlp.load_checkpoint(tmp_path / f"e{cut}.safetensors")
    watch = net.train_state.early_stopping
    assert (watch["best_epoch"], watch["wait"], watch["best"]) == (best, cut - best, min(h.val_loss))
    assert not np.array_equal(watch["best_params"], net.params)      # the latest parameters, best aside
    h2 = _es_fit(net, 60 - cut)
    assert h2.stop_reason == "early_stopping" and len(h2) == stop
    assert list(h2.val_loss) == list(h.val_loss)
    np.testing.assert_array_equal(net.params, whole.params)


def test_early_stopping_state_dict_round_trip():
    es = EarlyStopping(patience=3)
    es.set_network(_es_net())
    history = mlp.History()
    for epoch, value in enumerate([0.5, 0.4, 0.45, 0.47], start=1):
        history.loss.append(value)
        history.epochs.append(epoch)
        es.on_epoch_end(epoch, history)
    d = es.state_dict()
    assert (d["best"], d["best_epoch"], d["wait"], d["stopped_epoch"]) == (0.4, 2, 2, None)
    other = EarlyStopping(patience=3)
    other.set_network(es.network)
    other.load_state_dict(d)
    np.testing.assert_array_equal(other.best_params, d["best_params"])
    history.loss.append(0.41)                        # the third epoch without improvement: stop
    history.epochs.append(5)
    assert other.on_epoch_end(5, history) is True and other.stopped_epoch == 5


def test_a_fit_without_early_stopping_ends_the_watch():
    # stopped early, then trained on without the watch, then with it again: a fresh watch
    net = _es_net()
    h = _es_fit(net, 60, seed=0)
    assert h.stop_reason == "early_stopping"
    X, y, _, _ = _es_data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrainingWarning)
        net.fit(X, y, loss="cross_entropy", optimizer="sgd", lr=0.5, batch_size=16, epochs=2, progress=False)
    assert net.train_state.early_stopping is None
    h = _es_fit(net, 3)
    assert net.train_state.early_stopping["stopped_epoch"] is None
    assert net.train_state.early_stopping["best_epoch"] > len(h) - 3


def test_early_stopping_on_val_loss_without_validation_data_warns_once():
    # Keras warns that the monitored metric is not available; silently never stopping is a trap
    X, y = mlp.datasets.xor()
    net = mlp.Network.from_sizes([2, 3, 1], hidden="tanh", seed=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        net.fit(X, y, epochs=4, callbacks=[mlp.callbacks.EarlyStopping(monitor="val_loss", patience=1)])
    said = [w for w in caught if "will not stop training" in str(w.message)]
    assert len(said) == 1 and issubclass(said[0].category, mlp.TrainingWarning)
    assert "'val_loss'" in str(said[0].message)
    assert len(net.history.loss) == 4
