"""Old code beside new code, alternating: the figures a refactor must not lose.

For a change that should not change speed (issue 12's layout), run the mlp figures of
``benchmarks/run.py`` — training throughput of the 784-256-128-10 ReLU/softmax net at
batch 32, 128 and 512 (SGD(lr=0.1) and Adam(lr=1e-3), float32, synthetic data), and
single-example predict latency ``net(x)`` of the 2-2-1 and 784-256-128-10 nets — plus
the XOR (seeds solved with fit defaults) and digits (test accuracy and fit seconds
with fit defaults) results, each round in a fresh process per source tree, the trees
alternating (A B A B …), and prints medians and new/old ratios.

Usage (hold the exclusive bench lock; see PROTOCOL)::

    python benchmarks/ab_compare.py OLD_SRC NEW_SRC [--rounds 3] [--n 8000]

OLD_SRC / NEW_SRC are ``src`` folders (e.g. of a ``git worktree`` at the old commit).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

CHILD = r'''
import json, statistics, sys, time, warnings
import numpy as np
import mlp
warnings.simplefilter("ignore")
n = int(sys.argv[1])
out = {"file": mlp.__file__}
rng = np.random.default_rng(0)
X = rng.random((n, 784), dtype=np.float32)
y = rng.integers(0, 10, n)
for opt in ("sgd", "adam"):
    for batch in (32, 128, 512):
        net = mlp.Network.from_sizes([784, 256, 128, 10], hidden="relu", output="softmax", seed=0)
        o = mlp.optimizers.SGD(lr=0.1) if opt == "sgd" else mlp.optimizers.Adam(lr=1e-3)
        net.fit(X[:2 * batch], y[:2 * batch], optimizer=o, epochs=1, batch_size=batch, progress=False)
        net.train_state = None
        t = time.perf_counter()
        net.fit(X, y, loss="cross_entropy", optimizer=o, epochs=1, batch_size=batch, seed=0,
                progress=False)
        out[f"train {opt} b{batch} samples/s"] = n / (time.perf_counter() - t)
for name, sizes in (("2-2-1", [2, 2, 1]), ("784-256-128-10", [784, 256, 128, 10])):
    net = mlp.Network.from_sizes(sizes, hidden="relu", output="softmax" if sizes[-1] > 1 else "identity",
                                 seed=0)
    x = rng.random(sizes[0], dtype=np.float32)
    per = []
    for _ in range(5):
        calls = 2000 if sizes[0] == 2 else 300
        t = time.perf_counter()
        for _ in range(calls):
            net(x)
        per.append((time.perf_counter() - t) / calls * 1e6)
    out[f"predict {name} µs"] = statistics.median(per)
Xx, yx = mlp.datasets.xor()
t = time.perf_counter()
solved = 0
for s in range(20):
    net = mlp.Network.from_sizes([2, 2, 1], hidden="relu", output="identity", seed=s)
    net.fit(Xx, yx, loss="mse")
    solved += bool(np.abs(net(Xx) - yx).max() < 0.1)
out["xor solved of 20"] = solved
out["xor seconds/fit"] = (time.perf_counter() - t) / 20
from sklearn.model_selection import train_test_split
Xd, yd = mlp.datasets.digits()
Xtr, Xte, ytr, yte = train_test_split(Xd, yd, test_size=0.25, random_state=0)
net = mlp.Network.from_sizes([64, 100, 10], hidden="relu", output="softmax", seed=0)
t = time.perf_counter()
net.fit(Xtr, ytr)
out["digits fit seconds"] = time.perf_counter() - t
out["digits test accuracy"] = float(np.mean(net.predict_classes(Xte) == yte))
print(json.dumps(out))
'''


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("old")
    p.add_argument("new")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--n", type=int, default=8000)
    args = p.parse_args(argv)
    runs = {"old": [], "new": []}
    for r in range(args.rounds):
        order = ("old", "new") if r % 2 == 0 else ("new", "old")
        for which in order:
            env = dict(os.environ, PYTHONPATH=os.path.abspath(getattr(args, which)))
            t = time.perf_counter()
            res = subprocess.run([sys.executable, "-c", CHILD, str(args.n)], env=env, check=True,
                                 capture_output=True, text=True)
            runs[which].append(json.loads(res.stdout))
            print(f"round {r + 1} {which}: {time.perf_counter() - t:.0f} s ({runs[which][-1]['file']})",
                  file=sys.stderr)
    keys = [k for k in runs["old"][0] if k != "file"]
    print(f"{'figure':32} {'old (median)':>14} {'new (median)':>14} {'new/old':>8}   all old | all new")
    for k in keys:
        o = [r[k] for r in runs["old"]]
        n = [r[k] for r in runs["new"]]
        mo, mn = statistics.median(o), statistics.median(n)
        ratio = mn / mo if mo else float("nan")
        fmt = (lambda v: f"{v:.4g}")
        print(f"{k:32} {fmt(mo):>14} {fmt(mn):>14} {ratio:8.3f}   {', '.join(map(fmt, o))} | "
              f"{', '.join(map(fmt, n))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
