"""Callbacks: small objects ``fit`` calls around training, and the built-in ones.

This module owns the callback interface and the built-ins (``EarlyStopping``,
``Checkpoint``, ``TextLogger``). It does not own the loop (``mlp.training``).

The interface, in the order ``fit`` calls it::

    set_network(net)                 once, before training
    on_train_begin(history)          once, before the first epoch of this fit call
    on_epoch_begin(epoch, history)   before every epoch (opt.lr is already this epoch's)
    on_batch_end(batch, loss)        after every batch (optimiser step); True stops training
    on_epoch_end(epoch, history)     after every epoch; returning True stops training
    on_train_end(history)            once, after the last epoch (also after a stop or Ctrl-C)

``epoch`` is the number of the epoch just finished, counting from 1 over all
``fit`` calls on this network (``history.epochs[-1]``); ``history`` is the
``mlp.History`` being filled (``history.loss[-1]`` is this epoch's loss).

Examples
--------
>>> class StopBelow(Callback):
...     def on_epoch_end(self, epoch, history):
...         return history.loss[-1] < 0.01       # True stops training
"""

from __future__ import annotations

import math
import os
import re
import sys
import warnings

import numpy as np

from ._model_file import save
from ._validation import is_number
from .errors import TrainingWarning


class Callback:
    """Base class of callbacks; every method does nothing unless overridden.

    Attributes
    ----------
    network : Network or None
        The network being trained, set by ``set_network``.
    """

    network = None

    def set_network(self, net) -> None:
        self.network = net

    def on_train_begin(self, history) -> None:
        pass

    def on_epoch_begin(self, epoch: int, history) -> None:
        """Before epoch ``epoch`` (counted from 1 over all fit calls); the optimiser's ``lr``
        is already this epoch's (a schedule has set it) and may be changed here."""

    def on_batch_end(self, batch: int, loss: float) -> bool | None:
        """After every optimiser step: ``batch`` counts the epoch's batches from 1, ``loss`` is
        the batch's loss (without penalties). Returning True ends training after this batch
        (``history.stop_reason == "callback"``). Only called when a subclass overrides it, so
        it costs nothing otherwise."""
        return None

    def on_epoch_end(self, epoch: int, history) -> bool | None:
        return None

    def on_train_end(self, history) -> None:
        pass


def _monitored(history, monitor: str) -> float | None:
    """The last value of ``monitor`` ("loss", "val_loss" or a metric name) in ``history``."""
    if monitor in ("loss", "val_loss"):
        value = getattr(history, monitor)[-1] if getattr(history, monitor) else None
    else:
        values = history.metrics.get(monitor)
        if values is None:
            known = ", ".join(["loss", "val_loss", *history.metrics])
            raise ValueError(f"cannot monitor {monitor!r}: history has {known}")
        value = values[-1]
    return None if value is None or math.isnan(value) else value


class EarlyStopping(Callback):
    """Stop when the monitored quantity has not improved for ``patience`` epochs.

    An epoch improves on the best so far when the loss falls by more than
    ``min_delta`` (or, for an accuracy, rises by more than ``min_delta``).

    Parameters
    ----------
    monitor : str, default "auto"
        ``"val_loss"``, ``"loss"``, or a metric such as ``"val_accuracy"``;
        ``"auto"`` watches ``val_loss`` when there is validation data, else ``loss``.
    patience : int, default 10
    min_delta : float, default 0
    restore_best : bool, default True
        At the end of training — when it stops early or runs out of epochs — put back
        the parameters of the best epoch. A run interrupted (Ctrl-C) or stopped by
        another callback keeps its latest parameters: resuming it (``fit`` again, or
        ``mlp train --resume``) continues the watch exactly, best parameters included.

    Notes
    -----
    The watch that resumes is the one ``fit(early_stopping=True, patience=...)``
    makes: ``fit`` keeps its ``state_dict()`` in ``net.train_state.early_stopping``
    after every epoch, so a checkpoint (``mlp.save(..., train_state=...)``,
    ``Checkpoint``, Ctrl-C in ``mlp train``) holds it and the next ``fit`` on the
    loaded network picks it up: a run cut in two stops at the same epoch with
    bit-identical parameters. An ``EarlyStopping`` passed in ``callbacks=`` is
    yours: ``on_train_begin`` starts its watch afresh at every ``fit`` call and
    checkpoints do not hold it.

    Attributes
    ----------
    best : float
        The best value seen; ``best_epoch`` the epoch it was seen at.
    stopped_epoch : int or None
        The epoch at which training was stopped, ``None`` if it ran to the end.
    """

    def __init__(self, monitor: str = "auto", patience: int = 10, min_delta: float = 0.0,
                 restore_best: bool = True):
        if not is_number(patience, integer=True) or patience < 0:
            raise ValueError(f"patience must be an int >= 0, got {patience!r}")
        if not isinstance(min_delta, (int, float)) or not min_delta >= 0:
            raise ValueError(f"min_delta must be a number >= 0, got {min_delta!r}")
        if not isinstance(monitor, str):
            raise TypeError(f"monitor must be a string, got {type(monitor).__name__}")
        self.monitor, self.patience, self.min_delta = monitor, patience, float(min_delta)
        self.restore_best = bool(restore_best)
        self.on_train_begin(None)

    def on_train_begin(self, history):
        self.best, self.best_epoch, self.wait = math.nan, None, 0
        self.best_params, self.stopped_epoch = None, None
        self._warned = False

    def _watch(self, history) -> str:
        if self.monitor != "auto":
            return self.monitor
        # NaN: this epoch had no validation data (an earlier fit had), so watch the training loss
        last = history.val_loss[-1] if history.val_loss else None
        return "val_loss" if last is not None and not math.isnan(last) else "loss"

    def on_epoch_end(self, epoch, history):
        name = self._watch(history)
        value = _monitored(history, name)
        if value is None:
            if not getattr(self, "_warned", False):      # Keras warns too; once per fit
                self._warned = True
                warnings.warn(f"EarlyStopping watches {name!r}, which this fit does not record "
                              "(no validation data?): it will not stop training", TrainingWarning,
                              stacklevel=2)
            return None
        sign = -1.0 if "acc" in name else 1.0          # accuracies improve upwards
        if math.isnan(self.best) or sign * (self.best - value) > self.min_delta:
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best and self.network is not None:
                self.best_params = self.network.params.copy()
            return None
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            return True
        return None

    def on_train_end(self, history):
        # A run stopped by Ctrl-C or by another callback is not over: it keeps its latest
        # parameters, so that a resumed run (its best so far in state_dict) continues exactly.
        if history is not None and history.stop_reason is not None and self.stopped_epoch is None:
            return
        if self.restore_best and self.best_params is not None:
            self.network.params = self.best_params

    def state_dict(self) -> dict:
        """Where the watch stands — ``best``, ``best_epoch``, ``wait``, ``stopped_epoch`` and
        ``best_params`` (array or None) — for ``fit`` to carry it across calls and checkpoints."""
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait,
                "stopped_epoch": self.stopped_epoch,
                "best_params": None if self.best_params is None else self.best_params.copy()}

    def load_state_dict(self, d: dict) -> None:
        """Continue from ``state_dict()``: the same best value, patience count and best parameters."""
        self.best = math.nan if d.get("best") is None else float(d["best"])
        self.best_epoch = None if d.get("best_epoch") is None else int(d["best_epoch"])
        self.wait = int(d.get("wait", 0))
        self.stopped_epoch = None if d.get("stopped_epoch") is None else int(d["stopped_epoch"])
        self.best_params = None if d.get("best_params") is None else np.array(d["best_params"])


def _fill_path(path: str, epoch: int, history) -> str:
    """``path`` with ``{epoch}``, ``{loss}``, ``{val_loss}`` or a metric's ``{name}`` filled in,
    with an optional format spec as Keras writes them (``"ck-{epoch:03d}-{val_loss:.2f}.npz"``).
    Other braces are left as they are."""
    values = {"epoch": epoch}
    if history is not None and history.loss:
        values["loss"] = history.loss[-1]
        if history.val_loss:
            values["val_loss"] = history.val_loss[-1]
        values.update({k: v[-1] for k, v in history.metrics.items() if v})

    def fill(match):
        name, spec = match.group(1), match.group(2) or ""
        return format(values[name], spec) if name in values else match.group(0)

    return re.sub(r"\{(\w+)(?::([^{}]*))?\}", fill, path)


class Checkpoint(Callback):
    """Save the network every ``every`` epochs: to a file with ``mlp.save`` or through a function.

    Parameters
    ----------
    target : str, os.PathLike or callable
        A path (``"{epoch}"`` in it is replaced by the epoch number, ``"{epoch:03d}"`` too, and
        ``"{loss}"``, ``"{val_loss:.3f}"`` or a metric's name by its value, as Keras), written with
        ``mlp.save(net, path, history=history, train_state=net.train_state)`` so
        that training can resume exactly; or a function ``f(net, history)``.
    every : int, default 1
    """

    def __init__(self, target, every: int = 1):
        if not is_number(every, integer=True) or every < 1:
            raise ValueError(f"every must be an int >= 1, got {every!r}")
        if not (callable(target) or isinstance(target, (str, os.PathLike))):
            raise TypeError(f"Checkpoint target must be a path or a callable, got {type(target).__name__}")
        self.target, self.every = target, every
        self.saved: list = []

    def on_epoch_end(self, epoch, history):
        if epoch % self.every:
            return None
        if callable(self.target):
            self.target(self.network, history)
            self.saved.append(epoch)
            return None
        path = _fill_path(os.fspath(self.target), epoch, history)
        save(self.network, path, history=history, train_state=self.network.train_state)
        self.saved.append(path)
        return None


class TextLogger(Callback):
    """Write one plain-text line per epoch: epoch, loss, val_loss, metrics, lr, seconds.

    Parameters
    ----------
    stream : file-like, default sys.stdout (looked up when training starts)
    every : int, default 1
        Write every ``every``-th epoch (and always the last one).
    """

    def __init__(self, stream=None, every: int = 1):
        if not is_number(every, integer=True) or every < 1:
            raise ValueError(f"every must be an int >= 1, got {every!r}")
        self.stream, self.every = stream, every
        self._last_written = None

    def _line(self, history) -> str:
        parts = [f"epoch {history.epochs[-1]}", f"loss {history.loss[-1]:.6g}"]
        if history.val_loss and not math.isnan(history.val_loss[-1]):     # NaN: no validation data
            parts.append(f"val_loss {history.val_loss[-1]:.6g}")
        parts += [f"{k} {v[-1]:.4f}" for k, v in history.metrics.items() if v and not math.isnan(v[-1])]
        parts += [f"lr {history.lr[-1]:.3g}", f"{history.seconds[-1]:.3f} s"]
        return "  ".join(parts)

    def _write(self, history) -> None:
        stream = self.stream if self.stream is not None else sys.stdout
        stream.write(self._line(history) + "\n")
        stream.flush()
        self._last_written = history.epochs[-1]

    def on_epoch_end(self, epoch, history):
        if epoch % self.every == 0:
            self._write(history)

    def on_train_end(self, history):
        if history.epochs and history.epochs[-1] != self._last_written:
            self._write(history)
