"""The safetensors codec and atomic writes, with NumPy alone (layer 0: imports nothing of mlp).

`safetensors <https://github.com/huggingface/safetensors>`_ files::

    8 bytes      N, the header length, unsigned little-endian
    N bytes      JSON: {name: {"dtype": "F32", "shape": [n_out, n_in],
                               "data_offsets": [begin, end]}, …,
                        "__metadata__": {str: str}}   (padded with spaces)
    the rest     the tensors' raw little-endian bytes, back to back

Reading trusts nothing: the header length, the JSON, every dtype, shape and
offset are checked against the file before any array is built, so a truncated,
foreign or hostile file raises one ``ValueError`` naming the problem. Writing
goes to a temporary file in the target's folder, fsynced, then renamed over the
target (``os.replace``), so a crash or a full disk leaves the previous file intact.

The model format built on it is ``mlp._model_file`` (save) and ``mlp.io`` (load).
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import stat
import time
from pathlib import Path

import numpy as np

from . import _memory

try:                        # POSIX: a writer's lock on its temporary file (atomic_write)
    import fcntl
except ImportError:         # pragma: no cover - Windows
    fcntl = None

__all__ = ["MAX_HEADER_BYTES", "atomic_write", "available_memory", "bad_file", "check_memory", "check_path",
           "check_writable_file", "is_int", "parse_json",
           "read_safetensors",
           "write_safetensors"]

MAX_HEADER_BYTES = 100 * 2**20
"""Largest JSON header accepted (the ``safetensors`` package's own limit)."""

_MAX_RANK = 16

# safetensors dtype names ↔ little-endian NumPy dtypes.
_DTYPES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"), "U32": np.dtype("<u4"), "U16": np.dtype("<u2"), "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
_NAMES_OF = {dt.newbyteorder("="): name for name, dt in _DTYPES.items()}


# --------------------------------------------------------------------------- atomic writes


def check_path(path) -> None:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")


def atomic_write(path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that ``path`` is never seen half-written.

    The bytes go to a temporary file in the same folder, which is flushed,
    fsynced and then renamed over ``path`` (``os.replace``, atomic on POSIX and
    Windows). If anything fails — no permission, a full disk, a crash — the
    temporary file is removed and an earlier ``path`` is left exactly as it was.
    A symbolic link is followed: the file it points to is replaced, the link kept.
    Only a regular file is ever replaced: a device, a FIFO or a socket at ``path``
    (or behind a link) is refused, so ``/dev/null`` stays ``/dev/null``. Temporary
    files that an earlier, killed writer left beside ``path`` are removed.

    Parameters
    ----------
    path : str or os.PathLike
        Destination file; its folder must exist.
    data : bytes
        The complete new content.

    Raises
    ------
    OSError
        If the folder cannot be written, or ``path`` is not a regular file (the
        message names the file).
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
    check_writable_file(path)
    _remove_stale_temporaries(path, time.time())
    import tempfile  # not at the top: tempfile (with shutil, bz2, lzma) costs ~5 ms of `import mlp`
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise _named(exc, path) from exc
    _lock(fd)
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


def check_writable_file(path) -> None:
    """Refuse to replace anything but a regular file: a device, FIFO or socket (followed
    through links) raises ``OSError`` naming it."""
    try:
        mode = os.stat(path).st_mode          # follows links
    except FileNotFoundError:
        return
    except OSError:
        return                                # the write itself will say what is wrong
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return
    kind = ("a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else
            "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else
            "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
    raise OSError(errno.EINVAL, f"is {kind}, not a regular file: refusing to replace it",
                  os.fspath(path))


STALE_SECONDS = 600   # an older mlp's temporary file (no pid in its name) is removed once this old


def _temporary_name(name: str) -> re.Pattern:
    """atomic_write's temporary names: ``.NAME.PID.XXXXXXXX.tmp``, older ``.NAME.XXXXXXXX.tmp``."""
    return re.compile(re.escape(f".{name}.") + r"(?:([0-9]{1,10})\.)?[a-z0-9_]{8}\.tmp")


def _remove_stale_temporaries(path: Path, started: float) -> None:
    """Remove temporaries of saves to ``path`` killed mid-write: regular files of our exact names,
    written before this save ``started``, whose writer's pid is gone and whose lock is free
    (an older name without pid: over ``STALE_SECONDS`` old). Nothing else is touched."""
    folder = path.parent if str(path.parent) else Path(".")
    pattern = _temporary_name(path.name)
    try:
        names = [n for n in os.listdir(folder) if pattern.fullmatch(n)]
    except OSError:
        return
    for name in names:
        pid = pattern.fullmatch(name).group(1)
        candidate = folder / name
        try:
            info = candidate.lstat()
            if not stat.S_ISREG(info.st_mode) or info.st_mtime >= started:
                continue
            if pid is None and started - info.st_mtime < STALE_SECONDS:
                continue
            if pid is not None and _alive(int(pid)):
                continue
            if _locked(candidate):
                continue
            candidate.unlink()
        except OSError:
            pass


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


def _lock(fd: int) -> None:
    """Lock a temporary file while it is written (a writer in another PID namespace is alive)."""
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            pass


def _locked(path: Path) -> bool:
    if fcntl is None:
        return False
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


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


def bad_file(path, problem: str) -> ValueError:
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


def parse_json(text, path, what: str):
    """``text`` as strict JSON, or one ``ValueError`` naming ``path``; at most
    ``MAX_HEADER_CONTAINERS`` lists and objects (also in metadata, where ``\\u005b`` is ``[``)."""
    containers = text.count("[") + text.count("{")
    if containers > MAX_HEADER_CONTAINERS:
        raise bad_file(path, f"{what} holds {containers:,} JSON lists or objects, more than "
                             f"{MAX_HEADER_CONTAINERS:,} (a corrupt or hostile file)")
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except RecursionError:
        raise bad_file(path, f"{what} is nested too deeply") from None
    except (ValueError, TypeError) as exc:     # JSONDecodeError is a ValueError
        raise bad_file(path, f"{what} is not valid JSON ({exc})") from None


MAX_HEADER_CONTAINERS = 1_000_000
"""Most JSON lists and objects a header may hold (an mlp model of 10,000 layers needs ~100,000):
parsing 30 million empty lists of a hostile 99 MB header took 2.6 GB."""


def available_memory() -> int:
    """Bytes this process may still allocate: the least of MemAvailable, its cgroup's room and
    its rlimits' room (``mlp._memory``); a large number where none can be read."""
    known = [n for n in (_memory.machine_available(), _memory.cgroup_headroom(),
                         _memory.rlimit_headroom()) if n is not None]
    return max(0, min(known)) if known else 2**62


def check_memory(nbytes: int, what: str) -> None:
    """Refuse, before allocating, to build ``what`` of ``nbytes`` when more than half the memory
    available now would go to it (one ``ValueError`` naming the sizes)."""
    available = available_memory()
    if nbytes > available // 2:
        raise ValueError(f"{what} needs {nbytes / 2**30:.3g} GiB, more than half of the "
                          f"{available / 2**30:.3g} GiB of memory available")


def _check_header_cost(raw: bytes, path) -> None:
    """Bound what parsing the JSON header will cost before parsing it (~64 bytes a value)."""
    containers = raw.count(b"[") + raw.count(b"{")
    if containers > MAX_HEADER_CONTAINERS:
        raise bad_file(path, f"the header holds {containers:,} JSON lists or objects, more than "
                             f"{MAX_HEADER_CONTAINERS:,} (a corrupt or hostile file)")
    try:
        check_memory(64 * (containers + raw.count(b",") + 1) + 2 * len(raw), "parsing its header")
    except ValueError as exc:
        raise bad_file(path, str(exc)) from None


def is_int(value) -> bool:
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
    check_path(path)
    path = os.fspath(path)
    info = os.stat(path)        # FileNotFoundError names the path
    if stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(21, "is a folder, not a model file", path)
    if not stat.S_ISREG(info.st_mode):
        # Reading a FIFO or a device could block forever or never end.
        raise bad_file(path, "not a regular file")
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size < 8:
            raise bad_file(path, f"the file has only {size} bytes (empty or truncated; a safetensors "
                             "file starts with an 8-byte header length)")
        n = int.from_bytes(f.read(8), "little")
        if n > size - 8:
            raise bad_file(path, f"the header claims {n} bytes but the file has only {size - 8} after "
                             "the length field (truncated, or not a safetensors file)")
        if n > MAX_HEADER_BYTES:
            raise bad_file(path, f"the header claims {n} bytes, more than the limit of {MAX_HEADER_BYTES}")
        raw = f.read(n)
        if len(raw) != n:
            raise bad_file(path, "the file changed size while being read")
        _check_header_cost(raw, path)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise bad_file(path, "the header is not UTF-8 text (not a safetensors file)") from None
        if not text.lstrip().startswith("{"):
            raise bad_file(path, "the header is not a JSON object (not a safetensors file)")
        header = parse_json(text, path, "the header")
        if not isinstance(header, dict):
            raise bad_file(path, "the header is not a JSON object")
        data_len = size - 8 - n
        layout = _check_layout(header, data_len, path)
        try:
            check_memory(2 * data_len, "loading its tensors")      # the bytes, then the arrays
        except ValueError as exc:
            raise ValueError(f"{os.fspath(path)}: {exc}") from None
        data = f.read(data_len)
        if len(data) != data_len:
            raise bad_file(path, "the file changed size while being read")
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
            raise bad_file(path, "__metadata__ must map strings to strings")
    layout = []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise bad_file(path, f"tensor {name!r}: an entry needs exactly dtype, shape and data_offsets")
        dt_name, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if not isinstance(dt_name, str) or dt_name not in _DTYPES:
            raise bad_file(path, f"tensor {name[:60]!r}: unsupported dtype {str(dt_name)[:20]!r}")
        if (not isinstance(shape, list) or len(shape) > _MAX_RANK
                or not all(is_int(d) and d >= 0 for d in shape)):
            raise bad_file(path, f"tensor {name!r}: shape must be a list of at most {_MAX_RANK} "
                             f"non-negative integers, got {str(shape)[:80]}")
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(is_int(o) and o >= 0 for o in offsets)):
            raise bad_file(path, f"tensor {name!r}: data_offsets must be two non-negative integers")
        begin, end = offsets
        nbytes = math.prod(shape) * _DTYPES[dt_name].itemsize      # Python ints: no overflow
        if end < begin or end - begin != nbytes:
            raise bad_file(path, f"tensor {name!r}: shape {shape} of {dt_name} needs {nbytes} bytes "
                             f"but its offsets span {end - begin}")
        if end > data_len:
            raise bad_file(path, f"tensor {name!r} ends at byte {end} of the data but the file holds "
                             f"only {data_len} (truncated, or a hostile header)")
        layout.append((name, _DTYPES[dt_name], tuple(shape), begin, end))
    layout.sort(key=lambda t: (t[3], t[4]))
    at = 0
    for name, _, _, begin, end in layout:
        if begin != at:
            raise bad_file(path, f"tensor {name!r} starts at byte {begin}, expected {at} "
                             "(tensors overlap or leave gaps)")
        at = end
    if at != data_len:
        raise bad_file(path, f"the tensors cover {at} bytes but the data section has {data_len} "
                         "(truncated, or trailing bytes)")
    return layout

