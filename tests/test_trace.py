"""net.trace(x, y, loss): the backward pass of one example, by hand and against backprop;
net.summary(): each layer as an equation with its parameter table."""

import numpy as np
import pytest

import mlp


@pytest.fixture
def xor_net():
    net = mlp.Network([mlp.Dense(2, 2, "relu"), mlp.Dense(2, 1)], dtype=np.float64)
    net.layers[0].W, net.layers[0].b = [[1, 1], [2, 2]], [-1, -1]
    net.layers[1].W, net.layers[1].b = [[-3, 1]], [0]
    return net


def test_backward_trace_by_hand(xor_net):
    t = xor_net.trace(np.array([1.0, 1.0]), y=1.0)      # ½ (ŷ − y)², the lecture's f_MSE
    # forward: z1 = [1+1−1, 2+2−1] = [1, 3] = h1; ŷ = −3·1 + 3 = 0
    np.testing.assert_array_equal(t[0].z, [1, 3])
    np.testing.assert_array_equal(t[1].h, [0])
    assert t.loss == 0.5                                  # ½ (0 − 1)²
    # δ2 = ŷ − y = −1; δ1 = W2ᵀ δ2 ⊙ relu′(z1) = [−3, 1]·(−1) ⊙ [1, 1] = [3, −1]
    np.testing.assert_array_equal(t[1].delta, [-1])
    np.testing.assert_array_equal(t[0].delta, [3, -1])
    # ∂f/∂W1 = δ1 xᵀ, ∂f/∂W2 = δ2 h1ᵀ, ∂f/∂b = δ
    expected = {"w1": 3, "w2": 3, "w3": -1, "w4": -1, "w5": -1, "w6": -3, "b1": 3, "b2": -1, "b3": -1}
    assert t.grads == expected
    np.testing.assert_array_equal(t[0].dW, [[3, 3], [-1, -1]])
    np.testing.assert_array_equal(t[1].db, [-1])


def test_dead_relu_units_pass_no_gradient(xor_net):
    t = xor_net.trace(np.array([0.0, 0.0]), y=1.0)
    # z1 = [−1, −1]: relu′ = 0, so δ1 = 0 and every first-layer gradient is 0; ŷ = 0, δ2 = −1
    np.testing.assert_array_equal(t[0].delta, [0, 0])
    assert [t.grads[n] for n in ("w1", "w2", "w3", "w4", "b1", "b2")] == [0] * 6
    assert (t.grads["w5"], t.grads["w6"], t.grads["b3"]) == (0, 0, -1)


def test_params_name_their_place_and_value(xor_net):
    t = xor_net.trace(np.array([0.5, 1.0]), y=0.0)
    assert [p.name for p in t.params] == xor_net.param_names()
    for p in t.params:
        layer = xor_net.layers[p.layer - 1]
        assert p.value == (layer.W if p.kind == "W" else layer.b)[p.index]
    assert [(p.layer, p.kind, p.index) for p in t.params[4:7]] == [(2, "W", (0, 0)), (2, "W", (0, 1)),
                                                                   (1, "b", (0,))]


def test_trace_leaves_grads_and_params_alone(xor_net):
    xor_net.grads = np.arange(9.0)
    before = xor_net.params.copy()
    xor_net.trace(np.array([1.0, 0.0]), y=0.0)
    np.testing.assert_array_equal(xor_net.grads, np.arange(9.0))
    np.testing.assert_array_equal(xor_net.params, before)


@pytest.mark.parametrize("sizes, output, loss, y", [
    ([3, 4, 2, 3], "softmax", "cross_entropy", 2),
    ([3, 4, 2], "sigmoid", "binary_cross_entropy", [1.0, 0.0]),
    ([3, 4, 4, 2], "tanh", mlp.MSE("mean"), [0.3, -0.2]),
])
def test_trace_equals_backprop_on_one_example(sizes, output, loss, y):
    net = mlp.Network.from_sizes(sizes, hidden="tanh", output=output, seed=0, dtype=np.float64)
    net.params = np.random.default_rng(1).normal(0, 0.7, net.n_params)
    x = np.array([0.2, -1.0, 0.7])
    t = net.trace(x, y=y, loss=loss)
    ref = net.copy()
    value = ref.loss_and_grad(x[None, :], np.atleast_1d(y)[None, :] if np.ndim(y) else [y], loss)
    assert t.loss == pytest.approx(value, rel=1e-12)
    np.testing.assert_allclose([p.grad for p in t.params], ref.grads, rtol=1e-12, atol=1e-15)
    for step, layer in zip(t, ref.layers):
        np.testing.assert_allclose(step.delta, layer.delta[0], rtol=1e-12)
    assert t.fused == (output != "tanh")


def test_printed_trace(xor_net):
    text = str(xor_net.trace(np.array([1.0, 1.0]), y=1.0))
    assert "δ = ∂loss/∂z" in text and "[3, -1]" in text
    assert "loss MSE(reduction='half_sum') = 0.5" in text
    rows = {line.split()[0]: line.split() for line in text.splitlines() if line[:1] in ("w", "b")}
    assert list(rows) == xor_net.param_names()
    assert rows["w6"] == ["w6", "2", "1", "-3"]             # name, layer, value, ∂loss/∂p
    net = mlp.Network.from_sizes([2, 3], output="softmax", seed=0)
    assert "fused" in str(net.trace(np.array([1.0, 0.0]), y=1, loss="cross_entropy"))


def test_trace_takes_one_example(xor_net):
    with pytest.raises(ValueError, match="one example"):
        xor_net.trace(np.zeros((2, 2)), y=[0, 1])
    with pytest.raises(ValueError, match="softmax output"):
        xor_net.trace(np.zeros(2), y=0, loss="cross_entropy")


def test_summary(xor_net, capsys):
    text = xor_net.summary(print=None)
    assert "Network 2-2-1: 2 layers, 9 parameters, float64" in text
    lines = text.splitlines()
    layer1 = next(line for line in lines if line.startswith("1 "))
    assert "h1 = relu(W(1) x + b(1))" in layer1 and "2×2" in layer1 and layer1.split()[-1] == "6"
    layer2 = next(line for line in lines if line.startswith("2 "))
    assert "ŷ = W(2) h1 + b(2)" in layer2 and "1×2" in layer2 and layer2.split()[-1] == "3"
    params = [line.split() for line in lines if line[:1] in ("w", "b") and line[1:2].isdigit()]
    assert [p[0] for p in params] == xor_net.param_names()
    assert params[4] == ["w5", "2", "W(2)[1,1]", "-3"]
    assert params[7] == ["b2", "1", "b(1)[2]", "-1"]
    assert xor_net.summary() is None
    assert capsys.readouterr().out.strip() == text


def test_summary_of_a_big_network_is_shortened():
    net = mlp.Network.from_sizes([64, 32, 10], output="softmax", seed=0)
    text = net.summary(print=None)
    assert "softmax(W(2) h1 + b(2))" in text and "32×64" in text and "2410" in text
    assert "(2380 more)" in text and len(text.splitlines()) < 45
    assert text.splitlines()[-1].startswith("b42 ")
