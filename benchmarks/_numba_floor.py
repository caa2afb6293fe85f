"""numba's own floor under mlp's first-fit compile time (called by benchmarks/run.py).

``python benchmarks/_numba_floor.py``: in this fresh process, the seconds of ``import numba`` and
of the first call of a one-line ``@njit(cache=True)`` function (numba builds its compiler
context on a process's first call, even when the machine code comes from the disk cache);
one JSON line. Run it twice with the same ``NUMBA_CACHE_DIR``: the second run is the floor of
any cached numba kernel in a fresh process.
"""

import json
import time

import numpy as np

t0 = time.perf_counter()
import numba  # noqa: E402

t1 = time.perf_counter()


@numba.njit(cache=True)
def _add(a, b):
    for i in range(a.shape[0]):
        a[i] += b[i]


a = np.ones(4, np.float32)
_add(a, a)
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "first_call_s": t2 - t1, "floor_s": t2 - t0}))
