"""Data bigger than memory: memory-mapped ``.npy`` files, folders of shards, Parquet files.

This module owns reading training rows that need not fit in memory: a ``.npy``
file memory-mapped (``np.load(path, mmap_mode="r")``), a folder of ``.npy`` /
``.npz`` shards seen as one table, and Parquet files (through ``mlp.convert``,
which turns them into such a folder). It gives :class:`MappedRows`, an array-like
whose ``rows[idx]`` reads only the rows asked for, in the order asked for, and
says how much it read (``rows_read``, ``largest_read``). It does not own the fit
loop (``mlp.training``) or the conversion of CSV/Parquet files (``mlp.convert``).

What a shuffle means
--------------------
``fit`` draws ``order = rng.permutation(n)`` every epoch, exactly as for an array
in memory, and batch ``b`` is the rows ``order[b·B:(b+1)·B]`` *gathered from the
memory map* (``MappedRows.__getitem__``): one global permutation of all the rows,
across shards. A memory-mapped fit therefore equals the in-memory fit with the
same seed, bit for bit (``tests/test_sources.py``). The alternative — shards in a
shuffled order and a shuffle buffer of a few thousand rows — reads the disk
sequentially but only approximates a permutation (rows of one shard stay near
each other); ``benchmarks/out_of_core.py`` measured both and the exact gather was
kept (see ``benchmarks/RESULTS.md``).

Memory
------
Pages of a memory map that were touched count towards the process's resident memory
(RSS), and a page fault maps up to 64 KiB around the page asked for (Linux's
fault-around). So there are two ways to gather a batch, chosen per table by the bytes
its files span:

* **through the map** — a table of at most ``MAP_BYTES`` (384 MiB): ``np.take`` on the
  mapping; a row's first touch is a page fault, later ones are memory reads, as fast
  as an array in memory. Its pages
  stay resident, which is at most the table's size: within the RSS bound by
  construction, so they are never given back.
* **by ``os.preadv``** — a bigger table: one call per row straight into the batch (a
  shard's run of rows in one call for a slice), no page mapped, so RSS stays the size
  of a batch plus the network whatever the file's size. Through the map it would
  either grow RSS towards the file's size or, with the pages given back
  (``madvise``) every few batches, make nearly every row a fault again: measured on
  1.25 GB, 2.7 µs a row by ``preadv`` against 4–7 µs through a map given back every
  64 batches (and 0.5–1 µs through a map that may keep its pages).

The file stays in the page cache either way, which is not the process's memory.
Validation, prediction and the check pass read contiguous chunks by ``preadv``. Rows
not in a file (an in-memory array) are indexed.

Shard folders
-------------
A folder of shards is either what ``mlp convert`` writes (``meta.json`` listing
``X-00000.npy``/``y-00000.npy`` pairs, with the scaler statistics and the classes),
or any folder holding ``X*.npy`` files each with its ``y*.npy`` partner (the same
name with ``y`` for the leading ``X``), or ``*.npz`` files each with arrays ``X`` and
``y`` saved uncompressed (``np.savez``; compressed members cannot be memory-mapped).
Shards are taken in name order. Every shard must have the same number of features
and the same dtypes.
"""

from __future__ import annotations

import json
import math
import mmap
import os
import struct
from pathlib import Path

import numpy as np

from . import _validation
from . import convert as _convert

__all__ = ["MappedRows", "check_rows", "evaluate", "open_npy", "open_shards", "open_source", "predict"]

#: A table whose files span at most this many bytes is gathered through the memory map (its pages
#: may all become resident: within the 1 GB bound with the network, a batch and a validation table
#: of the same size); a bigger one by one ``preadv`` per row (nothing resident).
MAP_BYTES = 384 << 20
#: Resident pages of memory maps read through the map outside that (views that are not contiguous
#: rows of a file) are given back after this many bytes were read.
RELEASE_BYTES = 64 << 20
#: Validation and checks read the rows in chunks of about this many bytes.
CHUNK_BYTES = 8 << 20
#: The check pass reads blocks of about this many bytes into one buffer, small enough to stay in
#: the CPU's cache while its statistics are computed.
CHECK_BYTES = 1 << 20


class MappedRows:
    """Rows on disk, read only where indexed: ``rows[idx]`` gathers them into memory.

    One or more memory-mapped arrays (shards) seen as one array of shape
    ``(n, *row_shape)``; ``rows[idx]`` with an integer array, a slice or an int
    returns a new in-memory ``ndarray`` with those rows in that order. An affine
    ``transform`` (``(x − mean) / scale``, a scaler's statistics) and a ``dtype``
    may be applied to what is read.

    Attributes
    ----------
    shape, dtype, ndim
        Of the whole (as read: after ``dtype``).
    rows_read : int
        Rows gathered so far (a row read twice counts twice).
    largest_read : int
        The most rows one read returned: it proves the whole was never read at once.
    via_map : bool
        Whether batches are gathered through the memory map (a table of at most
        ``MAP_BYTES``) or by ``preadv`` (see the module docstring); views made by
        ``take`` and ``subset`` keep their table's choice.
    """

    __array_priority__ = -1

    def __init__(self, parts, *, name: str = "rows", dtype=None, mean=None, scale=None,
                 release_bytes: int = RELEASE_BYTES, via_map: bool | None = None):
        parts = list(parts)
        if not parts:
            raise ValueError(f"{name}: no rows")
        self.parts = parts
        self.name = name
        self.offsets = np.concatenate([[0], np.cumsum([len(p) for p in parts])]).astype(np.int64)
        self.row_shape = parts[0].shape[1:]
        self.stored_dtype = parts[0].dtype
        self.dtype = np.dtype(dtype) if dtype is not None else self.stored_dtype
        self.mean = None if mean is None else np.asarray(mean, dtype=np.float64)
        self.scale = None if scale is None else np.asarray(scale, dtype=np.float64)
        self.release_bytes = int(release_bytes)
        self.row_bytes = int(np.prod(self.row_shape, dtype=np.int64)) * self.stored_dtype.itemsize
        self.rows_read = 0
        self.largest_read = 0
        self._since_release = 0
        self._max_std = None
        self._via_map = via_map
        self.index = None                # a view of chosen rows (take): view row i is row index[i]
        self._files = None               # per shard: (open file, offset of row 0), False if not a file

    # -- the array-like surface fit needs
    @property
    def shape(self) -> tuple:
        return (len(self), *self.row_shape)

    @property
    def ndim(self) -> int:
        return 1 + len(self.row_shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        return self.shape[0] * self.row_bytes

    def __len__(self) -> int:
        return int(self.offsets[-1]) if self.index is None else int(self.index.size)

    def __repr__(self) -> str:
        return (f"MappedRows({self.name!r}, shape={self.shape}, dtype={self.dtype}, "
                f"shards={len(self.parts)})")

    def __array__(self, dtype=None, copy=None):
        raise TypeError(f"{self.name}: a memory-mapped table is not turned into one array in memory "
                        "(it may not fit); index it (rows[idx]) or pass it to fit")

    @property
    def via_map(self) -> bool:
        if self._via_map is None:
            self._via_map = sum(int(p.nbytes) for p in self.parts) <= MAP_BYTES
        return self._via_map

    def __reduce__(self):
        # to another process (mlp.distributed) as file names and offsets: never a copy of the rows
        specs = [_file_spec(p) or p for p in self.parts]
        return (_rebuild, (specs, self.name, self.dtype.str if self.dtype != self.stored_dtype else None,
                           self.mean, self.scale, self.release_bytes, self.index, self.via_map))

    def _like(self, parts=None, index=None, dtype=None, mean=None, scale=None) -> MappedRows:
        """The same table (its files, scaling, dtype and way of gathering) over other parts or rows."""
        out = MappedRows(self.parts if parts is None else parts, name=self.name,
                         dtype=self.dtype if dtype is None else dtype,
                         mean=self.mean if mean is None else mean,
                         scale=self.scale if scale is None else scale,
                         release_bytes=self.release_bytes, via_map=self.via_map)
        out.index = index
        return out

    def take(self, rows) -> MappedRows:
        """A view of the rows ``rows`` (in that order), read only when indexed: e.g. a random
        train/validation split of a memory map without copying either part."""
        rows = np.asarray(rows, dtype=np.int64)
        if rows.ndim != 1 or (rows.size and (rows.min() < 0 or rows.max() >= len(self))):
            raise IndexError(f"{self.name}: take needs 1-D row numbers in 0 … {len(self) - 1}")
        return self._like(index=rows if self.index is None else self.index[rows])

    def subset(self, start: int, stop: int) -> MappedRows:
        """Rows start … stop−1 as a MappedRows (views of the memory maps, nothing read)."""
        if self.index is not None:
            return self._like(index=self.index[start:stop])
        parts = []
        for p, part in enumerate(self.parts):
            lo, hi = int(self.offsets[p]), int(self.offsets[p + 1])
            a, b = max(start, lo), min(stop, hi)
            if a < b:
                parts.append(part[a - lo:b - lo])
        return self._like(parts or [part[0:0] for part in self.parts[:1]])

    def with_dtype(self, dtype) -> MappedRows:
        """The same rows, read as ``dtype``."""
        out = self._like(index=self.index, dtype=np.dtype(dtype))
        out._max_std = self._max_std
        return out

    def max_feature_std(self) -> float:
        """The largest feature standard deviation (one streaming pass, remembered)."""
        if self._max_std is None:
            self._max_std = _finite_and_scale(self)[1]
        return self._max_std

    def __getitem__(self, key) -> np.ndarray:
        n = len(self)
        if isinstance(key, (int, np.integer)):
            k = int(key) + n if key < 0 else int(key)
            if not 0 <= k < n:
                raise IndexError(f"{self.name}: row {key} out of range for {n} rows")
            return self._gather(np.array([k]))[0]
        if isinstance(key, slice):
            start, stop, step = key.indices(n)
            if step == 1:
                return self._read(start, max(start, stop))
            return self._gather(np.arange(start, stop, step))
        idx = np.asarray(key)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        if idx.dtype.kind not in "iu" or idx.ndim != 1:
            raise IndexError(f"{self.name}: index with an int, a slice or a 1-D integer array")
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"{self.name}: row index out of range for {n} rows")
        return self._gather(np.where(idx < 0, idx + n, idx))

    def _finish(self, out: np.ndarray) -> np.ndarray:
        self.rows_read += out.shape[0]
        self.largest_read = max(self.largest_read, out.shape[0])
        if not self.via_map:
            self._since_release += out.shape[0] * self.row_bytes
            if self._since_release >= self.release_bytes:
                self.release()
        if self.mean is not None:
            out = (out - self.mean) / self.scale
        return out.astype(self.dtype, copy=False)

    def _file(self, p: int):
        """(file descriptor, byte offset of row 0) of shard p, or None (rows not in a file)."""
        if self._files is None:
            self._files = [None] * len(self.parts)
        got = self._files[p]
        if got is None:
            spec = _file_spec(self.parts[p]) if self.row_bytes else None
            if spec is None:
                got = False
            else:
                f = open(spec[0], "rb", buffering=0)       # noqa: SIM115 - kept open, closed by GC
                got = (f, spec[1])
            self._files[p] = got
        return got or None

    def _pread(self, p: int, local: np.ndarray, out: np.ndarray, where: np.ndarray) -> None:
        """Rows ``local`` of shard p into rows ``where`` of out, by pread (no page mapped, no RSS)."""
        f, base = self._file(p)
        fd, size = f.fileno(), self.row_bytes
        flat = out.reshape(out.shape[0], -1)        # a row of a 1-D out (targets) as a writable buffer
        for k, r in zip(where.tolist(), local.tolist()):
            if os.preadv(fd, [flat[k]], base + r * size) != size:
                raise ValueError(f"{self.name}: could not read row {r}: the file is shorter than it was")

    def _read(self, start: int, stop: int, out: np.ndarray | None = None) -> np.ndarray:
        """Rows start … stop−1, in order (shard by shard), each shard's run in one read (into
        ``out``, of the stored dtype, when given: a buffer used again and again)."""
        if self.index is not None:
            return self._gather(np.arange(start, stop))
        if out is None or self.mean is not None or self.dtype != self.stored_dtype:
            out = np.empty((max(stop - start, 0), *self.row_shape), self.stored_dtype)
        else:
            out = out[:max(stop - start, 0)]
        for p, part in enumerate(self.parts):
            lo, hi = int(self.offsets[p]), int(self.offsets[p + 1])
            a, b = max(start, lo), min(stop, hi)
            if a >= b:
                continue
            got = self._file(p)
            if got is None:
                out[a - start:b - start] = part[a - lo:b - lo]
                continue
            want, at = (b - a) * self.row_bytes, got[1] + (a - lo) * self.row_bytes
            if os.preadv(got[0].fileno(), [out[a - start:b - start]], at) != want:
                raise ValueError(f"{self.name}: could not read rows {a}…{b - 1}: the file is shorter "
                                 "than it was")
        return self._finish(out)

    def _gather(self, idx: np.ndarray) -> np.ndarray:
        """Rows idx, in that order: through the map (``via_map``), else each shard's rows read by
        ``preadv`` in increasing order (sequential pages)."""
        if self.index is not None:
            idx = self.index[idx]
        out = np.empty((idx.size, *self.row_shape), self.stored_dtype)
        if self.via_map:
            if len(self.parts) == 1:
                _take(self.parts[0], idx, out)
            else:
                which = np.searchsorted(self.offsets, idx, side="right") - 1
                for p in np.unique(which).tolist():
                    sel = np.flatnonzero(which == p)
                    out[sel] = _take(self.parts[p], idx[sel] - self.offsets[p])
            return self._finish(out)
        which = np.zeros(idx.size, np.intp) if len(self.parts) == 1 else \
            np.searchsorted(self.offsets, idx, side="right") - 1
        for p in (range(1) if len(self.parts) == 1 else np.unique(which).tolist()):
            sel = np.arange(idx.size) if len(self.parts) == 1 else np.flatnonzero(which == p)
            local = idx[sel] - self.offsets[p]
            order = np.argsort(local, kind="stable")
            if self._file(p) is None:
                out[sel[order]] = self.parts[p][local[order]]
            else:
                self._pread(p, local[order], out, sel[order])
        return self._finish(out)

    def chunks(self, rows: int | None = None, reuse: bool = False):
        """(start, rows start … start+len−1) over the whole, about CHUNK_BYTES at a time; with
        ``reuse``, each chunk is read into the same buffer (use it before asking for the next), or
        is a read-only view of the memory map for a table gathered through it (``via_map``: no
        copy, and its pages are then mapped for the batches' gathers)."""
        rows = rows or max(1, CHUNK_BYTES // max(self.row_bytes, 1))
        buf = np.empty((min(rows, len(self)), *self.row_shape), self.stored_dtype) if reuse else None
        for start in range(0, len(self), rows):
            stop = min(start + rows, len(self))
            view = self._view(start, stop) if reuse else None
            yield start, self._finish(view) if view is not None else self._read(start, stop, buf)

    def _view(self, start: int, stop: int) -> np.ndarray | None:
        """Rows start … stop−1 as a view of the memory map, where the table is gathered through it
        and they lie in one shard; else None."""
        if not self.via_map or self.index is not None:
            return None
        p = int(np.searchsorted(self.offsets, start, side="right")) - 1
        lo = int(self.offsets[p])
        if stop > int(self.offsets[p + 1]) or not isinstance(self.parts[p], np.ndarray):
            return None
        part = self.parts[p]
        return (part.view(np.ndarray) if isinstance(part, np.memmap) else part)[start - lo:stop - lo]

    def release(self) -> None:
        """Give the pages read so far back to the kernel (they stay in the page cache); nothing to
        do for a table gathered through the map (``via_map``): its pages are kept, at most its size."""
        self._since_release = 0
        if self.via_map or not hasattr(mmap, "MADV_DONTNEED"):      # pragma: no cover - not Linux/macOS
            return
        for part in self.parts:
            m = getattr(part, "_mmap", None)
            if m is not None:
                try:
                    m.madvise(mmap.MADV_DONTNEED)
                except (OSError, ValueError):        # pragma: no cover - closed or unsupported
                    pass


def _file_spec(a):
    """(file name, byte offset, shape, dtype) of a C-contiguous view into a np.memmap, else None."""
    root = a
    while isinstance(getattr(root, "base", None), np.ndarray):
        root = root.base
    if not isinstance(root, np.memmap) or getattr(root, "filename", None) is None \
            or not a.flags.c_contiguous:
        return None
    delta = a.__array_interface__["data"][0] - root.__array_interface__["data"][0]
    return (root.filename, int(root.offset) + delta, a.shape, a.dtype.str)


def _rebuild(specs, name, dtype, mean, scale, release_bytes, index=None, via_map=None):
    parts = [np.memmap(s[0], dtype=np.dtype(s[3]), mode="r", offset=s[1], shape=s[2])
             if isinstance(s, tuple) else s for s in specs]
    rows = MappedRows(parts, name=name, dtype=dtype, mean=mean, scale=scale, release_bytes=release_bytes,
                      via_map=via_map)
    rows.index = index
    return rows


def _take(part, idx: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``part[idx]`` through the memory map, by ``np.take`` (into ``out`` when given): 1.0 µs a row
    of 784 float32 once its pages are mapped. The compiled gather of ``mlp._kernels`` (0.5 µs) was
    no faster over a one-epoch fit of 100,000 rows (alternating runs, within the noise): loading it
    in a fresh process costs about what it saves."""
    a = part.view(np.ndarray) if isinstance(part, np.memmap) else np.asarray(part)
    return np.take(a, idx, axis=0, out=out)


def is_lazy(a) -> bool:
    """True for data fit must not read whole: a ``MappedRows`` or an ``np.memmap``."""
    return isinstance(a, (MappedRows, np.memmap))


def as_rows(a, name: str = "X") -> MappedRows:
    """A ``MappedRows`` over ``a`` (itself, or a one-shard view of an ``np.memmap``)."""
    if isinstance(a, MappedRows):
        return a
    if isinstance(a, np.memmap):
        if a.ndim == 0:
            raise ValueError(f"{name} is a 0-d memory map")
        if a.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be a real numeric array, got dtype {a.dtype}")
        return MappedRows([a], name=name)
    raise TypeError(f"{name}: expected a memory map, got {type(a).__name__}")


# --------------------------------------------------------------------------- .npy files

def _npy_header(f, path: str):
    """(shape, fortran_order, dtype) of the .npy file open at f; ValueError naming a bad file."""
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            return np.lib.format.read_array_header_1_0(f, max_header_size=1 << 20)
        return np.lib.format.read_array_header_2_0(f, max_header_size=1 << 20)
    except (ValueError, OSError, EOFError, SyntaxError) as exc:
        raise ValueError(f"{path}: not a .npy file ({exc})") from None


def _check_numeric(dtype, path: str) -> None:
    if dtype.hasobject or dtype.kind not in "biuf":
        raise ValueError(f"{path}: holds dtype {dtype}; training data must be numbers "
                         "(float, int or bool)")


def _mapped(path: str, offset: int, shape, fortran: bool, dtype, size: int) -> np.memmap:
    need = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if need > size:
        raise ValueError(f"{path}: truncated .npy file: its header says shape {tuple(shape)} of {dtype} "
                         f"({need:,} bytes with the header) but the file has {size:,} bytes")
    if fortran and len(shape) > 1:
        raise ValueError(f"{path}: the array is stored column-major (Fortran order); rows cannot be "
                         "read one by one: save it with np.save(path, np.ascontiguousarray(a))")
    if int(np.prod(shape, dtype=np.int64)) == 0:
        return np.zeros(shape, dtype)                # nothing to map
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=tuple(shape))


def open_npy(path, what: str | None = None) -> np.memmap:
    """Memory-map a ``.npy`` file read-only, with one clear ``ValueError`` for a bad file.

    A truncated file (shorter than its header says), a non-numeric dtype or a
    column-major array are refused before anything is read.
    """
    path = os.fspath(path)
    what = what or path
    with open(path, "rb") as f:
        shape, fortran, dtype = _npy_header(f, what)
        offset = f.tell()
        size = os.fstat(f.fileno()).st_size
    _check_numeric(dtype, what)
    return _mapped(path, offset, shape, fortran, dtype, size)


def _npz_member(path: str, zf, member: str) -> np.memmap:
    """Memory-map the array ``member`` of the open ``zipfile.ZipFile`` ``zf`` of an uncompressed
    ``.npz`` file."""
    import zipfile
    info = zf.getinfo(member)
    if info.compress_type != zipfile.ZIP_STORED:
        raise ValueError(f"{path}: {member} is compressed (np.savez_compressed) and cannot be "
                         "memory-mapped: save shards with np.savez, or use `mlp convert`")
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        local = f.read(30)
        if len(local) < 30 or local[:4] != b"PK\x03\x04":
            raise ValueError(f"{path}: damaged .npz file (bad local header of {member})")
        name_len, extra_len = struct.unpack("<HH", local[26:30])
        f.seek(info.header_offset + 30 + name_len + extra_len)
        start = f.tell()
        shape, fortran, dtype = _npy_header(f, f"{path}: {member}")
        offset = f.tell()
        size = os.fstat(f.fileno()).st_size
    _check_numeric(dtype, f"{path}: {member}")
    end = min(size, start + info.file_size)
    return _mapped(path, offset, shape, fortran, dtype, end) if end >= offset else \
        _mapped(path, offset, shape, fortran, dtype, 0)


def _open_npz(path: str):
    import zipfile  # not at the top: zipfile (with shutil, bz2, lzma) costs ~3 ms of `import mlp`
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValueError(f"{path}: not a readable .npz file ({exc})") from None
    with zf:
        names = zf.namelist()
        if "X.npy" not in names or "y.npy" not in names:
            found = ", ".join(n.removesuffix(".npy") for n in names) or "none"
            raise ValueError(f"{path}: a shard .npz needs arrays X and y; found: {found}")
        return _npz_member(path, zf, "X.npy"), _npz_member(path, zf, "y.npy")


# --------------------------------------------------------------------------- shard folders

def _shard_files(folder: Path) -> list[tuple[Path, Path | None]]:
    meta = folder / "meta.json"
    if meta.is_file():
        info = _read_meta(folder)
        try:
            return [(folder / s["X"], folder / s["y"] if s.get("y") else None) for s in info["shards"]]
        except (KeyError, TypeError):
            raise ValueError(f"{meta}: no valid 'shards' list") from None
    files = sorted(p for p in folder.iterdir() if p.is_file())
    npz = [p for p in files if p.suffix == ".npz"]
    xs = [p for p in files if p.suffix == ".npy" and p.name.startswith("X")]
    if npz and xs:
        raise ValueError(f"{folder}: holds both .npz and X*.npy shards; keep one kind")
    if npz:
        return [(p, None) for p in npz]
    if not xs:
        raise ValueError(f"{folder}: no shards (expected X*.npy with y*.npy partners, *.npz files with "
                         "arrays X and y, or what `mlp convert` writes)")
    pairs = []
    for x in xs:
        y = x.with_name("y" + x.name[1:])
        if not y.is_file():
            raise ValueError(f"{folder}: shard {x.name} has no targets {y.name}")
        pairs.append((x, y))
    return pairs


def _read_meta(folder: Path) -> dict:
    try:
        info = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{folder / 'meta.json'}: not readable JSON ({exc})") from None
    if not isinstance(info, dict):
        raise ValueError(f"{folder / 'meta.json'}: not a JSON object")
    return info


def _check_same(folder, kind: str, arrays, names) -> None:
    """Every shard's arrays of one kind have the first one's row shape and dtype."""
    first, first_name = arrays[0], names[0]
    width = "features" if kind == "X" else "target columns"
    for a, name in zip(arrays[1:], names[1:]):
        if a.ndim != first.ndim or a.shape[1:] != first.shape[1:]:
            def cols(arr):
                return arr.shape[1] if arr.ndim == 2 else "no column axis" if arr.ndim == 1 else arr.shape[1:]
            raise ValueError(f"{folder}: shard {name} has {cols(a)} {width} ({kind} shape {a.shape}) but "
                             f"shard {first_name} has {cols(first)}: all shards need the same width")
        if a.dtype != first.dtype:
            raise ValueError(f"{folder}: shard {name} has {kind} of dtype {a.dtype} but shard "
                             f"{first_name} has {first.dtype}: all shards need one dtype")


def open_shards(folder, *, scale: bool = False):
    """A folder of shards as ``(X, y, meta)``: two ``MappedRows`` and the ``meta.json`` dict ({} if none).

    With ``scale=True`` and scaler statistics in ``meta.json``, X is read standardised.
    """
    folder = Path(os.fspath(folder))
    if not folder.is_dir():
        raise ValueError(f"{folder}: not a folder of shards")
    meta = _read_meta(folder) if (folder / "meta.json").is_file() else {}
    Xs, ys, names = [], [], []
    for x_path, y_path in _shard_files(folder):
        if not x_path.is_file():
            raise ValueError(f"{folder}: shard {x_path.name} is listed in meta.json but missing")
        if x_path.suffix == ".npz":
            X, y = _open_npz(str(x_path))
        else:
            X = open_npy(x_path, f"{folder}/{x_path.name}")
            y = open_npy(y_path, f"{folder}/{y_path.name}")
        if X.ndim != 2:
            raise ValueError(f"{folder}: shard {x_path.name} has X of shape {X.shape}; "
                             "expected (n, n_features)")
        if y.ndim not in (1, 2) or len(y) != len(X):
            raise ValueError(f"{folder}: shard {x_path.name} has {len(X)} rows of X but {len(y)} targets")
        Xs.append(X)
        ys.append(y)
        names.append(x_path.name)
    _check_same(folder, "X", Xs, names)
    _check_same(folder, "y", ys, names)
    keep = [i for i, X in enumerate(Xs) if len(X)]
    if not keep:
        raise ValueError(f"{folder}: the shards hold 0 rows")
    mean = scale_ = None
    if scale and meta.get("scaler"):
        mean, scale_ = meta["scaler"]["mean"], meta["scaler"]["scale"]
    X = MappedRows([Xs[i] for i in keep], name=f"{folder}: X", mean=mean, scale=scale_,
                   dtype=np.float64 if mean is not None else None)
    y = MappedRows([ys[i] for i in keep], name=f"{folder}: y")
    return X, y, meta


def read_all(rows) -> np.ndarray:
    """Every row of a ``MappedRows`` (or array) in memory: for targets, which are small."""
    if isinstance(rows, MappedRows):
        return rows[0:len(rows)]
    return np.asarray(rows)


def open_source(path, *, targets=None, target: str | None = None, scale: bool = False, workdir=None,
                task: str = "auto"):
    """Training data that may not fit in memory, as ``(X, y, meta)``.

    * ``X.npy`` with ``targets="y.npy"``: both memory-mapped;
    * a folder of shards (see the module docstring);
    * a ``.parquet`` file (or a folder of them): converted once by ``mlp.convert`` into
      a shard folder under ``workdir`` (default: a temporary folder), then read as above.
    """
    path = Path(os.fspath(path))
    if not path.exists():
        raise FileNotFoundError(2, "no such file or folder", str(path))
    if path.suffix == ".npy":
        if targets is None:
            raise ValueError(f"{path}: a .npy file of inputs needs its targets in a second one "
                             "(--targets y.npy)")
        if target is not None:
            raise ValueError(f"{path}: --target names a column of a CSV or Parquet file; a .npy file of "
                             "inputs takes its targets from --targets y.npy")
        X = open_npy(path)
        y = open_npy(targets)
        if X.ndim != 2:
            raise ValueError(f"{path}: X must be 2-D (n, n_features), got shape {X.shape}")
        if y.ndim not in (1, 2) or len(y) != len(X):
            raise ValueError(f"{targets}: has {len(y)} targets (shape {y.shape}) but {path} has "
                             f"{len(X)} rows")
        if len(X) == 0:
            raise ValueError(f"{path}: 0 rows")
        return MappedRows([X], name=str(path)), MappedRows([y], name=str(targets)), {}
    if targets is not None:
        raise ValueError("--targets goes with a .npy file of inputs")
    if target is not None and path.suffix != ".parquet" and not any(path.glob("*.parquet")):
        raise ValueError(f"{path}: --target names a column of a CSV or Parquet file; a folder of shards "
                         "holds its targets in y arrays")
    if path.suffix == ".parquet" or (path.is_dir() and any(path.glob("*.parquet"))):
        import tempfile  # not at the top: it costs ~5 ms of `import mlp`
        work = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="mlp-parquet-"))
        out = work / "shards"
        _convert.convert(path, out, target=target, task=task, progress=False)
        return open_shards(out, scale=scale)
    return open_shards(path, scale=scale)


def check_rows(X, n_in: int, dtype, what: str = "X") -> MappedRows:
    """``check_X`` for a memory map: shape, width and finiteness checked in one streaming pass
    (which also measures the feature scale); returns a ``MappedRows`` read as ``dtype``."""
    rows = as_rows(X, what)
    if rows.ndim != 2:
        raise ValueError(f"{what} must be 2-D (n, n_in), got {rows.ndim}-D shape {rows.shape}")
    if len(rows) == 0:
        raise ValueError(f"{what} is empty: 0 examples")
    if rows.shape[1] != n_in:
        raise ValueError(f"{what} has {rows.shape[1]} features per example, but the network expects {n_in}")
    finite, std = _finite_and_scale(rows)
    if not finite:
        raise ValueError(f"{what} contains NaN or infinite values")
    out = rows.with_dtype(dtype)
    out._max_std = std
    return out


def check_target_rows(y, n: int, n_out: int, dtype, *, labels: bool = False, unit_range: bool = False,
                      what: str = "y") -> np.ndarray:
    """``check_y`` for targets on disk (an ``np.memmap`` or a ``MappedRows``): the same checks and
    messages in one streaming pass, and the same array fit trains on — class labels ``(n,)`` of
    ``np.intp`` (``labels=True``: cross-entropy) or values ``(n, n_out)`` of ``dtype``.

    Targets in one file already in that dtype come back as a read-only view of the memory map:
    never copied, each batch reads its rows' pages (at most the file's size resident, as for a
    table gathered through the map). Others (another dtype, several shards, rows chosen by
    ``take``, a file over ``MAP_BYTES``) are converted into memory, chunk by chunk.
    ``unit_range``: values must lie in [0, 1] (binary cross-entropy)."""
    rows = as_rows(y, what)
    if rows.stored_dtype.kind not in "biuf":
        raise TypeError(f"{what} must be a real numeric array, got dtype {rows.stored_dtype}")
    shape = rows.shape
    as_labels = labels and (rows.ndim == 1 or (rows.ndim == 2 and shape[1] == 1 and n_out > 1))
    if as_labels:
        if shape[0] != n:
            raise ValueError(f"{what} has {shape[0]} labels but X has {n} examples")
        final, out_dtype = (n,), np.dtype(np.intp)
    else:
        final, out_dtype = (n, n_out), np.dtype(dtype)
        got = (shape[0], 1) if rows.ndim == 1 and n_out == 1 else shape
        if got != final:
            raise ValueError(f"{what} has shape {shape}, expected ({n}, {n_out}) for {n} examples "
                             f"and {n_out} outputs")
    lo, hi = math.inf, -math.inf
    for _, chunk in rows.chunks(reuse=True):
        c = chunk.reshape(len(chunk), -1)
        if c.dtype.kind == "f" and not np.isfinite(c).all():
            raise ValueError(f"{what} contains NaN or infinite values")
        if as_labels:
            if c.dtype.kind == "f" and not np.all(c == np.round(c)):
                raise ValueError(f"{what} class labels must be integers 0..{n_out - 1}")
            if c.size:
                lo, hi = min(lo, float(c.min())), max(hi, float(c.max()))
        elif labels and c.shape[1] == n_out:
            _validation.check_probability_rows(c, what)
        if unit_range and c.size and (c.min() < 0 or c.max() > 1):
            raise ValueError("binary_cross_entropy targets must lie in [0, 1]")
    if as_labels and n and (lo < 0 or hi >= n_out):
        raise ValueError(f"{what} has class labels out of range: found {lo:g}..{hi:g}, the network has "
                         f"{n_out} outputs (labels 0..{n_out - 1})")
    view = rows._view(0, len(rows)) if len(rows.parts) == 1 and rows.mean is None else None
    if view is not None and view.dtype == out_dtype:
        return view.reshape(final)
    out = np.empty(final, out_dtype)
    for start, chunk in rows.chunks():
        out[start:start + len(chunk)] = chunk.reshape(len(chunk), *final[1:])
    return out


def evaluate(net, loss, X: MappedRows, y, sample_weight=None, labels=None):
    """(loss value, accuracy or None) of ``net`` on rows too many to hold at once, in chunks.

    Mean reductions weigh each chunk by its rows; sum reductions add up."""
    n = len(X)
    total, correct = 0.0, 0
    mean = loss.reduction == "mean"
    for start, chunk in X.chunks():
        stop = start + chunk.shape[0]
        y_hat = net.forward(chunk)
        sw = None if sample_weight is None else sample_weight[start:stop]
        if loss.fused:
            value, _ = loss.value_and_delta(net.layers[-1].z, y[start:stop], sw)
        else:
            value = loss.value(y_hat, y[start:stop], sw)
        total += value * (chunk.shape[0] / n) if mean else value
        if labels is not None:
            pred = (y_hat > 0.5)[:, 0] if y_hat.shape[1] == 1 else y_hat.argmax(axis=1)
            correct += int(np.count_nonzero(pred == labels[start:stop]))
    X.release()
    return total, (None if labels is None else correct / n)


def scaled(X, scaler) -> MappedRows:
    """The rows standardised on read, (x − mean) / scale in float64 as ``Network._inputs`` does;
    nothing is read now."""
    rows = as_rows(X)
    return rows._like(index=rows.index, dtype=np.dtype(np.float64),
                      mean=np.asarray(scaler.mean, dtype=np.float64),
                      scale=np.asarray(scaler.scale, dtype=np.float64))


def predict(net, X, rows: int = 65536) -> np.ndarray:
    """``net.predict`` over a memory map, ``rows`` at a time."""
    X = as_rows(X) if isinstance(X, np.memmap) else X
    if not isinstance(X, MappedRows):
        return net.predict(X)
    return np.concatenate([net.predict(chunk) for _, chunk in X.chunks(rows)])


def _finite_and_scale(X: MappedRows) -> tuple[bool, float]:
    """One streaming pass: are all entries finite, and the largest feature standard deviation.

    The rows are read in blocks of about CHECK_BYTES into one buffer, which stays in the CPU's
    cache for the block's statistics (column sums as products with a vector of ones, as
    ``_fast.max_feature_std`` does); a NaN or an infinity shows in those sums, so the exact
    ``isfinite`` pass runs only on a block whose sums are not finite."""
    count = 0
    mean = m2 = None
    ones = work = None
    for _, chunk in X.chunks(max(1, CHECK_BYTES // max(X.row_bytes, 1)), reuse=True):
        c = chunk if chunk.dtype.kind == "f" else chunk.astype(np.float64)
        k = c.shape[0]                    # in the rows' precision (a scale check), merged in float64
        if ones is None or ones.size < k or ones.dtype != c.dtype:
            ones, work = np.ones(k, c.dtype), np.empty_like(c)
        with np.errstate(over="ignore", invalid="ignore"):
            cm = (ones[:k] @ c) / k
            d = np.subtract(c, cm, out=work[:k])
            np.multiply(d, d, out=d)
            cm2 = (ones[:k] @ d).astype(np.float64)
        if not (np.isfinite(cm).all() and np.isfinite(cm2).all()):
            if not np.isfinite(c).all():
                return False, math.nan
            c64 = c.astype(np.float64)    # finite, but too large for sums in its precision
            cm = c64.mean(axis=0)
            cm2 = np.square(c64 - cm).sum(axis=0)
        cm = cm.astype(np.float64)
        if mean is None:
            mean, m2, count = cm, cm2, k
        else:
            delta = cm - mean
            total = count + k
            mean = mean + delta * k / total
            m2 = m2 + cm2 + delta ** 2 * count * k / total
            count = total
    X.release()
    std = np.sqrt(m2 / count) if count > 1 else np.zeros(1)
    return True, float(std.max()) if std.size else 0.0
