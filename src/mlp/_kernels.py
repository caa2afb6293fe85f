"""Compiled element-wise kernels of the training step (numba), each with its NumPy twin.

What this module owns: the element-wise passes of ``_fast.loss_and_grad`` and of the
optimiser update, fused and run on every core — bias + ReLU in one pass, the ReLU mask
times ∂loss/∂h and the bias gradient in one pass, softmax + cross-entropy + δ + bias
gradient + the count of correct predictions in one pass, the batch gather with its cast
in one pass, Adam's update over the flat parameter vector in one pass; and, for dense
ReLU/softmax networks, an epoch's batches in one call (``_train_batches``: the same passes with
NumPy's own OpenBLAS called for the products, no Python between batches). No formula lives
here that ``layers``/``activations``/``losses``/``optimizers`` do not state: each kernel
computes what its NumPy twin (``np_*`` below) computes, and ``tests/test_kernels.py``
proves every pair equal to float round-off, and the fast path equal to the plain one
through ``mlp.fast_paths(False)``.

numba is optional (``pip install mlp[fast]``): ``import mlp`` never imports it. ``get()``
imports and compiles on first use — ``@njit(parallel=True, fastmath=False, cache=True,
error_model="numpy")`` (fastmath only "reassoc" for the row sums, see ``_REASSOC``),
so the machine code is cached on disk and a second process loads it instead of compiling
— and returns ``None`` when numba is missing or ``MLP_NO_NUMBA`` is set; then the NumPy
twins run, the same numbers, single-threaded.

Arrays are in the fast path's layout: one example per column, shape (units, n),
C-contiguous; ``b``, ``db`` of shape (units,).
"""

from __future__ import annotations

import math
import os
import types

import numpy as np

# numba.prange once numba is loaded (get()); plain range for the twins-by-interpretation.
prange = range

# Element counts from which a kernel runs on all cores; below, its serial twin runs. Default: never.
# Measured on the 2-core machine of benchmarks/RESULTS.md: a fork-join region costs more than the
# pass it splits, because NumPy's OpenBLAS threads still spin on the other core after each
# product (a training step at batch 128 took 1.5–10× longer with parallel kernels), and under
# load a region waits for a descheduled thread (the digits demo: 73 s serial, > 300 s parallel).
# MLP_PARALLEL_MIN=<elements> switches them on, for machines with cores to spare.
PARALLEL_MIN = int(os.environ.get("MLP_PARALLEL_MIN", 1 << 62))

_COMPILED: types.SimpleNamespace | bool | None = None


# -- kernels (compiled by numba; these bodies are also valid Python) ----------------------------
def _bias_relu(zT, b, hT):
    """zT ← zT + b (per row); hT ← max(zT, 0). hT may be zT itself."""
    units, n = zT.shape
    for j in prange(units):
        bj = b[j]
        for i in range(n):
            z = zT[j, i] + bj
            zT[j, i] = z
            hT[j, i] = z if z > 0 else 0.0


def _bias_add(zT, b):
    """zT ← zT + b (per row)."""
    units, n = zT.shape
    for j in prange(units):
        bj = b[j]
        for i in range(n):
            zT[j, i] += bj


def _relu_delta(gT, zT, db):
    """δ = g ⊙ [z > 0] in place of gT, and db = Σₙ δ (row sums)."""
    units, n = gT.shape
    for j in prange(units):
        s = 0.0
        for i in range(n):
            d = gT[j, i] if zT[j, i] > 0 else 0.0
            gT[j, i] = d
            s += d
        db[j] = s


def _row_sums(deltaT, db):
    """db = Σₙ δ (row sums)."""
    units, n = deltaT.shape
    for j in prange(units):
        s = 0.0
        for i in range(n):
            s += deltaT[j, i]
        db[j] = s


def _softmax_ce(zT, labels, pT, deltaT, db, factor):
    """Softmax cross-entropy on integer labels, one example per column.

    pT ← softmax(z) per column; δᵀ ← factor · (p − onehot(y)); db ← Σₙ δ.
    Returns (Σₙ −log pₙ,yₙ, number of columns whose first largest p is at yₙ).
    """
    k, n = zT.shape
    total = 0.0
    correct = 0
    for i in prange(n):
        m = zT[0, i]
        for j in range(1, k):
            if zT[j, i] > m:
                m = zT[j, i]
        s = 0.0
        for j in range(k):
            e = math.exp(zT[j, i] - m)
            pT[j, i] = e
            s += e
        y = labels[i]
        total += math.log(s) + m - zT[y, i]
        best = 0
        inv = 1.0 / s
        for j in range(k):
            p = pT[j, i] * inv
            pT[j, i] = p
            if p > pT[best, i]:
                best = j
            deltaT[j, i] = factor * p
        deltaT[y, i] = factor * (pT[y, i] - 1.0)
        if best == y:
            correct += 1
    for j in range(k):
        s = 0.0
        for i in range(n):
            s += deltaT[j, i]
        db[j] = s
    return total, correct


def _gather(X, idx, out):
    """out[r] = X[idx[r]] (cast to out's dtype)."""
    rows, cols = out.shape
    for r in prange(rows):
        src = idx[r]
        for c in range(cols):
            out[r, c] = X[src, c]


def _adam(params, grads, m, v, beta1, a1, beta2, a2, step, eps_c):
    """m ← β₁ m + (1 − β₁) g; v ← β₂ v + (1 − β₂) g²; θ ← θ − m / (√v + eps_c) · step.

    The scalars come in the parameters' dtype (a1 = 1 − β₁, a2 = 1 − β₂ rounded to it), so that
    float32 parameters are updated in float32 arithmetic, operation for operation as
    ``optimizers.Adam.step`` does with NumPy (and eight to a vector register, not four)."""
    for i in prange(params.shape[0]):
        _adam_at(params, grads, m, v, i, beta1, a1, beta2, a2, step, eps_c)


def _l2_penalty(params, grads, n_w, wd):
    """The L2 penalty ½ λ ‖w‖² of the weights params[:n_w] (λ = ``wd``), returned; λ w added to their
    gradient grads[:n_w] (``steps.Penalty.add_to_grads``; inlined into the kernels that train)."""
    s = 0.0
    for i in range(n_w):
        w = params[i]
        s += w * w
        grads[i] += wd * w
    return 0.5 * wd * s


def _adam_at(params, grads, m, v, i, beta1, a1, beta2, a2, step, eps_c):
    """Adam's update of entry i (``_adam``'s formula; inlined into every kernel that takes the step)."""
    g = grads[i]
    mi = beta1 * m[i] + a1 * g
    vi = beta2 * v[i] + a2 * (g * g)
    m[i] = mi
    v[i] = vi
    params[i] -= mi / (math.sqrt(vi) + eps_c) * step


def _column_moments(X, shift, s1, s2):
    """s1[c] += Σᵣ (X[r, c] − shift[c]), s2[c] += Σᵣ (X[r, c] − shift[c])², in float64 (shift, s1, s2),
    in one pass over the rows of X: the moments behind ``_fast.max_feature_std``."""
    for r in range(X.shape[0]):
        xr = X[r]
        for c in range(xr.shape[0]):
            d = xr[c] - shift[c]
            s1[c] += d
            s2[c] += d * d


# -- tiny networks: many epochs in one compiled loop --------------------------------------------
# activation codes of _train_tiny
ACT_IDENTITY, ACT_RELU, ACT_TANH, ACT_SIGMOID = 0, 1, 2, 3


def _activate(code, z):
    if code == 1:
        return z if z > 0 else 0.0
    if code == 2:
        return math.tanh(z)
    if code == 3:
        if z >= 0:
            return 1.0 / (1.0 + math.exp(-z))
        e = math.exp(z)
        return e / (1.0 + e)
    return z


def _derivative(code, z, h):
    if code == 1:
        return 1.0 if z > 0 else 0.0
    if code == 2:
        return 1.0 - h * h
    if code == 3:
        return h * (1.0 - h)
    return 1.0


def _train_tiny(params, grads, sizes, acts, X, Y, labels, orders, n_epochs, bs, loss_scale, per_example, wd,
                adam, lr, beta1, beta2, eps, t, m, v, care, care_state, best_params, snap,
                zbuf, hbuf, dbuf, epoch_loss, epoch_correct, alive, out):
    """Up to ``n_epochs`` epochs of ``fit`` on a small dense network with MSE, in one call.

    The same computation as fit's epoch loop with its plain training step (tests/test_kernels.py):
    per batch the forward pass z = W h + b, h = σ(z); the loss scale · Σ (ŷ − y)² (scale
    ``loss_scale``, or 1 / (n_b · n_out) for the "mean" reduction, ``per_example``); δ at the output
    σ′(z) ⊙ 2 · scale · (ŷ − y); the backward pass into ``grads`` (the flat vector: every W row by
    row, then every b, as ``Network.params``); with ``wd`` > 0 the L2 penalty ½ λ ‖w‖² on the weights
    (λ = ``wd``; its value noted, λ w added to their gradient, as ``steps.Penalty``); then SGD
    θ ← θ − η g or Adam (as optimizers.Adam, step count ``t``). Per epoch: the loss as fit's Meter
    sums it (the penalties' mean per batch included) and the correct predictions
    (``labels`` ≥ 0: binary ŷ > 0.5 for one output, else the first largest ŷ), then what fit
    does at the end of an epoch that needs no Python: ReLU care's bookkeeping when every hidden
    ReLU unit (``care``[l] = 1) was active and the loss has not plateaued (``care_state`` =
    [care_best, care_wait, patience, tol, redraws, best_loss, best_updated]; ``best_params`` ←
    θ at a new best after a re-draw), and the finite-parameter check. ``orders`` (n_epochs, n):
    each epoch's order of the examples.

    An epoch that needs Python — a non-finite batch loss, non-finite parameters, a ReLU unit to
    revive or re-draw — is rolled back (θ, Adam's m, v and t from ``snap``, taken at the start
    of each epoch) and not counted: the caller runs it the usual way. ``out`` = [epochs
    committed, t]. The caches of the last batch run (z, h, δ per layer, rows 0…n_b − 1) are left
    in ``zbuf``, ``hbuf``, ``dbuf``.
    """
    n_layers = acts.shape[0]
    n = X.shape[0]
    n_out = sizes[n_layers]
    n_params = params.shape[0]
    n_batches = (n + bs - 1) // bs
    w_at = np.zeros(n_layers + 1, np.int64)
    b_at = np.zeros(n_layers + 1, np.int64)
    for l in range(n_layers):
        w_at[l + 1] = w_at[l] + sizes[l + 1] * sizes[l]
    b_at[0] = w_at[n_layers]
    for l in range(n_layers):
        b_at[l + 1] = b_at[l] + sizes[l + 1]
    done_epochs = 0
    care_on = False
    for l in range(n_layers):
        if care[l] == 1:
            care_on = True
    rollback = False
    for e in range(n_epochs):
        total = 0.0
        penalty = 0.0
        correct = 0
        t_snap = t
        for i in range(n_params):
            snap[0, i] = params[i]
            snap[1, i] = m[i]
            snap[2, i] = v[i]
        for l in range(n_layers):
            for j in range(sizes[l + 1]):
                alive[l, j] = False
        for b in range(n_batches):
            start = b * bs
            nb = min(bs, n - start)
            # forward
            for r in range(nb):
                row = orders[e, start + r]
                for l in range(n_layers):
                    a, c = sizes[l], sizes[l + 1]
                    for j in range(c):
                        z = params[b_at[l] + j]
                        base = w_at[l] + j * a
                        for k in range(a):
                            hk = X[row, k] if l == 0 else hbuf[l - 1, r, k]
                            z += params[base + k] * hk
                        zbuf[l, r, j] = z
                        h = _activate(acts[l], z)
                        hbuf[l, r, j] = h
                        if h > 0:
                            alive[l, j] = True
            # loss, δ at the output, accuracy ("mean": scale 1 / (n_b · n_out), per batch)
            scale = 1.0 / (nb * n_out) if per_example else loss_scale
            value = 0.0
            last = n_layers - 1
            for r in range(nb):
                row = orders[e, start + r]
                best = 0
                for j in range(n_out):
                    h = hbuf[last, r, j]
                    diff = h - Y[row, j]
                    value += diff * diff
                    d = _derivative(acts[last], zbuf[last, r, j], h)
                    dbuf[last, r, j] = d * (2.0 * scale * diff)
                    if h > hbuf[last, r, best]:
                        best = j
                if labels[row] >= 0:
                    if n_out == 1:
                        if (hbuf[last, r, 0] > 0.5) == (labels[row] == 1):
                            correct += 1
                    elif best == labels[row]:
                        correct += 1
            value *= scale
            if not math.isfinite(value):
                rollback = True
                break
            # backward: grads of W and b, δ of the layer below
            for l in range(n_layers - 1, -1, -1):
                a, c = sizes[l], sizes[l + 1]
                for j in range(c):
                    s = 0.0
                    for r in range(nb):
                        s += dbuf[l, r, j]
                    grads[b_at[l] + j] = s
                    base = w_at[l] + j * a
                    for k in range(a):
                        s = 0.0
                        for r in range(nb):
                            hk = X[orders[e, start + r], k] if l == 0 else hbuf[l - 1, r, k]
                            s += dbuf[l, r, j] * hk
                        grads[base + k] = s
                if l > 0:
                    for r in range(nb):
                        for k in range(a):
                            g = 0.0
                            for j in range(c):
                                g += params[w_at[l] + j * a + k] * dbuf[l, r, j]
                            d = _derivative(acts[l - 1], zbuf[l - 1, r, k], hbuf[l - 1, r, k])
                            dbuf[l - 1, r, k] = d * g
            # the L2 penalty on the weights (they come first in θ): its value, and λ w into their gradient
            if wd > 0:
                penalty += _l2_penalty(params, grads, b_at[0], wd)
            # the optimiser step
            t += 1
            if adam:
                c2 = math.sqrt(1.0 - beta2 ** t)
                step = lr * c2 / (1.0 - beta1 ** t)
                eps_c = eps * c2
                for i in range(n_params):
                    _adam_at(params, grads, m, v, i, beta1, 1.0 - beta1, beta2, 1.0 - beta2, step, eps_c)
            else:
                for i in range(n_params):
                    params[i] -= lr * grads[i]
            total += value * nb if per_example else value
        if rollback:
            break
        loss = (total / n if per_example else total) + penalty / n_batches
        # ReLU care (fit's end of epoch): a dead unit, or a plateau, needs Python
        if care_on:
            for l in range(n_layers - 1):
                if care[l] == 1:
                    for j in range(sizes[l + 1]):
                        if not alive[l, j]:
                            rollback = True
            improved = loss < care_state[0] * (1.0 - care_state[3])
            if not improved and care_state[1] + 1 >= care_state[2]:
                rollback = True
        for i in range(n_params):
            if not math.isfinite(params[i]):
                rollback = True
        if rollback:
            break
        if care_on:
            if care_state[4] > 0 and loss < care_state[5]:
                care_state[5] = loss
                care_state[6] = 1.0
                best_params[:] = params
            if loss < care_state[0] * (1.0 - care_state[3]):
                care_state[0] = loss
                care_state[1] = 0.0
            else:
                care_state[1] += 1.0
        epoch_loss[e] = loss
        epoch_correct[e] = correct
        done_epochs = e + 1
    if rollback:
        for i in range(n_params):
            params[i] = snap[0, i]
            m[i] = snap[1, i]
            v[i] = snap[2, i]
        t = t_snap
    out[0] = done_epochs
    out[1] = t


# -- a whole epoch's batches of a dense ReLU/softmax network in one call ----------------------------
_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112


def _train_batches(gemm, X, labels, order, bs, first, stop, final_batch, stride, sizes, params, grads,
                   xb, zb, hb, gb, adam, lr, beta1, a1, beta2, a2, beta1_d, beta2_d, eps, t, m, v, scratch,
                   per_example, wd, alive, sums, counts):
    """Batches ``first``…``stop − 1`` of one epoch of ``fit`` on a dense network with ReLU hidden
    layers and a softmax output trained on integer labels with cross-entropy, by plain SGD (θ ← θ − η g)
    or Adam (as ``optimizers.Adam``, step count ``t``; β₁, 1 − β₁, β₂, 1 − β₂ in the parameters'
    dtype, ``beta1_d``, ``beta2_d`` in float64 for the bias corrections) — each batch exactly as the
    per-batch fast path (``_fast.loss_and_grad`` with these kernels' passes, then the optimiser's
    step), without Python between batches.

    The matrix products go to ``gemm``: cblas_sgemm / cblas_dgemm of the OpenBLAS NumPy itself loaded
    (a ctypes function, called here without Python: same library, same threads as ``np.matmul``).
    Batch b holds rows ``order[b·bs:(b+1)·bs]`` of X; ``final_batch`` is the epoch's last batch (−1:
    none in this call); ``stride`` ≥ bs is the buffers' batch size.
    Layout as the fast path's: one example per column, zᵀ = W hᵀ + b. The flat vectors ``params`` and
    ``grads`` hold every W row by row, then every b (``Network.params``); ``xb`` (the gathered batch,
    rows), ``zb``, ``hb``, ``gb`` (zᵀ, hᵀ, δᵀ of every layer, layer l at Σ_{k<l} n_k · stride, each (n_l, n_b)
    C-contiguous) are flat buffers. Per batch: the gather X[order[rows]] (cast), the forward products
    with bias + ReLU in one pass (noting in ``alive`` the units with some z > 0, for ReLU care),
    softmax cross-entropy + δ + its bias gradient + the count of correct predictions in one pass, the
    backward products, ReLU′ ⊙ g + bias gradient in one pass; then the update. SGD is fused into the
    backward pass as ``loss_and_grad(sgd_lr=η)`` does (δ times −η, W ← W + (−η δ) hᵀ in the product
    itself) except on the epoch's last batch, whose ∂L/∂θ is kept in ``grads`` (θ ← θ − η g after it).
    Adam writes ∂L/∂θ into ``grads`` and updates θ, m, v in one pass (flushing subnormal m, v every 64
    steps as ``optimizers.Adam``). With ``wd`` > 0, the L2 penalty ½ λ ‖w‖² on the weights (λ = ``wd``,
    as ``steps.Penalty``): its value summed into ``sums[1]``, λ w added to their gradient before the
    update (SGD then not fused: θ ← θ − η g after each batch).

    A batch whose loss is not finite is not trained: the call stops before it (``counts[2]`` = its
    index, else −1), and the caller runs it the usual way. ``sums[0]`` += each batch's loss times its
    rows ("mean" reductions, ``per_example``) or its loss, ``sums[1]`` += its penalty; ``counts[0]`` +=
    correct predictions,
    ``counts[1]`` += batches trained; ``counts[3]`` = Adam's step count afterwards. ``scratch``: three
    entries of the parameters' dtype (Adam's step sizes, rounded to it as ``Adam.step`` rounds them, and
    the dtype's smallest normal number).
    """
    n_layers = sizes.shape[0] - 1
    n = X.shape[0]
    n_in = sizes[0]
    w_at = np.zeros(n_layers + 1, np.int64)
    b_at = np.zeros(n_layers + 1, np.int64)
    o_at = np.zeros(n_layers + 1, np.int64)
    for l in range(n_layers):
        w_at[l + 1] = w_at[l] + sizes[l + 1] * sizes[l]
        o_at[l + 1] = o_at[l] + sizes[l + 1] * stride
    b_at[0] = w_at[n_layers]
    for l in range(n_layers):
        b_at[l + 1] = b_at[l] + sizes[l + 1]
    isz = params.itemsize
    P, G = params.ctypes.data, grads.ctypes.data
    XB, ZB, HB, GB = xb.ctypes.data, zb.ctypes.data, hb.ctypes.data, gb.ctypes.data
    last = n_layers - 1
    k = sizes[n_layers]
    cmax = np.empty(stride, zb.dtype)      # per example (column) of the output block
    cbest = np.empty(stride, zb.dtype)
    csum = np.empty(stride, np.float64)
    carg = np.empty(stride, np.int64)
    counts[2] = -1
    for b in range(first, stop):
        start = b * bs
        nb = min(bs, n - start)
        final = b == final_batch
        # Every pass reads and writes through row views (zb[at:at + nb], then zr[i]): indexing the flat
        # buffers as zb[at + i] made numba check each index for wrap-around, which kept LLVM from running
        # the loops a vector at a time (measured: ReLU′ ⊙ g 130 → 8 µs, bias + ReLU 58 → 16 µs per step
        # at batch 128).
        # the gather, cast to the network's dtype
        for r in range(nb):
            src = X[order[start + r]]
            dst = xb[r * n_in:(r + 1) * n_in]
            for c in range(n_in):
                dst[c] = src[c]
        # forward: zᵀ = W hᵀ, then bias + ReLU (hidden) or bias (output) in one pass
        for l in range(n_layers):
            a, o = sizes[l], sizes[l + 1]
            if l == 0:
                gemm(_ROW_MAJOR, _NO_TRANS, _TRANS, o, nb, a, 1.0, P + w_at[0] * isz, a, XB, a, 0.0,
                     ZB + o_at[0] * isz, nb)
            else:
                gemm(_ROW_MAJOR, _NO_TRANS, _NO_TRANS, o, nb, a, 1.0, P + w_at[l] * isz, a,
                     HB + o_at[l - 1] * isz, nb, 0.0, ZB + o_at[l] * isz, nb)
            for j in range(o):
                bj = params[b_at[l] + j]
                at = o_at[l] + j * nb
                zr = zb[at:at + nb]
                if l < last:
                    hr = hb[at:at + nb]
                    active = 0                  # (no branch in the loop: it runs a vector at a time)
                    for i in range(nb):
                        z = zr[i] + bj
                        zr[i] = z
                        positive = z > 0
                        hr[i] = z if positive else 0.0
                        active += positive
                    if active:
                        alive[l, j] = True
                else:
                    for i in range(nb):
                        zr[i] += bj
        # softmax cross-entropy, δ (times −η for a fused SGD step), its bias gradient, correct ones:
        # row by row over the (k, n_b) block (each pass a vector at a time), per column in cmax etc.
        base = o_at[last]
        scale = 1.0 / nb if per_example else 1.0
        fused = not adam and not final and not wd > 0
        factor = -lr * scale if fused else scale
        mx = cmax[:nb]
        sm = csum[:nb]
        bv = cbest[:nb]
        bi = carg[:nb]
        mx[:] = zb[base:base + nb]
        for j in range(1, k):
            zr = zb[base + j * nb:base + (j + 1) * nb]
            for i in range(nb):
                if zr[i] > mx[i]:
                    mx[i] = zr[i]
        sm[:] = 0.0
        for j in range(k):
            zr = zb[base + j * nb:base + (j + 1) * nb]
            pr = hb[base + j * nb:base + (j + 1) * nb]
            for i in range(nb):
                e = math.exp(zr[i] - mx[i])
                pr[i] = e
                sm[i] += e
        total = 0.0
        for i in range(nb):
            total += math.log(sm[i]) + mx[i] - zb[base + labels[order[start + i]] * nb + i]
            sm[i] = 1.0 / sm[i]
        for j in range(k):
            pr = hb[base + j * nb:base + (j + 1) * nb]
            dr = gb[base + j * nb:base + (j + 1) * nb]
            for i in range(nb):
                p = pr[i] * sm[i]
                pr[i] = p
                dr[i] = factor * p
                if j == 0 or pr[i] > bv[i]:     # the first largest p, as np.argmax
                    bv[i] = pr[i]
                    bi[i] = j
        correct = 0
        for i in range(nb):
            y = labels[order[start + i]]
            at = base + y * nb + i
            gb[at] = factor * (hb[at] - 1.0)
            if bi[i] == y:
                correct += 1
        value = total * scale
        if not math.isfinite(value):
            counts[2] = b
            break
        for j in range(k):
            dr = gb[base + j * nb:base + (j + 1) * nb]
            s = 0.0
            for i in range(nb):
                s += dr[i]
            grads[b_at[last] + j] = s
        # backward: (∂loss/∂h below)ᵀ = Wᵀ δᵀ before W changes; dW = δᵀ h (or W += δᵀ h, fused SGD)
        for l in range(last, -1, -1):
            a, o = sizes[l], sizes[l + 1]
            D = GB + o_at[l] * isz
            if l > 0:
                gemm(_ROW_MAJOR, _TRANS, _NO_TRANS, a, nb, o, 1.0, P + w_at[l] * isz, a, D, nb, 0.0,
                     GB + o_at[l - 1] * isz, nb)
            C = (P if fused else G) + w_at[l] * isz
            beta = 1.0 if fused else 0.0
            if l == 0:
                gemm(_ROW_MAJOR, _NO_TRANS, _NO_TRANS, o, a, nb, 1.0, D, nb, XB, a, beta, C, a)
            else:
                gemm(_ROW_MAJOR, _NO_TRANS, _TRANS, o, a, nb, 1.0, D, nb, HB + o_at[l - 1] * isz, nb, beta,
                     C, a)
            if fused:
                for j in range(o):
                    params[b_at[l] + j] += grads[b_at[l] + j]
            if l > 0:       # δ below = g ⊙ [z > 0], and its bias gradient, in one pass
                for j in range(a):
                    at = o_at[l - 1] + j * nb
                    gr = gb[at:at + nb]
                    zr = zb[at:at + nb]
                    s = 0.0
                    for i in range(nb):
                        d = gr[i] if zr[i] > 0 else 0.0
                        gr[i] = d
                        s += d
                    grads[b_at[l - 1] + j] = s
        # the L2 penalty on the weights (they come first in θ): its value, and λ w into their gradient
        if wd > 0:
            sums[1] += _l2_penalty(params, grads, b_at[0], wd)
        # the update
        if adam:
            t += 1
            c2 = math.sqrt(1.0 - beta2_d ** t)         # the bias corrections in float64, as Adam.step
            scratch[0] = lr * c2 / (1.0 - beta1_d ** t)
            scratch[1] = eps * c2
            step = scratch[0]
            eps_c = scratch[1]
            for i in range(params.shape[0]):
                _adam_at(params, grads, m, v, i, beta1, a1, beta2, a2, step, eps_c)
            if t % 64 == 0:
                tiny = scratch[2]
                for i in range(params.shape[0]):
                    if abs(m[i]) < tiny:
                        m[i] = 0.0
                    if abs(v[i]) < tiny:
                        v[i] = 0.0
        elif not fused:
            scratch[0] = lr
            eta = scratch[0]
            for i in range(params.shape[0]):
                params[i] -= eta * grads[i]
        sums[0] += value * nb if per_example else value
        counts[0] += correct
        counts[1] += 1
    counts[3] = t


_KERNELS = ("bias_relu", "bias_add", "relu_delta", "row_sums", "softmax_ce", "gather", "adam")
# Kernels whose sums may be re-associated (LLVM's "reassoc" flag, nothing else of fastmath): a sum
# Σₙ over a row then runs eight lanes at a time instead of one add after another (a 4-cycle chain
# per element); the result differs from the in-order sum by round-off only, as NumPy's own
# pairwise sums do.
_REASSOC = frozenset({"relu_delta", "row_sums", "softmax_ce"})
# error_model="numpy": x / 0 gives ±inf or NaN as in NumPy (the twins), instead of numba's default
# check-and-raise per division, a branch that keeps a loop from running a vector at a time (Adam's
# update ran one float at a time: 0.25 ms more per step than NumPy's ten passes).
_OPTIONS = {"cache": True, "nogil": True, "error_model": "numpy"}


def get():
    """The compiled kernels (a namespace: ``name`` runs on all cores, ``name_serial`` on one),
    compiled on first use and cached on disk; ``None`` without numba or with MLP_NO_NUMBA set."""
    global _COMPILED, prange
    if _COMPILED is None:
        _COMPILED = False
        if not os.environ.get("MLP_NO_NUMBA"):
            try:
                import numba
            except ImportError:
                return None
            prange = numba.prange
            ns = {}
            for name in _KERNELS:
                fn = globals()["_" + name]
                fm = {"reassoc"} if name in _REASSOC else False
                ns[name] = numba.njit(parallel=True, fastmath=fm, **_OPTIONS)(fn)
                ns[name + "_serial"] = numba.njit(fastmath=fm, **_OPTIONS)(_serial_copy(fn))
            for fn in (_activate, _derivative, _adam_at, _l2_penalty):
                globals()[fn.__name__] = numba.njit(fastmath=False, cache=True, inline="always",
                                                    error_model="numpy")(fn)
            ns["train_tiny"] = numba.njit(fastmath=False, **_OPTIONS)(_train_tiny)
            ns["column_moments"] = numba.njit(fastmath=False, **_OPTIONS)(_column_moments)
            ns["train_batches"] = numba.njit(fastmath={"reassoc"}, **_OPTIONS)(_train_batches)
            _COMPILED = types.SimpleNamespace(**ns)
    return _COMPILED or None


def _serial_copy(fn):
    """The same kernel as a distinct function (numba caches per function object and flags)."""
    clone = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + "_serial", fn.__defaults__)
    clone.__qualname__ = fn.__qualname__ + "_serial"
    return clone


def pick(k, name, size):
    """The parallel kernel ``name`` for ``size`` elements from PARALLEL_MIN on, else its serial twin."""
    return getattr(k, name if size >= PARALLEL_MIN else name + "_serial")


# -- NumPy twins: the same computations as array calls ------------------------------------------
def np_bias_relu(zT, b, hT):
    zT += b[:, None]
    np.maximum(zT, 0, out=hT)


def np_bias_add(zT, b):
    zT += b[:, None]


def np_relu_delta(gT, zT, db):
    np.multiply(gT, zT > 0, out=gT)
    np.sum(gT, axis=1, out=db)


def np_row_sums(deltaT, db):
    np.sum(deltaT, axis=1, out=db)


def np_softmax_ce(zT, labels, pT, deltaT, db, factor):
    m = zT.max(axis=0)
    np.subtract(zT, m, out=pT)
    np.exp(pT, out=pT)
    s = pT.sum(axis=0)
    cols = np.arange(zT.shape[1])
    total = float(np.sum(np.log(s) + m - zT[labels, cols], dtype=np.float64))
    pT /= s
    correct = int(np.count_nonzero(pT.argmax(axis=0) == labels))
    np.multiply(pT, factor, out=deltaT)
    deltaT[labels, cols] = factor * (pT[labels, cols] - 1.0)
    np.sum(deltaT, axis=1, out=db)
    return total, correct


def np_gather(X, idx, out):
    np.take(X, idx, axis=0, out=out) if X.dtype == out.dtype else np.copyto(out, X[idx])


def np_adam(params, grads, m, v, beta1, a1, beta2, a2, step, eps_c):
    m *= beta1
    m += a1 * grads
    v *= beta2
    v += a2 * (grads * grads)
    params -= m / (np.sqrt(v) + eps_c) * step


TWINS = {name: globals()["np_" + name] for name in _KERNELS}
