"""Digits with ``fit`` defaults: test accuracy and fit time of the 64-100-10 ReLU/softmax net.

scikit-learn's ``load_digits``, pixels ÷ 16, ``train_test_split(test_size=0.25,
random_state=0)``; for seeds 0 … 4: ``Network.from_sizes([64, 100, 10],
hidden="relu", output="softmax", seed=s).fit(X_train, y_train)`` with every option
at its default. The target: median test accuracy ≥ 97.5 %, every fit under 10 s on
2 cores.

Usage::

    python benchmarks/digits_accuracy.py [--seeds 5] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import warnings

import numpy as np
from _common import write_section

import mlp

BEGIN, END = "<!-- digits-fit-defaults:begin -->", "<!-- digits-fit-defaults:end -->"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    from sklearn.model_selection import train_test_split

    X, y = mlp.datasets.digits()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    rows = []
    for seed in range(args.seeds):
        net = mlp.Network.from_sizes([64, 100, 10], hidden="relu", output="softmax", seed=seed)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            t0 = time.perf_counter()
            history = net.fit(X_train, y_train)
            seconds = time.perf_counter() - t0
        accuracy = float(np.mean(net.predict_classes(X_test) == y_test))
        rows.append((seed, accuracy, seconds, len(history), len(caught)))
        print(f"seed {seed}: test accuracy {accuracy:.4f}, fit {seconds:.2f} s, {len(history)} epochs, "
              f"{len(caught)} warnings", flush=True)
    median = statistics.median(r[1] for r in rows)
    lines = ["| seed | test accuracy | fit time | epochs | warnings |", "|---|---|---|---|---|"]
    lines += [f"| {s} | {a:.4f} | {t:.2f} s | {e} | {w} |" for s, a, t, e, w in rows]
    text = f"""## Digits with fit defaults

`benchmarks/digits_accuracy.py`: the 64-100-10 ReLU/softmax network on scikit-learn's digits
(÷ 16, `train_test_split(test_size=0.25, random_state=0)`: 1347 training, 450 test images),
`net.fit(X_train, y_train)` with every option at its default (Adam, lr 1e-3, batch_size
"auto" = 200, epochs "auto" = 1429 epochs ≈ 10,000 steps, cross-entropy).

{chr(10).join(lines)}

Median test accuracy **{median:.4f}** (target ≥ 0.975); slowest fit {max(r[2] for r in rows):.2f} s
(target < 10 s on 2 cores).

Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, NumPy
{np.__version__}, mlp {mlp.__version__}; {time.strftime('%Y-%m-%d')}.
"""
    print(text)
    if not args.no_write:
        write_section(f"{BEGIN}\n{text.rstrip()}\n{END}", BEGIN, END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
