"""mlp.sklearn.MLPClassifier against scikit-learn's MLPClassifier on digits, same hyper-parameters.

Data: scikit-learn's ``load_digits`` (1797 images of 8×8 pixels, 10 classes), inputs
scaled to [0, 1] (÷ 16), a stratified 75/25 train/test split with ``random_state=0``.
Both estimators get the same hyper-parameters — scikit-learn's defaults (one hidden
layer of 100 ReLU units, Adam with learning rate 1e-3, alpha 1e-4, batch size
min(200, n), at most 200 epochs, tol 1e-4, n_iter_no_change 10) — and the same
``random_state`` per run. Reported: test accuracy, fit time (wall clock of ``fit``)
and epochs run, each the median over the seeds. mlp runs in float32 (its default)
and in float64 (scikit-learn's precision for float64 input). Both use one BLAS
thread by default (``--threads``), which keeps timings steady on a shared machine.

Run: ``.venv/bin/python benchmarks/sklearn_digits.py [--seeds 5] [--no-write]``.
Writes (or replaces) the "scikit-learn comparison" section of benchmarks/RESULTS.md.
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
from _common import RESULTS, write_section

BEGIN, END = "<!-- sklearn-comparison:begin -->", "<!-- sklearn-comparison:end -->"

PARAMS = dict(hidden_layer_sizes=(100,), activation="relu", solver="adam", alpha=1e-4,
              batch_size="auto", learning_rate_init=1e-3, max_iter=200, tol=1e-4,
              n_iter_no_change=10, shuffle=True)


def data():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=0.25, random_state=0, stratify=y)


def run(make, X_train, X_test, y_train, y_test, seeds):
    from sklearn.exceptions import ConvergenceWarning

    acc, secs, epochs = [], [], []
    for seed in seeds:
        est = make(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            t0 = time.perf_counter()
            est.fit(X_train, y_train)
            secs.append(time.perf_counter() - t0)
        acc.append(est.score(X_test, y_test))
        epochs.append(est.n_iter_)
    return statistics.median(acc), statistics.median(secs), statistics.median(epochs), acc, secs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="number of seeds (default 5)")
    parser.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md alone")
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS threads for both estimators (default 1: steady timings on a shared "
                             "machine; 0 leaves the BLAS default)")
    args = parser.parse_args(argv)
    if args.threads:
        from threadpoolctl import threadpool_limits  # installed with scikit-learn

        threadpool_limits(limits=args.threads)

    import sklearn
    from sklearn.neural_network import MLPClassifier as SkMLP

    import mlp
    from mlp.sklearn import MLPClassifier

    X_train, X_test, y_train, y_test = data()
    seeds = list(range(args.seeds))
    contenders = [
        ("scikit-learn MLPClassifier (float64)", lambda s: SkMLP(random_state=s, **PARAMS)),
        ("mlp.sklearn.MLPClassifier (float32, default)",
         lambda s: MLPClassifier(random_state=s, **PARAMS)),
        ("mlp.sklearn.MLPClassifier (float64)",
         lambda s: MLPClassifier(random_state=s, dtype="float64", **PARAMS)),
    ]
    rows = []
    for name, make in contenders:
        with warnings.catch_warnings():                 # warm up imports and BLAS
            warnings.simplefilter("ignore")
            make(0).fit(X_train[:50], y_train[:50])
        med_acc, med_s, med_ep, accs, secs = run(make, X_train, X_test, y_train, y_test, seeds)
        rows.append((name, med_acc, med_s, med_ep, accs, secs))
        print(f"{name:48s} accuracy {med_acc:.4f}  fit {med_s:.3f} s  epochs {med_ep:g}  "
              f"(accuracies {', '.join(f'{a:.4f}' for a in accs)}; "
              f"seconds {', '.join(f'{s:.2f}' for s in secs)})", flush=True)

    sk_acc, sk_s = rows[0][1], rows[0][2]
    table = ["| estimator | median test accuracy | median fit time | median epochs |",
             "|---|---|---|---|"]
    for name, med_acc, med_s, med_ep, _, _ in rows:
        table.append(f"| {name} | {med_acc:.4f} | {med_s:.3f} s ({sk_s / med_s:.1f}× faster) | "
                     f"{med_ep:g} |" if not name.startswith("scikit") else
                     f"| {name} | {med_acc:.4f} | {med_s:.3f} s | {med_ep:g} |")
    mlp32 = rows[1]
    verdict = (f"mlp (float32) vs scikit-learn: accuracy {mlp32[1]:.4f} vs {sk_acc:.4f} "
               f"({'equal or better' if mlp32[1] >= sk_acc else 'LOWER'}), fit time {mlp32[2]:.3f} s vs "
               f"{sk_s:.3f} s ({'shorter' if mlp32[2] < sk_s else 'NOT shorter'}).")
    print(verdict)
    threads = args.threads or "BLAS default"
    section = "\n".join([
        BEGIN,
        "## scikit-learn comparison",
        "",
        "`benchmarks/sklearn_digits.py`: `mlp.sklearn.MLPClassifier` against scikit-learn's "
        "`MLPClassifier` on digits (load_digits ÷ 16, stratified 75/25 split, random_state=0), the "
        "same hyper-parameters for both: scikit-learn's defaults (hidden_layer_sizes=(100,), relu, "
        "adam, learning_rate_init=1e-3, alpha=1e-4, batch_size=min(200, n), max_iter=200, tol=1e-4, "
        f"n_iter_no_change=10); random_state = {', '.join(map(str, seeds))}; medians over the "
        f"{len(seeds)} seeds.",
        "",
        *table,
        "",
        verdict,
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"NumPy {np.__version__}, scikit-learn {sklearn.__version__}, mlp {mlp.__version__}, "
        f"BLAS threads: {threads}; {time.strftime('%Y-%m-%d')}.",
        END,
    ])
    if not args.no_write:
        write_section(section, BEGIN, END)
        print(f"wrote the scikit-learn comparison section of {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
