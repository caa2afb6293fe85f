"""Fast paths beside the plain ones: same numbers, fewer temporaries and Python calls.

This module owns the speed-ups of the training step and of one-example prediction.
It does not own any formula: every kernel here computes exactly what the plain
code in ``layers.py``, ``activations.py``, ``losses.py`` and ``network.py`` computes,
and ``tests/test_fast.py`` proves the two equal (to rounding) on every activation,
loss, dtype and batch size. ``with mlp.fast_paths(False):`` switches the plain
path back on, for a test or to rule the fast path out when something looks wrong.

What is fast here, and why it is the same computation:

* ``loss_and_grad`` (the training step, ``Network._loss_and_grad``) writes every
  layer's z, h and ∂loss/∂h into buffers kept per batch size (``Workspace``) with
  ``np.matmul(..., out=)`` and in-place ufuncs, instead of allocating a dozen
  arrays per batch. The buffers hold one example per column — Zᵀ = W Xᵀ + b, the
  slide's z = W x + b side by side — because OpenBLAS multiplies these shapes
  faster than Z = X Wᵀ (about 10% at batch 128, 20% at batch 32). ReLU's backward
  is an in-place multiply by the mask z > 0; the bias gradient Σₙ δ is the
  product δᵀ 1; the first layer never computes ∂loss/∂x. The layers' caches
  (``x``, ``z``, ``h``, ``delta``, shape (n, ·) as always — transposed views of
  the buffers) and the gradients are filled exactly as by the plain path, but
  the cached arrays are overwritten by the next batch of the same size.
* softmax + cross-entropy on integer labels is one fused kernel: p = softmax(z)
  is computed once (it is the output layer's ``h``), the loss is
  Σₙ (log Σₖ e^(zₙₖ) − zₙ,yₙ) / n and δ = (p − onehot(y)) / n, without building
  the one-hot matrix. Logits are shifted by their overall maximum when all of
  them lie within 60 of it (then no row can underflow), else by each row's
  maximum as in ``activations.Softmax``; logits of ±1e4 stay finite.
* ``predict_one`` (``net(x)`` and ``net.predict(x)`` for one example of shape
  (n_in,)) validates the example (width, real numbers, all finite — anything
  else goes to the plain path, which raises its usual error) and then runs the
  layers without caching them. A network with at most ``PYTHON_MAX_PARAMS``
  parameters (the lecture's 2-2-1 XOR net) runs in plain Python floats, which
  for a handful of numbers is several times cheaper than any array call; the
  result is rounded to the network's dtype.
* ``max_feature_std`` (fit's input-scale check) is ``X.std(axis=0).max()``
  without a temporary the size of the data set.

* ``loss_and_grad(..., sgd_lr=η)`` also takes the plain SGD step θ ← θ − η ∇L
  (``fit`` uses it for SGD without momentum, weight decay, clipping or dropout):
  δ at the output is multiplied by −η, so the backward products give −η ∂L/∂W and
  −η ∂L/∂b (the chain rule is linear in δ), and each layer adds them to W and b
  in place as soon as W has fed the layer below — no temporary, no separate pass
  over the 235,146 parameters of a 784-256-128-10 net. With ``keep_grads=False``
  the weight product goes straight into W: BLAS computes C ← A B + C, which
  ``np.matmul`` cannot ask for, so mlp calls ``cblas_sgemm``/``cblas_dgemm`` of the
  OpenBLAS that NumPy itself loaded (same library, same threads; found in
  ``numpy.libs``, else dW goes through memory as before). The forward pass uses
  the same call for zᵀ = W hᵀ + b: zᵀ ← b 1ᵀ, then zᵀ ← W hᵀ + zᵀ. Only products of
  at least ``BLAS_MIN_MACS`` multiply-adds go through ctypes (below, its call costs
  more than the pass it saves). ``fit`` keeps the
  gradients of each epoch's last batch and ``unscale`` turns them back into ∂L/∂θ.

* With numba installed (``mlp[fast]``), the element-wise passes of the step run in
  compiled, fused kernels (``_kernels.py``, each beside its NumPy twin): bias + ReLU in
  one pass, softmax cross-entropy + δ + bias gradient + the count of correct predictions
  in one pass, ReLU′ ⊙ g + bias gradient in one pass. ``optimizer_step`` takes Adam's
  step in one pass over the flat vectors, ``gather`` the shuffled batch into a reused
  buffer, and ``TinyLoop`` trains many epochs of a tiny network per compiled call
  (``training.steps.TinyStep``). ``EpochLoop`` trains an epoch's batches of a dense
  ReLU/softmax network on integer labels (SGD or Adam) in compiled calls — the same per-batch
  work, the products through NumPy's own ``cblas_sgemm`` called from the kernel, no Python
  between batches (``training.steps.CompiledBatches``). ``COMPILED = False`` (a test switch)
  keeps the fast path on NumPy calls alone; ``tests/test_kernels.py`` proves all three paths
  equal.

What is not here: the other optimisers' steps (``optimizers.py``, in-place passes
over the flat vectors).
"""

from __future__ import annotations

import contextlib
import math

import numpy as np

from . import _kernels
from .activations import Identity, ReLU, Sigmoid, Softmax, Tanh
from .losses import CrossEntropy

# Switched by ``fast_paths``; read by Network at each call.
ENABLED = True

# The compiled kernels (_kernels.py, numba) inside the fast path, where numba is installed;
# False runs the fast path on NumPy calls alone (a test switch: the same numbers).
COMPILED = True

# Networks with at most this many parameters predict one example in Python floats.
PYTHON_MAX_PARAMS = 64

# Workspaces kept per network (one per batch size: a fit needs the batch size and
# the smaller last batch of an epoch).
MAX_WORKSPACES = 3

# Products of at least this many multiply-adds call BLAS directly (C ← A B + C, see
# loss_and_grad); below it the few microseconds of a ctypes call cost more than the pass saved
# (measured: the 64-100-10 digits net, batch 200, fits 5% slower through ctypes).
BLAS_MIN_MACS = 1 << 22

# Overall-max shift is safe when every logit lies within this of the maximum:
# e^(−60) ≈ 1e−26 is far above float32's smallest normal number (≈ 1e−38).
_SHIFT_RANGE = 60.0


@contextlib.contextmanager
def fast_paths(enabled: bool = True):
    """Context manager switching mlp's fast paths on or off (they are on by default).

    Inside ``with mlp.fast_paths(False):`` training steps and one-example
    predictions take the plain, allocating path: the same numbers, more slowly.

    Examples
    --------
    >>> import numpy as np, mlp
    >>> net = mlp.Network.from_sizes([2, 2, 1], seed=0)
    >>> x = np.array([1.0, 0.0])
    >>> with mlp.fast_paths(False):
    ...     plain = net(x)
    >>> bool(np.allclose(net(x), plain))
    True
    """
    global ENABLED
    previous = ENABLED
    ENABLED = bool(enabled)
    try:
        yield
    finally:
        ENABLED = previous


# -- the training step -----------------------------------------------------------------------
class Workspace:
    """Buffers for one batch size, stored transposed — one column per example, as the lecture
    writes z = W x + b: zᵀ, hᵀ (ReLU and fused-softmax layers), (∂loss/∂h)ᵀ and the ReLU
    mask, each of shape (n_out, n)."""

    def __init__(self, layers, n: int, dtype):
        self.n = n
        self.zT = [np.empty((layer.n_out, n), dtype) for layer in layers]
        self.hT = [np.empty((layer.n_out, n), dtype) if isinstance(layer.activation, (ReLU, Softmax))
                   else None for layer in layers]
        self.gT = [np.empty((layer.n_out, n), dtype) for layer in layers]
        self.mask = [np.empty((layer.n_out, n), bool) if isinstance(layer.activation, ReLU) else None
                     for layer in layers]
        self.ones = np.ones(n, dtype)                             # Σₙ as a product: db = δᵀ 1
        self.ones_out = np.ones(layers[-1].n_out, dtype)          # Σₖ over the output units
        self.columns = np.arange(n, dtype=np.intp)
        self.flat = np.empty(n, np.intp)
        self.correct = None        # correct predictions of the last batch, where a kernel counted them,
        self.correct_of = None     # and that batch's X (the array object: see counted_correct)


def workspace(net, n: int) -> Workspace:
    """The network's buffers for batches of ``n`` examples (created on first use)."""
    cache = net.__dict__.setdefault("_workspaces", {})
    ws = cache.get(n)
    if ws is None:
        if len(cache) >= MAX_WORKSPACES:
            cache.pop(next(iter(cache)))
        ws = cache[n] = Workspace(net.layers, n, net.dtype)
    return ws


def _loss_deltaT(out, loss, y, sample_weight, sgd_lr):
    """The loss, δᵀ of the output layer (times −η when a fused SGD step is taken) and whether that
    step is taken (not when the loss is not finite): the unfused-loss path of both backward passes."""
    if loss.fused:
        value, delta = loss.value_and_delta(out.z, y, sample_weight)
        deltaT = delta.T
    else:
        value = loss.value(out.h, y, sample_weight)
        deltaT = out.activation.backward(out.z, out.h, loss.gradient(out.h, y, sample_weight)).T
    step = sgd_lr is not None and math.isfinite(value)
    if step:
        deltaT = deltaT * -sgd_lr
    return value, deltaT, step


def loss_and_grad(net, X, y, loss, sample_weight=None, sgd_lr=None, keep_grads=True) -> float:
    """``Network._loss_and_grad`` with reused buffers (see the module docstring).

    X : validated ndarray of shape (n, n_in); y : validated targets; returns the loss
    and overwrites ``net.grads``. The work runs on transposed activations (one column
    per example: Zᵀ = W Xᵀ + b), which OpenBLAS multiplies faster at these shapes
    than Z = X Wᵀ; the layers' caches are the transposed views, of shape (n, n_out)
    as in the plain path.

    sgd_lr : float, optional
        Also take the plain SGD step θ ← θ − η ∇L with η = ``sgd_lr``, fused into the
        backward pass, when the loss is finite (else nothing is updated and ``grads``
        hold ∇L as usual). The output δ is multiplied by −η once, so every product
        of the backward pass yields −η ∂L/∂W and −η ∂L/∂b directly (the chain rule is
        linear in δ), and each layer adds them to its W and b as soon as they no
        longer feed the layer below — while they are still in the cache, with no
        extra pass over the gradient and no temporary. ``grads`` (and the layers'
        ``delta``) then hold −η times their usual value: ``unscale`` turns them back.
    keep_grads : bool, default True
        With ``sgd_lr``: False lets the weight products go straight into W (BLAS's
        C ← A B + C, one pass fewer), leaving the weight part of ``grads`` untouched
        (stale); ``fit`` keeps them for the last batch of each epoch.
    """
    layers = net.layers
    n = X.shape[0]
    ws = workspace(net, n)
    ws.correct = ws.correct_of = None
    last = len(layers) - 1
    fused_ce = _labels_ce(loss, y, sample_weight) and isinstance(layers[last].activation, Softmax)
    kernels = _kernels.get() if COMPILED else None
    if kernels is not None:
        return _compiled_loss_and_grad(kernels, net, ws, X, y, loss, sample_weight, fused_ce, sgd_lr,
                                       keep_grads)

    # forward: zᵀ = W hᵀ + b, hᵀ = σ(zᵀ) (into a buffer for ReLU; zᵀ itself for identity)
    # (with NumPy's OpenBLAS at hand: zᵀ ← b 1ᵀ, then zᵀ ← W hᵀ + zᵀ in the product itself)
    blas = _gemm(net.dtype)
    hT = X.T
    for i, layer in enumerate(layers):
        layer.x = hT.T
        zT = ws.zT[i]
        if _blas_pays(blas, layer, n, hT):
            np.copyto(zT, layer._b[:, None])
            _accumulate(blas, zT, layer._W, hT)
        else:
            np.matmul(layer._W, hT, out=zT)
            zT += layer._b[:, None]
        act = layer.activation
        if isinstance(act, ReLU):
            hT = np.maximum(zT, 0, out=ws.hT[i])
        elif isinstance(act, Identity):
            hT = zT
        elif i == last and fused_ce:
            hT = ws.hT[i]          # p = softmax(z), filled by the fused kernel below
        else:
            hT = act(zT.T).T       # any σ, on the (n, n_out) view (softmax runs along the last axis)
        layer.z, layer.h = zT.T, hT.T

    # output: δᵀ of the last layer (times −η for a fused SGD step)
    out = layers[last]
    if fused_ce:
        value, deltaT = _softmax_cross_entropy(ws.zT[last], y, ws.hT[last], ws.gT[last], ws,
                                               loss.reduction, 1.0 if sgd_lr is None else -sgd_lr)
        step = sgd_lr is not None and math.isfinite(value)
        if sgd_lr is not None and not step:         # not finite: no step, plain gradients
            deltaT /= -sgd_lr
    else:
        value, deltaT, step = _loss_deltaT(out, loss, y, sample_weight, sgd_lr)

    # backward: dW = δᵀ x, db = δᵀ 1, (∂loss/∂h of the layer below)ᵀ = Wᵀ δᵀ (not for layer 1).
    # A fused step adds −η dW to W once W has fed the layer below: straight from the product
    # into W (BLAS's C ← A B + C) unless the gradients are to be kept, else through dW.
    gemm = _gemm(net.dtype) if step and not keep_grads else None
    for i in range(last, -1, -1):
        layer = layers[i]
        layer.delta = deltaT.T
        x = layer.x
        direct = deltaT.flags.c_contiguous and _blas_pays(gemm, layer, n, x)
        if not direct:
            np.matmul(deltaT, x, out=layer._dW)
        np.matmul(deltaT, ws.ones, out=layer._db)
        if i > 0:
            gT = np.matmul(layer._W.T, deltaT, out=ws.gT[i - 1])
        if direct:
            _accumulate(gemm, layer._W, deltaT, x)
        elif step:
            layer._W += layer._dW
        if step:
            layer._b += layer._db
        if i == 0:
            break
        below = layers[i - 1]
        act = below.activation
        if isinstance(act, ReLU):
            # ReLU′(z) = 1 for z > 0, else 0 (ReLU′(0) = 0 as on the slide): g ⊙ [z > 0]
            deltaT = np.multiply(gT, np.greater(ws.zT[i - 1], 0, out=ws.mask[i - 1]), out=gT)
        elif isinstance(act, Identity):
            deltaT = gT
        else:
            deltaT = act.backward(below.z, below.h, gT.T).T
    return value


def counted_correct(net, X):
    """The correct predictions (first largest p at the label) the fused softmax kernel counted
    on the batch ``X`` — the array object ``loss_and_grad`` was last given for that batch size —
    or None where no kernel counted them (another path, another batch)."""
    ws = net.__dict__.get("_workspaces", {}).get(X.shape[0])
    return ws.correct if ws is not None and ws.correct_of is X else None


def _compiled_loss_and_grad(k, net, ws, X, y, loss, sample_weight, fused_ce, sgd_lr, keep_grads):
    """``loss_and_grad`` with the element-wise passes in compiled, multi-threaded kernels
    (_kernels.py): bias + ReLU in one pass, softmax cross-entropy + δ + bias gradient (+ the
    count of correct predictions, kept in ``ws.correct``) in one pass, ReLU′ ⊙ g + bias
    gradient in one pass. Same products, same numbers to rounding (tests/test_kernels.py)."""
    layers = net.layers
    n = X.shape[0]
    last = len(layers) - 1
    pick = _kernels.pick
    size = [layer.n_out * n for layer in layers]
    hT = X.T
    for i, layer in enumerate(layers):
        layer.x = hT.T
        zT = ws.zT[i]
        np.matmul(layer._W, hT, out=zT)
        act = layer.activation
        if isinstance(act, ReLU):
            hT = ws.hT[i]
            pick(k, "bias_relu", size[i])(zT, layer._b, hT)
        else:
            pick(k, "bias_add", size[i])(zT, layer._b)
            if isinstance(act, Identity):
                hT = zT
            elif i == last and fused_ce:
                hT = ws.hT[i]          # p = softmax(z), filled by the fused kernel below
            else:
                hT = act(zT.T).T
        layer.z, layer.h = zT.T, hT.T

    out = layers[last]
    factor = 1.0 if sgd_lr is None else -sgd_lr
    db_done = False
    if fused_ce:
        zT, labels = ws.zT[last], y
        if labels.dtype != np.intp:
            labels = labels.astype(np.intp)
        scale = 1.0 / n if loss.reduction == "mean" else 1.0
        total, correct = pick(k, "softmax_ce", size[last])(zT, labels, ws.hT[last], ws.gT[last], out._db,
                                                           factor * scale)
        value = total * scale
        deltaT = ws.gT[last]
        ws.correct, ws.correct_of = correct, X
        db_done = True
        step = sgd_lr is not None and math.isfinite(value)
        if sgd_lr is not None and not step:         # not finite: no step, plain gradients
            deltaT /= -sgd_lr
            out._db /= -sgd_lr
    else:
        value, deltaT, step = _loss_deltaT(out, loss, y, sample_weight, sgd_lr)

    gemm = _gemm(net.dtype) if step and not keep_grads else None
    for i in range(last, -1, -1):
        layer = layers[i]
        layer.delta = deltaT.T
        x = layer.x
        if not db_done:
            if deltaT.flags.c_contiguous:
                pick(k, "row_sums", size[i])(deltaT, layer._db)
            else:
                np.sum(deltaT, axis=1, out=layer._db)
        direct = deltaT.flags.c_contiguous and _blas_pays(gemm, layer, n, x)
        if not direct:
            np.matmul(deltaT, x, out=layer._dW)
        if i > 0:
            gT = np.matmul(layer._W.T, deltaT, out=ws.gT[i - 1])
        if direct:
            _accumulate(gemm, layer._W, deltaT, x)
        elif step:
            layer._W += layer._dW
        if step:
            layer._b += layer._db
        if i == 0:
            break
        below = layers[i - 1]
        act = below.activation
        if isinstance(act, ReLU):
            pick(k, "relu_delta", size[i - 1])(gT, ws.zT[i - 1], below._db)
            deltaT, db_done = gT, True
        elif isinstance(act, Identity):
            deltaT, db_done = gT, False
        else:
            deltaT, db_done = act.backward(below.z, below.h, gT.T).T, False
    return value


# NumPy's own OpenBLAS, called for C ← A B + C (np.matmul has no accumulating form). Loaded on
# first use; None where NumPy was built against another BLAS (then dW goes through memory).
_GEMMS: dict | None = None
_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112


def _gemm(dtype):
    """cblas_sgemm / cblas_dgemm of the OpenBLAS that NumPy itself loaded (same library, same
    thread pool), for ``dtype``; None if NumPy does not ship one we can find."""
    global _GEMMS
    if _GEMMS is None:
        _GEMMS = _load_gemms()
    return _GEMMS.get(np.dtype(dtype))


def _load_gemms() -> dict:
    import ctypes
    import glob
    import os
    libs = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(np.__file__))), "numpy.libs")
    for path in sorted(glob.glob(os.path.join(libs, "libscipy_openblas64_*.so"))):
        try:
            lib = ctypes.CDLL(path)
            found = {np.dtype(np.float32): (lib.scipy_cblas_sgemm64_, ctypes.c_float),
                     np.dtype(np.float64): (lib.scipy_cblas_dgemm64_, ctypes.c_double)}
        except (OSError, AttributeError):
            continue
        i64, ptr = ctypes.c_int64, ctypes.c_void_p
        for fn, real in found.values():
            fn.restype = None
            fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, i64, i64, i64, real, ptr, i64,
                           ptr, i64, real, ptr, i64]
        return {dtype: fn for dtype, (fn, _) in found.items()}
    return {}


def _blas_pays(gemm, layer, n, B) -> bool:
    """Whether the layer's product with a batch of ``n`` goes through ``_accumulate``: BLAS is at
    hand, the product is large enough (``BLAS_MIN_MACS``) and ``B`` is C- or F-contiguous."""
    return (gemm is not None and layer.n_out * layer.n_in * n >= BLAS_MIN_MACS
            and (B.flags.c_contiguous or B.flags.f_contiguous))


def _accumulate(gemm, C, A, B) -> None:
    """C ← C + A B in one BLAS call. C (m, k) and A (m, n) C-contiguous; B (n, k) C- or
    F-contiguous."""
    m, k = C.shape
    n = A.shape[1]
    if B.flags.c_contiguous:
        trans, ldb = _NO_TRANS, k
    else:
        trans, ldb = _TRANS, n
    gemm(_ROW_MAJOR, _NO_TRANS, trans, m, k, n, 1.0, A.ctypes.data, n, B.ctypes.data, ldb, 1.0,
         C.ctypes.data, k)


def _labels_ce(loss, y, sample_weight) -> bool:
    """Whether the fused kernel applies: cross-entropy on integer labels, unweighted."""
    return isinstance(loss, CrossEntropy) and y.ndim == 1 and sample_weight is None


def _softmax_cross_entropy(zT, labels, pT, deltaT, ws, reduction, factor=1.0):
    """Loss and δᵀ = factor · (p − onehot(y))ᵀ / n of softmax cross-entropy, into ``pT`` and
    ``deltaT``.

    zT : logits, transposed (k, n); labels : int (n,); pT, deltaT : output buffers (k, n);
    factor : multiplies δ at no extra cost (−η for a fused SGD step).
    Column sums are products with a vector of ones (one BLAS call); the target entries
    zᵀ[yₙ, n] are addressed by flat index yₙ·n + n.
    """
    n = zT.shape[1]
    hi = float(zT.max())
    if hi - float(zT.min()) <= _SHIFT_RANGE:
        np.subtract(zT, hi, out=pT)
        shift_total = n * hi
    else:    # wide logits or non-finite values: per-example maximum, as activations.Softmax
        m = zT.max(axis=0)
        np.subtract(zT, m, out=pT)
        shift_total = float(m.sum())
    np.exp(pT, out=pT)
    total = ws.ones_out @ pT                           # Σₖ e^(zₖₙ − shift), shape (n,)
    flat = np.multiply(labels, n, out=ws.flat)
    flat += ws.columns
    picked = zT.reshape(-1).take(flat)                 # z at the target class, per example
    # Σₙ −log pₙ,yₙ = Σₙ (log Σₖ e^(zₖₙ − shift) + shift − z_yₙ,ₙ)
    value = float(np.log(total).sum()) + shift_total - float(picked.sum())
    np.divide(pT, total, out=pT)
    scale = 1.0 / n if reduction == "mean" else 1.0
    np.multiply(pT, scale * factor, out=deltaT)
    d = deltaT.reshape(-1)
    d.put(flat, d.take(flat) - scale * factor)         # δ at the target class −= 1/n
    return value * scale, deltaT


def unscale(net, lr: float) -> None:
    """Undo the −η of fused SGD steps (``loss_and_grad(..., sgd_lr=lr)``) in ``net.grads`` and
    the layers' ``delta``: afterwards they hold ∂L/∂θ and ∂L/∂z of the last batch, as after a
    plain step."""
    factor = -1.0 / lr
    net.grads *= factor
    for layer in net.layers:
        if getattr(layer, "delta", None) is not None:
            layer.delta *= factor


# -- one example -----------------------------------------------------------------------------
def _py_softmax(z):
    m = max(z)
    e = [math.exp(v - m) for v in z]
    total = sum(e)
    return [v / total for v in e]


# σ on a list of Python floats, by activation class (others take the NumPy path).
_PY_ACTIVATIONS = {
    Identity: None,
    ReLU: lambda z: [v if v > 0.0 else 0.0 for v in z],
    Tanh: lambda z: [math.tanh(v) for v in z],
    Sigmoid: lambda z: [1.0 / (1.0 + math.exp(-v)) if v >= 0.0 else math.exp(v) / (1.0 + math.exp(v))
                        for v in z],
    Softmax: _py_softmax,
}

_REAL_KINDS = frozenset("fiub")
_FLOAT32_MAX = float(np.finfo(np.float32).max)


class _Plan:
    """What one-example prediction needs to know of a network, computed once per network.

    Rebuilt whenever a layer or an activation object changes (``key``); the weights
    themselves are always read afresh, so in-place changes of ``params`` are seen.
    """

    def __init__(self, net):
        layers = net.layers
        self.key = [(layer, layer.activation) for layer in layers]
        self.n_in = layers[0].n_in
        self.python = (net.n_params <= PYTHON_MAX_PARAMS
                       and all(type(layer.activation) in _PY_ACTIVATIONS for layer in layers))
        self.limit = _FLOAT32_MAX if net.dtype == np.float32 else math.inf
        w_at, b_at, self.steps = 0, sum(layer.n_out * layer.n_in for layer in layers), []
        for layer in layers:
            rows = [(w_at + j * layer.n_in, w_at + (j + 1) * layer.n_in, b_at + j)
                    for j in range(layer.n_out)]
            self.steps.append((rows, _PY_ACTIVATIONS.get(type(layer.activation))))
            w_at += layer.n_out * layer.n_in
            b_at += layer.n_out
        self.forward = _python_forward(self, layers, net.dtype) if self.python else None
        # The NumPy path: views of each layer's W and b (they live as long as the network).
        self.dtype = net.dtype
        last = len(layers) - 1
        self.layers = [(layer._W, layer._b, _numpy_kind(layer.activation, i == last, layer.n_out),
                        layer.activation) for i, layer in enumerate(layers)]


_IDENTITY, _RELU, _SOFTMAX, _OTHER = range(4)


def _numpy_kind(act, is_last, n_out):
    if isinstance(act, ReLU):
        return _RELU
    if isinstance(act, Identity):
        return _IDENTITY
    if isinstance(act, Softmax) and is_last and n_out <= 64:
        return _SOFTMAX
    return _OTHER


def _plan(net) -> _Plan:
    plan = net.__dict__.get("_predict_plan")
    if plan is not None:
        for (layer, act), now in zip(plan.key, net.layers):
            if layer is not now or act is not now.activation:
                break
        else:
            if len(plan.key) == len(net.layers):
                return plan
    plan = net.__dict__["_predict_plan"] = _Plan(net)
    return plan


def predict_one(net, x):
    """ŷ of shape (n_out,) for one valid example ``x`` of shape (n_in,), else ``None``.

    ``None`` tells the caller to take the plain path (a batch, a wrong width, a
    non-finite value, an unusual type — the plain path raises the right error).
    """
    plan = _plan(net)
    if type(x) is np.ndarray:
        if x.ndim != 1 or x.shape[0] != plan.n_in or x.dtype.kind not in _REAL_KINDS:
            return None
        if plan.python:
            return _predict_python(net, plan, x.tolist())
        return _predict_numpy(plan, x)
    if plan.python and type(x) in (list, tuple) and len(x) == plan.n_in:
        for v in x:
            if type(v) is not float and type(v) is not int:
                return None
        return _predict_python(net, plan, x)
    return None


def _predict_python(net, plan, h):
    """The forward pass in Python floats (tiny networks); ``None`` for a non-finite input.

    An input that is finite in float64 but overflows the network's float32 counts
    as non-finite, as in the plain path (which converts first).
    """
    return plan.forward(net._params.tolist(), *h)


def _python_forward(plan, layers, dtype):
    """``_predict_python``'s forward pass for this network's shape written out as one Python function
    (no loops, no lists between layers: a fifth of the calls): the same operations in the same order
    as the loop over ``plan.steps`` — z_j = b_j + (w_j1 h_1 + w_j2 h_2 + …), then σ."""
    n_in = plan.n_in
    names = [f"x{k}" for k in range(n_in)]
    lines = [f"def forward(p, {', '.join(names)}):",
             f"    if not ({' and '.join(f'abs({v}) <= LIMIT' for v in names)}):",
             "        return None                  # NaN fails this too"]
    for i, ((rows, _act), layer) in enumerate(zip(plan.steps, layers)):
        out = [f"h{i}_{j}" for j in range(len(rows))]
        for (start, _stop, b), name in zip(rows, out):
            terms = " + ".join(f"p[{start + k}] * {v}" for k, v in enumerate(names))
            lines.append(f"    {name} = p[{b}] + ({terms})")
        kind = type(layer.activation)
        if kind is ReLU:
            lines += [f"    {v} = {v} if {v} > 0.0 else 0.0" for v in out]
        elif kind is Tanh:
            lines += [f"    {v} = tanh({v})" for v in out]
        elif kind is Sigmoid:
            lines += [f"    {v} = SIGMOID([{v}])[0]" for v in out]
        elif kind is Softmax:
            lines.append(f"    {', '.join(out)}, = SOFTMAX([{', '.join(out)}])")
        names = out
    lines.append(f"    return array(({', '.join(names)},), DTYPE)")
    scope = {"LIMIT": plan.limit, "tanh": math.tanh, "SIGMOID": _PY_ACTIVATIONS[Sigmoid],
             "SOFTMAX": _py_softmax, "array": np.array, "DTYPE": dtype}
    exec("\n".join(lines), scope)       # noqa: S102 (generated from the layer sizes alone)
    return scope["forward"]


def _predict_numpy(plan, x):
    """The forward pass for one example with matrix–vector products, nothing cached;
    ``None`` for a non-finite input."""
    h = x if x.dtype is plan.dtype else x.astype(plan.dtype)
    checked = False
    for W, b, kind, act in plan.layers:
        z = W @ h
        z += b
        # A NaN or ±inf anywhere in x makes every z_j = Σ_k w_jk x_k + b_j NaN or ±inf (inf·0
        # is NaN), so z_1 finite proves x finite. z_1 not finite: x is not, or the sum
        # overflowed — the plain path decides which.
        if not checked:
            if not math.isfinite(z[0]):
                return None
            checked = True
        if kind is _RELU:
            np.maximum(z, 0, out=z)
        elif kind is _SOFTMAX:        # a few Python floats beat five tiny ufuncs
            z = np.array(_py_softmax(z.tolist()), z.dtype)
        elif kind is not _IDENTITY:
            z = act(z)
        h = z
    return h


# -- the data set ----------------------------------------------------------------------------
# From this many entries max_feature_std takes its compiled one-pass kernel: it saves about 0.4 ns an
# entry (17 against 36 ms on 60,000 × 784 float32), and a process's first use loads it from numba's disk
# cache (about 13 ms), which a smaller data set would not win back.
MOMENTS_KERNEL_MIN = 1 << 24

def max_feature_std(X, block_rows: int = 256) -> float:
    """max over features of the standard deviation of ``X`` (n, n_in): ``X.std(axis=0).max()``.

    ``X.std(axis=0)`` builds a temporary as large as the data set (X − mean); for a
    60,000 × 784 training set that is 188 MB and a fifth of a second. Here: the mean
    as one matrix–vector product 1ᵀX / n, then Σ (x − mean)² over blocks of rows,
    each block's column sums again a product with a vector of ones, accumulated
    in float64. With the compiled kernels (numba), one pass instead (``_kernels._column_moments``:
    about a third of the time, 60,000 × 784 float32). Same value to rounding (tests/test_fast.py).
    """
    n, m = X.shape
    if n == 0:
        return 0.0
    k = kernels() if X.size >= MOMENTS_KERNEL_MIN else None
    if k is not None and type(X) is np.ndarray and X.flags.c_contiguous and X.dtype.kind == "f":
        # compiled: one pass, no temporary; Σ (x − x₀) and Σ (x − x₀)² in float64, shifted by the
        # first row so that the difference of the two sums does not cancel away
        s1, s2 = np.zeros(m), np.zeros(m)
        k.column_moments(X, X[0].astype(np.float64), s1, s2)
        s1 /= n
        return float(np.sqrt(max(float((s2 / n - s1 * s1).max()), 0.0)))
    dtype = np.result_type(X.dtype, np.float32)
    ones = np.ones(min(n, block_rows), dtype)
    mean = (np.ones(n, dtype) @ X) / n
    total = np.zeros(m)
    buf = np.empty((min(n, block_rows), m), dtype)
    for start in range(0, n, block_rows):
        rows = X[start:start + block_rows]
        d = np.subtract(rows, mean, out=buf[:rows.shape[0]])
        np.multiply(d, d, out=d)
        total += ones[:rows.shape[0]] @ d
    return float(np.sqrt(total.max() / n))


# -- optimiser state ---------------------------------------------------------------------------
def flush_denormals(*arrays) -> None:
    """Set subnormal entries (0 < |a| < the dtype's smallest normal number) to 0, in place.

    Why: Adam's first moment m ← β₁ m + (1 − β₁) g decays geometrically wherever g
    is 0 (a ReLU unit silent on a whole batch), and float32 values below 1.2e−38
    are subnormal, which x86 CPUs compute 10–100× more slowly; NumPy cannot switch
    on flush-to-zero. Measured here: after one epoch at batch 32, 47 % of m was
    subnormal and an Adam step took 2.0 ms instead of 0.6 ms. Zeroing them changes
    each value by less than 1.2e−38 (float32) or 2.2e−308 (float64). Cheap enough
    to call every few dozen steps.
    """
    for a in arrays:
        if a is None or a.dtype.kind != "f":
            continue
        tiny = np.finfo(a.dtype).tiny
        np.copyto(a, 0, where=np.abs(a) < tiny)


# -- compiled passes beside the training step ----------------------------------------------------
def kernels():
    """The compiled kernels when the fast paths and the compiled ones are on and numba is
    installed (compiled, or loaded from the disk cache, on first use); else ``None``."""
    return _kernels.get() if ENABLED and COMPILED else None


# fit takes Adam's compiled step (per-batch path; the compiled epochs have their own). It was off
# (7dc0d93: 0.36-0.43 s against 0.27-0.30 s with optimizers.Adam.step) until 95c4629's
# error_model="numpy" let the kernel's loop vectorise; False brings optimizers.Adam.step back.
ADAM_KERNEL_IN_FIT = True


def optimizer_step(opt, params, grads) -> bool:
    """Take ``opt.step(params, grads)`` in one compiled pass over the flat vectors where a
    kernel does exactly that step — Adam without AMSGrad or weight decay (``_kernels._adam``:
    m, v and θ updated together, on every core) — and return True; else do nothing and
    return False (the caller runs ``opt.step``). Same formula as ``optimizers.Adam.step``,
    the same numbers to rounding (tests/test_kernels.py)."""
    k = kernels()
    if (k is None or type(opt).step.__qualname__ != "Adam.step" or opt.amsgrad or opt.weight_decay
            or params.dtype != grads.dtype or not params.flags.c_contiguous or not grads.flags.c_contiguous):
        return False
    opt.t += 1
    beta1, beta2 = opt.betas
    m, v = opt._zeros("m", params), opt._zeros("v", params)
    c = math.sqrt(1 - beta2 ** opt.t)
    f = params.dtype.type          # the scalars as Adam.step's NumPy calls round them
    _kernels.pick(k, "adam", params.size)(params, grads, m, v, f(beta1), f(1 - beta1), f(beta2), f(1 - beta2),
                                          f(opt.lr * c / (1 - beta1 ** opt.t)), f(opt.eps * c))
    if opt.t % _FLUSH_EVERY == 0:
        flush_denormals(m, v)
    return True


# optimizers.FLUSH_EVERY (optimizers imports this module, so the number is kept here too)
_FLUSH_EVERY = 64


def gather(X, idx, out=None):
    """``X[idx]`` cast to ``out``'s dtype, in one pass (compiled, on every core, where numba is
    installed): the batch of a shuffled epoch. ``out`` defaults to a new array of X's dtype."""
    if out is None:
        out = np.empty((len(idx), X.shape[1]), X.dtype)
    k = kernels()
    if (k is None or not isinstance(X, np.ndarray) or X.ndim != 2 or not X.flags.c_contiguous
            or X.dtype.kind != "f"):
        np.copyto(out, X[idx])      # a memory-mapped source (sources.MappedRows) reads only these rows
    else:
        _kernels.pick(k, "gather", out.size)(X, idx, out)
    return out


# -- tiny networks: many epochs in one compiled call ----------------------------------------------
# Networks with at most this many parameters may train many epochs per compiled call (above it
# the BLAS products of the usual step are faster than the kernel's loops).
TINY_MAX_PARAMS = 512
_TINY_ACTS = {Identity: _kernels.ACT_IDENTITY, ReLU: _kernels.ACT_RELU, Tanh: _kernels.ACT_TANH,
              Sigmoid: _kernels.ACT_SIGMOID}



def _plain_adam_or_sgd(opt):
    """True for Adam, False for plain SGD (the two the compiled loops compute: no AMSGrad, momentum
    or the optimiser's own weight decay), None for anything else."""
    name = type(opt).step.__qualname__
    if name == "Adam.step" and not opt.amsgrad and not opt.weight_decay:
        return True
    if name == "SGD.step" and not opt.momentum and not opt.weight_decay:
        return False
    return None


class TinyLoop:
    """``fit``'s epochs of a tiny network in one compiled call (``_kernels._train_tiny``).

    ``TinyLoop.make(net, loss, opt, batch_size)`` is None unless the kernel computes exactly
    what the usual step would: the compiled kernels are at hand, at most ``TINY_MAX_PARAMS``
    parameters, element-wise activations (identity, ReLU, tanh, sigmoid), an unweighted MSE
    loss, plain SGD (no momentum or decay) or Adam (no AMSGrad or decay). ``run`` trains up to
    ``n_epochs`` epochs on the given example orders and returns how many it committed (an epoch
    that needs Python is rolled back: see the kernel)."""

    def __init__(self, kernel, net, loss, opt, batch_size, adam):
        layers = net.layers
        self.kernel, self.net, self.opt, self.adam = kernel, net, opt, adam
        self.bs = batch_size
        self.sizes = np.array([layers[0].n_in] + [layer.n_out for layer in layers], np.int64)
        self.acts = np.array([_TINY_ACTS[type(layer.activation)] for layer in layers], np.int64)
        self.scale = {"half_sum": 0.5, "sum": 1.0}.get(loss.reduction, 0.0)
        self.per_example = loss.reduction == "mean"
        width = int(self.sizes[1:].max())
        dtype = net.dtype
        shape = (len(layers), batch_size, width)
        self.zbuf, self.hbuf, self.dbuf = (np.zeros(shape, dtype) for _ in range(3))
        self.snap = np.zeros((3, net.n_params), dtype)
        self.out = np.zeros(2, np.int64)
        self.care_state = np.zeros(7)
        self.zeros = np.zeros(net.n_params, dtype)

    @classmethod
    def make(cls, net, loss, opt, batch_size):
        k = kernels()
        if k is None or net.n_params > TINY_MAX_PARAMS or type(loss).__name__ != "MSE":
            return None
        if any(type(layer.activation) not in _TINY_ACTS for layer in net.layers):
            return None
        adam = _plain_adam_or_sgd(opt)
        if adam is None:
            return None
        if loss.reduction not in ("half_sum", "sum", "mean"):
            return None
        return cls(k, net, loss, opt, batch_size, adam)

    def run(self, X, Y, labels, orders, n_epochs, care=None, care_layers=(), care_tol=0.0, losses=None,
            correct=None, weight_decay=0.0):
        """Train up to ``n_epochs`` epochs; returns (epochs committed, epoch losses, correct counts).

        X (n, n_in), Y (n, n_out) in the network's dtype; labels int (n,) or None; orders
        (n_epochs, n) int64; care: the ReluCare whose state the kernel keeps (or None), with its
        hidden ReLU layers ``care_layers`` and its plateau tolerance ``care_tol``; ``weight_decay``:
        the L2 penalty λ of ``steps.Penalty`` (the epoch losses include it, as fit's Meter)."""
        net, opt = self.net, self.opt
        n_layers = len(net.layers)
        params, grads = net.params, net.grads
        m = opt._zeros("m", params) if self.adam else self.zeros
        v = opt._zeros("v", params) if self.adam else self.zeros
        care_mask = np.zeros(n_layers, np.int64)
        cs = self.care_state
        best = self.zeros
        if care is not None:
            care_mask[list(care_layers)] = 1
            st = care.state
            cs[:] = (st.care_best, st.care_wait, care.patience, care_tol, st.redraws,
                     st.best_loss, 0.0)
            best = np.empty_like(params)
        losses = np.empty(n_epochs) if losses is None else losses
        correct = np.empty(n_epochs, np.int64) if correct is None else correct
        alive = np.zeros((n_layers, int(self.sizes[1:].max())), np.bool_)
        lab = np.full(X.shape[0], -1, np.int64) if labels is None else labels.astype(np.int64, copy=False)
        beta1, beta2 = opt.betas if self.adam else (0.9, 0.999)
        eps = opt.eps if self.adam else 1e-8
        self.kernel.train_tiny(params, grads, self.sizes, self.acts, X, Y, lab, orders, n_epochs, self.bs,
                               self.scale, self.per_example, float(weight_decay), self.adam, float(opt.lr),
                               beta1, beta2, eps,
                               int(opt.t), m, v, care_mask, cs, best, self.snap, self.zbuf, self.hbuf,
                               self.dbuf, losses, correct, alive, self.out)
        done = int(self.out[0])
        opt.t = int(self.out[1])
        if care is not None and done:
            st = care.state
            st.care_best, st.care_wait = float(cs[0]), int(cs[1])
            if cs[6]:
                st.best_loss, st.best_params = float(cs[5]), best
        return done, losses, correct

    def set_caches(self, X, order_last):
        """The layers' caches (x, z, h, δ) of the last batch the kernel ran, as the usual step
        leaves them: rows ``order_last`` of X."""
        nb = len(order_last)
        h = X[order_last]
        for i, layer in enumerate(self.net.layers):
            c = layer.n_out
            layer.x = h
            layer.z = self.zbuf[i, :nb, :c].copy()
            layer.h = h = self.hbuf[i, :nb, :c].copy()
            layer.delta = self.dbuf[i, :nb, :c].copy()


# -- dense ReLU/softmax networks: an epoch's batches in compiled calls ---------------------------
class EpochLoop:
    """``fit``'s batches of a dense network with ReLU hidden layers and a softmax output on integer
    labels (cross-entropy) in compiled calls (``_kernels._train_batches``): per batch the gather, the
    products (NumPy's own OpenBLAS, called from the kernel), the fused element-wise passes and the
    optimiser's step — the per-batch fast path without Python between batches.

    ``EpochLoop.make(net, loss, opt, X, labels, batch_size)`` is None unless the kernel computes
    exactly what the per-batch step would: the compiled kernels and NumPy's BLAS at hand, float32 or
    float64, ReLU hidden layers, a softmax output, cross-entropy ("mean" or "sum") on integer labels
    (no sample or class weights), plain SGD (no momentum or decay) or Adam (no AMSGrad or decay), an
    X in the network's dtype (in memory, or read batch by batch from a memory map: the same
    numbers, as the per-batch step promises). ``run(order, first, stop)`` trains batches
    ``first``…``stop − 1`` of the epoch whose row order is ``order``; ``set_caches(nb)`` leaves the
    layers' caches of the last batch trained as the per-batch step leaves them."""

    def __init__(self, kernel, gemm, net, loss, opt, X, labels, batch_size, adam):
        layers = net.layers
        self.kernel, self.gemm, self.net, self.opt, self.adam = kernel, gemm, net, opt, adam
        self.X, self.labels, self.bs = X, labels, batch_size
        dtype = net.dtype
        self.sizes = np.array([layers[0].n_in] + [layer.n_out for layer in layers], np.int64)
        units = int(self.sizes[1:].sum())
        self.xb = np.empty(batch_size * layers[0].n_in, dtype)
        self.zb, self.hb, self.gb = (np.empty(units * batch_size, dtype) for _ in range(3))
        self.alive = np.zeros((max(len(layers) - 1, 1), int(self.sizes[1:].max())), np.bool_)
        self.sums = np.zeros(2)
        self.counts = np.zeros(4, np.int64)
        self.scratch = np.zeros(3, dtype)
        self.scratch[2] = np.finfo(dtype).tiny
        self.per_example = loss.reduction == "mean"
        self.zeros = np.zeros(1, dtype)

    @classmethod
    def make(cls, net, loss, opt, X, labels, batch_size):
        k = kernels()
        layers = net.layers
        if (k is None or not isinstance(loss, CrossEntropy) or loss.reduction not in ("mean", "sum")
                or labels is None or labels.ndim != 1 or labels.dtype.kind not in "iu"
                or X.ndim != 2 or X.dtype != net.dtype or net.dtype not in (np.float32, np.float64)
                or not isinstance(layers[-1].activation, Softmax)
                or any(type(layer.activation) is not ReLU for layer in layers[:-1])):
            return None
        gemm = _gemm(net.dtype)
        adam = _plain_adam_or_sgd(opt)
        if adam is None:
            return None
        if gemm is None:
            return None
        if type(X) is not np.ndarray or not X.flags.c_contiguous:
            X = None           # a memory map (sources.MappedRows): each batch gathered by X[rows] first
        return cls(k, gemm, net, loss, opt, X, np.asarray(labels, np.intp), batch_size, adam)

    def run(self, order, first, stop, X=None, labels=None, final=None, weight_decay=0.0):
        """Train batches ``first``…``stop − 1``; returns (batches trained, Σ loss as Meter sums it,
        correct predictions, the batch whose loss was not finite or −1, Σ of the batches' L2 penalties
        of ``steps.Penalty`` with λ = ``weight_decay``, λ w added to the gradients). ``alive`` collects the
        hidden units with some z > 0 (ReLU care), to be cleared by the caller. ``X``, ``labels``: one
        batch already gathered (a memory-mapped source: ``MappedRows[rows]``), trained as batch 0 of
        ``order`` = its rows in order, ``final`` whether it is the epoch's last."""
        net, opt = self.net, self.opt
        params, grads = net.params, net.grads
        f = params.dtype.type
        if self.adam:
            m, v = opt._zeros("m", params), opt._zeros("v", params)
            beta1, beta2 = opt.betas
            consts = (f(beta1), f(1 - beta1), f(beta2), f(1 - beta2), float(beta1), float(beta2),
                      float(opt.eps))
        else:
            m = v = self.zeros
            consts = (f(0.9), f(0.1), f(0.999), f(0.001), 0.9, 0.999, 1e-8)
        self.sums[:] = 0.0
        self.counts[:] = 0
        if X is None:
            X, labels, bs, last = self.X, self.labels, self.bs, -(-self.X.shape[0] // self.bs) - 1
        else:
            bs, last = X.shape[0], 0 if final else -1
        self.kernel.train_batches(self.gemm, X, labels, order, bs, first, stop, last, self.bs, self.sizes,
                                  params, grads, self.xb, self.zb, self.hb, self.gb, self.adam,
                                  float(opt.lr), *consts, int(opt.t), m, v, self.scratch, self.per_example,
                                  float(weight_decay), self.alive, self.sums, self.counts)
        done = int(self.counts[1])
        if self.adam:
            opt.t = int(self.counts[3])
        else:
            opt.t += done                  # the steps are taken: counted as opt.step would
        return done, float(self.sums[0]), int(self.counts[0]), int(self.counts[2]), float(self.sums[1])

    def set_caches(self, nb):
        """The layers' caches (x, z, h, δ, shape (nb, ·)) of the last batch trained."""
        h = self.xb[:nb * self.net.layers[0].n_in].reshape(nb, -1)
        at = 0
        for layer in self.net.layers:
            size = layer.n_out * nb
            layer.x = h
            layer.z = self.zb[at:at + size].reshape(layer.n_out, nb).T
            layer.h = h = self.hb[at:at + size].reshape(layer.n_out, nb).T
            layer.delta = self.gb[at:at + size].reshape(layer.n_out, nb).T
            at += layer.n_out * self.bs
