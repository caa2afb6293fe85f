import numpy as np
import pytest

import mlp


def small(dtype=np.float32, seed=0):
    return mlp.Network.from_sizes([3, 4, 2], hidden="relu", output="identity", seed=seed,
                                  dtype=dtype)


def test_shapes_follow_the_lecture():
    net = small()
    W1, W2 = net.layers[0].W, net.layers[1].W
    assert W1.shape == (4, 3) and W2.shape == (2, 4)            # (n_out, n_in)
    assert net.layers[0].b.shape == (4,)
    assert net.n_params == 4 * 3 + 2 * 4 + 4 + 2 == net.params.size == net.grads.size
    assert net.sizes == [3, 4, 2] and net.n_in == 3 and net.n_out == 2


def test_single_example_is_z_equals_W_x_plus_b_and_batch_agrees():
    net = small(np.float64)
    X = np.random.default_rng(0).normal(size=(5, 3))
    for x, row in zip(X, net(X)):
        L1, L2 = net.layers
        h = np.maximum(L1.W @ x + L1.b, 0)               # the slide, one example
        np.testing.assert_allclose(net(x), L2.W @ h + L2.b, rtol=1e-12)
        np.testing.assert_allclose(row, net(x), rtol=1e-12)
    assert net(X[0]).shape == (2,) and net(X).shape == (5, 2)
    np.testing.assert_array_equal(net.predict(X), net(X))


def test_layer_parameters_are_views_into_the_flat_vectors():
    net = small()
    W1 = net.layers[0].W
    assert np.shares_memory(W1, net.params) and np.shares_memory(net.layers[1].b, net.params)
    assert np.shares_memory(net.layers[0].dW, net.grads)
    # flat order: all weights (row by row, layer by layer), then all biases
    net.params = np.arange(net.n_params)
    np.testing.assert_array_equal(net.layers[0].W, np.arange(12).reshape(4, 3))
    np.testing.assert_array_equal(net.layers[1].W, np.arange(12, 20).reshape(2, 4))
    np.testing.assert_array_equal(net.layers[0].b, [20, 21, 22, 23])
    np.testing.assert_array_equal(net.layers[1].b, [24, 25])
    # in-place assignment and rebinding both write through the view
    net.layers[0].W[:] = 7
    assert np.all(net.params[:12] == 7)
    net.layers[1].b = [1, 2]
    np.testing.assert_array_equal(net.params[-2:], [1, 2])
    assert net.layers[1].b is not None and np.shares_memory(net.layers[1].b, net.params)
    with pytest.raises(ValueError, match="W must have shape"):
        net.layers[0].W = np.zeros((3, 4))
    with pytest.raises(ValueError, match="params must have shape"):
        net.params = np.zeros(3)


def test_grads_are_overwritten_not_accumulated():
    net = small(np.float64)
    X = np.random.default_rng(0).normal(size=(4, 3))
    y = np.zeros((4, 2))
    net.loss_and_grad(X, y, "mse")
    first = net.grads.copy()
    net.loss_and_grad(X, y, "mse")
    np.testing.assert_array_equal(net.grads, first)
    assert np.shares_memory(net.layers[1].dW, net.grads)
    np.testing.assert_array_equal(net.layers[1].dW.ravel(), net.grads[12:20])


def test_dtypes():
    assert small().params.dtype == np.float32
    net = small(np.float64)
    assert net.params.dtype == np.float64 and net(np.ones(3)).dtype == np.float64
    assert small()(np.ones(3, dtype=np.float64)).dtype == np.float32
    with pytest.raises(TypeError, match="float32 or float64"):
        small(np.int32)
    copy = small().copy(dtype=np.float64)
    np.testing.assert_array_equal(copy.params, small().params.astype(np.float64))


def test_same_seed_same_weights_and_names():
    np.testing.assert_array_equal(small(seed=3).params, small(seed=3).params)
    assert not np.array_equal(small(seed=3).params, small(seed=4).params)
    assert small().param_names()[:3] == ["w1", "w2", "w3"]
    assert small().param_names()[-1] == "b6" and small().param_index("b1") == 20
    with pytest.raises(ValueError, match="no parameter 'w99'"):
        small().param_index("w99")


def test_mismatched_layers_are_refused():
    with pytest.raises(ValueError, match="layer 2 expects 3 inputs but layer 1 has 4 outputs"):
        mlp.Network([mlp.Dense(2, 4), mlp.Dense(3, 1)])
    with pytest.raises(ValueError, match="at least one layer"):
        mlp.Network([])
    with pytest.raises(TypeError, match="must be a Dense"):
        mlp.Network(["relu"])
    with pytest.raises(ValueError, match="at least 1"):
        mlp.Dense(0, 2)
    with pytest.raises(TypeError, match="must be an int"):
        mlp.Dense(2.5, 2)
    with pytest.raises(ValueError, match="unknown activation"):
        mlp.Dense(2, 2, "sigmoidal")
    with pytest.raises(ValueError, match="unknown initialiser"):
        mlp.Network.from_sizes([2, 2], init="xavier2")
    with pytest.raises(ValueError, match="at least an input and an output"):
        mlp.Network.from_sizes([2])


def test_repr_shows_sizes_and_activations():
    text = repr(small())
    assert "Dense(3, 4, activation='relu')" in text and "3-4-2" in text and "26 parameters" in text


def test_predict_classes_and_proba():
    net = mlp.Network.from_sizes([2, 3, 3], output="softmax", seed=0)
    X = np.random.default_rng(0).normal(size=(5, 2))
    p = net.predict_proba(X)
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_array_equal(net.predict_classes(X), p.argmax(axis=1))
    binary = mlp.Network.from_sizes([2, 3, 1], output="sigmoid", seed=0)
    pb = binary.predict_proba(X)
    assert pb.shape == (5, 2)
    np.testing.assert_allclose(pb[:, 1], binary(X)[:, 0])
    np.testing.assert_array_equal(binary.predict_classes(X), (binary(X)[:, 0] > 0.5))
    with pytest.raises(ValueError, match="softmax or sigmoid"):
        small().predict_proba(np.ones((1, 3)))


# -- bad input: one clear error naming the problem -------------------------------------------
@pytest.mark.parametrize("X, error, match", [
    (np.ones((4, 2)), ValueError, "has 2 features per example, but the network expects 3"),
    (np.ones(5), ValueError, "has 5 features per example"),
    (np.ones((2, 3, 3)), ValueError, "must be 1-D .* or 2-D .* got 3-D"),
    (np.array([[1.0, np.nan, 0.0]]), ValueError, "NaN or infinite"),
    (np.array([[1.0, np.inf, 0.0]]), ValueError, "NaN or infinite"),
    (np.zeros((0, 3)), ValueError, "empty"),
    (np.array([["a", "b", "c"]]), TypeError, "numeric"),
    ([[1, 2, 3], [1, 2]], ValueError, "ragged"),
    (np.array([[1 + 1j, 0, 0]]), TypeError, "real numeric"),
])
def test_bad_inputs(X, error, match):
    net = small()
    with pytest.raises(error, match=match):
        net(X)
    with pytest.raises(error, match=match):
        net.loss_and_grad(X, np.zeros((4, 2)), "mse")


@pytest.mark.parametrize("y, loss, match", [
    (np.zeros((4, 3)), "mse", r"shape \(4, 3\), expected \(4, 2\)"),
    (np.zeros(4), "mse", r"shape \(4,\), expected \(4, 2\)"),
    (np.zeros((3, 2)), "mse", r"expected \(4, 2\)"),
    (np.array([[0, np.nan]] * 4), "mse", "y contains NaN"),
    (np.array([0, 1, 2, 1]), "cross_entropy", "labels out of range: found 0..2.*labels 0..1"),
    (np.array([0, 1, -1, 1]), "cross_entropy", "out of range"),
    (np.array([0, 1, 0.5, 1]), "cross_entropy", "must be integers"),
    (np.array([0, 1, 1]), "cross_entropy", "3 labels but X has 4 examples"),
    (np.array([["a", "b"]] * 4), "mse", "numeric"),
])
def test_bad_targets(y, loss, match):
    output = "softmax" if loss == "cross_entropy" else "identity"
    net = mlp.Network.from_sizes([3, 4, 2], output=output, seed=0)
    with pytest.raises((ValueError, TypeError), match=match):
        net.loss_and_grad(np.ones((4, 3)), y, loss)


def test_binary_cross_entropy_targets_in_unit_interval():
    net = mlp.Network.from_sizes([3, 1], output="sigmoid", seed=0)
    with pytest.raises(ValueError, match=r"lie in \[0, 1\]"):
        net.loss_and_grad(np.ones((2, 3)), [2.0, 0.0], "binary_cross_entropy")


def test_labels_as_column_and_one_hot_agree():
    net = mlp.Network.from_sizes([3, 4, 3], output="softmax", seed=0, dtype=np.float64)
    X = np.random.default_rng(0).normal(size=(4, 3))
    labels = np.array([0, 2, 1, 2])
    a = net.loss_and_grad(X, labels, "cross_entropy")
    ga = net.grads.copy()
    b = net.loss_and_grad(X, np.eye(3)[labels], "cross_entropy")
    c = net.loss_and_grad(X, labels[:, None], "cross_entropy")
    assert a == pytest.approx(b) == pytest.approx(c)
    np.testing.assert_allclose(ga, net.grads)


def test_backward_before_forward_is_a_clear_error():
    with pytest.raises(RuntimeError, match="before forward"):
        mlp.Dense(2, 2).backward(np.ones((1, 2)))


@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
def test_pickled_and_deep_copied_networks_keep_their_views(how):
    import copy
    import pickle
    net = small(np.float64)
    clone = pickle.loads(pickle.dumps(net)) if how == "pickle" else copy.deepcopy(net)
    np.testing.assert_array_equal(clone.params, net.params)
    assert np.shares_memory(clone.layers[0].W, clone.params)
    assert np.shares_memory(clone.layers[1].db, clone.grads)
    assert not np.shares_memory(clone.params, net.params)
    clone.params = np.zeros(clone.n_params)
    assert np.all(clone.layers[1].W == 0) and not np.all(net.layers[1].W == 0)
