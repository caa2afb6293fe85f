"""Peak memory of one training run, in a fresh process (called by benchmarks/run.py).

``python benchmarks/speed_rss.py FRAMEWORK N EPOCHS BATCH`` with FRAMEWORK ``mlp``
``torch`` or ``jax``: builds the same synthetic float32 data set as run.py (N × 784, 10
classes), trains the 784-256-128-10 ReLU/softmax network with SGD(lr=0.1), and
prints one JSON line, in MiB: the resident set size before training (imports and
data loaded), the peak during training (VmHWM, reset just before training) and the
peak over the whole process (``ru_maxrss``, data generation included).
"""

from __future__ import annotations

import json
import resource
import sys

import numpy as np
from _common import jax_training, torch_training


def rss_now_mib() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def make_data(n: int, seed: int = 0):
    """Synthetic data (same as run.py): pixels uniform in [0, 1), labels from a random linear teacher."""
    rng = np.random.default_rng(seed)
    X = rng.random((n, 784), dtype=np.float32)
    teacher = rng.standard_normal((784, 10)).astype(np.float32)
    y = np.empty(n, np.intp)
    for start in range(0, n, 4096):           # in blocks: no temporary the size of X
        y[start:start + 4096] = np.argmax((X[start:start + 4096] - 0.5) @ teacher, axis=1)
    return X, y


def reset_peak() -> bool:
    """Reset the kernel's peak-RSS counter (VmHWM) so that it measures training alone."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_mib() -> float:
    """VmHWM (peak resident set since the last reset) in MiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main(framework: str, n: int, epochs: int, batch: int) -> None:
    if framework == "torch":
        import torch
        from threadpoolctl import threadpool_info
        blas = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
        torch.set_num_threads(blas[0] if blas else 2)
    elif framework == "jax":
        import jax
        jax.config.update("jax_platforms", "cpu")
    else:
        import mlp
    X, y = make_data(n)
    before = rss_now_mib()
    reset = reset_peak()
    if framework == "torch":
        torch.manual_seed(0)
        nn = torch.nn
        model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                              nn.Linear(128, 10))
        torch_training(model, torch.optim.SGD(model.parameters(), lr=0.1), X, y, batch, epochs)
    elif framework == "jax":
        jax_training(X, y, batch, epochs, "sgd")
    else:
        net = mlp.Network.from_sizes([784, 256, 128, 10], hidden="relu", output="softmax", seed=0)
        net.fit(X, y, loss="cross_entropy", optimizer=mlp.optimizers.SGD(lr=0.1), epochs=epochs,
                batch_size=batch, shuffle=True, seed=0, progress=False)
    process_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # KiB on Linux
    training_peak = peak_mib() if reset else process_peak
    print(json.dumps({"framework": framework, "before_mib": round(before, 1),
                      "peak_mib": round(training_peak, 1), "process_peak_mib": round(process_peak, 1)}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
