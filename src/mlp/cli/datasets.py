"""``mlp datasets``: the built-in data sets, one line each."""

from __future__ import annotations

from .. import datasets as _datasets
from ._common import out


def add_parser(sub) -> None:
    p = sub.add_parser("datasets", help="list the built-in data sets",
                       description="The built-in data sets that DATA may name: examples, features, "
                                   "task and what each one is.")
    p.set_defaults(func=run)


def run(args) -> int:
    rows = [("name", "examples", "features", "task", "description")]
    rows += [(d.name, str(d.n_examples), str(d.n_features), d.task, d.description)
             for d in _datasets.describe()]
    widths = [max(len(r[c]) for r in rows) for c in range(4)]
    for r in rows:
        out("  ".join(cell.ljust(w) for cell, w in zip(r[:4], widths)) + "  " + r[4])
    out("\nUse a name as DATA, e.g. `mlp train moons`, or a .csv / .npz file of your own.")
    return 0
