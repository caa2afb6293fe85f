"""Optimisers: update rules over the flat parameter vector, simplest first.

This module owns the update rules and their state (velocity, moments, step
count). It does not compute gradients, pick learning rates over time
(``mlp.schedules``) or loop over data (``mlp.training``).

Every optimiser works on the network's two flat vectors: ``step(params, grads)``
updates ``params`` IN PLACE from ``grads`` (one vectorised update per step
whatever the depth) and never changes ``grads``. Defaults and formulas are
those of ``torch.optim`` (single-tensor path), so the same gradients give the
same parameters step for step (the tests check 50 steps to 1e-10 in float64).
Notation: θ parameters, g = ∇f(θ) the gradient, η the learning rate ``lr``,
t the step number starting at 1.

Examples
--------
>>> import numpy as np
>>> opt = SGD(lr=0.1)
>>> theta, g = np.array([1.0, -2.0]), np.array([0.5, 0.5])
>>> opt.step(theta, g)          # θ ← θ − η g
>>> theta
array([ 0.95, -2.05])
"""

from __future__ import annotations

import math

import numpy as np

from ._fast import flush_denormals
from ._registry import Registry
from ._validation import is_number

OPTIMIZERS = Registry("optimiser")

#: Adam and RMSprop zero the subnormal entries of their running averages every this many
#: steps (``_fast.flush_denormals``: subnormal floats are 10-100x slower on x86).
FLUSH_EVERY = 64



def _check_number(name: str, value, low: float = 0.0, high: float = math.inf,
                  high_open: bool = False) -> float:
    """``value`` as a float, or a TypeError/ValueError naming ``name`` and the allowed range."""
    if not is_number(value):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    value = float(value)
    too_high = value >= high if high_open else value > high
    if not math.isfinite(value) or value < low or too_high:
        bound = f"< {high:g}" if high_open else f"<= {high:g}"
        raise ValueError(f"{name} must be a finite number >= {low:g} and {bound}, got {value!r}")
    return value


class Optimizer:
    """Base class: ``step(params, grads)`` updates the flat ``params`` in place.

    Subclasses list their hyper-parameters in ``_hyper`` and their state arrays
    (created at the first step, same shape and dtype as ``params``) in ``_buffers``.

    Attributes
    ----------
    lr : float
        The learning rate η; schedules change it between steps.
    """

    name = "optimizer"
    _hyper: tuple[str, ...] = ("lr",)
    _buffers: tuple[str, ...] = ()

    def __init__(self, lr: float):
        self.lr = _check_number("lr", lr)
        self.t = 0                      # steps taken
        for name in self._buffers:
            setattr(self, name, None)
        self._tmp = None                # scratch buffer reused by every step

    def step(self, params: np.ndarray, grads: np.ndarray) -> None:  # pragma: no cover - abstract
        """Update ``params`` (ndarray of shape (n_params,)) in place from ``grads`` (same shape)."""
        raise NotImplementedError

    def _scratch(self, params: np.ndarray, i: int = 0) -> np.ndarray:
        """Scratch buffer ``i`` shaped like ``params``, kept between steps (no allocation per step)."""
        if self._tmp is None or self._tmp[0].shape != params.shape or self._tmp[0].dtype != params.dtype:
            self._tmp = [np.empty_like(params), None]
        if self._tmp[i] is None:
            self._tmp[i] = np.empty_like(params)
        return self._tmp[i]

    def _zeros(self, name: str, params: np.ndarray) -> np.ndarray:
        buf = getattr(self, name)
        if buf is None or buf.shape != params.shape:
            buf = np.zeros_like(params)
            setattr(self, name, buf)
        return buf

    def reset_state(self, mask=None) -> None:
        """Clear the state: all of it (``mask=None``, also the step count), or only the
        entries selected by ``mask`` (boolean array or indices into the flat vector)."""
        for name in self._buffers:
            buf = getattr(self, name)
            if mask is None:
                setattr(self, name, None)
            elif buf is not None:
                buf[mask] = 0
        if mask is None:
            self.t = 0

    def hyperparams(self) -> dict:
        """The hyper-parameters, as given (plain Python values)."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in
                ((k, getattr(self, k)) for k in self._hyper)}

    def state_dict(self) -> dict:
        """Name, hyper-parameters, step count (plain scalars) and state (NumPy arrays)."""
        d = {"name": self.name, **self.hyperparams(), "t": self.t}
        for name in self._buffers:
            if getattr(self, name) is not None:
                d[name] = getattr(self, name).copy()
        return d

    def load_state_dict(self, d: dict) -> None:
        """Restore what ``state_dict`` gave (hyper-parameters, step count and state arrays)."""
        if d.get("name", self.name) != self.name:
            raise ValueError(f"state is for optimiser {d['name']!r}, not {self.name!r}")
        for k in self._hyper:
            if k in d:
                v = d[k]
                setattr(self, k, tuple(v) if isinstance(getattr(self, k), tuple) else v)
        self.t = int(d.get("t", 0))
        for name in self._buffers:
            setattr(self, name, None if d.get(name) is None else np.array(d[name]))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._hyper)
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, as ``torch.optim.SGD``.

    With weight decay λ, momentum μ and dampening τ, at step t::

        g ← g + λ θ
        v ← g                       (t = 1)
        v ← μ v + (1 − τ) g         (t > 1)
        g ← g + μ v  (Nesterov)   or   g ← v
        θ ← θ − η g

    With μ = 0 this is the lecture's gradient descent θ ← θ − η ∇f(θ).

    Parameters
    ----------
    lr : float, default 1e-3 (PyTorch's)
    momentum : float, default 0
    dampening : float, default 0
    weight_decay : float, default 0
        L2 penalty λ added to the gradient (coupled, as in PyTorch).
    nesterov : bool, default False

    Notes
    -----
    PyTorch's convention, not Sutskever et al.'s: the velocity v does not include
    η (v accumulates gradients; η multiplies it at the update), and the first
    velocity is the first gradient itself, not (1 − τ) g.
    """

    name = "sgd"
    _hyper = ("lr", "momentum", "dampening", "weight_decay", "nesterov")
    _buffers = ("velocity",)

    def __init__(self, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False):
        super().__init__(lr)
        self.momentum = _check_number("momentum", momentum)
        self.dampening = _check_number("dampening", dampening)
        self.weight_decay = _check_number("weight_decay", weight_decay)
        self.nesterov = bool(nesterov)
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError("nesterov needs momentum > 0 and dampening = 0")

    def step(self, params, grads):
        self.t += 1
        tmp = self._scratch(params)
        g = grads
        if self.weight_decay:                                  # g ← g + λ θ
            g = np.multiply(params, self.weight_decay, out=self._scratch(params, 1))
            g += grads
        if self.momentum:
            if self.velocity is None:                          # v ← g at the first step
                self.velocity = g.copy()
            else:                                              # v ← μ v + (1 − τ) g
                self.velocity *= self.momentum
                self.velocity += g if self.dampening == 0 else (1 - self.dampening) * g
            if self.nesterov:                                  # g ← g + μ v
                np.multiply(self.velocity, self.momentum, out=tmp)
                g = np.add(g, tmp, out=self._scratch(params, 1))
            else:
                g = self.velocity
        np.multiply(g, self.lr, out=tmp)                       # θ ← θ − η g
        params -= tmp


class GD(SGD):
    """Plain gradient descent, the lecture's update θ ← θ − η ∇f(θ) (SGD without momentum).

    Parameters
    ----------
    lr : float, default 1e-3
    weight_decay : float, default 0
    """

    name = "gd"
    _hyper = ("lr", "weight_decay")

    def __init__(self, lr: float = 1e-3, weight_decay: float = 0.0):
        super().__init__(lr, weight_decay=weight_decay)


class Momentum(SGD):
    """SGD with heavy-ball momentum (default μ = 0.9); see ``SGD`` for the update."""

    name = "momentum"

    def __init__(self, lr: float = 1e-3, momentum: float = 0.9, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False):
        super().__init__(lr, momentum, dampening, weight_decay, nesterov)


class Nesterov(SGD):
    """SGD with Nesterov momentum (default μ = 0.9): g ← g + μ v; see ``SGD``."""

    name = "nesterov"

    def __init__(self, lr: float = 1e-3, momentum: float = 0.9, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = True):
        super().__init__(lr, momentum, dampening, weight_decay, nesterov)


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015), as ``torch.optim.Adam``.

    At step t, with β₁, β₂ = ``betas`` and weight decay λ::

        g ← g + λ θ
        m ← β₁ m + (1 − β₁) g
        v ← β₂ v + (1 − β₂) g²
        v̂ ← max(v̂, v)  (AMSGrad)   or   v̂ ← v
        θ ← θ − η/(1 − β₁ᵗ) · m / (√v̂ / √(1 − β₂ᵗ) + ε)

    Parameters
    ----------
    lr : float, default 1e-3
    betas : (float, float), default (0.9, 0.999)
    eps : float, default 1e-8
    weight_decay : float, default 0
        Coupled L2: λ θ is added to the gradient (use ``AdamW`` for decoupled decay).
    amsgrad : bool, default False

    Notes
    -----
    Bias correction as PyTorch writes it: ε is added after dividing √v̂ by
    √(1 − β₂ᵗ), so ε is not bias-corrected (the paper's form differs slightly).
    m and v start at zero.
    """

    name = "adam"
    _hyper = ("lr", "betas", "eps", "weight_decay", "amsgrad")
    _buffers = ("m", "v", "v_max")
    _decoupled = False

    def __init__(self, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False):
        super().__init__(lr)
        betas = tuple(betas)
        if len(betas) != 2:
            raise ValueError(f"betas must be a pair (β₁, β₂), got {betas!r}")
        self.betas = (_check_number("betas[0]", betas[0], 0.0, 1.0, high_open=True),
                      _check_number("betas[1]", betas[1], 0.0, 1.0, high_open=True))
        self.eps = _check_number("eps", eps)
        self.weight_decay = _check_number("weight_decay", weight_decay)
        self.amsgrad = bool(amsgrad)

    def step(self, params, grads):
        self.t += 1
        beta1, beta2 = self.betas
        m, v, tmp = self._zeros("m", params), self._zeros("v", params), self._scratch(params)
        g = grads
        if self.weight_decay and self._decoupled:
            params *= 1 - self.lr * self.weight_decay          # AdamW: θ ← θ (1 − η λ)
        elif self.weight_decay:                                # g ← g + λ θ
            g = np.multiply(params, self.weight_decay, out=self._scratch(params, 1))
            g += grads
        # In-place passes where possible: on 2 cores they are 2-3x cheaper than a
        # three-array ufunc once the vectors outgrow the cache (see optimizers' tests vs torch).
        m *= beta1                                             # m ← β₁ m + (1 − β₁) g
        np.multiply(g, 1 - beta1, out=tmp)
        m += tmp
        np.multiply(g, g, out=tmp)                             # v ← β₂ v + (1 − β₂) g²
        tmp *= 1 - beta2
        v *= beta2
        v += tmp
        if self.amsgrad:
            v_hat = self._zeros("v_max", params)
            np.maximum(v_hat, v, out=v_hat)
        else:
            v_hat = v
        # η/(1 − β₁ᵗ) · m / (√v̂/c + ε) with c = √(1 − β₂ᵗ) is η c/(1 − β₁ᵗ) · m / (√v̂ + ε c):
        # one pass fewer, the same number to rounding.
        c = math.sqrt(1 - beta2 ** self.t)
        np.sqrt(v_hat, out=tmp)
        tmp += self.eps * c
        np.divide(m, tmp, out=tmp)
        tmp *= self.lr * c / (1 - beta1 ** self.t)
        params -= tmp
        if self.t % FLUSH_EVERY == 0:
            flush_denormals(m, v, v_hat)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019), as ``torch.optim.AdamW``.

    First θ ← θ (1 − η λ), then the Adam update on the plain gradient.

    Parameters
    ----------
    lr : float, default 1e-3
    betas : (float, float), default (0.9, 0.999)
    eps : float, default 1e-8
    weight_decay : float, default 1e-2
    amsgrad : bool, default False
    """

    name = "adamw"
    _decoupled = True

    def __init__(self, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False):
        super().__init__(lr, betas, eps, weight_decay, amsgrad)


class RMSprop(Optimizer):
    """RMSprop (Hinton, 2012), as ``torch.optim.RMSprop``.

    At step t, with smoothing α, weight decay λ and momentum μ::

        g ← g + λ θ
        s ← α s + (1 − α) g²
        ḡ ← α ḡ + (1 − α) g,   d ← √(s − ḡ²) + ε      (centered)
                                d ← √s + ε             (otherwise)
        b ← μ b + g / d,  θ ← θ − η b                  (μ > 0)
        θ ← θ − η g / d                                (μ = 0)

    Parameters
    ----------
    lr : float, default 1e-2
    alpha : float, default 0.99
    eps : float, default 1e-8
    weight_decay : float, default 0
    momentum : float, default 0
    centered : bool, default False
    """

    name = "rmsprop"
    _hyper = ("lr", "alpha", "eps", "weight_decay", "momentum", "centered")
    _buffers = ("square_avg", "grad_avg", "velocity")

    def __init__(self, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False):
        super().__init__(lr)
        self.alpha = _check_number("alpha", alpha, 0.0, 1.0)
        self.eps = _check_number("eps", eps)
        self.weight_decay = _check_number("weight_decay", weight_decay)
        self.momentum = _check_number("momentum", momentum)
        self.centered = bool(centered)

    def step(self, params, grads):
        self.t += 1
        a = self.alpha
        s, tmp = self._zeros("square_avg", params), self._scratch(params)
        g = grads
        if self.weight_decay:                                  # g ← g + λ θ
            g = np.multiply(params, self.weight_decay, out=self._scratch(params, 1))
            g += grads
        np.multiply(g, g, out=tmp)
        tmp *= 1 - a
        s *= a
        s += tmp
        if self.centered:
            g_avg = self._zeros("grad_avg", params)
            g_avg += (1 - a) * (g - g_avg)
            np.multiply(g_avg, g_avg, out=tmp)
            np.subtract(s, tmp, out=tmp)
            np.sqrt(tmp, out=tmp)
        else:
            np.sqrt(s, out=tmp)
        tmp += self.eps
        np.divide(g, tmp, out=tmp)
        if self.momentum:
            b = self._zeros("velocity", params)
            b *= self.momentum
            b += tmp
            np.multiply(b, self.lr, out=tmp)
        else:
            tmp *= self.lr
        params -= tmp
        if self.t % FLUSH_EVERY == 0:
            flush_denormals(s, self.grad_avg, self.velocity)


for _cls in (GD, SGD, Momentum, Nesterov, Adam, AdamW, RMSprop):
    OPTIMIZERS.register(_cls.name, _cls)


def get(optimizer: str | Optimizer, lr: float | None = None) -> Optimizer:
    """An optimiser from a name (``"gd"``, ``"sgd"``, ``"momentum"``, ``"nesterov"``,
    ``"adam"``, ``"adamw"``, ``"rmsprop"``) or an instance (returned as is).

    ``lr``, when given, sets the learning rate (of the new or the given optimiser);
    otherwise a new optimiser gets its class default (PyTorch's).
    """
    if isinstance(optimizer, Optimizer):
        opt = optimizer
    elif isinstance(optimizer, str):
        opt = OPTIMIZERS[optimizer]()
    else:
        raise TypeError(f"optimizer must be a name ({', '.join(map(repr, OPTIMIZERS))}) or an "
                        f"mlp.optimizers.Optimizer, got {type(optimizer).__name__}")
    if lr is not None:
        opt.lr = _check_number("lr", lr)
    return opt


def from_state_dict(d: dict) -> Optimizer:
    """A new optimiser restored from ``Optimizer.state_dict()``."""
    opt = OPTIMIZERS[d["name"]]()
    opt.load_state_dict(d)
    return opt


def names() -> list[str]:
    """The registered optimiser names."""
    return OPTIMIZERS.names()
