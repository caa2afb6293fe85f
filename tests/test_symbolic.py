"""mlp.symbolic: the lecture's algebra, and SymPy's gradients equal backprop's to 1e-9."""

import sys
import warnings

import numpy as np
import pytest

import mlp

sp = pytest.importorskip("sympy")
S = pytest.importorskip("mlp.symbolic")

ELEMENTWISE = ["identity", "relu", "leaky_relu", "sigmoid", "tanh", "softplus"]


def xor_by_hand():
    net = mlp.Network([mlp.Dense(2, 2, "relu"), mlp.Dense(2, 1)], dtype=np.float64)
    net.layers[0].W, net.layers[0].b = [[1, 1], [2, 2]], [-1, -1]
    net.layers[1].W, net.layers[1].b = [[-3, 1]], [0]
    return net


def random_net(sizes, hidden, output="identity", seed=0):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")       # all-identity hidden layers warn
        net = mlp.Network.from_sizes(sizes, hidden=hidden, output=output, dtype=np.float64)
    net.params = np.random.default_rng(seed).normal(0, 0.8, net.n_params)   # biases too
    return net


def data(net, loss, n=5, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(0, 1.2, (n, net.n_in))
    if loss == "cross_entropy":
        return X, rng.integers(0, net.n_out, n)
    if loss == "binary_cross_entropy":
        return X, rng.uniform(0, 1, (n, net.n_out))
    return X, rng.normal(0, 1, (n, net.n_out))


def assert_same_gradient(symbolic, net, X, y, loss):
    net.loss_and_grad(X, y, loss)
    err = np.abs(symbolic - net.grads) / np.maximum(1.0, np.abs(net.grads))
    worst = int(np.argmax(err))
    assert err[worst] < 1e-9, (net.param_names()[worst], symbolic[worst], net.grads[worst])


def sym(*names):
    return [sp.Symbol(n) for n in names]


# -- the lecture's 2-2-1 net --------------------------------------------------------------

def test_y_hat_is_the_slides_expression():
    net = xor_by_hand()
    y_hat = S.expression(net)
    sigma = next(iter(y_hat.atoms(sp.Function))).func
    assert str(sigma) == "σ"
    w1, w2, w3, w4, w5, w6, b1, b2, b3, x1, x2 = sym("w1", "w2", "w3", "w4", "w5", "w6", "b1", "b2",
                                                     "b3", "x1", "x2")
    # ŷ = w5 σ(w1 x1 + w2 x2 + b1) + w6 σ(w3 x1 + w4 x2 + b2) + b3
    assert y_hat == w5 * sigma(w1 * x1 + w2 * x2 + b1) + w6 * sigma(w3 * x1 + w4 * x2 + b2) + b3


def test_dy_hat_dw1_is_the_slides_chain_rule():
    net = xor_by_hand()
    d = S.derivative(net, "w1")
    w1, w2, w5, b1, x1, x2, t = sym("w1", "w2", "w5", "b1", "x1", "x2", "t")
    sigma = next(iter(S.expression(net).atoms(sp.Function))).func
    sigma_prime = sp.diff(sigma(t), t).func
    assert str(sigma_prime) == "σ′"
    # ∂ŷ/∂w1 = w5 σ′(w1 x1 + w2 x2 + b1) x1
    assert d == w5 * sigma_prime(w1 * x1 + w2 * x2 + b1) * x1
    assert "σ′(b1 + w1*x1 + w2*x2)" in str(d)


def test_relu_derivative_as_the_slides_cases():
    w1, w2, w5, b1, x1, x2 = sym("w1", "w2", "w5", "b1", "x1", "x2")
    z = w1 * x1 + w2 * x2 + b1
    cases = S.piecewise(S.derivative(xor_by_hand(), "w1"))
    # 0 if z ≤ 0, w5 x1 if z > 0
    assert isinstance(cases, sp.Piecewise)
    assert [tuple(arg) for arg in cases.args] == [(0, z <= 0), (w5 * x1, z > 0)]
    # on XOR's inputs z = x1 + x2 − 1 is > 0 only at (1, 1), where it is w5·x1 = −3
    X, _ = mlp.datasets.xor()
    np.testing.assert_array_equal(S.evaluate(cases, xor_by_hand(), X), [0, 0, 0, -3])


def test_latex():
    tex = S.to_latex(S.derivative(xor_by_hand(), "w1"))
    assert r"\sigma'" in tex and "w_{5}" in tex and "x_{1}" in tex and "σ" not in tex
    assert r"\leq 0" in S.to_latex(S.piecewise(S.derivative(xor_by_hand(), "w1")))


def test_loss_derivative_has_the_lecture_form():
    net = xor_by_hand()
    d = S.loss_derivative(net, "w5", "mse")
    i, n = sp.Symbol("i", integer=True, positive=True), sp.Symbol("n", integer=True, positive=True)
    x, y = sp.IndexedBase("x"), sp.IndexedBase("y")
    w1, w2, w3, w4, w5, w6, b1, b2, b3 = sym("w1", "w2", "w3", "w4", "w5", "w6", "b1", "b2", "b3")
    sigma = next(iter(S.expression(net).atoms(sp.Function))).func
    h1 = sigma(w1 * x[i, 1] + w2 * x[i, 2] + b1)
    y_hat = w5 * h1 + w6 * sigma(w3 * x[i, 1] + w4 * x[i, 2] + b2) + b3
    # ∂f/∂w5 = Σᵢ (ŷ⁽ⁱ⁾ − y⁽ⁱ⁾) h1⁽ⁱ⁾: the ½ of f_MSE cancels the 2 of the square
    assert d == sp.Sum((y_hat - y[i, 1]) * h1, (i, 1, n))


def test_dy_hat_dp_equals_backprop_for_every_parameter_and_example():
    net = random_net([2, 2, 1], "tanh", seed=3)
    X, _ = data(net, "mse")
    for x in X:
        # with f = ½ (ŷ − y)² and y = ŷ − 1, backprop's ∂f/∂p is exactly ∂ŷ/∂p
        grads = net.trace(x, y=net(x) - 1).grads
        for name in net.param_names():
            assert abs(S.evaluate(S.derivative(net, name), net, x) - grads[name]) < 1e-12, name


@pytest.mark.parametrize("loss", ["mse", "binary_cross_entropy"])
def test_evaluated_loss_derivatives_equal_backprop(loss):
    net = random_net([2, 2, 1], "relu", output="sigmoid" if loss != "mse" else "identity", seed=4)
    X, y = data(net, loss, n=6)
    net.loss_and_grad(X, y, loss)
    for name, g in zip(net.param_names(), net.grads):
        assert abs(S.evaluate(S.loss_derivative(net, name, loss), net, X, y) - g) < 1e-9, name


# -- every activation, both losses, random nets up to 3 layers -------------------------------

@pytest.mark.parametrize("hidden", ELEMENTWISE)
def test_xor_net_every_activation(hidden):
    net = random_net([2, 2, 1], hidden, seed=5)
    X, y = mlp.datasets.xor()
    assert_same_gradient(S.gradient(net, X, y, "mse"), net, X, y, "mse")


@pytest.mark.parametrize("hidden", ELEMENTWISE)
@pytest.mark.parametrize("sizes, output, loss", [
    ([2, 2, 2, 2], "softmax", "cross_entropy"),
    ([3, 2, 2], "sigmoid", "binary_cross_entropy"),
    ([2, 3, 2, 1], "identity", mlp.MSE("mean")),
    ([1, 2, 2], "tanh", mlp.MSE("sum")),
])
def test_random_nets(hidden, sizes, output, loss):
    net = random_net(sizes, hidden, output, seed=len(hidden))
    name = loss if isinstance(loss, str) else "mse"
    X, y = data(net, name)
    assert_same_gradient(S.gradient(net, X, y, loss), net, X, y, loss)


def test_mixed_activations_are_printed_by_name_and_still_agree():
    net = mlp.Network([mlp.Dense(2, 2, "relu"), mlp.Dense(2, 2, "tanh"), mlp.Dense(2, 1, "sigmoid")],
                      dtype=np.float64)
    net.params = np.random.default_rng(7).normal(0, 1, net.n_params)
    text = str(S.expression(net))
    assert "relu(" in text and "tanh(" in text and "sigmoid(" in text and "σ" not in text
    X, y = data(net, "mse")
    assert_same_gradient(S.gradient(net, X, y, "mse"), net, X, y, "mse")
    assert "relu(" in str(S.expression(xor_by_hand(), sigma="names"))


def test_expression_of_a_softmax_net_evaluates_to_the_forward_pass():
    net = random_net([2, 3, 3], "sigmoid", "softmax", seed=8)
    X, _ = data(net, "mse")
    np.testing.assert_allclose(S.evaluate(S.expression(net), net, X), net(X), rtol=1e-12)
    np.testing.assert_allclose(S.evaluate(S.expression(net), net, X[0]), net(X[0]), rtol=1e-12)


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "sigmoid", "tanh", "softplus"])
def test_each_sigma_prime_is_sympys_derivative_of_sigma_and_the_numpy_one(name):
    net = random_net([1, 1, 1], name)
    z = sp.Symbol("z")
    sigma = next(f.func for f in S.expression(net).atoms(sp.Function) if str(f.func) == "σ")
    formula, prime = S.concrete(sigma(z)), S.concrete(sp.diff(sigma(z), z))
    points = np.array([-3.0, -1.0, -0.25, 0.5, 1.0, 2.5])      # away from ReLU's kink
    by_sympy = sp.diff(formula, z).replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: 0)  # z ≠ 0
    by_sympy = sp.lambdify(z, by_sympy, "numpy")(points)
    ours = sp.lambdify(z, prime, "numpy")(points)
    np.testing.assert_allclose(ours, np.broadcast_to(by_sympy, points.shape), rtol=1e-12)
    act = mlp.activations.get(name)
    np.testing.assert_allclose(ours, act.derivative(points), rtol=1e-12)
    np.testing.assert_allclose(sp.lambdify(z, formula, "numpy")(points), act(points), rtol=1e-12)
    # the kink convention of the slide: σ′(0) equals the library's
    assert float(prime.subs(z, 0)) == pytest.approx(float(act.derivative(np.array([0.0]))[0]))


# -- errors ---------------------------------------------------------------------------------

def test_errors_are_clear():
    net = xor_by_hand()
    with pytest.raises(ValueError, match="no parameter 'w7'"):
        S.derivative(net, "w7")
    with pytest.raises(ValueError, match="max_params"):
        S.expression(random_net([8, 8, 1], "relu"))
    with pytest.raises(ValueError, match="sigma"):
        S.expression(net, sigma="greek")
    with pytest.raises(ValueError, match="pass the data"):
        S.evaluate(S.loss_derivative(net, "w1"), net)
    with pytest.raises(ValueError, match="pass the input"):
        S.evaluate(S.derivative(net, "w1"), net)
    with pytest.raises(ValueError, match="softmax output"):
        S.loss_expression(net, "cross_entropy")

    class Cube(mlp.Activation):
        name = "cube"

        def __call__(self, z):
            return z ** 3

        def derivative(self, z, h=None):
            return 3 * z ** 2

    with pytest.raises(ValueError, match="no formula for the activation 'cube'"):
        S.expression(mlp.Network([mlp.Dense(1, 1, Cube())]))


def test_missing_sympy_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sympy", None)
    with pytest.raises(ImportError, match=r"mlp\[symbolic\]"):
        S.expression(xor_by_hand())
