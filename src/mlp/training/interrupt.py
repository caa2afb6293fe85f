"""Ctrl-C while training: one guard, used by ``fit`` and by ``mlp train``.

This module owns what SIGINT does during training: the first Ctrl-C asks the run
to stop at the next safe point (``requested`` becomes 1; ``fit`` stops after the
current batch, ``mlp train`` after the current epoch with ``stop_callback``), a
second one interrupts at once (``KeyboardInterrupt``). Signals reach the main
thread only, so elsewhere the guard installs nothing.
"""

from __future__ import annotations

import signal
import sys
import threading

from ..callbacks import Callback
from ..history import TrainState

__all__ = ["CtrlC", "completed_epoch", "snapshot"]


class CtrlC:
    """A context manager that turns the first Ctrl-C into a request to stop.

    Parameters
    ----------
    message : str, optional
        Written to stderr at the first Ctrl-C (``mlp train``: "stopping after this epoch").
    only_default : bool, default True
        Install only where Python's default handler is in place (``fit``: a caller's own
        handler, e.g. ``mlp train``'s guard, keeps working); False installs always.

    Attributes
    ----------
    requested : int
        Ctrl-C presses seen (0 while none).
    """

    def __init__(self, message: str | None = None, *, only_default: bool = True):
        self.message, self.only_default = message, only_default
        self.requested = 0
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread() and (
                not self.only_default or signal.getsignal(signal.SIGINT) is signal.default_int_handler):
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        self.requested += 1
        if self.requested > 1:
            raise KeyboardInterrupt
        if self.message:
            print(self.message, file=sys.stderr, flush=True)

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
        return False

    def stop_callback(self, on_train_begin=None) -> Callback:
        """A callback that ends training after the epoch in which Ctrl-C was pressed
        (``on_train_begin``, if given, is called once fit has accepted its arguments)."""
        guard = self

        class StopRequested(Callback):
            def on_train_begin(self, history):
                if on_train_begin is not None:
                    on_train_begin()

            def on_epoch_end(self, epoch, history):
                return True if guard.requested else None

        return StopRequested()


def snapshot(net):
    """What ``completed_epoch`` needs to put ``net`` back as it is now, at the end of an epoch:
    the parameters, the training state without its History (copying that every epoch made a
    10,000-epoch run quadratic: 113 s for XOR) and the History's length (it only grows)."""
    state = net.train_state
    return state.epoch, net.params.copy(), state.state_dict(history=False), len(state.history)


def completed_epoch(net, snapshot):
    """``net`` as it was at the end of the last completed epoch (a copy), or None if none was."""
    if snapshot is None:
        return None
    _, params, state, n = snapshot
    done = net.copy()
    done.params = params
    done.train_state = TrainState.from_state_dict(state, done)
    done.train_state.history = done.history = net.train_state.history.head(n)
    return done
