"""Model files: safetensors with a JSON header, written atomically, read strictly.

This module owns loading a network (``load``) and a training checkpoint
(``load_checkpoint``) and re-exports what writes them (``save``, from
``mlp._model_file``) and the safetensors codec (``read_safetensors``,
``write_safetensors``, ``atomic_write``, from ``mlp._safetensors``). It does not
own training (``mlp.training``) or data files (``mlp.data``).

The format is plain `safetensors <https://github.com/huggingface/safetensors>`_,
written and read with NumPy alone (the ``safetensors`` package reads the files
too); what an mlp model file holds is described in ``mlp._model_file``.

Safety. Loading never runs code (no pickle anywhere) and trusts nothing: the
header length, the JSON, every dtype, shape and offset are checked against the
file and against the architecture before any array is built, so a truncated,
foreign or hostile file raises one ``ValueError`` naming the problem — never a
crash, a hang or a huge allocation. Saving writes a temporary file in the
target's folder, flushes and fsyncs it, then renames it over the target
(``os.replace``), so a crash or a full disk leaves the previous file intact.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from . import activations as _activations
from ._model_file import FORMAT_VERSION, n_classes_expected, repeated_labels, save, scaler_arrays
from ._safetensors import (
    MAX_HEADER_BYTES,
    atomic_write,
    is_int,
    parse_json,
    read_safetensors,
    write_safetensors,
)
from ._safetensors import (
    bad_file as _bad,
)
from ._state_codec import decode_state
from ._validation import check_number
from .data import StandardScaler
from .history import History, TrainState
from .layers import Dense
from .network import Network
from .training.options import OPTIONS

__all__ = [
    "FORMAT_VERSION", "MAX_HEADER_BYTES", "atomic_write", "load", "load_checkpoint",
    "read_metadata", "read_safetensors", "save", "write_safetensors",
]

_MAX_LAYERS = 10_000
_MAX_EPOCHS = 100_000_000


def read_metadata(path) -> dict:
    """Validate a model file completely and return its metadata, JSON decoded.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    dict
        Keys ``format_version`` (int), ``mlp_version``, ``architecture``, and when
        present ``classes``, ``scaler``, ``history``, ``metadata``, ``train_state``
        (as stored: a checkpoint's training state is JSON with tensor references),
        plus ``n_params`` and ``tensors`` (name → shape).

    Raises
    ------
    ValueError
        If the file is not a valid mlp model file.
    """
    tensors, meta = read_safetensors(path)
    _build(tensors, meta, path)      # full validation
    out = _decode_meta(meta, path)
    out["tensors"] = {name: list(arr.shape) for name, arr in tensors.items()}
    out["n_params"] = sum(arr.size for name, arr in tensors.items() if name.startswith("layers."))
    return out


def _decode_meta(meta: dict, path) -> dict:
    if meta.get("format") != "mlp":
        raise _bad(path, "a safetensors file without mlp metadata (no format 'mlp'); "
                         "it was not written by mlp.save")
    version = meta.get("format_version", "")
    if not (version.isascii() and version.isdigit()) or len(version) > 6:
        raise _bad(path, f"format_version {version[:20]!r} is not a number")
    if int(version) > FORMAT_VERSION:
        raise _bad(path, f"written in format version {version} by mlp {meta.get('mlp_version', '?')}; "
                         f"this mlp reads up to version {FORMAT_VERSION}: upgrade mlp")
    out: dict = {"format_version": int(version), "mlp_version": meta.get("mlp_version")}
    for key in ("architecture", "classes", "scaler", "history", "metadata", "train_state"):
        if key in meta:
            out[key] = parse_json(meta[key], path, f"metadata {key!r}")
    if "architecture" not in out:
        raise _bad(path, "no architecture in its metadata")
    unknown = set(meta) - {"format", "format_version", "mlp_version", "architecture", "classes",
                           "scaler", "history", "metadata", "train_state"}
    if unknown:
        raise _bad(path, f"unknown metadata keys {sorted(unknown)[:5]} (a newer mlp?)")
    return out


def _parse_layers(arch, path) -> tuple[np.dtype, list]:
    if not isinstance(arch, dict) or not isinstance(arch.get("layers"), list):
        raise _bad(path, "architecture must be an object with a list of layers")
    dtype_name = arch.get("dtype")
    if dtype_name not in ("float32", "float64"):
        raise _bad(path, f"architecture dtype must be float32 or float64, got {str(dtype_name)[:20]!r}")
    layers = arch["layers"]
    if not 1 <= len(layers) <= _MAX_LAYERS:
        raise _bad(path, f"architecture must have 1 to {_MAX_LAYERS} layers, got {len(layers)}")
    specs = []
    for i, spec in enumerate(layers):
        if not isinstance(spec, dict):
            raise _bad(path, f"layer {i}: not an object")
        n_in, n_out, act = spec.get("n_in"), spec.get("n_out"), spec.get("activation")
        if not (is_int(n_in) and is_int(n_out) and n_in >= 1 and n_out >= 1):
            raise _bad(path, f"layer {i}: n_in and n_out must be positive integers")
        if i and n_in != specs[-1][1]:
            raise _bad(path, f"layer {i} takes {n_in} inputs but layer {i - 1} has {specs[-1][1]} outputs")
        if not isinstance(act, dict) or not isinstance(act.get("name"), str):
            raise _bad(path, f"layer {i}: activation must be an object with a name")
        if act["name"] not in _activations.ACTIVATIONS:
            raise _bad(path, f"layer {i}: unknown activation {act['name'][:40]!r}; known: "
                             f"{', '.join(_activations.names())}")
        params = act.get("params", {})
        if not isinstance(params, dict) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                for v in params.values()):
            raise _bad(path, f"layer {i}: activation params must be finite numbers")
        try:
            activation = _activations.ACTIVATIONS[act["name"]](**params)
        except (TypeError, ValueError) as exc:
            raise _bad(path, f"layer {i}: activation {act['name']!r}: {exc}") from None
        specs.append((n_in, n_out, activation))
    return np.dtype(dtype_name), specs


def _build(tensors: dict, meta: dict, path) -> Network:
    info = _decode_meta(meta, path)
    dtype, specs = _parse_layers(info["architecture"], path)
    expected = {}
    for i, (n_in, n_out, _) in enumerate(specs):
        expected[f"layers.{i}.weight"] = (n_out, n_in)
        expected[f"layers.{i}.bias"] = (n_out,)
    for name, shape in expected.items():
        if name not in tensors:
            raise _bad(path, f"tensor {name!r} is missing")
        arr = tensors[name]
        if arr.shape != shape:
            raise _bad(path, f"tensor {name!r} has shape {list(arr.shape)} but the architecture "
                             f"needs {list(shape)}")
        if arr.dtype != dtype:
            raise _bad(path, f"tensor {name!r} is {arr.dtype} but the architecture says {dtype}")
        if not np.all(np.isfinite(arr)):
            raise _bad(path, f"tensor {name!r} contains NaN or infinite values")
    has_scaler = "scaler" in info
    for name in tensors:
        if name in expected or name.startswith("train_state."):
            continue
        if "history" in info and name.startswith("history."):
            continue
        if has_scaler and name in ("scaler.mean", "scaler.scale"):
            continue
        raise _bad(path, f"unexpected tensor {name[:60]!r}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")       # e.g. the identity-hidden-layers warning
        layers = [Dense(n_in, n_out, act, init="zeros", dtype=dtype) for n_in, n_out, act in specs]
        net = Network(layers, dtype=dtype)
    for i, layer in enumerate(net.layers):
        layer.W = tensors[f"layers.{i}.weight"]
        layer.b = tensors[f"layers.{i}.bias"]

    net.classes_ = None
    if "classes" in info:
        classes = info["classes"]
        if not isinstance(classes, list) or not all(
                isinstance(c, (str, int, float)) and not isinstance(c, bool) for c in classes):
            raise _bad(path, "classes must be a list of strings or numbers")
        if not all(math.isfinite(c) for c in classes if isinstance(c, float)):
            raise _bad(path, "classes must be finite numbers or strings")
        if len(classes) != n_classes_expected(net):
            raise _bad(path, f"{len(classes)} class labels for a network with {net.n_out} output(s)")
        repeated = repeated_labels(classes)
        if repeated:
            raise _bad(path, f"class labels must be distinct; repeated: {repeated}")
        net.classes_ = classes
    net.scaler = None
    if has_scaler:
        if not isinstance(info["scaler"], dict) or info["scaler"].get("kind") != "standard":
            raise _bad(path, "unknown kind of input scaler")
        try:
            mean, scale = scaler_arrays({"mean": tensors.get("scaler.mean"),
                                          "scale": tensors.get("scaler.scale")}, net.n_in)
        except (TypeError, ValueError) as exc:
            raise _bad(path, f"input scaler: {exc}") from None
        net.scaler = StandardScaler(mean, scale)
    metadata = info.get("metadata", {})
    if not isinstance(metadata, dict):
        raise _bad(path, "metadata must be a JSON object")
    net.metadata = metadata
    net.history = None
    if "history" in info:
        net.history = _history_from(info["history"], path, tensors)
    return net


def _history_lists(hist: dict, tensors: dict, path) -> dict:
    """The History dict with its ``{"__tensor__": "history.…"}`` references replaced by lists."""
    def resolve(value):
        if isinstance(value, dict) and set(value) == {"__constant__", "n"}:
            v, n = value["__constant__"], value["n"]
            if not (isinstance(v, (int, float)) and not isinstance(v, bool) and is_int(n)
                    and 0 <= n <= _MAX_EPOCHS):
                raise _bad(path, "history: a malformed run of equal values")
            return [v] * n
        if not (isinstance(value, dict) and set(value) == {"__tensor__"}):
            return value
        name = value["__tensor__"]
        arr = tensors.get(name) if isinstance(name, str) and name.startswith("history.") else None
        if arr is None or arr.ndim != 1 or arr.dtype.kind != "f":
            raise _bad(path, f"history refers to a missing or malformed tensor {str(name)[:60]!r}")
        return arr.tolist()

    out = {k: resolve(v) for k, v in hist.items()}
    if isinstance(out.get("metrics"), dict):
        out["metrics"] = {k: resolve(v) for k, v in out["metrics"].items()}
    return out


def _history_from(hist, path, tensors=None):
    if not isinstance(hist, dict):
        raise _bad(path, "history must be a JSON object")
    hist = _history_lists(hist, tensors or {}, path)
    try:
        return History.from_dict(hist)
    except (TypeError, ValueError, KeyError, AttributeError, ArithmeticError) as exc:
        raise _bad(path, f"history: {_one_line(exc)}") from None


def load(path) -> Network:
    """Load a network saved by :func:`save`.

    The file is validated completely before anything is built (see the module
    docstring); loading never runs code.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    Network
        With attributes ``classes_`` (list or None), ``scaler``
        (``mlp.data.StandardScaler`` or None), ``metadata`` (dict) and ``history``
        (History or None). A checkpoint's training state is not restored: use
        :func:`load_checkpoint` for that.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ValueError
        If the file is truncated, not safetensors, not an mlp model, or its
        header is inconsistent (shapes that disagree with the architecture,
        sizes beyond the file, ...).
    """
    tensors, meta = read_safetensors(path)
    return _build(tensors, meta, path)


def load_checkpoint(path) -> Network:
    """Load a checkpoint: the network plus its training state, ready to resume.

    ``net.fit(...)`` on the returned network continues exactly where the saved
    one stopped: same optimiser moments, same random generator, same History,
    so training 10 epochs equals training 5, saving, loading and training 5 more.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by ``save(net, path, train_state=net.train_state)``.

    Returns
    -------
    Network
        As :func:`load`, plus ``net.train_state`` (a ``mlp.training.TrainState``).

    Raises
    ------
    ValueError
        If the file is not a valid model file or holds no training state.
    """
    tensors, meta = read_safetensors(path)
    net = _build(tensors, meta, path)
    info = _decode_meta(meta, path)
    if "train_state" not in info:
        raise _bad(path, "it is a model without training state, not a checkpoint "
                         "(save with train_state=net.train_state)")
    state = decode_state(info["train_state"], tensors, path)
    _check_state(state, net, path)
    try:
        net.train_state = TrainState.from_state_dict(state, net)
        _check_hyperparameters(net.train_state, net.n_params)
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, ArithmeticError) as exc:
        raise _bad(path, f"training state: {_one_line(exc)}") from None
    if net.history is None:
        net.history = getattr(net.train_state, "history", None)
    return net


#: A checkpoint's counters and their bounds (epoch 1e300 was accepted, and a fit to epoch + 1 hung).
_COUNTERS = {"epoch": _MAX_EPOCHS, "step": 2**53, "care_wait": _MAX_EPOCHS, "redraws": _MAX_EPOCHS,
             "revived": 2**53, "schedule_start": _MAX_EPOCHS}

_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


def _check_hyperparameters(state, n_params: int) -> None:
    """The checks ``fit`` makes of these values, by the same code (no second copy): the
    counters (``_check_state``: whole numbers, bounded, as read), ``lr0``
    by the ``lr`` option's own check (``mlp.training.options.OPTIONS``), the optimiser's
    hyper-parameters by its own constructor (lr >= 0 and finite, betas a pair in [0, 1), …)."""
    check_number("schedule_start", state.schedule_start, integer=True, low=0, high=state.epoch,
                 expected=f"a whole number from 0 to the epoch, {state.epoch}")
    if state.lr0 is not None:
        try:
            OPTIONS["lr"].check(state.lr0, None)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"lr0 (the run's first learning rate): {_one_line(exc)}") from None
    opt = state.optimizer
    if opt is not None:
        try:
            type(opt)(**opt.hyperparams())
        except (TypeError, ValueError) as exc:
            raise ValueError(f"optimizer {opt.name}: {_one_line(exc)}") from None
        for name in opt._buffers:        # e.g. m: true in the JSON became a 1-element array
            buffer = getattr(opt, name)
            if buffer is not None and (buffer.shape != (n_params,) or buffer.dtype.kind != "f"):
                raise ValueError(f"optimizer {opt.name}: {name} must be {n_params} floats (one per "
                                 f"parameter), got shape {list(buffer.shape)} of {buffer.dtype}")


def _one_line(exc) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _plain_value(v) -> bool:
    if v is None or isinstance(v, (bool, int, float, str, np.generic)):
        return True
    return isinstance(v, (list, tuple)) and all(_plain_value(x) for x in v)


def _has_text(v) -> bool:
    return isinstance(v, str) or (isinstance(v, (list, tuple)) and any(_has_text(x) for x in v))


def _check_state(state, net, path) -> None:
    """What a checkpoint's training state may hold before anything is built from it: a known
    random generator, optimiser buffers shaped like the parameters, plain hyper-parameters."""
    if not isinstance(state, dict):
        raise _bad(path, "training state must be an object")
    optimizer = state.get("optimizer") if isinstance(state.get("optimizer"), dict) else {}
    counters = [(key, state.get(key), most) for key, most in _COUNTERS.items()]
    for key, value, most in [*counters, ("optimizer t", optimizer.get("t"), 2**53)]:
        if value is not None:     # as read (TrainState turns 1e300 into an int): bounded
            try:
                check_number(key, value, integer=True, low=0, high=most,
                             expected=f"a whole number from 0 to {most:,}")
            except ValueError as exc:
                raise _bad(path, f"training state: {exc}") from None
    rng = state.get("rng")
    if rng is not None and (not isinstance(rng, dict) or rng.get("bit_generator") not in _BIT_GENERATORS):
        raise _bad(path, f"training state: the random generator must be one of {', '.join(_BIT_GENERATORS)}")
    for part in ("optimizer", "schedule", "loss"):
        entry = state.get(part)
        if entry is None:
            continue
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise _bad(path, f"training state: {part} must be an object with a name")
        for key, value in entry.items():
            if isinstance(value, np.ndarray):
                if value.shape != (net.n_params,) or value.dtype.kind != "f":
                    raise _bad(path, f"training state: {part} {key} has shape {list(value.shape)} and "
                                     f"dtype {value.dtype}, expected ({net.n_params},) floats")
            elif not _plain_value(value) or (part == "optimizer" and key != "name" and _has_text(value)):
                raise _bad(path, f"training state: {part} {key} is not a plain "
                                 f"{'number' if part == 'optimizer' else 'value'}")
    for key in ("best_params", "resume_params", "restored_params"):
        value = state.get(key)
        if value is not None and (not isinstance(value, np.ndarray) or value.shape != (net.n_params,)):
            raise _bad(path, f"training state: {key} must have shape ({net.n_params},)")
    es = state.get("early_stopping")
    if es is not None:
        if not isinstance(es, dict) or set(es) - {"best", "best_epoch", "wait", "stopped_epoch",
                                                  "best_params"}:
            raise _bad(path, "training state: early_stopping must be an object with best, best_epoch, "
                             "wait, stopped_epoch and best_params")
        best = es.get("best_params")
        if best is not None and (not isinstance(best, np.ndarray) or best.shape != (net.n_params,)
                                 or best.dtype.kind != "f"):
            raise _bad(path, f"training state: early_stopping best_params must be ({net.n_params},) floats")
        value = es.get("best")
        if value is not None and (isinstance(value, (bool, np.bool_))
                                  or not isinstance(value, (int, float, np.integer, np.floating))):
            raise _bad(path, "training state: early_stopping best must be a number")
        for key, least in (("best_epoch", 1), ("wait", 0), ("stopped_epoch", 1)):   # counts, as fit keeps
            value = es.get(key)
            if value is not None and (isinstance(value, (bool, np.bool_))
                                      or not isinstance(value, (int, np.integer)) or value < least):
                raise _bad(path, f"training state: early_stopping {key} must be a whole number >= {least}")
