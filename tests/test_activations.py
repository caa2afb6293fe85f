import warnings

import numpy as np
import pytest

import mlp
from mlp import activations

ELEMENTWISE = ["identity", "relu", "leaky_relu", "sigmoid", "tanh", "softplus"]


def test_registry_names_and_unknown_name():
    assert set(ELEMENTWISE + ["softmax"]) <= set(activations.names())
    with pytest.raises(ValueError, match="unknown activation 'rleu'.*'relu'"):
        activations.get("rleu")
    with pytest.raises(TypeError):
        activations.get(3)


def test_values_against_formulas():
    z = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    np.testing.assert_allclose(activations.get("relu")(z), [0, 0, 0, 0.5, 2])
    np.testing.assert_allclose(activations.get("leaky_relu")(z), [-0.02, -0.005, 0, 0.5, 2])
    np.testing.assert_allclose(activations.get("sigmoid")(z), 1 / (1 + np.exp(-z)), rtol=1e-15)
    np.testing.assert_allclose(activations.get("tanh")(z), np.tanh(z))
    np.testing.assert_allclose(activations.get("softplus")(z), np.log(1 + np.exp(z)), rtol=1e-14)
    np.testing.assert_array_equal(activations.get("identity")(z), z)


def test_relu_derivative_as_on_the_slide():
    # σ′(z) = 0 if z ≤ 0, 1 if z > 0
    z = np.array([-1.0, -1e-12, 0.0, 1e-12, 3.0])
    np.testing.assert_array_equal(activations.get("relu").derivative(z), [0, 0, 0, 1, 1])


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_derivative_matches_central_differences(name):
    act = activations.get(name)
    z = np.linspace(-3, 3, 61)
    z = z[np.abs(z) > 1e-3]                     # away from the kink of relu/leaky_relu
    eps = 1e-6
    numeric = (act(z + eps) - act(z - eps)) / (2 * eps)
    np.testing.assert_allclose(act.derivative(z), numeric, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(act.derivative(z, act(z)), numeric, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("name", ELEMENTWISE + ["softmax"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_no_overflow_at_1e4(name, dtype):
    act = activations.get(name)
    z = np.array([[-1e4, -50.0, 0.0, 50.0, 1e4]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")        # any RuntimeWarning fails the test
        h = act(z)
        g = act.backward(z, h, np.ones_like(z))
    assert np.all(np.isfinite(h)) and np.all(np.isfinite(g))
    assert h.dtype == dtype
    if name == "sigmoid":
        np.testing.assert_array_equal(h[0, [0, 4]], [0, 1])
    if name == "softplus":
        assert h[0, 4] == 1e4 and h[0, 0] == 0


def test_softmax_stable_and_its_backward_is_the_jacobian():
    z = np.array([[1000.0, 1001.0, 1002.0], [-3.0, 0.0, 2.0]])
    sm = activations.get("softmax")
    p = sm(z)
    np.testing.assert_allclose(p.sum(axis=1), 1)
    np.testing.assert_allclose(p[0], sm(np.array([[0.0, 1.0, 2.0]]))[0])
    g = np.array([[0.3, -1.0, 2.0], [1.0, 0.5, -0.5]])
    for i in range(2):
        J = np.diag(p[i]) - np.outer(p[i], p[i])
        np.testing.assert_allclose(sm.backward(z[i:i + 1], p[i:i + 1], g[i:i + 1])[0], J @ g[i],
                                   rtol=1e-12)
    with pytest.raises(ValueError, match="not element-wise"):
        sm.derivative(z)


def test_softmax_only_on_the_output_layer():
    with pytest.raises(ValueError, match="only allowed on the output layer"):
        mlp.Network([mlp.Dense(2, 3, "softmax"), mlp.Dense(3, 2)])
