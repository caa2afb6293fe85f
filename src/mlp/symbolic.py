"""The lecture's algebra with SymPy: ŷ, ∂ŷ/∂p and ∂loss/∂p written in lecture names.

This module owns the symbolic view of a small network (the ``symbolic`` extra,
SymPy, imported only when a function here is called). Inputs are the symbols
``x1, x2, …``, parameters the lecture names ``w1, …, b3`` (``Network.param_names``
order), and σ stays a *named* function whose derivative is the named function σ′,
so that the derivative reads like the slide:

    ŷ = w5·σ(w1·x1 + w2·x2 + b1) + w6·σ(w3·x1 + w4·x2 + b2) + b3
    ∂ŷ/∂w1 = w5·σ′(w1·x1 + w2·x2 + b1)·x1

When a network uses one nonlinear activation it is printed ``σ``; with several,
each is printed by its name (``relu``, ``tanh``). ``piecewise`` writes ReLU and
σ′ = ReLU′ out as cases (``0 if z ≤ 0, w5·x1 if z > 0``), ``to_latex`` gives LaTeX,
and ``evaluate`` turns any of these expressions into numbers at the network's
current parameters — which equal backpropagation's (the tests check every
parameter of many nets to 1e-9). Losses over a data set are written as a SymPy
``Sum`` over examples ``i = 1 … n`` with the data as ``x[i, j]`` and ``y[i, k]``.

It does not own the numbers: the network, its forward pass and its gradients
live in ``mlp.network``; this module only re-derives them.
"""

from __future__ import annotations

import functools

import numpy as np

from . import losses as _losses
from ._validation import check_network, check_X, check_y, is_number
from .activations import Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Softplus, Tanh

MAX_PARAMS = 64
"""Largest network (number of parameters) the functions here accept by default."""

_KINDS = {ReLU: "relu", LeakyReLU: "leaky_relu", Sigmoid: "sigmoid", Tanh: "tanh", Softplus: "softplus"}


def _sympy():
    try:
        import sympy
    except ImportError as exc:  # pragma: no cover - sympy is installed in development
        raise ImportError("mlp.symbolic needs SymPy: pip install 'mlp[symbolic]'") from exc
    return sympy


def _formula(kind: str, slope: float, z, derivative: bool):
    """σ(z) or σ′(z) of one activation as a plain SymPy formula (for numbers)."""
    sp = _sympy()
    # ReLU as a Heaviside step H(z) with H(0) = 0: ReLU′(0) = 0, as on the slide (and cheap
    # for SymPy, unlike nested Piecewise).
    step = sp.Heaviside(z, 0)
    if kind == "relu":
        return step if derivative else z * step
    if kind == "leaky_relu":
        slope_part = slope + (1 - slope) * step
        return slope_part if derivative else z * slope_part
    if kind == "sigmoid":
        return sp.exp(-z) / (1 + sp.exp(-z)) ** 2 if derivative else 1 / (1 + sp.exp(-z))
    if kind == "tanh":
        return 1 - sp.tanh(z) ** 2 if derivative else sp.tanh(z)
    if kind == "softplus":
        return 1 / (1 + sp.exp(-z)) if derivative else sp.log(1 + sp.exp(z))
    raise ValueError(f"no formula for activation {kind!r}")  # pragma: no cover


@functools.cache
def _bases():
    """The two SymPy function base classes (made on first use: SymPy is optional)."""
    sp = _sympy()

    def latex(self, printer, exp=None, **kwargs):
        name = self.display
        name = {"σ": r"\sigma"}.get(name, rf"\operatorname{{{name.replace('_', r'_')}}}")
        prime = "'" if self.is_prime else ""
        out = rf"{name}{prime}\left({printer._print(self.args[0])}\right)"
        return out if exp is None else rf"{out}^{{{exp}}}"

    class NamedActivation(sp.Function):
        """σ(z) of one activation, printed by its display name; derivative: σ′(z)."""

        nargs = 1
        is_prime = False
        kind, slope, display, prime = "relu", 0.0, "σ", None

        def fdiff(self, argindex=1):
            return self.prime(self.args[0])

        def concrete(self):
            return _formula(self.kind, self.slope, self.args[0], derivative=False)

        def cases(self):
            z = self.args[0]
            low = self.slope * z if self.kind == "leaky_relu" else 0
            return sp.Piecewise((low, z <= 0), (z, z > 0))

        _latex = latex

    class NamedDerivative(sp.Function):
        """σ′(z) of one activation, printed by its display name with a prime."""

        nargs = 1
        is_prime = True
        kind, slope, display = "relu", 0.0, "σ"

        def concrete(self):
            return _formula(self.kind, self.slope, self.args[0], derivative=True)

        def cases(self):
            z = self.args[0]
            low = self.slope if self.kind == "leaky_relu" else 0
            return sp.Piecewise((low, z <= 0), (1, z > 0))

        _latex = latex

    return NamedActivation, NamedDerivative


@functools.cache
def _function(kind: str, slope: float, display: str):
    """The SymPy function class σ (with σ′ attached) of one activation and display name."""
    NamedActivation, NamedDerivative = _bases()
    attrs = {"kind": kind, "slope": slope, "display": display, "nargs": 1}
    prime = type(display + "′", (NamedDerivative,), dict(attrs))
    return type(display, (NamedActivation,), dict(attrs, prime=prime))


def _kind(activation) -> tuple[str, float]:
    for cls, kind in _KINDS.items():
        if type(activation) is cls:
            return kind, float(getattr(activation, "negative_slope", 0.0))
    raise ValueError(f"mlp.symbolic has no formula for the activation {activation.name!r}; "
                     f"known: identity, softmax, {', '.join(_KINDS.values())}")


def _functions(net, sigma: str) -> dict:
    """Map layer index → SymPy function class for each nonlinear element-wise layer."""
    if sigma not in ("auto", "names"):
        raise ValueError(f"sigma must be 'auto' or 'names', got {sigma!r}")
    kinds = {i: _kind(layer.activation) for i, layer in enumerate(net.layers)
             if not isinstance(layer.activation, (Identity, Softmax))}
    one = sigma == "auto" and len(set(kinds.values())) == 1
    return {i: _function(kind, slope, "σ" if one else kind) for i, (kind, slope) in kinds.items()}


def _check_size(net, max_params: int) -> None:
    check_network(net, "mlp.symbolic")
    if not is_number(max_params, integer=True):
        raise TypeError(f"max_params must be an int, got {max_params!r}")
    if net.n_params > max_params:
        raise ValueError(f"the network has {net.n_params} parameters; symbolic expressions are "
                         f"meant for small networks (at most max_params={max_params})")


def param_symbols(net) -> list:
    """The SymPy symbols ``w1, …, b_m`` of ``net``, in ``net.param_names()`` order."""
    sp = _sympy()
    return [sp.Symbol(name) for name in net.param_names()]


def input_symbols(net) -> list:
    """The SymPy symbols ``x1, …, x_{n_in}``."""
    sp = _sympy()
    return [sp.Symbol(f"x{j}") for j in range(1, net.n_in + 1)]


def _forward(net, xs, sigma="auto"):
    """Symbolic forward pass: lists of z and h column matrices, one per layer."""
    sp = _sympy()
    p = param_symbols(net)
    functions = _functions(net, sigma)
    w_at, b_at = 0, sum(layer.n_out * layer.n_in for layer in net.layers)
    h, zs, hs = sp.Matrix(xs), [], []
    for i, layer in enumerate(net.layers):
        W = sp.Matrix(layer.n_out, layer.n_in, p[w_at:w_at + layer.n_out * layer.n_in])
        b = sp.Matrix(p[b_at:b_at + layer.n_out])
        w_at, b_at = w_at + layer.n_out * layer.n_in, b_at + layer.n_out
        z = W * h + b                                  # z = W x + b, as on the slide
        if isinstance(layer.activation, Identity):
            h = z
        elif isinstance(layer.activation, Softmax):    # p_k = e^(z_k) / Σ_j e^(z_j)
            e = z.applyfunc(sp.exp)
            h = e / sum(e)
        else:
            h = z.applyfunc(functions[i])
        zs.append(z)
        hs.append(h)
    return zs, hs


def _scalar_or_matrix(m):
    return m[0] if m.shape == (1, 1) else m


def expression(net, *, sigma: str = "auto", max_params: int = MAX_PARAMS):
    """ŷ as a SymPy expression of ``x1, x2, …`` and the lecture names ``w1, …, b_m``.

    Parameters
    ----------
    net : Network
        At most ``max_params`` parameters.
    sigma : {"auto", "names"}
        "auto" prints the activation as σ when the network uses only one nonlinear
        one; "names" always prints its name (``relu``, ``tanh``).

    Returns
    -------
    sympy.Expr for one output, else a column ``sympy.Matrix`` of shape (n_out, 1).

    Examples
    --------
    >>> import mlp
    >>> from mlp.demo import xor_by_hand
    >>> print(expression(xor_by_hand()))
    b3 + w5*σ(b1 + w1*x1 + w2*x2) + w6*σ(b2 + w3*x1 + w4*x2)
    """
    _check_size(net, max_params)
    return _scalar_or_matrix(_forward(net, input_symbols(net), sigma)[1][-1])


def _symbol(net, name):
    if not isinstance(name, str):
        raise TypeError(f"parameter name must be a string like 'w1', got {type(name).__name__}")
    return param_symbols(net)[net.param_index(name)]


def derivative(net, name: str, *, output: int | None = None, sigma: str = "auto",
               max_params: int = MAX_PARAMS):
    """∂ŷ/∂p for the parameter with lecture name ``name`` (``"w1"``), by the chain rule.

    For the lecture's 2-2-1 net ``derivative(net, "w1")`` is
    ``w5·σ′(w1·x1 + w2·x2 + b1)·x1``.

    Parameters
    ----------
    net : Network
    name : str
        A name from ``net.param_names()``.
    output : int, optional
        Which output ŷ_k (0-based) for a network with several; default all of them
        (a Matrix), or the single output.

    Examples
    --------
    >>> from mlp.demo import xor_by_hand
    >>> print(derivative(xor_by_hand(), "w1"))
    w5*x1*σ′(b1 + w1*x1 + w2*x2)
    """
    _check_size(net, max_params)
    p = _symbol(net, name)
    y_hat = _forward(net, input_symbols(net), sigma)[1][-1]
    if output is not None:
        if not is_number(output, integer=True):
            raise TypeError(f"output must be an int in 0..{net.n_out - 1}, got {output!r}")
        if not 0 <= output < net.n_out:
            raise ValueError(f"output must be in 0..{net.n_out - 1}, got {output}")
        return y_hat[output].diff(p)
    return _scalar_or_matrix(y_hat.diff(p))


def _per_example_loss(net, loss, xs, ys, sigma):
    """One example's loss (before the reduction's 1/n) as a SymPy expression."""
    sp = _sympy()
    zs, hs = _forward(net, xs, sigma)
    z, y_hat = zs[-1], hs[-1]
    k = range(net.n_out)
    if isinstance(loss, _losses.MSE):                  # ½ Σ (ŷ − y)², Σ (ŷ − y)², or the mean's sum
        s = sum((y_hat[j] - ys[j]) ** 2 for j in k)
        return s / 2 if loss.reduction == "half_sum" else s
    if isinstance(loss, _losses.CrossEntropy):         # −Σ y_k log p_k, log p_k = z_k − log Σ_j e^(z_j)
        lse = sp.log(sum(sp.exp(z[j]) for j in k))
        return -sum(ys[j] * (z[j] - lse) for j in k)
    if isinstance(loss, _losses.BinaryCrossEntropy):   # −Σ [y log ŷ + (1 − y) log(1 − ŷ)]
        return -sum(ys[j] * sp.log(y_hat[j]) + (1 - ys[j]) * sp.log(1 - y_hat[j]) for j in k)
    raise ValueError(f"mlp.symbolic knows the losses mse, cross_entropy and "
                     f"binary_cross_entropy, not {loss!r}")


def _reduction(loss, n, n_out):
    """The factor in front of the sum over examples (1/n for a mean)."""
    if loss.reduction != "mean":
        return 1
    return 1 / n if isinstance(loss, _losses.CrossEntropy) else 1 / (n * n_out)


def _data_symbols():
    sp = _sympy()
    i = sp.Symbol("i", integer=True, positive=True)
    n = sp.Symbol("n", integer=True, positive=True)
    return i, n, sp.IndexedBase("x"), sp.IndexedBase("y")


def _loss_parts(net, loss, sigma, max_params):
    """(factor, summand) of the loss written as factor · Σᵢ summand over examples i = 1 … n."""
    _check_size(net, max_params)
    loss = _losses.get(loss)
    loss.check_output(net.layers[-1].activation)
    i, n, x, y = _data_symbols()
    per = _per_example_loss(net, loss, [x[i, j] for j in range(1, net.n_in + 1)],
                            [y[i, k] for k in range(1, net.n_out + 1)], sigma)
    coeff, summand = per.as_coeff_Mul()              # keep the lecture's ½ outside the Σ
    return coeff * _reduction(loss, n, net.n_out), summand


def loss_expression(net, loss="mse", *, sigma: str = "auto", max_params: int = MAX_PARAMS):
    """The loss over a data set as a SymPy ``Sum`` over examples i = 1 … n.

    Example i is written ``x[i, 1], x[i, 2], …`` with targets ``y[i, 1], …``. For
    ``"mse"`` (the lecture's f_MSE): ``½ Σᵢ (ŷ⁽ⁱ⁾ − y⁽ⁱ⁾)²``; the loss object's
    reduction decides the factor (a mean divides by n, or n·n_out).

    Examples
    --------
    >>> import mlp
    >>> net = mlp.Network([mlp.Dense(1, 1)])
    >>> print(loss_expression(net))
    Sum((b1 + w1*x[i, 1] - y[i, 1])**2, (i, 1, n))/2
    """
    sp = _sympy()
    factor, summand = _loss_parts(net, loss, sigma, max_params)
    i, n, _, _ = _data_symbols()
    return factor * sp.Sum(summand, (i, 1, n))


def loss_derivative(net, name: str, loss="mse", *, sigma: str = "auto", max_params: int = MAX_PARAMS):
    """∂loss/∂p summed over examples: for MSE, Σᵢ (ŷ⁽ⁱ⁾ − y⁽ⁱ⁾) ∂ŷ⁽ⁱ⁾/∂p.

    A SymPy ``Sum`` over i = 1 … n (see ``loss_expression``); ``evaluate(expr, net,
    X, y)`` gives its value on a data set, equal to backprop's ``grads`` entry.

    Examples
    --------
    >>> import mlp
    >>> net = mlp.Network([mlp.Dense(1, 1)])
    >>> print(loss_derivative(net, "w1"))
    Sum((b1 + w1*x[i, 1] - y[i, 1])*x[i, 1], (i, 1, n))
    """
    sp = _sympy()
    factor, summand = _loss_parts(net, loss, sigma, max_params)
    coeff, rest = summand.diff(_symbol(net, name)).as_coeff_Mul()   # ½ · 2 → 1
    i, n, _, _ = _data_symbols()
    return factor * coeff * sp.Sum(rest, (i, 1, n))


def piecewise(expr):
    """Write ReLU (and leaky ReLU) and their σ′ out as cases, as on the slide.

    ``w5·σ′(w1·x1 + w2·x2 + b1)·x1`` becomes ``0 if w1·x1 + w2·x2 + b1 ≤ 0,
    w5·x1 if w1·x1 + w2·x2 + b1 > 0``. Other activations are left as they are.

    Examples
    --------
    >>> from mlp.demo import xor_by_hand
    >>> print(piecewise(derivative(xor_by_hand(), "w1")))
    Piecewise((0, b1 + w1*x1 + w2*x2 <= 0), (w5*x1, b1 + w1*x1 + w2*x2 > 0))
    """
    sp = _sympy()
    if not isinstance(expr, (sp.Basic, sp.MatrixBase)):
        raise TypeError(f"piecewise takes a SymPy expression from mlp.symbolic, e.g. "
                        f"derivative(net, 'w1'); got {type(expr).__name__}")
    NamedActivation, NamedDerivative = _bases()
    out = expr.replace(lambda e: isinstance(e, (NamedActivation, NamedDerivative))
                       and e.kind in ("relu", "leaky_relu"), lambda e: e.cases())
    if isinstance(out, sp.MatrixBase):
        return out.applyfunc(_fold)
    return _fold(out)


def _fold(expr):
    """``piecewise_fold``, then spell a last "otherwise" out as the slide does (``z > 0``)."""
    sp = _sympy()
    out = sp.piecewise_fold(expr)
    if isinstance(out, sp.Piecewise) and len(out.args) == 2 and out.args[1].cond is sp.true \
            and isinstance(out.args[0].cond, sp.core.relational.Relational):
        (low, cond), (high, _) = out.args
        return sp.Piecewise((low, cond), (high, cond.negated), evaluate=False)
    return out


def to_latex(expr) -> str:
    """LaTeX for an expression from this module (σ as ``\\sigma``, w1 as ``w_{1}``).

    Examples
    --------
    >>> from mlp.demo import xor_by_hand
    >>> to_latex(derivative(xor_by_hand(), "w1"))
    "w_{5} x_{1} \\\\sigma'\\\\left(b_{1} + w_{1} x_{1} + w_{2} x_{2}\\\\right)"
    """
    return _sympy().latex(expr)


def concrete(expr):
    """Replace the named σ and σ′ by their formulas (e.g. tanh′(z) → 1 − tanh(z)²)."""
    NamedActivation, NamedDerivative = _bases()
    return expr.replace(lambda e: isinstance(e, (NamedActivation, NamedDerivative)),
                        lambda e: e.concrete())


def substitute(expr, net):
    """``expr`` with every parameter replaced by its current value in ``net``."""
    sp = _sympy()
    values = {s: sp.Float(float(v)) for s, v in zip(param_symbols(net), net.params)}
    return expr.xreplace(values)


def _targets(y, n, n_out, labels=True):
    """Targets as float64 (n, n_out); class labels (n,) become one-hot rows when ``labels``
    (one example's target row of shape (n_out,) stays a row, as in ``check_y``)."""
    arr = np.asarray(y)
    if labels and arr.ndim == 1 and n_out > 1 and not (n == 1 and arr.shape[0] == n_out):
        labels = check_y(arr, n, n_out, np.float64, labels=True)
        return np.eye(n_out)[labels]
    return check_y(arr, n, n_out, np.float64)


def _select(condlist, choicelist, default=np.nan):
    """``numpy.select`` that also takes scalar conditions (a Piecewise whose condition
    does not depend on the data), broadcasting everything to one shape."""
    arrays = np.broadcast_arrays(*condlist, *choicelist)
    k = len(condlist)
    return np.select([c.astype(bool) for c in arrays[:k]], arrays[k:], default=default)


class _Logical:
    """``numpy.logical_and``/``logical_or`` whose ``reduce`` broadcasts its operands: a
    condition that does not depend on the data (``b3 ≤ 0`` in a deeper ReLU net) is a
    scalar beside (n,) arrays, which ``numpy.logical_and.reduce`` refuses."""

    def __init__(self, ufunc):
        self.ufunc = ufunc

    def __call__(self, *args):
        return self.ufunc(*args)

    def reduce(self, operands):
        return functools.reduce(self.ufunc, operands)


def _lambdify(args, expr):
    # cse: common subexpressions (every σ(z) appears many times) computed once
    logical = {"logical_and": _Logical(np.logical_and), "logical_or": _Logical(np.logical_or)}
    return _sympy().lambdify(args, expr, modules=[{"select": _select, **logical}, "numpy"], cse=True)


def evaluate(expr, net, X=None, y=None):
    """The value of a symbolic expression at ``net``'s current parameters (float64).

    Parameters
    ----------
    expr : sympy expression or Matrix
        From ``expression``, ``derivative``, ``loss_expression`` or ``loss_derivative``.
    net : Network
        Its ``params`` give the values of ``w1, …, b_m``.
    X : ndarray of shape (n_in,) or (n, n_in)
        Values of ``x1, x2, …`` (one example or a batch), and the data of a ``Sum``
        over examples.
    y : ndarray of shape (n, n_out), (n,) targets or class labels
        Needed when ``expr`` is a loss (it contains ``y[i, k]``).

    Returns
    -------
    float, or ndarray: shape (n,) for a batch; a Matrix gives (n_out,) or (n, n_out).
    """
    sp = _sympy()
    if not isinstance(expr, (sp.Basic, sp.MatrixBase, int, float, str)):
        raise TypeError(f"evaluate takes a SymPy expression from mlp.symbolic, e.g. "
                        f"derivative(net, 'w1'); got {type(expr).__name__}")
    if isinstance(expr, sp.MatrixBase):
        parts = [evaluate(e, net, X, y) for e in expr]
        return np.stack(parts, axis=-1) if np.ndim(parts[0]) else np.array(parts)
    params = [float(v) for v in net.params]
    psyms = param_symbols(net)
    expr = concrete(sp.sympify(expr))
    X2 = single = None
    if X is not None:
        X2, single = check_X(X, net.n_in, np.float64)
    sums = list(expr.atoms(sp.Sum))
    if sums:
        if X2 is None or y is None:
            raise ValueError("this expression sums over examples: pass the data X and y")
        Y2 = _targets(y, X2.shape[0], net.n_out)
        values = {}
        for s in sums:
            repl, cols = {}, []
            for ind in s.function.atoms(sp.Indexed):
                column = int(ind.indices[1]) - 1
                data = X2 if ind.base.label.name == "x" else Y2
                repl[ind] = sp.Dummy()
                cols.append(data[:, column])
            f = _lambdify(list(repl.values()) + psyms, s.function.xreplace(repl))
            per_example = np.broadcast_to(f(*cols, *params), (X2.shape[0],))
            values[s] = sp.Float(float(np.sum(per_example)))
        _, n, _, _ = _data_symbols()
        expr = expr.xreplace(values).xreplace({n: X2.shape[0]})
        return float(_lambdify(psyms, expr)(*params))
    xs = input_symbols(net)
    if expr.free_symbols & set(xs):
        if X2 is None:
            raise ValueError("this expression depends on x1, x2, …: pass the input X")
        values = np.broadcast_to(_lambdify(xs + psyms, expr)(*X2.T, *params), (X2.shape[0],))
        return float(values[0]) if single else np.array(values, dtype=np.float64)
    value = float(_lambdify(psyms, expr)(*params))
    return value if X2 is None or single else np.full(X2.shape[0], value)


def gradient(net, X, y, loss="mse", *, sigma: str = "auto", max_params: int = MAX_PARAMS) -> np.ndarray:
    """∂loss/∂p for every parameter, derived symbolically and evaluated at ``net.params``.

    The same numbers as ``net.loss_and_grad(X, y, loss)`` puts in ``net.grads``
    (up to float64 round-off), computed independently: SymPy differentiates the
    per-example loss once per parameter (σ′ from its own formula), one vectorised
    function evaluates them over the examples.

    Returns
    -------
    ndarray of shape (n_params,), float64, in ``net.param_names()`` order.
    """
    sp = _sympy()
    _check_size(net, max_params)
    loss = _losses.get(loss)
    loss.check_output(net.layers[-1].activation)
    X2, _ = check_X(X, net.n_in, np.float64)
    Y2 = _targets(y, X2.shape[0], net.n_out, labels=isinstance(loss, _losses.CrossEntropy))
    xs = input_symbols(net)
    ys = [sp.Symbol(f"y{k}") for k in range(1, net.n_out + 1)]
    psyms = param_symbols(net)
    per = _per_example_loss(net, loss, xs, ys, sigma)
    f = _lambdify(xs + ys + psyms, [concrete(per.diff(p)) for p in psyms])
    columns = f(*X2.T, *Y2.T, *(float(v) for v in net.params))
    n = X2.shape[0]
    sums = np.array([np.sum(np.broadcast_to(c, (n,))) for c in columns], dtype=np.float64)
    return sums * float(_reduction(loss, n, net.n_out))
