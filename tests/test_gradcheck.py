"""Backprop against central differences: hypothesis draws depths 1–4, widths 1–8, every
activation, every loss and both dtypes; gradcheck's error must stay below 1e-6."""

import contextlib
import io
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import mlp

HIDDEN = ["identity", "relu", "leaky_relu", "sigmoid", "tanh", "softplus"]
# (loss, output activation)
PAIRS = [("mse", "identity"), ("mse", "sigmoid"), ("mse", "tanh"), ("mse", "softmax"),
         ("mse", "relu"), ("cross_entropy", "softmax"), ("binary_cross_entropy", "sigmoid")]
LOSSES = {"mse": [mlp.MSE("half_sum"), mlp.MSE("sum"), mlp.MSE("mean")],
          "cross_entropy": [mlp.CrossEntropy("mean"), mlp.CrossEntropy("sum")],
          "binary_cross_entropy": [mlp.BinaryCrossEntropy("mean"),
                                   mlp.BinaryCrossEntropy("sum")]}


def make_case(seed, widths, hidden, pair, n):
    loss_name, output = pair
    rng = np.random.default_rng(seed)
    layers = [mlp.Dense(a, b, hidden[i % len(hidden)] if i < len(widths) - 2 else output,
                        seed=rng, dtype=np.float64)
              for i, (a, b) in enumerate(zip(widths[:-1], widths[1:]))]
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = mlp.Network(layers, dtype=np.float64)
    net.params = rng.normal(size=net.n_params)
    X = rng.normal(size=(n, widths[0]))
    n_out = widths[-1]
    if loss_name == "cross_entropy":
        y = rng.integers(0, n_out, size=n)
    elif loss_name == "binary_cross_entropy":
        y = rng.uniform(size=(n, n_out))
    else:
        y = rng.normal(size=(n, n_out))
    return net, X, y, rng


def away_from_kinks(net, X):
    """True when no ReLU-type pre-activation lies within 1e-3 of the kink at 0."""
    net.forward(X)
    return all(np.min(np.abs(layer.z)) > 1e-3 for layer in net.layers
               if layer.activation.name in ("relu", "leaky_relu"))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1),
       hidden_widths=st.lists(st.integers(1, 8), min_size=0, max_size=3),
       n_in=st.integers(1, 8), n_out=st.integers(1, 8),
       hidden=st.lists(st.sampled_from(HIDDEN), min_size=1, max_size=3),
       pair=st.sampled_from(PAIRS), n=st.integers(1, 6), which=st.integers(0, 2))
def test_backprop_matches_finite_differences(seed, hidden_widths, n_in, n_out, hidden, pair, n,
                                             which):
    if pair[1] == "softmax" and n_out == 1:
        n_out = 2
    widths = [n_in, *hidden_widths, n_out]
    net, X, y, _ = make_case(seed, widths, hidden, pair, n)
    assume(away_from_kinks(net, X))
    options = LOSSES[pair[0]]
    loss = options[which % len(options)]
    check = mlp.gradcheck(net, X, y, loss)
    assert check.max_rel_error < 1e-6, (str(check), widths, hidden, pair)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), hidden=st.sampled_from(HIDDEN),
       pair=st.sampled_from(PAIRS))
def test_float32_gradients_agree_with_float64(seed, hidden, pair):
    net64, X, y, _ = make_case(seed, [3, 5, 4, 3], [hidden], pair, 5)
    assume(away_from_kinks(net64, X))
    net32 = net64.copy(dtype=np.float32)
    l64 = net64.loss_and_grad(X, y, pair[0])
    l32 = net32.loss_and_grad(X, y, pair[0])
    assert net32.grads.dtype == np.float32
    assert l32 == pytest.approx(l64, rel=1e-4, abs=1e-5)
    np.testing.assert_allclose(net32.grads, net64.grads, rtol=1e-3, atol=1e-4)


def test_gradcheck_finds_a_wrong_gradient_and_names_it():
    class Broken(mlp.activations.Tanh):
        name = "broken_tanh"

        def derivative(self, z, h=None):
            return 1.1 * super().derivative(z, h)        # 10% off

    net = mlp.Network([mlp.Dense(2, 3, Broken()), mlp.Dense(3, 1)], dtype=np.float64)
    net.params = np.linspace(-1, 1, net.n_params)
    X = np.array([[0.5, -1.0], [1.0, 2.0]])
    check = mlp.gradcheck(net, X, np.array([[1.0], [0.0]]), "mse")
    assert check.max_rel_error > 1e-3
    assert check.where in net.param_names()[:6] + ["b1", "b2", "b3"]   # a first-layer parameter
    assert "max error" in str(check)


def test_gradcheck_leaves_the_network_alone():
    net = mlp.Network.from_sizes([2, 3, 1], hidden="tanh", seed=0)
    before = net.params.copy()
    X, y = mlp.datasets.xor()
    check = mlp.gradcheck(net, X, y)
    np.testing.assert_array_equal(net.params, before)
    assert net.params.dtype == np.float32 and check.analytic.dtype == np.float64
    assert len(check.names) == net.n_params


def test_readme_first_example_shows_a_passing_check():
    """Issue 14 item 6: README's gradcheck example reported 3e-5 at b1 (the hand-made net sits
    on ReLU's kink). The example now checks a tanh net and passes; the figure it shows is true."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = readme.split("```python\n", 1)[1].split("```", 1)[0]
    lines = block.splitlines()
    check = next(line for line in lines if line.startswith("mlp.gradcheck("))
    namespace = {}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(block, "README.md", "exec"), namespace)
    result = eval(check.split("#")[0], namespace)
    assert result.max_rel_error < 1e-8
    shown = re.search(r"max error (\S+) at (\w+)", check)
    assert shown and float(shown.group(1)) == pytest.approx(result.max_rel_error, rel=0.01)
    assert shown.group(2) == result.where


def test_the_kink_of_the_hand_made_net_is_order_eps():
    # the docstring's explanation, in numbers: 2 examples × 1.5 ε at b1, shrinking with ε
    X, y = mlp.datasets.xor()
    net = mlp.Network([mlp.Dense(2, 2, activation="relu"), mlp.Dense(2, 1)])
    net.layers[0].W, net.layers[0].b, net.layers[1].W = [[1, 1], [2, 2]], [-1, -1], [[-3, 1]]
    for eps in (1e-4, 1e-5, 1e-6):
        r = mlp.gradcheck(net, X, y, "mse", eps=eps)
        assert r.where == "b1" and r.max_rel_error == pytest.approx(3 * eps, rel=1e-6)
    assert "3e-5 at ``b1``" in sys.modules["mlp.gradcheck"].__doc__
