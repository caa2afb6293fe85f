"""What the benchmark scripts share: their sections of RESULTS.md and PyTorch's training loop.

Each script owns one section of benchmarks/RESULTS.md, between ``<!-- NAME:begin -->``
and ``<!-- NAME:end -->``, and rewrites only that one; PyTorch's loop is the same
for the speed benchmark (benchmarks/run.py) and the memory one (benchmarks/speed_rss.py).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def write_section(block: str, begin: str, end: str) -> None:
    """Put ``block`` (which starts with ``begin`` and ends with ``end``) in place of the old
    section of RESULTS.md, or append it; atomically (a temporary file, then a rename)."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    tmp = RESULTS.with_name(f".{RESULTS.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, RESULTS)


def torch_training(model, optimizer, X, y, batch: int, epochs: int, seed: int = 0) -> float:
    """A plain PyTorch training loop over NumPy data: shuffle with a seeded ``randperm``, slice
    the permutation, cross-entropy, step. Returns the last epoch's mean loss."""
    import numpy as np
    import torch
    loss_fn = torch.nn.CrossEntropyLoss()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    n = len(X)
    gen = torch.Generator().manual_seed(seed)
    last = float("nan")
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        total = torch.zeros(())
        for s in range(0, n, batch):
            idx = perm[s:s + batch]
            loss = loss_fn(model(Xt[idx]), yt[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(idx)
        last = total.item() / n
    return last
