"""XOR: no linear model solves it; a ReLU hidden layer with b(1) = [-1, -1] and W(1) of 1s
and 2s does, by collapsing (0,1) and (1,0) onto one hidden point."""

import numpy as np
import pytest

import mlp

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
Y = np.array([0, 1, 1, 0], dtype=float)


def hand_made(dtype=np.float64):
    net = mlp.Network([mlp.Dense(2, 2, "relu"), mlp.Dense(2, 1)], dtype=dtype)
    net.layers[0].W = [[1, 1], [2, 2]]
    net.layers[0].b = [-1, -1]
    net.layers[1].W = [[-3, 1]]
    net.layers[1].b = [0]
    return net


def test_dataset_is_the_lecture_xor():
    Xd, yd = mlp.datasets.xor()
    np.testing.assert_array_equal(Xd, X)
    np.testing.assert_array_equal(yd, Y[:, None])


def test_hand_made_solution_gives_exactly_0_1_1_0():
    # z = W(1) x + b(1): (0,0) → [-1,-1], (0,1) → [0, 1], (1,0) → [0, 1], (1,1) → [1, 3]
    # h = relu(z):       (0,0) → [0, 0],  (0,1) → [0, 1], (1,0) → [0, 1], (1,1) → [1, 3]
    # ŷ = -3 h1 + h2:    0, 1, 1, -3 + 3 = 0
    for dtype in (np.float32, np.float64):
        net = hand_made(dtype)
        np.testing.assert_array_equal(net(X)[:, 0], [0, 1, 1, 0])


def test_hidden_layer_collapses_01_and_10_onto_one_point():
    net = hand_made()
    hidden = np.array([net.trace(x)[0].h for x in X])
    np.testing.assert_array_equal(hidden, [[0, 0], [0, 1], [0, 1], [1, 3]])
    np.testing.assert_array_equal(hidden[1], hidden[2])
    # in hidden space a line separates the classes: -3 h1 + h2 - 0.5 has sign + on class 1 only
    score = hidden @ np.array([-3, 1]) - 0.5
    assert np.all((score > 0) == (Y == 1))


def test_best_linear_model_predicts_one_half_everywhere():
    # Least squares on XOR: by symmetry w1 = w2 = 0 and b = mean(y) = 0.5.
    base = mlp.linear_baseline(X, Y)
    np.testing.assert_allclose(base(X)[:, 0], [0.5, 0.5, 0.5, 0.5], atol=1e-12)
    np.testing.assert_allclose(base.W, [[0, 0]], atol=1e-12)
    np.testing.assert_allclose(base.b, [0.5], atol=1e-12)


def test_removing_the_relu_loses_xor():
    net = hand_made()
    # the same weights with identity hidden units: ŷ = -3(x1+x2-1) + (2x1+2x2-1) = -x1 - x2 + 2
    with pytest.warns(UserWarning, match="no more powerful than a single layer"):
        linear = mlp.Network([mlp.Dense(2, 2), mlp.Dense(2, 1)], dtype=np.float64)
    linear.params = net.params
    np.testing.assert_array_equal(linear(X)[:, 0], [2, 1, 1, 0])
