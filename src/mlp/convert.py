"""``mlp convert``: a CSV or Parquet file larger than memory → a folder of ``.npy`` shards.

This module owns the one streaming pass that turns a table into what
``mlp.sources.open_shards`` reads: ``X-00000.npy``, ``y-00000.npy``, … and a
``meta.json`` with the feature names, the target's classes (or "regression") and
the input scaler's statistics (mean and standard deviation of every feature,
computed in the same pass by Chan's parallel update). The source file is opened
read-only and never modified; the folder is written under a temporary name and
renamed when complete, so a failed conversion leaves nothing behind. It does not
own reading shards (``mlp.sources``) or in-memory CSV files (``mlp.data``).

Memory: one chunk of rows being parsed and one shard being filled (``shard_mb``,
default 64 MB), plus the targets' class codes (4 bytes per row).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path

import numpy as np

from ._progress import tqdm_bar
from .data import (
    TASKS,
    StandardScaler,
    _column_index,
    _numeric_columns,
    _sniff_delimiter,
    encode_target,
)

__all__ = ["convert", "scaler_of"]

FORMAT = "mlp-shards"
CHUNK_ROWS = 8192


class _Stats:
    """Per-feature count, mean and M2 (sum of squared deviations), merged chunk by chunk (Chan et al.)."""

    def __init__(self):
        self.count, self.mean, self.m2, self.maxabs = 0, None, None, None

    def add(self, X: np.ndarray) -> None:
        k = X.shape[0]
        if k == 0:
            return
        cm = X.mean(axis=0)
        cm2 = ((X - cm) ** 2).sum(axis=0)
        amax = np.abs(X).max(axis=0)
        if self.mean is None:
            self.count, self.mean, self.m2, self.maxabs = k, cm, cm2, amax
            return
        total = self.count + k
        delta = cm - self.mean
        self.mean = self.mean + delta * (k / total)
        self.m2 = self.m2 + cm2 + delta ** 2 * (self.count * k / total)
        self.maxabs = np.maximum(self.maxabs, amax)
        self.count = total

    def scaler(self) -> StandardScaler:
        std = np.sqrt(self.m2 / self.count)
        tiny = 1e-12 * np.maximum(self.maxabs, 1.0)        # as StandardScaler.fit
        return StandardScaler(self.mean, np.where(std > tiny, std, 1.0))


def scaler_of(chunks, what: str = "X") -> StandardScaler:
    """The ``StandardScaler`` of rows given in chunks, in one streaming pass (float64; one chunk
    gives exactly ``StandardScaler.fit``'s statistics). ValueError naming NaN or infinite values."""
    stats = _Stats()
    for chunk in chunks:
        chunk = np.asarray(chunk, dtype=np.float64)
        if not np.isfinite(chunk).all():
            raise ValueError(f"{what} contains NaN or infinite values")
        stats.add(chunk)
    if stats.count == 0:
        raise ValueError(f"{what} is empty: 0 examples")
    return stats.scaler()


class _Targets:
    """The target column as codes of its distinct values (decided into classes/regression at the end)."""

    def __init__(self, what: str):
        self.what, self.codes, self.keys, self.where = what, {}, [], []

    def add(self, values, places) -> np.ndarray:
        out = np.empty(len(values), dtype=np.int32)
        codes = self.codes
        for i, v in enumerate(values):
            if v is None or (isinstance(v, str) and v.strip() == ""):
                raise ValueError(f"{self.what}: missing value ({places(i)})")
            key = v.strip() if isinstance(v, str) else float(v)
            code = codes.get(key)
            if code is None:
                code = codes[key] = len(self.keys)
                self.keys.append(key)
                self.where.append(places(i))
            out[i] = code
        return out

    def encode(self, task: str):
        where = self.where
        y_u, classes, task = encode_target(self.keys, task=task, what=self.what, where=lambda i: where[i])
        return y_u, classes, task


class _Writer:
    """Fills shards of ``rows_per_shard`` rows and writes X-NNNNN.npy beside a list of their sizes."""

    def __init__(self, folder: Path, rows_per_shard: int, dtype):
        self.folder, self.rows_per_shard, self.dtype = folder, rows_per_shard, dtype
        self.pending, self.pending_rows, self.sizes = [], 0, []

    def add(self, X: np.ndarray) -> None:
        while X.shape[0]:
            take = min(X.shape[0], self.rows_per_shard - self.pending_rows)
            self.pending.append(X[:take].astype(self.dtype))
            self.pending_rows += take
            X = X[take:]
            if self.pending_rows == self.rows_per_shard:
                self.flush()

    def flush(self) -> None:
        if not self.pending_rows:
            return
        name = f"X-{len(self.sizes):05d}.npy"
        np.save(self.folder / name, np.concatenate(self.pending))
        self.sizes.append(self.pending_rows)
        self.pending, self.pending_rows = [], 0


def _csv_chunks(path: str, bar):
    """(names, generator of (rows, line numbers), the file) over a CSV opened read-only."""
    raw = open(path, "rb")                       # noqa: SIM115 - closed by the generator
    text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
    try:
        first = text.readline()
        text.seek(0)
        reader = csv.reader(text, delimiter=_sniff_delimiter(first), strict=True)
        header = None
        for row in reader:
            if not row or all(cell.strip() == "" for cell in row) and len(row) <= 1:
                continue
            header = [cell.strip() for cell in row]
            break
    except UnicodeDecodeError:
        raw.close()
        raise ValueError(f"{path}: not a text CSV file (it is not UTF-8)") from None
    except csv.Error as exc:
        raw.close()
        raise ValueError(f"{path}: malformed CSV: {exc}") from None
    if header is None:
        raw.close()
        raise ValueError(f"{path}: the CSV file is empty (expected a header row, then data rows)")
    names = [name or f"column{j + 1}" for j, name in enumerate(header)]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raw.close()
        raise ValueError(f"{path}: the header names column {dup!r} twice")

    def chunks():
        done = 0
        try:
            rows, lines = [], []
            for row in reader:
                if not row or all(cell.strip() == "" for cell in row) and len(row) <= 1:
                    continue
                if len(row) != len(names):
                    raise ValueError(f"{path}: line {reader.line_num} has {len(row)} fields but the "
                                     f"header has {len(names)}")
                rows.append(row)
                lines.append(reader.line_num)
                if len(rows) == CHUNK_ROWS:
                    yield rows, lines
                    rows, lines = [], []
                    if bar is not None:
                        pos = raw.tell()
                        bar.update(pos - done)
                        done = pos
            if rows:
                yield rows, lines
        except UnicodeDecodeError:
            raise ValueError(f"{path}: not a text CSV file (it is not UTF-8)") from None
        except csv.Error as exc:
            raise ValueError(f"{path}: line {reader.line_num}: malformed CSV: {exc}") from None
        if bar is not None:
            bar.update(max(0, bar.total - done))

    return names, chunks(), raw


def _parquet_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(path.glob("*.parquet"))
        if not files:
            raise ValueError(f"{path}: no .parquet files in the folder")
        return files
    return [path]


def _parquet_chunks(files, bar):
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError("Parquet files need pyarrow: pip install 'mlp[parquet]'") from None
    names = None
    handles = []
    for f in files:
        try:
            pf = pq.ParquetFile(f)
        except Exception as exc:           # pyarrow raises ArrowInvalid, OSError, …
            raise ValueError(f"{f}: not a readable Parquet file ({exc})") from None
        cols = list(pf.schema_arrow.names)
        if names is None:
            names = cols
        elif cols != names:
            raise ValueError(f"{f}: has columns {', '.join(cols)} but {files[0].name} has "
                             f"{', '.join(names)}: all files need the same columns")
        handles.append((f, pf))

    def chunks():
        row0 = 0
        for f, pf in handles:
            for batch in pf.iter_batches(batch_size=CHUNK_ROWS):
                columns = []
                for j, name in enumerate(names):
                    col = batch.column(j)
                    if col.null_count:
                        first = next(i for i, v in enumerate(col.is_null().to_pylist()) if v)
                        raise ValueError(f"{f}: row {row0 + first + 1}, column {name!r}: missing value "
                                         "(fill or drop missing values first)")
                    columns.append(col)
                yield f, row0, columns
                row0 += batch.num_rows
                if bar is not None:
                    bar.update(batch.nbytes)
            row0 = 0

    return names, chunks()


def _float_column(f, name, col, row0) -> np.ndarray:
    try:
        a = col.to_numpy(zero_copy_only=False)
        a = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{f}: column {name!r} is not numeric ({col.type}); features must be "
                         "numbers") from None
    if not np.isfinite(a).all():
        i = int(np.flatnonzero(~np.isfinite(a))[0])
        raise ValueError(f"{f}: row {row0 + i + 1}, column {name!r}: NaN or infinite value")
    return a


def convert(source, out, *, target: str | None = None, task: str = "auto", dtype="float32",
            shard_mb: float = 64, progress=None) -> dict:
    """Convert a CSV or Parquet file (or a folder of Parquet files) into a folder of ``.npy`` shards.

    Parameters
    ----------
    source : str or os.PathLike
        ``.csv`` (a header row, then one example per row, as ``mlp train`` reads
        them), ``.parquet``, or a folder of ``.parquet`` files with the same columns.
    out : str or os.PathLike
        The folder to write; it must not exist yet (or be empty).
    target : str, optional
        The target column; default the last one.
    task : {"auto", "classification", "regression"}
        As in ``mlp.data.encode_target``.
    dtype : {"float32", "float64"}
        Of the X shards.
    shard_mb : float, default 64
        About this many megabytes of X per shard.
    progress : bool or None
        A tqdm progress bar over the bytes read; None: when stderr is a terminal.

    Returns
    -------
    dict
        What ``meta.json`` holds: ``n_rows``, ``n_features``, ``feature_names``,
        ``target_name``, ``task``, ``classes``, ``dtype``, ``shards`` and
        ``scaler`` (``mean`` and ``scale`` lists).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "t.csv").write_text("a,b,label\\n0,1,x\\n2,3,y\\n4,5,x\\n")
    >>> meta = convert(d / "t.csv", d / "t", progress=False)
    >>> meta["n_rows"], meta["classes"], meta["scaler"]["mean"]
    (3, ['x', 'y'], [2.0, 3.0])
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    if str(dtype) not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    if not (isinstance(shard_mb, (int, float)) and math.isfinite(shard_mb) and shard_mb > 0):
        raise ValueError(f"shard_mb must be a number > 0, got {shard_mb!r}")
    src = Path(os.fspath(source))
    out = Path(os.fspath(out))
    if not src.exists():
        raise FileNotFoundError(2, "no such file", str(src))
    parquet = src.suffix.lower() == ".parquet" or src.is_dir()
    if not parquet and src.suffix.lower() not in (".csv", ".tsv", ".txt", ""):
        raise ValueError(f"{src}: unknown file type {src.suffix!r}; convert takes .csv or .parquet")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"{out}: already exists; choose a new folder (nothing was written)")
    if out.resolve() == src.resolve():
        raise ValueError(f"{out}: the output folder cannot be the source")
    np_dtype = np.dtype(str(dtype))
    size = sum(f.stat().st_size for f in _parquet_files(src)) if parquet else src.stat().st_size
    bar = tqdm_bar(progress, total=size, unit="B", unit_scale=True, desc=f"convert {src.name}")

    if parquet:
        files = _parquet_files(src)
        names, chunks = _parquet_chunks(files, bar)
        raw = None
    else:
        names, chunks, raw = _csv_chunks(str(src), bar)
    label = str(src)
    work = out.with_name(f".{out.name}.partial-{os.getpid()}")
    try:
        if len(names) < 2:
            raise ValueError(f"{label}: only one column ({names[0]!r}): need features and a target")
        t = len(names) - 1 if target is None else _column_index(label, names, target)
        columns = [j for j in range(len(names)) if j != t]
        rows_per_shard = max(1, int(shard_mb * 2**20) // (len(columns) * np_dtype.itemsize))
        out.parent.mkdir(parents=True, exist_ok=True)
        import shutil  # not at the top: it costs ~3 ms of `import mlp`
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        writer = _Writer(work, rows_per_shard, np_dtype)
        stats = _Stats()
        targets = _Targets(f"{label}: target column {names[t]!r}")
        codes = []
        for item in chunks:
            if parquet:
                f, row0, cols = item
                X = np.column_stack([_float_column(f, names[j], cols[j], row0) for j in columns])
                values = cols[t].to_pylist()
                codes.append(targets.add(values, lambda i, f=f, r=row0: f"{f.name} row {r + i + 1}"))
            else:
                rows, lines = item
                X = _numeric_columns(label, names, rows, lines, columns)
                codes.append(targets.add([row[t] for row in rows], lambda i, ln=lines: f"line {ln[i]}"))
            stats.add(X)
            writer.add(X)
        writer.flush()
        if not writer.sizes:
            raise ValueError(f"{label}: no data rows")
        y_u, classes, task_found = targets.encode(task)
        y_all = y_u[np.concatenate(codes)]
        shards, start = [], 0
        for k, rows in enumerate(writer.sizes):
            name = f"y-{k:05d}.npy"
            np.save(work / name, y_all[start:start + rows])
            shards.append({"X": f"X-{k:05d}.npy", "y": name, "rows": int(rows)})
            start += rows
        scaler = stats.scaler()
        meta = {
            "format": FORMAT, "version": 1, "source": str(src), "n_rows": int(stats.count),
            "n_features": len(columns), "feature_names": [names[j] for j in columns],
            "target_name": names[t], "task": task_found,
            "classes": None if classes is None else [c if isinstance(c, str) else c for c in classes],
            "dtype": np_dtype.name, "shards": shards,
            "scaler": {"mean": scaler.mean.tolist(), "scale": scaler.scale.tolist()},
        }
        (work / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        if out.exists():
            out.rmdir()                      # empty, checked above
        os.replace(work, out)
    except BaseException:
        import shutil  # not at the top: it costs ~3 ms of `import mlp`
        shutil.rmtree(work, ignore_errors=True)
        raise
    finally:
        if raw is not None:
            raw.close()
        if bar is not None:
            bar.close()
    return meta
