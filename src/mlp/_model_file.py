"""Writing an mlp model file: the format on top of safetensors (layer 3: never imports Network).

This module owns what an mlp model file holds and how a network is written to
it; reading it back is ``mlp.io`` (``load``, ``load_checkpoint``), which builds
a ``Network``. ``save`` only reads a network's attributes (``layers``,
``params``, ``classes_``, ``scaler``, …), so it sits below ``mlp.network`` and
``mlp.callbacks.Checkpoint`` can use it.

Tensors of an mlp model file:

* ``layers.{i}.weight`` — W of layer i (0-based), shape (n_out, n_in);
  ``layers.{i}.bias`` — b, shape (n_out,); in the network's dtype;
* ``scaler.mean``, ``scaler.scale`` — input standardisation x′ = (x − mean) / scale,
  float64, shape (n_in,), when the model has one;
* ``train_state.…`` — the arrays of a checkpoint's training state (optimiser
  moments, …), encoded by ``mlp._state_codec``.

``__metadata__`` holds JSON strings: ``format`` ("mlp"), ``format_version``,
``mlp_version``, ``architecture`` (dtype and, per layer, n_in, n_out and the
activation), and when present ``classes``, ``scaler``, ``history``,
``metadata`` (free-form, e.g. what the CLI trained on) and ``train_state``.
"""

from __future__ import annotations

import json

import numpy as np

from . import activations as _activations
from ._safetensors import check_path, write_safetensors
from ._state_codec import encode_state
from ._targets import class_key
from ._validation import check_network
from ._version import __version__

__all__ = ["FORMAT_VERSION", "compact_history", "n_classes_expected", "repeated_labels", "save",
           "scaler_arrays"]

FORMAT_VERSION = 2
"""Version of the mlp metadata layout; files from a newer layout are refused. 2: a long
History's per-epoch lists are tensors ``history.*`` (written only when there are such)."""

HISTORY_TENSORS_VERSION = 2
COMPACT_MIN = 16
"""History lists at least this long are stored as tensors (8 bytes a value, not ~20 of JSON)."""

_HISTORY_LISTS = ("epochs", "loss", "val_loss", "lr", "seconds")


def _numbers(values) -> bool:
    return isinstance(values, list) and all(
        v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in values)


def _as_array(values):
    """A per-epoch list of numbers (None: NaN) as a float64 array; anything else unchanged."""
    if isinstance(values, dict):
        return {k: _as_array(v) for k, v in values.items()}
    if _numbers(values) and len(values) >= COMPACT_MIN:
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    return values


def compact_history(hist: dict, prefix: str):
    """``History.to_dict()`` with its long lists of numbers moved to tensors: (JSON dict with
    ``{"__tensor__": name}`` in their place, or ``{"__constant__": v, "n": n}`` for n equal
    values, {name: array}). Epochs 1, 2, …, E are left out (``History.from_dict`` counts them
    again)."""
    out, tensors = dict(hist), {}
    epochs = out.get("epochs")
    if _numbers(epochs) and epochs == list(range(1, len(epochs) + 1)) and len(epochs) >= COMPACT_MIN:
        del out["epochs"]

    def move(values, name):
        if not (_numbers(values) and len(values) >= COMPACT_MIN):
            return values
        if values[0] is not None and values.count(values[0]) == len(values):     # e.g. a constant lr
            return {"__constant__": values[0], "n": len(values)}
        tensors[name] = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        return {"__tensor__": name}

    for key in _HISTORY_LISTS:
        if key in out:
            out[key] = move(out[key], f"{prefix}.{key}")
    if isinstance(out.get("metrics"), dict):
        out["metrics"] = {k: move(v, f"{prefix}.metrics.{k}") for k, v in out["metrics"].items()}
    return out, tensors


def _activation_spec(activation) -> dict:
    name = activation.name
    if name not in _activations.ACTIVATIONS:
        raise ValueError(f"activation {name!r} is not a registered activation and cannot be saved")
    params = dict(vars(activation))
    for key, value in params.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"activation {name!r} has a parameter {key}={value!r} that is not a "
                             "number and cannot be saved")
    spec = {"name": name}
    if params:
        spec["params"] = {k: float(v) for k, v in params.items()}
    return spec


def _jsonable(value, what: str) -> str:
    try:
        return json.dumps(value, ensure_ascii=True, allow_nan=False, default=_json_default)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what} must be JSON-serialisable (numbers, strings, lists, dicts): {exc}") \
            from None


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON-serialisable")


def _history_dict(history):
    if history is None:
        return None
    if hasattr(history, "to_dict"):
        return history.to_dict()
    if isinstance(history, dict):
        return history
    raise TypeError(f"history must be a History or a dict, got {type(history).__name__}")


def repeated_labels(classes) -> str:
    """The labels that occur more than once in ``classes``, as text ("" if none); ``1``, ``1.0``
    and ``"1"`` are one label (a CSV cannot tell them apart: ``mlp.data.class_key``)."""
    keys = [class_key(c) for c in classes]
    return ", ".join(sorted({repr(c) for c, k in zip(classes, keys) if keys.count(k) > 1}))


def n_classes_expected(net) -> int:
    return 2 if net.n_out == 1 else net.n_out


def save(net, path, *, history=None, classes=None, scaler=None, metadata=None,
         train_state=None) -> None:
    """Save a network to a safetensors file, atomically.

    Parameters
    ----------
    net : Network
    path : str or os.PathLike
        The file to write (conventionally ``*.safetensors``); its folder must exist.
        An existing file is replaced only once the new one is completely on disk.
    history : History or dict, optional
        Training history; default ``net.history`` or ``net.train_state.history``.
    classes : sequence of str, int or float, optional
        Class labels, one per output (two for a single sigmoid/threshold output);
        default ``net.classes_``.
    scaler : StandardScaler, optional
        Input standardisation x′ = (x − mean) / scale (``mlp.data.StandardScaler``);
        default ``net.scaler``.
    metadata : dict, optional
        Free-form JSON-serialisable information; default ``net.metadata``.
    train_state : TrainState, optional
        The optimiser, random generator and bookkeeping of ``net.fit``
        (``net.train_state``): makes the file a checkpoint that
        :func:`load_checkpoint` resumes exactly.

    Raises
    ------
    TypeError, ValueError
        If an argument cannot be stored (the message names it).
    OSError
        If the file cannot be written; an earlier file at ``path`` is left intact.

    Examples
    --------
    >>> import os, tempfile
    >>> import mlp
    >>> net = mlp.Network.from_sizes([2, 3, 1], seed=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "net.safetensors")
    >>> mlp.save(net, path, metadata={"note": "untrained"})
    >>> again = mlp.load(path)
    >>> bool((again.params == net.params).all()), again.metadata
    (True, {'note': 'untrained'})
    """
    check_network(net, "save()")
    check_path(path)
    if not np.isfinite(net.params).all():       # load refuses such a file: never replace a good one
        raise ValueError("the network's parameters contain NaN or infinite values; mlp.load would "
                         "refuse the file, so nothing was written")
    if history is None:
        history = getattr(net, "history", None)
    if history is None:
        history = getattr(train_state or getattr(net, "train_state", None), "history", None)
    classes = getattr(net, "classes_", None) if classes is None else classes
    scaler = getattr(net, "scaler", None) if scaler is None else scaler
    metadata = getattr(net, "metadata", None) if metadata is None else metadata

    tensors: dict[str, np.ndarray] = {}
    layers = []
    for i, layer in enumerate(net.layers):
        tensors[f"layers.{i}.weight"] = np.array(layer.W)
        tensors[f"layers.{i}.bias"] = np.array(layer.b)
        layers.append({"n_in": layer.n_in, "n_out": layer.n_out,
                       "activation": _activation_spec(layer.activation)})
    meta = {
        "format": "mlp",
        "format_version": "1",          # 2 only when the file holds history tensors
        "mlp_version": __version__,
        "architecture": json.dumps({"dtype": net.dtype.name, "layers": layers}),
    }
    if classes is not None:
        classes = [c.item() if isinstance(c, np.generic) else c for c in list(classes)]
        if not all(isinstance(c, (str, int, float)) for c in classes):
            raise TypeError("classes must be strings or numbers")
        if len(classes) != n_classes_expected(net):
            raise ValueError(f"classes has {len(classes)} labels but the network's {net.n_out} "
                             f"output(s) need {n_classes_expected(net)}")
        repeated = repeated_labels(classes)
        if repeated:
            raise ValueError(f"classes must be distinct; repeated: {repeated}")
        meta["classes"] = _jsonable(classes, "classes")
    if scaler is not None:
        mean, scale = scaler_arrays(scaler, net.n_in)
        tensors["scaler.mean"], tensors["scaler.scale"] = mean, scale
        meta["scaler"] = json.dumps({"kind": "standard"})
    hist = _history_dict(history)
    if hist is not None:
        hist, hist_tensors = compact_history(hist, "history")
        if hist_tensors:
            tensors.update(hist_tensors)
            meta["format_version"] = str(HISTORY_TENSORS_VERSION)
        meta["history"] = _jsonable(hist, "history")
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise TypeError(f"metadata must be a dict, got {type(metadata).__name__}")
        meta["metadata"] = _jsonable(metadata, "metadata")
    if train_state is not None:
        if not hasattr(train_state, "state_dict"):
            raise TypeError(f"train_state must be a TrainState, got {type(train_state).__name__}")
        state_tensors: dict[str, np.ndarray] = {}
        state = train_state.state_dict()
        if isinstance(state.get("history"), dict):       # the per-epoch lists as float64 arrays
            state["history"] = {k: _as_array(v) for k, v in state["history"].items()}
        encoded = encode_state(state, "train_state", state_tensors)
        tensors.update(state_tensors)
        meta["train_state"] = json.dumps(encoded, ensure_ascii=True, allow_nan=False)
    write_safetensors(path, tensors, meta)


def scaler_arrays(scaler, n_in: int):
    if isinstance(scaler, dict):
        mean, scale = scaler.get("mean"), scaler.get("scale")
    else:
        mean, scale = getattr(scaler, "mean", None), getattr(scaler, "scale", None)
    if mean is None or scale is None:
        raise TypeError("scaler must have arrays mean and scale (mlp.data.StandardScaler)")
    mean = np.asarray(mean, dtype=np.float64).reshape(-1)
    scale = np.asarray(scale, dtype=np.float64).reshape(-1)
    if mean.shape != (n_in,) or scale.shape != (n_in,):
        raise ValueError(f"scaler has {mean.size} features but the network takes {n_in} inputs")
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(scale)) and np.all(scale > 0)):
        raise ValueError("scaler mean must be finite and scale finite and positive")
    return mean, scale
