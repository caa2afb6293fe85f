"""mlp.diagnose and the Monitor callback: dead and saturated units, gradient norms, NaNs."""

import json
import warnings
from types import SimpleNamespace

import numpy as np
import pytest

import mlp
from mlp.diagnostics import Monitor

X_XOR, Y_XOR = mlp.datasets.xor()


def xor_net(dtype=np.float64):
    net = mlp.Network([mlp.Dense(2, 2, "relu"), mlp.Dense(2, 1)], dtype=dtype)
    net.layers[0].W, net.layers[0].b = [[1, 1], [2, 2]], [-1, -1]
    net.layers[1].W, net.layers[1].b = [[-3, 1]], [0]
    return net


def test_healthy_hand_made_net():
    d = mlp.diagnose(xor_net(), X_XOR, Y_XOR)
    # unit 1 (z = x1 + x2 − 1) is active at (1, 1), unit 2 (z = 2x1 + 2x2 − 1) at three corners
    assert d.layers[0].dead == 0.0 and d.layers[1].dead is None
    assert d.loss == 0.0 and d.first_nonfinite is None
    assert d.layers[0].weight_norm == pytest.approx(np.sqrt(1 + 1 + 4 + 4))
    assert len(str(d).splitlines()) == 3 and str(d).splitlines()[0].startswith("layer 1 relu")


def test_one_dead_unit_of_two():
    net = xor_net()
    net.layers[0].W[0] = [-1, -1]          # z1 = −x1 − x2 − 1 < 0 on every XOR input
    d = mlp.diagnose(net, X_XOR, Y_XOR)
    assert d.layers[0].dead == 0.5 and d.layers[0].flags == ["1/2 dead"]
    assert not d.ok


def test_all_dead_layer_passes_no_gradient():
    net = xor_net()
    net.layers[0].b[:] = -10
    d = mlp.diagnose(net, X_XOR, Y_XOR)
    assert d.layers[0].dead == 1.0
    assert d.layers[0].grad_norm == 0.0 and d.layers[1].grad_norm > 0
    assert d.layers[0].flags == ["2/2 dead", "vanishing gradient"]


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_saturated_units(activation):
    net = mlp.Network([mlp.Dense(2, 3, activation), mlp.Dense(3, 1)], dtype=np.float64)
    net.layers[0].W = [[40, 40], [0.1, 0.1], [-50, 30]]
    net.layers[0].b = [-20, 0, 0]
    X = np.array([[0, 1], [1, 0], [1, 1], [2, 2]], dtype=float)
    d = mlp.diagnose(net, X)
    # unit 1: |z| = 20..140 everywhere; unit 2: |z| ≤ 0.4; unit 3: z = 30, −50, −20, −40
    assert d.layers[0].saturated == pytest.approx(2 / 3)
    assert d.layers[0].flags == ["2/3 saturated"]
    assert d.layers[0].grad_norm is None                     # no targets, no backward pass


def test_exploding_gradient():
    net = xor_net()
    net.params = net.params * 1e3
    d = mlp.diagnose(net, X_XOR, Y_XOR)
    assert "exploding gradient" in d.layers[0].flags and d.layers[0].grad_norm > 1e3


def test_first_nonfinite_parameter_and_overflow():
    net = xor_net()
    net.layers[1].W[0, 1] = np.nan
    assert mlp.diagnose(net, X_XOR, Y_XOR).first_nonfinite == "layer 2 parameter W"
    net = mlp.Network.from_sizes([2, 2, 2, 1], seed=0)     # float32: overflows at ~3.4e38
    net.layers[0].W, net.layers[0].b = [[1e30, 1e30], [1e30, 1e30]], [0, 0]
    net.layers[1].W = [[1e30, 1e30], [1, 1]]
    d = mlp.diagnose(net, X_XOR, Y_XOR)
    # layer 1: z = 1e30 (finite); layer 2: z = 1e60 → inf
    assert d.first_nonfinite == "layer 2 z (forward)"
    assert d.layers[0].flags == [] or "not finite" not in " ".join(d.layers[0].flags)
    assert "not finite: z, h" in d.layers[1].flags


def test_diagnose_leaves_the_network_alone():
    net = xor_net()
    net.grads = np.arange(9.0)
    params = net.params.copy()
    mlp.diagnose(net, X_XOR, Y_XOR)
    np.testing.assert_array_equal(net.grads, np.arange(9.0))
    np.testing.assert_array_equal(net.params, params)


def test_to_dict_is_json():
    d = mlp.diagnose(xor_net(), X_XOR, Y_XOR)
    back = json.loads(json.dumps(d.to_dict()))
    assert back["layers"][0]["dead"] == 0.0 and back["loss"] == 0.0


def test_bad_arguments():
    with pytest.raises(ValueError, match="saturation"):
        mlp.diagnose(xor_net(), X_XOR, saturation=0)
    with pytest.raises(ValueError, match="features"):
        mlp.diagnose(xor_net(), np.zeros((3, 5)))
    with pytest.raises(ValueError, match="every"):
        Monitor(every=0)


# -- Monitor ------------------------------------------------------------------------------

def test_monitor_is_a_callback():
    assert isinstance(Monitor(), mlp.callbacks.Callback)


def test_monitor_reads_the_last_training_step():
    net = xor_net()
    net.layers[0].W[0] = [-1, -1]                 # one dead unit
    net.loss_and_grad(X_XOR, Y_XOR + 0.5, "mse")   # what a training step leaves behind
    history = SimpleNamespace(loss=[0.5])
    mon = Monitor()
    mon.set_network(net)
    mon.on_train_begin(history)
    assert mon.on_epoch_end(1, history) is None
    (rec,) = history.monitor
    assert rec["epoch"] == 1 and rec["loss"] == 0.5 and rec["dead"] == [0.5, None]
    assert rec["saturated"] == [None, None] and rec["first_nonfinite"] is None
    expected = [np.sqrt(np.sum(layer.dW ** 2) + np.sum(layer.db ** 2)) for layer in net.layers]
    np.testing.assert_allclose(rec["grad_norm"], expected)
    json.dumps(rec)


def test_monitor_on_data_every_other_epoch():
    net = xor_net()
    history = SimpleNamespace(loss=[], monitor=[])
    mon = Monitor(X_XOR, Y_XOR, every=2)
    mon.set_network(net)
    for epoch in range(1, 5):
        history.loss.append(0.0)
        mon.on_epoch_end(epoch, history)
    assert [r["epoch"] for r in history.monitor] == [2, 4]
    assert history.monitor[0]["grad_norm"] == [0.0, 0.0]      # the hand-made net is exact


def test_monitor_warns_where_nan_started():
    net = xor_net()
    net.loss_and_grad(X_XOR, Y_XOR, "mse")
    net.layers[1].b[0] = np.inf
    history = SimpleNamespace(loss=[float("nan")], monitor=[])
    mon = Monitor(stop_on_nonfinite=True)
    mon.set_network(net)
    with pytest.warns(RuntimeWarning, match="layer 2 parameter b"):
        assert mon.on_epoch_end(3, history) is True
    assert history.monitor[0]["first_nonfinite"] == "layer 2 parameter b"


def test_fit_with_monitor_records_every_epoch():
    net = mlp.Network.from_sizes([2, 4, 1], seed=0, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                 # "loss still falling": 3 epochs on purpose
        history = net.fit(X_XOR, Y_XOR, loss="mse", optimizer="gd", lr=0.05, epochs=3, batch_size=4,
                          seed=0, progress=False, monitor=True)
    assert [r["epoch"] for r in history.monitor] == [1, 2, 3]
    assert all(len(r["grad_norm"]) == 2 and r["first_nonfinite"] is None for r in history.monitor)
    assert [r["loss"] for r in history.monitor] == history.loss
    json.dumps(history.to_dict())                    # the records travel with the History


@pytest.mark.parametrize("output, y", [
    ("sigmoid", mlp.datasets.xor()[1].reshape(-1, 1)),
    ("softmax", np.eye(2)[mlp.datasets.xor()[1].ravel().astype(int)]),
])
def test_diagnose_takes_the_loss_fit_trains_with(output, y):
    """Issue 14 item 7: diagnose defaulted to MSE on a sigmoid/softmax network (a loss 300× below
    fit's, and a well-trained output flagged as saturated); its default is fit's loss="auto"."""
    X = mlp.datasets.xor()[0]
    net = mlp.Network.from_sizes([2, 8, y.shape[1]], output=output, seed=0, dtype=np.float64)
    history = net.fit(X, y, epochs=400, lr=0.05, batch_size=None, progress=False)
    d = mlp.diagnose(net, X, y)
    assert d.loss == pytest.approx(net.train_state.loss.value(net(X), y), rel=1e-9)
    assert d.loss == pytest.approx(mlp.losses.get(mlp.losses.loss_for(output)).value(net(X), y))
    assert history.loss[-1] > 0 and d.loss < 0.05
    assert not d.layers[-1].flags, str(d)           # a confident, right output is not "saturated"
    assert mlp.diagnose(net, X, y, loss="mse").loss != pytest.approx(d.loss)
