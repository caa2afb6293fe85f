"""Network.fit's defaults against scikit-learn's default MLP: test log-loss (classification) and MSE.

Not a speed benchmark: it checks that ``net.fit(X, y)`` with every option at its
default (Adam, lr 1e-3, batch min(200, n), epochs="auto" ≈ 10,000 steps, weight_decay
"auto" = 1e-3 per example with epochs="auto") generalises as well as scikit-learn's default
``MLPClassifier()`` / ``MLPRegressor()`` — the same architecture (one hidden layer of 100
ReLU units; a softmax output, two units for two classes, or an identity output) — and what
other rules for the defaults would give (``--variants``: fit options worked out from the
training rows, e.g. the L2 penalty scaled with n, or validation-based early stopping).
Data sets and their scaling:
``sklearn_common.load`` (the seven of benchmarks/sklearn_compare.py); stratified 5-fold
(KFold for regression) with split seed s (``--first-seed``), the network's ``seed`` and
scikit-learn's ``random_state`` = 10·s + fold, as in sklearn_compare.py.

Run: ``.venv/bin/python benchmarks/sklearn_fit_defaults.py [--sets digits,wine] [--variants
default,wd0] [--no-write]`` (minutes: mnist-5k's 10,000 steps per fold; one BLAS thread;
hold the shared lock).
Writes (or replaces) the "fit defaults against scikit-learn" section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings

import numpy as np
from sklearn_common import SETS, load, write

BEGIN, END = "<!-- sklearn-fit-defaults:begin -->", "<!-- sklearn-fit-defaults:end -->"


def _validation(n):
    """Hold out 10 % (the rows are shuffled first), stop after 1,000 steps without improvement."""
    n_batches = -(-int(0.9 * n) // min(200, int(0.9 * n)))
    return {"validation_split": 0.1, "early_stopping": True, "patience": max(10, 1000 // n_batches)}


def _per_example(n, task):
    """The factor that puts a penalty per example on the loss's scale: fit's mse (regression)
    is ½ Σ over the batch, its cross-entropy the mean."""
    return min(200, n) if task == "regression" else 1


#: name -> (label, fit options from the number of training rows n and the task)
VARIANTS = {
    "default": ("mlp fit defaults", lambda n, task: {}),
    "wd0": ("weight_decay=0", lambda n, task: {"weight_decay": 0.0}),
    "wd_n": ("weight_decay=min(0.01, 4/n)", lambda n, task: {"weight_decay": min(0.01, 4.0 / n)}),
    "val": ("validation early stopping", lambda n, task: _validation(n)),
    # the regression loss (mse, ½ Σ over the batch) is batch× a mean loss: the same penalty per example
    "wd_batch": ("weight_decay=1e-3·batch for ½Σ mse",
                 lambda n, task: {"weight_decay": 1e-3 * _per_example(n, task)}),
    "wd_nb": ("weight_decay=min(0.01, 4/n), ·batch for ½Σ mse",
              lambda n, task: {"weight_decay": min(0.01, 4.0 / n) * _per_example(n, task)}),
}


def measure(name, first_seed, variants) -> dict:
    """Per contender: the test losses (log-loss or MSE) and scores (accuracy or R²) of the 5 folds."""
    from sklearn.model_selection import KFold, StratifiedKFold
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    import mlp

    X, y, task, scale = load(name)
    Split = StratifiedKFold if task == "classification" else KFold
    out = {c: ([], []) for c in ["scikit-learn", *variants]}
    for k, (train, test) in enumerate(Split(5, shuffle=True, random_state=first_seed).split(X, y)):
        seed = 10 * first_seed + k
        train = np.random.default_rng(seed).permutation(train)   # validation_split takes the last rows
        X_tr, X_te, y_tr, y_te = X[train], X[test], y[train], y[test]
        if scale:
            mean, std = X_tr.mean(axis=0), X_tr.std(axis=0)
            X_tr, X_te = (X_tr - mean) / std, (X_te - mean) / std
        if task == "classification":
            sizes, output = [X.shape[1], 100, len(np.unique(y_tr))], "softmax"
            sk = MLPClassifier(random_state=seed)
        else:
            sizes, output, sk = [X.shape[1], 100, 1], "identity", MLPRegressor(random_state=seed)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sk.fit(X_tr, y_tr)
            predict = sk.predict_proba if task == "classification" else sk.predict
            _record(out["scikit-learn"], task, predict(X_te), y_te, np.unique(y_tr))
            fitted = {}                         # variants with the same options share one fit
            for v in variants:
                options = VARIANTS[v][1](len(X_tr), task)
                key = tuple(sorted(options.items()))
                if key not in fitted:
                    net = mlp.Network.from_sizes(sizes, hidden="relu", output=output, seed=seed)
                    net.fit(X_tr, y_tr, progress=False, **options)
                    fitted[key] = net(X_te)
                _record(out[v], task, fitted[key], y_te, np.unique(y_tr))
    return {"task": task, **out}


def _record(into, task, p, y_te, labels) -> None:
    """Append the test loss and score of predictions ``p`` to ``into`` = (losses, scores)."""
    from sklearn.metrics import log_loss, mean_squared_error, r2_score

    if task == "classification":
        p = np.hstack([1 - p, p]) if p.ndim == 2 and p.shape[1] == 1 else p
        into[0].append(log_loss(y_te, p, labels=labels))
        into[1].append(float(np.mean(labels[p.argmax(axis=1)] == y_te)))
    else:
        into[0].append(mean_squared_error(y_te, p.reshape(-1)))
        into[1].append(r2_score(y_te, p.reshape(-1)))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(SETS), help=f"comma-separated ({','.join(SETS)})")
    parser.add_argument("--variants", default="default,wd0",
                        help=f"mlp contenders, comma-separated ({','.join(VARIANTS)}; default default,wd0)")
    parser.add_argument("--first-seed", type=int, default=0, help="split seed (default 0)")
    parser.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md alone")
    args = parser.parse_args(argv)
    variants = args.variants.split(",")
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variant(s) {', '.join(sorted(unknown))}; known: {', '.join(VARIANTS)}")

    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    threadpool_limits(limits=1)            # 2–8× faster on the shared 2 cores (no BLAS threads fighting)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    rows, verdicts = [], []
    for name in args.sets.split(","):
        res = measure(name, args.first_seed, variants)
        cells = []
        for c in ["scikit-learn", *variants]:
            losses, scores = res[c]
            cells.append(f"{statistics.mean(losses):.3f} ± {statistics.stdev(losses):.3f} / "
                         f"{statistics.mean(scores):.3f}")
        ours, theirs = statistics.mean(res[variants[0]][0]), statistics.mean(res["scikit-learn"][0])
        verdicts.append((name, ours <= theirs))
        metric = "log-loss / accuracy" if res["task"] == "classification" else "MSE / R²"
        rows.append(f"| {name} | {metric} | " + " | ".join(cells)
                    + f" | {'yes' if ours <= theirs else 'no'} |")
        print(rows[-1], flush=True)
    summary = (f"{VARIANTS[variants[0]][0]}: a mean test loss no worse than scikit-learn's default MLP on "
               f"{sum(v for _, v in verdicts)} of {len(verdicts)} data sets "
               f"({', '.join(n for n, v in verdicts if not v) or 'all'}"
               f"{' not' if any(not v for _, v in verdicts) else ''}).")
    print(summary)
    head = [
        "## fit defaults against scikit-learn",
        "",
        "`benchmarks/sklearn_fit_defaults.py`: `Network.from_sizes([d, 100, k], hidden=\"relu\", "
        "output=\"softmax\" / \"identity\", seed=s).fit(X, y)` with every option at its default (Adam, lr "
        "1e-3, batch min(200, n), epochs=\"auto\" ≈ 10,000 steps, weight_decay=\"auto\" = 1e-3 per "
        "example with epochs=\"auto\", × the batch size for mse) and the variants named in the header, "
        "against scikit-learn's "
        "`MLPClassifier(random_state=s)` / `MLPRegressor(random_state=s)` (same architecture). "
        f"Stratified 5-fold (KFold for regression), split seed {args.first_seed}; data sets as in the "
        "scikit-learn comparison. Cells: mean ± std over the folds of the test log-loss (MSE for "
        "regression: diabetes' y standardised, friedman1's as generated) / mean accuracy (R²).",
        "",
        "| data set | metric | scikit-learn | " + " | ".join(VARIANTS[v][0] for v in variants)
        + f" | {VARIANTS[variants[0]][0]} ≤ scikit-learn? |",
        "|---|---|---|" + "---|" * len(variants) + "---|",
    ]
    write(head, rows, summary, started, BEGIN, END, what="fit-defaults", no_write=args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
