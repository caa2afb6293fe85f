"""Adversarial review of the teaching features: each test failed on the code before its fix."""

import warnings

import numpy as np
import pytest

import mlp


def _net(sizes, hidden="relu", output="identity", seed=1):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mlp.Network.from_sizes(sizes, hidden=hidden, output=output, seed=seed, dtype=np.float64)


def _finite_difference(net, x, name, eps=1e-6):
    k = net.param_index(name)
    old = net.params[k]
    net.params[k] = old + eps
    up = net(x)
    net.params[k] = old - eps
    down = net(x)
    net.params[k] = old
    return (up - down) / (2 * eps)


def test_symbolic_derivative_of_deeper_relu_net_evaluates():
    # ∂ŷ/∂b3 of a 2-2-1-2 ReLU net has a condition (b3 ≤ 0) that does not depend on x:
    # evaluate raised NumPy's "inhomogeneous shape" ValueError.
    pytest.importorskip("sympy")
    from mlp import symbolic
    net = _net([2, 2, 1, 2])
    x = np.array([0.3, -0.7])
    for name in ("b3", "w5", "w1"):
        value = symbolic.evaluate(symbolic.derivative(net, name), net, x)
        np.testing.assert_allclose(value, _finite_difference(net, x, name), atol=1e-6)
    X = np.array([[0.3, -0.7], [1.0, 2.0], [-1.0, 0.5]])
    batch = symbolic.evaluate(symbolic.derivative(net, "b3"), net, X)
    assert batch.shape == (3, 2)
    np.testing.assert_allclose(batch[1], _finite_difference(net, X[1], "b3"), atol=1e-6)


def test_symbolic_gradient_refuses_labels_for_mse_like_backprop():
    # For MSE with two outputs, y = [0, 1] was silently one-hot encoded as class labels
    # (backprop refuses it), and one example's target row (n_out,) was read as labels.
    pytest.importorskip("sympy")
    from mlp import symbolic
    net = _net([2, 2, 2], hidden="tanh", output="identity", seed=0)
    X = np.array([[0.1, 0.2], [0.3, -0.4]])
    with pytest.raises(ValueError, match="shape"):
        net.loss_and_grad(X, [0, 1], "mse")
    with pytest.raises(ValueError, match="shape"):
        symbolic.gradient(net, X, [0, 1], "mse")
    target = np.array([0.5, 0.2])
    loss = net.loss_and_grad(X[0], target, "mse")
    np.testing.assert_allclose(symbolic.gradient(net, X[0], target, "mse"), net.grads, atol=1e-12)
    value = symbolic.evaluate(symbolic.loss_expression(net, "mse"), net, X[0], target)
    assert value == pytest.approx(loss, abs=1e-12)


def test_trace_takes_one_hot_target_row_for_cross_entropy():
    # trace documents y of shape (n_out,); a one-hot row for cross-entropy was read as
    # three class labels ("y has 3 labels but X has 1 examples").
    net = _net([2, 3, 3], hidden="tanh", output="softmax", seed=0)
    x = np.array([0.0, 1.0])
    by_label = net.trace(x, 2, "cross_entropy")
    by_row = net.trace(x, [0.0, 0.0, 1.0], "cross_entropy")
    assert by_row.loss == pytest.approx(by_label.loss)
    np.testing.assert_allclose(by_row[-1].delta, by_label[-1].delta)
    np.testing.assert_allclose(by_row[-1].delta, by_row[-1].h - [0, 0, 1], atol=1e-12)


def _confident_xor_classifier():
    # The lecture's XOR solution h = relu(W(1) x + b(1)), ŷ = −3 h1 + h2, scaled by 20 and
    # shifted by −10 under a sigmoid: p = 4.5e-5 for class 0 and 0.99995 for class 1.
    net = mlp.Network([mlp.Dense(2, 2, "relu"), mlp.Dense(2, 1, "sigmoid")], dtype=np.float64)
    net.layers[0].W[:] = [[1, 1], [2, 2]]
    net.layers[0].b[:] = [-1, -1]
    net.layers[1].W[:] = [[-60, 20]]
    net.layers[1].b[:] = [-10]
    return net


def test_diagnose_does_not_flag_a_confident_sigmoid_output_under_cross_entropy():
    # With binary cross-entropy ∂loss/∂z = ŷ − y: an output sigmoid in its tail is a confident
    # answer, not a stalled gradient. diagnose flagged "1/1 saturated" (d.ok False).
    net = _confident_xor_classifier()
    X, y = mlp.datasets.xor()
    np.testing.assert_array_equal(net.predict(X).ravel() > 0.5, y.ravel() > 0.5)
    d = mlp.diagnose(net, X, y, "binary_cross_entropy")
    assert d.layers[1].saturated == 1.0                       # still reported
    assert d.layers[1].flags == [] and d.ok
    # under MSE σ′ does damp the gradient: there the flag stays
    assert "1/1 saturated" in mlp.diagnose(net, X, y, "mse").layers[1].flags


def test_teaching_functions_refuse_bad_input_with_one_clear_error():
    from mlp.exercises import check_activation, check_layer
    X, _ = mlp.datasets.xor()
    with pytest.raises(TypeError, match="Network"):           # was AttributeError: 'str' … 'copy'
        mlp.diagnose("net", X)
    with pytest.raises(TypeError, match="saturation"):        # True was taken as 1
        mlp.diagnose(_net([2, 2, 1]), X, saturation=True)
    # z = [] was NumPy's "zero-size array" error; a NaN point made the check pass vacuously
    with pytest.raises(ValueError, match="z must be"):
        check_activation(np.tanh, z=[])
    with pytest.raises(ValueError, match="z must be"):
        check_activation(np.tanh, lambda z: 1 - np.tanh(z) ** 2, z=[np.nan, 1.0])
    with pytest.raises(ValueError, match="tol"):               # tol=-1 passed with no check at all
        check_activation(np.tanh, tol=-1)
    with pytest.raises(ValueError, match="n "):               # n=0 "passed" on 0 entries
        check_layer(mlp.Dense, n=0)


def test_symbolic_refuses_bad_input_with_one_clear_error():
    pytest.importorskip("sympy")
    from mlp import symbolic
    net = _net([2, 2, 2])
    with pytest.raises(TypeError, match="Network"):           # was AttributeError: n_params
        symbolic.expression("net")
    with pytest.raises(TypeError, match="output"):            # True silently meant output 1
        symbolic.derivative(net, "w1", output=True)
    with pytest.raises(TypeError, match="SymPy expression"):  # was AttributeError: 'replace'
        symbolic.evaluate(None, net)
