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


def jax_init(sizes, seed: int = 0):
    """He-normal weights (out, in) and zero biases, float32, as a list of (W, b) NumPy pairs."""
    import numpy as np
    rng = np.random.default_rng(seed)
    return [((rng.standard_normal((b, a)) * np.sqrt(2.0 / a)).astype(np.float32), np.zeros(b, np.float32))
            for a, b in zip(sizes[:-1], sizes[1:])]


def jax_forward(params, x, hidden="relu"):
    """Logits of an MLP in JAX: z = h Wᵀ + b per layer, ``hidden`` between layers."""
    import jax
    import jax.numpy as jnp
    act = jax.nn.relu if hidden == "relu" else jnp.tanh
    h = x
    for i, (W, b) in enumerate(params):
        h = h @ W.T + b
        if i < len(params) - 1:
            h = act(h)
    return h


_JAX_STEPS: dict = {}


def jax_train_step(size: int, opt: str, hidden: str = "relu", loss: str = "ce"):
    """The jitted training step for batches of ``size`` (cached: compiled once per process and shape):
    gathers the batch ``X[perm[start:start + size]]`` inside the compiled step, takes optax's step,
    adds the batch's summed loss to ``total``; parameters, optimiser state and total donated."""
    key = (size, opt, hidden, loss)
    if key in _JAX_STEPS:
        return _JAX_STEPS[key]
    import jax
    import optax
    tx = jax_optimizer(opt)

    def loss_fn(p, xb, yb):
        out = jax_forward(p, xb, hidden)
        if loss == "ce":
            return optax.softmax_cross_entropy_with_integer_labels(out, yb).mean()
        return ((out - yb) ** 2).mean()

    def step(p, s, total, X, y, perm, start):
        idx = jax.lax.dynamic_slice(perm, (start,), (size,))
        value, g = jax.value_and_grad(loss_fn)(p, X[idx], y[idx])
        updates, s = tx.update(g, s, p)
        return optax.apply_updates(p, updates), s, total + value * size

    _JAX_STEPS[key] = jax.jit(step, donate_argnums=(0, 1, 2))
    return _JAX_STEPS[key]


def jax_optimizer(opt: str):
    import optax
    return {"sgd": lambda: optax.sgd(0.1), "adam": lambda: optax.adam(1e-3),
            "sgd0.03": lambda: optax.sgd(0.03)}[opt]()


def jax_training(X, y, batch: int, epochs: int, opt: str, seed: int = 0, sizes=(784, 256, 128, 10)):
    """What a speed-minded JAX user writes: data on the device once, one ``jax.jit`` step per batch
    (the batch gathered inside the compiled step from a shuffled permutation), optax's SGD(0.1) or
    Adam(1e-3), parameters and optimiser state donated. Returns (last epoch's mean loss, seconds of
    each epoch). The steps are compiled once per process (the first call pays it)."""
    import time

    import jax
    import jax.numpy as jnp
    import numpy as np
    params = [(jnp.asarray(W), jnp.asarray(b)) for W, b in jax_init(list(sizes), seed)]
    state = jax_optimizer(opt).init(params)
    Xd, yd = jax.device_put(X), jax.device_put(y.astype(np.int32))
    n = len(X)
    full, rest = divmod(n, batch)
    step_full = jax_train_step(batch, opt)
    step_rest = jax_train_step(rest, opt) if rest else None
    rng = np.random.default_rng(seed)
    last, seconds = float("nan"), []
    for _ in range(epochs):
        t = time.perf_counter()
        perm = jax.device_put(rng.permutation(n).astype(np.int32))
        total = jnp.zeros((), jnp.float32)
        for b in range(full):
            params, state, total = step_full(params, state, total, Xd, yd, perm, b * batch)
        if rest:
            params, state, total = step_rest(params, state, total, Xd, yd, perm, full * batch)
        last = float(total) / n
        seconds.append(time.perf_counter() - t)
    return last, seconds
