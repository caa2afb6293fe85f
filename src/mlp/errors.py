"""The exceptions and warnings of training, at the bottom of the package.

This module owns ``TrainingWarning`` and ``TrainingDiverged``. They live here, with
no import of mlp's own modules, so that every layer (callbacks, the training loop,
the scikit-learn estimators, the CLI) can raise or catch them without importing
the training loop. ``mlp.TrainingWarning``, ``mlp.training.TrainingWarning`` and
the same for ``TrainingDiverged`` are re-exports of these classes.
"""

from __future__ import annotations

__all__ = ["TrainingDiverged", "TrainingWarning"]


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
