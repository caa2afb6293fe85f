"""``mlp train --resume``: what a resumed run takes from its checkpoint, checked when it is loaded.

A resumed run goes on with the checkpoint's hyper-parameters exactly: the fit options its
metadata records (``mlp.training.options.OPTIONS``, ``resume=True``), and the plan of the run
that wrote it — its total epochs and its weight decay, recorded as numbers even when fit chose
them ("auto": about 10,000 steps and L2 1e-3; with the epochs given, L2 0), so that
``--resume`` with or without ``--epochs`` trains on with the same penalty, up to the same end.

Every value a resumed run takes is checked when the checkpoint is loaded, before the data is
read, by the rule of the flag that could have given it (``--lr`` 0.001, ``--batch-size`` full,
…): anything else is one line naming the file and the field. A checkpoint of a run that
had stopped early is finished as that run was (``end_stopped_run``), not trained further.
"""

from __future__ import annotations

import argparse
import math

from .. import losses
from .. import optimizers as _optimizers
from ..training.options import OPTIONS, FitOptions, parse_positive_int, resumed
from ._common import CLIError, note

#: The metadata key of the run's total epochs (fit's "auto" resolved to a number).
PLANNED = "planned_epochs"


def _could_be_flag(name: str, value) -> bool:
    """True when ``value`` is one the fit option's ``mlp train`` flag could have given."""
    if name == "loss":
        return isinstance(value, str) and value in losses.names()
    if name == "optimizer":
        return isinstance(value, str) and value in _optimizers.names()
    kwargs = OPTIONS[name].cli_kwargs()
    if kwargs.get("action") is argparse.BooleanOptionalAction:
        return isinstance(value, bool)
    parse = kwargs.get("type")
    if parse is None or isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return False
    try:
        return parse(str(value)) == value
    except (argparse.ArgumentTypeError, ValueError, TypeError, OverflowError):
        return False


def check_metadata(meta: dict, path: str) -> None:
    """The checkpoint's metadata as a resumed run reads it, or one ``CLIError`` naming the file
    and the field: each recorded fit option as its flag would parse it, the planned epochs a
    positive whole number, ``seconds`` a finite number >= 0, ``target`` a column name."""
    for name in resumed():
        if OPTIONS[name].cli is not None and meta.get(name) is not None and not _could_be_flag(
                name, meta[name]):
            flag = "--" + name.replace("_", "-")
            raise CLIError(f"{path}: metadata {name!r} is {str(meta[name])[:60]!r}, which {flag} cannot "
                           "be; the checkpoint was changed or damaged")
    planned = meta.get(PLANNED)
    if planned is not None and not _could_be(parse_positive_int, planned):
        raise CLIError(f"{path}: metadata {PLANNED!r} must be a positive whole number, got "
                       f"{str(planned)[:60]!r}")
    seconds = meta.get("seconds")
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float))
                                or not math.isfinite(seconds) or seconds < 0):
        raise CLIError(f"{path}: metadata 'seconds' must be a number >= 0, got {str(seconds)[:60]!r}")
    target = meta.get("target")
    if target is not None and not isinstance(target, str):
        raise CLIError(f"{path}: metadata 'target' must be a column name, got {str(target)[:60]!r}")


def _could_be(parse, value) -> bool:
    if isinstance(value, bool) or not isinstance(value, int):
        return False
    try:
        return parse(str(value)) == value
    except (argparse.ArgumentTypeError, ValueError):
        return False


def plan(kwargs: dict, n_train: int, net) -> tuple[int, float]:
    """(epochs, weight_decay) that ``fit`` will use with these arguments for ``n_train`` rows of
    ``net``: its own rules (``FitOptions.check``, with the loss fit resolves: the "auto" weight
    decay follows its scale) turn "auto" into numbers."""
    given = {k: kwargs[k] for k in ("epochs", "batch_size", "weight_decay") if k in kwargs}
    loss = losses.resolve_loss(kwargs.get("loss", "auto"), net.layers[-1].activation)
    opts = FitOptions(**given).check(n_train, len(net.layers) - 1, loss)
    return opts.epochs, opts.weight_decay


def end_stopped_run(r) -> None:
    """A resumed run whose checkpoint had stopped early is over: end it as that run ended."""
    state = r.net.train_state if r.completed else None
    watch = getattr(state, "early_stopping", None) or {}
    if (r.remaining is None or r.remaining > 0) and r.completed and watch.get("stopped_epoch") == r.completed:
        # The checkpoint's run is over: it stopped early (this file may have been written at
        # that very epoch, before the best parameters were put back). Training on would make a
        # run that one uninterrupted run never makes; end it as that run ended instead.
        note(f"mlp: the checkpoint's run stopped early at epoch {r.completed} (best val_loss at epoch "
             f"{watch.get('best_epoch')}); saving the model as it is (--no-early-stopping trains on)")
        r.remaining = 0
        if state.history.stop_reason != "early_stopping" and watch.get("best_params") is not None:
            r.net.params = watch["best_params"]
        for h in {id(state.history): state.history, id(r.net.history): r.net.history}.values():
            if h is not None:
                h.stop_reason = "early_stopping"
