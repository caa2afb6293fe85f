"""Hooks: everything the epoch loop does besides taking steps.

This module owns the behaviours that run around the steps — the running loss and
accuracy, the learning-rate schedule, ReLU care, the divergence guard, validation,
the progress bar, fit's own early stopping and the users' callbacks — each as a
``Hook``. The loop (``mlp.training.loop``) calls them; it knows none of them by name.

The hook interface (every method optional; the loop calls a method only on the hooks
that override it, so ``on_batch_end`` costs nothing when no hook has one)::

    on_train_begin(run)              once, before the first epoch
    on_epoch_begin(run)              before the epoch's first batch (a schedule sets opt.lr here)
    on_batch_end(run, batch, value)  after every step: batch (training.data.Batch), its loss
    on_epoch_end(run)                after the epoch's last batch: measure it (run.loss,
                                     run.val_loss, run.metrics), before the History record
    after_record(run) -> str | None  after the History record; a string stops training and
                                     is the History's stop_reason ("early_stopping", "callback")
    on_train_end(run)                after the last epoch (not after an exception)
    close(run)                       always, last (also after an exception)

``needs_sync = True`` says the hook reads ``net.params``, ``net.grads`` or the layers'
caches in ``on_batch_end``: the loop then calls ``run.step.sync()`` before it when the
step trains elsewhere (``step.syncs``, e.g. on a device, copies the weights back). At
epoch end ``step.end_epoch()`` leaves them current for every hook.

The hooks of a fit are made by ``FACTORIES``, in order: each ``factory(run)`` returns a
hook, a list of hooks or None (not needed for this fit). A new behaviour (say, one a new
fit option turns on) is a Hook class and its factory, both in this module.

``run`` (``mlp.training.loop.Run``) holds the network, the options, the data, the
``TrainState`` (``run.state``), the ``History``, the optimiser, the step, the epoch
being trained (``run.epoch``, from 1 over all fit calls), its learning rate
(``run.lr``) and, once measured, ``run.loss``, ``run.val_loss``, ``run.metrics``;
``run.cut`` is "interrupted" (Ctrl-C) or "callback" when the epoch ended early.
"""

from __future__ import annotations

import inspect
import math

import numpy as np

from .. import _fast
from .. import losses as _losses
from .. import sources as _sources
from .._progress import tqdm_bar
from .._relu_care import ReluCare, relu_layers
from ..callbacks import Callback, EarlyStopping
from ..diagnostics import Monitor
from ..errors import TrainingDiverged

__all__ = ["FACTORIES", "CallbackHook", "DivergenceGuard", "EarlyStoppingHook", "Hook", "Meter",
           "ProgressBar", "ReluCareHook", "RunningAccuracy", "ScheduleHook", "Validation", "build",
           "overriding"]


class Hook:
    """Base of the hooks: every method does nothing (see the module docstring)."""

    needs_sync = False

    def on_train_begin(self, run) -> None:
        pass

    def on_epoch_begin(self, run) -> None:
        pass

    def on_batch_end(self, run, batch, value: float) -> None:
        pass

    def on_epoch_end(self, run) -> None:
        pass

    def after_record(self, run) -> str | None:
        return None

    def on_train_end(self, run) -> None:
        pass

    def close(self, run) -> None:
        pass

    def overrides(self, method: str) -> bool:
        """Whether ``method`` does something (a wrapper answers for what it wraps)."""
        return True


def overriding(hooks, method: str) -> list:
    """The hooks whose class overrides ``method`` of ``Hook`` (only these are called)."""
    base = getattr(Hook, method)
    return [h for h in hooks if getattr(type(h), method) is not base and h.overrides(method)]


class Meter(Hook):
    """The running loss of the epoch: the mean of the batch losses weighted by batch size
    (the sum for "sum" reductions), plus the mean penalty per batch."""

    def __init__(self, per_example: bool):
        self.per_example = per_example
        self.total, self.done, self.batches = 0.0, 0, 0

    def on_epoch_begin(self, run):
        self.total, self.done, self.batches = 0.0, 0, 0

    def on_batch_end(self, run, batch, value):
        nb = batch.y.shape[0]               # the whole batch's (a rank's X holds its part)
        self.total += value * nb if self.per_example else value
        self.done += nb
        self.batches += 1

    def on_epoch_end(self, run):
        mean = self.total / self.done if self.per_example else self.total
        run.loss = mean + run.step.penalty / self.batches


class RunningAccuracy(Hook):
    """``accuracy``: correct predictions over the epoch's batches, as the step made them (Keras)."""

    def __init__(self, binary: bool):
        self.binary = binary
        self.correct = self.done = 0

    def on_epoch_begin(self, run):
        self.correct = self.done = 0

    def on_batch_end(self, run, batch, value):
        counted = None if self.binary else _fast.counted_correct(run.net, batch.X)
        if counted is None:
            out = run.step.output()
            pred = (out > 0.5)[:, 0] if self.binary else out.argmax(axis=1)
            counted = int(np.count_nonzero(pred == batch.labels))
        self.correct += counted         # (the fused softmax kernel counted them: the same argmax)
        self.done += batch.labels.shape[0]

    def on_epoch_end(self, run):
        run.metrics["accuracy"] = self.correct / self.done


class ReluCareHook(Hook):
    """ReLU care (``mlp._relu_care``): note active units after each batch, revive and re-draw
    at the end of each whole epoch, put the best back at the end of fit."""

    needs_sync = True

    def __init__(self, care):
        self.care = care
        self.first_epoch = None

    def on_train_begin(self, run):
        self.first_epoch = len(run.history)

    def on_batch_end(self, run, batch, value):
        self.care.track()

    def on_epoch_end(self, run):
        if run.cut is None:
            self.care.end_epoch(run.loss)

    def on_train_end(self, run):
        if len(run.history) > self.first_epoch:
            self.care.finish(run.history.loss[-1])


class DivergenceGuard(Hook):
    """A NaN/inf loss or parameters: restore the last finite parameters, reset the optimiser
    and raise ``TrainingDiverged`` naming the epoch, the batch and a remedy."""

    def on_train_begin(self, run):
        self.run = run
        self.last_good = run.net.params.copy()

    def nonfinite(self, batch: int, value: float) -> None:
        """The step's ``on_nonfinite``: the loss of batch ``batch`` is ``value``."""
        self.diverged(self.run, batch, value)

    def on_epoch_end(self, run):
        params = run.net.params
        if not np.isfinite(params).all():
            self.diverged(run, run.meter.batches, math.nan)
        self.last_good[...] = params

    def diverged(self, run, batch, value):
        net, state = run.net, run.state
        restored = "the parameters of this batch (they are finite; the loss overflowed)"
        if not np.all(np.isfinite(net.params)):
            net.params = self.last_good
            restored = "the parameters at the end of the previous epoch"
        state.optimizer.reset_state()
        lr = state.optimizer.lr
        hint = (f"lower the learning rate (lr={lr:g} now; try lr={lr / 10:g}), scale the inputs, "
                "or clip the gradients (clip_norm=1.0)")
        raise TrainingDiverged(
            f"training diverged: the loss became {value} at epoch {run.epoch}, batch {batch}. The "
            f"network holds {restored}. Hint: {hint}.", epoch=run.epoch, batch=batch, lr=lr, hint=hint)


class Validation(Hook):
    """``val_loss`` (and ``val_accuracy`` for classifiers) with the plain forward pass."""

    def on_epoch_end(self, run):
        net, data, loss = run.net, run.data, run.data.loss
        if isinstance(data.X_val, _sources.MappedRows):      # a memory map: in chunks
            run.val_loss, acc = _sources.evaluate(net, loss, data.X_val, data.y_val,
                                                  data.sample_weight_val, data.labels_val)
            if acc is not None:
                run.metrics["val_accuracy"] = acc
            return
        y_hat = net.forward(data.X_val)
        if loss.fused:
            value, _ = loss.value_and_delta(net.layers[-1].z, data.y_val, data.sample_weight_val)
        else:
            value = loss.value(y_hat, data.y_val, data.sample_weight_val)
        run.val_loss = value
        if data.labels_val is not None:
            pred = (y_hat > 0.5)[:, 0] if y_hat.shape[1] == 1 else y_hat.argmax(axis=1)
            run.metrics["val_accuracy"] = float(np.mean(pred == data.labels_val))


class ScheduleHook(Hook):
    """Sets the optimiser's lr from the schedule before every epoch, and calls the schedule's
    ``on_epoch_end`` after every epoch with the validation loss (else the training loss) —
    any ``Schedule``, the user's too. A schedule whose ``on_epoch_end`` takes ``lr0`` gets it."""

    def __init__(self, schedule):
        self.schedule = schedule
        end = getattr(schedule, "on_epoch_end", None)
        self._end = end
        try:
            self._with_lr0 = end is not None and "lr0" in inspect.signature(end).parameters
        except (TypeError, ValueError):
            self._with_lr0 = False

    def on_epoch_begin(self, run):
        state = run.state      # the schedule's epoch 0 is the first epoch of the fit that set it
        run.opt.lr = float(self.schedule(state.epoch - state.schedule_start, state.lr0))

    def after_record(self, run):
        if self._end is not None:
            value = run.loss if run.val_loss is None else run.val_loss
            if self._with_lr0:
                self._end(value, lr0=run.state.lr0)
            else:
                self._end(value)
        return None


class ProgressBar(Hook):
    """A tqdm bar per epoch with loss and val_loss (``progress``; None: when stderr is a terminal)."""

    def __init__(self, bar):
        self.bar = bar

    @classmethod
    def make(cls, progress, total: int):
        """The hook, or None when no bar is shown."""
        bar = tqdm_bar(progress, total=total, unit="epoch", desc="fit")
        return None if bar is None else cls(bar)

    def after_record(self, run):
        post = {"loss": f"{run.loss:.4g}"}
        if run.val_loss is not None:
            post["val_loss"] = f"{run.val_loss:.4g}"
        self.bar.set_postfix(post, refresh=False)
        self.bar.update()
        return None

    def close(self, run):
        self.bar.close()


def _overrides(obj, base, method: str) -> bool:
    return getattr(type(obj), method, None) is not getattr(base, method, None)


class CallbackHook(Hook):
    """A ``mlp.callbacks.Callback`` as a hook. Its ``on_epoch_begin`` and ``on_batch_end`` are
    called only when its class overrides them; ``on_batch_end`` returning True ends training
    after that batch (``stop_reason`` "callback"), ``on_epoch_end`` returning True after that
    epoch. A Ctrl-C (KeyboardInterrupt) inside a callback stops training as "interrupted"."""

    needs_sync = True          # a callback may read net.params

    def __init__(self, callback, base):
        self.callback, self._base = callback, base

    def overrides(self, method):
        theirs = {"on_epoch_begin": "on_epoch_begin", "on_batch_end": "on_batch_end"}.get(method)
        return theirs is None or _overrides(self.callback, self._base, theirs)

    def on_train_begin(self, run):
        self.callback.set_network(run.net)
        self.callback.on_train_begin(run.history)

    def on_epoch_begin(self, run):
        self.callback.on_epoch_begin(run.epoch, run.history)

    def on_batch_end(self, run, batch, value):
        if self.callback.on_batch_end(batch.number, value):
            run.cut = "callback"

    def after_record(self, run):
        if run.cut is not None:            # Ctrl-C (or a stop after a batch): no epoch-end calls
            return None
        try:
            return "callback" if self.callback.on_epoch_end(run.epoch, run.history) else None
        except KeyboardInterrupt:
            run.cut = "interrupted"
            return None

    def on_train_end(self, run):
        self.callback.on_train_end(run.history)


class EarlyStoppingHook(CallbackHook):
    """fit's own ``early_stopping=True`` watch: an ``EarlyStopping`` callback whose state is part
    of ``net.train_state`` (saved after every epoch, carried on by the next fit or a
    checkpoint), and whose stop is the History's "early_stopping"."""

    def on_train_begin(self, run):
        super().on_train_begin(run)
        saved = run.state.early_stopping
        if saved is not None and saved.get("stopped_epoch") is None:
            self.callback.load_state_dict(saved)    # a continued run keeps watching where it was

    def after_record(self, run):
        reason = super().after_record(run)
        if run.cut is None:
            run.state.early_stopping = self.callback.state_dict()
        return "early_stopping" if reason else None

    def on_train_end(self, run):
        reached = run.net.params.copy()
        super().on_train_end(run)
        # early stopping put its best back at the end of the epochs asked for: a later fit (or a
        # resumed checkpoint) continues from where the run was, as one longer run would
        state, net = run.state, run.net
        if run.history.stop_reason is None and not np.array_equal(net.params, reached):
            if state.resume_params is None:
                state.resume_params = reached
            state.restored_params = net.params.copy()


# -- the hooks of a fit, in the order they are called ------------------------------------------

def _schedule(run):
    return None if run.state.schedule is None else ScheduleHook(run.state.schedule)


def _meter(run):
    run.meter = Meter(per_example=run.data.loss.reduction == "mean")
    return run.meter


def _accuracy(run):
    if run.data.labels is None:
        return None
    return RunningAccuracy(binary=not isinstance(run.data.loss, _losses.CrossEntropy))


def _relu_care(run):
    if not (run.opts.relu_care and relu_layers(run.net)):
        return None
    return ReluCareHook(ReluCare(run.net, run.opt, run.state, run.batches.n_batches))


def _guard(run):
    run.guard = DivergenceGuard()
    return run.guard


def _validation(run):
    return None if run.data.X_val is None else Validation()


def _progress(run):
    return ProgressBar.make(run.opts.progress, run.opts.epochs)


def _early_stopping(run):
    """fit's own watch, first of the callbacks: a Checkpoint callback then saves this epoch's."""
    if not run.opts.early_stopping:
        run.state.early_stopping = None                 # a fit without the watch ends it
        return None
    return EarlyStoppingHook(EarlyStopping(patience=run.opts.patience, restore_best=run.opts.restore_best),
                             Callback)


def _callbacks(run):
    extra = [Monitor()] if run.opts.monitor else []
    return [CallbackHook(cb, Callback) for cb in run.opts.callbacks + extra]


FACTORIES = [_schedule, _meter, _accuracy, _relu_care, _guard, _validation, _progress, _early_stopping,
             _callbacks]


def build(run) -> list:
    """The hooks of this fit, in the order of ``FACTORIES``."""
    hooks = []
    for factory in FACTORIES:
        made = factory(run)
        if isinstance(made, list):
            hooks += made
        elif made is not None:
            hooks.append(made)
    return hooks
