"""The playground's data: TensorFlow Playground's six problems, mlp's own, the lecture's XOR, CSV.

Every problem is ``make(name, n, noise, seed, n_classes) -> (X, y, task)`` with ``X``
float64 of shape (n, 2) and ``y`` int64 class labels (classification) or float64
values (regression). TensorFlow Playground's problems follow its ``dataset.ts``
(points in [−6, 6]², its labels −1/+1 mapped to classes 0/1); ``noise`` is a
percentage 0–50 as on its slider. mlp's own (``moons``, ``gaussians``,
``spirals``) come from ``mlp.datasets`` with noise = percent / 100 (×2 for the
blobs). ``xor4`` is the lecture's truth table.

The input features the network sees are computed from (x1, x2) by
:func:`features` (x1, x2, x1², x2², x1x2, sin x1, sin x2, as TF Playground).
"""

from __future__ import annotations

import csv
import io
import math

import numpy as np

from mlp import datasets

#: problem name -> (label on the page, task, source)
PROBLEMS = {
    "circle": ("Circle", "classification", "tf"),
    "xor": ("Exclusive or", "classification", "tf"),
    "gauss": ("Two Gaussians", "classification", "tf"),
    "spiral": ("Spiral", "classification", "tf"),
    "reg-plane": ("Plane (regression)", "regression", "tf"),
    "reg-gauss": ("Multi-Gaussian (regression)", "regression", "tf"),
    "moons": ("Moons (mlp)", "classification", "mlp"),
    "gaussians": ("Gaussian blobs (mlp)", "classification", "mlp"),
    "spirals": ("Spirals (mlp)", "classification", "mlp"),
    "xor4": ("XOR truth table (lecture)", "classification", "lecture"),
}

#: feature name -> (label, function of x1, x2)
FEATURES = {
    "x1": ("x₁", lambda a, b: a),
    "x2": ("x₂", lambda a, b: b),
    "x1sq": ("x₁²", lambda a, b: a * a),
    "x2sq": ("x₂²", lambda a, b: b * b),
    "x1x2": ("x₁x₂", lambda a, b: a * b),
    "sinx1": ("sin x₁", lambda a, b: np.sin(a)),
    "sinx2": ("sin x₂", lambda a, b: np.sin(b)),
}

#: CSV upload limits
MAX_CSV_BYTES = 1 << 20
MAX_CSV_ROWS = 10_000
MAX_CSV_COLUMNS = 50


def features(X, names) -> np.ndarray:
    """The network's inputs: one column per feature name, computed from X of shape (n, 2)."""
    X = np.asarray(X, dtype=np.float64)
    unknown = [f for f in names if f not in FEATURES]
    if unknown:
        raise ValueError(f"unknown feature {unknown[0]!r}; known: {', '.join(FEATURES)}")
    if not names:
        raise ValueError("choose at least one input feature")
    return np.column_stack([FEATURES[f][1](X[:, 0], X[:, 1]) for f in names])


def _tf_circle(n, noise, rng):
    radius = 5.0
    pts = []
    for inside in (True, False):
        for _ in range(n // 2 if inside else n - n // 2):
            r = rng.uniform(0, radius * 0.5) if inside else rng.uniform(radius * 0.7, radius)
            angle = rng.uniform(0, 2 * math.pi)
            x, y = r * math.sin(angle), r * math.cos(angle)
            nx, ny = rng.uniform(-radius, radius) * noise, rng.uniform(-radius, radius) * noise
            label = 1 if math.hypot(x + nx, y + ny) < radius * 0.5 else 0
            pts.append((x, y, label))
    return pts


def _tf_xor(n, noise, rng):
    pts = []
    for _ in range(n):
        x, y = rng.uniform(-5, 5), rng.uniform(-5, 5)
        x += 0.3 if x > 0 else -0.3
        y += 0.3 if y > 0 else -0.3
        nx, ny = rng.uniform(-5, 5) * noise, rng.uniform(-5, 5) * noise
        pts.append((x, y, 1 if (x + nx) * (y + ny) >= 0 else 0))
    return pts


def _tf_gauss(n, noise, rng):
    variance = 0.5 + (4 - 0.5) * noise / 0.5
    pts = []
    for cx, cy, label, m in ((2, 2, 1, n // 2), (-2, -2, 0, n - n // 2)):
        for _ in range(m):
            pts.append((rng.normal(cx, math.sqrt(variance)), rng.normal(cy, math.sqrt(variance)), label))
    return pts


def _tf_spiral(n, noise, rng):
    pts = []
    for delta, label, m in ((0.0, 1, n // 2), (math.pi, 0, n - n // 2)):
        for i in range(m):
            r = i / m * 5
            t = 1.75 * i / m * 2 * math.pi + delta
            pts.append((r * math.sin(t) + rng.uniform(-1, 1) * noise,
                        r * math.cos(t) + rng.uniform(-1, 1) * noise, label))
    return pts


def _tf_plane(n, noise, rng):
    pts = []
    for _ in range(n):
        x, y = rng.uniform(-6, 6), rng.uniform(-6, 6)
        nx, ny = rng.uniform(-6, 6) * noise, rng.uniform(-6, 6) * noise
        pts.append((x, y, (x + nx + y + ny) / 10))
    return pts


_GAUSS_CENTRES = ((-4, 2.5, 1), (0, 2.5, -1), (4, 2.5, 1), (-4, -2.5, -1), (0, -2.5, 1), (4, -2.5, -1))


def _tf_reg_gauss(n, noise, rng):
    def label(x, y):
        value = 0.0
        for cx, cy, sign in _GAUSS_CENTRES:
            v = sign * min(1.0, max(0.0, 1 - math.hypot(x - cx, y - cy) / 2))
            if abs(v) > abs(value):
                value = v
        return value
    pts = []
    for _ in range(n):
        x, y = rng.uniform(-6, 6), rng.uniform(-6, 6)
        nx, ny = rng.uniform(-6, 6) * noise, rng.uniform(-6, 6) * noise
        pts.append((x, y, label(x + nx, y + ny)))
    return pts


_TF = {"circle": _tf_circle, "xor": _tf_xor, "gauss": _tf_gauss, "spiral": _tf_spiral,
       "reg-plane": _tf_plane, "reg-gauss": _tf_reg_gauss}


def make(name: str, n: int = 500, noise: float = 0, seed: int = 1, n_classes: int = 2):
    """``(X, y, task)`` for a named problem; ``noise`` in percent (0–50), as TF Playground's slider.

    Rows come in a random order fixed by ``seed`` (so a train/test split by position is random).

    >>> X, y, task = make("xor4")
    >>> X.tolist(), y.tolist(), task
    ([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [0, 1, 1, 0], 'classification')
    """
    if name not in PROBLEMS:
        raise ValueError(f"unknown problem {name!r}; known: {', '.join(PROBLEMS)}")
    task = PROBLEMS[name][1]
    if name == "xor4":
        X, y = datasets.xor()
        return X, y[:, 0].astype(np.int64), task
    n, seed, n_classes = int(n), int(seed), int(n_classes)
    if not 4 <= n <= 5000:
        raise ValueError(f"number of points must be in 4..5000, got {n}")
    noise = float(noise) / 100
    if not 0 <= noise <= 0.5:
        raise ValueError(f"noise must be 0..50 (percent), got {noise * 100:g}")
    rng = np.random.default_rng(seed)
    if name in _TF:
        pts = np.array(_TF[name](n, noise, rng), dtype=np.float64)
        order = rng.permutation(n)
        X, y = pts[order, :2], pts[order, 2]
        return X, (y.astype(np.int64) if task == "classification" else y), task
    if not 2 <= n_classes <= 8:
        raise ValueError(f"classes must be 2..8, got {n_classes}")
    if name == "moons":
        X, y = datasets.moons(n, noise=noise, seed=rng)
    elif name == "gaussians":
        X, y = datasets.gaussians(n, noise=2 * noise, n_classes=n_classes, seed=rng)
    else:
        X, y = datasets.spirals(n, noise=noise, n_classes=n_classes, seed=rng)
    return X, y.astype(np.int64), task


def domain(name: str, X) -> tuple[float, float, float, float]:
    """The square region (x_min, x_max, y_min, y_max) shown on the heatmap: TF Playground's
    [−6, 6]² for its problems, else the points' box, padded."""
    if name in _TF or len(X) == 0:
        return (-6.0, 6.0, -6.0, 6.0)
    lo, hi = X.min(axis=0), X.max(axis=0)
    centre, half = (lo + hi) / 2, max(float((hi - lo).max()) / 2, 0.5) * 1.15
    return (float(centre[0] - half), float(centre[0] + half), float(centre[1] - half),
            float(centre[1] + half))


def parse_csv(text: str) -> dict:
    """Parse an uploaded CSV (numbers only, an optional header row) into columns.

    Returns ``{"columns": [names], "data": ndarray (rows, columns)}``; raises one
    ``ValueError`` naming the problem (row, column) for anything else.

    >>> parse_csv("a,b,c\\n1,2,0\\n3,4,1\\n")["columns"]
    ['a', 'b', 'c']
    """
    if len(text.encode("utf-8")) > MAX_CSV_BYTES:
        raise ValueError(f"the CSV is larger than {MAX_CSV_BYTES // 1024} KiB")
    if "\x00" in text:
        raise ValueError("the file is not a text CSV (it contains NUL bytes)")
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as e:
        raise ValueError(f"the CSV cannot be read: {e}") from None
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise ValueError("the CSV is empty")

    def number(cell):
        try:
            v = float(cell)
        except ValueError:
            return None
        return v

    header = None
    if any(number(c) is None for c in rows[0]):
        header = [c.strip()[:40] or f"column {i + 1}" for i, c in enumerate(rows[0])]
        rows = rows[1:]
    if not rows:
        raise ValueError("the CSV has a header but no data rows")
    width = len(rows[0]) if header is None else len(header)
    if width > MAX_CSV_COLUMNS:
        raise ValueError(f"the CSV has {width} columns; at most {MAX_CSV_COLUMNS}")
    if width < 3:
        raise ValueError(f"the CSV needs at least 3 columns (two features and a target), it has {width}")
    if len(rows) > MAX_CSV_ROWS:
        raise ValueError(f"the CSV has {len(rows)} rows; at most {MAX_CSV_ROWS}")
    data = np.empty((len(rows), width))
    for i, row in enumerate(rows):
        line = i + 1 + (header is not None)
        if len(row) != width:
            raise ValueError(f"row {line} has {len(row)} values, the first has {width}")
        for j, cell in enumerate(row):
            v = number(cell)
            if v is None or not math.isfinite(v):
                raise ValueError(f"row {line}, column {j + 1}: {cell.strip()[:20]!r} is not a finite number")
            data[i, j] = v
    return {"columns": header or [f"column {j + 1}" for j in range(width)], "data": data}


def from_columns(data, x1: int, x2: int, target: int):
    """``(X, y, task, classes)`` from parsed CSV data: two feature columns and a target column.

    Features are standardised (mean 0, standard deviation 1). A target of at most
    10 distinct integers is a class label (mapped to 0 … k−1); anything else is regression.
    """
    cols = data.shape[1]
    for what, j in (("x1", x1), ("x2", x2), ("target", target)):
        if not 0 <= j < cols:
            raise ValueError(f"{what} column {j + 1} does not exist (the CSV has {cols})")
    if len({x1, x2, target}) < 3:
        raise ValueError("choose three different columns for x1, x2 and the target")
    X = data[:, [x1, x2]].astype(np.float64)
    scale = X.std(axis=0)
    scale[scale == 0] = 1
    X = (X - X.mean(axis=0)) / scale
    t = data[:, target]
    values = np.unique(t)
    if len(values) <= 10 and np.all(values == np.round(values)):
        if len(values) < 2:
            raise ValueError("the target column has one value only: nothing to learn")
        return X, np.searchsorted(values, t).astype(np.int64), "classification", values.tolist()
    return X, t.astype(np.float64), "regression", None
