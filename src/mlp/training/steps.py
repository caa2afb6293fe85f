"""Steps: one optimiser step on one batch — loss, gradients, penalties, clipping, update.

This module owns how a batch changes the parameters and the three ways of doing it:

* ``PlainStep``     backprop (``net._loss_and_grad``), penalties, clipping, ``opt.step``;
* ``DropoutStep``   the same with inverted dropout on the hidden layers;
* ``FusedSGDStep``  plain SGD fused into the backward pass (``_fast.loss_and_grad``'s
                    ``sgd_lr``): the update happens inside backprop, and ``end_epoch``
                    repairs ``net.grads`` (−η-scaled, stale weight part) back to ∂L/∂θ.

One optimiser step, on a batch ``X_b`` of the (shuffled) training set::

    loss, grads = net._loss_and_grad(X_b, y_b)        (backprop, the lecture's chain rule)
    loss += ½ λ ‖w‖² + λ₁ ‖w‖₁,  grads_w += λ w + λ₁ sign(w)     (weights only, not biases)
    grads ← clip(grads)                              (optional, by norm or by value)
    optimizer.step(params, grads)                    (in place, on the flat vector)

The step interface (what the loop asks of a step; an engine supplies its own)::

    step.begin_epoch(lr)     the learning rate of this epoch (the schedule has set opt.lr)
    step(batch) -> float     one update from a Batch (training.data); returns the batch's loss
                             (without penalties); calls on_nonfinite(batch.number, value) before
                             updating when the loss is NaN/inf; counts state.step
    step.penalty             the penalties' sum over the epoch's batches so far
    step.output()            the network output ŷ of the last batch (running accuracy)
    step.syncs               True for a step that keeps the weights elsewhere (a device): the
                             loop then calls step.sync() after each batch for hooks that
                             declare ``needs_sync`` (numpy steps: False, nothing to copy)
    step.sync()              make net.params (and the layers' caches, net.grads) current
    step.end_epoch()         after the epoch's last batch (also after Ctrl-C): net.params,
                             net.grads hold θ and ∂L/∂θ of the last batch, as after a plain
                             step (an engine syncs here)

``make_step(engine, ...)`` picks the step: ``ENGINES[engine]`` is a factory
``(net, optimizer, loss, opts, state, on_nonfinite) -> Step``; "numpy" is ``numpy_step``.
An engine registers its own factory (``ENGINES.register("torch", torch_step)``) and
``fit(engine="torch")`` uses it.
"""

from __future__ import annotations

import math
import time

import numpy as np

from .. import _fast
from .. import optimizers as _optimizers
from .. import torch_engine as _torch_engine
from .._registry import Registry
from .._relu_care import CARE_TOL
from .data import Batch

__all__ = ["ENGINES", "CompiledBatches", "DropoutStep", "FusedSGDStep", "Penalty", "PlainStep", "Step",
           "TinyStep", "make_step", "numpy_step"]


class Penalty:
    """L2 and L1 penalties on the weights (not the biases): ½ λ ‖w‖² + λ₁ ‖w‖₁."""

    def __init__(self, net, weight_decay: float, l1: float):
        n_w = sum(layer.n_out * layer.n_in for layer in net.layers)   # weights come first
        self.w, self.dw = net.params[:n_w], net.grads[:n_w]
        self.weight_decay, self.l1 = weight_decay, l1
        self.tmp = np.empty_like(self.w)

    def add_to_grads(self) -> float:
        """grads_w += λ w + λ₁ sign(w); returns the penalty's value."""
        value = 0.0
        if self.weight_decay:
            value += 0.5 * self.weight_decay * float(np.dot(self.w, self.w))
            np.multiply(self.w, self.weight_decay, out=self.tmp)
            self.dw += self.tmp
        if self.l1:
            value += self.l1 * float(np.abs(self.w).sum())
            np.sign(self.w, out=self.tmp)
            self.tmp *= self.l1
            self.dw += self.tmp
        return value


class Step:
    """Base of the steps (see the module docstring for the interface)."""

    syncs = False

    def __init__(self, net, optimizer, loss, opts, state, on_nonfinite):
        self.net, self.opt, self.loss, self.state = net, optimizer, loss, state
        self.on_nonfinite = on_nonfinite
        self.params, self.grads = net.params, net.grads
        self.penalty = 0.0
        self.lr = optimizer.lr

    def begin_epoch(self, lr: float) -> None:
        self.lr, self.penalty = lr, 0.0

    def output(self) -> np.ndarray:
        return self.net.layers[-1].h

    def sync(self) -> None:
        """net.params and the caches are the step's own: nothing to copy."""

    def end_epoch(self) -> None:
        """Nothing to repair: grads hold ∂L/∂θ of the last batch."""


class CompiledBatches:
    """Base of ``PlainStep`` (and so ``FusedSGDStep``) for a dense ReLU/softmax network on integer
    labels, without an L1 penalty, clipping or dropout (an L2 penalty — weight_decay, which
    epochs="auto" brings — the kernel takes itself): the loop asks ``run_batches`` before each
    epoch, and it trains the epoch's batches in compiled calls (``_fast.EpochLoop``: the per-batch
    fast path without Python between batches) when every per-batch hook is one whose work it does
    itself (the running loss and accuracy, ReLU care's note of active units); else it declines
    (None) and the loop runs the batches one by one. The permutation is drawn from the fit's
    generator as ``Batches.epoch`` draws it. A batch whose loss is not finite, and every batch
    after it, is handed back to the loop (the divergence guard sees it as usual); Ctrl-C is seen
    between calls (at most ``MAX_ROWS`` rows each)."""

    MAX_ROWS = 1 << 16
    bulk = True                 # False: a subclass whose batches the kernel cannot train
    _BATCH_HOOKS = frozenset({"Meter", "RunningAccuracy", "ReluCareHook"})

    def run_batches(self, run, batch_end):
        if not self.bulk or (self._extras and not self._l2_only) or not self.lr > 0:
            return None
        loop = self._epoch_loop(run)
        if loop is None or not all(type(h).__name__ in self._BATCH_HOOKS for h in batch_end):
            return None
        batches = run.batches
        n, bs, n_batches = batches.n, batches.batch_size, batches.n_batches
        order = (run.state.rng.permutation(n) if batches.shuffle and n_batches > 1
                 else np.arange(n))
        per_call = max(1, self.MAX_ROWS // bs)
        b, total, correct, stopped, interrupted = 0, 0.0, 0, -1, False
        loop.alive[...] = False
        X, labels = run.data.X, loop.labels
        while b < n_batches:
            try:
                if loop.X is None:         # a memory map: this batch's rows are read first
                    rows = order[b * bs:(b + 1) * bs]
                    done, t, c, stopped, pen = loop.run(np.arange(len(rows)), 0, 1, X[rows], labels[rows],
                                                        b == n_batches - 1, weight_decay=self.weight_decay)
                else:
                    done, t, c, stopped, pen = loop.run(order, b, min(b + per_call, n_batches),
                                                        weight_decay=self.weight_decay)
            except KeyboardInterrupt:         # a second Ctrl-C, between the kernel's calls
                interrupted = True
                break
            b += done
            total += t
            correct += c
            self.penalty += pen            # as Penalty.add_to_grads adds each batch's
            if stopped >= 0 or run.ctrl_c.requested:
                break
        rows = min(b * bs, n)
        hooks = {type(h).__name__: h for h in batch_end}
        meter = hooks["Meter"]
        meter.total += total               # the same sum, batch by batch, as Meter.on_batch_end
        meter.done += rows
        meter.batches += b
        if "RunningAccuracy" in hooks:
            hooks["RunningAccuracy"].correct += correct
            hooks["RunningAccuracy"].done += rows
        if "ReluCareHook" in hooks:
            care = hooks["ReluCareHook"].care
            for i, alive in care.alive.items():
                alive |= loop.alive[i, :alive.shape[0]]
        self.state.step += b
        if b:
            last_rows = order[(b - 1) * bs:b * bs]
            loop.set_caches(len(last_rows))
            self._bulk_trained(run, b, last_rows)
        if b < n_batches and stopped < 0 and (interrupted or run.ctrl_c.requested):
            run.cut = "interrupted"
            return []
        return [] if b == n_batches else batches.resume(None if not (batches.shuffle and n_batches > 1)
                                                        else order, b)

    def _epoch_loop(self, run):
        if not hasattr(self, "_loop"):
            data = run.data
            ok = (_fast.ENABLED and run.batches.part is None and data.sample_weight is None
                  and type(run.batches).__name__ == "Batches" and data.labels is data.y)
            self._loop = (_fast.EpochLoop.make(self.net, self.loss, self.opt, data.X, data.labels,
                                               run.batches.batch_size) if ok else None)
        return self._loop

    def _bulk_trained(self, run, b, last_rows):
        """After ``b`` batches trained in compiled calls (the last one's rows ``last_rows``)."""


class PlainStep(CompiledBatches, Step):
    """Backprop, penalties, clipping, ``optimizer.step``."""

    def __init__(self, net, optimizer, loss, opts, state, on_nonfinite):
        super().__init__(net, optimizer, loss, opts, state, on_nonfinite)
        wd, l1 = opts.weight_decay, opts.l1
        self.penalties = Penalty(net, wd, l1) if (wd or l1) else None
        self.clip_value, self.clip_norm = opts.clip_value, opts.clip_norm
        self._extras = self.penalties is not None or self.clip_value is not None \
            or self.clip_norm is not None
        # the compiled loops take an L2 penalty alone themselves (fit's weight_decay="auto")
        self._l2_only = self._extras and not l1 and self.clip_value is None and self.clip_norm is None
        self.weight_decay = float(wd or 0.0)

    def _backprop(self, batch) -> float:
        return self.net._loss_and_grad(batch.X, batch.y, self.loss, batch.sample_weight)

    def _adjust(self) -> None:
        """Penalties and clipping, between the gradient and the update."""
        grads = self.grads
        if self.penalties is not None:
            self.penalty += self.penalties.add_to_grads()
        if self.clip_value is not None:
            np.clip(grads, -self.clip_value, self.clip_value, out=grads)
        if self.clip_norm is not None:
            norm = math.sqrt(float(np.dot(grads, grads)))
            if norm > self.clip_norm:
                grads *= self.clip_norm / (norm + 1e-6)

    def __call__(self, batch) -> float:
        value = self._backprop(batch)
        if not math.isfinite(value):
            self.on_nonfinite(batch.number, value)
        if self._extras:
            self._adjust()
        # Adam in one compiled pass where the kernels are loaded (_fast.ADAM_KERNEL_IN_FIT)
        if not (_fast.ADAM_KERNEL_IN_FIT and _fast.optimizer_step(self.opt, self.params, self.grads)):
            self.opt.step(self.params, self.grads)
        self.state.step += 1
        return value


class DropoutStep(PlainStep):
    """``PlainStep`` with inverted dropout after hidden layer i (keep probability keep[i]).

    Each kept unit's h is scaled by 1/keep so that E[h] is unchanged and the plain
    forward pass (no dropout) needs no rescaling at prediction time. The mask
    multiplies the gradient on the way back: ∂loss/∂h = mask ⊙ ∂loss/∂(mask ⊙ h).
    The masks are drawn from ``state.rng``.
    """

    bulk = False

    def __init__(self, net, optimizer, loss, opts, state, on_nonfinite):
        super().__init__(net, optimizer, loss, opts, state, on_nonfinite)
        self.keep = [1 - r for r in opts.dropout]

    def _backprop(self, batch) -> float:
        net, loss, keep, rng = self.net, self.loss, self.keep, self.state.rng
        y, sample_weight = batch.y, batch.sample_weight
        layers, last = net.layers, len(net.layers) - 1
        masks = []
        h = batch.X
        for i, layer in enumerate(layers):
            h = layer.forward(h)
            mask = None
            if i < last and keep[i] < 1:
                mask = (rng.random(h.shape) < keep[i]).astype(h.dtype)
                mask *= 1 / keep[i]
                h = h * mask
            masks.append(mask)
        if loss.fused:
            value, delta = loss.value_and_delta(layers[-1].z, y, sample_weight)
            g = layers[-1].backward_delta(delta, need_input_grad=last > 0)
        else:
            value = loss.value(h, y, sample_weight)
            g = layers[-1].backward(loss.gradient(h, y, sample_weight), need_input_grad=last > 0)
        for i in range(last - 1, -1, -1):
            if masks[i] is not None:
                g = g * masks[i]
            g = layers[i].backward(g, need_input_grad=i > 0)
        return value


class FusedSGDStep(PlainStep):
    """Plain SGD (no momentum, decay, penalty, clipping or dropout) fused into the backward pass.

    ``_fast.loss_and_grad(..., sgd_lr=η)`` updates W and b while backprop still holds
    the products; the weight gradients are written out for the epoch's last batch only
    (``keep_grads``). ``end_epoch`` then turns ``net.grads`` back into ∂L/∂θ (``_fast.unscale``),
    or, after Ctrl-C mid-epoch, recomputes the last finished batch's gradient at θ now.
    tests/test_fast.py proves it equal to ``PlainStep``. At lr 0 it is ``PlainStep``.
    """

    def __init__(self, net, optimizer, loss, opts, state, on_nonfinite):
        super().__init__(net, optimizer, loss, opts, state, on_nonfinite)
        self.n_batches = opts.n_batches

    def begin_epoch(self, lr):
        super().begin_epoch(lr)
        self.scaled = self.kept = False
        self.last = None

    def __call__(self, batch) -> float:
        lr = self.lr
        if not lr > 0:
            return super().__call__(batch)
        self.kept = kept = batch.number == self.n_batches
        value = _fast.loss_and_grad(self.net, batch.X, batch.y, self.loss, batch.sample_weight,
                                    sgd_lr=lr, keep_grads=kept)
        self.scaled = True
        if not math.isfinite(value):
            self.on_nonfinite(batch.number, value)
        self.opt.t += 1                # the step is taken: count it as opt.step would
        self.state.step += 1
        self.last = batch
        return value

    def _bulk_trained(self, run, b, last_rows):
        """The compiled calls kept ∂L/∂θ of the epoch's last batch; stopped earlier, end_epoch
        recomputes the last trained batch's gradient at θ now, as after Ctrl-C mid-epoch."""
        if b == self.n_batches:
            self.scaled = self.kept = False
            return
        data = run.data
        self.scaled, self.kept = True, False
        self.last = Batch(b, data.X[last_rows], data.y[last_rows], None, data.labels[last_rows])

    def end_epoch(self):
        if self.scaled and self.kept:          # grads and deltas back to ∂L/∂θ, ∂L/∂z
            _fast.unscale(self.net, self.lr)
        elif self.scaled:                      # interrupted mid-epoch: the gradient of the
            b = self.last                      # last finished batch, at θ now
            self.net._loss_and_grad(b.X, b.y, self.loss, b.sample_weight)


class TinyStep(PlainStep):
    """``PlainStep`` that can also train many epochs of a tiny network in one compiled call
    (``_fast.TinyLoop``; issue 15): the loop asks ``run_epochs`` first and runs the usual epoch
    only where it declines. It declines — returns 0 — unless every hook of the fit is one the
    kernel does itself (the running loss and accuracy, ReLU care's bookkeeping, the divergence
    guard's check): a schedule, validation, a progress bar, early stopping or a callback needs
    Python between epochs (an L2 penalty alone, fit's weight_decay="auto", the kernel takes
    itself). An epoch the kernel cannot finish alone (a unit to revive or
    re-draw, a non-finite loss) is rolled back and left to the usual path. The History is
    filled in bulk (each epoch's seconds: the call's time over its epochs)."""

    bulk = False            # (its own run_epochs trains whole epochs of tiny networks)
    # epochs per compiled call: at most this many optimiser steps (about 0.05 s), so that
    # Ctrl-C is seen between calls
    MAX_STEPS = 20_000
    # the hooks whose work the kernel does (by class name: steps and hooks are sibling modules)
    _BULK_HOOKS = frozenset({"Meter", "RunningAccuracy", "ReluCareHook", "DivergenceGuard"})

    def __init__(self, net, optimizer, loss, opts, state, on_nonfinite, tiny):
        super().__init__(net, optimizer, loss, opts, state, on_nonfinite)
        self.tiny = tiny
        self._orders = None

    def run_epochs(self, run, hooks, left: int) -> int:
        if ((self._extras and not self._l2_only)
                or not all(type(h).__name__ in self._BULK_HOOKS for h in hooks)):
            return 0
        data, batches, state = run.data, run.batches, run.state
        if data.sample_weight is not None:
            return 0
        guard = next(h for h in hooks if type(h).__name__ == "DivergenceGuard")
        care_hook = next((h for h in hooks if type(h).__name__ == "ReluCareHook"), None)
        care = None if care_hook is None else care_hook.care
        n, n_batches = batches.n, batches.n_batches
        k = max(1, min(left, self.MAX_STEPS // n_batches))
        rng = state.rng
        shuffle = batches.shuffle and n_batches > 1
        if shuffle:
            saved = rng.bit_generator.state
            orders = np.stack([rng.permutation(n) for _ in range(k)])
        else:
            if self._orders is None or self._orders.shape[0] < k:
                self._orders = np.tile(np.arange(n), (k, 1))
            orders = self._orders
        lr = self.opt.lr
        t0 = time.perf_counter()
        done, losses, correct = self.tiny.run(data.X, data.y, data.labels, orders, k, care,
                                              () if care is None else care.hidden, CARE_TOL,
                                              weight_decay=self.weight_decay)
        seconds = (time.perf_counter() - t0) / max(done, 1)
        if shuffle and done < k:          # the generator as if only the committed epochs had drawn
            rng.bit_generator.state = saved
            for _ in range(done):
                rng.permutation(n)
        if not done:
            return 0
        history = run.history
        for e in range(done):
            state.epoch += 1
            metrics = {} if data.labels is None else {"accuracy": int(correct[e]) / n}
            history._append(loss=float(losses[e]), val_loss=None, lr=lr, seconds=seconds, metrics=metrics)
        state.step += done * n_batches
        run.epoch, run.lr, run.loss, run.metrics = state.epoch, lr, float(losses[done - 1]), metrics
        guard.last_good[...] = self.params
        if care is not None:            # as after care.end_epoch: a new epoch's tally
            for alive in care.alive.values():
                alive.fill(False)
            care._all_alive = False
        bs = batches.batch_size
        last = orders[done - 1][(n_batches - 1) * bs:]
        self.tiny.set_caches(data.X, last)
        return done


def _plain_sgd(opt) -> bool:
    """An optimiser whose step is exactly θ ← θ − η g (SGD's own step, no momentum or decay)."""
    return type(opt).step is _optimizers.SGD.step and not opt.momentum and not opt.weight_decay


def numpy_step(net, optimizer, loss, opts, state, on_nonfinite) -> Step:
    """The step factory of the "numpy" engine: dropout, fused SGD or plain."""
    if any(r > 0 for r in opts.dropout):
        return DropoutStep(net, optimizer, loss, opts, state, on_nonfinite)
    tiny = _fast.TinyLoop.make(net, loss, optimizer, opts.batch_size) if _fast.ENABLED else None
    if tiny is not None:
        return TinyStep(net, optimizer, loss, opts, state, on_nonfinite, tiny)
    if (_fast.ENABLED and _plain_sgd(optimizer) and not opts.weight_decay and not opts.l1
            and opts.clip_value is None and opts.clip_norm is None):
        return FusedSGDStep(net, optimizer, loss, opts, state, on_nonfinite)
    return PlainStep(net, optimizer, loss, opts, state, on_nonfinite)


ENGINES = Registry("engine")
ENGINES.register("numpy", numpy_step)
ENGINES.register("torch", _torch_engine.torch_step)


def make_step(net, optimizer, loss, opts, state, on_nonfinite) -> Step:
    """The step for this fit: ``ENGINES[opts.engine](...)``."""
    return ENGINES[opts.engine](net, optimizer, loss, opts, state, on_nonfinite)
