"""What training leaves behind: the per-epoch ``History`` and the resumable ``TrainState``.

This module owns the records of a training run — what happened in each epoch
(``History``) and everything a later ``fit`` call or a checkpoint needs to
continue exactly (``TrainState``: optimiser, random generator, counters, ReLU
care's bookkeeping). Both convert to plain values (``to_dict``, ``state_dict``)
for model files. The loop that fills them is ``mlp.training``.
"""

from __future__ import annotations

import math

import numpy as np

from . import losses as _losses
from . import optimizers as _optimizers
from . import schedules as _schedules

__all__ = ["History", "TrainState"]


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

    def head(self, n: int) -> History:
        """A copy holding the first ``n`` epochs (``stop_reason`` None): the History as it was
        after epoch ``n`` of a fit, since a fit only appends (``mlp train``'s second Ctrl-C)."""
        h = History()
        h.epochs, h.loss, h.val_loss = self.epochs[:n], self.loss[:n], self.val_loss[:n]
        h.lr, h.seconds = self.lr[:n], self.seconds[:n]
        h.metrics = {k: v[:n] for k, v in self.metrics.items()}
        h.monitor = [dict(r) for r in self.monitor if not isinstance(r, dict) or r.get("epoch", 0) <= n]
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
    resume_params, restored_params
        When ``fit`` ended by putting back the best parameters (ReLU care's or
        early stopping's: ``restored_params``), the parameters the run had
        reached; the next ``fit`` continues from them if the network still holds
        ``restored_params``.
    early_stopping : dict or None
        ``EarlyStopping.state_dict()`` after the last epoch of a fit with
        ``early_stopping=True``: best value, patience count, best parameters. A
        later fit (or a resumed checkpoint) continues the watch, unless the run
        had stopped early.
    """

    def __init__(self):
        self.optimizer = None
        self.history = History()
        self.rng = None
        self.epoch = 0
        self.step = 0
        self.loss = None
        self.schedule = None
        self.schedule_start = 0         # the run's epoch at which the schedule was set (its epoch 0)
        self.lr0 = None
        self.care_best = math.inf       # ReLU care: best loss since the last re-draw, and
        self.care_wait = 0              # epochs without improving on it
        self.redraws = 0
        self.revived = 0
        self.best_loss = math.inf
        self.best_params = None
        self.resume_params = None
        self.restored_params = None
        self.early_stopping = None

    _SCALARS = ("epoch", "step", "lr0", "care_best", "care_wait", "redraws", "revived", "best_loss",
                "schedule_start")

    def state_dict(self, history: bool = True) -> dict:
        """A dict of plain Python values and NumPy arrays (no objects), for checkpoints
        (``history=False``: without the History, ``None`` in its place — a per-epoch snapshot
        that stays cheap however long the run; ``History.head`` gives the History back).

        Keys: the counters (``epoch``, ``step``, …), ``rng`` (the generator's
        ``bit_generator.state``, JSON-able), ``history`` (``History.to_dict()``),
        ``loss`` (its name and reduction), ``optimizer`` (``Optimizer.state_dict()``),
        ``schedule`` (``Schedule.state_dict()``) and the arrays ``best_params``,
        ``resume_params``, ``restored_params`` when present, and ``early_stopping``.
        """
        d = {k: getattr(self, k) for k in self._SCALARS}
        d["rng"] = None if self.rng is None else self.rng.bit_generator.state
        d["history"] = self.history.to_dict() if history else None
        d["loss"] = None if self.loss is None else {"name": self.loss.name,
                                                    "reduction": self.loss.reduction}
        d["optimizer"] = None if self.optimizer is None else self.optimizer.state_dict()
        d["schedule"] = None if self.schedule is None else self.schedule.state_dict()
        for k in ("best_params", "resume_params", "restored_params"):
            if getattr(self, k) is not None:
                d[k] = getattr(self, k).copy()
        if self.early_stopping is not None:
            d["early_stopping"] = {k: (v.copy() if isinstance(v, np.ndarray) else v)
                                   for k, v in self.early_stopping.items()}
        return d

    def load_state_dict(self, d: dict) -> None:
        """Restore what ``state_dict`` gave."""
        for k in self._SCALARS:
            if k in d:
                setattr(self, k, d[k])
        self.epoch, self.step, self.schedule_start = int(self.epoch), int(self.step), int(self.schedule_start)
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
        for k in ("best_params", "resume_params", "restored_params"):
            setattr(self, k, None if d.get(k) is None else np.array(d[k]))
        self.early_stopping = None if d.get("early_stopping") is None else dict(d["early_stopping"])

    @classmethod
    def from_state_dict(cls, d: dict, net=None) -> TrainState:
        """A new TrainState from ``state_dict()`` (``net``, if given, is checked for size)."""
        state = cls()
        state.load_state_dict(d)
        for k in ("best_params", "resume_params", "restored_params"):
            arr = getattr(state, k)
            if net is not None and arr is not None and arr.shape != (net.n_params,):
                raise ValueError(f"{k} has shape {arr.shape}, the network has {net.n_params} parameters")
        best = (state.early_stopping or {}).get("best_params")
        if net is not None and best is not None and np.shape(best) != (net.n_params,):
            raise ValueError(f"early_stopping best_params has shape {np.shape(best)}, the network has "
                             f"{net.n_params} parameters")
        return state

    def __repr__(self) -> str:
        return (f"TrainState(epoch={self.epoch}, step={self.step}, optimizer={self.optimizer!r}, "
                f"history={self.history!r})")
