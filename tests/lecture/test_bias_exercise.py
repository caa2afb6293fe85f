"""The slide "Exercise: bias terms": ŷ = W(2) σ(W(1) x + b(1)) + b(2), σ = ReLU, with
W(1) = [[1, 0, 1], [-1, 2, 3]], b(1) = [-1, 2], W(2) = [[1, -1], [-1, 1]], b(2) = [0, 1].
Every expected number below is worked out by hand in the comment above it."""

import numpy as np
import pytest

import mlp


@pytest.fixture(params=[np.float32, np.float64])
def net(request):
    net = mlp.Network([mlp.Dense(3, 2, "relu"), mlp.Dense(2, 2)], dtype=request.param)
    net.layers[0].W = [[1, 0, 1], [-1, 2, 3]]
    net.layers[0].b = [-1, 2]
    net.layers[1].W = [[1, -1], [-1, 1]]
    net.layers[1].b = [0, 1]
    return net


# x = [1, 1, 1]:  z = [1+0+1-1, -1+2+3+2] = [1, 6], h = [1, 6],
#                 ŷ = [1-6+0, -1+6+1] = [-5, 6]
# x = [0, 0, 0]:  z = b(1) = [-1, 2], h = [0, 2], ŷ = [0-2+0, 0+2+1] = [-2, 3]
# x = [2, -1, 0]: z = [2+0+0-1, -2-2+0+2] = [1, -2], h = [1, 0], ŷ = [1, -1+0+1] = [1, 0]
# x = [1, 2, 3]:  z = [1+0+3-1, -1+4+9+2] = [3, 14], h = [3, 14], ŷ = [3-14, -3+14+1] = [-11, 12]
# x = [0, -1, -1]: z = [0+0-1-1, 0-2-3+2] = [-2, -3], h = [0, 0], ŷ = b(2) = [0, 1]
CASES = [
    ([1, 1, 1], [1, 6], [1, 6], [-5, 6]),
    ([0, 0, 0], [-1, 2], [0, 2], [-2, 3]),
    ([2, -1, 0], [1, -2], [1, 0], [1, 0]),
    ([1, 2, 3], [3, 14], [3, 14], [-11, 12]),
    ([0, -1, -1], [-2, -3], [0, 0], [0, 1]),
]


@pytest.mark.parametrize("x, z, h, y_hat", CASES)
def test_one_example_trace(net, x, z, h, y_hat):
    steps = net.trace(np.array(x))
    np.testing.assert_array_equal(steps[0].z, z)
    np.testing.assert_array_equal(steps[0].h, h)
    np.testing.assert_array_equal(steps[1].z, y_hat)
    np.testing.assert_array_equal(net(np.array(x)), y_hat)


def test_batch_equals_examples(net):
    X = np.array([c[0] for c in CASES])
    np.testing.assert_array_equal(net(X), [c[3] for c in CASES])
    assert net(X).shape == (5, 2)
    assert net(X[0]).shape == (2,)


def test_trace_prints_a_table(net):
    text = str(net.trace(np.array([1, 1, 1])))
    assert "z = W x + b" in text and "h = σ(z)" in text
    assert "[1, 6]" in text and "[-5, 6]" in text
    assert len(text.splitlines()) == 4      # header, rule, two layers
