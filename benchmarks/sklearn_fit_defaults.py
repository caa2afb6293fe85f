"""Network.fit's defaults against scikit-learn's default MLPClassifier: test log-loss and accuracy.

Not a speed benchmark: it checks that ``net.fit(X, y)`` with every option at its
default (Adam, lr 1e-3, batch min(200, n), epochs="auto" ≈ 10,000 steps, weight_decay
"auto" = 1e-3 with epochs="auto") generalises as well as ``sklearn.neural_network.MLPClassifier()`` — the same
architecture (one hidden layer of 100 ReLU units, softmax output) — and what the
default L2 penalty changes (the same run with ``weight_decay=0``). Data sets: mnist-5k
(pixels ÷ 255; needs the ``datasets`` extra), digits (÷ 16), breast_cancer, iris and
wine (standardised with the training rows' mean and std); stratified 80/20 splits with
seeds 0 … S−1; mlp's network is built with ``seed`` = the split seed, scikit-learn's
``random_state`` likewise.

Run: ``.venv/bin/python benchmarks/sklearn_fit_defaults.py [--seeds 2] [--no-write]``
(several minutes: hold the shared lock). Writes (or replaces) the "fit defaults against
scikit-learn" section of benchmarks/RESULTS.md.
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

BEGIN, END = "<!-- sklearn-fit-defaults:begin -->", "<!-- sklearn-fit-defaults:end -->"
SETS = ["mnist-5k", "digits", "breast_cancer", "iris", "wine"]


def split(name, seed):
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    import mlp.datasets

    if name == "mnist-5k":
        X, y = mlp.datasets.mnist_5k()
    elif name == "digits":
        X, y = datasets.load_digits(return_X_y=True)
        X = X / 16.0
    else:
        X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, stratify=y, random_state=seed)
    if name not in ("mnist-5k", "digits"):
        mean, std = X_tr.mean(axis=0), X_tr.std(axis=0)
        X_tr, X_te = (X_tr - mean) / std, (X_te - mean) / std
    return X_tr, X_te, y_tr, y_te


def measure(name, seed) -> dict:
    """Test log-loss and accuracy of the three contenders on one split."""
    from sklearn.metrics import log_loss
    from sklearn.neural_network import MLPClassifier

    import mlp

    X_tr, X_te, y_tr, y_te = split(name, seed)
    k = len(np.unique(y_tr))
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = MLPClassifier(random_state=seed).fit(X_tr, y_tr).predict_proba(X_te)
        out["scikit-learn"] = (log_loss(y_te, p), float(np.mean(p.argmax(axis=1) == y_te)))
        for label, options in (("mlp", {}), ("mlp, weight_decay=0", {"weight_decay": 0.0})):
            net = mlp.Network.from_sizes([X_tr.shape[1], 100, k], hidden="relu", output="softmax",
                                         seed=seed)
            net.fit(X_tr, y_tr, progress=False, **options)
            p = net.predict_proba(X_te)
            out[label] = (log_loss(y_te, p), float(np.mean(p.argmax(axis=1) == y_te)))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2, help="splits per data set (default 2)")
    parser.add_argument("--sets", default=",".join(SETS), help=f"comma-separated ({','.join(SETS)})")
    parser.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md alone")
    args = parser.parse_args(argv)

    import sklearn

    import mlp

    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    contenders = ["scikit-learn", "mlp", "mlp, weight_decay=0"]
    rows, verdicts = [], []
    for name in args.sets.split(","):
        runs = [measure(name, seed) for seed in range(args.seeds)]
        cells = []
        for c in contenders:
            losses, accs = [r[c][0] for r in runs], [r[c][1] for r in runs]
            cells.append(f"{statistics.mean(losses):.3f} ({', '.join(f'{v:.3f}' for v in losses)}) / "
                         f"{statistics.mean(accs):.3f}")
        ours = statistics.mean(r["mlp"][0] for r in runs)
        theirs = statistics.mean(r["scikit-learn"][0] for r in runs)
        verdicts.append((name, ours <= theirs))
        rows.append(f"| {name} | " + " | ".join(cells) + f" | {'yes' if ours <= theirs else 'no'} |")
        print(rows[-1], flush=True)
    summary = (f"fit's defaults reach a test log-loss no worse than scikit-learn's default MLP on "
               f"{sum(v for _, v in verdicts)} of {len(verdicts)} data sets "
               f"({', '.join(n for n, v in verdicts if not v) or 'all'}"
               f"{' not' if any(not v for _, v in verdicts) else ''}).")
    print(summary)
    section = "\n".join([
        BEGIN,
        "## fit defaults against scikit-learn",
        "",
        "`benchmarks/sklearn_fit_defaults.py`: `Network.from_sizes([d, 100, k], hidden=\"relu\", "
        "output=\"softmax\", seed=s).fit(X, y)` with every option at its default (Adam, lr 1e-3, "
        "batch min(200, n), epochs=\"auto\" ≈ 10,000 steps, weight_decay=\"auto\" = 1e-3 with "
        "epochs=\"auto\"), the same with weight_decay=0 (the default before), and scikit-learn's "
        "`MLPClassifier(random_state=s)` "
        f"(same architecture). Stratified 80/20 splits, seeds 0–{args.seeds - 1}. Cells: mean test "
        "log-loss (per split) / mean test accuracy.",
        "",
        "| data set | scikit-learn | mlp fit defaults | mlp, weight_decay=0 | mlp ≤ scikit-learn? |",
        "|---|---|---|---|---|",
        *rows,
        "",
        summary,
        "",
        f"Python {platform.python_version()}, NumPy {np.__version__}, scikit-learn "
        f"{sklearn.__version__}, mlp {mlp.__version__}, {os.cpu_count()} CPUs; started {started}.",
        END,
    ])
    if not args.no_write:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from _common import RESULTS, write_section

        write_section(section, BEGIN, END)
        print(f"wrote the fit-defaults section of {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
