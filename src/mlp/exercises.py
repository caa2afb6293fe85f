"""Homework checkers: a student's activation or layer against mlp's and finite differences.

This module owns ``check_activation(fn, derivative)`` and ``check_layer(MyDense)``.
Each runs the student's code on fixed inputs, compares every entry with

* the library's reference (an activation from ``mlp.activations``, ``mlp.Dense``), and
* central finite differences of the student's *own* forward function,
  (f(v + ε) − f(v − ε)) / 2ε,

and returns an ``ExerciseReport`` saying exactly which entries are wrong and by
how much — so a wrong derivative is told apart from a wrong forward pass.
An entry is wrong when |got − expected| > tol · max(1, |expected|).

It does not grade or print; ``str(report)`` is the text to show.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field

import numpy as np

from . import activations as _activations
from ._validation import check_positive, is_number
from .layers import Dense

Z_POINTS = np.array([-5.0, -2.0, -1.0, -0.5, -0.1, 0.0, 0.1, 0.5, 1.0, 2.0, 5.0])
"""The z values ``check_activation`` uses by default (0 included: the kink convention)."""


@dataclass
class Mismatch:
    """One wrong entry: which quantity, where, what the student's code gave, what was expected."""

    what: str
    where: str
    got: float
    expected: float

    @property
    def error(self) -> float:
        return abs(self.got - self.expected)

    def __str__(self) -> str:
        return (f"{self.what} at {self.where}: got {self.got:.6g}, expected {self.expected:.6g} "
                f"(off by {self.error:.3g})")


@dataclass
class Check:
    """One comparison: e.g. "σ′(z) vs relu′", with the number of entries and the wrong ones."""

    name: str
    n_entries: int
    mismatches: list = field(default_factory=list)
    problem: str | None = None           # could not compare at all (an error, a wrong shape)

    @property
    def passed(self) -> bool:
        return self.problem is None and not self.mismatches

    def __str__(self) -> str:
        if self.problem:
            return f"✗ {self.name}: {self.problem}"
        if not self.mismatches:
            return f"✓ {self.name}: all {self.n_entries} entries agree"
        worst = max(self.mismatches, key=lambda m: m.error)
        lines = [f"✗ {self.name}: {len(self.mismatches)} of {self.n_entries} entries wrong, "
                 f"worst off by {worst.error:.3g}"]
        lines += [f"    {m}" for m in self.mismatches[:8]]
        if len(self.mismatches) > 8:
            lines.append(f"    … and {len(self.mismatches) - 8} more")
        return "\n".join(lines)


@dataclass
class ExerciseReport:
    """The result of a check: ``ok``, the individual ``checks``, and ``notes``."""

    subject: str
    checks: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def mismatches(self) -> list:
        return [m for c in self.checks for m in c.mismatches]

    def check(self, name: str) -> Check:
        """The check called ``name`` (e.g. ``"dW vs mlp.Dense"``)."""
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(f"no check {name!r}; checks: {[c.name for c in self.checks]}")

    def __str__(self) -> str:
        head = f"{self.subject}: {'all checks passed' if self.ok else 'some checks failed'}"
        return "\n".join([head] + [str(c) for c in self.checks] + [f"  note: {n}" for n in self.notes])


def _compare(name, got, expected, where, tol) -> Check:
    """Entry-by-entry comparison; ``where(i)`` names entry ``i`` (a flat index)."""
    expected = np.asarray(expected, dtype=np.float64)
    try:
        got = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        return Check(name, expected.size, problem=f"not a numeric array ({exc})")
    if got.shape != expected.shape:
        hint = " (transposed?)" if got.shape == expected.shape[::-1] and got.ndim == 2 else ""
        return Check(name, expected.size, problem=f"shape {got.shape}, expected {expected.shape}{hint}")
    bad = ~(np.abs(got - expected) <= tol * np.maximum(1.0, np.abs(expected)))   # NaN counts as bad
    mismatches = [Mismatch(name.split(" vs ")[0], where(i), float(got.flat[i]), float(expected.flat[i]))
                  for i in np.flatnonzero(bad)]
    return Check(name, expected.size, mismatches)


def _call_elementwise(fn, z, notes, label):
    """Call fn on the array z; fall back to one value at a time for scalar-only code."""
    try:
        out = np.asarray(fn(z.copy()), dtype=np.float64)
        if out.shape == z.shape:
            return out
    except Exception:                      # noqa: BLE001 - any student error → try scalars
        pass
    notes.append(f"{label} does not take a NumPy array (or changes its shape): "
                 "called one value at a time")
    return np.array([float(fn(float(v))) for v in z])


def _auto_reference(values, z, tol):
    """The registered element-wise activation equal to ``values`` on ``z``, if any."""
    best, best_err = None, np.inf
    for name in _activations.names():
        act = _activations.get(name)
        if not act.elementwise:
            continue
        err = np.max(np.abs(act(z) - values) / np.maximum(1.0, np.abs(act(z))))
        if err < best_err:
            best, best_err = act, err
    return best if best_err <= tol else None


def check_activation(fn, derivative=None, *, reference=None, z=None, tol: float = 1e-6,
                     eps: float = 1e-6) -> ExerciseReport:
    """Check a student's σ(z) and σ′(z).

    Parameters
    ----------
    fn : callable
        σ, on a NumPy array (or, less ideally, on one float).
    derivative : callable, optional
        σ′, same calling convention.
    reference : str or Activation, optional
        The activation it should equal ("relu", "sigmoid", …). Default: found
        automatically among mlp's activations; if none matches, σ is only used
        to check σ′ by finite differences.
    z : ndarray, optional
        Points to check (default ``Z_POINTS``, −5 … 5 including 0).
    tol, eps : float
        Tolerance per entry; finite-difference step.

    Returns
    -------
    ExerciseReport
        Checks "σ(z) vs <ref>", "σ′(z) vs <ref>′" and "σ′(z) vs finite differences of σ".

    Examples
    --------
    >>> import numpy as np
    >>> report = check_activation(lambda z: np.maximum(z, 0), lambda z: (z >= 0) * 1.0)
    >>> report.ok
    False
    >>> print(report.check("σ′(z) vs relu′").mismatches[0])
    σ′(z) at z = 0: got 1, expected 0 (off by 1)
    """
    check_positive(tol=tol, eps=eps)
    z = Z_POINTS.copy() if z is None else np.asarray(z, dtype=np.float64).ravel()
    if z.size == 0 or not np.all(np.isfinite(z)):
        raise ValueError(f"z must be non-empty and finite (the points to check), got {z}")
    if not callable(fn) or (derivative is not None and not callable(derivative)):
        raise TypeError("check_activation needs callables: fn(z) and derivative(z)")
    report = ExerciseReport("activation")
    where = lambda i: f"z = {z[i]:g}"           # noqa: E731
    try:
        values = _call_elementwise(fn, z, report.notes, "σ")
    except Exception as exc:                       # noqa: BLE001
        report.checks.append(Check("σ(z)", z.size, problem=f"raised {type(exc).__name__}: {exc}"))
        return report
    if reference is None:
        ref = _auto_reference(values, z, tol)
        if ref is None:
            report.notes.append("σ matches none of mlp's activations; σ′ is checked against finite "
                                "differences of your σ only")
    else:
        ref = _activations.get(reference)
    if ref is not None:
        report.subject = f"activation (reference: {ref.name})"
        report.checks.append(_compare(f"σ(z) vs {ref.name}", values, ref(z), where, tol))
    if derivative is None:
        return report
    try:
        slopes = _call_elementwise(derivative, z, report.notes, "σ′")
    except Exception as exc:                       # noqa: BLE001
        report.checks.append(Check("σ′(z)", z.size, problem=f"raised {type(exc).__name__}: {exc}"))
        return report
    if ref is not None:
        report.checks.append(_compare(f"σ′(z) vs {ref.name}′", slopes, ref.derivative(z), where, tol))
        if ref.name in ("relu", "leaky_relu") and np.any(z == 0):
            at_kink = ref.derivative(np.zeros(1))[0]
            report.notes.append(f"at the kink z = 0 the lecture uses σ′(0) = {at_kink:g}")
    # Central differences of the student's own σ; skip kinks, where left and right slopes differ.
    up = _call_elementwise(fn, z + eps, [], "σ")
    down = _call_elementwise(fn, z - eps, [], "σ")
    at = _call_elementwise(fn, z, [], "σ")
    left, right = (at - down) / eps, (up - at) / eps
    smooth = np.abs(left - right) <= 1e-3 * np.maximum(1.0, np.abs(left))
    if not np.all(smooth):
        report.notes.append("σ has a kink at " + ", ".join(f"z = {v:g}" for v in z[~smooth])
                            + ": not checked by finite differences there")
    numeric = (up - down) / (2 * eps)
    keep = np.flatnonzero(smooth)
    report.checks.append(_compare("σ′(z) vs finite differences of σ", slopes[keep], numeric[keep],
                                  lambda i: f"z = {z[keep[i]]:g}", max(tol, 1e-5)))
    return report


def _numeric_grad(f, v, eps):
    """Central differences of the scalar f() w.r.t. each entry of the array v (in place)."""
    g = np.zeros_like(v, dtype=np.float64)
    for i in np.ndindex(v.shape):
        old = v[i]
        v[i] = old + eps
        up = f()
        v[i] = old - eps
        down = f()
        v[i] = old
        g[i] = (up - down) / (2 * eps)
    return g


def _make_layer(layer_cls, n_in, n_out, activation):
    if activation is None:
        return layer_cls(n_in, n_out)
    return layer_cls(n_in, n_out, activation)


def check_layer(layer_cls, activation=None, *, n_in: int = 3, n_out: int = 2, n: int = 4, seed: int = 0,
                tol: float = 1e-6, eps: float = 1e-6) -> ExerciseReport:
    """Check a student's dense layer: forward, and backward's ∂loss/∂x, ∂loss/∂W, ∂loss/∂b.

    The layer class must follow mlp's ``Dense`` convention:

    * ``layer = MyDense(n_in, n_out)`` (or ``MyDense(n_in, n_out, activation)`` when
      ``activation`` is given); attributes ``W`` of shape (n_out, n_in) and ``b`` of
      shape (n_out,), which the checker sets;
    * ``h = layer.forward(X)``: X of shape (n, n_in) → h = σ(X Wᵀ + b) of shape (n, n_out);
    * ``dX = layer.backward(dH)``: dH = ∂loss/∂h of shape (n, n_out) → ∂loss/∂X of
      shape (n, n_in), and it sets ``layer.dW`` (∂loss/∂W) and ``layer.db``.

    Every entry is compared with ``mlp.Dense`` and with finite differences of the
    student's own forward for the loss L = Σ dH ⊙ forward(X).

    Examples
    --------
    >>> import numpy as np
    >>> class MyDense:
    ...     def __init__(self, n_in, n_out):
    ...         self.W, self.b = np.zeros((n_out, n_in)), np.zeros(n_out)
    ...     def forward(self, X):
    ...         self.X = X
    ...         return X @ self.W.T + self.b
    ...     def backward(self, dH):
    ...         self.dW, self.db = dH.T @ self.X, dH[0]      # bug: db must sum over the batch
    ...         return dH @ self.W
    >>> report = check_layer(MyDense)
    >>> [c.name for c in report.checks if not c.passed]
    ['db vs mlp.Dense', 'db vs finite differences']
    """
    check_positive(tol=tol, eps=eps)
    if not is_number(n, integer=True) or n < 1:
        raise ValueError(f"n (the number of examples) must be an int ≥ 1, got {n!r}")
    if not callable(layer_cls):
        raise TypeError("check_layer needs a layer class (or a function making a layer)")
    rng = np.random.default_rng(seed)
    act = _activations.get(activation)
    name = getattr(layer_cls, "__name__", type(layer_cls).__name__)
    report = ExerciseReport(f"layer {name}({n_in}, {n_out}{', ' + act.name if activation else ''})")
    try:
        layer = _make_layer(layer_cls, n_in, n_out, activation)
    except Exception as exc:                       # noqa: BLE001
        sig = ""
        if inspect.isclass(layer_cls):
            sig = f" (its signature: {inspect.signature(layer_cls)})"
        report.checks.append(Check("construction", 1, problem=f"{name}({n_in}, {n_out}"
                                   f"{', ' + repr(activation) if activation else ''}) raised "
                                   f"{type(exc).__name__}: {exc}{sig}"))
        return report
    W, b = rng.normal(0, 1, (n_out, n_in)), rng.normal(0, 0.5, n_out)
    X, dH = rng.normal(0, 1, (n, n_in)), rng.normal(0, 1, (n, n_out))
    layer.W, layer.b = W.copy(), b.copy()
    if np.asarray(layer.W).dtype == np.float32:     # finite differences need a larger step
        eps, tol = max(eps, 1e-3), max(tol, 1e-5)
        report.notes.append("the layer computes in float32: finite-difference step 1e-3, "
                            "tolerances loosened to match")
    ref = Dense(n_in, n_out, act, init="zeros", dtype=np.float64)
    ref.W, ref.b = W, b
    h_ref = ref.forward(X.copy())
    dX_ref = ref.backward(dH.copy())

    def at(prefix):
        return lambda shape: (lambda i: f"{prefix}[{', '.join(map(str, np.unravel_index(i, shape)))}]")

    def run(stage, fn):
        try:
            return fn(), None
        except Exception as exc:                   # noqa: BLE001
            return None, f"{stage} raised {type(exc).__name__}: {exc}"

    h, problem = run("forward", lambda: layer.forward(X.copy()))
    if problem:
        report.checks.append(Check("forward h", h_ref.size, problem=problem))
        return report
    report.checks.append(_compare("h vs mlp.Dense", h, h_ref, at("h")(h_ref.shape), tol))
    dX, problem = run("backward", lambda: layer.backward(dH.copy()))
    if problem:
        report.checks.append(Check("backward", dX_ref.size, problem=problem))
        return report
    grads = {"dX": dX, "dW": getattr(layer, "dW", None), "db": getattr(layer, "db", None)}
    refs = {"dX": dX_ref, "dW": ref.dW, "db": ref.db}
    for key in ("dX", "dW", "db"):
        if grads[key] is None:
            what = "backward returned None" if key == "dX" else f"layer.{key} was not set by backward"
            report.checks.append(Check(f"{key} vs mlp.Dense", refs[key].size, problem=what))
        else:
            report.checks.append(_compare(f"{key} vs mlp.Dense", grads[key], refs[key],
                                          at(key)(refs[key].shape), tol))
    # Finite differences of the student's own forward, L = Σ dH ⊙ forward(X).
    Xv, Wv, bv = X.copy(), W.copy(), b.copy()

    def loss():
        layer.W, layer.b = Wv, bv
        return float(np.sum(dH * np.asarray(layer.forward(Xv.copy()), dtype=np.float64)))

    numeric = {"dX": _numeric_grad(loss, Xv, eps), "dW": _numeric_grad(loss, Wv, eps),
               "db": _numeric_grad(loss, bv, eps)}
    for key in ("dX", "dW", "db"):
        if grads[key] is not None:
            report.checks.append(_compare(f"{key} vs finite differences", grads[key], numeric[key],
                                          at(key)(numeric[key].shape), max(tol, 1e-5, 3 * eps)))
    return report
