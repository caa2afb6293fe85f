"""Without nonlinearity a multi-layer network is one affine map:
g(x) = W(2)(W(1) x + b(1)) + b(2) = (W(2) W(1)) x + W(2) b(1) + b(2) = W x + b."""

import warnings

import numpy as np
import pytest

import mlp


def linear_net(sizes, seed=0):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mlp.Network.from_sizes(sizes, hidden="identity", seed=seed, dtype=np.float64)


def test_two_layers_by_hand():
    with pytest.warns(UserWarning):
        net = mlp.Network([mlp.Dense(2, 2), mlp.Dense(2, 1)], dtype=np.float64)
    net.layers[0].W = [[1, 2], [3, 4]]
    net.layers[0].b = [1, -1]
    net.layers[1].W = [[2, -1]]
    net.layers[1].b = [5]
    layer = mlp.collapse(net)
    # W = W2 W1 = [2·1 − 1·3, 2·2 − 1·4] = [-1, 0];  b = W2 b1 + b2 = 2·1 − 1·(−1) + 5 = 8
    np.testing.assert_array_equal(layer.W, [[-1, 0]])
    np.testing.assert_array_equal(layer.b, [8])
    x = np.array([3.0, 7.0])
    # g(x) = -1·3 + 0·7 + 8 = 5
    assert net(x)[0] == 5 and layer(x)[0] == 5


@pytest.mark.parametrize("sizes", [[3, 4, 2], [2, 5, 5, 1], [4, 3, 6, 2, 3], [1, 1]])
def test_any_depth_equals_the_network(sizes):
    net = linear_net(sizes)
    layer = mlp.collapse(net)
    assert layer.W.shape == (sizes[-1], sizes[0])
    X = np.random.default_rng(1).normal(size=(10, sizes[0]))
    np.testing.assert_allclose(layer(X), net(X), rtol=1e-12, atol=1e-12)


def test_formula_for_three_layers():
    net = linear_net([2, 3, 4, 2], seed=3)
    (W1, b1), (W2, b2), (W3, b3) = [(layer.W, layer.b) for layer in net.layers]
    layer = mlp.collapse(net)
    np.testing.assert_allclose(layer.W, W3 @ W2 @ W1, rtol=1e-12)
    np.testing.assert_allclose(layer.b, W3 @ (W2 @ b1 + b2) + b3, rtol=1e-12)


def test_a_nonlinearity_prevents_it_and_is_named():
    net = mlp.Network.from_sizes([2, 3, 3, 1], hidden="relu", seed=0)
    with pytest.raises(ValueError, match="layer 1 .*'relu'"):
        mlp.collapse(net)
    mixed = mlp.Network([mlp.Dense(2, 3), mlp.Dense(3, 3, "tanh"), mlp.Dense(3, 1)])
    with pytest.raises(ValueError, match="layer 2 .*'tanh'"):
        mlp.collapse(mixed)


def test_output_activation_is_kept():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = mlp.Network.from_sizes([2, 3, 1], hidden="identity", output="sigmoid", seed=0,
                                     dtype=np.float64)
    layer = mlp.collapse(net)
    assert layer.activation.name == "sigmoid"
    X = np.random.default_rng(0).normal(size=(5, 2))
    np.testing.assert_allclose(layer(X), net(X), rtol=1e-12)


def test_identity_hidden_layers_warn_but_nonlinear_ones_do_not():
    with pytest.warns(UserWarning, match="no more powerful than a single layer"):
        mlp.Network.from_sizes([2, 4, 4, 1], hidden="identity", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mlp.Network.from_sizes([2, 4, 1], hidden="relu", seed=0)
        mlp.Network.from_sizes([2, 1], seed=0)       # a single layer is not "multi-layer"
