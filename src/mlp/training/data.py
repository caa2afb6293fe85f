"""The data of a fit: checked once, split, weighted, then served in batches.

This module owns what happens to X and y before a step sees them: the checks
(``prepare``), class weights, the validation split rule (``validation_rows``) and
the batch source (``Batches``). It does not own the steps or the loop.

The batch-source interface (what the loop asks of any source; a memory-mapped or
sharded source implements the same and feeds the same rows in the same order)::

    source.n, source.batch_size, source.n_batches     ints
    source.epoch(rng) -> iterable of Batch             draws the epoch's permutation from rng
                                                       at once (rng.permutation(n), only when
                                                       shuffling and n_batches > 1), then yields
                                                       Batch(number, X, y, sample_weight, labels)
                                                       for rows order[b·bs:(b+1)·bs], b = 0, 1, …

``Batch.number`` counts from 1; ``X``, ``y``, ``sample_weight`` are the gathered rows in
the network's dtype; ``labels`` the batch's integer classes (None for regression).
"""

from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import numpy as np

from .. import _fast
from .. import losses as _losses
from .. import sources as _sources
from .._validation import check_number, check_sample_weight, check_X, check_y, is_number
from ..datasets import train_test_split
from ..errors import TrainingWarning
from ..torch_engine import shard_bounds
from .options import resolve_loss

__all__ = ["Batch", "Batches", "Prepared", "class_labels", "class_weights", "prepare",
           "validation_rows"]


def check_targets(net, y, n, loss, what="y"):
    """Validate targets; MSE on integer class labels is warned about (or refused when it cannot fit).
    Targets on disk (a memory map) are checked in one streaming pass and not read whole
    (``mlp.sources.check_target_rows``)."""
    lazy = _sources.is_lazy(y)
    raw = y if lazy else np.asarray(y)
    if isinstance(loss, _losses.MSE) and np.issubdtype(raw.dtype, np.integer):
        if raw.ndim == 1 and net.n_out > 1:
            raise ValueError(f"MSE on integer class labels: did you mean cross_entropy? ({what} has "
                             f"shape {raw.shape}, the network has {net.n_out} outputs; use a softmax "
                             "output and loss='cross_entropy')")
        warnings.warn("MSE on integer class labels: did you mean cross_entropy? (a softmax output "
                      "with loss='cross_entropy', or a sigmoid output with binary_cross_entropy)",
                      TrainingWarning, stacklevel=5)
    if lazy:
        return _sources.check_target_rows(y, n, net.n_out, net.dtype, what=what,
                                          labels=isinstance(loss, _losses.CrossEntropy),
                                          unit_range=isinstance(loss, _losses.BinaryCrossEntropy))
    y2 = check_y(y, n, net.n_out, net.dtype, labels=isinstance(loss, _losses.CrossEntropy), what=what)
    if isinstance(loss, _losses.BinaryCrossEntropy) and (np.any(y2 < 0) or np.any(y2 > 1)):
        raise ValueError("binary_cross_entropy targets must lie in [0, 1]")
    return y2


def class_labels(y2, loss):
    """Integer class labels for accuracy and class weights, or None for regression."""
    if isinstance(loss, _losses.CrossEntropy):
        return y2 if y2.ndim == 1 else np.argmax(y2, axis=1)
    if isinstance(loss, _losses.BinaryCrossEntropy) and y2.shape[1] == 1:
        return (y2[:, 0] > 0.5).astype(np.intp)
    return None


def class_weights(class_weight, labels, n_classes, dtype):
    """Per-example weights from ``{class: weight}`` or "balanced" (w_c = n / (k · n_c)).

    A dict key must be one of the network's classes 0 … n_classes − 1 (one missing from
    these labels is fine)."""
    if labels is None:
        raise ValueError("class_weight needs class labels: use loss='cross_entropy' or "
                         "'binary_cross_entropy' (single output)")
    classes, counts = np.unique(labels, return_counts=True)
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(f"class_weight must be a dict or 'balanced', got {class_weight!r}")
        table = dict(zip(classes.tolist(), (len(labels) / (len(classes) * counts)).tolist()))
    elif isinstance(class_weight, dict):
        table = {}
        for c, w in class_weight.items():
            if not isinstance(w, (int, float, np.number)) or not (math.isfinite(w) and w >= 0):
                raise ValueError(f"class_weight[{c!r}] must be a finite number >= 0, got {w!r}")
            if not is_number(c, integer=True) or not 0 <= c < n_classes:
                raise ValueError(f"class_weight has class {c!r}, but the network's classes are "
                                 f"0..{n_classes - 1}")
            table[int(c)] = float(w)
    else:
        raise TypeError(f"class_weight must be a dict or 'balanced', got {type(class_weight).__name__}")
    lookup = np.ones(max(n_classes, int(labels.max()) + 1))
    for c, w in table.items():
        lookup[c] = w
    return lookup[labels].astype(dtype)


def validation_rows(n: int, split: float, *, labels=None, seed=None):
    """The validation split rule (fit, the CLI and the estimators' ``validation_fraction``).

    ``n_val = n − ⌊n (1 − split)⌋`` examples are held out; there must be at least one
    of each. Which ones:

    * ``seed=None`` (``fit(validation_split=…)``, Keras' rule): the *last* rows as given;
      returns two slices (views, no copy).
    * a seed (``mlp train --validation-split``): a random split, stratified by ``labels``
      when each class has two examples and ``n_val`` is at least the number of classes;
      returns two index arrays.
    """
    given, split = split, check_number("validation_split", split, low=0)
    n_train = int(n * (1 - split))
    if split >= 1 or n_train < 1 or n_train == n:
        raise ValueError(f"validation_split={given} leaves no training or no validation "
                         f"example out of {n}")
    if seed is None:
        return slice(0, n_train), slice(n_train, n)
    idx = np.arange(n)
    n_val = n - n_train
    stratify = (labels is not None and np.bincount(np.asarray(labels)).min() >= 2
                and n_val >= np.unique(labels).size)
    train, val, _, _ = train_test_split(idx, labels if stratify else idx, test_size=n_val, seed=seed,
                                        stratify=bool(stratify))
    return train, val


class Prepared(NamedTuple):
    """Validated training (and validation) arrays, in the network's dtype."""

    loss: _losses.Loss
    X: np.ndarray
    y: np.ndarray
    sample_weight: np.ndarray | None
    labels: np.ndarray | None          # integer classes for accuracy, None for regression
    X_val: np.ndarray | None
    y_val: np.ndarray | None
    sample_weight_val: np.ndarray | None
    labels_val: np.ndarray | None


def inputs(net, X, what: str = "X"):
    """``X`` (or ``X_val``) as the first layer takes it: validated and, when the network has an
    input scaler (``net.scaler``: ``mlp train``, ``mlp.load``), standardised — the one place
    where fit does this, so ``mlp.training.fit(net, …)`` and ``net.fit`` train alike on raw rows,
    as ``net(X)`` predicts. A memory map is standardised as it is read (``mlp.sources.scaled``)."""
    scaler = getattr(net, "scaler", None)
    if _sources.is_lazy(X):                       # memory map: never read whole
        return _sources.check_rows(X if scaler is None else _sources.scaled(X, scaler), net.n_in,
                                   net.dtype, what=what)
    if scaler is not None:
        return net._inputs(X, what=what)[0]
    return check_X(X, net.n_in, net.dtype, what=what)[0]


def prepare(net, X, y, opts) -> Prepared:
    """Check the data once, before training (``inputs``: with the network's input scaler);
    split off validation data (``validation_rows``)."""
    loss = resolve_loss(opts.loss, net.layers[-1].activation)
    loss.check_output(net.layers[-1].activation)
    X2 = inputs(net, X)
    n = X2.shape[0]
    y2 = check_targets(net, y, n, loss)
    sw = check_sample_weight(opts.sample_weight, n, net.dtype)
    labels = class_labels(y2, loss)
    class_weight, validation_data, split = opts.class_weight, opts.validation_data, opts.validation_split
    if class_weight is not None and labels is None:
        class_weights(class_weight, labels, max(net.n_out, 2), net.dtype)     # raises: no classes
    if validation_data is not None and split:
        raise ValueError("give validation_split or validation_data, not both")
    Xv = yv = swv = None
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError("validation_data must be (X_val, y_val) or (X_val, y_val, sample_weight)")
        Xv = inputs(net, validation_data[0], what="X_val")
        yv = check_targets(net, validation_data[1], Xv.shape[0], loss, what="y_val")
        if len(validation_data) == 3:
            swv = check_sample_weight(validation_data[2], Xv.shape[0], net.dtype)
    elif split:
        train, val = validation_rows(n, split)
        if isinstance(X2, _sources.MappedRows):       # views of the memory map, nothing read
            Xv, X2 = X2.subset(val.start, val.stop), X2.subset(train.start, train.stop)
        else:
            Xv, X2 = X2[val], X2[train]
        yv, y2 = y2[val], y2[train]
        if sw is not None:
            swv, sw = sw[val], sw[train]
        if labels is not None:
            labels = labels[train]
    # class_weight weighs the training examples only ("balanced" counts them alone), as Keras and
    # scikit-learn: validation_split and the same rows as validation_data give the same val_loss
    if class_weight is not None:
        cw = class_weights(class_weight, labels, max(net.n_out, 2), net.dtype)
        sw = cw if sw is None else sw * cw
    if sw is not None and sw.size and not sw.any():
        raise ValueError("every example has weight 0 (sample_weight × class_weight): the loss is 0 "
                         "and training would learn nothing")
    labels_v = None if yv is None else class_labels(yv, loss)
    return Prepared(loss, X2, y2, sw, labels, Xv, yv, swv, labels_v)


def _format_scale(x: float) -> str:
    """1000.0 → '1e3', 0.0001 → '1e-4' (the order of magnitude, as a person writes it)."""
    return f"{x:.0e}".replace("e+0", "e").replace("e+", "e").replace("e-0", "e-")


def check_input_scale(X) -> None:
    """Warn when the features are far from order 1 (TrainingWarning)."""
    # X.std(axis=0).max() without a temporary the size of the data set (_fast.py); memory maps
    # in one streaming pass (mlp.sources)
    if isinstance(X, _sources.MappedRows):
        std = X.max_feature_std()
    else:
        std = _fast.max_feature_std(X) if X.shape[0] > 1 else 0.0
    if std > 100 or 0 < std < 1e-2:
        warnings.warn(f"inputs have standard deviation {_format_scale(std)}: scale them (e.g. "
                      "mlp.data.StandardScaler, or divide by the largest value) so that each "
                      "feature is of order 1", TrainingWarning, stacklevel=4)


class Batch(NamedTuple):
    """One batch: its number in the epoch (from 1) and its rows."""

    number: int
    X: np.ndarray
    y: np.ndarray
    sample_weight: np.ndarray | None
    labels: np.ndarray | None


class Batches:
    """The batches of in-memory arrays (see the module docstring for the interface).

    The gather ``X[order[b·bs:(b+1)·bs]]`` copies one batch, never the data set; for a
    memory map (``mlp.sources.MappedRows``) it reads only those rows from the file.
    With ``part = (rank, world)`` (a process of ``mlp.distributed``) X holds only the
    rank's rows of each batch (``mlp.torch_engine.shard_bounds``); y, the weights and the
    labels stay the whole batch's.
    """

    part = None

    def __init__(self, X, y, sample_weight=None, labels=None, *, batch_size: int, shuffle: bool = True):
        self.X, self.y, self.sample_weight, self.labels = X, y, sample_weight, labels
        self.n = X.shape[0]
        self.batch_size = batch_size
        self.n_batches = math.ceil(self.n / batch_size)
        self.shuffle = shuffle
        self._fixed = None
        self._bufs = None                   # the two gather buffers (_buffers)
        # integer labels that are y itself (cross-entropy): the batch's labels are its y
        self._labels_are_y = (labels is not None and labels.dtype == y.dtype and labels.shape == y.shape
                              and labels.strides == y.strides
                              and labels.__array_interface__["data"][0] == y.__array_interface__["data"][0])

    def epoch(self, rng):
        """The epoch's batches; the permutation is drawn from ``rng`` now, before the first."""
        if self.shuffle and self.n_batches > 1:
            return self._batches(rng.permutation(self.n))
        if self._fixed is None:            # the same views every epoch: made once
            self._fixed = list(self._batches(None))
        return self._fixed

    def resume(self, order, first: int):
        """The batches of an epoch with row order ``order`` (None: in order) from batch ``first`` (from 0)
        on: where a step that trained the first ones itself hands the rest back."""
        if order is None:
            return self.epoch(None)[first:]
        return self._batches(order, first)

    def _batches(self, order, first=0):
        X, y, sw, labels, bs = self.X, self.y, self.sample_weight, self.labels, self.batch_size
        same = self._labels_are_y
        # Shuffled rows are gathered into two buffers taken in turn (no allocation per batch; the
        # previous batch stays intact while the next is in use), by _fast.gather: one compiled
        # pass where numba is installed. Without numba, X[rows] as before.
        bufs = self._buffers() if order is not None and _fast.kernels() is not None else None
        for b in range(first, self.n_batches):
            sl = slice(b * bs, (b + 1) * bs) if order is None else order[b * bs:(b + 1) * bs]
            yb = y[sl]
            if self.part is not None:
                rows = np.arange(self.n)[sl] if order is None else sl
                lo, hi = shard_bounds(len(rows), *self.part)
                Xb = X[rows[lo:hi]]
            else:
                Xb = X[sl] if bufs is None else _fast.gather(X, sl, bufs[b % 2][:len(sl)])
            yield Batch(b + 1, Xb, yb, None if sw is None else sw[sl],
                        yb if same else (None if labels is None else labels[sl]))

    def _buffers(self):
        if self._bufs is None:
            shape = (min(self.batch_size, self.n), *self.X.shape[1:])
            self._bufs = (np.empty(shape, self.X.dtype), np.empty(shape, self.X.dtype))
        return self._bufs
