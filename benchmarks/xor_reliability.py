"""How often does training solve XOR? mlp's fit defaults against PyTorch's defaults, same seeds.

For each seed s and hidden width k in (2, 3, 4):

* mlp: ``Network.from_sizes([2, k, 1], hidden="relu", output="identity", seed=s)
  .fit(*mlp.datasets.xor(), loss="mse")`` — every other option at its default
  (Adam, lr 1e-3, ``epochs="auto"``, ReLU care on);
* PyTorch: ``torch.manual_seed(s)``, ``nn.Sequential(nn.Linear(2, k), nn.ReLU(),
  nn.Linear(k, 1))`` with its default initialisation, ``nn.MSELoss()``, 2000
  full-batch steps of SGD(lr=0.1), and separately of Adam(lr=0.01).

A run is solved when all four outputs are within 0.1 of their targets. The
PyTorch runs of all seeds are trained together as one batched model (the sum of
independent losses gives each seed exactly its own gradient, and both optimisers
act element-wise), which is the same computation as one model per seed, only faster.

Usage::

    python benchmarks/xor_reliability.py            # 1000 seeds (about 20 minutes on one core)
    python benchmarks/xor_reliability.py --quick    # 100 seeds
    python benchmarks/xor_reliability.py --seeds 300 --plain --no-write

Prints a table and, unless ``--no-write``, rewrites the "XOR reliability" section of
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
import warnings
from multiprocessing import Pool

import numpy as np
from _common import RESULTS, write_section

import mlp

WIDTHS = (2, 3, 4)
BEGIN, END = "<!-- xor-reliability:begin -->", "<!-- xor-reliability:end -->"


def solved(y_hat, y) -> bool:
    return bool(np.all(np.abs(np.asarray(y_hat, dtype=np.float64) - y) < 0.1))


def mlp_run(args):
    """One mlp fit with defaults; returns (solved, seconds, solved without ReLU care or None)."""
    seed, width, plain = args
    X, y = mlp.datasets.xor()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = mlp.Network.from_sizes([2, width, 1], hidden="relu", output="identity", seed=seed)
        t0 = time.perf_counter()
        net.fit(X, y, loss="mse")
        seconds = time.perf_counter() - t0
        ok = solved(net(X), y)
        ok_plain = None
        if plain:
            net = mlp.Network.from_sizes([2, width, 1], hidden="relu", output="identity", seed=seed)
            net.fit(X, y, loss="mse", relu_care=False)
            ok_plain = solved(net(X), y)
    return ok, seconds, ok_plain


def torch_runs(seeds, width: int, optimizer: str, steps: int = 2000) -> np.ndarray:
    """Solved flags of PyTorch's default init + SGD(0.1) or Adam(0.01), all seeds batched."""
    import torch
    from torch import nn

    W1, b1, W2, b2 = [], [], [], []
    for s in seeds:
        torch.manual_seed(s)
        model = nn.Sequential(nn.Linear(2, width), nn.ReLU(), nn.Linear(width, 1))
        W1.append(model[0].weight.detach())
        b1.append(model[0].bias.detach())
        W2.append(model[2].weight.detach())
        b2.append(model[2].bias.detach())
    params = [torch.stack(p).clone().requires_grad_(True) for p in (W1, b1, W2, b2)]
    W1, b1, W2, b2 = params
    X, y = (torch.tensor(a, dtype=torch.float32) for a in mlp.datasets.xor())
    opt = torch.optim.SGD(params, lr=0.1) if optimizer == "sgd" else torch.optim.Adam(params, lr=0.01)

    def forward():
        h = torch.relu(torch.einsum("swi,ni->snw", W1, X) + b1[:, None, :])
        return torch.einsum("sow,snw->sno", W2, h) + b2[:, None, :]

    for _ in range(steps):
        opt.zero_grad()
        # nn.MSELoss() per seed (mean over the 4 examples), summed over the independent seeds
        loss = ((forward() - y) ** 2).mean(dim=(1, 2)).sum()
        loss.backward()
        opt.step()
    with torch.no_grad():
        err = (forward() - y).abs().amax(dim=(1, 2))
    return (err < 0.1).numpy()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=1000, help="seeds 0 … N−1 (default 1000)")
    parser.add_argument("--quick", action="store_true", help="100 seeds")
    parser.add_argument("--jobs", type=int, default=1, help="processes for the mlp fits")
    parser.add_argument("--plain", action="store_true",
                        help="also fit mlp with relu_care=False (plain Adam, same defaults otherwise)")
    parser.add_argument("--no-write", action="store_true", help="do not update benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    n = 100 if args.quick else args.seeds
    seeds = list(range(n))
    try:
        import torch
        torch.set_num_threads(1)
    except ImportError:
        torch = None
        print("PyTorch is not installed: its columns are left out (pip install 'mlp[torch]')")

    rows = []
    for width in WIDTHS:
        t0 = time.perf_counter()
        jobs = [(s, width, args.plain) for s in seeds]
        if args.jobs > 1:
            with Pool(args.jobs) as pool:
                out = pool.map(mlp_run, jobs, chunksize=8)
        else:
            out = [mlp_run(j) for j in jobs]
        ok = np.array([o[0] for o in out])
        row = {"width": width, "mlp": ok.mean(), "failed": [s for s, o in zip(seeds, ok) if not o],
               "fit_s": statistics.median(o[1] for o in out)}
        if args.plain:
            row["plain"] = np.mean([o[2] for o in out])
        if torch is not None:
            row["sgd"] = torch_runs(seeds, width, "sgd").mean()
            row["adam"] = torch_runs(seeds, width, "adam").mean()
        rows.append(row)
        print(f"width {width}: done in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)

    head = ["hidden units", "mlp fit defaults"]
    if args.plain:
        head.append("mlp, relu_care=False")
    if torch is not None:
        head += ["PyTorch default init, SGD(lr=0.1)", "PyTorch default init, Adam(lr=0.01)"]
    head.append("mlp median fit time")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [f"2-{r['width']}-1", f"**{r['mlp']:.3f}**"]
        if args.plain:
            cells.append(f"{r['plain']:.3f}")
        if torch is not None:
            cells += [f"{r['sgd']:.3f}", f"{r['adam']:.3f}"]
        cells.append(f"{r['fit_s']:.2f} s")
        lines.append("| " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    failed = "; ".join(f"2-{r['width']}-1: {r['failed'][:20] or 'none'}" for r in rows)
    versions = f"Python {platform.python_version()}, NumPy {np.__version__}, mlp {mlp.__version__}"
    if torch is not None:
        versions += f", PyTorch {torch.__version__}"
    text = f"""## XOR reliability

`benchmarks/xor_reliability.py`: fraction of {n} seeds (0 … {n - 1}) whose run ends with all four
|ŷ − y| < 0.1. mlp: `Network.from_sizes([2, k, 1], hidden="relu", output="identity", seed=s)
.fit(*mlp.datasets.xor(), loss="mse")` with every other option at its default (Adam, lr 1e-3,
`epochs="auto"` = 10,000 full-batch steps on 4 examples, ReLU care on — see `Network.fit`).
PyTorch: `torch.manual_seed(s)`, default `nn.Linear` initialisation, `nn.MSELoss()`, 2000
full-batch steps.

{table}

Seeds mlp did not solve: {failed}.

Machine: {platform.machine()}, {versions}; {time.strftime('%Y-%m-%d')}.
"""
    print(text)
    if not args.no_write:
        write_section(f"{BEGIN}\n{text.rstrip()}\n{END}", BEGIN, END)
        print(f"wrote the XOR reliability section of {RESULTS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
