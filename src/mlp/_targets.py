"""What reading data produces: ``Data``, the target's encoding and the input scaling (layer 0).

This module owns the rules that turn a target column into classes or a regression
target (``encode_target``: scikit-learn's ``type_of_target`` with a sanity check on the
number of classes), how labels compare (``class_key``), and the input standardisation
``StandardScaler`` that a model applies. Reading files is ``mlp.data``, which re-exports
all of this.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["MAX_AUTO_CLASSES", "TASKS", "Data", "StandardScaler", "align_classes", "as_number",
           "class_key", "encode_target", "label_value", "too_many_classes"]

TASKS = ("auto", "classification", "regression")

MAX_AUTO_CLASSES = 50
"""``task="auto"``: whole-number targets with more distinct values than this (or than
max(10, √n)) are read as a regression target, not as classes."""


@dataclass
class Data:
    """Inputs and (optionally) targets read for the command line.

    Attributes
    ----------
    X : ndarray of shape (n, n_features), float64
    y : ndarray or None
        Classification: int64 class indices of shape (n,), indexing ``classes``.
        Regression: float64 targets of shape (n, n_targets). None when the data
        has no target (prediction).
    classes : list or None
        Class labels (str, int or float), index → label; None for regression.
    task : str or None
        ``"classification"``, ``"regression"`` or None (no target).
    feature_names : list of str
    target_name : str or None
    source : str
        Where the data came from (a file name or a built-in name).
    """

    X: np.ndarray
    y: np.ndarray | None = None
    classes: list | None = None
    task: str | None = None
    feature_names: list = field(default_factory=list)
    target_name: str | None = None
    source: str = ""

    @property
    def n_examples(self) -> int:
        return self.X.shape[0]

    @property
    def n_features(self) -> int:
        return self.X.shape[1]


# --------------------------------------------------------------------------- input scaling


class StandardScaler:
    """Input standardisation per feature: x′ = (x − mean) / scale.

    ``scale`` is the standard deviation of each feature on the training data
    (population, ddof = 0), with 1 for constant features so they map to 0
    instead of dividing by zero. A model file stores both vectors; ``mlp
    predict`` applies them before the network sees the data.

    Parameters
    ----------
    mean : array_like of shape (n_features,)
    scale : array_like of shape (n_features,), all > 0

    Examples
    --------
    >>> import numpy as np
    >>> scaler = StandardScaler.fit(np.array([[0.0, 5.0], [2.0, 5.0]]))
    >>> scaler.mean, scaler.scale
    (array([1., 5.]), array([1., 1.]))
    >>> scaler.transform(np.array([[2.0, 5.0]]))
    array([[1., 0.]])
    """

    def __init__(self, mean, scale):
        mean = np.asarray(mean, dtype=np.float64).reshape(-1).copy()
        scale = np.asarray(scale, dtype=np.float64).reshape(-1).copy()
        if mean.shape != scale.shape:
            raise ValueError(f"mean has {mean.size} features but scale has {scale.size}")
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(scale)) and np.all(scale > 0)):
            raise ValueError("mean must be finite and scale finite and positive")
        self.mean, self.scale = mean, scale

    @classmethod
    def fit(cls, X) -> StandardScaler:
        """The scaler that standardises ``X`` (n, n_features): mean 0, standard deviation 1."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[0] == 0:
            raise ValueError(f"StandardScaler.fit needs a non-empty 2-D array, got shape {X.shape}")
        std = X.std(axis=0)
        # Constant (or numerically constant) features keep scale 1: they become 0, not NaN.
        tiny = 1e-12 * np.maximum(np.abs(X).max(axis=0), 1.0)
        return cls(X.mean(axis=0), np.where(std > tiny, std, 1.0))

    @property
    def n_features(self) -> int:
        return self.mean.size

    def transform(self, X) -> np.ndarray:
        """x′ = (x − mean) / scale for ``X`` of shape (n, n_features) (float64)."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"the scaler expects {self.n_features} features, got shape {X.shape}")
        return (X - self.mean) / self.scale

    def inverse_transform(self, X) -> np.ndarray:
        """x = x′ · scale + mean."""
        return np.asarray(X, dtype=np.float64) * self.scale + self.mean

    def __eq__(self, other) -> bool:
        return (isinstance(other, StandardScaler) and np.array_equal(self.mean, other.mean)
                and np.array_equal(self.scale, other.scale))

    __hash__ = None

    def __repr__(self) -> str:
        return f"StandardScaler(n_features={self.n_features})"


# --------------------------------------------------------------------------- targets


def as_number(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def label_value(value: float):
    """A numeric class label: an int when it is integral (``1.0`` → ``1``)."""
    return int(value) if float(value).is_integer() else float(value)


def encode_target(values, *, task: str = "auto", classes=None, what: str = "target", where=None):
    """Turn raw target values into class indices or regression targets.

    Parameters
    ----------
    values : sequence of str or numbers, length n
        One target per example (the cells of the target column).
    task : {"auto", "classification", "regression"}
        ``"auto"`` follows scikit-learn's ``type_of_target`` with a sanity check: text
        is class labels, fractional numbers a regression target, and whole numbers
        class labels unless there are too many of them to be classes — more than
        ``MAX_AUTO_CLASSES`` (50) distinct values, or more than max(10, √n) — which
        makes them a regression target too (a count, a price, a score of 25–346).
    classes : list, optional
        Known class labels (a trained model's); values are mapped onto them and
        a label outside them is an error. Implies classification.
    what : str
        How error messages name the values.
    where : callable, optional
        ``where(i)`` names example ``i`` in error messages (default "example i+1").

    Returns
    -------
    y : ndarray
        int64 class indices (n,) or float64 targets (n, 1).
    classes : list or None
        Sorted class labels (numbers or strings), None for regression.
    task : str
        ``"classification"`` or ``"regression"``.

    Examples
    --------
    >>> y, classes, task = encode_target(["b", "a", "b"])
    >>> y.tolist(), classes, task
    ([1, 0, 1], ['a', 'b'], 'classification')
    >>> encode_target(["0.5", "1.5"])[2]
    'regression'
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    where = where or (lambda i: f"example {i + 1}")
    values = list(values)
    if not values:
        raise ValueError(f"{what} is empty")
    numbers = []
    for i, v in enumerate(values):
        if isinstance(v, str):
            cell = v.strip()
            if cell == "":
                raise ValueError(f"{what}: missing value ({where(i)})")
            num = as_number(cell)
        else:
            num = float(v)
        if num is not None and not math.isfinite(num):
            raise ValueError(f"{what}: {'NaN' if math.isnan(num) else 'infinite'} value ({where(i)})")
        numbers.append(num)
    numeric = all(n is not None for n in numbers)

    if classes is not None:
        classes = list(classes)
        numeric_classes = all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in classes)
        if numeric_classes and numeric:
            index = {float(c): k for k, c in enumerate(classes)}
            keys = numbers
        else:
            index = {str(c): k for k, c in enumerate(classes)}
            keys = [v.strip() if isinstance(v, str) else str(label_value(v)) for v in values]
        y = np.empty(len(keys), dtype=np.int64)
        for i, key in enumerate(keys):
            if key not in index:
                shown = label_value(key) if isinstance(key, float) else key
                raise ValueError(f"{what}: label {shown!r} ({where(i)}) is not one of the model's "
                                 f"classes: {', '.join(map(str, classes))}")
            y[i] = index[key]
        return y, classes, "classification"

    if task == "regression" or (task == "auto" and numeric and (
            not all(float(n).is_integer() for n in numbers) or too_many_classes(numbers))):
        if not numeric:
            bad = next(i for i, n in enumerate(numbers) if n is None)
            raise ValueError(f"{what}: {str(values[bad]).strip()[:40]!r} ({where(bad)}) is not a "
                             "number; a regression target must be numeric")
        return np.asarray(numbers, dtype=np.float64).reshape(-1, 1), None, "regression"

    if numeric:
        labels = sorted({label_value(n) for n in numbers})
        index = {float(c): k for k, c in enumerate(labels)}
        y = np.array([index[n] for n in numbers], dtype=np.int64)
    else:
        texts = [v.strip() if isinstance(v, str) else str(label_value(v)) for v in values]
        labels = sorted(set(texts))
        index = {c: k for k, c in enumerate(labels)}
        y = np.array([index[t] for t in texts], dtype=np.int64)
    if len(labels) < 2:
        raise ValueError(f"{what} has a single class ({labels[0]!r}): a classifier needs at least two")
    return y, labels, "classification"


def too_many_classes(values, n: int | None = None) -> bool:
    """Whether whole-number target ``values`` have too many distinct values to be class labels
    (``task="auto"`` then reads them as a regression target; see :func:`encode_target`). ``n``:
    the number of examples, when ``values`` are only the distinct ones (a streaming pass)."""
    k = len(set(values))
    n = len(values) if n is None else n
    return k > 2 and (k > MAX_AUTO_CLASSES or k > max(10.0, math.sqrt(n)))


def class_key(label):
    """Compare labels as numbers when they are numbers (``"1"`` == ``1`` == ``1.0``), else as text."""
    if isinstance(label, (int, float, np.integer, np.floating)) and not isinstance(label, bool):
        return ("number", float(label))
    text = str(label).strip()
    number = as_number(text)
    return ("number", number) if number is not None else ("text", text)


def align_classes(data: Data, classes, what: str = "data") -> Data:
    """Re-index ``data.y`` onto a trained model's class labels ``classes`` (in place).

    Raises ``ValueError`` naming a label of the data that the model does not know.

    Examples
    --------
    >>> data = Data(X=np.zeros((3, 1)), y=np.array([0, 1, 0]), classes=["b", "c"],
    ...             task="classification")
    >>> align_classes(data, ["a", "b", "c"]).y.tolist()
    [1, 2, 1]
    """
    lookup = {class_key(c): k for k, c in enumerate(classes)}
    mapping = []
    for label in data.classes or []:
        key = class_key(label)
        if key not in lookup:
            raise ValueError(f"{what}: label {label!r} is not one of the model's classes: "
                             f"{', '.join(map(str, classes))}")
        mapping.append(lookup[key])
    data.y = np.asarray(mapping, dtype=np.int64)[data.y]
    data.classes = list(classes)
    return data
