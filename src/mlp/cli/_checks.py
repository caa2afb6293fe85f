"""What ``mlp train`` says about its data before training: the target column and the task it
chose (always), and what looks like a mistake (a warning each).

A forgotten ``--target`` trains without complaint on the wrong column; whole numbers can be
counts or classes. These lines make the choice visible; ``mlp.data.encode_target`` makes it.
"""

from __future__ import annotations

import numpy as np

from ..data import MAX_AUTO_CLASSES, StandardScaler

CONSTANT_SHARE = 0.95
"""A target with one value in at least this share of the rows (and 20 rows or more) is
"constant-like": a warning asks whether it is the column to predict."""


def _shown(labels, most: int = 6) -> str:
    return ", ".join(map(str, labels[:most])) + (" …" if len(labels) > most else "")


def target_line(data, chosen: str) -> str:
    """``target: 'species' (last column), classification: 3 classes (setosa, versicolor, virginica)``.

    ``chosen`` says where the column came from: "last column", "--target", "the checkpoint's", …
    """
    if data.task == "classification":
        task = f"classification: {len(data.classes)} classes ({_shown(data.classes)})"
    else:
        y = data.y
        task = "regression" + (f" of {y.shape[1]} columns" if y.shape[1] > 1 else "")
        distinct = len(np.unique(y))
        if y.shape[1] == 1 and distinct > 2 and np.all(y == np.round(y)):
            task += (f" ({distinct} distinct whole numbers in {data.n_examples} rows: too many to be "
                     f"classes (more than {MAX_AUTO_CLASSES} or max(10, √n)); --task classification "
                     "reads them as labels)")
    return f"target: {data.target_name!r} ({chosen}), {task}"


def _constant_like(data) -> str | None:
    if data.n_examples < 20 or (data.y.ndim == 2 and data.y.shape[1] > 1):
        return None
    values, counts = np.unique(data.y.reshape(-1), return_counts=True)
    share = counts.max() / data.n_examples
    if share < CONSTANT_SHARE:
        return None
    value = values[counts.argmax()]
    if data.task == "classification":
        value = data.classes[int(value)]
    elif float(value).is_integer():
        value = int(value)
    return (f"the target {data.target_name!r} has one value ({value}) in {share:.0%} of the rows: "
            "always predicting it scores well; is it the column to predict? (--target COLUMN)")


def _label_like_input(data) -> str | None:
    """An input column of only 0 and 1 while the target is numeric (a forgotten --target), or an
    input column equal to the class labels (the model can copy it)."""
    if data.task == "regression":
        if data.y.shape[1] != 1:
            return None
        for name, column in zip(data.feature_names, data.X.T):
            if np.all((column == 0) | (column == 1)) and 0 < column.sum() < column.size:
                return (f"input column {name!r} holds only 0 and 1, like class labels, and the target "
                        f"{data.target_name!r} is numeric (regression): if {name!r} is what to "
                        f"predict, give --target {name}")
        return None
    labels = data.classes
    if not all(isinstance(c, (int, float)) for c in labels):
        return None
    target = np.asarray(labels, dtype=np.float64)[data.y]
    for name, column in zip(data.feature_names, data.X.T):
        if np.array_equal(column, target):
            return (f"input column {name!r} equals the target {data.target_name!r}: the model can "
                    "copy it (drop the column, or is it the target?)")
    return None


def data_warnings(data) -> list[str]:
    """What looks like a mistake in the training data, one sentence each (empty: nothing)."""
    return [w for w in (_constant_like(data), _label_like_input(data)) if w]


def check_values(data, dtype) -> None:
    """Refuse, naming the column, values the network's dtype cannot hold (float32 ends at ±3.4e38:
    it would turn them into "infinite values" the file does not contain)."""
    limit = float(np.finfo(dtype).max)
    columns = [(f"column {n!r}", c) for n, c in zip(data.feature_names, data.X.T)]
    if data.task == "regression":
        columns += [(f"target column {data.target_name!r}", c) for c in data.y.T]
    for name, column in columns:
        top = float(np.max(np.abs(column)))
        if top > limit:
            raise ValueError(f"{data.source}: {name} has a value of {top:.3g}, beyond "
                             f"{np.dtype(dtype).name}'s range (±{limit:.3g}); rescale it, or train "
                             "with --dtype float64")


def fit_scaler(data) -> StandardScaler:
    """The input standardisation of ``data``, or one error naming the columns too large for it."""
    with np.errstate(over="ignore", invalid="ignore"):
        std = data.X.std(axis=0)
        mean = data.X.mean(axis=0)
    bad = [n for n, m, s in zip(data.feature_names, mean, std) if not (np.isfinite(m) and np.isfinite(s))]
    if bad:
        raise ValueError(f"{data.source}: column{'s' if len(bad) > 1 else ''} "
                         f"{', '.join(map(repr, bad[:5]))} {'hold' if len(bad) > 1 else 'holds'} values too "
                         "large to standardise (their squares overflow); rescale them, or give --no-scale")
    return StandardScaler.fit(data.X)
