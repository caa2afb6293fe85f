"""Learning-rate schedules: the learning rate η as a function of the epoch.

This module owns how η changes during training; ``fit`` asks the schedule once
at the start of every epoch (``lr = schedule(epoch, lr0)``, ``epoch`` counting the
epochs completed since the fit that set the schedule, from 0; ``lr0`` the learning
rate given to ``fit``) and sets
the optimiser's ``lr``. After every epoch ``fit`` calls ``on_epoch_end(value)`` with the
monitored loss (the validation loss, else the training loss): ``ReduceOnPlateau`` and
a user's ``Schedule`` subclass can react to it.

The closed forms are PyTorch's epoch-wise schedulers (``StepLR``,
``ExponentialLR``, ``CosineAnnealingLR``, ``ReduceLROnPlateau``) and
scikit-learn's ``"invscaling"``.

Examples
--------
>>> s = StepDecay(step_size=10, gamma=0.5)
>>> [s(epoch, 0.1) for epoch in (0, 9, 10, 25)]
[0.1, 0.1, 0.05, 0.025]
"""

from __future__ import annotations

import math

from ._registry import Registry
from ._validation import is_number

SCHEDULES = Registry("schedule")


def _positive(name: str, value, *, allow_zero: bool = False) -> float:
    if not is_number(value) or not math.isfinite(value):
        raise TypeError(f"{name} must be a finite number, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return float(value)


class Schedule:
    """Base class: ``schedule(epoch, lr0) -> lr`` for epoch 0, 1, 2, …"""

    name = "schedule"
    _fields: tuple[str, ...] = ()

    def __call__(self, epoch: int, lr0: float) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def on_epoch_end(self, value: float) -> None:
        """Called by ``fit`` after every epoch with the monitored loss: the validation loss,
        else the training loss (most schedules ignore it). A subclass's own is called too; one
        with an ``lr0`` parameter also gets η₀ (as ``ReduceOnPlateau``)."""

    def zero_from(self, lr0: float) -> int | None:
        """The epoch from which this schedule gives lr 0 for η₀ = ``lr0`` (None: never)."""
        return None

    def state_dict(self) -> dict:
        """Name and fields, as plain Python scalars."""
        return {"name": self.name, **{k: getattr(self, k) for k in self._fields}}

    def load_state_dict(self, d: dict) -> None:
        for k in self._fields:
            if k in d:
                setattr(self, k, d[k])

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._fields)
        return f"{type(self).__name__}({args})"


class Constant(Schedule):
    """η = η₀ at every epoch."""

    name = "constant"

    def __call__(self, epoch, lr0):
        return lr0


class StepDecay(Schedule):
    """η = η₀ · γ^⌊epoch / step_size⌋ (``torch.optim.lr_scheduler.StepLR``).

    Parameters
    ----------
    step_size : int, default 30
        Epochs between decays.
    gamma : float, default 0.1
    """

    name = "step"
    _fields = ("step_size", "gamma")

    def __init__(self, step_size: int = 30, gamma: float = 0.1):
        if not is_number(step_size, integer=True) or step_size < 1:
            raise ValueError(f"step_size must be an int >= 1, got {step_size!r}")
        self.step_size = step_size
        self.gamma = _positive("gamma", gamma)

    def __call__(self, epoch, lr0):
        return lr0 * self.gamma ** (epoch // self.step_size)


class Exponential(Schedule):
    """η = η₀ · γ^epoch (``torch.optim.lr_scheduler.ExponentialLR``).

    Parameters
    ----------
    gamma : float, default 0.99
    """

    name = "exponential"
    _fields = ("gamma",)

    def __init__(self, gamma: float = 0.99):
        self.gamma = _positive("gamma", gamma)

    def __call__(self, epoch, lr0):
        return lr0 * self.gamma ** epoch


class Cosine(Schedule):
    """η = η_min + (η₀ − η_min)(1 + cos(π · epoch / T_max)) / 2, then η_min after T_max.

    The closed form of ``torch.optim.lr_scheduler.CosineAnnealingLR`` (one half-period).

    Parameters
    ----------
    T_max : int
        Epochs from η₀ down to η_min. ``fit(schedule="cosine")`` uses its own ``epochs``.
    eta_min : float, default 0
    """

    name = "cosine"
    _fields = ("T_max", "eta_min")

    def __init__(self, T_max: int, eta_min: float = 0.0):
        if not is_number(T_max, integer=True) or T_max < 1:
            raise ValueError(f"T_max must be an int >= 1, got {T_max!r}")
        self.T_max = T_max
        self.eta_min = _positive("eta_min", eta_min, allow_zero=True)

    def zero_from(self, lr0):
        return self.T_max if self.eta_min == 0 and lr0 > 0 else None

    def __call__(self, epoch, lr0):
        if epoch >= self.T_max:
            return self.eta_min
        return self.eta_min + (lr0 - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2


class InvScaling(Schedule):
    """η = η₀ / (epoch + 1)^power_t (scikit-learn's ``learning_rate="invscaling"``).

    scikit-learn counts samples seen instead of epochs; here the decay is per epoch.

    Parameters
    ----------
    power_t : float, default 0.5
    """

    name = "invscaling"
    _fields = ("power_t",)

    def __init__(self, power_t: float = 0.5):
        self.power_t = _positive("power_t", power_t, allow_zero=True)

    def __call__(self, epoch, lr0):
        return lr0 / (epoch + 1) ** self.power_t


class ReduceOnPlateau(Schedule):
    """Multiply η by ``factor`` when the monitored loss stops improving
    (``torch.optim.lr_scheduler.ReduceLROnPlateau``, mode "min", relative threshold).

    An epoch improves when ``loss < best · (1 − threshold)``. After ``patience``
    epochs without improvement η ← max(η · factor, min_lr) — skipped, as in torch,
    when that changes η by ``eps`` or less — followed by ``cooldown`` epochs in
    which nothing is counted. ``fit`` feeds it the validation loss when there is
    validation data, else the training loss.

    Parameters
    ----------
    factor : float, default 0.1
    patience : int, default 10
    threshold : float, default 1e-4
    cooldown : int, default 0
    min_lr : float, default 0
    eps : float, default 1e-8
        Smallest change of η that a reduction makes (torch's ``eps``); 0 always reduces.
    """

    name = "plateau"
    _fields = ("factor", "patience", "threshold", "cooldown", "min_lr", "eps",
               "scale", "best", "bad_epochs", "cooldown_left")

    def __init__(self, factor: float = 0.1, patience: int = 10, threshold: float = 1e-4,
                 cooldown: int = 0, min_lr: float = 0.0, eps: float = 1e-8):
        self.factor = _positive("factor", factor)
        if self.factor >= 1:
            raise ValueError(f"factor must be < 1, got {factor!r}")
        for name, value in (("patience", patience), ("cooldown", cooldown)):
            if not is_number(value, integer=True) or value < 0:
                raise ValueError(f"{name} must be an int >= 0, got {value!r}")
        self.patience, self.cooldown = patience, cooldown
        self.threshold = _positive("threshold", threshold, allow_zero=True)
        self.min_lr = _positive("min_lr", min_lr, allow_zero=True)
        self.eps = _positive("eps", eps, allow_zero=True)
        self.scale = 1.0            # product of the reductions so far: η = max(η₀ · scale, min_lr)
        self.best = math.inf
        self.bad_epochs = 0
        self.cooldown_left = 0

    def __call__(self, epoch, lr0):
        return max(lr0 * self.scale, self.min_lr)

    def on_epoch_end(self, value, lr0=None):
        """Count the epoch's ``value``; ``lr0`` (η₀, as ``fit`` passes it) lets ``eps`` apply."""
        if value < self.best * (1 - self.threshold):
            self.best, self.bad_epochs = value, 0
        else:
            self.bad_epochs += 1
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.bad_epochs = 0
        if self.bad_epochs > self.patience:
            if lr0 is None or self(0, lr0) - max(lr0 * self.scale * self.factor, self.min_lr) > self.eps:
                self.scale *= self.factor
            self.cooldown_left, self.bad_epochs = self.cooldown, 0


class Lambda(Schedule):
    """A user's function ``f(epoch) -> lr`` (or ``f(epoch, lr0) -> lr`` when it has two
    arguments without defaults) as a schedule. It returns the learning rate itself, not a
    factor of η₀ as ``torch.optim.lr_scheduler.LambdaLR``'s function does."""

    name = "lambda"

    def __init__(self, fn):
        if not callable(fn):
            raise TypeError(f"schedule function must be callable, got {type(fn).__name__}")
        self.fn = fn
        try:   # f(epoch, lr0) only when it needs two arguments: `lambda e, k=k: …` binds k, not lr0
            import inspect
            required = [p for p in inspect.signature(fn).parameters.values()
                        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty]
            self._two = len(required) >= 2
        except (TypeError, ValueError):
            self._two = False

    def __call__(self, epoch, lr0):
        lr = self.fn(epoch, lr0) if self._two else self.fn(epoch)
        if not is_number(lr) or not lr >= 0:
            raise ValueError(f"schedule function returned {lr!r} for epoch {epoch}; "
                             "it must return a learning rate >= 0")
        return float(lr)

    def state_dict(self) -> dict:
        return {"name": self.name}

    def __repr__(self) -> str:
        return f"Lambda({getattr(self.fn, '__name__', self.fn)!r})"


for _cls in (Constant, StepDecay, Exponential, Cosine, InvScaling, ReduceOnPlateau):
    SCHEDULES.register(_cls.name, _cls)
SCHEDULES.register("reduce_on_plateau", ReduceOnPlateau)


def get(schedule, epochs: int | None = None) -> Schedule:
    """A schedule from a name, a ``Schedule`` (returned as is), a function or ``None`` (constant).

    Names: ``"constant"``, ``"step"``, ``"exponential"``, ``"cosine"`` (``T_max =
    epochs``), ``"invscaling"``, ``"plateau"`` (alias ``"reduce_on_plateau"``),
    each with its default parameters.
    """
    if schedule is None:
        return Constant()
    if isinstance(schedule, Schedule):
        return schedule
    if isinstance(schedule, str):
        cls = SCHEDULES[schedule]
        if cls is Cosine:
            return Cosine(T_max=max(int(epochs or 1), 1))
        return cls()
    if callable(schedule):
        return Lambda(schedule)
    raise TypeError(f"schedule must be a name ({', '.join(map(repr, SCHEDULES))}), a Schedule, "
                    f"a function of the epoch or None, got {type(schedule).__name__}")


def from_state_dict(d: dict) -> Schedule | None:
    """A schedule restored from ``Schedule.state_dict()``; ``None`` for a user function."""
    if d.get("name") == "lambda":
        return None
    cls = SCHEDULES[d["name"]]
    s = Cosine(T_max=int(d["T_max"])) if cls is Cosine else cls()
    s.load_state_dict(d)
    return s


def names() -> list[str]:
    return SCHEDULES.names()
