"""Loss functions: each loss's value and its gradient, registered by name.

This module owns the losses and the output-layer gradient they start backprop
with. It does not know about layers; ``Network.loss_and_grad`` asks a loss for

* ``MSE``: the value and ``∂loss/∂ŷ``, which the network then pushes through
  the output activation with the chain rule (any output activation works);
* ``CrossEntropy`` and ``BinaryCrossEntropy``: the value and ``∂loss/∂z`` of the
  output layer directly, computed *fused* from the logits z as ``(p − y)``.
  These two are only defined on a softmax (resp. sigmoid) output layer, and the
  pairing is checked: cross-entropy on an output that is not a probability
  raises ``ValueError``.

Why fused: ``log(softmax(z))`` computed as ``z − logsumexp(z)`` never takes the
log of an underflowed 0, and ``∂/∂z = p − y`` needs no division by p, so logits
of ±1e4 give finite losses and gradients.

Targets ``y``: for MSE and binary cross-entropy an array of shape ``(n, n_out)``
(or ``(n,)`` when ``n_out == 1``); for cross-entropy integer class labels of
shape ``(n,)`` or one-hot (or probability) rows of shape ``(n, n_out)``.
``sample_weight`` (shape ``(n,)``) multiplies each example's loss; the reduction
is unchanged (a mean still divides by n), as in Keras.
"""

from __future__ import annotations

import numpy as np

from ._registry import Registry
from ._validation import as_floats
from .activations import SIGMOID, Activation, Sigmoid, Softmax, Softplus

LOSSES = Registry("loss")

_REDUCTIONS = ("half_sum", "sum", "mean")
_SOFTPLUS = Softplus()


def _weighted(per_example: np.ndarray, sample_weight: np.ndarray | None) -> np.ndarray:
    if sample_weight is None:
        return per_example
    return per_example * sample_weight.reshape((-1,) + (1,) * (per_example.ndim - 1))


def _same_shape(y_hat, y, loss: str) -> tuple[np.ndarray, np.ndarray]:
    """ŷ (as floats) and y as arrays of one shape; NumPy would broadcast (n, 1) against (n,)
    to (n, n) and give a wrong number. ``Network.loss_and_grad`` reshapes targets for you."""
    y_hat, y = as_floats(y_hat, "ŷ"), np.asarray(y)
    if y.shape != y_hat.shape:
        raise ValueError(f"{loss}: y has shape {y.shape} but ŷ has shape {y_hat.shape}; "
                         "they must be equal")
    return y_hat, y


def _logsumexp(z: np.ndarray) -> np.ndarray:
    m = z.max(axis=1, keepdims=True)
    return (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True)))[:, 0]


class Loss:
    """Base class of losses. ``fused`` losses give ∂loss/∂z of the output layer."""

    name = "loss"
    fused = False
    reduction = "mean"

    def check_output(self, activation: Activation) -> None:
        """Raise ``ValueError`` if this loss makes no sense on that output activation."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(reduction={self.reduction!r})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self) -> int:
        return hash((type(self), self.reduction))


class MSE(Loss):
    """Squared error between the output ŷ and the target y.

    ``reduction``:

    * ``"half_sum"`` — the lecture's f_MSE = ½ Σᵢ (ŷ⁽ⁱ⁾ − y⁽ⁱ⁾)²; ∂f/∂ŷ = ŷ − y;
    * ``"sum"`` — Σ (ŷ − y)²; ∂f/∂ŷ = 2 (ŷ − y);
    * ``"mean"`` — the mean over all n × n_out entries (as ``torch.nn.MSELoss``);
      ∂f/∂ŷ = 2 (ŷ − y) / (n · n_out). Only this reduction scales by 1/n.

    Examples
    --------
    >>> import numpy as np
    >>> float(MSE("half_sum").value(np.array([[1.0], [3.0]]), np.array([[0.0], [0.0]])))
    5.0
    """

    name = "mse"

    def __init__(self, reduction: str = "half_sum"):
        if reduction not in _REDUCTIONS:
            raise ValueError(f"unknown MSE reduction {reduction!r}; known: {', '.join(_REDUCTIONS)}")
        self.reduction = reduction

    def _scale(self, diff: np.ndarray) -> float:
        return {"half_sum": 0.5, "sum": 1.0, "mean": 1.0 / max(diff.size, 1)}[self.reduction]

    def value(self, y_hat, y, sample_weight=None) -> float:
        y_hat, y = _same_shape(y_hat, y, "mse")
        diff = y_hat - y
        return float(self._scale(diff) * _weighted(diff * diff, sample_weight).sum())

    def gradient(self, y_hat, y, sample_weight=None) -> np.ndarray:
        """∂loss/∂ŷ, same shape as ŷ."""
        y_hat, y = _same_shape(y_hat, y, "mse")
        diff = y_hat - y
        return _weighted(diff, sample_weight) * (2 * self._scale(diff))


class CrossEntropy(Loss):
    """Softmax cross-entropy: −Σₖ yₖ log pₖ per example, p = softmax(z).

    Defined on a softmax output layer only. ``reduction`` is ``"mean"`` (over the
    n examples, as ``torch.nn.CrossEntropyLoss``) or ``"sum"``. The output
    gradient is fused: ∂loss/∂z = (p − y) / n for ``"mean"``.
    """

    name = "cross_entropy"
    fused = True

    def __init__(self, reduction: str = "mean"):
        if reduction not in ("mean", "sum"):
            raise ValueError(f"unknown cross-entropy reduction {reduction!r}; known: mean, sum")
        self.reduction = reduction

    def check_output(self, activation):
        if not isinstance(activation, Softmax):
            raise ValueError(
                f"cross_entropy needs a softmax output layer, got {activation.name!r}; "
                "use output='softmax' (or binary_cross_entropy with a sigmoid output)"
            )

    @staticmethod
    def _targets(z: np.ndarray, y: np.ndarray) -> np.ndarray:
        y = np.asarray(y)
        if y.ndim == 1 and z.ndim == 2:  # integer labels -> one-hot
            n, k = z.shape
            if y.shape[0] != n:
                raise ValueError(f"cross_entropy: {y.shape[0]} labels for {n} examples")
            if y.size and (y.min() < 0 or y.max() >= k
                           or y.dtype.kind == "f" and np.any(y != np.round(y))):
                raise ValueError(f"cross_entropy: class labels must be integers 0..{k - 1}, "
                                 f"found {y.min():g}..{y.max():g}")
            onehot = np.zeros_like(z)
            onehot[np.arange(len(y)), y.astype(np.intp)] = 1
            return onehot
        return _same_shape(z, y, "cross_entropy")[1].astype(z.dtype, copy=False)

    def value_and_delta(self, z, y, sample_weight=None):
        """Loss and ∂loss/∂z from the logits ``z`` of shape (n, n_out), computed fused."""
        z = as_floats(z, "z")
        log_p = z - _logsumexp(z)[:, None]
        t = self._targets(z, y)
        per_example = _weighted(-(t * log_p).sum(axis=1), sample_weight)
        delta = _weighted(np.exp(log_p) - t, sample_weight)       # p − y
        n = z.shape[0] if self.reduction == "mean" else 1
        return float(per_example.sum() / n), delta / n

    def value(self, p, y, sample_weight=None) -> float:
        """Loss from probabilities ``p`` (clipped away from 0 to stay finite)."""
        p = as_floats(p, "p")
        t = self._targets(p, y)
        tiny = np.finfo(p.dtype).tiny
        per_example = _weighted(-(t * np.log(np.maximum(p, tiny))).sum(axis=1), sample_weight)
        n = p.shape[0] if self.reduction == "mean" else 1
        return float(per_example.sum() / n)


class BinaryCrossEntropy(Loss):
    """Binary cross-entropy −[y log p + (1 − y) log(1 − p)], p = sigmoid(z), per output.

    Defined on a sigmoid output layer only. ``reduction`` ``"mean"`` averages
    over all n × n_out entries (as ``torch.nn.BCEWithLogitsLoss``), ``"sum"``
    adds them. Computed from the logits as softplus(z) − y z (with the Softplus and
    Sigmoid activations, so p is exactly what a sigmoid output layer gives), and the output
    gradient is fused: ∂loss/∂z = (p − y) / (n · n_out) for ``"mean"``.
    """

    name = "binary_cross_entropy"
    fused = True

    def __init__(self, reduction: str = "mean"):
        if reduction not in ("mean", "sum"):
            raise ValueError(
                f"unknown binary cross-entropy reduction {reduction!r}; known: mean, sum")
        self.reduction = reduction

    def check_output(self, activation):
        if not isinstance(activation, Sigmoid):
            raise ValueError(
                f"binary_cross_entropy needs a sigmoid output layer, got {activation.name!r}; "
                "use output='sigmoid' (or cross_entropy with a softmax output)"
            )

    def value_and_delta(self, z, y, sample_weight=None):
        """Loss and ∂loss/∂z from the logits ``z``, computed fused."""
        z, y = _same_shape(z, y, "binary_cross_entropy")
        y = y.astype(z.dtype, copy=False)
        per_entry = _weighted(_SOFTPLUS(z) - y * z, sample_weight)
        delta = _weighted(SIGMOID(z) - y, sample_weight)      # p − y
        n = z.size if self.reduction == "mean" else 1
        return float(per_entry.sum() / n), delta / n

    def value(self, p, y, sample_weight=None) -> float:
        """Loss from probabilities ``p`` (clipped away from 0 and 1 to stay finite)."""
        p, y = _same_shape(p, y, "binary_cross_entropy")
        tiny = np.finfo(p.dtype).tiny
        per_entry = -(y * np.log(np.maximum(p, tiny)) + (1 - y) * np.log(np.maximum(1 - p, tiny)))
        n = p.size if self.reduction == "mean" else 1
        return float(_weighted(per_entry, sample_weight).sum() / n)


for _cls in (MSE, CrossEntropy, BinaryCrossEntropy):
    LOSSES.register(_cls.name, _cls)


def get(loss: str | Loss) -> Loss:
    """Return the loss object for a name or object; unknown names raise ``ValueError``."""
    return LOSSES.resolve(loss, Loss)


def names() -> list[str]:
    """The public names of all losses."""
    return LOSSES.names()


def loss_for(activation) -> str:
    """The loss for an output activation — the one place this is decided (fit's ``loss="auto"``,
    ``diagnose``'s default, the CLI's default ``--loss``): ``"cross_entropy"`` for softmax,
    ``"binary_cross_entropy"`` for sigmoid, else ``"mse"`` (the lecture's ½ Σ (ŷ − y)²)."""
    if isinstance(activation, str):
        activation = {"softmax": Softmax(), "sigmoid": Sigmoid()}.get(activation)
    if isinstance(activation, Softmax):
        return "cross_entropy"
    if isinstance(activation, Sigmoid):
        return "binary_cross_entropy"
    return "mse"


def resolve_loss(loss, output_activation) -> Loss:
    """``loss`` as a Loss object; "auto" is ``loss_for(output_activation)``."""
    if isinstance(loss, str) and loss == "auto":
        return get(loss_for(output_activation))
    return get(loss)
