"""Bad input to the public API: one clear ValueError/TypeError from mlp, no silent wrong answer.

Each test here failed before the fix it names (an adversarial review of the public API).
"""

import warnings

import numpy as np
import pytest

import mlp


def regression_net(dtype=np.float32):
    return mlp.Network.from_sizes([2, 3, 1], hidden="tanh", seed=0, dtype=dtype)


def classifier(dtype=np.float64):
    return mlp.Network.from_sizes([2, 3, 3], hidden="tanh", output="softmax", seed=0, dtype=dtype)


X4 = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])


# -- seeds --------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda: mlp.Dense(2, 1, seed=-1),
    lambda: mlp.Network.from_sizes([2, 2, 1], seed=-1),
    lambda: mlp.datasets.moons(seed=-1),
    lambda: mlp.datasets.train_test_split(X4, np.arange(4), seed=-1),
])
def test_negative_seed_is_named(make):
    # was NumPy's "expected non-negative integer" from inside the bit generator
    with pytest.raises(ValueError, match="seed must be a non-negative int, got -1"):
        make()


def test_bool_seed_is_refused():
    with pytest.raises(TypeError, match="seed must be an int"):
        mlp.Dense(2, 1, seed=True)


def test_noise_that_is_not_a_number_is_named():
    with pytest.raises(TypeError, match="noise must be a number, got str"):
        mlp.datasets.circles(noise="x")


# -- assigning parameters -----------------------------------------------------------------------
def test_complex_weights_are_refused_not_truncated():
    net = regression_net()
    before = net.params.copy()
    with pytest.raises(TypeError, match="W must be a real numeric array"):
        net.layers[0].W = np.ones((3, 2)) * 1j          # was silently stored as zeros
    with pytest.raises(TypeError, match="params must be a real numeric array"):
        net.params = np.ones(net.n_params) + 2j         # was silently the real part
    np.testing.assert_array_equal(net.params, before)


def test_text_weights_name_the_attribute():
    net = regression_net()
    with pytest.raises(TypeError, match="b must be a real numeric array"):
        net.layers[0].b = ["a", "b", "c"]              # was NumPy's "could not convert string to float"


def test_weights_that_overflow_float32_are_refused():
    net = regression_net()
    with pytest.raises(ValueError, match="W has values too large for float32"):
        net.layers[0].W = np.full((3, 2), 1e300)       # was silently inf
    with pytest.raises(ValueError, match="params has values too large for float32"):
        net.params = np.full(net.n_params, -1e39)
    assert np.all(np.isfinite(net.params))


def test_nan_weights_are_still_accepted_and_ints_still_work():
    # pinned elsewhere (test_fast, test_diagnostics): NaN may be set on purpose
    net = regression_net()
    net.params = np.full(net.n_params, np.nan)
    assert np.all(np.isnan(net.params))
    net.layers[0].W = [[1, 2], [3, 4], [5, 6]]
    np.testing.assert_array_equal(net.layers[0].W, [[1, 2], [3, 4], [5, 6]])


def test_one_dense_twice_in_a_network_is_refused():
    layer = mlp.Dense(2, 2, activation="relu")
    # was accepted: both positions then read the second slot of params, the first slot unused
    with pytest.raises(ValueError, match="layer 2 is the same Dense object"):
        mlp.Network([layer, layer])


# -- inputs -------------------------------------------------------------------------------------
def test_timedelta_inputs_are_refused():
    net = regression_net()
    X = np.array([[1, 2]], dtype="timedelta64[s]")
    with pytest.raises(TypeError, match="X must be a real numeric array"):
        net(X)                                          # was treated as the numbers 1, 2


# -- targets and weights ------------------------------------------------------------------------
@pytest.mark.parametrize("y, match", [
    (-np.eye(3)[[0, 1, 2, 0]], "probabilities in \\[0, 1\\]"),   # loss was negative (-3.55)
    (np.array([[1.0, 1.0, 0.0]] * 4), "sum to 1"),              # gradient p − y was wrong
    (0.5 * np.eye(3)[[0, 1, 2, 0]], "row 0 sums to 0.5"),
])
def test_cross_entropy_rows_must_be_distributions(y, match):
    net = classifier()
    with pytest.raises(ValueError, match=match):
        net.loss_and_grad(X4, y, "cross_entropy")
    with pytest.raises(ValueError, match=match):
        mlp.gradcheck(net, X4, y, "cross_entropy")      # was max error 0.49 / 0.98
    with pytest.raises(ValueError, match=match):
        net.fit(X4, y, loss="cross_entropy", epochs=1, progress=False)


def test_cross_entropy_soft_labels_still_train_and_check():
    net = classifier()
    y = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [1 / 3, 1 / 3, 1 / 3], [0.0, 0.0, 1.0]])
    assert mlp.gradcheck(net, X4, y, "cross_entropy").max_rel_error < 1e-6


def test_sample_weight_of_the_wrong_shape_is_not_flattened():
    net = regression_net()
    # (2, 2) has 4 entries: it was flattened and used for the 4 examples
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(4,\), got \(2, 2\)"):
        net.loss_and_grad(X4, np.zeros(4), sample_weight=np.ones((2, 2)))
    with pytest.raises(ValueError, match="sample_weight must have shape"):
        net.fit(X4, np.zeros(4), sample_weight=np.ones((4, 1, 1)), epochs=1, progress=False)


# -- losses and activations called directly -----------------------------------------------------
def test_mse_refuses_targets_that_would_broadcast():
    y_hat, y = np.zeros((4, 1)), np.arange(4.0)
    # (4, 1) − (4,) broadcast to (4, 4): the value was 28 instead of 7
    with pytest.raises(ValueError, match="mse: y has shape \\(4,\\) but ŷ has shape \\(4, 1\\)"):
        mlp.MSE().value(y_hat, y)
    with pytest.raises(ValueError, match="mse: y has shape"):
        mlp.MSE().gradient(y_hat, y)
    assert mlp.MSE().value(y_hat, y[:, None]) == pytest.approx(7.0)


def test_binary_cross_entropy_refuses_targets_that_would_broadcast():
    with pytest.raises(ValueError, match="binary_cross_entropy: y has shape"):
        mlp.BinaryCrossEntropy().value(np.full((4, 1), 0.5), np.ones(4))


@pytest.mark.parametrize("labels", [[0, 5], [0, -1], [0, 1.5]])
def test_cross_entropy_labels_out_of_range_called_directly(labels):
    # 5 was NumPy's IndexError; −1 silently meant the last class
    loss = mlp.CrossEntropy()
    with pytest.raises(ValueError, match="class labels must be integers 0..2"):
        loss.value(np.full((2, 3), 1 / 3), np.array(labels))
    with pytest.raises(ValueError, match="class labels must be integers 0..2"):
        loss.value_and_delta(np.zeros((2, 3)), np.array(labels))


def test_losses_take_lists():
    # were AttributeError ('list' object has no attribute 'ndim' / 'dtype')
    assert mlp.CrossEntropy().value([[0.5, 0.5]], [0]) == pytest.approx(np.log(2))
    assert mlp.BinaryCrossEntropy().value([[0.5]], [[1.0]]) == pytest.approx(np.log(2))


def test_sigmoid_of_integers_is_not_truncated():
    sigmoid = mlp.activations.get("sigmoid")
    # astype(z.dtype) made every value 0 for an int array
    np.testing.assert_allclose(sigmoid(np.array([0, 1, -1])), [0.5, 1 / (1 + np.exp(-1)),
                                                                1 / (1 + np.exp(1))])
    np.testing.assert_allclose(sigmoid.derivative(np.array([0])), [0.25])
    np.testing.assert_allclose(mlp.activations.get("leaky_relu")(np.array([-100])), [-1.0])


def test_activations_take_lists_and_refuse_text():
    np.testing.assert_allclose(mlp.activations.get("softmax")([0.0, 0.0]), [0.5, 0.5])  # was AttributeError
    with pytest.raises(TypeError, match="z must be a real numeric array"):
        mlp.activations.get("relu")(np.array(["a"]))


@pytest.mark.parametrize("slope", [np.nan, np.inf, "x", None])
def test_leaky_relu_slope_must_be_a_finite_number(slope):
    with pytest.raises(ValueError, match="negative_slope must be a finite number"):
        mlp.activations.LeakyReLU(slope)               # NaN gave NaN outputs for z < 0


# -- gradcheck and collapse ---------------------------------------------------------------------
@pytest.mark.parametrize("eps", [0, -1e-5, np.nan, True, "x", None])
def test_gradcheck_eps_must_be_positive(eps):
    # 0 was ZeroDivisionError; −1e-5, NaN and True gave a result
    X, y = mlp.datasets.xor()
    with pytest.raises(ValueError, match="eps must be a finite number > 0"):
        mlp.gradcheck(regression_net(), X, y, eps=eps)


@pytest.mark.parametrize("fn", [mlp.gradcheck, mlp.collapse])
def test_gradcheck_and_collapse_need_a_network(fn):
    args = (mlp.datasets.xor()) if fn is mlp.gradcheck else ()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for bad in (None, mlp.Dense(2, 1)):
            with pytest.raises(TypeError, match="needs a mlp.Network"):   # was AttributeError
                fn(bad, *args)
