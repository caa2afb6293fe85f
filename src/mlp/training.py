"""The fit loop: mini-batches, validation, callbacks, History and a resumable TrainState.

This module owns ``Network.fit`` and everything that lives only while training:
the per-epoch ``History``, the ``TrainState`` that lets a second ``fit`` call
continue exactly where the first stopped, divergence and Ctrl-C handling, the
warnings that say what to do, and the care of dead ReLU units. It does not own
the update rules (``mlp.optimizers``), the learning-rate schedules
(``mlp.schedules``), the callbacks (``mlp.callbacks``) or backpropagation
(``Network._loss_and_grad``).

One optimiser step, on a batch ``X_b`` of the (shuffled) training set::

    loss, grads = net._loss_and_grad(X_b, y_b)        (backprop, the lecture's chain rule)
    loss += ½ λ ‖w‖² + λ₁ ‖w‖₁,  grads_w += λ w + λ₁ sign(w)     (weights only, not biases)
    grads ← clip(grads)                              (optional, by norm or by value)
    optimizer.step(params, grads)                    (in place, on the flat vector)
"""

from __future__ import annotations

import hashlib
import math
import signal
import sys
import threading
import time
import warnings

import numpy as np

from . import _fast
from . import callbacks as _callbacks
from . import losses as _losses
from . import optimizers as _optimizers
from . import schedules as _schedules
from ._validation import check_sample_weight, check_X, check_y
from .activations import ReLU, Sigmoid, Softmax

__all__ = ["History", "TrainState", "TrainingDiverged", "TrainingWarning", "fit"]

#: ``epochs="auto"`` trains for about this many optimiser steps (at least ``AUTO_MIN_EPOCHS``).
AUTO_STEPS = 10000
AUTO_MIN_EPOCHS = 10
#: ``batch_size="auto"`` is min(AUTO_BATCH, n), scikit-learn's rule.
AUTO_BATCH = 200
#: ReLU care: a plateau is this many optimiser steps (at least CARE_MIN_EPOCHS epochs)
#: without the training loss falling below (1 − CARE_TOL) × its best since the last re-draw.
CARE_PATIENCE_STEPS = 200
CARE_MIN_EPOCHS = 10
CARE_TOL = 1e-2


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite; the network holds its last finite parameters.

    Attributes
    ----------
    epoch, batch : int
        Where it happened (both counted from 1; ``epoch`` over all fit calls).
    lr : float
        The learning rate in use.
    hint : str
        What to try next.
    """

    def __init__(self, message: str, *, epoch: int, batch: int, lr: float, hint: str):
        super().__init__(message)
        self.epoch, self.batch, self.lr, self.hint = epoch, batch, lr, hint


class TrainingWarning(UserWarning):
    """A training problem with a known remedy (the message says what to do)."""


def _plain(v):
    """NumPy scalars and non-finite floats → JSON-able Python values (nan/inf → None)."""
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, np.ndarray):
        return _plain(v.tolist())
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


class History:
    """What happened in each epoch, over every ``fit`` call on a network.

    Attributes
    ----------
    epochs : list of int
        Epoch numbers, 1, 2, … (continued by a later ``fit``).
    loss : list of float
        Training loss of each epoch: the mean (or, for "sum" reductions, the
        sum) of the batch losses seen during the epoch, penalties included.
    val_loss : list of float
        Validation loss after each epoch; empty when no fit had validation data
        (NaN for epochs without it once some epoch had it).
    lr : list of float
        Learning rate used in each epoch.
    seconds : list of float
        Wall time of each epoch.
    metrics : dict of str → list of float
        ``"accuracy"`` (running, over the epoch's batches, as Keras) and
        ``"val_accuracy"`` for classification losses.
    monitor : list of dict
        Per-epoch health records when ``fit(monitor=True)``.
    stop_reason : str or None
        Why the last fit stopped early: "early_stopping", "callback",
        "interrupted", or None when it ran all its epochs.
    """

    def __init__(self):
        self.epochs: list[int] = []
        self.loss: list[float] = []
        self.val_loss: list[float] = []
        self.lr: list[float] = []
        self.seconds: list[float] = []
        self.metrics: dict[str, list[float]] = {}
        self.monitor: list[dict] = []
        self.stop_reason: str | None = None

    def __len__(self) -> int:
        return len(self.epochs)

    def _append(self, *, loss, val_loss, lr, seconds, metrics) -> None:
        n = len(self.epochs)
        self.epochs.append(n + 1)
        self.loss.append(float(loss))
        if val_loss is not None or self.val_loss:
            self.val_loss += [math.nan] * (n - len(self.val_loss))
            self.val_loss.append(math.nan if val_loss is None else float(val_loss))
        for name, value in metrics.items():
            column = self.metrics.setdefault(name, [])
            column += [math.nan] * (n - len(column))
            column.append(float(value))
        for column in self.metrics.values():
            column += [math.nan] * (n + 1 - len(column))
        self.lr.append(float(lr))
        self.seconds.append(float(seconds))

    def to_dict(self) -> dict:
        """Plain JSON-able dict (NaN written as None)."""
        return _plain({"epochs": self.epochs, "loss": self.loss, "val_loss": self.val_loss,
                       "lr": self.lr, "seconds": self.seconds, "metrics": self.metrics,
                       "monitor": self.monitor, "stop_reason": self.stop_reason})

    @classmethod
    def from_dict(cls, d: dict) -> History:
        """The inverse of ``to_dict``."""
        def floats(values):
            return [math.nan if v is None else float(v) for v in values]
        h = cls()
        h.epochs = [int(e) for e in d.get("epochs", [])]
        h.loss = floats(d.get("loss", []))
        if not h.epochs:
            h.epochs = list(range(1, len(h.loss) + 1))
        h.val_loss = floats(d.get("val_loss", []))
        h.lr = floats(d.get("lr", []))
        h.seconds = floats(d.get("seconds", []))
        h.metrics = {str(k): floats(v) for k, v in (d.get("metrics") or {}).items()}
        h.monitor = list(d.get("monitor") or [])
        h.stop_reason = d.get("stop_reason")
        return h

    def __repr__(self) -> str:
        if not self.epochs:
            return "History(0 epochs)"
        extra = ""
        if self.val_loss and not math.isnan(self.val_loss[-1]):
            extra = f", val_loss {self.val_loss[-1]:.4g}"
        return f"History({len(self)} epochs, loss {self.loss[-1]:.4g}{extra})"


class TrainState:
    """Everything a later ``fit`` call (or a checkpoint) needs to continue exactly.

    Attributes
    ----------
    optimizer : Optimizer
        With its state (moments, step count).
    history : History
    rng : numpy.random.Generator
        Shuffles the batches, draws dropout masks and re-draws ReLU units.
    epoch : int
        Completed epochs; ``step``: optimiser steps taken.
    loss : Loss
        The loss being minimised.
    schedule : Schedule or None
        The learning-rate schedule (``None``: the optimiser's lr is left alone);
        ``lr0`` the learning rate it scales.
    best_loss, best_params
        ReLU care's best training loss and parameters since its first re-draw.
    resume_params
        When ``fit`` ended by putting back ``best_params``, the parameters the
        run had reached; the next ``fit`` continues from them if the network
        still holds ``best_params``.
    """

    def __init__(self):
        self.optimizer = None
        self.history = History()
        self.rng = None
        self.epoch = 0
        self.step = 0
        self.loss = None
        self.schedule = None
        self.lr0 = None
        self.care_best = math.inf       # ReLU care: best loss since the last re-draw, and
        self.care_wait = 0              # epochs without improving on it
        self.redraws = 0
        self.revived = 0
        self.best_loss = math.inf
        self.best_params = None
        self.resume_params = None

    _SCALARS = ("epoch", "step", "lr0", "care_best", "care_wait", "redraws", "revived", "best_loss")

    def state_dict(self) -> dict:
        """A dict of plain Python values and NumPy arrays (no objects), for checkpoints.

        Keys: the counters (``epoch``, ``step``, …), ``rng`` (the generator's
        ``bit_generator.state``, JSON-able), ``history`` (``History.to_dict()``),
        ``loss`` (its name and reduction), ``optimizer`` (``Optimizer.state_dict()``),
        ``schedule`` (``Schedule.state_dict()``) and the arrays ``best_params``,
        ``resume_params`` when present.
        """
        d = {k: getattr(self, k) for k in self._SCALARS}
        d["rng"] = None if self.rng is None else self.rng.bit_generator.state
        d["history"] = self.history.to_dict()
        d["loss"] = None if self.loss is None else {"name": self.loss.name,
                                                    "reduction": self.loss.reduction}
        d["optimizer"] = None if self.optimizer is None else self.optimizer.state_dict()
        d["schedule"] = None if self.schedule is None else self.schedule.state_dict()
        for k in ("best_params", "resume_params"):
            if getattr(self, k) is not None:
                d[k] = getattr(self, k).copy()
        return d

    def load_state_dict(self, d: dict) -> None:
        """Restore what ``state_dict`` gave."""
        for k in self._SCALARS:
            if k in d:
                setattr(self, k, d[k])
        self.epoch, self.step = int(self.epoch), int(self.step)
        for k in ("care_best", "best_loss"):
            setattr(self, k, math.inf if getattr(self, k) is None else float(getattr(self, k)))
        if d.get("rng") is not None:
            state = d["rng"]
            bit_generator = getattr(np.random, state["bit_generator"])()
            bit_generator.state = state
            self.rng = np.random.Generator(bit_generator)
        if d.get("history") is not None:
            self.history = History.from_dict(d["history"])
        if d.get("loss") is not None:
            self.loss = _losses.LOSSES[d["loss"]["name"]](reduction=d["loss"]["reduction"])
        if d.get("optimizer") is not None:
            self.optimizer = _optimizers.from_state_dict(d["optimizer"])
        if d.get("schedule") is not None:
            self.schedule = _schedules.from_state_dict(d["schedule"])
        for k in ("best_params", "resume_params"):
            setattr(self, k, None if d.get(k) is None else np.array(d[k]))

    @classmethod
    def from_state_dict(cls, d: dict, net=None) -> TrainState:
        """A new TrainState from ``state_dict()`` (``net``, if given, is checked for size)."""
        state = cls()
        state.load_state_dict(d)
        for k in ("best_params", "resume_params"):
            arr = getattr(state, k)
            if net is not None and arr is not None and arr.shape != (net.n_params,):
                raise ValueError(f"{k} has shape {arr.shape}, the network has {net.n_params} parameters")
        return state

    def __repr__(self) -> str:
        return (f"TrainState(epoch={self.epoch}, step={self.step}, optimizer={self.optimizer!r}, "
                f"history={self.history!r})")


# -- helpers: data, weights, validation -----------------------------------------------------

def _default_loss(net):
    out = net.layers[-1].activation
    if isinstance(out, Softmax):
        return _losses.CrossEntropy()
    if isinstance(out, Sigmoid):
        return _losses.BinaryCrossEntropy()
    return _losses.MSE()


def _check_targets(net, y, n, loss, what="y"):
    """Validate targets; MSE on integer class labels is warned about (or refused when it cannot fit)."""
    raw = np.asarray(y)
    if isinstance(loss, _losses.MSE) and np.issubdtype(raw.dtype, np.integer):
        if raw.ndim == 1 and net.n_out > 1:
            raise ValueError(f"MSE on integer class labels: did you mean cross_entropy? ({what} has "
                             f"shape {raw.shape}, the network has {net.n_out} outputs; use a softmax "
                             "output and loss='cross_entropy')")
        warnings.warn("MSE on integer class labels: did you mean cross_entropy? (a softmax output "
                      "with loss='cross_entropy', or a sigmoid output with binary_cross_entropy)",
                      TrainingWarning, stacklevel=4)
    y2 = check_y(y, n, net.n_out, net.dtype, labels=isinstance(loss, _losses.CrossEntropy), what=what)
    if isinstance(loss, _losses.BinaryCrossEntropy) and (np.any(y2 < 0) or np.any(y2 > 1)):
        raise ValueError("binary_cross_entropy targets must lie in [0, 1]")
    return y2


def _class_labels(y2, loss):
    """Integer class labels for accuracy and class weights, or None for regression."""
    if isinstance(loss, _losses.CrossEntropy):
        return y2 if y2.ndim == 1 else np.argmax(y2, axis=1)
    if isinstance(loss, _losses.BinaryCrossEntropy) and y2.shape[1] == 1:
        return (y2[:, 0] > 0.5).astype(np.intp)
    return None


def _class_weights(class_weight, labels, dtype):
    """Per-example weights from ``{class: weight}`` or "balanced" (w_c = n / (k · n_c))."""
    if labels is None:
        raise ValueError("class_weight needs class labels: use loss='cross_entropy' or "
                         "'binary_cross_entropy' (single output)")
    classes, counts = np.unique(labels, return_counts=True)
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(f"class_weight must be a dict or 'balanced', got {class_weight!r}")
        table = dict(zip(classes.tolist(), (len(labels) / (len(classes) * counts)).tolist()))
    elif isinstance(class_weight, dict):
        table = {}
        for c, w in class_weight.items():
            if not isinstance(w, (int, float, np.number)) or not (math.isfinite(w) and w >= 0):
                raise ValueError(f"class_weight[{c!r}] must be a finite number >= 0, got {w!r}")
            table[int(c)] = float(w)
    else:
        raise TypeError(f"class_weight must be a dict or 'balanced', got {type(class_weight).__name__}")
    lookup = np.ones(int(labels.max()) + 1)
    for c, w in table.items():
        if 0 <= c < len(lookup):
            lookup[c] = w
    return lookup[labels].astype(dtype)


def _format_scale(x: float) -> str:
    """1000.0 → '1e3', 0.0001 → '1e-4' (the order of magnitude, as a person writes it)."""
    return f"{x:.0e}".replace("e+0", "e").replace("e+", "e").replace("e-0", "e-")


def _check_input_scale(X) -> None:
    # X.std(axis=0).max() without a temporary the size of the data set (_fast.py)
    std = _fast.max_feature_std(X) if X.shape[0] > 1 else 0.0
    if std > 100 or 0 < std < 1e-2:
        warnings.warn(f"inputs have standard deviation {_format_scale(std)}: scale them (e.g. "
                      "mlp.data.StandardScaler, or divide by the largest value) so that each "
                      "feature is of order 1", TrainingWarning, stacklevel=4)


def _resolve_size(name, value, auto, n):
    if value == "auto":
        return auto
    if value is None:
        return n
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, 'auto' or None, got {value!r}")
    return int(value)


def _dropout_rates(dropout, n_hidden):
    rates = [dropout] * n_hidden if np.isscalar(dropout) else list(dropout)
    if len(rates) != n_hidden:
        raise ValueError(f"dropout needs one rate per hidden layer ({n_hidden}), got {len(rates)}")
    for r in rates:
        if isinstance(r, bool) or not isinstance(r, (int, float, np.number)) or not 0 <= r < 1:
            raise ValueError(f"dropout rates must be numbers in [0, 1), got {r!r}")
    return [float(r) for r in rates]


def _nonneg(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
            or not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


# -- the forward/backward pass with dropout (training only) ---------------------------------

def _loss_and_grad_dropout(net, X, y, loss, sample_weight, keep, rng):
    """``net._loss_and_grad`` with inverted dropout after hidden layer i (keep probability keep[i]).

    Each kept unit's h is scaled by 1/keep so that E[h] is unchanged and the plain
    forward pass (no dropout) needs no rescaling at prediction time. The mask
    multiplies the gradient on the way back: ∂loss/∂h = mask ⊙ ∂loss/∂(mask ⊙ h).
    """
    layers, last = net.layers, len(net.layers) - 1
    masks = []
    h = X
    for i, layer in enumerate(layers):
        h = layer.forward(h)
        mask = None
        if i < last and keep[i] < 1:
            mask = (rng.random(h.shape) < keep[i]).astype(h.dtype)
            mask *= 1 / keep[i]
            h = h * mask
        masks.append(mask)
    if loss.fused:
        value, delta = loss.value_and_delta(layers[-1].z, y, sample_weight)
        g = layers[-1].backward_delta(delta, need_input_grad=last > 0)
    else:
        value = loss.value(h, y, sample_weight)
        g = layers[-1].backward(loss.gradient(h, y, sample_weight), need_input_grad=last > 0)
    for i in range(last - 1, -1, -1):
        if masks[i] is not None:
            g = g * masks[i]
        g = layers[i].backward(g, need_input_grad=i > 0)
    return value


# -- dead-unit care for ReLU hidden layers ---------------------------------------------------

class _ReluCare:
    """Keeps hidden ReLU units alive and re-draws the least useful one when the loss plateaus.

    * Revive: a unit whose z ≤ 0 on every example of an epoch outputs 0 and gets no
      gradient, so it can never recover. It gets fresh input weights
      (He: N(0, 2/n_in)), bias 0, zero outgoing weights and cleared optimiser
      state. With zero outgoing weights the network computes exactly the same
      function, so reviving never changes the loss.
    * Re-draw: when the training loss has not fallen below (1 − CARE_TOL) × its
      best for a plateau's worth of epochs, the unit with the smallest
      contribution mean(h_j) · ‖W_next[:, j]‖ on the last batch is re-drawn the
      same way. The best parameters since the first re-draw are kept, and put
      back at the end of ``fit`` if the run ended worse.
    """

    def __init__(self, net, opt, state, n_batches):
        self.net, self.opt, self.state = net, opt, state
        self.hidden = [i for i, layer in enumerate(net.layers[:-1]) if isinstance(layer.activation, ReLU)]
        self.alive = {i: np.zeros(net.layers[i].n_out, dtype=bool) for i in self.hidden}
        self.patience = max(CARE_MIN_EPOCHS, math.ceil(CARE_PATIENCE_STEPS / n_batches))
        sizes = [(layer.n_out, layer.n_in) for layer in net.layers]
        self.w_at = np.cumsum([0] + [a * b for a, b in sizes])
        self.b_at = self.w_at[-1] + np.cumsum([0] + [a for a, _ in sizes])

    def track(self) -> None:
        """After a batch's forward pass: note which units were active on it."""
        for i, alive in self.alive.items():
            alive |= self.net.layers[i].z.max(axis=0) > 0

    def _redraw(self, i: int, units) -> None:
        layer, nxt = self.net.layers[i], self.net.layers[i + 1]
        units = np.asarray(units)
        mask = np.zeros(self.net.n_params, dtype=bool)
        for j in units:
            layer.W[j] = self.state.rng.normal(0.0, math.sqrt(2.0 / layer.n_in), layer.n_in)
            layer.b[j] = 0
            nxt.W[:, j] = 0
            mask[self.w_at[i] + j * layer.n_in: self.w_at[i] + (j + 1) * layer.n_in] = True
            mask[self.b_at[i] + j] = True
            mask[self.w_at[i + 1] + np.arange(nxt.n_out) * nxt.n_in + j] = True
        self.opt.reset_state(mask)

    def end_epoch(self, loss: float) -> None:
        state, net = self.state, self.net
        for i, alive in self.alive.items():
            if not alive.all():
                dead = np.flatnonzero(~alive)
                self._redraw(i, dead)
                state.revived += dead.size
            alive.fill(False)
        if state.redraws and loss < state.best_loss:
            state.best_loss, state.best_params = loss, net.params.copy()
        if loss < state.care_best * (1 - CARE_TOL):
            state.care_best, state.care_wait = loss, 0
            return
        state.care_wait += 1
        if state.care_wait < self.patience:
            return
        # Plateau: keep the best so far, then re-draw the least contributing unit.
        if loss < state.best_loss:
            state.best_loss, state.best_params = loss, net.params.copy()
        scores = []
        for i in self.hidden:
            h = net.layers[i].h
            contribution = h.mean(axis=0) * np.linalg.norm(net.layers[i + 1].W, axis=0)
            j = int(np.argmin(contribution))
            scores.append((float(contribution[j]), i, j))
        _, i, j = min(scores)
        self._redraw(i, [j])
        state.redraws += 1
        state.care_best, state.care_wait = math.inf, 0

    def finish(self, last_loss: float) -> None:
        """At the end of fit: if the run ended worse than its best, put the best back."""
        state, net = self.state, self.net
        if state.best_params is not None and state.best_loss < last_loss:
            state.resume_params = net.params.copy()
            net.params = state.best_params


# -- Ctrl-C and the progress bar -------------------------------------------------------------

class _CtrlC:
    """While training, the first Ctrl-C asks the loop to stop after the current batch.

    Installed only where Python's default handler is in place (main thread, no
    handler of the caller's own); a second Ctrl-C interrupts at once.
    """

    def __init__(self):
        self.requested = False
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        self.requested = True
        signal.signal(signal.SIGINT, self._previous)

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


def _progress_bar(progress, total: int):
    if progress is None:
        isatty = getattr(sys.stderr, "isatty", None)
        progress = bool(isatty and isatty())
    if not progress:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        if progress is True:
            raise ImportError("progress=True needs tqdm: pip install 'mlp[progress]'") from None
        return None
    return tqdm(total=total, unit="epoch", desc="fit", file=sys.stderr, dynamic_ncols=True)


# -- fit --------------------------------------------------------------------------------------

def _still_falling(losses) -> bool:
    """The best loss fell, over the last 10% of the epochs, by more than 1% of the whole fall."""
    if len(losses) < 3:
        return False
    best = np.minimum.accumulate(np.asarray(losses, dtype=np.float64))
    if not np.all(np.isfinite(best)):
        return False
    k = max(1, len(losses) // 10)
    total, recent = best[0] - best[-1], best[-1 - k] - best[-1]
    return bool(total > 0 and recent > 0.01 * total)


def _rng_for(net, seed, state):
    if seed is not None:
        if isinstance(seed, np.random.Generator):
            return seed
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"seed must be an int, a numpy Generator or None, got {type(seed).__name__}")
        return np.random.default_rng(int(seed))
    if state.rng is not None:
        return state.rng
    # No seed: derive one from the parameters, so that a seeded network trains reproducibly.
    digest = hashlib.sha256(np.ascontiguousarray(net.params).tobytes()).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "little"))


def fit(net, X, y, *, loss="auto", optimizer="adam", lr=None, epochs="auto", batch_size="auto",
        shuffle=True, validation_split=0.0, validation_data=None, early_stopping=False, patience=10,
        restore_best=True, schedule=None, weight_decay=0.0, l1=0.0, dropout=0.0, clip_norm=None,
        clip_value=None, sample_weight=None, class_weight=None, callbacks=(), monitor=False,
        seed=None, progress=None, relu_care=True) -> History:
    """Train the network on (X, y) by mini-batch gradient descent; return the ``History``.

    Each epoch visits every training example once, in batches of ``batch_size``
    (reshuffled every epoch); each batch is one optimiser step on the flat
    parameter vector: backpropagation gives ∂loss/∂θ, the optimiser updates θ in
    place. Calling ``fit`` again continues: same optimiser state, same random
    generator, the same ``History`` extended — ``fit(epochs=5)`` twice gives the
    same parameters, bit for bit, as ``fit(epochs=10)``. Set
    ``net.train_state = None`` to start afresh.

    Parameters
    ----------
    X : ndarray of shape (n, n_in)
    y : ndarray of shape (n, n_out), (n,) for one output, or class labels (n,) for cross-entropy
    loss : str or Loss, default "auto"
        "auto": cross_entropy for a softmax output, binary_cross_entropy for a
        sigmoid output, else "mse" (the lecture's ½ Σ (ŷ − y)²).
    optimizer : str or Optimizer, default "adam"
        A name from ``mlp.optimizers`` or an instance (kept, with its state).
    lr : float, optional
        Learning rate; default the optimiser's own (PyTorch's defaults: 1e-3 for
        Adam, AdamW and SGD, 1e-2 for RMSprop).
    epochs : int or "auto", default "auto"
        "auto": enough epochs for about 5000 optimiser steps, at least 10 —
        5000 epochs on 4 examples (XOR), 715 on 1,347 (digits), 17 on 60,000.
    batch_size : int, "auto" or None, default "auto"
        "auto" is min(200, n) (scikit-learn's rule); None is full-batch gradient
        descent, as in the lecture.
    shuffle : bool, default True
        Reshuffle the examples every epoch (not needed, and not done, when one
        batch holds them all).
    validation_split : float, default 0
        Hold out this fraction of the examples, the *last* ones as given (Keras'
        rule: shuffle first if your data are sorted), for ``val_loss``.
    validation_data : (X_val, y_val) or (X_val, y_val, sample_weight_val), optional
    early_stopping : bool, default False
        Stop when ``val_loss`` (``loss`` without validation data) has not improved
        for ``patience`` epochs; ``restore_best`` then puts back the best epoch's
        parameters. See ``mlp.callbacks.EarlyStopping`` for other quantities.
    patience : int, default 10
    restore_best : bool, default True
    schedule : str, Schedule, callable or None
        Learning-rate schedule (``mlp.schedules``), set at the start of every epoch:
        "constant", "step", "exponential", "cosine", "invscaling", "plateau", a
        ``Schedule`` or ``f(epoch) -> lr``. None leaves the optimiser's lr alone.
    weight_decay : float, default 0
        L2 penalty ½ λ ‖w‖² on the weights (not the biases), added to the loss:
        gradient λ w, applied before the optimiser (as ``torch.optim.Adam``'s
        ``weight_decay``; use ``optimizer=AdamW(...)`` for decoupled decay).
    l1 : float, default 0
        L1 penalty λ₁ Σ |w| on the weights; gradient λ₁ sign(w).
    dropout : float or sequence of float, default 0
        Probability of zeroing each hidden unit during training (inverted dropout:
        kept units are scaled by 1/(1 − p)); one rate for every hidden layer or one
        per hidden layer. Prediction never drops anything.
    clip_norm, clip_value : float, optional
        Scale the gradient so that ‖g‖₂ ≤ clip_norm (as ``torch.nn.utils.clip_grad_norm_``),
        and/or clip each entry to [−clip_value, clip_value].
    sample_weight : ndarray of shape (n,), optional
        Multiplies each example's loss.
    class_weight : dict or "balanced", optional
        Multiplies the loss of each example of class c by w_c; "balanced" is
        w_c = n / (k · n_c) (scikit-learn's rule). Combined with ``sample_weight``.
    callbacks : sequence of Callback
        See ``mlp.callbacks``.
    monitor : bool, default False
        Record per-epoch health (dead units, gradient norms, …) in ``history.monitor``
        with ``mlp.diagnostics.Monitor``.
    seed : int, numpy.random.Generator or None
        Seeds shuffling, dropout and ReLU care. None: keep the generator of the
        previous fit, or for the first fit derive one from the current parameters
        (a network built with a seed then trains reproducibly).
    progress : bool or None
        A tqdm progress bar per epoch with loss and val_loss. None: shown when
        stderr is a terminal.
    relu_care : bool, default True
        Keep hidden ReLU units alive (see Notes). It does nothing for networks
        without ReLU hidden layers.

    Returns
    -------
    History
        Also kept in ``net.train_state.history`` and ``net.history``.

    Raises
    ------
    TrainingDiverged
        When the loss becomes NaN or infinite; the parameters are those of the
        last finite state and the error names the epoch, the batch and a remedy.

    Warns
    -----
    TrainingWarning
        "loss still falling at the last epoch: raise epochs"; "inputs have
        standard deviation 1e3: scale them"; "MSE on integer class labels: did
        you mean cross_entropy?".

    Notes
    -----
    **ReLU care.** A ReLU unit whose z ≤ 0 on every example outputs 0 and gets
    zero gradient, so gradient descent can never bring it back: the lecture's
    2-2-1 ReLU network on XOR gets stuck this way from most random starts (plain
    Adam from He initialisation solves about 1 seed in 4; PyTorch's default
    initialisation with SGD or Adam little more). With ``relu_care`` (default)
    fit does two things for hidden ReLU layers, and nothing else:

    1. after every epoch, each unit that was inactive on every example of the
       epoch is revived: fresh input weights N(0, 2/n_in), bias 0, zero outgoing
       weights, its optimiser state cleared. The network's function, and so the
       loss, is unchanged by this;
    2. when the training loss has not improved by 0.1% for about 500 optimiser
       steps (at least 10 epochs), the unit contributing least (mean h · ‖outgoing
       weights‖ on the last batch) is re-drawn the same way and training goes on;
       the parameters with the lowest epoch loss since the first re-draw are
       kept, and put back at the end if the run ended worse.

    With the defaults this solves XOR with the 2-2-1 ReLU/identity/MSE network
    from 99.9% of seeds (benchmarks/xor_reliability.py). Networks without ReLU
    hidden layers are trained exactly as described above. Without early stopping
    and without ReLU care, fit applies exactly ``epochs`` × ⌈n / batch_size⌉
    optimiser steps to the parameters it was given.

    **Ctrl-C** stops after the current batch: fit returns the History so far
    (``history.stop_reason == "interrupted"``) and the network holds the last
    completed update.

    Examples
    --------
    >>> import mlp
    >>> net = mlp.Network.from_sizes([2, 2, 1], hidden="relu", seed=0)
    >>> history = net.fit(*mlp.datasets.xor(), loss="mse")
    >>> bool(abs(net(mlp.datasets.xor()[0]) - mlp.datasets.xor()[1]).max() < 0.1)
    True
    """
    # -- check everything before touching the network
    loss_fn = _default_loss(net) if isinstance(loss, str) and loss == "auto" else _losses.get(loss)
    loss_fn.check_output(net.layers[-1].activation)
    X2, _ = check_X(X, net.n_in, net.dtype)
    n_all = X2.shape[0]
    y2 = _check_targets(net, y, n_all, loss_fn)
    sw = check_sample_weight(sample_weight, n_all, net.dtype)
    labels = _class_labels(y2, loss_fn)
    if class_weight is not None:
        cw = _class_weights(class_weight, labels, net.dtype)
        sw = cw if sw is None else sw * cw
    if validation_data is not None and validation_split:
        raise ValueError("give validation_split or validation_data, not both")
    Xv = yv = swv = None
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError("validation_data must be (X_val, y_val) or (X_val, y_val, sample_weight)")
        Xv, _ = check_X(validation_data[0], net.n_in, net.dtype, what="X_val")
        yv = _check_targets(net, validation_data[1], Xv.shape[0], loss_fn, what="y_val")
        if len(validation_data) == 3:
            swv = check_sample_weight(validation_data[2], Xv.shape[0], net.dtype)
    elif validation_split:
        split = _nonneg("validation_split", validation_split)
        n_train = int(n_all * (1 - split))
        if split >= 1 or n_train < 1 or n_train == n_all:
            raise ValueError(f"validation_split={validation_split} leaves no training or no "
                             f"validation example out of {n_all}")
        Xv, yv = X2[n_train:], y2[n_train:]
        swv = None if sw is None else sw[n_train:]
        X2, y2 = X2[:n_train], y2[:n_train]
        sw = None if sw is None else sw[:n_train]
        labels = None if labels is None else labels[:n_train]
    labels_v = None if yv is None else _class_labels(yv, loss_fn)
    n = X2.shape[0]
    bs = min(_resolve_size("batch_size", batch_size, min(AUTO_BATCH, n), n), n)
    n_batches = math.ceil(n / bs)
    epochs = _resolve_size("epochs", epochs, max(AUTO_MIN_EPOCHS, math.ceil(AUTO_STEPS / n_batches)), 0) \
        if epochs != 0 else 0
    weight_decay, l1 = _nonneg("weight_decay", weight_decay), _nonneg("l1", l1)
    clip_norm = None if clip_norm is None else _nonneg("clip_norm", clip_norm)
    clip_value = None if clip_value is None else _nonneg("clip_value", clip_value)
    keep = [1 - r for r in _dropout_rates(dropout, len(net.layers) - 1)]
    callbacks = list(callbacks)
    for cb in callbacks:
        if not isinstance(cb, _callbacks.Callback):
            raise TypeError(f"callbacks must be mlp.callbacks.Callback instances, got {type(cb).__name__}")
    _check_input_scale(X2)

    # -- the training state: new, or continued from the previous fit
    state = getattr(net, "train_state", None) or TrainState()
    same_opt = state.optimizer is not None and (
        optimizer is state.optimizer
        or (isinstance(optimizer, str) and optimizer == state.optimizer.name))
    opt = state.optimizer if same_opt else _optimizers.get(optimizer)
    if lr is not None:
        opt.lr = _nonneg("lr", lr)
    if not same_opt or lr is not None or state.lr0 is None:
        state.lr0 = opt.lr
    if isinstance(schedule, str) and state.schedule is not None and schedule == state.schedule.name:
        sched = state.schedule
    else:
        sched = None if schedule is None else _schedules.get(schedule, epochs)
    state.optimizer, state.schedule, state.loss = opt, sched, loss_fn
    state.rng = rng = _rng_for(net, seed, state)
    if state.resume_params is not None:
        if state.best_params is not None and np.array_equal(net.params, state.best_params):
            net.params = state.resume_params
        state.resume_params = None
    net.train_state, net.history = state, state.history
    history = state.history
    history.stop_reason = None

    care = None
    if relu_care and any(isinstance(layer.activation, ReLU) for layer in net.layers[:-1]):
        care = _ReluCare(net, opt, state, n_batches)
    es = None
    if early_stopping:
        es = _callbacks.EarlyStopping(patience=patience, restore_best=restore_best)
        callbacks.append(es)
    if monitor:
        from .diagnostics import Monitor
        callbacks.append(Monitor())
    for cb in callbacks:
        cb.set_network(net)
        cb.on_train_begin(history)

    params, grads = net.params, net.grads
    n_w = sum(layer.n_out * layer.n_in for layer in net.layers)
    w, gw = params[:n_w], grads[:n_w]
    penalty_tmp = np.empty_like(w) if (weight_decay or l1) else None
    per_example = loss_fn.reduction == "mean"          # batch loss is a mean: weight it by size
    dropping = any(k < 1 for k in keep)
    binary = labels is not None and not isinstance(loss_fn, _losses.CrossEntropy)
    last_good = params.copy()
    bar = _progress_bar(progress, epochs)
    first_epoch = len(history)

    try:
        # Overflow shows up as a non-finite loss, reported by TrainingDiverged: no NumPy warnings.
        with _CtrlC() as ctrl_c, np.errstate(over="ignore", invalid="ignore"):
            for _ in range(epochs):
                epoch = state.epoch + 1
                if sched is not None:
                    opt.lr = float(sched(state.epoch, state.lr0))
                lr_used = opt.lr
                t0 = time.perf_counter()
                order = rng.permutation(n) if shuffle and n_batches > 1 else None
                total = penalty_total = 0.0
                correct = done = 0
                interrupted = False
                for b in range(n_batches):
                    try:
                        if order is None:
                            sl = slice(b * bs, (b + 1) * bs)
                        else:
                            sl = order[b * bs:(b + 1) * bs]
                        Xb, yb = X2[sl], y2[sl]
                        swb = None if sw is None else sw[sl]
                        if dropping:
                            value = _loss_and_grad_dropout(net, Xb, yb, loss_fn, swb, keep, rng)
                        else:
                            value = net._loss_and_grad(Xb, yb, loss_fn, swb)
                        if not math.isfinite(value):
                            _diverged(net, state, last_good, epoch, b + 1, value)
                        if weight_decay or l1:
                            penalty = 0.0
                            if weight_decay:
                                penalty += 0.5 * weight_decay * float(np.dot(w, w))
                                np.multiply(w, weight_decay, out=penalty_tmp)
                                gw += penalty_tmp
                            if l1:
                                penalty += l1 * float(np.abs(w).sum())
                                np.sign(w, out=penalty_tmp)
                                penalty_tmp *= l1
                                gw += penalty_tmp
                            penalty_total += penalty
                        if clip_value is not None:
                            np.clip(grads, -clip_value, clip_value, out=grads)
                        if clip_norm is not None:
                            norm = math.sqrt(float(np.dot(grads, grads)))
                            if norm > clip_norm:
                                grads *= clip_norm / (norm + 1e-6)
                        opt.step(params, grads)
                        state.step += 1
                        nb = Xb.shape[0]
                        total += value * nb if per_example else value
                        if care is not None:
                            care.track()
                        if labels is not None:
                            out = net.layers[-1].h
                            pred = (out > 0.5)[:, 0] if binary else out.argmax(axis=1)
                            correct += int(np.count_nonzero(pred == labels[sl]))
                        done += nb
                    except KeyboardInterrupt:
                        interrupted = True
                    if interrupted or ctrl_c.requested:
                        interrupted = True
                        break
                if done == 0:
                    break
                epoch_loss = (total / done if per_example else total) + penalty_total / max(b + 1, 1)
                if care is not None and not interrupted:
                    care.end_epoch(epoch_loss)
                if not np.isfinite(params).all():
                    _diverged(net, state, last_good, epoch, b + 1, math.nan)
                last_good[...] = params
                metrics = {} if labels is None else {"accuracy": correct / done}
                val_loss = None
                if Xv is not None:
                    val_loss, val_acc = _evaluate(net, Xv, yv, swv, labels_v, loss_fn)
                    if val_acc is not None:
                        metrics["val_accuracy"] = val_acc
                state.epoch += 1
                history._append(loss=epoch_loss, val_loss=val_loss, lr=lr_used,
                                seconds=time.perf_counter() - t0, metrics=metrics)
                if isinstance(sched, _schedules.ReduceOnPlateau):
                    sched.on_epoch_end(epoch_loss if val_loss is None else val_loss)
                if bar is not None:
                    post = {"loss": f"{epoch_loss:.4g}"}
                    if val_loss is not None:
                        post["val_loss"] = f"{val_loss:.4g}"
                    bar.set_postfix(post, refresh=False)
                    bar.update()
                if interrupted:
                    history.stop_reason = "interrupted"
                    break
                stop = False
                try:
                    for cb in callbacks:
                        stop = bool(cb.on_epoch_end(epoch, history)) or stop
                except KeyboardInterrupt:
                    history.stop_reason = "interrupted"
                    break
                if ctrl_c.requested:
                    history.stop_reason = "interrupted"
                    break
                if stop:
                    history.stop_reason = "early_stopping" if es is not None and es.stopped_epoch \
                        else "callback"
                    break
    finally:
        if bar is not None:
            bar.close()

    if care is not None and len(history) > first_epoch:
        care.finish(history.loss[-1])
    for cb in callbacks:
        cb.on_train_end(history)
    if history.stop_reason is None and _still_falling(history.loss[max(first_epoch - 1, 0):]):
        warnings.warn(f"loss still falling at the last epoch: raise epochs (it fell from "
                      f"{history.loss[first_epoch]:.4g} to {history.loss[-1]:.4g} in {epochs} "
                      "epochs)", TrainingWarning, stacklevel=3)
    return history


def _evaluate(net, Xv, yv, swv, labels_v, loss_fn):
    """Validation loss (and accuracy for classifiers) with the plain forward pass."""
    y_hat = net.forward(Xv)
    if loss_fn.fused:
        value, _ = loss_fn.value_and_delta(net.layers[-1].z, yv, swv)
    else:
        value = loss_fn.value(y_hat, yv, swv)
    acc = None
    if labels_v is not None:
        pred = (y_hat > 0.5)[:, 0] if y_hat.shape[1] == 1 else y_hat.argmax(axis=1)
        acc = float(np.mean(pred == labels_v))
    return value, acc


def _diverged(net, state, last_good, epoch, batch, value):
    """Restore the last finite parameters, reset the optimiser and raise TrainingDiverged."""
    restored = "the parameters of this batch (they are finite; the loss overflowed)"
    if not np.all(np.isfinite(net.params)):
        net.params = last_good
        restored = "the parameters at the end of the previous epoch"
    state.optimizer.reset_state()
    lr = state.optimizer.lr
    hint = (f"lower the learning rate (lr={lr:g} now; try lr={lr / 10:g}), scale the inputs, "
            "or clip the gradients (clip_norm=1.0)")
    raise TrainingDiverged(
        f"training diverged: the loss became {value} at epoch {epoch}, batch {batch}. The network "
        f"holds {restored}. Hint: {hint}.", epoch=epoch, batch=batch, lr=lr, hint=hint)
