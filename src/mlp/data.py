"""Data for the command line: CSV and .npz files or built-in names → arrays, and input scaling.

This module owns reading a user's data file (or a built-in data set by name)
into the arrays ``mlp train``, ``predict`` and ``evaluate`` need, with one clear
``ValueError`` for every way a file can be wrong (empty, ragged rows,
non-numeric cells, NaN, an unknown target column), and the input
standardisation :class:`StandardScaler` that a model file stores (both defined,
with ``Data`` and the target rules, in ``mlp._targets`` and re-exported here). It
does not own the built-in data sets themselves (``mlp.datasets``) or model files
(``mlp.io``).

Files:

* CSV: a header row, then one example per row. The target is the column named
  by ``target`` (default: the last column); every other column is a numeric
  feature. A target of numbers that are all integers is read as class labels,
  other numbers as a regression target, and text (``"setosa"``) as class
  labels; ``task`` overrides the guess. Class labels are mapped to indices
  ``0 … k−1`` in sorted order; the labels themselves travel in
  ``Data.classes`` (and into the model file).
* ``.npz``: arrays ``X`` (n, n_features) and, for training, ``y``, read
  without pickle.
"""

from __future__ import annotations

import csv
import io as _io
import math
import os
import sys
from pathlib import Path

import numpy as np

from . import datasets
from ._safetensors import check_memory
from ._targets import (
    MAX_AUTO_CLASSES,
    TASKS,
    Data,
    StandardScaler,
    align_classes,
    as_number,
    class_key,
    encode_target,
    too_many_classes,
)

__all__ = ["MAX_AUTO_CLASSES", "TASKS", "Data", "StandardScaler", "align_classes", "class_key",
           "encode_array_target", "encode_target", "load_csv", "load_data", "load_npz", "too_many_classes"]

# --------------------------------------------------------------------------- CSV


def _sniff_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _open_text(path: str):
    """A CSV source as text: a file, or ``-`` (standard input), a pipe or a device read whole
    (they cannot be rewound)."""
    if path == "-":
        raw = sys.stdin.buffer.read()
    elif os.path.isfile(path):
        return open(path, newline="", encoding="utf-8-sig")
    else:
        with open(path, "rb") as f:
            raw = f.read()
    return _io.StringIO(raw.decode("utf-8-sig"), newline="")


def _read_rows(path: str):
    """Header and data rows of a CSV file, with the file line number of every row."""
    try:
        with _open_text(path) as f:
            first = f.readline()
            f.seek(0)
            reader = csv.reader(f, delimiter=_sniff_delimiter(first), strict=True)
            header, rows, lines = None, [], []
            for row in reader:
                if not row or all(cell.strip() == "" for cell in row) and len(row) <= 1:
                    continue        # blank lines
                if header is None:
                    header = [cell.strip() for cell in row]
                    continue
                rows.append(row)
                lines.append(reader.line_num)
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a text CSV file (it is not UTF-8)") from None
    except csv.Error as exc:
        raise ValueError(f"{path}: malformed CSV: {exc}") from None
    if header is None:
        raise ValueError(f"{path}: the CSV file is empty (expected a header row, then data rows)")
    if not rows:
        raise ValueError(f"{path}: the CSV file has a header but no data rows")
    names = [name or f"column{j + 1}" for j, name in enumerate(header)]
    seen = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{path}: the header names column {name!r} twice")
        seen.add(name)
    for row, line in zip(rows, lines):
        if len(row) != len(names):
            raise ValueError(f"{path}: line {line} has {len(row)} fields but the header has {len(names)}")
    return names, rows, lines


def _numeric_columns(path, names, rows, lines, columns) -> np.ndarray:
    """The given columns as float64 (n, len(columns)); the first bad cell is named."""
    cells = [[row[j] for j in columns] for row in rows]
    try:
        X = np.array(cells, dtype=np.float64).reshape(len(rows), len(columns))
    except ValueError:
        X = None
    if X is not None and np.all(np.isfinite(X)):
        return X
    for row, line in zip(cells, lines):
        for j, cell in zip(columns, row):
            text = cell.strip()
            if text == "":
                raise ValueError(f"{path}: line {line}, column {names[j]!r}: missing value "
                                 "(fill or drop missing values first)")
            num = as_number(text)
            if num is None:
                raise ValueError(f"{path}: line {line}, column {names[j]!r}: {text[:40]!r} is not a "
                                 "number (features must be numeric)")
            if math.isnan(num):
                raise ValueError(f"{path}: line {line}, column {names[j]!r}: NaN value "
                                 "(fill or drop missing values first)")
            if math.isinf(num):
                raise ValueError(f"{path}: line {line}, column {names[j]!r}: infinite value")
    raise ValueError(f"{path}: could not read the features as numbers")  # pragma: no cover


def _column_index(path, names, column: str) -> int:
    if column in names:
        return names.index(column)
    raise ValueError(f"{path}: no column {column!r}; the columns are: {', '.join(names)}")


def _pick_columns(path, names, t, features, by_position: bool) -> list:
    """The feature columns: the model's ``features`` by name (every missing one named), else
    every column but the target."""
    others = [j for j in range(len(names)) if j != t]
    if features is None:
        return others
    missing = [f for f in features if f not in names]
    if not missing:
        columns = [names.index(f) for f in features]
        if t is not None and t in columns:
            raise ValueError(f"{path}: column {names[t]!r} cannot be both the target and a feature")
        return columns
    if by_position and len(others) == len(features):
        return others
    shown = ", ".join(repr(m) for m in missing[:10]) + (" …" if len(missing) > 10 else "")
    how = ("; with --by-position the columns are taken in order, but the file has "
           f"{len(others)} for the model's {len(features)}" if by_position else
           "; rename them, or give --by-position to take the file's columns in order")
    raise ValueError(f"{path}: the model's input column{'s' if len(missing) > 1 else ''} {shown} "
                     f"{'are' if len(missing) > 1 else 'is'} not in the file (its columns: "
                     f"{', '.join(names[:12])}{' …' if len(names) > 12 else ''}){how}")


def load_csv(path, *, target: str | None = None, task: str = "auto", need_target: bool = True,
             features=None, classes=None, by_position: bool = False, drop=()) -> Data:
    """Read a CSV file with a header row.

    Parameters
    ----------
    path : str or os.PathLike
    target : str, optional
        Name of the target column; default the last column.
    task : {"auto", "classification", "regression"}
        How to read the target (see :func:`encode_target`).
    need_target : bool, default True
        False for prediction: a target column is then optional; it is dropped
        when present (see Notes).
    features : list of str, optional
        The feature names a trained model expects: those columns are used, by name,
        in the model's order (other columns are ignored); a missing one is an error
        that names every missing column.
    classes : list, optional
        A trained model's class labels (see :func:`encode_target`).
    by_position : bool, default False
        When ``features`` are not all in the header, take the file's columns (all
        but the target) in order instead, if there are as many.
    drop : sequence of str
        Columns to ignore (an ID or free-text column); each must exist.

    Returns
    -------
    Data

    Raises
    ------
    ValueError
        Empty file, ragged rows, non-numeric cells, missing or NaN values, an
        unknown target column — with the line and column.

    Notes
    -----
    Without ``need_target`` the target column is only dropped when ``target``
    names a column of the header; otherwise every column is a feature unless
    ``features`` picks them.
    """
    path = os.fspath(path)
    names, rows, lines = _read_rows(path)
    drop = [drop] if isinstance(drop, str) else list(drop)
    for column in drop:
        _column_index(path, names, column)
    if drop:
        keep = [j for j, name in enumerate(names) if name not in drop]
        names = [names[j] for j in keep]
        rows = [[row[j] for j in keep] for row in rows]
    t = None
    if target is not None:
        if need_target or target in names:
            t = _column_index(path, names, target)
    elif need_target:
        t = len(names) - 1
    if t is not None and len(names) < 2 and need_target:
        raise ValueError(f"{path}: only one column ({names[0]!r}): need features and a target")
    columns = _pick_columns(path, names, t, features, by_position)
    if not columns:
        raise ValueError(f"{path}: no feature columns")
    X = _numeric_columns(path, names, rows, lines, columns)
    data = Data(X=X, feature_names=[names[j] for j in columns], source=path)
    if t is not None and need_target:
        values = [row[t] for row in rows]
        data.y, data.classes, data.task = encode_target(
            values, task=task, classes=classes, what=f"{path}: target column {names[t]!r}",
            where=lambda i: f"line {lines[i]}")
        data.target_name = names[t]
    return data


# --------------------------------------------------------------------------- .npz


def _check_npz(path: str) -> None:
    """Say what the file is when it is not an .npz archive (a CSV or an .npy renamed), and refuse
    arrays that claim more memory than there is, before NumPy allocates them."""
    import zipfile  # not at the top: zipfile (with shutil, bz2, lzma) costs ~3 ms of `import mlp`
    with open(path, "rb") as f:
        head = f.read(8)
    if not head.startswith(b"PK"):
        if head.startswith(b"\x93NUMPY"):
            raise ValueError(f"{path}: not a readable .npz file: it is an .npy array file; "
                             "save with np.savez(path, X=X, y=y)")
        text = head.replace(b"\r", b"").replace(b"\n", b"").replace(b"\t", b"")
        if text.isascii() and all(32 <= c < 127 for c in text):
            raise ValueError(f"{path}: not a readable .npz file: it is a text file (a CSV?); "
                             "rename it to .csv, or save with np.savez(path, X=X, y=y)")
        raise ValueError(f"{path}: not a readable .npz file (an .npz is a zip archive of .npy "
                         "arrays); save with np.savez(path, X=X, y=y)")
    try:
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                if not name.endswith(".npy"):
                    continue
                with archive.open(name) as member:
                    version = np.lib.format.read_magic(member)
                    read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                            else np.lib.format.read_array_header_2_0)
                    shape, _, dtype = read(member)
                nbytes = math.prod(shape) * dtype.itemsize
                check_memory(2 * nbytes, f"array {name[:-4]} of shape {shape} and dtype {dtype}")
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ValueError(f"{path}: not a readable .npz file ({exc})") from None
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def load_npz(path, *, task: str = "auto", need_target: bool = True, classes=None) -> Data:
    """Read an ``.npz`` file with arrays ``X`` (n, n_features) and ``y`` (n,) or (n, k).

    Loaded with ``allow_pickle=False``: object arrays are refused, no code runs.
    """
    import zipfile  # not at the top: zipfile (with shutil, bz2, lzma) costs ~3 ms of `import mlp`
    path = os.fspath(path)
    _check_npz(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError(f"{path}: not a readable .npz file ({exc})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: not an .npz archive (a single .npy array?); "
                         "save with np.savez(path, X=X, y=y)")
    with archive:
        keys = list(archive.files)
        if "X" not in keys or (need_target and "y" not in keys):
            need = "X and y" if need_target else "X"
            raise ValueError(f"{path}: an .npz file needs arrays {need}; found: {', '.join(keys) or 'none'}")
        try:
            X = archive["X"]
            y = archive["y"] if "y" in keys else None
        except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
            raise ValueError(f"{path}: cannot read its arrays ({exc})") from None
    if X.dtype.kind not in "biuf" or X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{path}: X must be a non-empty numeric 2-D array (n, n_features), "
                         f"got dtype {X.dtype} and shape {X.shape}")
    X = X.astype(np.float64)
    if not np.all(np.isfinite(X)):
        bad = np.argwhere(~np.isfinite(X))[0]
        raise ValueError(f"{path}: X[{bad[0]}, {bad[1]}] is NaN or infinite")
    data = Data(X=X, feature_names=[f"x{j}" for j in range(X.shape[1])], source=path)
    if y is None:
        return data
    if y.shape[:1] != X.shape[:1] or y.ndim > 2:
        raise ValueError(f"{path}: y has shape {y.shape} but X has {X.shape[0]} rows")
    data.y, data.classes, data.task = encode_array_target(y, task=task, classes=classes, what=f"{path}: y")
    data.target_name = "y"
    return data


def encode_array_target(y, *, task: str = "auto", classes=None, what: str = "y"):
    """``encode_target`` for a target array (an ``.npz``'s or ``.npy``'s y): (y, classes, task).

    Several numeric columns are a regression target; one column (or 1-D) of numbers or
    strings goes through ``encode_target``."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        if y.dtype.kind not in "biuf" or task == "classification" or classes is not None:
            raise ValueError(f"{what} has {y.shape[1]} columns: only a numeric regression target "
                             "can have several columns (give class labels as one column)")
        y = y.astype(np.float64)
        if not np.all(np.isfinite(y)):
            raise ValueError(f"{what} contains NaN or infinite values")
        return y, None, "regression"
    flat = y.reshape(-1)
    if flat.dtype.kind in "US":
        values = [str(v) for v in flat]
    elif flat.dtype.kind in "biuf":
        values = flat.astype(np.float64).tolist()
    else:
        raise ValueError(f"{what} has dtype {flat.dtype}: use numbers or strings")
    return encode_target(values, task=task, classes=classes, what=what)


# --------------------------------------------------------------------------- dispatch


def load_data(source, *, target: str | None = None, task: str = "auto", need_target: bool = True,
              features=None, classes=None, seed: int | None = 0, n: int | None = None,
              noise: float | None = None, by_position: bool = False, drop=()) -> Data:
    """Data from a file (``.csv``, ``.npz``) or a built-in data set name (``mlp.datasets.NAMES``).

    A path that exists wins over a built-in name. Built-in data sets take
    ``seed`` (default 0, so that ``train`` and ``evaluate`` see the same
    data), ``n`` and ``noise`` where they apply.

    Parameters
    ----------
    source : str or os.PathLike
    target, task, need_target, features, classes, by_position, drop
        As in :func:`load_csv` (``drop`` and ``by_position`` apply to CSV files only).
    seed, n, noise
        For the generated built-in data sets (circles, moons, spirals, gaussians).

    Returns
    -------
    Data

    Examples
    --------
    >>> data = load_data("xor")
    >>> data.X.shape, data.y.tolist(), data.classes
    ((4, 2), [0, 1, 1, 0], [0, 1])
    """
    text = os.fspath(source)
    path = Path(text)
    if path.is_dir():
        raise ValueError(f"{text}: is a folder, not a data file")
    if text == "-" or (path.exists() and not path.is_file()):     # standard input, a pipe, a device
        if path.suffix.lower() == ".npz":
            raise ValueError(f"{text}: an .npz archive must be a regular file (it is read by seeking)")
        data = load_csv(text, target=target, task=task, need_target=need_target, features=features,
                        classes=classes, by_position=by_position, drop=drop)
        data.source = "stdin" if text == "-" else text
        return data
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".npz":
            return load_npz(text, task=task, need_target=need_target, classes=classes)
        if suffix in (".csv", ".txt", ".tsv", ""):
            return load_csv(text, target=target, task=task, need_target=need_target,
                            features=features, classes=classes, by_position=by_position, drop=drop)
        raise ValueError(f"{text}: unknown file type {suffix!r}; use a .csv or .npz file")
    key = text.strip().lower().replace("_", "-")
    if key not in datasets.NAMES and key.rstrip("-") not in datasets.NAMES:
        if os.sep in text or "." in text:
            raise FileNotFoundError(2, "no such file", text)
        raise ValueError(f"{text!r} is neither a file nor a built-in data set "
                         f"({', '.join(datasets.NAMES)})")
    info = {row.name: row for row in datasets.describe()}[key if key in datasets.NAMES else key.rstrip("-")]
    generated = info.name in ("circles", "moons", "spirals", "gaussians")
    kwargs = {}
    if generated:
        kwargs["seed"] = seed
        if n is not None:
            kwargs["n"] = n
        if noise is not None:
            kwargs["noise"] = noise
    elif n is not None or noise is not None:
        raise ValueError(f"--n and --noise apply to circles, moons, spirals and gaussians, not {info.name}")
    X, y = datasets.load(info.name, **kwargs)
    X = np.asarray(X, dtype=np.float64)
    data = Data(X=X, feature_names=[f"x{j}" for j in range(X.shape[1])], source=info.name)
    if need_target or classes is not None:
        values = np.asarray(y, dtype=np.float64).reshape(-1).tolist()
        data.y, data.classes, data.task = encode_target(values, task=task, classes=classes,
                                                        what=f"{info.name}: y")
        data.target_name = "y"
    return data
