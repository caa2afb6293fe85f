"""Finite differences against backprop: is ``loss_and_grad`` right?

This module owns the numerical gradient check. It works on a float64 copy of
the network (the network passed in is not modified) and compares every entry
of backprop's ``grads`` with the central difference

    ∂loss/∂p ≈ (−loss(p + 2ε) + 8 loss(p + ε) − 8 loss(p − ε) + loss(p − 2ε)) / 12ε.

The error of one entry is ``|analytic − numeric| / max(1, |analytic|, |numeric|)``:
relative for gradients larger than 1 and absolute below, so that entries that
are (nearly) zero do not turn float64 round-off (~1e-10) into a large relative
error.

**Kinks.** ReLU (and leaky ReLU, L1's |w|) has a corner at z = 0: backprop takes the
one-sided derivative ReLU′(0) = 0 (PyTorch's convention), while a difference quotient whose
points straddle the corner (z within 2ε of 0) measures a mixture of the two slopes. The
loss is then only once differentiable there, and the stencil's error grows to O(ε) instead
of O(ε⁴): it shrinks in proportion as ``eps`` does, where a wrong gradient stays wrong.
The lecture's hand-made XOR net is such a case: (0,1) and (1,0) give z1 = 0 exactly, the
loss near b1 is 0 on one side and ½·9 ε² per example on the other, and the check reports
2 × 1.5 ε = 3e-5 at ``b1`` for ε = 1e-5 (3e-6 for ε = 1e-6). A ReLU network with zero
biases is on the kink at the input 0 too (z = b = 0). Check with smooth activations
(tanh: errors ~1e-10), or away from the kinks, or compare two ``eps``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import losses as _losses
from ._validation import check_network, check_positive, check_X, check_y


@dataclass
class GradCheck:
    """Result of ``gradcheck``.

    Attributes
    ----------
    max_rel_error : float
        The worst error over all parameters (see the module docstring).
    where : str
        The lecture name (``"w5"``) of the parameter where it happened.
    analytic, numeric : ndarray of shape (n_params,)
        Backprop's gradient and the central-difference one, in float64.
    names : list of str
        ``net.param_names()``, aligned with the two vectors.
    """

    max_rel_error: float
    where: str
    analytic: np.ndarray
    numeric: np.ndarray
    names: list

    def errors(self) -> np.ndarray:
        """Per-parameter errors, aligned with ``names``."""
        scale = np.maximum(1.0, np.maximum(np.abs(self.analytic), np.abs(self.numeric)))
        return np.abs(self.analytic - self.numeric) / scale

    def __str__(self) -> str:
        return f"gradcheck: max error {self.max_rel_error:.3g} at {self.where}"


def numeric_gradient(f, params: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Central differences of the scalar function ``f()`` w.r.t. each entry of ``params``
    (modified in place and restored).

    The five-point stencil (−f(p+2ε) + 8 f(p+ε) − 8 f(p−ε) + f(p−2ε)) / 12ε: its error is
    O(ε⁴), so ε can be large enough that round-off in f (≈ 1e-16·|f| / ε) stays small
    even for losses of 1e5.
    """
    grad = np.empty_like(params, dtype=np.float64)
    for i in range(params.size):
        old = params[i]
        values = []
        for step in (2 * eps, eps, -eps, -2 * eps):
            params[i] = old + step
            values.append(f())
        params[i] = old
        grad[i] = (-values[0] + 8 * values[1] - 8 * values[2] + values[3]) / (12 * eps)
    return grad


def gradcheck(net, X, y, loss="mse", *, eps: float = 1e-5, sample_weight=None) -> GradCheck:
    """Compare backprop's gradient with central differences, in float64.

    Parameters
    ----------
    net : Network
        Not modified (a float64 copy is checked).
    X : ndarray of shape (n, n_in)
    y : ndarray of targets (see ``Network.loss_and_grad``)
    loss : str or Loss
    eps : float
        Finite-difference step.

    Returns
    -------
    GradCheck

    Examples
    --------
    >>> import numpy as np, mlp
    >>> net = mlp.Network.from_sizes([2, 3, 1], hidden="tanh", seed=0)
    >>> X, y = mlp.datasets.xor()
    >>> mlp.gradcheck(net, X, y, "mse").max_rel_error < 1e-6
    True
    """
    check_network(net, "gradcheck")
    check_positive(eps=eps)
    loss = _losses.get(loss)
    net64 = net.copy(dtype=np.float64)
    X64, _ = check_X(X, net64.n_in, np.float64)
    y64 = check_y(y, X64.shape[0], net64.n_out, np.float64,
                  labels=isinstance(loss, _losses.CrossEntropy))
    net64.loss_and_grad(X64, y64, loss, sample_weight)
    analytic = net64.grads.copy()
    numeric = numeric_gradient(lambda: net64.loss_and_grad(X64, y64, loss, sample_weight),
                               net64.params, eps)
    names = net64.param_names()
    result = GradCheck(0.0, names[0], analytic, numeric, names)
    errors = result.errors()
    worst = int(np.argmax(errors))
    result.max_rel_error, result.where = float(errors[worst]), names[worst]
    return result
