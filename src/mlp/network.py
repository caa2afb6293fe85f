"""The network: a stack of Dense layers over one flat parameter vector.

``Network`` owns the layer list, the flat ``params`` and ``grads`` vectors (every
layer's ``W``, ``b``, ``dW``, ``db`` are views into them), the forward pass,
backpropagation (``loss_and_grad``) and the per-layer ``trace``. Training lives
in ``mlp.training``; pictures, symbolic algebra and file formats elsewhere.

Flat layout (the lecture's naming order): all weights first, ``W(1)`` row by
row, then ``W(2)``, …; then all biases ``b(1)``, ``b(2)``, …. For the 2-2-1 XOR
net ``param_names()`` is ``['w1', …, 'w6', 'b1', 'b2', 'b3']`` with
``W(1) = [[w1, w2], [w3, w4]]``, ``W(2) = [[w5, w6]]``.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass

import numpy as np

from . import _fast
from . import init as _init
from . import losses as _losses
from ._safetensors import check_memory
from ._validation import assign, check_sample_weight, check_X, check_y
from .activations import Identity, Sigmoid, Softmax
from .layers import Dense
from .training import fit as _fit


def _label_array(classes) -> np.ndarray:
    """Class labels as an array to index: numbers or strings keep their type, a mix is objects."""
    kinds = {isinstance(c, str) for c in classes}
    return np.array(list(classes), dtype=object if len(kinds) > 1 else None)


class Network:
    """A multi-layer network ``ŷ = σ_L(W_L … σ_1(W_1 x + b_1) … + b_L)``.

    Parameters
    ----------
    layers : list of Dense
        Consecutive layers; each layer's ``n_in`` must equal the previous ``n_out``.
        Their current weights are copied into the network's flat vectors.
    dtype : numpy dtype, default float32
        float32 or float64; every layer is converted to it.

    Attributes
    ----------
    layers : list of Dense
    params : ndarray of shape (n_params,)
        All parameters, weights first then biases (see ``param_names``).
    grads : ndarray of shape (n_params,)
        ∂loss/∂params, filled (overwritten) by ``loss_and_grad``.
    scaler : StandardScaler or None
        The model's input standardisation x′ = (x − mean) / scale, part of the model:
        ``net(X)``, ``predict*``, ``loss_and_grad``, ``fit``, ``trace``, ``dead_units``,
        ``mlp.interop.to_torch``/``to_onnx`` and ``mlp predict`` all take raw inputs and
        apply it first. ``mlp train`` and ``mlp.load`` set it (a model file stores it);
        None (the default) means the layers see X as given.
    classes_ : list or None
        Class labels, one per output (two for a single sigmoid output); when set,
        ``predict_classes`` returns these labels instead of indices.

    Examples
    --------
    >>> import numpy as np
    >>> net = Network([Dense(2, 2, activation="relu"), Dense(2, 1)])
    >>> net.layers[0].W = [[1, 1], [2, 2]]; net.layers[0].b = [-1, -1]
    >>> net.layers[1].W = [[-3, 1]]; net.layers[1].b = [0]
    >>> net(np.array([[0, 0], [0, 1], [1, 0], [1, 1]]))[:, 0]
    array([0., 1., 1., 0.], dtype=float32)
    """

    def __init__(self, layers, *, dtype=np.float32):
        layers = list(layers)
        if not layers:
            raise ValueError("a Network needs at least one layer")
        for i, layer in enumerate(layers):
            if not isinstance(layer, Dense):
                raise TypeError(f"layer {i + 1} must be a Dense, got {type(layer).__name__}")
            if any(layer is other for other in layers[:i]):
                raise ValueError(f"layer {i + 1} is the same Dense object as an earlier layer; "
                                 "give each position its own Dense (weights are not shared)")
            if i and layer.n_in != layers[i - 1].n_out:
                raise ValueError(
                    f"layer {i + 1} expects {layer.n_in} inputs but layer {i} has "
                    f"{layers[i - 1].n_out} outputs")
            if not layer.activation.elementwise and i != len(layers) - 1:
                raise ValueError(f"{layer.activation.name} is only allowed on the output layer "
                                 f"(found on layer {i + 1})")
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise TypeError(f"dtype must be float32 or float64, got {dtype}")
        self.layers = layers
        n_weights = sum(layer.n_out * layer.n_in for layer in layers)
        n_params = n_weights + sum(layer.n_out for layer in layers)
        self._params = np.zeros(n_params, dtype=dtype)
        self._grads = np.zeros(n_params, dtype=dtype)
        self._bind_layers()
        hidden = layers[:-1]
        if hidden and all(isinstance(layer.activation, Identity) for layer in hidden):
            warnings.warn(
                f"all {len(hidden)} hidden layer(s) use the identity activation: this network "
                "is no more powerful than a single layer (mlp.collapse(net) gives it)",
                UserWarning, stacklevel=2)

    def _bind_layers(self) -> None:
        """Make every layer's W, b, dW, db views into the flat vectors, keeping their values."""
        w_at, b_at = 0, self._n_weights()
        for layer in self.layers:
            W, b = layer.W.copy(), layer.b.copy()
            layer._bind(self._params, self._grads, w_at, b_at)
            layer.W, layer.b = W, b
            w_at += layer.n_out * layer.n_in
            b_at += layer.n_out

    def __setstate__(self, state) -> None:
        # pickle and deepcopy store each NumPy view as an array of its own: rebuild the views
        # so that the layers and the flat params stay one and the same memory.
        self.__dict__.update(state)
        self._params, self._grads = np.array(self._params), np.array(self._grads)  # writable
        self._bind_layers()

    @classmethod
    def from_sizes(cls, sizes, hidden="relu", output="identity", init="he", seed=None,
                   dtype=np.float32) -> Network:
        """Build a network from layer widths, e.g. ``[2, 2, 1]`` for the lecture's XOR net.

        Parameters
        ----------
        sizes : sequence of int
            ``[n_in, n_hidden_1, …, n_out]``, at least two entries.
        hidden, output : str or Activation
            Activation of the hidden layers and of the output layer.
        init : str or callable, default "he"
            Weight initialiser (``mlp.init``); biases start at zero.
        seed : int, numpy.random.Generator or None
        dtype : float32 (default) or float64
        """
        sizes = list(sizes)
        if len(sizes) < 2:
            raise ValueError(f"sizes needs at least an input and an output width, got {sizes}")
        if all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n > 0 for n in sizes):
            n_params = sum((int(a) + 1) * int(b) for a, b in zip(sizes[:-1], sizes[1:]))
            # each layer's own W and b, the flat params and grads: ~4 copies before training
            check_memory(4 * n_params * 8, f"a network of sizes {sizes} ({n_params:,} parameters)")
        rng = _init.rng_from(seed)
        layers = [Dense(n_in, n_out, hidden if i < len(sizes) - 2 else output,
                        init=init, seed=rng, dtype=dtype)
                  for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]))]
        return cls(layers, dtype=dtype)

    # -- the flat vectors -------------------------------------------------------------------
    @property
    def params(self) -> np.ndarray:
        """All parameters as one flat vector (weights, then biases); assignment copies in."""
        return self._params

    @params.setter
    def params(self, value) -> None:
        assign(self._params, value, "params")

    @property
    def grads(self) -> np.ndarray:
        """∂loss/∂params, same layout as ``params``; assignment copies in."""
        return self._grads

    @grads.setter
    def grads(self, value) -> None:
        assign(self._grads, value, "grads")

    @property
    def dtype(self) -> np.dtype:
        return self._params.dtype

    @property
    def n_in(self) -> int:
        return self.layers[0].n_in

    @property
    def n_out(self) -> int:
        return self.layers[-1].n_out

    @property
    def n_params(self) -> int:
        return self._params.size

    @property
    def sizes(self) -> list[int]:
        return [self.n_in] + [layer.n_out for layer in self.layers]

    def param_names(self) -> list[str]:
        """Lecture names in flat order: ``w1 … w_k`` row by row through W(1), W(2), …,
        then ``b1 … b_m`` through b(1), b(2), …."""
        n_w = sum(layer.n_out * layer.n_in for layer in self.layers)
        n_b = self.n_params - n_w
        return [f"w{i}" for i in range(1, n_w + 1)] + [f"b{i}" for i in range(1, n_b + 1)]

    def param_index(self, name: str) -> int:
        """Position of a lecture-named parameter (``"w5"``) in ``params``."""
        names = self.param_names()
        try:
            return names.index(name)
        except ValueError:
            raise ValueError(
                f"no parameter {name!r}; this network has {names[0]}…w{self._n_weights()} "
                f"and b1…b{self.n_params - self._n_weights()}") from None

    def _n_weights(self) -> int:
        return sum(layer.n_out * layer.n_in for layer in self.layers)

    def copy(self, dtype=None) -> Network:
        """An independent copy (optionally converted to ``dtype``).

        It keeps what a model file keeps beside the parameters — ``classes_``, ``scaler``
        and ``metadata``, where set (``mlp.load`` sets them) — so that saving or exporting
        the copy writes the same model; not the training state.
        """
        dtype = self.dtype if dtype is None else dtype
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            layers = [Dense(layer.n_in, layer.n_out, layer.activation, init="zeros", dtype=dtype)
                      for layer in self.layers]
            clone = Network(layers, dtype=dtype)
        clone.params = self.params
        for name in ("classes_", "scaler", "metadata"):
            if name in self.__dict__:
                setattr(clone, name, copy.deepcopy(self.__dict__[name]))
        return clone

    # -- forward ---------------------------------------------------------------------------
    def forward(self, X: np.ndarray) -> np.ndarray:
        """Forward pass over a validated batch (n, n_in) → (n, n_out), caching every layer."""
        h = X
        for layer in self.layers:
            h = layer.forward(h)
        return h

    #: Input standardisation applied before the first layer, and class labels (see the class
    #: docstring); None until ``mlp train``, ``mlp.load`` or the user sets them.
    scaler = None
    classes_ = None

    def _inputs(self, X, what: str = "X"):
        """``X`` as the first layer takes it: validated and, with a ``scaler``, standardised
        (in float64, then converted to the network's dtype); (array, was_one_example)."""
        if self.scaler is None:
            return check_X(X, self.n_in, self.dtype, what=what)
        X2, single = check_X(X, self.n_in, np.float64, what=what)
        mean = np.asarray(self.scaler.mean, dtype=np.float64)     # any object with mean and scale
        scale = np.asarray(self.scaler.scale, dtype=np.float64)
        return ((X2 - mean) / scale).astype(self.dtype, copy=False), single

    def __call__(self, X) -> np.ndarray:
        """ŷ for one example ``x`` of shape (n_in,) → (n_out,), or a batch (n, n_in) → (n, n_out)."""
        if _fast.ENABLED and self.scaler is None:   # one valid example, nothing cached; equal to
            y_hat = _fast.predict_one(self, X)      # the lines below (test_fast.py)
            if y_hat is not None:
                return y_hat
        X2, single = self._inputs(X)
        y_hat = self.forward(X2)
        return y_hat[0] if single else y_hat

    def predict(self, X) -> np.ndarray:
        """The network output ŷ (same as ``net(X)``)."""
        return self(X)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (n, n_classes), for a softmax or sigmoid output.

        A single sigmoid output gives two columns ``[1 − p, p]`` (as scikit-learn).
        """
        out = self.layers[-1].activation
        if not isinstance(out, (Softmax, Sigmoid)):
            raise ValueError(f"predict_proba needs a softmax or sigmoid output layer, "
                             f"not {out.name!r}")
        p = self(X)
        if isinstance(out, Sigmoid) and self.n_out == 1:
            p = np.concatenate([1 - p, p], axis=-1)
        return p

    def predict_classes(self, X) -> np.ndarray:
        """Predicted classes: argmax for several outputs, ``ŷ > 0.5`` for a single output.

        Class indices 0, 1, …; the labels themselves (``classes_[index]``) when the
        network has ``classes_`` (a model trained by ``mlp train``, or loaded), as
        ``mlp predict`` prints them.
        """
        y_hat = self(X)
        if self.n_out == 1:
            index = (y_hat[..., 0] > 0.5).astype(np.intp)
        else:
            index = np.argmax(y_hat, axis=-1)
        if self.classes_ is None:
            return index
        return _label_array(self.classes_)[index]

    # -- backward --------------------------------------------------------------------------
    def backward(self, grad_out: np.ndarray, *, fused: bool = False) -> None:
        """Backpropagate from the output: ``grad_out`` is ∂loss/∂ŷ, or ∂loss/∂z of the
        output layer when ``fused``. Fills (overwrites) ``grads``; call after ``forward``."""
        last = len(self.layers) - 1
        g = grad_out
        for i in range(last, -1, -1):
            layer = self.layers[i]
            if i == last and fused:
                g = layer.backward_delta(g, need_input_grad=i > 0)
            else:
                g = layer.backward(g, need_input_grad=i > 0)

    def loss_and_grad(self, X, y, loss="mse", sample_weight=None) -> float:
        """The loss on (X, y) and its gradient by backpropagation.

        Overwrites ``grads`` (it does not accumulate) with ∂loss/∂params and returns
        the loss value.

        Parameters
        ----------
        X : ndarray of shape (n, n_in) or (n_in,)
        y : ndarray of shape (n, n_out), (n,) for one output or class labels
        loss : str or Loss
            ``"mse"`` (the lecture's ½ Σ (ŷ − y)²), ``"cross_entropy"`` (softmax
            output), ``"binary_cross_entropy"`` (sigmoid output) or a Loss object.
        sample_weight : ndarray of shape (n,), optional
        """
        loss = _losses.get(loss)
        loss.check_output(self.layers[-1].activation)
        X2, _ = self._inputs(X)
        y2 = check_y(y, X2.shape[0], self.n_out, self.dtype,
                     labels=isinstance(loss, _losses.CrossEntropy))
        sw = check_sample_weight(sample_weight, X2.shape[0], self.dtype)
        if isinstance(loss, _losses.BinaryCrossEntropy) and (np.any(y2 < 0) or np.any(y2 > 1)):
            raise ValueError("binary_cross_entropy targets must lie in [0, 1]")
        return self._loss_and_grad(X2, y2, loss, sw)

    def _loss_and_grad(self, X, y, loss, sample_weight=None) -> float:
        """``loss_and_grad`` on already validated arrays (the training loop's entry)."""
        if _fast.ENABLED:   # reused buffers, fused kernels; equal to the lines below (test_fast.py)
            return _fast.loss_and_grad(self, X, y, loss, sample_weight)
        y_hat = self.forward(X)
        if loss.fused:
            # softmax + cross-entropy / sigmoid + binary cross-entropy: δ_out = (p − y)/n,
            # computed from the logits z, finite even for |z| = 1e4.
            value, delta = loss.value_and_delta(self.layers[-1].z, y, sample_weight)
            self.backward(delta, fused=True)
        else:
            value = loss.value(y_hat, y, sample_weight)
            self.backward(loss.gradient(y_hat, y, sample_weight))
        return value

    # -- training (the loop lives in mlp.training) -------------------------------------------
    #: ``mlp.training.TrainState`` after the first ``fit`` (optimiser, History, rng, epoch);
    #: set it to None to make the next ``fit`` start afresh.
    train_state = None
    #: The ``History`` of the last ``fit`` (the same object as ``train_state.history``), or of
    #: the model file it was loaded from; None before.
    history = None
    #: The free-form metadata dict a model file keeps (``mlp train`` writes it); None when not set.
    metadata = None

    def fit(self, X, y, **options):
        """Train on (X, y) and return the ``History``; ``fit`` again continues the same run.

        ``net.fit(X, y, loss="auto", optimizer="adam", lr=None, epochs="auto",
        batch_size="auto", validation_split=0.0, early_stopping=False, schedule=None,
        weight_decay=0.0, dropout=0.0, callbacks=(), seed=None, progress=None, …)``;
        every option is documented in ``mlp.training.fit``. With a ``scaler`` the network
        trains on standardised inputs, as it predicts: pass X (and ``validation_data``) raw
        (``mlp.training.data.inputs``).
        """
        return _fit(self, X, y, **options)

    def dead_units(self, X) -> list[tuple[int, int]]:
        """Hidden units that are inactive on every example of X: σ′(z) = 0 for all of them.

        For ReLU that is z ≤ 0 everywhere: the unit outputs 0 and gets no gradient,
        so training cannot revive it by itself.

        Parameters
        ----------
        X : ndarray of shape (n, n_in)

        Returns
        -------
        list of (i, j)
            Unit j (row j of ``W``) of ``net.layers[i]``, both counted from 0.
        """
        X2, _ = self._inputs(X)
        dead = []
        h = X2
        for i, layer in enumerate(self.layers[:-1]):
            z = h @ layer.W.T + layer.b
            h = layer.activation(z)
            inactive = np.all(layer.activation.derivative(z) == 0, axis=0)
            dead += [(i, int(j)) for j in np.flatnonzero(inactive)]
        return dead

    # -- seeing inside ---------------------------------------------------------------------
    def trace(self, x, y=None, loss="mse") -> Trace:
        """Every layer's values for one example, as a printable table and as data.

        Forward: each layer's input x, ``z = W x + b`` and ``h = σ(z)``. Given a target
        ``y`` also the backward pass for ``loss``: each layer's δ = ∂loss/∂z and every
        parameter's gradient under its lecture name (``Trace.params``). The backward
        pass runs on a copy: ``grads`` and the layers' caches of this network are not
        changed by it.

        Parameters
        ----------
        x : ndarray of shape (n_in,)
        y : ndarray of shape (n_out,), a float, or a class label for cross-entropy; optional
        loss : str or Loss, default "mse" (the lecture's ½ Σ (ŷ − y)²)

        Returns
        -------
        Trace
            A list of ``LayerTrace`` (one per layer) with ``loss`` and ``params``.
        """
        X2, single = self._inputs(x, what="x")
        if not single and X2.shape[0] != 1:
            raise ValueError(f"trace takes one example of shape ({self.n_in},), got {X2.shape}")
        if y is None:
            self.forward(X2)
            steps = [LayerTrace(i + 1, layer.activation.name, layer.x[0].copy(), layer.z[0].copy(),
                                layer.h[0].copy()) for i, layer in enumerate(self.layers)]
            return Trace(steps)
        loss = _losses.get(loss)
        if isinstance(loss, _losses.CrossEntropy) and np.ndim(y) == 0:
            y = np.reshape(y, (1,))                      # one class label
        elif isinstance(loss, _losses.CrossEntropy) and np.shape(y) == (self.n_out,) != (1,):
            y = np.reshape(y, (1, self.n_out))           # one one-hot (or soft) target row
        net = self.copy()                                # leaves self.grads untouched
        net.scaler = None                                # X2 is scaled already
        value = net.loss_and_grad(X2, y, loss)
        steps = [LayerTrace(i + 1, layer.activation.name, layer.x[0].copy(), layer.z[0].copy(),
                            layer.h[0].copy(), layer.delta[0].copy(), layer.dW.copy(), layer.db.copy())
                 for i, layer in enumerate(net.layers)]
        names, where = net.param_names(), []
        for i, layer in enumerate(net.layers):
            where += [(i + 1, "W", (r, c)) for r in range(layer.n_out) for c in range(layer.n_in)]
        for i, layer in enumerate(net.layers):
            where += [(i + 1, "b", (r,)) for r in range(layer.n_out)]
        params = [ParamTrace(name, layer, kind, index, float(p), float(g))
                  for name, (layer, kind, index), p, g in zip(names, where, net.params, net.grads)]
        return Trace(steps, loss=value, loss_name=repr(loss), fused=loss.fused, params=params)

    def summary(self, print=print):
        """Each layer as an equation, with its shapes and the parameter table in lecture names.

        ``h1 = relu(W(1) x + b(1))``, W(1) of shape 2×2, 6 parameters, then every
        parameter ``w1 … b3`` with its layer, position and value (large networks show
        the first and last few). Printed with ``print``; returns the text when
        ``print`` is None.
        """
        n_layers = len(self.layers)
        rows = [("layer", "equation", "W", "b", "parameters")]
        for i, layer in enumerate(self.layers, start=1):
            out = "ŷ" if i == n_layers else f"h{i}"
            inp = "x" if i == 1 else f"h{i - 1}"
            affine = f"W({i}) {inp} + b({i})"
            act = layer.activation.name
            rhs = affine if act == "identity" else f"{act}({affine})"
            rows.append((str(i), f"{out} = {rhs}", f"{layer.n_out}×{layer.n_in}", str(layer.n_out),
                         str(layer.n_params)))
        widths = [max(len(r[c]) for r in rows) for c in range(5)]
        lines = [f"Network {'-'.join(map(str, self.sizes))}: {n_layers} layers, "
                 f"{self.n_params} parameters, {self.dtype.name}"]
        lines += ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
        lines.insert(2, "  ".join("-" * w for w in widths))
        lines += ["", "parameter  layer  entry       value", "---------  -----  ----------  -----"]
        names = self.param_names()
        entries = []
        for i, layer in enumerate(self.layers, start=1):
            entries += [f"W({i})[{r + 1},{c + 1}]" for r in range(layer.n_out) for c in range(layer.n_in)]
        for i, layer in enumerate(self.layers, start=1):
            entries += [f"b({i})[{r + 1}]" for r in range(layer.n_out)]
        shown = range(len(names)) if len(names) <= 40 else [*range(20), None, *range(len(names) - 10,
                                                                                     len(names))]
        for k in shown:
            if k is None:
                lines.append(f"{'…':<9}  ({len(names) - 30} more)")
                continue
            layer_no = entries[k][2:entries[k].index(")")]
            lines.append(f"{names[k]:<9}  {layer_no:<5}  {entries[k]:<10}  {float(self.params[k]):.6g}")
        text = "\n".join(lines)
        if print is None:
            return text
        print(text)
        return None

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(layer) for layer in self.layers)
        return (f"Network([\n  {inner}\n], dtype={self.dtype.name})  "
                f"# {'-'.join(map(str, self.sizes))}, {self.n_params} parameters")


@dataclass
class LayerTrace:
    """One layer's values for one example: input x, z = W x + b, h = σ(z) and, after a
    backward pass, δ = ∂loss/∂z, ∂loss/∂W = δ xᵀ and ∂loss/∂b = δ (else None)."""

    layer: int
    activation: str
    x: np.ndarray
    z: np.ndarray
    h: np.ndarray
    delta: np.ndarray | None = None
    dW: np.ndarray | None = None
    db: np.ndarray | None = None


@dataclass
class ParamTrace:
    """One parameter in a backward trace: lecture name (``"w5"``), layer (1-based),
    ``kind`` "W" or "b", 0-based ``index`` into that layer's W or b, value and ∂loss/∂p."""

    name: str
    layer: int
    kind: str
    index: tuple
    value: float
    grad: float


class Trace(list):
    """The list of ``LayerTrace`` of one example; ``str()`` gives aligned tables.

    After a backward trace (``net.trace(x, y)``) also ``loss`` (its value), ``loss_name``,
    ``fused`` (True when the output δ = p − y came fused from the loss) and ``params``,
    a list of ``ParamTrace`` in ``param_names()`` order; ``grads`` maps names to gradients.
    """

    def __init__(self, steps=(), *, loss=None, loss_name=None, fused=False, params=None):
        super().__init__(steps)
        self.loss = loss
        self.loss_name = loss_name
        self.fused = fused
        self.params = list(params or [])

    @property
    def grads(self) -> dict:
        """∂loss/∂p by lecture name (empty for a forward-only trace)."""
        return {p.name: p.grad for p in self.params}

    @staticmethod
    def _fmt(v: np.ndarray) -> str:
        return "[" + ", ".join(f"{float(a):.4g}" for a in v) + "]"

    @staticmethod
    def _table(rows) -> list:
        widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return lines

    def __str__(self) -> str:
        last = len(self)
        backward = self.loss is not None
        rows = [("layer", "σ", "z = W x + b", "h = σ(z)") + (("δ = ∂loss/∂z",) if backward else ())]
        for step in self:
            out = "ŷ" if step.layer == last else f"h{step.layer}"
            rows.append((f"{step.layer} ({out})", step.activation, self._fmt(step.z),
                         self._fmt(step.h)) + ((self._fmt(step.delta),) if backward else ()))
        lines = self._table(rows)
        if backward:
            how = " (output δ = p − y, fused with the loss)" if self.fused else ""
            lines += ["", f"loss {self.loss_name} = {self.loss:.6g}{how}", ""]
            lines += self._table([("parameter", "layer", "value", "∂loss/∂p")] + [
                (p.name, str(p.layer), f"{p.value:.4g}", f"{p.grad:.4g}") for p in self.params])
        return "\n".join(lines)
