"""Input checks that raise one clear ``ValueError``/``TypeError`` naming the problem.

Every public entry point that takes data (forward, loss_and_grad, fit, predict)
passes it through here first, so a wrong width, a 3-D array, NaN, an empty batch
or a label out of range never reaches NumPy as a broadcasting traceback or a
silent wrong answer.
"""

from __future__ import annotations

import math

import numpy as np


def as_array(a, what: str) -> np.ndarray:
    """``np.asarray`` that refuses non-numeric data with a ``TypeError``."""
    try:
        arr = np.asarray(a)
    except ValueError as exc:   # ragged nested lists
        raise ValueError(f"{what} is ragged or malformed: {exc}") from None
    if arr.dtype == bool:
        return arr.astype(np.float64)
    if arr.dtype.kind not in "iuf":    # not complex, nor datetime64/timedelta64 (NumPy "numbers")
        raise TypeError(f"{what} must be a real numeric array, got dtype {arr.dtype}")
    return arr


def check_network(net, who: str) -> None:
    """``TypeError`` naming ``who`` unless ``net`` looks like a ``mlp.Network``.

    Duck-typed (layers, the flat ``params``/``grads`` and ``n_in``/``n_out``), so that this
    bottom-layer module never imports ``mlp.network``: a Network passes, a tuple, an array
    or a scikit-learn estimator does not.
    """
    if not all(hasattr(net, a) for a in ("layers", "params", "grads", "n_in", "n_out", "forward")) \
            or not isinstance(getattr(net, "params", None), np.ndarray):
        raise TypeError(f"{who} needs a mlp.Network, got {type(net).__name__}")


def is_number(value, *, integer: bool = False) -> bool:
    """A real number (Python or NumPy), not a bool; with ``integer`` an int only."""
    if isinstance(value, (bool, np.bool_)):
        return False
    return isinstance(value, (int, np.integer) if integer else (int, float, np.integer, np.floating))


def check_number(name: str, value, *, integer: bool = False, low=None, high=None,
                 low_open: bool = False, high_open: bool = False, finite: bool = True,
                 expected: str | None = None, error: type = ValueError):
    """``value`` as a float (an int with ``integer``), else one ``error`` naming ``name``.

    The one number check of the package (it replaced ~29 inline copies of
    ``isinstance(v, bool) or not isinstance(v, (int, float)) or not ...``): a bool is never a
    number; ``low``/``high`` bound it (``low_open``/``high_open``: strictly); ``finite``
    refuses NaN and ±inf. The message is ``"{name} must be {expected}, got {value!r}"``,
    ``expected`` defaulting to a description of the bounds (``"a finite number >= 0"``,
    ``"an int >= 1"``).
    """
    ok = is_number(value, integer=integer)
    if ok:
        v = int(value) if integer else float(value)
        ok = not (finite and not integer and not math.isfinite(v)) and not math.isnan(v) \
            and (low is None or (v > low if low_open else v >= low)) \
            and (high is None or (v < high if high_open else v <= high))
    if not ok:
        if expected is None:
            kind = "an int" if integer else ("a finite number" if finite else "a number")
            bounds = []
            if low is not None:
                bounds.append(f"{'>' if low_open else '>='} {low:g}")
            if high is not None:
                bounds.append(f"{'<' if high_open else '<='} {high:g}")
            expected = " ".join([kind, " and ".join(bounds)]).strip()
        raise error(f"{name} must be {expected}, got {value!r}")
    return v


def check_positive(**values) -> None:
    """Each value a finite real number > 0 (not a bool), else ``ValueError`` naming it."""
    for name, v in values.items():
        check_number(name, v, low=0, low_open=True)


def as_floats(a, what: str) -> np.ndarray:
    """``a`` as a float array: a list, or integers (which ``astype(z.dtype)`` would truncate),
    become float64; text and complex numbers raise ``TypeError`` (``as_array``)."""
    if type(a) is np.ndarray and a.dtype.kind == "f":
        return a
    a = as_array(a, what)
    return a if a.dtype.kind == "f" else a.astype(np.float64)


def assign(target: np.ndarray, value, what: str) -> None:
    """Copy ``value`` into the parameter (or gradient) view ``target``, refusing what would not fit.

    One clear error for a wrong shape, complex or non-numeric data (which NumPy would
    truncate or fail on), and finite values too large for ``target``'s dtype (which
    would silently become ±inf in float32). NaN and ±inf given as such are copied.
    """
    arr = as_array(value, what)
    if arr.shape != target.shape:
        raise ValueError(f"{what} must have shape {target.shape}, got {arr.shape}")
    with np.errstate(over="ignore"):
        cast = arr.astype(target.dtype, copy=False)
    if not all_finite(cast) and np.any(np.isfinite(arr) & ~np.isfinite(cast)):
        limit = np.finfo(target.dtype).max
        raise ValueError(f"{what} has values too large for {target.dtype} "
                         f"(largest magnitude {np.abs(arr).max():g}; the limit is {limit:g})")
    target[...] = cast


def check_X(X, n_in: int, dtype, what: str = "X") -> tuple[np.ndarray, bool]:
    """Validate inputs; return them as a 2-D array of ``dtype`` and whether one example was given.

    Accepts one example of shape ``(n_in,)`` or a batch of shape ``(n, n_in)``.
    """
    arr = as_array(X, what)
    single = arr.ndim == 1
    if single:
        arr = arr[None, :]
    elif arr.ndim != 2:
        raise ValueError(
            f"{what} must be 1-D (one example) or 2-D (n, n_in), got {arr.ndim}-D shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{what} is empty: 0 examples")
    if arr.shape[1] != n_in:
        raise ValueError(
            f"{what} has {arr.shape[1]} features per example, but the network expects {n_in}")
    arr = arr.astype(dtype, copy=False)
    if not all_finite(arr):
        raise ValueError(f"{what} contains NaN or infinite values")
    return arr, single


def all_finite(arr: np.ndarray) -> bool:
    """``np.isfinite(arr).all()`` for a 2-D float array, without its temporary for large ones.

    A NaN or ±inf anywhere makes the column sums 1ᵀ X NaN or ±inf, so finite sums prove
    every entry finite; this is one matrix–vector product (multi-threaded BLAS) instead
    of a boolean array as large as the data set. Sums that overflow on finite data send
    the check to the exact element-wise test (as scikit-learn's ``assert_all_finite``).
    """
    if arr.size < 1 << 16 or arr.ndim != 2:
        return bool(np.isfinite(arr).all())
    with np.errstate(over="ignore", invalid="ignore"):
        total = float((np.ones(arr.shape[0], arr.dtype) @ arr).sum())
    return math.isfinite(total) or bool(np.isfinite(arr).all())


def check_y(y, n: int, n_out: int, dtype, *, labels: bool = False, what: str = "y") -> np.ndarray:
    """Validate targets for ``n`` examples and ``n_out`` outputs.

    With ``labels=True`` (cross-entropy) integer class labels of shape ``(n,)`` are
    accepted and range-checked, else targets are returned with shape ``(n, n_out)``.
    """
    arr = as_array(y, what)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} contains NaN or infinite values")
    if labels and arr.ndim == 1 or (labels and arr.ndim == 2 and arr.shape[1] == 1 and n_out > 1):
        arr = arr.reshape(-1)
        if arr.shape[0] != n:
            raise ValueError(f"{what} has {arr.shape[0]} labels but X has {n} examples")
        if not np.all(arr == np.round(arr)):
            raise ValueError(f"{what} class labels must be integers 0..{n_out - 1}")
        if arr.size and (arr.min() < 0 or arr.max() >= n_out):
            raise ValueError(
                f"{what} has class labels out of range: found {arr.min():g}..{arr.max():g}, "
                f"the network has {n_out} outputs (labels 0..{n_out - 1})")
        return arr.astype(np.intp)
    if labels and arr.shape == (n, n_out):
        check_probability_rows(arr, what)
    if arr.ndim == 1 and n_out == 1:
        arr = arr[:, None]
    if arr.ndim == 0 and n == 1 and n_out == 1:
        arr = arr.reshape(1, 1)
    if arr.ndim == 1 and n == 1 and arr.shape[0] == n_out:
        arr = arr[None, :]
    if arr.shape != (n, n_out):
        raise ValueError(
            f"{what} has shape {arr.shape}, expected ({n}, {n_out}) for {n} examples "
            f"and {n_out} outputs")
    return arr.astype(dtype, copy=False)


def check_probability_rows(arr: np.ndarray, what: str) -> None:
    """Cross-entropy targets given as rows (one-hot or soft labels): each row a distribution.

    The fused gradient ∂loss/∂z = p − y holds only when Σₖ yₖ = 1 (in general it is
    p Σₖ yₖ − y), and a negative yₖ makes the loss unbounded below.
    """
    if np.any(arr < 0) or np.any(arr > 1):
        raise ValueError(f"{what} rows for cross_entropy must be probabilities in [0, 1] "
                         f"(one-hot or soft labels), found {arr.min():g}..{arr.max():g}")
    sums = arr.sum(axis=1, dtype=np.float64)
    bad = np.flatnonzero(np.abs(sums - 1) > 1e-3)
    if bad.size:
        raise ValueError(f"{what} rows for cross_entropy must each sum to 1 (one-hot or soft labels); "
                         f"row {bad[0]} sums to {sums[bad[0]]:g}")


def check_sample_weight(sample_weight, n: int, dtype) -> np.ndarray | None:
    """Validate per-example weights of shape (n,): finite and non-negative."""
    if sample_weight is None:
        return None
    w = as_array(sample_weight, "sample_weight")
    if w.shape != (n,):
        raise ValueError(f"sample_weight must have shape ({n},), got {np.shape(sample_weight)}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("sample_weight must be finite and non-negative")
    return w.astype(dtype, copy=False)
