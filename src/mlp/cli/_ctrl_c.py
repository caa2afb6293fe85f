"""Ctrl-C during ``mlp train``: never lose a run, and a checkpoint that resumes exactly.

The first Ctrl-C stops after the current epoch; a second one interrupts the epoch, and the
network is then put back as it was at the end of the last completed epoch (kept in memory
after every epoch), so the checkpoint written is always one that resumes bit-identically.
From the end of training until the files are written, Ctrl-C only says "saving".
"""

from __future__ import annotations

import signal
import threading

from .. import io
from ..callbacks import Callback
from ..training.interrupt import CtrlC, snapshot
from ._common import CLIError, note


class StopOnSignal(CtrlC):
    """Ctrl-C during ``mlp train``, on training's one guard (``mlp.training.interrupt.CtrlC``,
    installed in place of any handler): the first press stops after the current epoch (an exact
    checkpoint); a second one interrupts the epoch, and the checkpoint is then the last completed
    epoch's (kept in memory by ``callback``), so it too resumes exactly. Once training is over,
    further presses only say that the files are being written: a run is never lost to an
    impatient hand."""

    def __init__(self):
        super().__init__("\nmlp: Ctrl-C: stopping after this epoch (press Ctrl-C again to stop now; "
                         "the checkpoint is then the last completed epoch)", only_default=False)
        self.armed = False          # True while fit runs: only then does a second press interrupt
        self.cut = False            # a second press interrupted an epoch (fit may swallow it)

    def _handle(self, signum, frame):
        self.requested += 1
        if self.requested == 1:
            note(self.message)
        elif self.armed:
            self.armed, self.cut = False, True
            raise KeyboardInterrupt
        else:
            note("mlp: Ctrl-C: saving, one moment")

    def callback(self, message: str | None = None):
        """A callback that prints ``message`` once fit has accepted its arguments (so that an
        argument error stays one line), keeps each completed epoch's state in memory and
        stops at the end of the epoch after a Ctrl-C."""
        return _StopRequested(self, message)


class _StopRequested(Callback):
    def __init__(self, stopper: StopOnSignal, message: str | None):
        self.stopper, self.message = stopper, message
        self.snapshot = None        # (epoch, params, train-state dict) of the last completed epoch

    def on_train_begin(self, history):
        if self.message:
            note(self.message)

    def on_epoch_end(self, epoch, history):
        self.snapshot = snapshot(self.network)
        return True if self.stopper.requested else None


def save_quietly(net, path, **kwargs) -> None:
    """Save with Ctrl-C ignored, so that an impatient second Ctrl-C cannot interrupt the write."""
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        io.save(net, path, **kwargs)
    except OSError as exc:
        raise CLIError(f"{path}: could not save ({(exc.strerror or str(exc)).lower()}); "
                       "an earlier file there is unchanged") from None
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)
