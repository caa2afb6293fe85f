"""Every option of ``fit`` in one table: its default, its check, its documentation, how the
CLI offers it and whether a resumed run keeps it.

This module owns the options of ``fit`` and the validation split rule that fit, the CLI
and the scikit-learn estimators share (``mlp.training.data.validation_rows``); which loss
goes with an output activation is ``mlp.losses.loss_for`` (shared with ``diagnose``, below
training), importable here too.
It does not own what an option does (that is the step, a hook or the data module).

``OPTIONS`` maps each name to an ``Option``. From it come ``fit``'s signature and the
Parameters section of its docstring, the check of every value (``FitOptions``), the
CLI's ``train`` flags (``Option.cli``: argparse keywords, ``None`` for an option the CLI
does not offer) and what a resumed run (``mlp train --resume``) keeps (``Option.resume``).

Adding an option that the CLI offers touches at most three files: a row here (default,
check, docstring, ``cli=``), the step, hook or data function that uses it
(``fit_options.name``), and its test. See CONTRIBUTING.md ("a fit option").
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .. import losses as _losses
from .. import optimizers as _optimizers
from .._validation import check_number
from ..callbacks import Callback
from ..losses import loss_for, resolve_loss  # noqa: F401 - the one rule, kept importable here

__all__ = ["AUTO_BATCH", "AUTO_MIN_EPOCHS", "AUTO_STEPS", "AUTO_WEIGHT_DECAY", "OPTIONS", "FitOptions",
           "Option", "cli_flags", "loss_for", "resumed"]

#: ``epochs="auto"`` trains for about this many optimiser steps (at least ``AUTO_MIN_EPOCHS``).
AUTO_STEPS = 10000
AUTO_MIN_EPOCHS = 10
#: ``weight_decay="auto"``: the L2 penalty per example of an ``epochs="auto"`` run (0 when epochs
#: are given); times the batch size for a loss summed over the batch.
AUTO_WEIGHT_DECAY = 1e-3
#: ``batch_size="auto"`` is min(AUTO_BATCH, n), scikit-learn's rule.
AUTO_BATCH = 200


# -- checks: value → value as fit uses it, or one ValueError/TypeError naming the option ---------

def _nonneg(name):
    return lambda v, o: check_number(name, v, low=0)


def _nonneg_or_none(name):
    return lambda v, o: None if v is None else check_number(name, v, low=0)


def _batch_size(v, o):
    if isinstance(v, str) and v == "auto":
        return min(AUTO_BATCH, o.n)
    if v is None:
        return o.n
    return min(check_number("batch_size", v, integer=True, low=1,
                            expected="an int >= 1, 'auto' or None"), o.n)


def _epochs(v, o):
    """"auto" is about AUTO_STEPS optimiser steps, at least AUTO_MIN_EPOCHS."""
    if isinstance(v, str) and v == "auto":
        return max(AUTO_MIN_EPOCHS, math.ceil(AUTO_STEPS / o.n_batches))
    return check_number("epochs", v, integer=True, low=0, expected="an int >= 0 or 'auto'")


def _weight_decay(v, o):
    """"auto" is AUTO_WEIGHT_DECAY per example for an epochs="auto" run, else 0 (checked after
    batch_size, before epochs): times the batch size when the loss sums over the batch (mse's
    ½ Σ), so that the penalty weighs against each example's loss as it does against a mean."""
    if isinstance(v, str) and v == "auto":
        if not (isinstance(o.epochs, str) and o.epochs == "auto"):
            return 0.0
        sums = getattr(o.resolved_loss, "reduction", "mean") != "mean"
        return AUTO_WEIGHT_DECAY * (o.batch_size if sums else 1)
    return check_number("weight_decay", v, low=0, expected="a finite number >= 0 or 'auto'")


def _dropout(v, o):
    """One keep probability 1 − p per hidden layer."""
    rates = [v] * o.n_hidden if np.isscalar(v) else list(v)
    if len(rates) != o.n_hidden:
        raise ValueError(f"dropout needs one rate per hidden layer ({o.n_hidden}), got {len(rates)}")
    for r in rates:
        check_number("dropout rates", r, low=0, high=1, high_open=True, finite=False,
                     expected="numbers in [0, 1)")
    return [float(r) for r in rates]


def _callbacks(v, o):
    if isinstance(v, Callback):
        v = [v]
    if not isinstance(v, (list, tuple)):
        raise TypeError(f"callbacks must be a list of mlp.callbacks.Callback, got {type(v).__name__}")
    for cb in v:
        if not isinstance(cb, Callback):
            raise TypeError(f"callbacks must be mlp.callbacks.Callback instances, got {type(cb).__name__}")
    return list(v)


def _bool(name):
    def check(v, o):
        if not isinstance(v, (bool, np.bool_)):
            raise TypeError(f"{name} must be True or False, got {v!r}")
        return bool(v)
    return check


# -- the CLI's parsers of flag text (argparse reports their ArgumentTypeError as the flag's error) --

def parse_positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (value > 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def parse_nonneg_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not (value >= 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def parse_positive_int(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


def parse_batch(text: str):
    """A batch size, or "full" (fit's ``batch_size=None``) for full-batch gradient descent."""
    if text.strip().lower() in ("full", "none", "all"):
        return "full"
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"--batch-size must be a positive integer or 'full', got {text!r}")
    return int(text)


def parse_fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return value


def parse_seed(text: str) -> int:
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"expected a non-negative integer seed, got {text!r}")
    return int(text)


@dataclass(frozen=True)
class Option:
    """One option of ``fit``.

    Attributes
    ----------
    name : str
        The keyword of ``fit`` (the CLI flag is ``--`` + name with ``-`` for ``_``).
    default : object
    doc : str
        Its entry in ``fit``'s docstring: the type line, then the description (indented 4).
    check : callable ``(value, options) -> value`` or None
        Validates the value (one ``ValueError``/``TypeError`` naming the option) and returns it
        as fit uses it; ``options`` is the ``FitOptions`` (``n``, ``n_batches``, ``n_hidden``
        of the data and network). None: used as given.
    resume : bool
        A resumed run (``mlp train --resume``) keeps the value of the run it continues unless
        the command gives it again; the CLI stores these in the model's metadata.
    cli : dict, callable returning a dict, or None
        argparse keywords of the ``mlp train`` flag (``type``, ``metavar``, ``help``, …; a
        function when they depend on a registry, read when the parser is built); the flag's
        default is always None ("not given": a resumed run keeps its value). None: the CLI
        does not offer it. ``cli_flags()`` gives them all.
    """

    name: str
    default: object
    doc: str
    check: Callable | None = None
    resume: bool = False
    cli: dict | Callable | None = field(default=None, compare=False)

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def cli_kwargs(self) -> dict | None:
        """The argparse keywords of its flag now (default None), or None when not offered."""
        if self.cli is None:
            return None
        return {"default": None, **(self.cli() if callable(self.cli) else self.cli)}


def _opt(name, default, doc, check=None, resume=False, cli=None) -> tuple[str, Option]:
    return name, Option(name, default, doc.strip("\n"), check, resume, cli)


def _engine(value, opts):
    if not isinstance(value, str):
        raise TypeError(f"engine must be a name such as 'numpy' or 'torch', got {type(value).__name__}")
    return value


def _device(value, opts):
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"device must be a string such as 'cpu' or 'cuda', got {type(value).__name__}")
    if opts.engine == "numpy" and value != "cpu":
        raise ValueError(f"device={value!r} needs engine='torch' (the NumPy engine runs on the CPU)")
    return value


OPTIONS: dict[str, Option] = dict([
    _opt("loss", "auto", """
loss : str or Loss, default "auto"
    "auto": cross_entropy for a softmax output, binary_cross_entropy for a
    sigmoid output, else "mse" (the lecture's ½ Σ (ŷ − y)²; ``loss_for``).""",
         resume=True, cli=lambda: {"choices": _losses.names(), "metavar": "NAME",
                                   "help": f"{', '.join(_losses.names())} (default: from the task)"}),
    _opt("optimizer", "adam", """
optimizer : str or Optimizer, default "adam"
    A name from ``mlp.optimizers`` or an instance (kept, with its state).""",
         resume=True, cli=lambda: {"metavar": "NAME",
                                   "help": f"{', '.join(_optimizers.names())} (default adam)"}),
    _opt("lr", None, """
lr : float, optional
    Learning rate; default the optimiser's own (PyTorch's defaults: 1e-3 for
    Adam, AdamW and SGD, 1e-2 for RMSprop).""", _nonneg_or_none("lr"), resume=True,
         cli={"type": parse_positive_float, "metavar": "RATE", "help": "learning rate (default: fit's)"}),
    _opt("epochs", "auto", """
epochs : int or "auto", default "auto"
    "auto": enough epochs for about 10,000 optimiser steps, at least 10 —
    10,000 epochs on 4 examples (XOR), 1,429 on 1,347 (digits, batches of
    200), 34 on 60,000.""", _epochs,
         cli={"type": parse_positive_int, "metavar": "N",
              "help": "total epochs (default: fit's); with --resume, training continues up to N"}),
    _opt("batch_size", "auto", """
batch_size : int, "auto" or None, default "auto"
    "auto" is min(200, n) (scikit-learn's rule); None is full-batch gradient
    descent, as in the lecture.""", _batch_size, resume=True,
         cli={"type": parse_batch, "metavar": "N",
              "help": "examples per step, or 'full' for full-batch gradient descent (default: fit's)"}),
    _opt("shuffle", True, """
shuffle : bool, default True
    Reshuffle the examples every epoch (not needed, and not done, when one
    batch holds them all)."""),
    _opt("validation_split", 0.0, """
validation_split : float, default 0
    Hold out this fraction of the examples, the *last* ones as given (Keras'
    rule: shuffle first if your data are sorted), for ``val_loss``; see
    ``mlp.training.data.validation_rows``.""", resume=True,
         cli={"type": parse_fraction, "metavar": "F",
              "help": "fraction held out for validation (default 0, or 0.1 with --early-stopping)"}),
    _opt("validation_data", None, """
validation_data : (X_val, y_val) or (X_val, y_val, sample_weight_val), optional"""),
    _opt("early_stopping", False, """
early_stopping : bool, default False
    Stop when ``val_loss`` (``loss`` without validation data) has not improved
    for ``patience`` epochs; ``restore_best`` then puts back the best epoch's
    parameters (also when the epochs run out; not after Ctrl-C). The watch is
    part of ``net.train_state``: a later ``fit`` or a resumed checkpoint carries
    it on, so a run cut in two ends as one run would. See
    ``mlp.callbacks.EarlyStopping`` for other quantities.""", _bool("early_stopping"), resume=True,
         cli={"action": argparse.BooleanOptionalAction,
              "help": "stop when val_loss stops improving (with --resume: as the checkpoint's run)"}),
    _opt("patience", 10, """
patience : int, default 10""", resume=True,
         cli={"type": parse_positive_int, "metavar": "N",
              "help": "epochs without improvement to wait (default 10; with --resume: the checkpoint's)"}),
    _opt("restore_best", True, """
restore_best : bool, default True"""),
    _opt("schedule", None, """
schedule : str, Schedule, callable or None
    Learning-rate schedule (``mlp.schedules``), set at the start of every epoch:
    "constant", "step", "exponential", "cosine", "invscaling", "plateau", a
    ``Schedule`` or ``f(epoch) -> lr``. None leaves the optimiser's lr alone.
    A new schedule counts its epochs from this fit's first (as a new PyTorch
    scheduler; "cosine" anneals over this fit's ``epochs``); the same one again
    (object, function or the current one's name) continues where it was.
    A ``Schedule``'s ``on_epoch_end`` is called after every epoch with the
    validation loss (the training loss without validation data)."""),
    _opt("weight_decay", "auto", """
weight_decay : float or "auto", default "auto"
    L2 penalty ½ λ ‖w‖² on the weights (not the biases), added to the loss:
    gradient λ w, applied before the optimiser (as ``torch.optim.Adam``'s
    ``weight_decay``; use ``optimizer=AdamW(...)`` for decoupled decay).
    "auto" is 1e-3 (``AUTO_WEIGHT_DECAY``) per example with ``epochs="auto"`` —
    1e-3 for a mean loss (cross-entropy), 1e-3 × batch size for one summed over
    the batch (mse's ½ Σ) — and 0 when you give the epochs (then fit is exactly
    the lecture's loop). The ~10,000 steps of the "auto" run otherwise drive the
    training loss to 0 with ever larger weights and overconfident predictions:
    with the penalty, fit's defaults reach a test log-loss of 0.16–0.19 on
    mnist-5k where 0 gave 0.36–0.45 and scikit-learn's default MLP 0.25–0.32,
    and a test MSE of 0.50 on diabetes where 1e-3 against the summed mse gave
    0.80 and scikit-learn 0.51 (benchmarks/sklearn_fit_defaults.py).""", _weight_decay,
         resume=True, cli={"type": parse_nonneg_float, "metavar": "L2", "help": "L2 penalty"}),
    _opt("l1", 0.0, """
l1 : float, default 0
    L1 penalty λ₁ Σ |w| on the weights; gradient λ₁ sign(w).""", _nonneg("l1")),
    _opt("dropout", 0.0, """
dropout : float or sequence of float, default 0
    Probability of zeroing each hidden unit during training (inverted dropout:
    kept units are scaled by 1/(1 − p)); one rate for every hidden layer or one
    per hidden layer. Prediction never drops anything.""", _dropout),
    _opt("clip_norm", None, """
clip_norm, clip_value : float, optional
    Scale the gradient so that ‖g‖₂ ≤ clip_norm (as ``torch.nn.utils.clip_grad_norm_``),
    and/or clip each entry to [−clip_value, clip_value].""", _nonneg_or_none("clip_norm")),
    _opt("clip_value", None, "", _nonneg_or_none("clip_value")),
    _opt("sample_weight", None, """
sample_weight : ndarray of shape (n,), optional
    Multiplies each example's loss."""),
    _opt("class_weight", None, """
class_weight : dict or "balanced", optional
    Multiplies the loss of each example of class c by w_c; "balanced" is
    w_c = n / (k · n_c) (scikit-learn's rule). Combined with ``sample_weight``."""),
    _opt("callbacks", (), """
callbacks : sequence of Callback
    See ``mlp.callbacks``.""", _callbacks),
    _opt("monitor", False, """
monitor : bool, default False
    Record per-epoch health (dead units, gradient norms, …) in ``history.monitor``
    with ``mlp.diagnostics.Monitor``."""),
    _opt("seed", None, """
seed : int, numpy.random.Generator or None
    Seeds shuffling, dropout and ReLU care. None: keep the generator of the
    previous fit, or for the first fit derive one from the current parameters
    (a network built with a seed then trains reproducibly).""", resume=True,
         cli={"type": parse_seed, "metavar": "N",
              "help": "seed for initialisation, shuffling and the split"}),
    _opt("progress", None, """
progress : bool or None
    A tqdm progress bar per epoch with loss and val_loss. None: shown when
    stderr is a terminal.""", cli={"action": argparse.BooleanOptionalAction,
                                  "help": "progress bar on stderr (default: when stderr is a terminal)"}),
    _opt("relu_care", True, """
relu_care : bool, default True
    Keep hidden ReLU units alive (see Notes). It does nothing for networks
    without ReLU hidden layers."""),
    _opt("engine", "numpy", """
engine : str, default "numpy"
    Who runs the steps: a name from ``mlp.training.steps.ENGINES`` (the
    step factory); "numpy" is this package's own, "torch" runs each step with
    PyTorch on ``device`` (``mlp.torch_engine``: same formulas, same batches and
    order, the same History; needs ``pip install 'mlp[torch]'``).""", _engine,
         cli={"choices": ("numpy", "torch"), "metavar": "NAME",
              "help": "who runs the steps: numpy (default) or torch (PyTorch; pip install 'mlp[torch]')"}),
    _opt("device", None, """
device : str, optional
    With engine="torch": "cpu" (default), "cuda", "cuda:N" or "mps".""", _device,
         cli={"metavar": "DEVICE", "help": "with --engine torch: cpu (default), cuda, cuda:N or mps"}),
])

#: The order in which ``FitOptions.check`` validates (the data come first, in ``data.prepare``).
_CHECK_ORDER = ("batch_size", "weight_decay", "epochs", "l1", "clip_norm", "clip_value", "dropout",
                "callbacks", "early_stopping", "lr")


class FitOptions:
    """The options of one ``fit`` call: every name of ``OPTIONS``, as an attribute.

    ``FitOptions(**kwargs)`` fills in the defaults and refuses an unknown name (the
    ``TypeError`` Python gives for a wrong keyword); ``check(n, n_hidden)`` validates each
    value against the data (n examples) and the network, turning "auto" into numbers:
    afterwards ``batch_size``, ``epochs`` are ints, ``dropout`` the keep probabilities'
    complement per hidden layer, ``callbacks`` a list.
    """

    def __init__(self, **kwargs):
        unknown = set(kwargs) - set(OPTIONS)
        if unknown:
            raise TypeError(f"fit() got an unexpected keyword argument {sorted(unknown)[0]!r}")
        for name, option in OPTIONS.items():
            setattr(self, name, kwargs.get(name, option.default))
        self.given = frozenset(kwargs)
        self.n = self.n_batches = self.n_hidden = self.resolved_loss = None

    def check(self, n: int, n_hidden: int, loss: _losses.Loss | None = None) -> FitOptions:
        """Validate every option (in ``_CHECK_ORDER``, then the rest) for n examples;
        ``loss``: the Loss that ``loss`` resolved to (``weight_decay="auto"`` follows its scale)."""
        self.n, self.n_hidden, self.resolved_loss = n, n_hidden, loss
        for name in _CHECK_ORDER + tuple(k for k in OPTIONS if k not in _CHECK_ORDER):
            option = OPTIONS[name]
            if option.check is not None:
                setattr(self, name, option.check(getattr(self, name), self))
            if name == "batch_size":
                self.n_batches = math.ceil(n / self.batch_size)
        return self

    def __repr__(self) -> str:
        return "FitOptions(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in sorted(self.given)) + ")"


def cli_flags() -> list[tuple[str, str, dict]]:
    """``(name, flag, argparse keywords)`` of every option the CLI offers, in table order:
    ``for name, flag, kw in cli_flags(): parser.add_argument(flag, dest=name, **kw)``."""
    return [(o.name, o.flag, o.cli_kwargs()) for o in OPTIONS.values() if o.cli is not None]


def resumed() -> list[str]:
    """The options a resumed run keeps (``Option.resume``)."""
    return [o.name for o in OPTIONS.values() if o.resume]


def signature_doc() -> str:
    """The Parameters entries of ``fit``'s docstring, in the order of ``OPTIONS``."""
    return "\n".join(o.doc for o in OPTIONS.values() if o.doc)

