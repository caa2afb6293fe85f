"""Model files: safetensors with a JSON header, written atomically, read strictly.

This module owns the on-disk format of a network and of a training checkpoint.
It does not own training (``mlp.training``) or data files (``mlp.data``).

The format is plain `safetensors <https://github.com/huggingface/safetensors>`_,
written and read here with NumPy alone (the ``safetensors`` package reads the
files too)::

    8 bytes      N, the header length, unsigned little-endian
    N bytes      JSON: {name: {"dtype": "F32", "shape": [n_out, n_in],
                               "data_offsets": [begin, end]}, …,
                        "__metadata__": {str: str}}   (padded with spaces)
    the rest     the tensors' raw little-endian bytes, back to back

Tensors of an mlp model file:

* ``layers.{i}.weight`` — W of layer i (0-based), shape (n_out, n_in);
  ``layers.{i}.bias`` — b, shape (n_out,); in the network's dtype;
* ``scaler.mean``, ``scaler.scale`` — input standardisation x′ = (x − mean) / scale,
  float64, shape (n_in,), when the model has one;
* ``train_state.…`` — the arrays of a checkpoint's training state (optimiser
  moments, …).

``__metadata__`` holds JSON strings: ``format`` ("mlp"), ``format_version``,
``mlp_version``, ``architecture`` (dtype and, per layer, n_in, n_out and the
activation), and when present ``classes``, ``scaler``, ``history``,
``metadata`` (free-form, e.g. what the CLI trained on) and ``train_state``.

Safety. Loading never runs code (no pickle anywhere) and trusts nothing: the
header length, the JSON, every dtype, shape and offset are checked against the
file and against the architecture before any array is built, so a truncated,
foreign or hostile file raises one ``ValueError`` naming the problem — never a
crash, a hang or a huge allocation. Saving writes a temporary file in the
target's folder, flushes and fsyncs it, then renames it over the target
(``os.replace``), so a crash or a full disk leaves the previous file intact.
"""

from __future__ import annotations

import json
import math
import os
import stat
import tempfile
import warnings
from pathlib import Path

import numpy as np

from . import activations as _activations
from ._validation import check_network
from .layers import Dense
from .network import Network

__all__ = [
    "FORMAT_VERSION", "MAX_HEADER_BYTES", "atomic_write", "load", "load_checkpoint",
    "read_metadata", "read_safetensors", "save", "write_safetensors",
]

FORMAT_VERSION = 1
"""Version of the mlp metadata layout; files from a newer layout are refused."""

MAX_HEADER_BYTES = 100 * 2**20
"""Largest JSON header accepted (the ``safetensors`` package's own limit)."""

_MAX_RANK = 16
_MAX_LAYERS = 10_000

# safetensors dtype names ↔ little-endian NumPy dtypes.
_DTYPES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"), "U32": np.dtype("<u4"), "U16": np.dtype("<u2"), "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
_NAMES_OF = {dt.newbyteorder("="): name for name, dt in _DTYPES.items()}


# --------------------------------------------------------------------------- atomic writes


def _check_path(path) -> None:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")


def atomic_write(path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that ``path`` is never seen half-written.

    The bytes go to a temporary file in the same folder, which is flushed,
    fsynced and then renamed over ``path`` (``os.replace``, atomic on POSIX and
    Windows). If anything fails — no permission, a full disk, a crash — the
    temporary file is removed and an earlier ``path`` is left exactly as it was.
    A symbolic link is followed: the file it points to is replaced, the link kept.

    Parameters
    ----------
    path : str or os.PathLike
        Destination file; its folder must exist.
    data : bytes
        The complete new content.

    Raises
    ------
    OSError
        If the folder cannot be written (the message names the file).
    """
    path = Path(path)
    if path.is_symlink():
        # replace the file the link points to, as an ordinary write does, not the link itself
        path = Path(os.path.realpath(path))
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise IsADirectoryError(21, "is a folder, not a file", str(path))
    if not folder.is_dir():
        raise FileNotFoundError(2, "the folder does not exist" if not folder.exists()
                                else "the parent is not a folder", str(folder))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise _named(exc, path) from exc
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if path.exists():   # keep the permissions of the file being replaced
            try:
                os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))
            except OSError:
                pass
        else:               # mkstemp creates 0600; a new file gets the usual umask-based mode
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise _named(exc, path) from exc
        raise
    _fsync_folder(folder)


def _named(exc: OSError, path: Path) -> OSError:
    """The same kind of error, naming the file being saved rather than a temporary one."""
    try:
        return type(exc)(exc.errno, exc.strerror or str(exc), str(path))
    except TypeError:
        return OSError(exc.errno, exc.strerror or str(exc), str(path))


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- raw safetensors


def write_safetensors(path, tensors: dict, metadata: dict | None = None) -> None:
    """Write NumPy arrays and string metadata as a safetensors file, atomically.

    Parameters
    ----------
    path : str or os.PathLike
    tensors : dict of str → ndarray
        Any shape (0-d too); dtypes float16/32/64, (u)int8–64 or bool.
    metadata : dict of str → str, optional
        Stored under ``__metadata__``.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "t.safetensors")
    >>> write_safetensors(path, {"w": np.arange(6.0).reshape(2, 3)}, {"note": "hi"})
    >>> tensors, meta = read_safetensors(path)
    >>> tensors["w"].shape, meta
    ((2, 3), {'note': 'hi'})
    """
    atomic_write(path, _encode_safetensors(tensors, metadata))


def _encode_safetensors(tensors: dict, metadata: dict | None) -> bytes:
    header: dict = {}
    if metadata:
        for key, value in metadata.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise TypeError("safetensors metadata must map str to str, got "
                                f"{type(key).__name__} → {type(value).__name__}")
        header["__metadata__"] = dict(metadata)
    # Widest dtypes first so that every tensor stays aligned to its item size.
    arrays = []
    for name, value in tensors.items():
        if not isinstance(name, str) or name == "__metadata__":
            raise ValueError(f"invalid tensor name {name!r}")
        arr = np.asarray(value)
        key = arr.dtype.newbyteorder("=") if arr.dtype.byteorder not in "|" else arr.dtype
        if key not in _NAMES_OF:
            raise TypeError(f"tensor {name!r} has dtype {arr.dtype}, which safetensors cannot store "
                            f"here (use one of: {', '.join(sorted(_DTYPES))})")
        dt_name = _NAMES_OF[key]
        arrays.append((-_DTYPES[dt_name].itemsize, name, dt_name,
                       np.array(arr, dtype=_DTYPES[dt_name], order="C")))   # keeps 0-d arrays 0-d
    arrays.sort(key=lambda t: (t[0], t[1]))
    offset, chunks = 0, []
    for _, name, dt_name, arr in arrays:
        raw = arr.tobytes()
        header[name] = {"dtype": dt_name, "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode()
    text += b" " * (-len(text) % 8)     # pad so that the data starts 8-byte aligned
    return len(text).to_bytes(8, "little") + text + b"".join(chunks)


def _bad(path, problem: str) -> ValueError:
    return ValueError(f"{os.fspath(path)}: not a valid model file: {problem}")


def _no_duplicates(pairs):
    out = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def _parse_json(text, path, what: str):
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except RecursionError:
        raise _bad(path, f"{what} is nested too deeply") from None
    except (ValueError, TypeError) as exc:     # JSONDecodeError is a ValueError
        raise _bad(path, f"{what} is not valid JSON ({exc})") from None


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def read_safetensors(path) -> tuple[dict, dict]:
    """Read a safetensors file strictly, with NumPy alone.

    Everything is checked before it is trusted: the 8-byte header length
    against the file size, the header's JSON, every dtype, shape and offset
    (tensors must tile the data section exactly, as the format requires), so
    memory use never exceeds the size of the file.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    tensors : dict of str → ndarray
        Fresh, writable arrays in native byte order.
    metadata : dict of str → str
        The ``__metadata__`` entry (empty if absent).

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ValueError
        If the file is not a well-formed safetensors file (truncated, foreign,
        inconsistent header); the message says what is wrong.
    """
    _check_path(path)
    path = os.fspath(path)
    info = os.stat(path)        # FileNotFoundError names the path
    if stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(21, "is a folder, not a model file", path)
    if not stat.S_ISREG(info.st_mode):
        # Reading a FIFO or a device could block forever or never end.
        raise _bad(path, "not a regular file")
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size < 8:
            raise _bad(path, f"the file has only {size} bytes (empty or truncated; a safetensors "
                             "file starts with an 8-byte header length)")
        n = int.from_bytes(f.read(8), "little")
        if n > size - 8:
            raise _bad(path, f"the header claims {n} bytes but the file has only {size - 8} after "
                             "the length field (truncated, or not a safetensors file)")
        if n > MAX_HEADER_BYTES:
            raise _bad(path, f"the header claims {n} bytes, more than the limit of {MAX_HEADER_BYTES}")
        raw = f.read(n)
        if len(raw) != n:
            raise _bad(path, "the file changed size while being read")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _bad(path, "the header is not UTF-8 text (not a safetensors file)") from None
        if not text.lstrip().startswith("{"):
            raise _bad(path, "the header is not a JSON object (not a safetensors file)")
        header = _parse_json(text, path, "the header")
        if not isinstance(header, dict):
            raise _bad(path, "the header is not a JSON object")
        data_len = size - 8 - n
        layout = _check_layout(header, data_len, path)
        data = f.read(data_len)
        if len(data) != data_len:
            raise _bad(path, "the file changed size while being read")
    metadata = header.get("__metadata__") or {}
    tensors = {}
    for name, dt, shape, begin, _end in layout:
        count = math.prod(shape)
        arr = np.frombuffer(data, dtype=dt, count=count, offset=begin).reshape(shape)
        tensors[name] = arr.astype(dt.newbyteorder("="), copy=True)
    return tensors, metadata


def _check_layout(header: dict, data_len: int, path) -> list:
    """Validate every tensor entry; return (name, dtype, shape, begin, end) sorted by offset."""
    meta = header.get("__metadata__")
    if meta is not None:
        if not isinstance(meta, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
            raise _bad(path, "__metadata__ must map strings to strings")
    layout = []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise _bad(path, f"tensor {name!r}: an entry needs exactly dtype, shape and data_offsets")
        dt_name, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dt_name not in _DTYPES:
            raise _bad(path, f"tensor {name!r}: unsupported dtype {dt_name!r}")
        if (not isinstance(shape, list) or len(shape) > _MAX_RANK
                or not all(_is_int(d) and d >= 0 for d in shape)):
            raise _bad(path, f"tensor {name!r}: shape must be a list of at most {_MAX_RANK} "
                             f"non-negative integers, got {str(shape)[:80]}")
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(_is_int(o) and o >= 0 for o in offsets)):
            raise _bad(path, f"tensor {name!r}: data_offsets must be two non-negative integers")
        begin, end = offsets
        nbytes = math.prod(shape) * _DTYPES[dt_name].itemsize      # Python ints: no overflow
        if end < begin or end - begin != nbytes:
            raise _bad(path, f"tensor {name!r}: shape {shape} of {dt_name} needs {nbytes} bytes "
                             f"but its offsets span {end - begin}")
        if end > data_len:
            raise _bad(path, f"tensor {name!r} ends at byte {end} of the data but the file holds "
                             f"only {data_len} (truncated, or a hostile header)")
        layout.append((name, _DTYPES[dt_name], tuple(shape), begin, end))
    layout.sort(key=lambda t: (t[3], t[4]))
    at = 0
    for name, _, _, begin, end in layout:
        if begin != at:
            raise _bad(path, f"tensor {name!r} starts at byte {begin}, expected {at} "
                             "(tensors overlap or leave gaps)")
        at = end
    if at != data_len:
        raise _bad(path, f"the tensors cover {at} bytes but the data section has {data_len} "
                         "(truncated, or trailing bytes)")
    return layout


# --------------------------------------------------------------------------- the model format


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


def _repeated(classes) -> str:
    """The labels that occur more than once in ``classes``, as text ("" if none)."""
    return ", ".join(sorted({repr(c) for c in classes if classes.count(c) > 1}))


def _n_classes_expected(net) -> int:
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
    from . import __version__

    check_network(net, "save()")
    _check_path(path)
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
        "format_version": str(FORMAT_VERSION),
        "mlp_version": __version__,
        "architecture": json.dumps({"dtype": net.dtype.name, "layers": layers}),
    }
    if classes is not None:
        classes = [c.item() if isinstance(c, np.generic) else c for c in list(classes)]
        if not all(isinstance(c, (str, int, float)) for c in classes):
            raise TypeError("classes must be strings or numbers")
        if len(classes) != _n_classes_expected(net):
            raise ValueError(f"classes has {len(classes)} labels but the network's {net.n_out} "
                             f"output(s) need {_n_classes_expected(net)}")
        repeated = _repeated(classes)
        if repeated:
            raise ValueError(f"classes must be distinct; repeated: {repeated}")
        meta["classes"] = _jsonable(classes, "classes")
    if scaler is not None:
        mean, scale = _scaler_arrays(scaler, net.n_in)
        tensors["scaler.mean"], tensors["scaler.scale"] = mean, scale
        meta["scaler"] = json.dumps({"kind": "standard"})
    hist = _history_dict(history)
    if hist is not None:
        meta["history"] = _jsonable(hist, "history")
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise TypeError(f"metadata must be a dict, got {type(metadata).__name__}")
        meta["metadata"] = _jsonable(metadata, "metadata")
    if train_state is not None:
        if not hasattr(train_state, "state_dict"):
            raise TypeError(f"train_state must be a TrainState, got {type(train_state).__name__}")
        state_tensors: dict[str, np.ndarray] = {}
        encoded = _encode_state(train_state.state_dict(), "train_state", state_tensors)
        tensors.update(state_tensors)
        meta["train_state"] = json.dumps(encoded, ensure_ascii=True, allow_nan=False)
    write_safetensors(path, tensors, meta)


def _scaler_arrays(scaler, n_in: int):
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
    if not version.isdigit() or len(version) > 6:
        raise _bad(path, f"format_version {version[:20]!r} is not a number")
    if int(version) > FORMAT_VERSION:
        raise _bad(path, f"written in format version {version} by mlp {meta.get('mlp_version', '?')}; "
                         f"this mlp reads up to version {FORMAT_VERSION}: upgrade mlp")
    out: dict = {"format_version": int(version), "mlp_version": meta.get("mlp_version")}
    for key in ("architecture", "classes", "scaler", "history", "metadata", "train_state"):
        if key in meta:
            out[key] = _parse_json(meta[key], path, f"metadata {key!r}")
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
        if not (_is_int(n_in) and _is_int(n_out) and n_in >= 1 and n_out >= 1):
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
                isinstance(c, (str, int, float)) for c in classes):
            raise _bad(path, "classes must be a list of strings or numbers")
        if len(classes) != _n_classes_expected(net):
            raise _bad(path, f"{len(classes)} class labels for a network with {net.n_out} output(s)")
        repeated = _repeated(classes)
        if repeated:
            raise _bad(path, f"class labels must be distinct; repeated: {repeated}")
        net.classes_ = classes
    net.scaler = None
    if has_scaler:
        from .data import StandardScaler

        if not isinstance(info["scaler"], dict) or info["scaler"].get("kind") != "standard":
            raise _bad(path, "unknown kind of input scaler")
        try:
            mean, scale = _scaler_arrays({"mean": tensors.get("scaler.mean"),
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
        net.history = _history_from(info["history"], path)
    return net


def _history_from(hist, path):
    if not isinstance(hist, dict):
        raise _bad(path, "history must be a JSON object")
    try:
        from .training import History
    except ImportError:
        return hist
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
    state = _decode_state(info["train_state"], tensors, path)
    _check_state(state, net, path)
    from .training import TrainState

    try:
        net.train_state = TrainState.from_state_dict(state, net) \
            if hasattr(TrainState, "from_state_dict") else _load_into_new(TrainState, state)
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, ArithmeticError) as exc:
        raise _bad(path, f"training state: {_one_line(exc)}") from None
    if net.history is None:
        net.history = getattr(net.train_state, "history", None)
    return net


_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


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


def _load_into_new(cls, state):
    obj = cls()
    obj.load_state_dict(state)
    return obj


# --------------------------------------------------------------------------- training state ↔ JSON + tensors
# A state dict is a tree of plain scalars, strings, lists, tuples, dicts and NumPy
# arrays. Arrays become tensors; the rest becomes JSON with a few tags so that
# the tree comes back with the same types (tuples, NumPy scalars, non-string
# keys, non-finite floats) — bit-identical resumption depends on it.

_TAGS = ("__tensor__", "__numpy__", "__tuple__", "__items__", "__float__")
_SCALAR_KINDS = "biuf"


def _encode_state(obj, where: str, tensors: dict):
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else {"__float__": repr(obj)}
    if isinstance(obj, np.ndarray):
        name, k = where, 1
        while name in tensors:
            k += 1
            name = f"{where}#{k}"
        tensors[name] = obj.copy()
        return {"__tensor__": name}
    if isinstance(obj, np.generic):
        if obj.dtype.kind not in _SCALAR_KINDS:
            raise TypeError(f"{where}: NumPy scalar of dtype {obj.dtype} cannot be saved")
        return {"__numpy__": obj.dtype.name, "value": _encode_state(obj.item(), where, tensors)}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode_state(v, f"{where}.{i}", tensors) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode_state(v, f"{where}.{i}", tensors) for i, v in enumerate(obj)]
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: _encode_state(v, f"{where}.{k}", tensors) for k, v in obj.items()}
        return {"__items__": [[_encode_state(k, f"{where}.key", tensors),
                               _encode_state(v, f"{where}.{k}", tensors)] for k, v in obj.items()]}
    raise TypeError(f"{where} is a {type(obj).__name__}: a training state can only hold numbers, "
                    "strings, lists, tuples, dicts and NumPy arrays")


def _decode_state(obj, tensors: dict, path, depth: int = 0):
    if depth > 100:
        raise _bad(path, "training state is nested too deeply")
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return obj
    if isinstance(obj, list):
        return [_decode_state(v, tensors, path, depth + 1) for v in obj]
    if not isinstance(obj, dict):
        raise _bad(path, "training state holds an unknown value")
    tags = [k for k in obj if k in _TAGS]
    if not tags:
        return {k: _decode_state(v, tensors, path, depth + 1) for k, v in obj.items()}
    tag = tags[0]
    value = obj[tag]
    if tag == "__tensor__":
        if not isinstance(value, str) or not value.startswith("train_state") or value not in tensors:
            raise _bad(path, f"training state refers to a missing tensor {str(value)[:60]!r}")
        return tensors[value].copy()
    if tag == "__numpy__":
        if not isinstance(value, str):
            raise _bad(path, "training state: bad NumPy scalar")
        try:
            dt = np.dtype(value)
        except TypeError:
            raise _bad(path, f"training state: unknown NumPy dtype {value[:20]!r}") from None
        inner = obj.get("value")
        if dt.kind not in _SCALAR_KINDS or isinstance(inner, (list, str)) or inner is None:
            raise _bad(path, f"training state: bad NumPy scalar of dtype {value[:20]!r}")
        inner = _decode_state(inner, tensors, path, depth + 1)
        try:
            return dt.type(inner)
        except (TypeError, ValueError, OverflowError):
            raise _bad(path, f"training state: {inner!r} is not a {dt}") from None
    if tag == "__tuple__":
        if not isinstance(value, list):
            raise _bad(path, "training state: bad tuple")
        return tuple(_decode_state(v, tensors, path, depth + 1) for v in value)
    if tag == "__items__":
        if not isinstance(value, list) or not all(isinstance(p, list) and len(p) == 2 for p in value):
            raise _bad(path, "training state: bad key/value list")
        out = {}
        for k, v in value:
            k = _decode_state(k, tensors, path, depth + 1)
            if isinstance(k, (list, dict, np.ndarray)):
                raise _bad(path, "training state: unhashable key")
            out[k] = _decode_state(v, tensors, path, depth + 1)
        return out
    if value not in ("nan", "inf", "-inf"):
        raise _bad(path, "training state: bad float")
    return float(value)
