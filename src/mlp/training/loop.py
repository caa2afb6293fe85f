"""The fit loop: epochs of steps on batches, with hooks around them.

This module owns ``fit`` — check the options and the data, set up (or continue) the
``TrainState``, pick the step, build the hooks, run the epoch loop, finish — and
``Run``, what the hooks see of a fit in progress. It owns none of the behaviours:
the step (``steps``) changes the parameters, the hooks (``hooks``) measure, schedule,
guard, validate and call back, the batch source (``data``) serves the rows.

The epoch loop, in full (``_epochs``)::

    for each epoch:
        hooks.on_epoch_begin                (the schedule sets opt.lr)
        step.begin_epoch(lr)
        for batch in batches.epoch(rng):    (the seeded permutation, the gather)
            value = step(batch)             (one optimiser step)
            hooks.on_batch_end(batch, value)
        step.end_epoch()                    (a fused step repairs net.grads)
        hooks.on_epoch_end                  (loss, accuracy, ReLU care, guard, validation)
        History record
        hooks.after_record                  (schedule, progress bar, callbacks: may stop)
"""

from __future__ import annotations

import hashlib
import inspect
import time
import warnings

import numpy as np

from .. import init as _init
from .. import optimizers as _optimizers
from .. import schedules as _schedules
from ..errors import TrainingWarning
from ..history import History, TrainState
from . import hooks as _hooks
from .data import Batches, check_input_scale, prepare
from .interrupt import CtrlC
from .options import OPTIONS, FitOptions, signature_doc
from .steps import make_step

__all__ = ["Run", "fit"]


class Run:
    """A fit in progress, as the step's factory and the hooks see it (see ``hooks``)."""

    def __init__(self, net, opts, data, state):
        self.net, self.opts, self.data, self.state = net, opts, data, state
        self.history: History = state.history
        self.opt = state.optimizer
        self.first_epoch = len(self.history)
        self.batches = Batches(data.X, data.y, data.sample_weight, data.labels,
                               batch_size=opts.batch_size, shuffle=opts.shuffle)
        self.step = self.meter = self.guard = self.ctrl_c = None
        self.epoch, self.lr, self.t0 = state.epoch + 1, self.opt.lr, 0.0
        self.loss = self.val_loss = self.cut = None
        self.metrics: dict = {}

    def begin_epoch(self) -> None:
        self.epoch = self.state.epoch + 1
        self.loss = self.val_loss = self.cut = None
        self.metrics = {}

    def start_steps(self) -> None:
        """After the epoch-begin hooks: the lr they set is this epoch's; the clock starts."""
        self.lr = self.opt.lr
        self.t0 = time.perf_counter()
        self.step.begin_epoch(self.lr)

    def record(self) -> None:
        """The epoch into the History (and the TrainState's count)."""
        self.state.epoch += 1
        self.history._append(loss=self.loss, val_loss=self.val_loss, lr=self.lr,
                             seconds=time.perf_counter() - self.t0, metrics=self.metrics)


def _epochs(run: Run, hooks: list) -> None:
    """The epoch loop (see the module docstring): steps on batches, hooks around them."""
    begin, batch_end, end, after = (_hooks.overriding(hooks, m) for m in
                                    ("on_epoch_begin", "on_batch_end", "on_epoch_end", "after_record"))
    sync = run.step.syncs and any(h.needs_sync for h in batch_end)
    step, history = run.step, run.history
    # Overflow shows up as a non-finite loss, reported by TrainingDiverged: no NumPy warnings.
    # A step that can train whole epochs in one call (steps.TinyStep) is asked first; it trains
    # and records those it can, and declines (0) when an epoch needs the hooks below.
    bulk = getattr(step, "run_epochs", None)
    # A step that can train an epoch's batches in compiled calls (steps.CompiledBatches) is asked
    # next; it returns the batches it leaves to the loop (None: all of them, as usual).
    bulk_batches = getattr(step, "run_batches", None)
    with CtrlC() as ctrl_c, np.errstate(over="ignore", invalid="ignore"):
        run.ctrl_c = ctrl_c
        left = run.opts.epochs
        while left > 0:
            if bulk is not None:
                left -= bulk(run, hooks, left)
                if ctrl_c.requested:
                    history.stop_reason = "interrupted"
                    break
                if left == 0:
                    break
            left -= 1
            run.begin_epoch()
            for h in begin:
                h.on_epoch_begin(run)
            run.start_steps()
            left_over = None if bulk_batches is None else bulk_batches(run, batch_end)
            for batch in run.batches.epoch(run.state.rng) if left_over is None else left_over:
                try:
                    value = step(batch)
                    if sync:
                        step.sync()
                    for h in batch_end:
                        h.on_batch_end(run, batch, value)
                except KeyboardInterrupt:
                    run.cut = "interrupted"
                if ctrl_c.requested:
                    run.cut = "interrupted"
                if run.cut is not None:
                    break
            step.end_epoch()                        # net.params and net.grads current
            if not run.meter.done:                  # interrupted before the first update
                history.stop_reason = "interrupted"
                break
            for h in end:
                h.on_epoch_end(run)
            run.record()
            stop = None
            for h in after:
                reason = h.after_record(run)
                stop = stop or reason
            if ctrl_c.requested:
                run.cut = "interrupted"
            if run.cut is not None or stop is not None:
                history.stop_reason = run.cut or stop
                break


def _rng_for(net, seed, state):
    if seed is not None:
        return _init.rng_from(seed)
    if state.rng is not None:
        return state.rng
    # No seed: derive one from the parameters, so that a seeded network trains reproducibly.
    digest = hashlib.sha256(np.ascontiguousarray(net.params).tobytes()).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "little"))


def _optimizer(state, optimizer, lr, n_params):
    """The optimiser: the state's own when it is the same (object or name), else a new one."""
    same = state.optimizer is not None and (
        optimizer is state.optimizer
        or (isinstance(optimizer, str) and optimizer == state.optimizer.name))
    opt = state.optimizer if same else _optimizers.get(optimizer)
    for name in opt._buffers:            # an instance that already trained a network of another size
        buf = getattr(opt, name)
        if buf is not None and buf.shape != (n_params,):
            raise ValueError(f"the optimiser holds state ({name}) for {buf.size} parameters, the network "
                             f"has {n_params}: pass a new optimiser, or call its reset_state() first")
    if lr is not None:
        opt.lr = lr
    if not same or lr is not None or state.lr0 is None:
        state.lr0 = opt.lr
    return opt


def _schedule(state, schedule, epochs):
    """The schedule: the state's own when it is the same (the object, its function, or a name
    (or an alias) of its class): it continues; else a new one, whose epoch 0 is this fit's first
    epoch (``state.schedule_start``), as a new PyTorch scheduler starts from its own epoch 0."""
    current = state.schedule
    if current is not None and (
            schedule is current
            or (isinstance(schedule, str) and schedule in _schedules.SCHEDULES
                and type(current) is _schedules.SCHEDULES[schedule])
            or (isinstance(current, _schedules.Lambda) and schedule is current.fn)):
        return current
    state.schedule_start = state.epoch
    return None if schedule is None else _schedules.get(schedule, epochs)


def _start(net, opts: FitOptions, data) -> Run:
    """The training state, new or continued from the previous fit; the Run."""
    state = getattr(net, "train_state", None) or TrainState()
    opt = _optimizer(state, opts.optimizer, opts.lr, net.n_params)
    sched = _schedule(state, opts.schedule, opts.epochs)
    state.optimizer, state.schedule, state.loss = opt, sched, data.loss
    ended = None if sched is None else sched.zero_from(state.lr0)
    if ended is not None and opts.epochs > 0 and state.epoch - state.schedule_start >= ended:
        # e.g. fit(schedule="cosine") again: the same schedule continues, and it has ended
        warnings.warn(f"the cosine schedule ended at epoch {state.schedule_start + ended} "
                      f"(schedule=\"cosine\" lasts the epochs of the fit that set it, and a later fit "
                      f"with the same schedule continues it): this fit trains at lr 0 and will not "
                      f"change the parameters; pass a new schedule, e.g. schedule="
                      f"mlp.schedules.Cosine({opts.epochs}), to anneal again over this fit's epochs",
                      TrainingWarning, stacklevel=4)
    state.rng = _rng_for(net, opts.seed, state)
    if state.resume_params is not None:   # the last fit put its best parameters back: continue
        restored = state.restored_params if state.restored_params is not None else state.best_params
        if restored is not None and np.array_equal(net.params, restored):   # from where it was
            net.params = state.resume_params
        state.resume_params = state.restored_params = None
    net.train_state, net.history = state, state.history
    state.history.stop_reason = None
    return Run(net, opts, data, state)


def _still_falling(losses) -> bool:
    """The best loss fell, over the last 10% of the epochs, by more than 1% of the whole fall."""
    if len(losses) < 3:
        return False
    best = np.minimum.accumulate(np.asarray(losses, dtype=np.float64))
    if not np.all(np.isfinite(best)):
        return False
    k = max(1, len(losses) // 10)
    total, recent = best[0] - best[-1], best[-1 - k] - best[-1]
    return bool(total > 0 and recent > 0.01 * total)


def fit(net, X, y, **options) -> History:
    opts = FitOptions(**options)
    data = prepare(net, X, y, opts)
    opts.check(data.X.shape[0], len(net.layers) - 1, data.loss)
    check_input_scale(data.X)
    run = _start(net, opts, data)
    hooks = _hooks.build(run)
    run.step = make_step(net, run.opt, data.loss, opts, run.state, run.guard.nonfinite)
    run.batches.part = getattr(run.step, "part", None)     # a rank of mlp.distributed: its rows
    for h in _hooks.overriding(hooks, "on_train_begin"):
        h.on_train_begin(run)
    try:
        _epochs(run, hooks)
    finally:
        for h in _hooks.overriding(hooks, "close"):
            h.close(run)
    for h in _hooks.overriding(hooks, "on_train_end"):
        h.on_train_end(run)
    history, first = run.history, run.first_epoch
    if history.stop_reason is None and _still_falling(history.loss[max(first - 1, 0):]):
        warnings.warn(f"loss still falling at the last epoch: raise epochs (it fell from "
                      f"{history.loss[first]:.4g} to {history.loss[-1]:.4g} in {opts.epochs} "
                      "epochs)", TrainingWarning, stacklevel=3)
    return history


fit.__signature__ = inspect.Signature(
    [inspect.Parameter(p, inspect.Parameter.POSITIONAL_OR_KEYWORD) for p in ("net", "X", "y")]
    + [inspect.Parameter(o.name, inspect.Parameter.KEYWORD_ONLY, default=o.default)
       for o in OPTIONS.values()],
    return_annotation=History)

fit.__doc__ = """Train the network on (X, y) by mini-batch gradient descent; return the ``History``.

    Each epoch visits every training example once, in batches of ``batch_size``
    (reshuffled every epoch); each batch is one optimiser step on the flat
    parameter vector: backpropagation gives ∂loss/∂θ, the optimiser updates θ in
    place. Calling ``fit`` again continues: same optimiser state, same random
    generator, the same ``History`` extended — ``fit(epochs=5)`` twice gives the
    same parameters, bit for bit, as ``fit(epochs=10)``. Set
    ``net.train_state = None`` to start afresh.

    Parameters
    ----------
    X : ndarray of shape (n, n_in)
        Or a memory map (``np.load(path, mmap_mode="r")``, ``mlp.sources``): checked in one
        streaming pass, then read batch by batch, never whole, with the same shuffle as in memory
        (so the same parameters).
    y : ndarray of shape (n, n_out), (n,) for one output, or class labels (n,) for cross-entropy
{parameters}

    Returns
    -------
    History
        Also kept in ``net.train_state.history`` and ``net.history``.

    Raises
    ------
    TrainingDiverged
        When the loss becomes NaN or infinite; the parameters are those of the
        last finite state and the error names the epoch, the batch and a remedy.

    Warns
    -----
    TrainingWarning
        "loss still falling at the last epoch: raise epochs"; "inputs have
        standard deviation 1e3: scale them"; "MSE on integer class labels: did
        you mean cross_entropy?".

    Notes
    -----
    **ReLU care.** A ReLU unit whose z ≤ 0 on every example outputs 0 and gets
    zero gradient, so gradient descent can never bring it back: the lecture's
    2-2-1 ReLU network on XOR gets stuck this way from most random starts (with
    these defaults but ``relu_care=False``, 19.5% of 1000 seeds solve it; PyTorch's
    default initialisation with SGD(lr=0.1) or Adam(lr=0.01), 24% and 22%). With ``relu_care`` (default)
    fit does two things for hidden ReLU layers, and nothing else:

    1. after every epoch, each unit that was inactive on every example of the
       epoch is revived: fresh input weights N(0, 2/n_in), bias 0, zero outgoing
       weights, its optimiser state cleared. The network's function, and so the
       loss, is unchanged by this;
    2. when the training loss has not fallen by 1% for about 200 optimiser
       steps (at least 10 epochs), the unit contributing least (mean h · ‖outgoing
       weights‖ on the last batch) is re-drawn the same way and training goes on;
       the parameters with the lowest epoch loss since the first re-draw are
       kept, and put back at the end if the run ended worse.

    With the defaults this solves XOR with the 2-2-1 ReLU/identity/MSE network
    from 1000 of 1000 seeds (2-3-1 and 2-4-1 too; benchmarks/xor_reliability.py),
    in about 0.3 s per fit. Networks without ReLU
    hidden layers are trained exactly as described above. Without early stopping
    and without ReLU care, fit applies exactly ``epochs`` × ⌈n / batch_size⌉
    optimiser steps to the parameters it was given.

    **Ctrl-C** stops after the current batch: fit returns the History so far
    (``history.stop_reason == "interrupted"``) and the network holds the last
    completed update.

    **Hooks.** A user ``Schedule``'s ``on_epoch_end`` and a ``Callback``'s
    ``on_epoch_begin``, ``on_batch_end`` and ``on_epoch_end`` are called as the
    built-in ones are (``mlp.training.hooks``).

    Examples
    --------
    >>> import mlp
    >>> net = mlp.Network.from_sizes([2, 2, 1], hidden="relu", seed=0)
    >>> history = net.fit(*mlp.datasets.xor(), loss="mse")
    >>> bool(abs(net(mlp.datasets.xor()[0]) - mlp.datasets.xor()[1]).max() < 0.1)
    True
    """.replace("{parameters}", "\n".join("    " + line if line else line
                                          for line in signature_doc().splitlines()))
