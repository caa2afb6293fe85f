"""Micro-benchmarks of the compiled kernels (src/mlp/_kernels.py) against their NumPy twins.

``python benchmarks/kernels_micro.py [--batches 128,512] [--no-write]``: µs per call, in a
loop like fit's (784-256-128-10 ReLU/softmax float32, shuffled batches of 60,000 synthetic
examples, the kinds of work taking turns batch by batch, so that caches and the BLAS threads
are as in training): the batch gather, the training step (``_fast.loss_and_grad``) with the
compiled kernels, with NumPy calls only and on the plain path, the fused SGD step, and Adam's
update (``_fast.optimizer_step`` vs ``optimizers.Adam.step``). Medians of ``--reps`` passes.
Rewrites the "speed-kernels" section of benchmarks/RESULTS.md unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import write_section  # noqa: E402
from speed_rss import make_data  # noqa: E402

import mlp  # noqa: E402
from mlp import _fast, _kernels  # noqa: E402

BEGIN, END = "<!-- speed-kernels:begin -->", "<!-- speed-kernels:end -->"
SIZES = [784, 256, 128, 10]


def bench(X, y, batch, reps):
    net = mlp.Network.from_sizes(SIZES, hidden="relu", output="softmax", seed=0)
    loss = mlp.losses.get("cross_entropy")
    adam = mlp.optimizers.Adam(lr=1e-3)
    adam_k = mlp.optimizers.Adam(lr=1e-3)
    rng = np.random.default_rng(0)
    n = len(X) - len(X) % batch
    buf = np.empty((batch, X.shape[1]), X.dtype)
    kinds = ("gather numpy", "gather kernel", "step kernels", "step numpy", "step plain", "fused sgd kernels",
             "fused sgd numpy", "adam numpy", "adam kernel")
    found = {k: [] for k in kinds}
    pc = time.perf_counter
    for r in range(reps + 1):
        perm = rng.permutation(len(X))
        total = dict.fromkeys(kinds, 0.0)
        count = dict.fromkeys(kinds, 0)
        for b, s in enumerate(range(0, n, batch)):
            idx = perm[s:s + batch]
            kind = b % 4
            t0 = pc()
            if b % 2:
                Xb = _fast.gather(X, idx, buf)
                g = "gather kernel"
            else:
                Xb = X[idx]
                g = "gather numpy"
            t1 = pc()
            yb = y[idx]
            total[g] += t1 - t0
            count[g] += 1
            if kind == 0:
                net.loss_and_grad(Xb, yb, loss)
                t2 = pc()
                _fast.optimizer_step(adam_k, net.params, net.grads)
                total["step kernels"] += t2 - t1
                total["adam kernel"] += pc() - t2
                count["step kernels"] += 1
                count["adam kernel"] += 1
            elif kind == 1:
                _fast.COMPILED = False
                net.loss_and_grad(Xb, yb, loss)
                _fast.COMPILED = True
                t2 = pc()
                adam.step(net.params, net.grads)
                total["step numpy"] += t2 - t1
                total["adam numpy"] += pc() - t2
                count["step numpy"] += 1
                count["adam numpy"] += 1
            elif kind == 2:
                _fast.loss_and_grad(net, Xb, yb, loss, sgd_lr=0.01, keep_grads=False)
                total["fused sgd kernels"] += pc() - t1
                count["fused sgd kernels"] += 1
            else:
                if b % 8 == 3:
                    with mlp.fast_paths(False):
                        net.loss_and_grad(Xb, yb, loss)
                    total["step plain"] += pc() - t1
                    count["step plain"] += 1
                else:
                    _fast.COMPILED = False
                    _fast.loss_and_grad(net, Xb, yb, loss, sgd_lr=0.01, keep_grads=False)
                    _fast.COMPILED = True
                    total["fused sgd numpy"] += pc() - t1
                    count["fused sgd numpy"] += 1
        if r:
            for k in kinds:
                found[k].append(total[k] / max(count[k], 1) * 1e6)
    return {k: statistics.median(v) for k, v in found.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", default="32,128,512")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    if _kernels.get() is None:
        print("numba is not installed: nothing to compare")
        return 1
    X, y = make_data(30_000)
    load0 = os.getloadavg()
    rows = {}
    for batch in (int(b) for b in args.batches.split(",")):
        bench(X[:4 * batch * 8], y[:4 * batch * 8], batch, 1)       # warm-up (compiles, fills caches)
        rows[batch] = bench(X, y, batch, args.reps)
        print(batch, {k: round(v, 1) for k, v in rows[batch].items()}, flush=True)
    load1 = os.getloadavg()
    lines = [BEGIN, "## Speed: the compiled kernels against their NumPy twins (benchmarks/kernels_micro.py)", "",
             f"µs per call in a loop like fit's, 784-256-128-10 float32, medians of {args.reps} passes over "
             f"30,000 shuffled examples; load average {load0[0]:.2f} at start, {load1[0]:.2f} at end.", "",
             "| batch | gather `X[idx]` | gather kernel | step: kernels | step: NumPy fast path | step: plain | "
             "fused SGD step: kernels | fused SGD: NumPy | Adam `step` | Adam kernel |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for batch, e in rows.items():
        lines.append(f"| {batch} | {e['gather numpy']:.0f} | {e['gather kernel']:.0f} | {e['step kernels']:.0f} | "
                     f"{e['step numpy']:.0f} | {e['step plain']:.0f} | {e['fused sgd kernels']:.0f} | "
                     f"{e['fused sgd numpy']:.0f} | {e['adam numpy']:.0f} | {e['adam kernel']:.0f} |")
    lines.append(END)
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section(text, BEGIN, END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
