"""The slide's chain rule on the 2-2-1 net:
ŷ = w5 σ(w1 x1 + w2 x2 + b1) + w6 σ(w3 x1 + w4 x2 + b2) + b3,
∂ŷ/∂w1 = w5 σ′(w1 x1 + w2 x2 + b1) x1, and with f = ½ Σ (ŷ − y)²,
∂f/∂p = Σᵢ (ŷ⁽ⁱ⁾ − y⁽ⁱ⁾) ∂ŷ⁽ⁱ⁾/∂p."""

import numpy as np
import pytest

import mlp


def net_221(hidden, w, b):
    net = mlp.Network([mlp.Dense(2, 2, hidden), mlp.Dense(2, 1)], dtype=np.float64)
    net.params = list(w) + list(b)
    return net


def test_names_follow_the_slide():
    net = net_221("relu", [1, 2, 3, 4, 5, 6], [7, 8, 9])
    assert net.param_names() == ["w1", "w2", "w3", "w4", "w5", "w6", "b1", "b2", "b3"]
    # W(1) = [[w1, w2], [w3, w4]], W(2) = [[w5, w6]], b(1) = [b1, b2], b(2) = [b3]
    np.testing.assert_array_equal(net.layers[0].W, [[1, 2], [3, 4]])
    np.testing.assert_array_equal(net.layers[1].W, [[5, 6]])
    np.testing.assert_array_equal(net.layers[0].b, [7, 8])
    np.testing.assert_array_equal(net.layers[1].b, [9])


def test_relu_case_worked_by_hand():
    # w = (1, -1, 2, 1, 3, -2), b = (0.5, -1, 0.25); one example x = (2, 1), y = 0
    # z1 = 1·2 − 1·1 + 0.5 = 1.5 > 0 → h1 = 1.5;  z2 = 2·2 + 1·1 − 1 = 4 > 0 → h2 = 4
    # ŷ = 3·1.5 − 2·4 + 0.25 = −3.25;  f = ½ (−3.25)² ;  ∂f/∂ŷ = −3.25
    # ∂ŷ/∂w1 = w5 σ′(z1) x1 = 3·1·2 = 6  → ∂f/∂w1 = −3.25·6 = −19.5
    # ∂ŷ/∂w2 = w5 σ′(z1) x2 = 3 → −9.75;  ∂ŷ/∂w3 = w6 σ′(z2) x1 = −4 → 13; ∂ŷ/∂w4 = −2 → 6.5
    # ∂ŷ/∂w5 = h1 = 1.5 → −4.875; ∂ŷ/∂w6 = h2 = 4 → −13
    # ∂ŷ/∂b1 = w5 = 3 → −9.75; ∂ŷ/∂b2 = w6 = −2 → 6.5; ∂ŷ/∂b3 = 1 → −3.25
    net = net_221("relu", [1, -1, 2, 1, 3, -2], [0.5, -1, 0.25])
    f = net.loss_and_grad(np.array([[2.0, 1.0]]), np.array([[0.0]]), mlp.MSE("half_sum"))
    assert f == pytest.approx(0.5 * 3.25 ** 2)
    np.testing.assert_allclose(net.grads, [-19.5, -9.75, 13, 6.5, -4.875, -13, -9.75, 6.5, -3.25])


def test_relu_derivative_is_zero_when_the_unit_is_off():
    # z1 = w1 x1 + w2 x2 + b1 = 1·1 + 1·1 − 2 = 0 ≤ 0 → σ′ = 0 (ReLU′(0) = 0, as on the slide)
    net = net_221("relu", [1, 1, 1, 0, 2, 1], [-2, 0, 0])
    net.loss_and_grad(np.array([[1.0, 1.0]]), np.array([[5.0]]), "mse")
    names = net.param_names()
    for p in ("w1", "w2", "b1"):
        assert net.grads[names.index(p)] == 0


@pytest.mark.parametrize("hidden", ["relu", "sigmoid", "tanh", "softplus", "leaky_relu"])
def test_slide_formula_summed_over_examples(hidden):
    rng = np.random.default_rng(7)
    w, b = rng.normal(size=6), rng.normal(size=3)
    net = net_221(hidden, w, b)
    X = rng.normal(size=(5, 2))
    y = rng.normal(size=(5, 1))
    act = mlp.activations.get(hidden)
    z1 = w[0] * X[:, 0] + w[1] * X[:, 1] + b[0]
    z2 = w[2] * X[:, 0] + w[3] * X[:, 1] + b[1]
    y_hat = w[4] * act(z1) + w[5] * act(z2) + b[2]
    dyhat_dw1 = w[4] * act.derivative(z1) * X[:, 0]          # the slide's ∂ŷ/∂w1
    expected = np.sum((y_hat - y[:, 0]) * dyhat_dw1)         # Σ (ŷ − y) ∂ŷ/∂w1, no stray ½
    net.loss_and_grad(X, y, mlp.MSE("half_sum"))
    assert net.grads[0] == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(net(X)[:, 0], y_hat, rtol=1e-12)
