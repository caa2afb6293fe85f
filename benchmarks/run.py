"""Speed of mlp beside PyTorch and scikit-learn, measured in one run on the same machine.

``make bench`` (or ``.venv/bin/python benchmarks/run.py``) runs everything;
``--quick`` is a one-minute version (fewer examples, one epoch, batch 128 only).
It prints the tables and rewrites the speed section of benchmarks/RESULTS.md
(between ``<!-- speed:begin -->`` and ``<!-- speed:end -->``; the other sections of
that file belong to other scripts and are left alone).

What is measured (issue 7), always in one process unless said otherwise, on the
same data, architecture, batch size and thread count (PyTorch gets
``torch.set_num_threads`` = NumPy's BLAS threads), warm-up runs excluded, each
number the median of several repetitions run in alternating order:

1. training throughput, samples/s, of a 784-256-128-10 ReLU/softmax
   cross-entropy network in float32, 3 epochs over 60,000 synthetic examples,
   SGD(lr=0.1) and Adam(lr=1e-3), batch 128 (also 32 and 512): ``Network.fit``
   vs a plain PyTorch loop vs scikit-learn's MLPClassifier (float32 input, same
   solver, batch size and epochs, alpha=0, momentum 0 for sgd, tol=0 so every
   epoch runs);
2. the same as GFLOP/s of the matrix products a step needs (forward 2·Σ n_in·n_out
   per example, backward 4·Σ n_in·n_out minus 2·n_in·n_out for the first layer:
   1,007,104 per example here), as a fraction of np.matmul's 2048×2048 rate, and
   the ratio of an SGD epoch's time to the time of its own eight np.matmul calls
   per batch, on the same shapes, timed alone (the ceiling), and the floor of any
   loop that shuffles: the same products on batches gathered as ``fit`` gathers them;
3. single-example predict latency, µs per call, for the 2-2-1 XOR net and the
   784-256-128-10 net: ``net(x)`` and ``net.predict(x)`` (input validation
   included) vs PyTorch (``no_grad``, ``eval``, given a ready tensor) vs
   scikit-learn ``predict``;
4. peak resident memory of a training run over 60,000 × 784 float32, mlp vs
   PyTorch, each in a fresh process (benchmarks/speed_rss.py);
5. ``python -c "import mlp"`` wall time in a fresh process.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
BEGIN, END = "<!-- speed:begin -->", "<!-- speed:end -->"
sys.path.insert(0, str(HERE))

from _common import RESULTS, torch_training, write_section  # noqa: E402
from speed_rss import make_data  # noqa: E402

SIZES = [784, 256, 128, 10]
SPREAD_LIMIT = 1.3
TARGETS = {"torch": 1.25, "sklearn": 1.5, "ceiling": 1.12, "predict_xor": 5.0, "predict_big": 2.5,
           "import_s": 0.15}


def flops_per_example(sizes) -> int:
    """Matrix-product FLOPs of one training step per example: forward 2·Σ n_in·n_out,
    backward 4·Σ n_in·n_out less 2·n_in·n_out for layer 1 (no gradient w.r.t. the input)."""
    pairs = list(zip(sizes[:-1], sizes[1:]))
    fwd = sum(2 * a * b for a, b in pairs)
    bwd = sum(4 * a * b for a, b in pairs) - 2 * pairs[0][0] * pairs[0][1]
    return fwd + bwd


# -- machine -----------------------------------------------------------------------------------
def blas_threads() -> tuple[int, str]:
    """NumPy's BLAS thread count and how it was found."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return os.cpu_count() or 1, "os.cpu_count() (threadpoolctl not installed)"
    numpy_dir = str(Path(np.__file__).parent.parent)
    infos = [i for i in threadpool_info() if i["user_api"] == "blas"]
    mine = [i for i in infos if i["filepath"].startswith(numpy_dir) and "numpy" in i["filepath"]] or infos
    if not mine:
        return os.cpu_count() or 1, "os.cpu_count() (no BLAS found by threadpoolctl)"
    return int(mine[0]["num_threads"]), "threadpoolctl"


def machine_info(threads, how) -> dict:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    blas = "unknown"
    try:
        from threadpoolctl import threadpool_info
        numpy_dir = str(Path(np.__file__).parent.parent)
        for i in threadpool_info():
            if i["user_api"] == "blas" and i["filepath"].startswith(numpy_dir) and "numpy" in i["filepath"]:
                blas = (f"{i['internal_api']} {i.get('version')} "
                        f"({i.get('architecture')}, {i['threading_layer']})")
    except ImportError:
        pass
    import sklearn
    import torch
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "numpy": np.__version__, "blas": blas, "torch": torch.__version__,
            "sklearn": sklearn.__version__, "threads": threads, "threads_how": how,
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "load_start": os.getloadavg()}


# -- training runners --------------------------------------------------------------------------
def run_mlp(X, y, batch, opt, epochs, seed=0) -> dict:
    import mlp
    import mlp.optimizers
    net = mlp.Network.from_sizes(SIZES, hidden="relu", output="softmax", seed=seed)
    optimizer = mlp.optimizers.SGD(lr=0.1) if opt == "sgd" else mlp.optimizers.Adam(lr=1e-3)
    gc.collect()
    warnings.filterwarnings("ignore", message="loss still falling")   # 3 epochs: it is
    t = time.perf_counter()
    history = net.fit(X, y, loss="cross_entropy", optimizer=optimizer, epochs=epochs,
                      batch_size=batch, shuffle=True, seed=seed, progress=False)
    seconds = time.perf_counter() - t
    epoch_s = list(getattr(history, "seconds", []) or [])
    return {"seconds": seconds, "epoch_seconds": epoch_s, "loss": float(history.loss[-1])}


def make_torch_model(seed):
    import torch
    torch.manual_seed(seed)
    nn = torch.nn
    layers = []
    for i, (a, b) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(SIZES) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def run_torch(X, y, batch, opt, epochs, seed=0) -> dict:
    """A plain PyTorch training loop: shuffle, slice the permutation, step; mean loss per epoch."""
    import torch
    model = make_torch_model(seed)
    optimizer = (torch.optim.SGD(model.parameters(), lr=0.1) if opt == "sgd"
                 else torch.optim.Adam(model.parameters(), lr=1e-3))
    gc.collect()
    t = time.perf_counter()
    last = torch_training(model, optimizer, X, y, batch, epochs, seed)
    return {"seconds": time.perf_counter() - t, "loss": last}


def run_sklearn(X, y, batch, opt, epochs, seed=0) -> dict:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    extra = (dict(learning_rate_init=0.1, momentum=0.0, nesterovs_momentum=False, learning_rate="constant")
             if opt == "sgd" else dict(learning_rate_init=1e-3))
    clf = MLPClassifier(hidden_layer_sizes=tuple(SIZES[1:-1]), activation="relu", solver=opt, alpha=0.0,
                        batch_size=batch, max_iter=epochs, tol=0.0, n_iter_no_change=10**9,
                        early_stopping=False, shuffle=True, random_state=seed, **extra)
    gc.collect()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t = time.perf_counter()
        clf.fit(X, y)
        seconds = time.perf_counter() - t
    return {"seconds": seconds, "loss": float(clf.loss_)}


class Ceiling:
    """The eight np.matmul calls of one SGD step per batch, on the same shapes, timed alone.

    Forward three products, backward dW_l for l = 3, 2, 1 and ∂loss/∂H_{l−1} for l = 3, 2
    (none for the input). Two layouts: ``"rows"``, Z = X Wᵀ (one example per row, the
    usual NumPy loop), and ``"columns"``, Zᵀ = W Xᵀ (one example per column, the calls
    mlp's fast training step makes). The ceiling is the faster of the two.
    """

    def __init__(self, X, n, batch):
        rng = np.random.default_rng(1)
        self.Ws = [(rng.standard_normal((b, a)) * np.sqrt(2 / a)).astype(np.float32)
                   for a, b in zip(SIZES[:-1], SIZES[1:])]
        self.dWs = [np.empty_like(W) for W in self.Ws]
        self.sizes = [batch] * (n // batch) + ([n % batch] if n % batch else [])
        self.buffers = {}
        for m in set(self.sizes):
            x = np.ascontiguousarray(X[:m])
            rows = [np.empty((m, b), np.float32) for b in SIZES[1:]]
            cols = [np.empty((b, m), np.float32) for b in SIZES[1:]]
            self.buffers[m] = (x, rows, cols)

    def epoch(self, layout: str, X=None) -> float:
        """One epoch of the eight products in ``layout``. With ``X``: each batch is first
        gathered as ``fit`` gathers it, ``X[idx]`` for a random permutation (rows read from
        memory), and the products read that batch — the floor of any training loop that
        shuffles, with no element-wise work at all. Without: one cached batch, reused."""
        W1, W2, W3 = self.Ws
        dW1, dW2, dW3 = self.dWs
        mm = np.matmul
        perm = None if X is None else np.random.default_rng(3).permutation(len(X))
        start = 0
        t = time.perf_counter()
        for m in self.sizes:
            x, (z1, z2, z3), (c1, c2, c3) = self.buffers[m]
            if perm is not None:
                x = X[perm[start:start + m]]
                start += m
            if layout == "rows":
                mm(x, W1.T, out=z1)
                mm(z1, W2.T, out=z2)
                mm(z2, W3.T, out=z3)
                mm(z3.T, z2, out=dW3)
                mm(z3, W3, out=z2)
                mm(z2.T, z1, out=dW2)
                mm(z2, W2, out=z1)
                mm(z1.T, x, out=dW1)
            else:
                mm(W1, x.T, out=c1)
                mm(W2, c1, out=c2)
                mm(W3, c2, out=c3)
                mm(c3, c2.T, out=dW3)
                mm(W3.T, c3, out=c2)
                mm(c2, c1.T, out=dW2)
                mm(W2.T, c2, out=c1)
                mm(c1, x, out=dW1)
        return time.perf_counter() - t


def matmul_gflops(reps=7) -> float:
    rng = np.random.default_rng(2)
    A = rng.standard_normal((2048, 2048), dtype=np.float32)
    B = rng.standard_normal((2048, 2048), dtype=np.float32)
    C = np.empty_like(A)
    np.matmul(A, B, out=C)
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        np.matmul(A, B, out=C)
        times.append(time.perf_counter() - t)
    return 2 * 2048**3 / statistics.median(times) / 1e9


def bench_training(X, y, batches, epochs, reps, log) -> dict:
    """Median samples/s per (batch, optimiser, framework), runners alternating each repetition."""
    n = len(X)
    runners = {"mlp": run_mlp, "torch": run_torch, "sklearn": run_sklearn}
    out = {}
    for batch in batches:
        ceiling = Ceiling(X, n, batch)
        for opt in ("sgd", "adam"):
            # warm-up (excluded): one short run each
            for run in runners.values():
                run(X[:4 * batch * 4], y[:4 * batch * 4], batch, opt, 1)
            ceiling.epoch("rows"), ceiling.epoch("columns")
            times = {k: [] for k in runners}
            epoch_times, ceil_times, gather_times = [], {"rows": [], "columns": []}, []
            names = list(runners)
            for r in range(reps):
                order = names[r % len(names):] + names[:r % len(names)]
                for name in order:
                    res = runners[name](X, y, batch, opt, epochs)
                    times[name].append(res["seconds"])
                    if name == "mlp":     # History.seconds: each epoch, from shuffle to History
                        epoch_times.append(statistics.median(res["epoch_seconds"]) if res["epoch_seconds"]
                                           else res["seconds"] / epochs)
                    if name == "mlp" and opt == "sgd":
                        for layout, found in ceil_times.items():
                            found.append(statistics.median(ceiling.epoch(layout) for _ in range(3)))
                        gather_times.append(statistics.median(ceiling.epoch("columns", X) for _ in range(3)))
                log(f"  batch {batch} {opt} rep {r + 1}/{reps}: " + ", ".join(
                    f"{k} {n * epochs / v[-1]:,.0f}/s" for k, v in times.items()))
            med = {k: statistics.median(v) for k, v in times.items()}
            entry = {k: n * epochs / v for k, v in med.items()}
            # slowest / fastest repetition of any contestant: above SPREAD_LIMIT another
            # process took the cores during this measurement
            entry["spread"] = max(max(v) / min(v) for v in times.values())
            entry["epoch_s"] = statistics.median(epoch_times)
            if ceil_times["rows"]:
                entry["ceiling_rows_s"] = statistics.median(ceil_times["rows"])
                entry["ceiling_columns_s"] = statistics.median(ceil_times["columns"])
                entry["ceiling_epoch_s"] = min(entry["ceiling_rows_s"], entry["ceiling_columns_s"])
                entry["ceiling_sps"] = n / entry["ceiling_epoch_s"]
                entry["gathered_s"] = statistics.median(gather_times)
            out[(batch, opt)] = entry
    return out


def bench_anatomy(X, y, batch, reps, log) -> dict:
    """Where one training step's time goes (µs per step, means over an epoch's batches):
    the batch gather, ``_loss_and_grad`` on the fast and on the plain path, its eight
    matrix products alone, the optimiser steps, and the fast path with the SGD step fused
    into it (what ``fit`` runs for plain SGD on all but an epoch's last batch: the weight
    products go straight into W) — in a loop like fit's, the kinds of step taking turns
    batch by batch."""
    import mlp
    import mlp._fast
    import mlp.optimizers
    net = mlp.Network.from_sizes(SIZES, hidden="relu", output="softmax", seed=0)
    loss = mlp.losses.get("cross_entropy")
    sgd, adam = mlp.optimizers.SGD(lr=0.1), mlp.optimizers.Adam(lr=1e-3)
    rng = np.random.default_rng(0)
    n = len(X) - len(X) % batch
    ceiling = Ceiling(X, n, batch)
    keys = ("gather", "fast", "plain", "sgd", "adam", "fused")
    found = {k: [] for k in keys}
    pc = time.perf_counter
    for r in range(reps + 1):
        perm = rng.permutation(len(X))
        total, count = dict.fromkeys(keys, 0.0), dict.fromkeys(keys, 0)
        for s in range(0, n, batch):
            kind = (s // batch) % 4
            t0 = pc()
            idx = perm[s:s + batch]
            Xb, yb = X[idx], y[idx]
            t1 = pc()
            if kind == 2:
                mlp._fast.loss_and_grad(net, Xb, yb, loss, sgd_lr=sgd.lr, keep_grads=False)
                part = {"fused": pc() - t1}
            else:
                with mlp.fast_paths(kind != 1):
                    net._loss_and_grad(Xb, yb, loss)
                t2 = pc()
                opt = adam if kind == 0 else sgd
                opt.step(net.params, net.grads)
                part = {"plain" if kind == 1 else "fast": t2 - t1,
                        "adam" if opt is adam else "sgd": pc() - t2}
            part["gather"] = t1 - t0
            for k, v in part.items():
                total[k] += v
                count[k] += 1
        if r:                                   # the first pass is the warm-up
            for k in keys:
                found[k].append(total[k] / count[k] * 1e6)
    out = {k: statistics.median(v) for k, v in found.items()}
    out["matmuls"] = min(ceiling.epoch("rows"), ceiling.epoch("columns")) / (n // batch) * 1e6
    log(f"  anatomy of a step at batch {batch}: " + ", ".join(f"{k} {v:.0f} µs" for k, v in out.items()))
    return out


# -- predict latency ---------------------------------------------------------------------------
def per_call_us(fn, calls, reps):
    for _ in range(max(50, calls // 10)):
        fn()
    samples = []
    for _ in range(reps):
        t = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - t) / calls * 1e6)
    return samples


def _predict_contestants(net, model, est, x) -> dict:
    """One-example predict calls: mlp with validation, PyTorch on a ready tensor, scikit-learn."""
    import torch
    x2d = x[None, :]
    xt = torch.from_numpy(x)

    def torch_call():
        with torch.no_grad():
            return model(xt)

    # The floor for an array library: the same layers as bare NumPy calls on ready float32
    # arrays (W h, + b, ReLU; the softmax of the output), no validation, no Python dispatch.
    layers = [(layer.W, layer.b, type(layer.activation).__name__) for layer in net.layers]

    def numpy_chain():
        h = x
        for W, b, act in layers:
            h = W @ h
            h += b
            if act == "ReLU":
                np.maximum(h, 0, out=h)
            elif act == "Softmax":
                h -= h.max()
                np.exp(h, out=h)
                h /= h.sum()
        return h

    return {"mlp net(x)": lambda: net(x), "mlp predict(x)": lambda: net.predict(x),
            "torch": torch_call, "sklearn": lambda: est.predict(x2d), "bare NumPy": numpy_chain}


def bench_predict(calls, reps, log) -> dict:
    import torch
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    import mlp
    out = {}
    rng = np.random.default_rng(3)
    for name, sizes in (("2-2-1 XOR", [2, 2, 1]), ("784-256-128-10", SIZES)):
        classifier = sizes[-1] > 1
        net = mlp.Network.from_sizes(sizes, hidden="relu", output="softmax" if classifier else "identity",
                                     seed=0)
        # the same network as mlp's: for the classifier, probabilities (softmax output), not logits
        model = torch.nn.Sequential(make_torch_model(0), torch.nn.Softmax(dim=-1)) if classifier else \
            torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU(), torch.nn.Linear(2, 1))
        model.eval()
        Xs = rng.random((256, sizes[0]), dtype=np.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            if classifier:
                est = MLPClassifier(hidden_layer_sizes=tuple(sizes[1:-1]), max_iter=1, random_state=0)
                est.fit(Xs, rng.integers(0, sizes[-1], len(Xs)))
            else:
                est = MLPRegressor(hidden_layer_sizes=tuple(sizes[1:-1]), max_iter=5, random_state=0)
                est.fit(Xs, Xs[:, 0])
        contestants = _predict_contestants(net, model, est, Xs[0].copy())
        samples = {k: [] for k in contestants}
        for r in range(reps):
            keys = list(contestants)
            keys = keys[r % len(keys):] + keys[:r % len(keys)]
            for k in keys:
                samples[k] += per_call_us(contestants[k], calls, 1)
        out[name] = {k: statistics.median(v) for k, v in samples.items()}
        log(f"  predict {name}: " + ", ".join(f"{k} {v:.2f} µs" for k, v in out[name].items()))
    return out


# -- fresh processes ---------------------------------------------------------------------------
def bench_memory(n, epochs, batch, log) -> dict:
    out = {}
    for fw in ("torch", "mlp"):
        cmd = [sys.executable, str(HERE / "speed_rss.py"), fw, str(n), str(epochs), str(batch)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
        out[fw] = json.loads(proc.stdout.strip().splitlines()[-1])
        log(f"  memory {fw}: {out[fw]}")
    return out


def bench_import(reps, log) -> dict:
    """Wall time of ``python -c "import mlp"`` in fresh processes, with Python's bytecode cache
    (how an installed package runs; a warm-up run writes the cache even where the
    environment sets PYTHONDONTWRITEBYTECODE)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

    def wall(code):
        times = []
        for _ in range(reps):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, env=env)
            times.append(time.perf_counter() - t)
        return statistics.median(times)
    subprocess.run([sys.executable, "-c", "import mlp"], check=True, env=env)   # writes the cache
    out = {"import mlp": wall("import mlp"), "python alone": wall("pass")}
    log(f"  import: {out}")
    return out


# -- report ------------------------------------------------------------------------------------
def fmt_sps(v):
    return f"{v:,.0f}"


def verdict(ok):
    return "met" if ok else "**not met**"


def report(info, train, anatomy, gemm, predict, memory, imports, args) -> str:
    fpe = flops_per_example(SIZES)
    lines = [BEGIN, "## Speed (benchmarks/run.py)", ""]
    lines += [f"Run {info['date']}{' (--quick)' if args.quick else ''} on {info['cpu']}, "
              f"{info['cores']} cores; Python {info['python']}, NumPy {info['numpy']} "
              f"with {info['blas']}, PyTorch {info['torch']}, scikit-learn {info['sklearn']}. "
              f"Threads: NumPy BLAS {info['threads']} (from {info['threads_how']}), "
              f"torch.set_num_threads({info['threads']}). Load average at start "
              f"{info['load_start'][0]:.2f}, at end {info['load_end'][0]:.2f}: the machine is shared, "
              "so only ratios measured in this one run mean anything.", ""]
    lines += [f"Data: {args.n:,} synthetic examples × 784 float32, 10 classes; {args.epochs} epoch(s); "
              f"network 784-256-128-10 ReLU/softmax cross-entropy, float32. Medians of {args.reps} "
              "alternating repetitions, warm-up excluded.", ""]
    if train:
        lines += ["### Training throughput (samples/s)", "",
                  "| batch | optimiser | mlp `fit` | PyTorch loop | scikit-learn | mlp / PyTorch | "
                  "mlp / scikit-learn | repetitions agree |", "|---:|---|---:|---:|---:|---:|---:|---|"]
        for (batch, opt), e in train.items():
            agree = (f"yes (spread {e['spread']:.2f}×)" if e["spread"] <= SPREAD_LIMIT
                     else f"**no: spread {e['spread']:.1f}×, machine load — do not trust this row**")
            lines.append(f"| {batch} | {opt} | {fmt_sps(e['mlp'])} | {fmt_sps(e['torch'])} | "
                         f"{fmt_sps(e['sklearn'])} | {e['mlp'] / e['torch']:.2f}× | "
                         f"{e['mlp'] / e['sklearn']:.2f}× | {agree} |")
        lines += ["", f"### Compute efficiency ({fpe:,} matrix-product FLOPs per example; "
                      f"np.matmul 2048×2048 float32: {gemm:.1f} GFLOP/s)", "",
                  "| batch | optimiser | mlp GFLOP/s | of matmul 2048² | PyTorch GFLOP/s | "
                  "mlp SGD epoch | its 8 matmuls alone: rows / columns layout | epoch / faster layout | "
                  "ceiling (samples/s) | gathers + 8 matmuls, one loop | that / ceiling | epoch / that |",
                  "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for (batch, opt), e in train.items():
            g = e["mlp"] * fpe / 1e9
            if "ceiling_epoch_s" in e:
                cells = (f"{e['epoch_s']:.3f} s | {e['ceiling_rows_s']:.3f} s / "
                         f"{e['ceiling_columns_s']:.3f} s | {e['epoch_s'] / e['ceiling_epoch_s']:.3f}× | "
                         f"{fmt_sps(e['ceiling_sps'])} | {e['gathered_s']:.3f} s | "
                         f"{e['gathered_s'] / e['ceiling_epoch_s']:.3f}× | "
                         f"{e['epoch_s'] / e['gathered_s']:.3f}×")
            else:
                cells = "– | – | – | – | – | – | –"
            lines.append(f"| {batch} | {opt} | {g:.1f} | {g / gemm:.0%} | {e['torch'] * fpe / 1e9:.1f} | "
                         f"{cells} |")
        lines += ["", "Throughput = examples × epochs / wall time of the whole `fit` (input validation "
                      "included). Epoch time = median of `History.seconds` (shuffling, batches, optimiser "
                      "steps, loss and accuracy of the epoch). The ceiling is the faster of the two "
                      "layouts of the same eight products; mlp's fast path uses the column layout. "
                      "The ceiling's products read one batch that stays in the cache; a real epoch "
                      "must also read every example from memory once, in random order. \"Gathers + "
                      "8 matmuls, one loop\" times that floor: each batch gathered as `fit` gathers "
                      "it (`X[idx]`, a random permutation), then the same eight products (column "
                      "layout) on it, and nothing else: no activation, loss, update or accuracy. "
                      "Where \"that / ceiling\" exceeds the 1.12× target, no training loop that "
                      "shuffles its batches can meet it on this machine."]
    if anatomy:
        a = anatomy
        step_sgd = a["gather"] + a["fused"]
        lines += ["", "### Where a training step goes (batch 128, µs per step, in a loop like fit's)", "",
                  "| part | µs | share of an SGD step (gather + fused step) |", "|---|---:|---:|",
                  f"| batch gather `X[idx]` | {a['gather']:.0f} | {a['gather'] / step_sgd:.0%} |",
                  f"| `_loss_and_grad`, fast path | {a['fast']:.0f} | |",
                  f"| … its 8 matrix products, timed alone | {a['matmuls']:.0f} | "
                  f"{a['matmuls'] / step_sgd:.0%} |",
                  f"| `_loss_and_grad`, plain path (for comparison) | {a['plain']:.0f} | |",
                  f"| optimiser step, SGD, as a separate pass | {a['sgd']:.0f} | |",
                  f"| fast path with the SGD step fused in (what `fit` runs for plain SGD) | "
                  f"{a['fused']:.0f} | {a['fused'] / step_sgd:.0%} |",
                  f"| optimiser step, Adam | {a['adam']:.0f} | |",
                  "", f"Fusing the SGD step saves {a['fast'] + a['sgd'] - a['fused']:.0f} µs of the "
                  f"{a['fast'] + a['sgd']:.0f} µs that the fast path and a separate SGD step take."]
    if predict:
        lines += ["", "### Single-example predict latency (µs per call)", "",
                  "| network | mlp `net(x)` | mlp `predict(x)` | PyTorch no_grad | scikit-learn | "
                  "PyTorch / mlp | bare NumPy layers | PyTorch / bare NumPy |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for name, e in predict.items():
            lines.append(f"| {name} | {e['mlp net(x)']:.2f} | {e['mlp predict(x)']:.2f} | {e['torch']:.2f} | "
                         f"{e['sklearn']:.2f} | {e['torch'] / e['mlp net(x)']:.1f}× | "
                         f"{e['bare NumPy']:.2f} | {e['torch'] / e['bare NumPy']:.1f}× |")
        lines += ["", "mlp validates the example (width, real numbers, finite) on every call; PyTorch "
                      "is handed a ready tensor. Both compute the same network: for 784-256-128-10 the "
                      "softmax probabilities (PyTorch: the Linear/ReLU stack followed by `nn.Softmax`); "
                      "scikit-learn's `predict` returns the class. \"Bare NumPy layers\" is the floor "
                      "for an array library: the same layers as NumPy calls on ready float32 arrays "
                      "(`W @ h`, `+= b`, ReLU, softmax), with no validation and no dispatch; mlp "
                      "does what it does plus the checks. (mlp's 2-2-1 net runs in Python floats, "
                      "below that floor.)"]
    if memory:
        lines += ["", "### Peak memory of a training run (fresh process each, MiB)", "",
                  "| framework | RSS before training (imports + data) | peak RSS while training | "
                  "peak − before |", "|---|---:|---:|---:|"]
        for fw, e in memory.items():
            lines.append(f"| {fw} | {e['before_mib']:.0f} | {e['peak_mib']:.0f} | "
                         f"{e['peak_mib'] - e['before_mib']:.0f} |")
        lines += ["", f"Same data ({args.n:,} × 784 float32 = {args.n * 784 * 4 / 2**20:.0f} MiB, shared "
                      "with PyTorch via `torch.from_numpy`), SGD, batch 128, "
                      f"{args.epochs} epoch(s); the peak (VmHWM) is reset after the data is built, so "
                      "it measures training."]
    if imports:
        lines += ["", f"### Import time (fresh process, median of {args.import_reps})", "",
                  f"`python -c \"import mlp\"`: {imports['import mlp']:.3f} s, with Python's bytecode "
                  f"cache as after installation (`python -c pass`: {imports['python alone']:.3f} s)."]
    lines += ["", "### Targets of issue 7", "", "| target | measured | |", "|---|---|---|"]
    for (batch, opt), e in train.items():
        shaky = "" if e["spread"] <= SPREAD_LIMIT else " (repetitions disagree: machine load)"
        if batch == 128:
            r = e["mlp"] / e["torch"]
            lines.append(f"| training ≥ {TARGETS['torch']}× PyTorch, batch 128, {opt} | {r:.2f}× | "
                         f"{verdict(r >= TARGETS['torch'])}{shaky} |")
            r = e["mlp"] / e["sklearn"]
            lines.append(f"| training ≥ {TARGETS['sklearn']}× scikit-learn, batch 128, {opt} | {r:.2f}× | "
                         f"{verdict(r >= TARGETS['sklearn'])}{shaky} |")
        if opt == "sgd" and batch in (128, 512) and "ceiling_epoch_s" in e:
            r = e["epoch_s"] / e["ceiling_epoch_s"]
            lines.append(f"| SGD epoch ≤ {TARGETS['ceiling']}× its matmuls, batch {batch} | {r:.3f}× | "
                         f"{verdict(r <= TARGETS['ceiling'])}{shaky} |")
    for name, key in (("2-2-1 XOR", "predict_xor"), ("784-256-128-10", "predict_big")):
        if name in predict:
            r = predict[name]["torch"] / predict[name]["mlp net(x)"]
            lines.append(f"| predict one example ≥ {TARGETS[key]}× faster than PyTorch, {name} | {r:.1f}× | "
                         f"{verdict(r >= TARGETS[key])} |")
    if memory:
        ok = memory["mlp"]["peak_mib"] <= memory["torch"]["peak_mib"]
        lines.append(f"| peak training memory ≤ PyTorch's | {memory['mlp']['peak_mib']:.0f} vs "
                     f"{memory['torch']['peak_mib']:.0f} MiB | {verdict(ok)} |")
    if imports:
        lines.append(f"| `import mlp` < {TARGETS['import_s']} s | {imports['import mlp']:.3f} s | "
                     f"{verdict(imports['import mlp'] < TARGETS['import_s'])} |")
    lines.append(END)
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a one-minute version")
    parser.add_argument("--only", default="train,anatomy,predict,memory,import",
                        help="comma-separated parts to run (train, anatomy, predict, memory, import)")
    parser.add_argument("--batches", default=None, help="comma-separated batch sizes (default 128,32,512)")
    parser.add_argument("--reps", type=int, default=None, help="repetitions per measurement")
    parser.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md alone")
    args = parser.parse_args(argv)
    quick = args.quick
    args.n = 12_800 if quick else 60_000
    args.epochs = 1 if quick else 3
    args.reps = args.reps or 3
    args.import_reps = 5 if quick else 9
    default_batches = [128] if quick else [128, 32, 512]
    batches = [int(b) for b in args.batches.split(",")] if args.batches else default_batches
    parts = set(args.only.split(","))

    threads, how = blas_threads()
    import torch
    torch.set_num_threads(threads)
    info = machine_info(threads, how)

    def log(msg):
        print(msg, flush=True)

    log(f"mlp speed benchmark{' (quick)' if quick else ''}: {info['cpu']}, {info['cores']} cores, "
        f"{threads} threads ({how}), BLAS {info['blas']}")
    X, y = make_data(args.n)
    train = anatomy = predict = memory = imports = {}
    gemm = matmul_gflops()
    log(f"np.matmul 2048×2048 float32: {gemm:.1f} GFLOP/s")
    if "train" in parts:
        train = bench_training(X, y, batches, args.epochs, args.reps, log)
    if "anatomy" in parts:
        anatomy = bench_anatomy(X, y, 128, args.reps, log)
    if "predict" in parts:
        predict = bench_predict(1000 if quick else 3000, 5 if quick else 9, log)
    if "memory" in parts:
        memory = bench_memory(args.n, args.epochs, 128, log)
    if "import" in parts:
        imports = bench_import(args.import_reps, log)
    info["load_end"] = os.getloadavg()
    section = report(info, train, anatomy, gemm, predict, memory, imports, args)
    print()
    print(section)
    if not args.no_write:
        write_section(section, BEGIN, END)
        print(f"\nwrote the speed section of {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
