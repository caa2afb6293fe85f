"""Seeded weight initialisers, each written as its formula.

An initialiser is called as ``init(n_out, n_in, rng)`` and returns a weight
matrix of shape ``(n_out, n_in)`` (the lecture's and PyTorch's orientation);
``fan_in = n_in``, ``fan_out = n_out``. Biases start at zero. Every draw comes
from the ``numpy.random.Generator`` passed in: nothing reads NumPy's global
random state. A user's own callable with the same signature is accepted
wherever an initialiser name is.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._registry import Registry
from ._validation import is_number

INITIALIZERS = Registry("initialiser")

Initializer = Callable[[int, int, np.random.Generator], np.ndarray]


def he_normal(n_out, n_in, rng):
    """He et al. (2015): W ~ N(0, 2 / fan_in). Suited to ReLU layers."""
    return rng.normal(0.0, np.sqrt(2.0 / n_in), size=(n_out, n_in))


def he_uniform(n_out, n_in, rng):
    """He uniform: W ~ U(−a, a) with a = √(6 / fan_in)."""
    a = np.sqrt(6.0 / n_in)
    return rng.uniform(-a, a, size=(n_out, n_in))


def glorot_uniform(n_out, n_in, rng):
    """Glorot & Bengio (2010): W ~ U(−a, a) with a = √(6 / (fan_in + fan_out)) (Keras' default)."""
    a = np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-a, a, size=(n_out, n_in))


def glorot_normal(n_out, n_in, rng):
    """Glorot normal: W ~ N(0, 2 / (fan_in + fan_out))."""
    return rng.normal(0.0, np.sqrt(2.0 / (n_in + n_out)), size=(n_out, n_in))


def lecun_normal(n_out, n_in, rng):
    """LeCun (1998): W ~ N(0, 1 / fan_in). Suited to tanh and SELU."""
    return rng.normal(0.0, np.sqrt(1.0 / n_in), size=(n_out, n_in))


def lecun_uniform(n_out, n_in, rng):
    """LeCun uniform: W ~ U(−a, a) with a = √(3 / fan_in)."""
    a = np.sqrt(3.0 / n_in)
    return rng.uniform(-a, a, size=(n_out, n_in))


def torch_default(n_out, n_in, rng):
    """``torch.nn.Linear``'s default: W ~ U(−a, a) with a = 1 / √fan_in."""
    a = 1.0 / np.sqrt(n_in)
    return rng.uniform(-a, a, size=(n_out, n_in))


def zeros(n_out, n_in, rng):
    """All zeros (for biases; for weights it leaves every unit identical)."""
    return np.zeros((n_out, n_in))


for _name, _fn in [
    ("he", he_normal), ("he_normal", he_normal), ("he_uniform", he_uniform),
    ("glorot", glorot_uniform), ("glorot_uniform", glorot_uniform),
    ("glorot_normal", glorot_normal), ("lecun", lecun_normal), ("lecun_normal", lecun_normal),
    ("lecun_uniform", lecun_uniform), ("torch", torch_default), ("zeros", zeros),
]:
    INITIALIZERS.register(_name, _fn)


def get(init: str | Initializer) -> Initializer:
    """Return the initialiser for a name or a callable ``(n_out, n_in, rng) -> W``."""
    if callable(init) and not isinstance(init, str):
        return init
    return INITIALIZERS[init]


def rng_from(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A ``numpy.random.Generator`` from an int seed, a Generator (used as is) or None."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None and not is_number(seed, integer=True):
        raise TypeError(f"seed must be an int, a numpy Generator or None, got {type(seed).__name__}")
    if seed is not None and seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed}")
    return np.random.default_rng(seed)


def initialize(init, n_out: int, n_in: int, rng: np.random.Generator) -> np.ndarray:
    """Draw one weight matrix of shape (n_out, n_in), checking a user callable's result."""
    W = np.asarray(get(init)(n_out, n_in, rng), dtype=np.float64)
    if W.shape != (n_out, n_in):
        raise ValueError(f"initialiser returned shape {W.shape}, expected ({n_out}, {n_in})")
    if not np.all(np.isfinite(W)):
        raise ValueError("initialiser returned non-finite weights")
    return W
