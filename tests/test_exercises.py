"""mlp.check_activation and mlp.check_layer: the homework checker finds exactly the wrong entries."""

import math

import numpy as np
import pytest

import mlp

# -- activations ----------------------------------------------------------------------------

def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def test_correct_student_activations_pass():
    r = mlp.check_activation(sigmoid, lambda z: sigmoid(z) * (1 - sigmoid(z)))
    assert r.ok and r.subject == "activation (reference: sigmoid)"
    assert [c.name for c in r.checks] == ["σ(z) vs sigmoid", "σ′(z) vs sigmoid′",
                                          "σ′(z) vs finite differences of σ"]
    assert mlp.check_activation(lambda z: np.maximum(z, 0), lambda z: (z > 0) * 1.0).ok


def test_relu_derivative_wrong_only_at_the_kink():
    r = mlp.check_activation(lambda z: np.maximum(z, 0), lambda z: (z >= 0) * 1.0)
    assert not r.ok
    bad = r.check("σ′(z) vs relu′")
    assert [(m.where, m.got, m.expected) for m in bad.mismatches] == [("z = 0", 1.0, 0.0)]
    assert r.check("σ′(z) vs finite differences of σ").passed        # the kink is skipped there
    assert "z = 0: got 1, expected 0" in str(r) and "kink" in str(r)


def test_wrong_sigmoid_derivative_is_reported_entry_by_entry():
    z = np.array([-2.0, 0.0, 3.0])
    r = mlp.check_activation(sigmoid, lambda z: sigmoid(z), z=z)    # forgot the (1 − σ) factor
    bad = r.check("σ′(z) vs sigmoid′").mismatches
    s = 1 / (1 + np.exp(-z))
    assert [m.where for m in bad] == ["z = -2", "z = 0", "z = 3"]
    np.testing.assert_allclose([m.got for m in bad], s)
    np.testing.assert_allclose([m.expected for m in bad], s * (1 - s))
    np.testing.assert_allclose([m.error for m in bad], s * s)          # |σ − σ(1 − σ)| = σ²
    assert len(r.check("σ′(z) vs finite differences of σ").mismatches) == 3


def test_a_wrong_forward_is_caught_even_with_a_consistent_derivative():
    r = mlp.check_activation(np.tanh, lambda z: 1 - np.tanh(z) ** 2, reference="sigmoid")
    assert not r.check("σ(z) vs sigmoid").passed
    assert r.check("σ′(z) vs finite differences of σ").passed


def test_scalar_only_code_and_an_unknown_activation():
    r = mlp.check_activation(lambda z: z ** 3, lambda z: 3 * z)       # should be 3 z²
    assert "matches none of mlp's activations" in str(r)
    fd = r.check("σ′(z) vs finite differences of σ")
    assert {m.where for m in fd.mismatches} == {f"z = {v:g}" for v in mlp.exercises.Z_POINTS
                                                if v not in (0.0, 1.0)}   # 3z = 3z² at 0 and 1
    r = mlp.check_activation(math.tanh, lambda z: 1 - math.tanh(z) ** 2)
    assert r.ok and "one value at a time" in str(r)


def test_student_code_that_raises():
    def broken(z):
        raise ZeroDivisionError("oops")

    r = mlp.check_activation(broken)
    assert not r.ok and "ZeroDivisionError: oops" in str(r)
    with pytest.raises(TypeError):
        mlp.check_activation("relu")


# -- layers ---------------------------------------------------------------------------------

class GoodDense:
    def __init__(self, n_in, n_out):
        self.W, self.b = np.zeros((n_out, n_in)), np.zeros(n_out)

    def forward(self, X):
        self.X = X
        return X @ self.W.T + self.b

    def backward(self, dH):
        self.dW, self.db = dH.T @ self.X, dH.sum(axis=0)
        return dH @ self.W


class NoBatchSum(GoodDense):
    def backward(self, dH):
        dX = super().backward(dH)
        self.db = dH[0]                   # bug: only the first example
        return dX


class Transposed(GoodDense):
    def backward(self, dH):
        dX = super().backward(dH)
        self.dW = self.X.T @ dH           # bug: (n_in, n_out)
        return dX


class WrongSign(GoodDense):
    def backward(self, dH):
        dX = super().backward(dH)
        self.dW = self.dW.copy()
        self.dW[1, 2] *= -1               # bug in exactly one entry
        return dX


class TanhDense(GoodDense):
    def __init__(self, n_in, n_out, activation):
        super().__init__(n_in, n_out)

    def forward(self, X):
        self.h = np.tanh(super().forward(X))
        return self.h

    def backward(self, dH):
        return super().backward(dH * (1 - self.h ** 2))


def test_correct_layers_pass():
    assert mlp.check_layer(GoodDense).ok
    assert mlp.check_layer(TanhDense, "tanh").ok
    for act in ("relu", "sigmoid", "tanh", None):
        assert mlp.check_layer(mlp.Dense, act).ok, act      # the library's own float32 layer


def test_missing_batch_sum_in_db():
    r = mlp.check_layer(NoBatchSum, n=4)
    failed = [c.name for c in r.checks if not c.passed]
    assert failed == ["db vs mlp.Dense", "db vs finite differences"]
    assert {m.where for m in r.check("db vs mlp.Dense").mismatches} == {"db[0]", "db[1]"}


def test_transposed_dW_is_named():
    r = mlp.check_layer(Transposed)
    assert "shape (3, 2), expected (2, 3) (transposed?)" in str(r.check("dW vs mlp.Dense"))


def test_one_wrong_entry_is_located_with_its_size():
    r = mlp.check_layer(WrongSign)
    (m,) = r.check("dW vs mlp.Dense").mismatches
    assert m.where == "dW[1, 2]" and m.got == pytest.approx(-m.expected)
    assert m.error == pytest.approx(2 * abs(m.expected))
    assert [c.name for c in r.checks if not c.passed] == ["dW vs mlp.Dense", "dW vs finite differences"]


def test_tanh_layer_checked_as_relu_fails_forward():
    r = mlp.check_layer(TanhDense, "relu")
    assert not r.check("h vs mlp.Dense").passed
    assert r.check("dW vs finite differences").passed      # consistent with its own forward


def test_layers_that_cannot_be_built_or_forget_things():
    r = mlp.check_layer(GoodDense, "relu")                  # takes no activation argument
    assert not r.ok and "construction" in str(r) and "TypeError" in str(r)

    class NoGrads(GoodDense):
        def backward(self, dH):
            return dH @ self.W

    r = mlp.check_layer(NoGrads)
    assert "layer.dW was not set by backward" in str(r) and "layer.db was not set" in str(r)
