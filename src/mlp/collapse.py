"""Linear collapse and the linear baseline: what a network without nonlinearity is.

The lecture's proof: without σ, ``g(x) = W(2)(W(1) x + b(1)) + b(2)
= (W(2) W(1)) x + W(2) b(1) + b(2) = W x + b`` — any depth collapses to one
affine map. ``collapse`` computes that map; ``linear_baseline`` fits the best
affine map by least squares (on XOR it predicts 0.5 everywhere).
"""

from __future__ import annotations

import warnings

import numpy as np

from ._validation import check_network, check_X, check_y
from .activations import Identity
from .layers import Dense


def collapse(net) -> Dense:
    """One ``Dense`` equal to a network whose hidden activations are all identity.

    ``W = W_L ⋯ W_2 W_1`` and ``b = W_L(⋯(W_2 b_1 + b_2)⋯) + b_L`` (for two layers
    ``W = W2 W1``, ``b = W2 b1 + b2``). The output layer's activation, if any, is
    kept on the result: σ(W x + b) is still one layer.

    Raises
    ------
    ValueError
        If a hidden layer has a nonlinear activation; the message names the layer.

    Examples
    --------
    >>> import numpy as np, mlp, warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     net = mlp.Network([mlp.Dense(2, 3), mlp.Dense(3, 1)], dtype=np.float64)
    >>> layer = mlp.collapse(net)
    >>> np.allclose(layer.W, net.layers[1].W @ net.layers[0].W)
    True
    """
    check_network(net, "collapse")
    for i, layer in enumerate(net.layers[:-1]):
        if not isinstance(layer.activation, Identity):
            raise ValueError(
                f"cannot collapse: layer {i + 1} has the nonlinear activation "
                f"{layer.activation.name!r}; only networks whose hidden layers are all "
                "identity are one affine map")
    W = net.layers[0].W.astype(np.float64)
    b = net.layers[0].b.astype(np.float64)
    for layer in net.layers[1:]:
        W = layer.W @ W
        b = layer.W @ b + layer.b
    out = Dense(net.n_in, net.n_out, net.layers[-1].activation, init="zeros", dtype=net.dtype)
    out.W, out.b = W, b
    return out


def linear_baseline(X, y, *, dtype=np.float64) -> Dense:
    """The best affine least-squares fit ``ŷ = W x + b`` as one identity ``Dense``.

    Minimises Σ ‖W x⁽ⁱ⁾ + b − y⁽ⁱ⁾‖² (NumPy's ``lstsq``; the minimum-norm solution
    when it is not unique). On XOR every prediction is 0.5.

    Parameters
    ----------
    X : ndarray of shape (n, n_in)
    y : ndarray of shape (n, n_out) or (n,)
    """
    X_arr = np.asarray(X)
    if X_arr.ndim != 2:
        raise ValueError(f"X must be 2-D (n, n_in), got shape {X_arr.shape}")
    X2, _ = check_X(X_arr, X_arr.shape[1], np.float64)
    y_arr = np.asarray(y)
    n_out = 1 if y_arr.ndim == 1 else y_arr.shape[-1]
    y2 = check_y(y_arr, X2.shape[0], n_out, np.float64)
    A = np.hstack([X2, np.ones((X2.shape[0], 1))])
    coef, *_ = np.linalg.lstsq(A, y2, rcond=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        layer = Dense(X2.shape[1], n_out, "identity", init="zeros", dtype=dtype)
    layer.W, layer.b = coef[:-1].T, coef[-1]
    return layer
