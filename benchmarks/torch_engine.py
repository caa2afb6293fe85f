"""engine="torch" on a device vs the NumPy engine on the CPU: samples/s of fit, 784-256-128-10.

``python benchmarks/torch_engine.py [--device cuda] [--n 60000]``

The same synthetic data as benchmarks/run.py (N × 784 float32, 10 classes from a random linear
teacher), ReLU/softmax, SGD lr 0.1, one epoch after one warm-up epoch, batch 128, 512 and 4096,
each framework in its own process. Writes its section of RESULTS.md with the device's name;
where no GPU is available (``--device cuda`` and torch.cuda.is_available() is False) it says so
and writes nothing else.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from _common import write_section

BATCHES = (128, 512, 4096)


def child(engine: str, device: str, n: int, batch: int) -> None:
    import numpy as np

    import mlp
    rng = np.random.default_rng(0)
    X = rng.random((n, 784), dtype=np.float32)
    teacher = rng.standard_normal((784, 10)).astype(np.float32)
    y = np.argmax((X - 0.5) @ teacher, axis=1)
    net = mlp.Network.from_sizes([784, 256, 128, 10], hidden="relu", output="softmax", seed=0)
    kw = dict(optimizer=mlp.optimizers.SGD(lr=0.1), batch_size=batch, relu_care=False, progress=False, seed=0)
    if engine == "torch":
        kw.update(engine="torch", device=device)
    net.fit(X, y, epochs=1, **kw)                    # warm-up (imports, allocations, CUDA context)
    t = time.perf_counter()
    net.fit(X, y, epochs=1, **{k: v for k, v in kw.items() if k != "seed"})
    print(json.dumps({"samples_s": n / (time.perf_counter() - t)}))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--n", type=int, default=60000)
    p.add_argument("--child", nargs=4)
    args = p.parse_args()
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]), int(args.child[3]))
        return
    import torch
    begin, end = "<!-- torch_engine_speed:begin -->", "<!-- torch_engine_speed:end -->"
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("no GPU available: nothing measured")
        return
    name = torch.cuda.get_device_name(torch.device(args.device)) if args.device.startswith("cuda") else "CPU"
    rows = []
    for batch in BATCHES:
        got = {}
        for engine, device in (("numpy", "cpu"), ("torch", args.device)):
            cmd = [sys.executable, __file__, "--child", engine, device, str(args.n), str(batch)]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True)
            got[engine] = json.loads(out.stdout.strip().splitlines()[-1])["samples_s"]
        ratio = got["torch"] / got["numpy"]
        rows.append(f"| {batch} | {got['numpy']:,.0f} | {got['torch']:,.0f} | {ratio:.2f} |")
        print(rows[-1], flush=True)
    load = os.getloadavg()
    title = f"### engine=\"torch\" on {name} ({args.device}) vs the NumPy engine on the CPU"
    block = "\n".join([begin, title,
                       "", f"784-256-128-10, SGD lr 0.1, {args.n:,} examples, one epoch after a warm-up; "
                       f"load {load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f}.", "",
                       "| batch | NumPy engine, CPU (samples/s) | torch engine (samples/s) | ratio |",
                       "|---:|---:|---:|---:|", *rows, end])
    write_section(block, begin, end)


if __name__ == "__main__":
    main()
