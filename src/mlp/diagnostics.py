"""Health checks for a network: the questions people ask when training goes wrong.

This module owns ``diagnose(net, X, y)`` and the ``Monitor`` callback that
``fit(..., monitor=True)`` adds. Per layer they report

* dead ReLU units — units whose z = W x + b is ≤ 0 on every example, so that
  ReLU′(z) = 0 and no gradient reaches their weights again;
* saturated sigmoid/tanh units — units whose activation sits in a flat tail
  (sigmoid h < 0.01 or h > 0.99, tanh |h| > 0.99, so σ′(z) is about 1/100 of
  its peak or less) on at least ``saturation`` (90 %) of the examples;
* the gradient norm ‖∂loss/∂W(k)‖ with ∂loss/∂b(k), and whether it is vanishing
  (below 1e-4 of the largest layer's) or exploding (above 1e3, or not finite);
* when something is NaN or infinite, the first place it happened: a parameter,
  a layer's z or h on the way forward, the loss, or a δ on the way back.

It does not change the network: ``diagnose`` works on a copy, and ``Monitor``
only reads what the last training step left behind.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np

from . import losses as _losses
from ._validation import check_network, check_X, check_y, is_number
from .activations import ReLU, Sigmoid, Tanh
from .callbacks import Callback

VANISHING_RATIO = 1e-4
EXPLODING_NORM = 1e3


@dataclass
class LayerHealth:
    """The health of one layer.

    Attributes
    ----------
    layer : int
        1-based layer number (layer 1 computes h1 from x).
    activation : str
    n_units : int
    dead : float or None
        Fraction of ReLU units dead on every example (None for other activations).
    saturated : float or None
        Fraction of sigmoid/tanh units saturated on ≥ ``saturation`` of the examples.
    grad_norm : float or None
        √(‖∂loss/∂W‖² + ‖∂loss/∂b‖²); None without targets.
    weight_norm : float
        ‖W‖ (Frobenius).
    flags : list of str
        Problems found ("2/4 dead", "vanishing gradient", "not finite: z", …).
    """

    layer: int
    activation: str
    n_units: int
    dead: float | None = None
    saturated: float | None = None
    grad_norm: float | None = None
    weight_norm: float = 0.0
    flags: list = field(default_factory=list)

    def __str__(self) -> str:
        parts = [f"layer {self.layer} {self.activation:<10} {self.n_units:>4} units"]
        if self.dead is not None:
            parts.append(f"dead {self.dead:6.1%}")
        if self.saturated is not None:
            parts.append(f"saturated {self.saturated:6.1%}")
        parts.append(f"‖W‖ {self.weight_norm:9.3g}")
        if self.grad_norm is not None:
            parts.append(f"‖∇‖ {self.grad_norm:9.3g}")
        parts.append("; ".join(self.flags) if self.flags else "ok")
        return "  ".join(parts)


@dataclass
class Diagnosis:
    """What ``diagnose`` found: one ``LayerHealth`` per layer, the loss and where
    values first stopped being finite (None when everything is finite)."""

    layers: list
    loss: float | None = None
    first_nonfinite: str | None = None

    @property
    def ok(self) -> bool:
        """True when no layer has a flag and everything is finite."""
        return self.first_nonfinite is None and not any(h.flags for h in self.layers)

    def to_dict(self) -> dict:
        """Plain Python values (JSON-able)."""
        return {"loss": self.loss, "first_nonfinite": self.first_nonfinite,
                "layers": [asdict(h) for h in self.layers]}

    def __str__(self) -> str:
        lines = [str(h) for h in self.layers]
        if self.loss is not None:
            lines.append(f"loss {self.loss:.6g}")
        if self.first_nonfinite is not None:
            lines.append(f"first non-finite values: {self.first_nonfinite}")
        return "\n".join(lines)


def _finite(a) -> bool:
    return a is None or bool(np.all(np.isfinite(a)))


def _dead(layer, z) -> float | None:
    if not isinstance(layer.activation, ReLU) or z is None:
        return None
    return float(np.mean(np.all(z <= 0, axis=0)))        # ReLU′(z) = 0 on every example


def _saturated(layer, h, fraction: float) -> float | None:
    if h is None:
        return None
    if isinstance(layer.activation, Sigmoid):
        flat = (h < 0.01) | (h > 0.99)
    elif isinstance(layer.activation, Tanh):
        flat = np.abs(h) > 0.99
    else:
        return None
    return float(np.mean(np.mean(flat, axis=0) >= fraction))


def _norm(*arrays) -> float:
    with np.errstate(over="ignore", invalid="ignore"):
        return float(math.sqrt(sum(float(np.sum(np.square(a, dtype=np.float64))) for a in arrays)))


def _first_nonfinite(net, forward=True, loss=None, backward=True) -> str | None:
    """The first place, in computation order, holding a NaN or an infinity."""
    for i, layer in enumerate(net.layers, start=1):
        for name, a in (("W", layer.W), ("b", layer.b)):
            if not _finite(a):
                return f"layer {i} parameter {name}"
    if forward:
        for i, layer in enumerate(net.layers, start=1):
            for name, a in (("z", layer.z), ("h", layer.h)):
                if not _finite(a):
                    return f"layer {i} {name} (forward)"
    if loss is not None and not math.isfinite(loss):
        return "loss"
    if backward:
        for i in range(len(net.layers), 0, -1):
            layer = net.layers[i - 1]
            for name, a in (("δ", layer.delta), ("∂loss/∂W", layer.dW), ("∂loss/∂b", layer.db)):
                if not _finite(a):
                    return f"layer {i} {name} (backward)"
    return None


def _health(net, saturation: float, with_grads: bool, fused: bool = False) -> list:
    """Per-layer health. With a ``fused`` loss (sigmoid + binary cross-entropy) the output
    layer's ∂loss/∂z = ŷ − y is not damped by σ′, so its saturation is reported, not flagged:
    a confident, correct classifier is not a problem."""
    healths = [LayerHealth(i, layer.activation.name, layer.n_out,
                           _dead(layer, layer.z), _saturated(layer, layer.h, saturation),
                           _norm(layer.dW, layer.db) if with_grads else None, _norm(layer.W))
               for i, layer in enumerate(net.layers, start=1)]
    norms = [h.grad_norm for h in healths if h.grad_norm is not None and math.isfinite(h.grad_norm)]
    largest = max(norms, default=0.0)
    for h, layer in zip(healths, net.layers):
        if h.dead:
            h.flags.append(f"{round(h.dead * h.n_units)}/{h.n_units} dead")
        if h.saturated and not (fused and layer is net.layers[-1]):
            h.flags.append(f"{round(h.saturated * h.n_units)}/{h.n_units} saturated")
        if h.grad_norm is not None:
            if not math.isfinite(h.grad_norm) or h.grad_norm > EXPLODING_NORM:
                h.flags.append("exploding gradient")
            elif largest > 0 and h.grad_norm < VANISHING_RATIO * largest:
                h.flags.append("vanishing gradient")
        bad = [n for n, a in (("W", layer.W), ("b", layer.b), ("z", layer.z), ("h", layer.h))
               if not _finite(a)]
        if bad:
            h.flags.append("not finite: " + ", ".join(bad))
    return healths


def diagnose(net, X, y=None, loss="auto", *, saturation: float = 0.9) -> Diagnosis:
    """Check a network on data: dead and saturated units, gradient norms, NaNs.

    Parameters
    ----------
    net : Network
        Not modified (a copy is examined).
    X : ndarray of shape (n, n_in)
    y : ndarray of targets, optional
        With targets the backward pass is checked too (gradient norms, the loss).
    loss : str or Loss, default "auto"
        "auto" is the loss ``fit`` trains with by default (``mlp.losses.loss_for``): cross-entropy
        for a softmax output, binary cross-entropy for sigmoid, else MSE.
    saturation : float, default 0.9
        A sigmoid/tanh unit counts as saturated when it is in a flat tail on at
        least this fraction of the examples.

    Returns
    -------
    Diagnosis
        ``str()`` gives one line per layer; ``.layers`` the numbers.

    Examples
    --------
    >>> import numpy as np, mlp
    >>> net = mlp.Network.from_sizes([2, 2, 1], seed=0)
    >>> net.layers[0].b[:] = -100                # both hidden ReLUs off everywhere
    >>> d = mlp.diagnose(net, *mlp.datasets.xor())
    >>> d.layers[0].dead, d.layers[0].flags
    (1.0, ['2/2 dead', 'vanishing gradient'])
    """
    check_network(net, "diagnose")
    if not is_number(saturation):
        raise TypeError(f"saturation must be a number in (0, 1], got {saturation!r}")
    if not 0 < saturation <= 1:
        raise ValueError(f"saturation must be in (0, 1], got {saturation}")
    copy = net.copy()
    X2, _ = check_X(X, net.n_in, net.dtype)
    loss = _losses.resolve_loss(loss, net.layers[-1].activation)
    value = None
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if y is None:
            copy.forward(X2)
        else:
            loss.check_output(copy.layers[-1].activation)
            y2 = check_y(y, X2.shape[0], net.n_out, net.dtype,
                         labels=isinstance(loss, _losses.CrossEntropy))
            value = copy._loss_and_grad(X2, y2, loss)
    return Diagnosis(_health(copy, saturation, with_grads=y is not None, fused=loss.fused), value,
                     _first_nonfinite(copy, backward=y is not None, loss=value))


class Monitor(Callback):
    """Record the network's health after every epoch into ``history.monitor``.

    ``fit(..., monitor=True)`` adds one. Without data it reads what the epoch's
    last step left in the network — each layer's cached z and h (the last batch
    seen, or the validation batch) and ``net.grads`` (the last batch's gradient) —
    which costs almost nothing; with ``X`` (and ``y``) it runs ``diagnose`` on
    that data every ``every`` epochs instead.

    Each record is a dict of plain values: ``epoch``, ``loss``, and per layer
    (lists, layer 1 first) ``dead``, ``saturated``, ``grad_norm``,
    ``weight_norm``; plus ``first_nonfinite`` (None, or where NaN/inf first
    appeared). When the loss turns NaN a ``RuntimeWarning`` says where.

    Parameters
    ----------
    X, y : ndarray, optional
        Data to diagnose on; default: the training step's own caches.
    loss : str or Loss, optional
        For ``diagnose`` with data; default the loss ``fit`` trains with, else "auto"
        (``mlp.losses.loss_for`` of the output activation).
    every : int, default 1
    stop_on_nonfinite : bool, default False
        Stop training (return True) once a non-finite value appears.
    """

    def __init__(self, X=None, y=None, loss=None, *, every: int = 1, saturation: float = 0.9,
                 stop_on_nonfinite: bool = False):
        if not is_number(every, integer=True) or every < 1:
            raise ValueError(f"every must be a positive int, got {every!r}")
        self.X, self.y, self.loss = X, y, loss
        self.every, self.saturation = every, saturation
        self.stop_on_nonfinite = stop_on_nonfinite
        self._warned = False

    def record(self, epoch: int, history=None) -> dict:
        """The health record of the network now (what ``on_epoch_end`` appends)."""
        net = self.network
        if net is None:
            raise RuntimeError("Monitor.record needs set_network(net) first")
        losses = getattr(history, "loss", None) or [None]
        loss_value = losses[-1]
        if self.X is not None:
            loss = self.loss or getattr(getattr(net, "train_state", None), "loss", None) or "auto"
            d = diagnose(net, self.X, self.y, loss, saturation=self.saturation)
            layers, where = d.layers, d.first_nonfinite
        else:
            with np.errstate(all="ignore"):
                trained = getattr(getattr(net, "train_state", None), "loss", None)
                fused = isinstance(trained, _losses.Loss) and trained.fused
                layers = _health(net, self.saturation, with_grads=True, fused=fused)
                bad_loss = loss_value if loss_value is not None else None
                where = _first_nonfinite(net, loss=bad_loss)
        return {"epoch": int(epoch), "loss": None if loss_value is None else float(loss_value),
                "dead": [h.dead for h in layers], "saturated": [h.saturated for h in layers],
                "grad_norm": [h.grad_norm for h in layers],
                "weight_norm": [h.weight_norm for h in layers], "first_nonfinite": where}

    def on_train_begin(self, history) -> None:
        if getattr(history, "monitor", None) is None:
            history.monitor = []

    def on_epoch_end(self, epoch: int, history) -> bool | None:
        if epoch % self.every:
            return None
        rec = self.record(epoch, history)
        history.monitor.append(rec)
        if rec["first_nonfinite"] is not None:
            if not self._warned:
                self._warned = True
                warnings.warn(f"epoch {epoch}: non-finite values, first at {rec['first_nonfinite']}",
                              RuntimeWarning, stacklevel=2)
            return True if self.stop_on_nonfinite else None
        return None
