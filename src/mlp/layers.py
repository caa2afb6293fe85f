"""Dense layers: ``z = W x + b``, ``h = σ(z)``, forward followed by backward.

Shape convention (the lecture's and PyTorch's, fixed across mlp): a layer with
``n_in`` inputs and ``n_out`` neurons has ``W`` of shape ``(n_out, n_in)`` and
``b`` of shape ``(n_out,)``. One example ``x`` of shape ``(n_in,)`` gives
``z = W @ x + b``, exactly the slide; a batch is rows, ``X`` of shape
``(n, n_in)`` gives ``Z = X @ W.T + b`` of shape ``(n, n_out)``.

This module owns one layer's forward and backward pass. It does not own the
parameter storage once the layer is part of a ``Network``: then ``W``, ``b``,
``dW`` and ``db`` are views into the network's flat ``params`` and ``grads``
vectors, and assigning to them (``layer.W = ...`` or ``layer.W[:] = ...``)
copies into those views.
"""

from __future__ import annotations

import numpy as np

from . import activations
from . import init as _init
from ._validation import assign, check_X, is_number


class Dense:
    """A fully connected layer of ``n_out`` neurons: ``h = σ(W x + b)``.

    Parameters
    ----------
    n_in : int
        Number of inputs (the width of the previous layer).
    n_out : int
        Number of neurons.
    activation : str or Activation, default "identity"
        σ, applied element-wise (``"softmax"`` row-wise, output layers only).
    init : str or callable, default "glorot"
        Weight initialiser (see ``mlp.init``); biases start at zero.
    seed : int, numpy.random.Generator or None
        Seed for the initialiser.
    dtype : numpy dtype, default float32

    Attributes
    ----------
    W : ndarray of shape (n_out, n_in)
    b : ndarray of shape (n_out,)
    dW, db : ndarray, shapes of W and b — gradients filled by ``backward``.
    x, z, h, delta : ndarray of shape (n, n_in), (n, n_out), (n, n_out), (n, n_out)
        The forward cache (input, pre-activation, activation) and, after
        ``backward``, ∂loss/∂z. ``None`` before the first call.

    Examples
    --------
    >>> import numpy as np
    >>> layer = Dense(3, 2, activation="relu")
    >>> layer.W = [[1, 0, 1], [-1, 2, 3]]
    >>> layer.b = [-1, 2]
    >>> layer(np.array([1.0, 1.0, 1.0]))     # z = [1, 6], h = relu(z)
    array([1., 6.], dtype=float32)
    """

    def __init__(self, n_in: int, n_out: int, activation="identity", *, init="glorot",
                 seed=None, dtype=np.float32):
        for name, value in (("n_in", n_in), ("n_out", n_out)):
            if not is_number(value, integer=True):
                raise TypeError(f"Dense {name} must be an int, got {type(value).__name__}")
            if value < 1:
                raise ValueError(f"Dense {name} must be at least 1, got {value}")
        self.n_in, self.n_out = int(n_in), int(n_out)
        self.activation = activations.get(activation)
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise TypeError(f"dtype must be float32 or float64, got {dtype}")
        W0 = _init.initialize(init, self.n_out, self.n_in, _init.rng_from(seed))
        params = np.zeros(self.n_params, dtype=dtype)
        self._bind(params, np.zeros_like(params))
        self._W[...] = W0
        self.x = self.z = self.h = self.delta = None

    @property
    def n_params(self) -> int:
        return self.n_out * self.n_in + self.n_out

    @property
    def dtype(self) -> np.dtype:
        return self._W.dtype

    def _bind(self, params: np.ndarray, grads: np.ndarray, w_at: int = 0, b_at: int | None = None):
        """Make W, b, dW, db views into flat ``params``/``grads`` (weights at ``w_at``,
        biases at ``b_at``; default: b right after W)."""
        nw = self.n_out * self.n_in
        b_at = w_at + nw if b_at is None else b_at
        self._W = params[w_at:w_at + nw].reshape(self.n_out, self.n_in)
        self._b = params[b_at:b_at + self.n_out]
        self._dW = grads[w_at:w_at + nw].reshape(self.n_out, self.n_in)
        self._db = grads[b_at:b_at + self.n_out]

    def _assign(self, target: np.ndarray, value, name: str) -> None:
        assign(target, value, name)

    W = property(lambda self: self._W, lambda self, v: self._assign(self._W, v, "W"),
                 doc="Weights, ndarray of shape (n_out, n_in); a view into the flat params.")
    b = property(lambda self: self._b, lambda self, v: self._assign(self._b, v, "b"),
                 doc="Biases, ndarray of shape (n_out,); a view into the flat params.")
    dW = property(lambda self: self._dW, lambda self, v: self._assign(self._dW, v, "dW"),
                  doc="∂loss/∂W, ndarray of shape (n_out, n_in); a view into the flat grads.")
    db = property(lambda self: self._db, lambda self, v: self._assign(self._db, v, "db"),
                  doc="∂loss/∂b, ndarray of shape (n_out,); a view into the flat grads.")

    # -- forward, then backward ------------------------------------------------------------
    def forward(self, x: np.ndarray) -> np.ndarray:
        """Z = X Wᵀ + b and H = σ(Z) for a batch ``x`` of shape (n, n_in) → (n, n_out).

        Caches ``x`` (needed for dW) and ``z``, ``h`` (needed for σ′).
        """
        self.x = x
        self.z = x @ self._W.T + self._b
        self.h = self.activation(self.z)
        return self.h

    def backward(self, grad_h: np.ndarray, *, need_input_grad: bool = True):
        """Backpropagate ∂loss/∂h of shape (n, n_out) through σ, then through W x + b."""
        if self.z is None:
            raise RuntimeError("Dense.backward called before forward")
        return self.backward_delta(self.activation.backward(self.z, self.h, grad_h),
                                   need_input_grad=need_input_grad)

    def backward_delta(self, delta: np.ndarray, *, need_input_grad: bool = True):
        """Given δ = ∂loss/∂z of shape (n, n_out): fill dW = δᵀ x and db = Σₙ δ.

        ``dW``/``db`` are overwritten, not accumulated. Returns ∂loss/∂x = δ W of
        shape (n, n_in), or ``None`` when ``need_input_grad`` is False (the first
        layer never needs it).
        """
        if self.x is None:
            raise RuntimeError("Dense.backward called before forward")
        self.delta = delta
        np.matmul(delta.T, self.x, out=self._dW)
        np.sum(delta, axis=0, out=self._db)
        return delta @ self._W if need_input_grad else None

    def __call__(self, x) -> np.ndarray:
        """h = σ(W x + b) for one example (n_in,) or a batch (n, n_in); does not cache."""
        X, single = check_X(x, self.n_in, self.dtype)
        h = self.activation(X @ self._W.T + self._b)
        return h[0] if single else h

    def __repr__(self) -> str:
        return f"Dense({self.n_in}, {self.n_out}, activation={self.activation.name!r})"
