"""Training: ``fit`` and everything that lives only while a network trains.

A package of small modules, each owning one part (imports go down this list):

* ``options``   every fit option: default, check, docstring, CLI flag, kept on resume
                (``FitOptions``, ``OPTIONS``); the loss for an output (``loss_for``)
* ``data``      the data checked once, class weights, the validation split rule
                (``validation_rows``), the batch source (``Batches``)
* ``steps``     one optimiser step per batch: ``PlainStep``, ``DropoutStep``, ``FusedSGDStep``,
                chosen by the engine's factory (``ENGINES``, ``make_step``)
* ``hooks``     the running loss and accuracy, schedule, ReLU care, divergence guard,
                validation, progress bar, early stopping, the users' callbacks
* ``interrupt`` the Ctrl-C guard (``CtrlC``), shared with ``mlp train``
* ``loop``      ``fit``: set up, the epoch loop, finish

It does not own the update rules (``mlp.optimizers``), the learning-rate schedules
(``mlp.schedules``), the callbacks (``mlp.callbacks``), the records (``mlp.history``)
or backpropagation (``Network._loss_and_grad``). ``mlp.training.fit``, ``History``,
``TrainState``, ``TrainingDiverged`` and ``TrainingWarning`` keep their names here.
"""

from __future__ import annotations

from ..errors import TrainingDiverged, TrainingWarning
from ..history import History, TrainState
from . import data, hooks, interrupt, loop, options, steps
from .loop import fit
from .options import AUTO_BATCH, AUTO_MIN_EPOCHS, AUTO_STEPS, OPTIONS, FitOptions, loss_for

__all__ = ["AUTO_BATCH", "AUTO_MIN_EPOCHS", "AUTO_STEPS", "OPTIONS", "FitOptions", "History",
           "TrainState", "TrainingDiverged", "TrainingWarning", "data", "fit", "hooks", "interrupt",
           "loop", "loss_for", "options", "steps"]
