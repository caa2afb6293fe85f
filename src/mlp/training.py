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
from typing import NamedTuple

import numpy as np

from . import _fast
from . import callbacks as _callbacks
from . import init as _init
from . import losses as _losses
from . import optimizers as _optimizers
from . import schedules as _schedules
from ._relu_care import ReluCare, relu_layers
from ._validation import check_sample_weight, check_X, check_y
from .activations import Sigmoid, Softmax
from .history import History, TrainState

__all__ = ["History", "TrainState", "TrainingDiverged", "TrainingWarning", "fit"]

#: ``epochs="auto"`` trains for about this many optimiser steps (at least ``AUTO_MIN_EPOCHS``).
AUTO_STEPS = 10000
AUTO_MIN_EPOCHS = 10
#: ``batch_size="auto"`` is min(AUTO_BATCH, n), scikit-learn's rule.
AUTO_BATCH = 200


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
                      TrainingWarning, stacklevel=5)
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


def _class_weights(class_weight, labels, n_classes, dtype):
    """Per-example weights from ``{class: weight}`` or "balanced" (w_c = n / (k · n_c)).

    A dict key must be one of the network's classes 0 … n_classes − 1 (one missing from
    these labels is fine)."""
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
            if isinstance(c, bool) or not isinstance(c, (int, np.integer)) or not 0 <= c < n_classes:
                raise ValueError(f"class_weight has class {c!r}, but the network's classes are "
                                 f"0..{n_classes - 1}")
            table[int(c)] = float(w)
    else:
        raise TypeError(f"class_weight must be a dict or 'balanced', got {type(class_weight).__name__}")
    lookup = np.ones(max(n_classes, int(labels.max()) + 1))
    for c, w in table.items():
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


class _Data(NamedTuple):
    """Validated training (and validation) arrays, in the network's dtype."""

    loss: _losses.Loss
    X: np.ndarray
    y: np.ndarray
    sample_weight: np.ndarray | None
    labels: np.ndarray | None          # integer classes for accuracy, None for regression
    X_val: np.ndarray | None
    y_val: np.ndarray | None
    sample_weight_val: np.ndarray | None
    labels_val: np.ndarray | None


def _prepare_data(net, X, y, loss, sample_weight, class_weight, validation_split, validation_data):
    """Check the data once, before training; split off validation data (Keras: the last rows)."""
    loss = _default_loss(net) if isinstance(loss, str) and loss == "auto" else _losses.get(loss)
    loss.check_output(net.layers[-1].activation)
    X2, _ = check_X(X, net.n_in, net.dtype)
    n = X2.shape[0]
    y2 = _check_targets(net, y, n, loss)
    sw = check_sample_weight(sample_weight, n, net.dtype)
    labels = _class_labels(y2, loss)
    if class_weight is not None and labels is None:
        _class_weights(class_weight, labels, max(net.n_out, 2), net.dtype)     # raises: no classes
    if validation_data is not None and validation_split:
        raise ValueError("give validation_split or validation_data, not both")
    Xv = yv = swv = None
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError("validation_data must be (X_val, y_val) or (X_val, y_val, sample_weight)")
        Xv, _ = check_X(validation_data[0], net.n_in, net.dtype, what="X_val")
        yv = _check_targets(net, validation_data[1], Xv.shape[0], loss, what="y_val")
        if len(validation_data) == 3:
            swv = check_sample_weight(validation_data[2], Xv.shape[0], net.dtype)
    elif validation_split:
        split = _nonneg("validation_split", validation_split)
        n_train = int(n * (1 - split))
        if split >= 1 or n_train < 1 or n_train == n:
            raise ValueError(f"validation_split={validation_split} leaves no training or no "
                             f"validation example out of {n}")
        Xv, yv, X2, y2 = X2[n_train:], y2[n_train:], X2[:n_train], y2[:n_train]
        if sw is not None:
            swv, sw = sw[n_train:], sw[:n_train]
        if labels is not None:
            labels = labels[:n_train]
    # class_weight weighs the training examples only ("balanced" counts them alone), as Keras and
    # scikit-learn: validation_split and the same rows as validation_data give the same val_loss
    if class_weight is not None:
        cw = _class_weights(class_weight, labels, max(net.n_out, 2), net.dtype)
        sw = cw if sw is None else sw * cw
    if sw is not None and sw.size and not sw.any():
        raise ValueError("every example has weight 0 (sample_weight × class_weight): the loss is 0 "
                         "and training would learn nothing")
    labels_v = None if yv is None else _class_labels(yv, loss)
    return _Data(loss, X2, y2, sw, labels, Xv, yv, swv, labels_v)


def _resolve_epochs(epochs, n_batches: int) -> int:
    """The number of epochs; "auto" is about AUTO_STEPS optimiser steps, at least AUTO_MIN_EPOCHS."""
    if isinstance(epochs, str) and epochs == "auto":
        return max(AUTO_MIN_EPOCHS, math.ceil(AUTO_STEPS / n_batches))
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"epochs must be an int >= 0 or 'auto', got {epochs!r}")
    return int(epochs)


class _Penalty:
    """L2 and L1 penalties on the weights (not the biases): ½ λ ‖w‖² + λ₁ ‖w‖₁."""

    def __init__(self, net, weight_decay: float, l1: float):
        n_w = sum(layer.n_out * layer.n_in for layer in net.layers)   # weights come first
        self.w, self.dw = net.params[:n_w], net.grads[:n_w]
        self.weight_decay, self.l1 = weight_decay, l1
        self.tmp = np.empty_like(self.w)

    def add_to_grads(self) -> float:
        """grads_w += λ w + λ₁ sign(w); returns the penalty's value."""
        value = 0.0
        if self.weight_decay:
            value += 0.5 * self.weight_decay * float(np.dot(self.w, self.w))
            np.multiply(self.w, self.weight_decay, out=self.tmp)
            self.dw += self.tmp
        if self.l1:
            value += self.l1 * float(np.abs(self.w).sum())
            np.sign(self.w, out=self.tmp)
            self.tmp *= self.l1
            self.dw += self.tmp
        return value


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
        return _init.rng_from(seed)
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
        "auto": enough epochs for about 10,000 optimiser steps, at least 10 —
        10,000 epochs on 4 examples (XOR), 1,429 on 1,347 (digits, batches of
        200), 34 on 60,000.
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
        parameters (also when the epochs run out; not after Ctrl-C). The watch is
        part of ``net.train_state``: a later ``fit`` or a resumed checkpoint carries
        it on, so a run cut in two ends as one run would. See
        ``mlp.callbacks.EarlyStopping`` for other quantities.
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
    2-2-1 ReLU network on XOR gets stuck this way from most random starts (with
    these defaults but ``relu_care=False``, 19.5% of 1000 seeds solve it; PyTorch's
    default initialisation with SGD(lr=0.1) or Adam(lr=0.01), 24% and 22%). With ``relu_care`` (default)
    fit does two things for hidden ReLU layers, and nothing else:

    1. after every epoch, each unit that was inactive on every example of the
       epoch is revived: fresh input weights N(0, 2/n_in), bias 0, zero outgoing
       weights, its optimiser state cleared. The network's function, and so the
       loss, is unchanged by this;
    2. when the training loss has not fallen by 1% for about 200 optimiser
       steps (at least 10 epochs), the unit contributing least (mean h · ‖outgoing
       weights‖ on the last batch) is re-drawn the same way and training goes on;
       the parameters with the lowest epoch loss since the first re-draw are
       kept, and put back at the end if the run ended worse.

    With the defaults this solves XOR with the 2-2-1 ReLU/identity/MSE network
    from 1000 of 1000 seeds (2-3-1 and 2-4-1 too; benchmarks/xor_reliability.py),
    in about 0.3 s per fit. Networks without ReLU
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
    data = _prepare_data(net, X, y, loss, sample_weight, class_weight, validation_split, validation_data)
    loss_fn, X2, y2, sw, labels = data.loss, data.X, data.y, data.sample_weight, data.labels
    n = X2.shape[0]
    bs = min(_resolve_size("batch_size", batch_size, min(AUTO_BATCH, n), n), n)
    n_batches = math.ceil(n / bs)
    epochs = _resolve_epochs(epochs, n_batches)
    weight_decay, l1 = _nonneg("weight_decay", weight_decay), _nonneg("l1", l1)
    clip_norm = None if clip_norm is None else _nonneg("clip_norm", clip_norm)
    clip_value = None if clip_value is None else _nonneg("clip_value", clip_value)
    keep = [1 - r for r in _dropout_rates(dropout, len(net.layers) - 1)]
    if isinstance(callbacks, _callbacks.Callback):
        callbacks = [callbacks]
    if not isinstance(callbacks, (list, tuple)):
        raise TypeError(f"callbacks must be a list of mlp.callbacks.Callback, got {type(callbacks).__name__}")
    if not isinstance(early_stopping, (bool, np.bool_)):
        raise TypeError(f"early_stopping must be True or False, got {early_stopping!r}")
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
    for name in opt._buffers:            # an instance that already trained a network of another size
        buf = getattr(opt, name)
        if buf is not None and buf.shape != net.params.shape:
            raise ValueError(f"the optimiser holds state ({name}) for {buf.size} parameters, the network "
                             f"has {net.n_params}: pass a new optimiser, or call its reset_state() first")
    if lr is not None:
        opt.lr = _nonneg("lr", lr)
    if not same_opt or lr is not None or state.lr0 is None:
        state.lr0 = opt.lr
    if (isinstance(schedule, str) and state.schedule is not None and schedule in _schedules.SCHEDULES
            and type(state.schedule) is _schedules.SCHEDULES[schedule]):   # also by an alias
        sched = state.schedule
    else:
        sched = None if schedule is None else _schedules.get(schedule, epochs)
    state.optimizer, state.schedule, state.loss = opt, sched, loss_fn
    if (isinstance(sched, _schedules.Cosine) and epochs > 0 and state.epoch >= sched.T_max
            and sched.eta_min == 0 and state.lr0 > 0):      # e.g. fit(schedule="cosine") again
        warnings.warn(f"the cosine schedule ended at epoch {sched.T_max} (schedule=\"cosine\" "
                      f"lasts the epochs of the fit that set it): this fit trains at lr 0 and will "
                      f"not change the parameters; pass schedule=mlp.schedules.Cosine("
                      f"{state.epoch + epochs}) to anneal over the whole run", TrainingWarning,
                      stacklevel=3)
    state.rng = rng = _rng_for(net, seed, state)
    if state.resume_params is not None:   # the last fit put its best parameters back: continue
        restored = state.restored_params if state.restored_params is not None else state.best_params
        if restored is not None and np.array_equal(net.params, restored):   # from where it was
            net.params = state.resume_params
        state.resume_params = state.restored_params = None
    net.train_state, net.history = state, state.history
    history = state.history
    history.stop_reason = None

    care = ReluCare(net, opt, state, n_batches) if relu_care and relu_layers(net) else None
    es = None
    if early_stopping:
        es = _callbacks.EarlyStopping(patience=patience, restore_best=restore_best)
        callbacks.insert(0, es)          # first: a Checkpoint callback then saves this epoch's watch
    if monitor:
        from .diagnostics import Monitor
        callbacks.append(Monitor())
    for cb in callbacks:
        cb.set_network(net)
        cb.on_train_begin(history)
    if es is None:
        state.early_stopping = None                 # a fit without the watch ends it
    elif state.early_stopping is not None and state.early_stopping.get("stopped_epoch") is None:
        es.load_state_dict(state.early_stopping)    # a continued run keeps watching where it was

    params, grads = net.params, net.grads
    penalty = _Penalty(net, weight_decay, l1) if (weight_decay or l1) else None
    per_example = loss_fn.reduction == "mean"          # batch loss is a mean: weight it by size
    dropping = any(k < 1 for k in keep)
    binary = labels is not None and not isinstance(loss_fn, _losses.CrossEntropy)
    # integer labels that are y itself (cross-entropy): the batch's labels are yb, gathered once
    labels_are_y = (labels is not None and labels.dtype == y2.dtype and labels.shape == y2.shape
                    and labels.strides == y2.strides
                    and labels.__array_interface__["data"][0] == y2.__array_interface__["data"][0])
    # Plain SGD with nothing between gradient and step: the step is fused into the backward
    # pass (_fast.loss_and_grad's sgd_lr; tests/test_fast.py proves it equal to the plain one).
    fused_sgd = (_fast.ENABLED and type(opt).step is _optimizers.SGD.step and not opt.momentum
                 and not opt.weight_decay and penalty is None and clip_value is None
                 and clip_norm is None and not dropping)
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
                correct = done = batches = 0
                interrupted = scaled = kept = False
                for b in range(n_batches):
                    try:
                        if order is None:
                            sl = slice(b * bs, (b + 1) * bs)
                        else:
                            sl = order[b * bs:(b + 1) * bs]
                        Xb, yb = X2[sl], y2[sl]          # a copy of one batch, never of the data set
                        swb = None if sw is None else sw[sl]
                        if dropping:
                            value = _loss_and_grad_dropout(net, Xb, yb, loss_fn, swb, keep, rng)
                        elif fused_sgd and lr_used > 0:
                            # the weight gradients are written out for the epoch's last batch only
                            kept = b == n_batches - 1
                            value = _fast.loss_and_grad(net, Xb, yb, loss_fn, swb, sgd_lr=lr_used,
                                                        keep_grads=kept)
                            scaled = True
                        else:
                            value = net._loss_and_grad(Xb, yb, loss_fn, swb)
                        if not math.isfinite(value):
                            _diverged(net, state, last_good, epoch, b + 1, value)
                        if penalty is not None:
                            penalty_total += penalty.add_to_grads()
                        if clip_value is not None:
                            np.clip(grads, -clip_value, clip_value, out=grads)
                        if clip_norm is not None:
                            norm = math.sqrt(float(np.dot(grads, grads)))
                            if norm > clip_norm:
                                grads *= clip_norm / (norm + 1e-6)
                        if scaled:            # the step is taken: count it as opt.step would
                            opt.t += 1
                        else:
                            opt.step(params, grads)
                        state.step += 1
                        nb = Xb.shape[0]
                        total += value * nb if per_example else value
                        if care is not None:
                            care.track()
                        if labels is not None:
                            out = net.layers[-1].h
                            pred = (out > 0.5)[:, 0] if binary else out.argmax(axis=1)
                            correct += int(np.count_nonzero(pred == (yb if labels_are_y else labels[sl])))
                        done += nb
                        batches += 1
                        last_batch = Xb, yb, swb
                    except KeyboardInterrupt:
                        interrupted = True
                    if interrupted or ctrl_c.requested:
                        interrupted = True
                        break
                if scaled and kept:                 # grads and deltas back to ∂L/∂θ, ∂L/∂z
                    _fast.unscale(net, lr_used)
                elif scaled:                        # interrupted mid-epoch: the gradient of the
                    Xl, yl, swl = last_batch           # last finished batch, at θ now
                    net._loss_and_grad(Xl, yl, loss_fn, swl)
                if done == 0:                       # interrupted before the first update
                    history.stop_reason = "interrupted"
                    break
                epoch_loss = (total / done if per_example else total) + penalty_total / batches
                if care is not None and not interrupted:
                    care.end_epoch(epoch_loss)
                if not np.isfinite(params).all():
                    _diverged(net, state, last_good, epoch, b + 1, math.nan)
                last_good[...] = params
                metrics = {} if labels is None else {"accuracy": correct / done}
                val_loss = None
                if data.X_val is not None:
                    val_loss, val_acc = _evaluate(net, data, loss_fn)
                    if val_acc is not None:
                        metrics["val_accuracy"] = val_acc
                state.epoch += 1
                history._append(loss=epoch_loss, val_loss=val_loss, lr=lr_used,
                                seconds=time.perf_counter() - t0, metrics=metrics)
                if isinstance(sched, _schedules.ReduceOnPlateau):
                    sched.on_epoch_end(epoch_loss if val_loss is None else val_loss, state.lr0)
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
                        if cb is es:             # part of the training state (checkpoints, resume)
                            state.early_stopping = es.state_dict()
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
    reached = net.params.copy() if es is not None else None
    for cb in callbacks:
        cb.on_train_end(history)
    # early stopping put its best back at the end of the epochs asked for: a later fit (or a
    # resumed checkpoint) continues from where the run was, as one longer run would
    if reached is not None and history.stop_reason is None and not np.array_equal(net.params, reached):
        if state.resume_params is None:
            state.resume_params = reached
        state.restored_params = net.params.copy()
    if history.stop_reason is None and _still_falling(history.loss[max(first_epoch - 1, 0):]):
        warnings.warn(f"loss still falling at the last epoch: raise epochs (it fell from "
                      f"{history.loss[first_epoch]:.4g} to {history.loss[-1]:.4g} in {epochs} "
                      "epochs)", TrainingWarning, stacklevel=3)
    return history


def _evaluate(net, data, loss_fn):
    """Validation loss (and accuracy for classifiers) with the plain forward pass."""
    y_hat = net.forward(data.X_val)
    if loss_fn.fused:
        value, _ = loss_fn.value_and_delta(net.layers[-1].z, data.y_val, data.sample_weight_val)
    else:
        value = loss_fn.value(y_hat, data.y_val, data.sample_weight_val)
    acc = None
    if data.labels_val is not None:
        pred = (y_hat > 0.5)[:, 0] if y_hat.shape[1] == 1 else y_hat.argmax(axis=1)
        acc = float(np.mean(pred == data.labels_val))
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
