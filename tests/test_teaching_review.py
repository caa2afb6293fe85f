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
