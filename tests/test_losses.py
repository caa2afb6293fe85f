import warnings

import numpy as np
import pytest

import mlp
from mlp import losses


def test_mse_reductions_by_hand():
    y_hat = np.array([[1.0, 2.0], [3.0, 0.0]])
    y = np.array([[0.0, 0.0], [1.0, 1.0]])
    # differences 1, 2, 2, -1 → squares 1, 4, 4, 1 → Σ = 10
    assert mlp.MSE("half_sum").value(y_hat, y) == 5.0
    assert mlp.MSE("sum").value(y_hat, y) == 10.0
    assert mlp.MSE("mean").value(y_hat, y) == 2.5
    np.testing.assert_array_equal(mlp.MSE("half_sum").gradient(y_hat, y), [[1, 2], [2, -1]])
    np.testing.assert_array_equal(mlp.MSE("sum").gradient(y_hat, y), [[2, 4], [4, -2]])
    np.testing.assert_array_equal(mlp.MSE("mean").gradient(y_hat, y), [[0.5, 1], [1, -0.5]])
    assert mlp.MSE().reduction == "half_sum"          # the lecture's f_MSE is the default


def test_unknown_names_list_the_known_ones():
    with pytest.raises(ValueError, match="unknown loss 'mae'.*'mse'.*'cross_entropy'"):
        losses.get("mae")
    with pytest.raises(ValueError, match="half_sum"):
        mlp.MSE("avg")
    with pytest.raises(ValueError, match="mean, sum"):
        mlp.CrossEntropy("half_sum")


def test_cross_entropy_by_hand():
    # z = [0, ln 3] → p = [1/4, 3/4]; label 1 → loss −ln(3/4); δ = p − y = [1/4, −1/4]
    z = np.array([[0.0, np.log(3.0)]])
    value, delta = mlp.CrossEntropy().value_and_delta(z, np.array([1]))
    assert value == pytest.approx(-np.log(0.75), rel=1e-14)
    np.testing.assert_allclose(delta, [[0.25, -0.25]], rtol=1e-14)
    value_onehot, delta_onehot = mlp.CrossEntropy().value_and_delta(z, np.array([[0.0, 1.0]]))
    assert value_onehot == value
    np.testing.assert_array_equal(delta_onehot, delta)


def test_binary_cross_entropy_by_hand():
    # z = 0 → p = 1/2; loss = ln 2 for either target; δ = p − y
    z = np.array([[0.0], [0.0]])
    value, delta = mlp.BinaryCrossEntropy().value_and_delta(z, np.array([[1.0], [0.0]]))
    assert value == pytest.approx(np.log(2), rel=1e-14)
    np.testing.assert_allclose(delta, [[-0.25], [0.25]])     # (p − y) / n, n = 2


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_losses_finite_for_logits_1e4(dtype):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net = mlp.Network([mlp.Dense(1, 2, "softmax")], dtype=dtype)
        net.layers[0].W = [[1e4], [-1e4]]
        x = np.array([[1.0]])
        value = net.loss_and_grad(x, np.array([1]), "cross_entropy")
        assert np.isfinite(value) and value == pytest.approx(2e4, rel=1e-6)
        assert np.all(np.isfinite(net.grads))
        np.testing.assert_allclose(net.layers[0].db, [1, -1])       # p − y = [1, 0] − [0, 1]
        net = mlp.Network([mlp.Dense(1, 1, "sigmoid")], dtype=dtype)
        net.layers[0].W = [[-1e4]]
        value = net.loss_and_grad(x, np.array([[1.0]]), "binary_cross_entropy")
        assert value == pytest.approx(1e4, rel=1e-6)
        np.testing.assert_allclose(net.layers[0].db, [-1])


def test_nonsense_pairings_raise():
    net = mlp.Network.from_sizes([2, 3, 2], output="identity", seed=0)
    with pytest.raises(ValueError, match="cross_entropy needs a softmax output"):
        net.loss_and_grad(np.zeros((1, 2)), np.array([0]), "cross_entropy")
    with pytest.raises(ValueError, match="binary_cross_entropy needs a sigmoid output"):
        net.loss_and_grad(np.zeros((1, 2)), np.zeros((1, 2)), "binary_cross_entropy")


def test_mse_on_a_softmax_output_uses_the_chain_rule():
    net = mlp.Network.from_sizes([3, 4, 3], hidden="tanh", output="softmax", seed=0,
                                 dtype=np.float64)
    X = np.random.default_rng(0).normal(size=(6, 3))
    y = np.eye(3)[[0, 1, 2, 0, 1, 2]]
    assert mlp.gradcheck(net, X, y, "mse").max_rel_error < 1e-7


def test_sample_weight_scales_each_example():
    net = mlp.Network.from_sizes([2, 3, 1], hidden="tanh", seed=0, dtype=np.float64)
    X = np.random.default_rng(0).normal(size=(4, 2))
    y = np.ones((4, 1))
    full = net.loss_and_grad(X, y, "mse", sample_weight=[1, 1, 0, 0])
    g_full = net.grads.copy()
    part = net.loss_and_grad(X[:2], y[:2], "mse")
    assert full == pytest.approx(part)
    np.testing.assert_allclose(g_full, net.grads)
    with pytest.raises(ValueError, match="sample_weight must have shape"):
        net.loss_and_grad(X, y, "mse", sample_weight=[1, 2])
    with pytest.raises(ValueError, match="non-negative"):
        net.loss_and_grad(X, y, "mse", sample_weight=[1, -1, 1, 1])
