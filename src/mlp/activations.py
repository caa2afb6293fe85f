"""Activation functions σ and their derivatives σ′, side by side, registered by name.

This module owns every derivative rule of the network's nonlinearities: each
activation is one small object holding ``σ(z)`` and ``σ′(z)`` next to each other,
registered under its public name in ``ACTIVATIONS``. It does not know about
layers or losses.

All element-wise functions are numerically stable: sigmoid and softplus never
overflow (|z| = 1e4 gives no warning) and softmax subtracts the row maximum.

Examples
--------
>>> import numpy as np
>>> relu = get("relu")
>>> relu(np.array([-1.0, 0.0, 2.0]))
array([0., 0., 2.])
>>> relu.derivative(np.array([-1.0, 0.0, 2.0]))   # ReLU′(0) = 0, as on the slide
array([0., 0., 1.])
"""

from __future__ import annotations

import numpy as np

from ._registry import Registry
from ._validation import as_floats, is_number

ACTIVATIONS = Registry("activation")


class Activation:
    """Base class: ``h = σ(z)`` element-wise and ``σ′(z)``.

    Subclasses implement ``__call__`` (σ) and ``derivative`` (σ′). ``derivative``
    may use the already computed ``h = σ(z)`` when that is cheaper (sigmoid, tanh).
    """

    name = "activation"
    elementwise = True

    def __call__(self, z: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def derivative(self, z: np.ndarray, h: np.ndarray | None = None) -> np.ndarray:
        raise NotImplementedError  # pragma: no cover - abstract

    def backward(self, z: np.ndarray, h: np.ndarray, grad_h: np.ndarray) -> np.ndarray:
        """Chain rule through σ: ``∂loss/∂z = ∂loss/∂h ⊙ σ′(z)``."""
        return grad_h * self.derivative(z, h)

    def __repr__(self) -> str:
        return self.name

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self) -> int:
        return hash((type(self), tuple(sorted(vars(self).items()))))


class Identity(Activation):
    """σ(z) = z, σ′(z) = 1."""

    name = "identity"

    def __call__(self, z):
        z = as_floats(z, "z")
        return z

    def derivative(self, z, h=None):
        z = as_floats(z, "z")
        return np.ones_like(z)

    def backward(self, z, h, grad_h):
        return grad_h


class ReLU(Activation):
    """σ(z) = max(0, z); σ′(z) = 0 for z ≤ 0 and 1 for z > 0 (the slide's convention)."""

    name = "relu"

    def __call__(self, z):
        z = as_floats(z, "z")
        return np.maximum(z, 0)

    def derivative(self, z, h=None):
        z = as_floats(z, "z")
        return (z > 0).astype(z.dtype)

    def backward(self, z, h, grad_h):
        return np.where(z > 0, grad_h, 0).astype(grad_h.dtype, copy=False)


class LeakyReLU(Activation):
    """σ(z) = z for z > 0, α z otherwise; σ′(z) = 1 for z > 0, α otherwise (α = 0.01)."""

    name = "leaky_relu"

    def __init__(self, negative_slope: float = 0.01):
        if not is_number(negative_slope) or not np.isfinite(negative_slope):
            raise ValueError(f"negative_slope must be a finite number, got {negative_slope!r}")
        self.negative_slope = float(negative_slope)

    def __call__(self, z):
        z = as_floats(z, "z")
        return np.where(z > 0, z, z * self.negative_slope).astype(z.dtype, copy=False)

    def derivative(self, z, h=None):
        z = as_floats(z, "z")
        return np.where(z > 0, 1.0, self.negative_slope).astype(z.dtype, copy=False)


class Sigmoid(Activation):
    """σ(z) = 1 / (1 + e^(−z)); σ′(z) = σ(z)(1 − σ(z)).

    Computed as e^(−|z|) based halves so that no exponent is ever positive.
    """

    name = "sigmoid"

    def __call__(self, z):
        z = as_floats(z, "z")
        e = np.exp(-np.abs(z))
        return np.where(z >= 0, 1 / (1 + e), e / (1 + e)).astype(z.dtype, copy=False)

    def derivative(self, z, h=None):
        z = as_floats(z, "z")
        s = self(z) if h is None else h
        return s * (1 - s)


class Tanh(Activation):
    """σ(z) = tanh z; σ′(z) = 1 − tanh² z."""

    name = "tanh"

    def __call__(self, z):
        z = as_floats(z, "z")
        return np.tanh(z)

    def derivative(self, z, h=None):
        z = as_floats(z, "z")
        t = np.tanh(z) if h is None else h
        return 1 - t * t


class Softplus(Activation):
    """σ(z) = log(1 + e^z) = max(z, 0) + log(1 + e^(−|z|)); σ′(z) = sigmoid(z)."""

    name = "softplus"

    def __call__(self, z):
        z = as_floats(z, "z")
        return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))

    def derivative(self, z, h=None):
        z = as_floats(z, "z")
        return SIGMOID(z)


class Softmax(Activation):
    """Row-wise softmax for output layers: p_k = e^(z_k) / Σ_j e^(z_j).

    Not element-wise: its Jacobian is diag(p) − p pᵀ, applied in ``backward`` as a
    vector–Jacobian product. With cross-entropy the network never calls it: the
    fused output gradient p − y is used instead (see ``losses.CrossEntropy``).
    """

    name = "softmax"
    elementwise = False

    def __call__(self, z):
        z = as_floats(z, "z")
        shifted = z - z.max(axis=-1, keepdims=True)   # stable: the largest exponent is 0
        e = np.exp(shifted)
        return e / e.sum(axis=-1, keepdims=True)

    def derivative(self, z, h=None):
        z = as_floats(z, "z")
        raise ValueError("softmax is not element-wise: use backward() (its Jacobian is diag(p) − p pᵀ)")

    def backward(self, z, h, grad_h):
        p = self(z) if h is None else h
        return p * (grad_h - (grad_h * p).sum(axis=-1, keepdims=True))


SIGMOID = Sigmoid()

for _cls in (Identity, ReLU, LeakyReLU, Sigmoid, Tanh, Softplus, Softmax):
    ACTIVATIONS.register(_cls.name, _cls)


def get(activation: str | Activation | None) -> Activation:
    """Return the activation object for a name or object (``None`` means identity).

    Raises ``ValueError`` listing the known names for an unknown one.
    """
    if activation is None:
        return Identity()
    return ACTIVATIONS.resolve(activation, Activation)


def names() -> list[str]:
    """The public names of all activations, in registry order."""
    return ACTIVATIONS.names()
