"""Speed of mlp beside JAX (jit + optax) and PyTorch, measured in one run on the same machine.

``make bench`` (or ``.venv/bin/python benchmarks/run.py``) runs everything (about five
minutes on 2 cores); ``--quick`` is a short version. It needs the ``bench`` extra (JAX,
optax) beside ``all``. It prints the tables and rewrites the speed section of
benchmarks/RESULTS.md (between ``<!-- speed:begin -->`` and ``<!-- speed:end -->``; the
other sections belong to other scripts and are left alone).

How (issue 15): **each library runs in a process of its own** (benchmarks/_peers.py; XLA's
thread pool slows NumPy's BLAS by about 40% when both live in one process). run.py keeps
one worker per library and asks them one at a time, in an order that rotates each
repetition; every figure is the median of the repetitions, warm-up runs (JIT compilation
included) excluded; every ratio compares figures of this one run. Threads: NumPy's BLAS
count for all (torch.set_num_threads; XLA uses every core).

1. training throughput, samples/s: 784-256-128-10 ReLU/softmax cross-entropy, float32,
   60,000 synthetic examples, SGD(lr=0.1) and Adam(lr=1e-3), batch 32, 128, 512: mlp
   ``Network.fit`` (input validation and History included), a plain PyTorch loop, and
   JAX — one ``jax.jit`` step per batch with optax, data on the device, the batch
   gathered inside the compiled step (benchmarks/_common.py);
2. the ceiling: the eight matrix products of one SGD step per batch on one cached batch,
   timed alone with OpenBLAS (np.matmul, faster of two layouts) and with XLA (one jitted
   function per batch); an mlp SGD epoch (median of ``History.seconds``) against it;
3. tiny networks, µs per optimiser step: the lecture's 2-2-1 XOR (ReLU, Adam lr 1e-3, full
   batch of 4, MSE — mlp with its fit defaults: ReLU care on) and TF Playground's default
   2-4-2-1 tanh network on 250 circle points (SGD lr 0.03, batch 10, MSE); mlp ``fit`` with
   History recorded, a PyTorch loop keeping each loss, JAX's jitted step called from Python
   per step, and JAX's whole loop compiled (``lax.scan``);
4. one-example predict, µs per call: 2-2-1 and 784-256-128-10, mlp ``net(x)`` (validation
   included), the same layers as bare NumPy calls, PyTorch ``no_grad``;
5. peak resident memory of a training run, each library in a fresh process
   (benchmarks/speed_rss.py); first-fit compile time (a fresh process's first small fits
   minus its second), with an empty compile cache and with the cache a first process left;
6. ``python -c "import mlp"`` wall time in a fresh process.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pickle
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
BEGIN, END = "<!-- speed:begin -->", "<!-- speed:end -->"
sys.path.insert(0, str(HERE))

from _common import RESULTS, write_section  # noqa: E402

SIZES = [784, 256, 128, 10]
LIBS = ("mlp", "torch", "jax")
SPREAD_LIMIT = 1.3
# issue 15's targets: mlp / JAX and mlp / PyTorch throughput per batch size (SGD and Adam)
VS_JAX = {32: 1.5, 128: 1.1, 512: 1.0}
VS_TORCH = 1.25
CEILING = 1.25             # SGD epoch ≤ this × its 8 OpenBLAS products (batch 128 and 512)
TINY_VS_JAX = 2.0          # a tiny-network step ≥ this × faster than JAX's jitted step from Python
PREDICT_BIG = (2.0, 1.1)   # ≥ 2× PyTorch, ≤ 1.1× bare NumPy
PREDICT_XOR = 5.0
COMPILE_CACHED_S = 0.3
IMPORT_S = 0.15


def flops_per_example(sizes) -> int:
    """Matrix-product FLOPs of one training step per example: forward 2·Σ n_in·n_out,
    backward 4·Σ n_in·n_out less 2·n_in·n_out for layer 1 (no gradient w.r.t. the input)."""
    pairs = list(zip(sizes[:-1], sizes[1:]))
    return sum(2 * a * b for a, b in pairs) + sum(4 * a * b for a, b in pairs) - 2 * pairs[0][0] * pairs[0][1]


# -- machine -----------------------------------------------------------------------------------
def blas_info() -> tuple[int, str]:
    """NumPy's BLAS thread count and a description of the library."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return os.cpu_count() or 1, "unknown (threadpoolctl not installed)"
    numpy_dir = str(Path(np.__file__).parent.parent)
    for i in threadpool_info():
        if i["user_api"] == "blas" and i["filepath"].startswith(numpy_dir) and "numpy" in i["filepath"]:
            return int(i["num_threads"]), (f"{i['internal_api']} {i.get('version')} "
                                           f"({i.get('architecture')}, {i['threading_layer']})")
    return os.cpu_count() or 1, "unknown"


def versions() -> dict:
    out = {}
    for name in ("torch", "jax", "optax", "numba"):
        try:
            out[name] = __import__("importlib.metadata").metadata.version(name)
        except Exception:   # not installed
            out[name] = "not installed"
    return out


def machine_info(threads, blas) -> dict:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
            "blas": blas, "threads": threads, **versions(),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "load_start": os.getloadavg()}


# -- workers -----------------------------------------------------------------------------------
class Worker:
    """One library in a process of its own (benchmarks/_peers.py), asked one request at a time."""

    def __init__(self, lib, threads, env=None):
        self.lib = lib
        self.proc = subprocess.Popen([sys.executable, str(HERE / "_peers.py"), lib], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1,
                                     env={**os.environ, "BENCH_THREADS": str(threads), **(env or {})})
        self._read()

    def _read(self):
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.lib} worker died (see its error above)")
        return json.loads(line)

    def ask(self, task, **fields):
        self.proc.stdin.write(json.dumps({"task": task, **fields}) + "\n")
        return self._read()

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def rotations(names, reps):
    for r in range(reps):
        k = r % len(names)
        yield r, list(names[k:]) + list(names[:k])


# -- parts -------------------------------------------------------------------------------------
def bench_training(workers, n, batches, epochs, reps, log) -> dict:
    out = {}
    for batch in batches:
        for opt in ("sgd", "adam"):
            warm = {"n": min(n, 16 * batch), "epochs": 1}
            times = {k: [] for k in workers}
            epoch_s, ceil = [], {"rows": [], "columns": [], "gathered": [], "xla": []}
            for r, order in rotations(list(workers), reps):
                for name in order:
                    res = workers[name].ask("train", batch=batch, opt=opt, n=n, epochs=epochs,
                                            warm=warm if r == 0 else None)
                    times[name].append(res["seconds"])
                    if name == "mlp":
                        epoch_s.append(statistics.median(res["epoch_seconds"]))
                if opt == "sgd":           # the ceilings, each in its library's process
                    for key, v in workers["mlp"].ask("ceiling", batch=batch, n=n).items():
                        ceil[key].append(v)
                    ceil["xla"].append(workers["jax"].ask("ceiling", batch=batch, n=n)["xla"])
                log(f"  batch {batch} {opt} rep {r + 1}/{reps}: " + ", ".join(
                    f"{k} {n * epochs / v[-1]:,.0f}/s" for k, v in times.items()) + f"  (load {load()})")
            e = {k: n * epochs / statistics.median(v) for k, v in times.items()}
            e["spread"] = max(max(v) / min(v) for v in times.values())
            e["epoch_s"] = statistics.median(epoch_s)
            if ceil["rows"]:
                e.update({f"ceiling_{k}_s": statistics.median(v) for k, v in ceil.items()})
                e["ceiling_s"] = min(e["ceiling_rows_s"], e["ceiling_columns_s"])
            out[(batch, opt)] = e
    return out


def bench_tiny(workers, steps, reps, log) -> dict:
    out = {}
    for net in ("xor", "playground"):
        found = {}
        for r, order in rotations(list(workers), reps):
            for name in order:
                res = workers[name].ask("tiny", net_name=net, steps=steps,
                                        warm={"steps": min(steps, 500)} if r == 0 else None)
                for k, v in res.items():
                    if k != "loss":
                        found.setdefault(f"{name} {k}", []).append(v)
        out[net] = {k: statistics.median(v) for k, v in found.items()}
        log(f"  tiny {net}: " + ", ".join(f"{k} {v:.2f} µs" for k, v in out[net].items()))
    return out


def bench_predict(workers, calls, reps, log) -> dict:
    out = {}
    for net in ("xor", "big"):
        found = {}
        for _, order in rotations(list(workers), reps):
            for name in order:
                for k, v in workers[name].ask("predict", net_name=net, calls=calls).items():
                    found.setdefault(k, []).append(v)
        out[net] = {k: statistics.median(v) for k, v in found.items()}
        log(f"  predict {net}: " + ", ".join(f"{k} {v:.2f} µs" for k, v in out[net].items()))
    return out


def bench_compile(threads, log) -> dict:
    """mlp: two fresh processes sharing one empty numba cache folder (the first compiles and
    writes it, the second reads it); JAX: a fresh process (no persistent cache by default)."""
    out = {}
    with tempfile.TemporaryDirectory() as cache:
        env = {"NUMBA_CACHE_DIR": cache}
        for key in ("mlp, empty cache", "mlp, cached"):
            w = Worker("mlp", threads, env)
            out[key] = w.ask("compile")
            w.close()
        # numba's own floor: import numba + the first call of a one-line cached function
        for _ in range(2):      # the second process reads the first one's cache
            proc = subprocess.run([sys.executable, str(HERE / "_numba_floor.py")], capture_output=True,
                                  text=True, check=True, env={**os.environ, **env})
        out["numba floor"] = json.loads(proc.stdout.strip().splitlines()[-1])
    w = Worker("jax", threads)
    out["jax"] = w.ask("compile")
    w.close()
    log(f"  compile: {out}")
    return out


def bench_memory(n, epochs, batch, log) -> dict:
    out = {}
    for fw in ("torch", "jax", "mlp"):
        cmd = [sys.executable, str(HERE / "speed_rss.py"), fw, str(n), str(epochs), str(batch)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
        out[fw] = json.loads(proc.stdout.strip().splitlines()[-1])
        log(f"  memory {fw}: {out[fw]}")
    return out


def bench_import(reps, log) -> dict:
    """Wall time of ``python -c "import mlp"`` in fresh processes, with Python's bytecode cache."""
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


def load() -> str:
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


# -- report ------------------------------------------------------------------------------------
def verdict(ok):
    return "met" if ok else "**not met**"


def report(info, train, tiny, predict, compiled, memory, imports, args) -> str:
    fpe = flops_per_example(SIZES)
    lines = [BEGIN, "## Speed (benchmarks/run.py)", ""]
    lines += [f"Run {info['date']}{' (--quick)' if args.quick else ''} on {info['cpu']}, {info['cores']} "
              f"cores; Python {info['python']}, NumPy {info['numpy']} with {info['blas']}, numba "
              f"{info['numba']}, PyTorch {info['torch']}, JAX {info['jax']} with optax {info['optax']}. "
              f"Threads: NumPy's BLAS {info['threads']}, torch.set_num_threads({info['threads']}), XLA "
              f"all cores. Each library in a process of its own, asked in turn (rotating order), "
              f"medians of {args.reps} repetitions, warm-up and compilation excluded. Load average "
              f"(1/5/15 min) at start {' '.join(f'{v:.2f}' for v in info['load_start'])}, at end "
              f"{' '.join(f'{v:.2f}' for v in info['load_end'])}: the machine is shared, so only "
              "ratios of this one run mean anything.", ""]
    if len(info.get("loads", [])) > 1:
        lines += ["The run was taken in parts of a few minutes each (`--save`, then `--merge`), "
                  "every part under the exclusive benchmark lock; load average (1 min) at the start and "
                  "end of each part: " + "; ".join(f"{d}: {a[0]:.2f} → {b[0]:.2f}" for d, a, b in info["loads"])
                  + ".", ""]
    if train:
        lines += [f"### Training throughput, 784-256-128-10 float32 (samples/s; {args.n:,} examples, "
                  f"{args.epochs} epochs per run)", "",
                  "| batch | optimiser | mlp `fit` | JAX jit + optax | PyTorch loop | mlp / JAX | mlp / PyTorch | "
                  "repetitions agree |", "|---:|---|---:|---:|---:|---:|---:|---|"]
        for (batch, opt), e in train.items():
            agree = (f"yes (spread {e['spread']:.2f}×)" if e["spread"] <= SPREAD_LIMIT
                     else f"**no: spread {e['spread']:.2f}× (machine load)**")
            lines.append(f"| {batch} | {opt} | {e['mlp']:,.0f} | {e['jax']:,.0f} | {e['torch']:,.0f} | "
                         f"{e['mlp'] / e['jax']:.2f}× | {e['mlp'] / e['torch']:.2f}× | {agree} |")
        lines += ["", f"### The ceiling: the 8 matrix products of an SGD step alone ({fpe:,} FLOPs per example)",
                  "", "| batch | mlp SGD epoch | 8 OpenBLAS products: rows / columns layout | "
                  "epoch / faster layout | same, each batch gathered `X[idx]` first | "
                  "8 XLA products (jitted, per batch) | OpenBLAS / XLA speed |",
                  "|---:|---:|---:|---:|---:|---:|---:|"]
        for (batch, _opt), e in train.items():
            if "ceiling_s" in e:
                lines.append(f"| {batch} | {e['epoch_s']:.3f} s | {e['ceiling_rows_s']:.3f} s / "
                             f"{e['ceiling_columns_s']:.3f} s | {e['epoch_s'] / e['ceiling_s']:.3f}× | "
                             f"{e['ceiling_gathered_s']:.3f} s ({e['ceiling_gathered_s'] / e['ceiling_s']:.3f}×)"
                             f" | {e['ceiling_xla_s']:.3f} s | {e['ceiling_xla_s'] / e['ceiling_s']:.2f}× |")
        lines += ["", "Throughput = examples × epochs / wall time of the whole run (mlp: the whole `fit`, "
                  "input validation and History included). mlp SGD epoch = median of `History.seconds`. "
                  "The products read one batch that stays in the cache; \"each batch gathered\" adds "
                  "the gather of a shuffled batch from memory, the floor of any loop that shuffles."]
    if tiny:
        lines += ["", "### Tiny networks (µs per optimiser step)", "",
                  "| network | mlp `fit`, History recorded | JAX jitted step, called per step | "
                  "JAX whole loop compiled (`lax.scan`) | PyTorch loop | JAX step / mlp | PyTorch / mlp |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        names = {"xor": "2-2-1 XOR, ReLU, Adam, full batch of 4", "playground":
                 "2-4-2-1 tanh, 250 circle points, SGD, batch 10"}
        for net, e in tiny.items():
            m = e["mlp step_us"]
            lines.append(f"| {names[net]} | {m:.2f} | {e['jax jit_step_us']:.2f} | {e['jax scan_us']:.2f} | "
                         f"{e['torch step_us']:.1f} | {e['jax jit_step_us'] / m:.2f}× | "
                         f"{e['torch step_us'] / m:.1f}× |")
        lines += ["", f"{args.tiny_steps} optimiser steps per run; mlp's XOR fit with its defaults (ReLU care "
                  "on) but the epochs given, so without the L2 penalty that epochs=\"auto\" brings (the "
                  "compiled loop takes that too: benchmarks/xor_reliability.py)."]
    if predict:
        lines += ["", "### One-example predict (µs per call)", "",
                  "| network | mlp `net(x)` | mlp `predict(x)` | bare NumPy layers | PyTorch no_grad | "
                  "PyTorch / mlp | mlp / bare NumPy |", "|---|---:|---:|---:|---:|---:|---:|"]
        for net, e in predict.items():
            name = "2-2-1 XOR" if net == "xor" else "784-256-128-10"
            lines.append(f"| {name} | {e['mlp net(x)']:.2f} | {e['mlp predict(x)']:.2f} | {e['bare NumPy']:.2f} | "
                         f"{e['torch']:.2f} | {e['torch'] / e['mlp net(x)']:.2f}× | "
                         f"{e['mlp net(x)'] / e['bare NumPy']:.2f}× |")
        lines += ["", "mlp validates the example (width, real numbers, finite) on every call; PyTorch is "
                  "handed a ready tensor; bare NumPy is the same layers (`W @ h`, `+= b`, ReLU, softmax) "
                  "on ready float32 arrays with no checks."]
    if memory:
        lines += ["", "### Peak memory of a training run (fresh process each, MiB)", "",
                  "| library | RSS before training (imports + data) | peak RSS while training | peak − before |",
                  "|---|---:|---:|---:|"]
        for fw, e in memory.items():
            lines.append(f"| {fw} | {e['before_mib']:.0f} | {e['peak_mib']:.0f} | "
                         f"{e['peak_mib'] - e['before_mib']:.0f} |")
        lines += ["", f"{args.n:,} × 784 float32 ({args.n * 784 * 4 / 2**20:.0f} MiB), SGD, batch 128, "
                  f"{args.epochs} epochs; the peak (VmHWM) is reset after the data is built."]
    if compiled:
        lines += ["", "### First-fit compile time (fresh process: first small fits − the same fits again)", "",
                  "| process | first | second | compile |", "|---|---:|---:|---:|"]
        for k, e in compiled.items():
            if k != "numba floor":
                lines.append(f"| {k} | {e['first_s']:.3f} s | {e['second_s']:.3f} s | {e['compile_s']:.3f} s |")
        f = compiled.get("numba floor")
        if f:
            lines.append(f"| numba alone (fresh process, cached): `import numba` + first call of a one-line "
                         f"`@njit(cache=True)` function | | | {f['floor_s']:.3f} s ({f['import_s']:.3f} + "
                         f"{f['first_call_s']:.3f}) |")
        lines += ["", "mlp: an SGD and an Adam fit of 784-256-128-10 (2,048 examples), an XOR fit and a "
                  "playground fit; the second process finds the first one's compile cache on disk. "
                  "JAX: an SGD and an Adam epoch (its jit has no disk cache by default)."]
    if imports:
        lines += ["", f"`python -c \"import mlp\"`: {imports['import mlp']:.3f} s in a fresh process "
                  f"(`python -c pass`: {imports['python alone']:.3f} s)."]
    lines += ["", "### What issue 15 asks", "", "| target | measured | |", "|---|---|---|"]
    for (batch, opt), e in train.items():
        shaky = "" if e["spread"] <= SPREAD_LIMIT else " (repetitions disagree)"
        r = e["mlp"] / e["jax"]
        lines.append(f"| ≥ {VS_JAX[batch]}× JAX, batch {batch}, {opt} | {r:.2f}× | "
                     f"{verdict(r >= VS_JAX[batch])}{shaky} |")
        r = e["mlp"] / e["torch"]
        lines.append(f"| ≥ {VS_TORCH}× PyTorch, batch {batch}, {opt} | {r:.2f}× | {verdict(r >= VS_TORCH)}{shaky} |")
        if "ceiling_s" in e and batch in (128, 512):
            r = e["epoch_s"] / e["ceiling_s"]
            lines.append(f"| SGD epoch ≤ {CEILING}× its 8 OpenBLAS products, batch {batch} | {r:.3f}× "
                         f"(gathered floor {e['ceiling_gathered_s'] / e['ceiling_s']:.3f}×) | "
                         f"{verdict(r <= CEILING)}{shaky} |")
    for net, e in tiny.items():
        r = e["jax jit_step_us"] / e["mlp step_us"]
        lines.append(f"| {net}: step ≥ {TINY_VS_JAX}× faster than JAX's jitted step | {r:.2f}× "
                     f"({e['mlp step_us']:.2f} vs {e['jax jit_step_us']:.2f} µs) | {verdict(r >= TINY_VS_JAX)} |")
    if "big" in predict:
        e = predict["big"]
        r, b = e["torch"] / e["mlp net(x)"], e["mlp net(x)"] / e["bare NumPy"]
        lines.append(f"| predict 784-256-128-10 ≥ {PREDICT_BIG[0]}× PyTorch | {r:.2f}× | "
                     f"{verdict(r >= PREDICT_BIG[0])} |")
        lines.append(f"| predict 784-256-128-10 ≤ {PREDICT_BIG[1]}× bare NumPy | {b:.2f}× | "
                     f"{verdict(b <= PREDICT_BIG[1])} |")
    if "xor" in predict:
        r = predict["xor"]["torch"] / predict["xor"]["mlp net(x)"]
        lines.append(f"| predict 2-2-1 ≥ {PREDICT_XOR}× PyTorch | {r:.2f}× | {verdict(r >= PREDICT_XOR)} |")
    if memory:
        m = memory["mlp"]["peak_mib"]
        ok = m <= memory["torch"]["peak_mib"] and m <= memory["jax"]["peak_mib"]
        lines.append(f"| peak training memory ≤ PyTorch's and JAX's | {m:.0f} vs {memory['torch']['peak_mib']:.0f} "
                     f"and {memory['jax']['peak_mib']:.0f} MiB | {verdict(ok)} |")
    if compiled:
        c = compiled["mlp, cached"]["compile_s"]
        floor = compiled.get("numba floor", {}).get("floor_s")
        below = "" if floor is None else f"; numba's own floor {floor:.3f} s"
        lines.append(f"| first-fit compile ≤ {COMPILE_CACHED_S} s with the cache | {c:.3f} s (empty cache "
                     f"{compiled['mlp, empty cache']['compile_s']:.3f} s{below}) | "
                     f"{verdict(c <= COMPILE_CACHED_S)} |")
    if imports:
        lines.append(f"| `import mlp` < {IMPORT_S} s | {imports['import mlp']:.3f} s | "
                     f"{verdict(imports['import mlp'] < IMPORT_S)} |")
    lines.append(END)
    return "\n".join(lines)


def merge(args) -> int:
    """One report from runs saved with --save: each part from the run that measured it; the load
    averages of every run are listed."""
    runs = []
    for path in args.merge:
        with open(path, "rb") as f:
            runs.append(pickle.load(f))
    parts = [{} for _ in range(6)]
    for run in runs:
        for merged, part in zip(parts, run["parts"]):
            merged.update(part)
    first = runs[0]
    info = dict(first["info"])
    info["date"] = " + ".join(r["info"]["date"] for r in runs)
    info["load_start"] = first["info"]["load_start"]
    info["load_end"] = runs[-1]["info"]["load_end"]
    info["loads"] = [(r["info"]["date"], r["info"]["load_start"], r["info"]["load_end"]) for r in runs]
    for key in ("quick", "n", "epochs", "reps", "tiny_steps"):
        setattr(args, key, first["args"][key])
    section = report(info, *parts, args)
    print(section)
    if not args.no_write:
        write_section(section, BEGIN, END)
        print(f"\nwrote the speed section of {RESULTS}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short version")
    parser.add_argument("--only", default="train,tiny,predict,compile,memory,import",
                        help="comma-separated parts (train, tiny, predict, compile, memory, import)")
    parser.add_argument("--batches", default=None, help="comma-separated batch sizes (default 32,128,512)")
    parser.add_argument("--reps", type=int, default=None, help="repetitions per measurement (default 3)")
    parser.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md alone")
    parser.add_argument("--save", help="also keep this run's figures in FILE (for --merge)")
    parser.add_argument("--merge", nargs="+", metavar="FILE",
                        help="measure nothing: one report from the figures of runs saved with --save (a full "
                             "run split into parts of a few minutes each)")
    args = parser.parse_args(argv)
    if args.merge:
        return merge(args)
    args.n = 12_800 if args.quick else 60_000
    args.epochs = 1 if args.quick else 2
    args.reps = args.reps or 3
    args.tiny_steps = 1000 if args.quick else 3000
    batches = [int(b) for b in args.batches.split(",")] if args.batches else ([128] if args.quick else [32, 128, 512])
    parts = set(args.only.split(","))

    threads, blas = blas_info()
    info = machine_info(threads, blas)

    def log(msg):
        print(msg, flush=True)

    log(f"mlp speed benchmark{' (quick)' if args.quick else ''}: {info['cpu']}, {info['cores']} cores, "
        f"BLAS {blas} with {threads} threads; load {load()}")
    train = tiny = predict = compiled = memory = imports = {}
    if parts & {"train", "tiny", "predict"}:
        workers = {lib: Worker(lib, threads) for lib in LIBS}
        try:
            if "train" in parts:
                train = bench_training(workers, args.n, batches, args.epochs, args.reps, log)
            if "tiny" in parts:
                tiny = bench_tiny(workers, args.tiny_steps, args.reps, log)
            if "predict" in parts:
                predict = bench_predict({k: workers[k] for k in ("mlp", "torch")},
                                        1000 if args.quick else 3000, args.reps, log)
        finally:
            for w in workers.values():
                w.close()
    if "compile" in parts:
        compiled = bench_compile(threads, log)
    if "memory" in parts:
        memory = bench_memory(args.n, args.epochs, 128, log)
    if "import" in parts:
        imports = bench_import(5 if args.quick else 9, log)
    info["load_end"] = os.getloadavg()
    if args.save:
        with open(args.save, "wb") as f:
            pickle.dump({"info": info, "args": vars(args), "parts": (train, tiny, predict, compiled, memory,
                                                                      imports)}, f)
    section = report(info, train, tiny, predict, compiled, memory, imports, args)
    print()
    print(section)
    if not args.no_write:
        write_section(section, BEGIN, END)
        print(f"\nwrote the speed section of {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
