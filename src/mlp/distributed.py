"""``mlp.distributed.fit``: the same ``fit`` on several processes and machines (torch.distributed).

This module owns launching data-parallel training: it spawns one worker process per
rank, joins them into a ``torch.distributed`` process group (gloo on CPUs, nccl on
GPUs), and runs mlp's own ``fit`` in each with ``engine="torch"``, where the step is
wrapped in ``DistributedDataParallel``. It does not own the step (``mlp.torch_engine``)
or the loop (``mlp.training``).

What each rank does, per global batch of B rows (the same seeded permutation on every
rank, as a single process draws it): rank r of W reads only rows
``[r·B/W, (r+1)·B/W)`` of the batch, computes its share of the global batch's loss
(sum over its rows ÷ the global batch's denominator), the gradients are summed
across ranks (DDP's all-reduce), and every rank takes the same ``torch.optim`` step.
So W processes give the parameters of one process with the same global batch, order
and seed (to float rounding: 1e-5 in float32, tests/test_distributed.py). The loss,
accuracy and History are the global batch's on every rank; validation, schedules,
early stopping and ReLU care run identically on every rank. Global rank 0 alone shows
the progress bar and runs ``Checkpoint`` callbacks (files are written once); each
launcher gets the trained network back.

Ctrl-C (SIGINT) reaches the launcher alone (the workers run in their own process
group) and is passed on to every worker: by default each stops after the same batch, as
``fit`` does; with ``ctrl_c="epoch"`` (``mlp train``) the first press stops every worker
after the same epoch and a second after the current batch, the network then being the last
completed epoch (what resumes exactly).

A worker that dies (killed, out of memory) stops the others; the launcher raises
:class:`WorkerFailed` with one line and the network is left as it was. Bad input is
refused before any process starts. A machine other than the master that cannot reach
``master_addr:master_port`` within ``timeout`` seconds gets one clear error.

Under the ``torchrun`` launcher (or any launcher that sets torchrun's environment:
``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``), a process is
already one rank: :func:`launched` reads that environment, :func:`join_launched` joins
the group, and the process's own ``fit(engine="torch")`` then trains data-parallel
(``mlp train`` does this by itself; rank 0 alone writes files).

PyTorch is imported inside the functions that use it: ``import mlp`` needs NumPy alone.
"""

from __future__ import annotations

import logging
import math
import os
import pickle
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import warnings
from datetime import timedelta

import numpy as np

from . import sources as _sources
from . import torch_engine as _engine
from .callbacks import Callback, Checkpoint
from .torch_engine import shard_bounds
from .training.interrupt import completed_epoch, snapshot

__all__ = ["WorkerFailed", "fit", "join_launched", "launched", "leave", "shard_bounds"]

#: Seconds a process waits for the others (joining the group, every collective).
DEFAULT_TIMEOUT = 60.0


class WorkerFailed(RuntimeError):
    """A worker process of ``mlp.distributed.fit`` died; the network was not changed."""


#: The running fit's workers and Ctrl-C presses (one fit at a time in a launcher): presses are
#: passed on to each worker once it says it is ready for them (its ``ready-RANK`` file).
_RUNNING = {"context": None, "workdir": None, "presses": 0, "given": []}


def interrupt_workers() -> None:
    """Pass a Ctrl-C on to the workers of the running ``fit`` (``mlp train`` calls this from its
    own SIGINT handler; ``fit`` does it itself for a KeyboardInterrupt)."""
    _RUNNING["presses"] += 1
    _deliver()


def _deliver() -> None:
    context, workdir = _RUNNING["context"], _RUNNING["workdir"]
    if context is None:
        return
    given = _RUNNING["given"]
    for i, proc in enumerate(context.processes):
        if given[i] < _RUNNING["presses"] and proc.is_alive() \
                and os.path.exists(os.path.join(workdir, f"ready-{i}")):
            try:
                os.kill(proc.pid, signal.SIGINT)
            except OSError:                  # pragma: no cover - it has just ended
                pass
            given[i] += 1                    # one at a time: two at once could arrive as one


class _EpochGuard(Callback):
    """In every worker of a run with ``ctrl_c="epoch"`` (``mlp train``): keeps the last completed
    epoch (to go back to after a second Ctrl-C) and stops after the epoch in which any rank was
    asked to (``torch_engine.AGREED``: the same epoch on every rank)."""

    snapshot = None

    def on_epoch_end(self, epoch, history):
        self.snapshot = snapshot(self.network)
        return True if _engine.AGREED["epoch"] else None


def _check_int(name: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    return int(value)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_master(addr: str, port: int, timeout: float) -> None:
    """Return once ``addr:port`` accepts a TCP connection; ValueError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise ValueError(f"cannot reach the master at {addr}:{port} within {timeout:g} s ({last}); "
                             "is the node with --node-rank 0 running, and are --master-addr and "
                             "--master-port right?")
        try:
            with socket.create_connection((addr, port), timeout=min(left, 2.0)):
                return
        except OSError as exc:
            last = exc.strerror or type(exc).__name__
            time.sleep(min(0.2, max(deadline - time.monotonic(), 0)))


#: The environment variables a torchrun-style launcher sets in every process it starts.
LAUNCHER_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def launched(environ=None) -> dict | None:
    """``{"rank", "world", "local_rank", "master_addr", "master_port"}`` when this process was
    started by ``torchrun`` (all of ``LAUNCHER_ENV`` set), else None; ValueError for values that
    are not numbers."""
    env = os.environ if environ is None else environ
    if not all(env.get(k) for k in LAUNCHER_ENV):
        return None
    try:
        rank, world, local = int(env["RANK"]), int(env["WORLD_SIZE"]), int(env["LOCAL_RANK"])
        port = int(env["MASTER_PORT"])
    except ValueError:
        raise ValueError("the launcher's environment is not numbers: RANK="
                         f"{env['RANK']!r} WORLD_SIZE={env['WORLD_SIZE']!r} LOCAL_RANK={env['LOCAL_RANK']!r} "
                         f"MASTER_PORT={env['MASTER_PORT']!r}") from None
    if world < 1 or not 0 <= rank < world or local < 0:
        raise ValueError(f"the launcher's environment is inconsistent: RANK={rank}, WORLD_SIZE={world}, "
                         f"LOCAL_RANK={local}")
    return {"rank": rank, "world": world, "local_rank": local, "master_addr": env["MASTER_ADDR"],
            "master_port": port}


def join_launched(info: dict, device: str | None = "cpu", timeout: float = DEFAULT_TIMEOUT) -> str:
    """Join the process group a torchrun launcher set up (``info`` from :func:`launched`);
    returns the device this rank trains on ("cuda" becomes this rank's own GPU, "cuda:LOCAL_RANK").
    One ValueError when the master cannot be reached within ``timeout`` seconds."""
    torch = _engine.require_torch()
    import torch.distributed as dist

    device = device or "cpu"
    if not (device == "cpu" or device.startswith("cuda")):
        raise ValueError(f"device must be 'cpu' or 'cuda' for distributed training, got {device!r}")
    if device == "cuda":
        device = f"cuda:{info['local_rank']}"
    if info["rank"] > 0:
        wait_for_master(info["master_addr"], info["master_port"], timeout)
    backend = "nccl" if device.startswith("cuda") else "gloo"
    threads = max(1, (os.cpu_count() or 1) // max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1"))))
    torch.set_num_threads(threads)
    try:
        dist.init_process_group(backend, init_method="env://", rank=info["rank"], world_size=info["world"],
                                timeout=timedelta(seconds=timeout))
    except Exception as exc:                 # noqa: BLE001 - one line
        raise ValueError(f"rank {info['rank']} could not join the process group at "
                         f"{info['master_addr']}:{info['master_port']} within {timeout:g} s: "
                         f"{' '.join(str(exc).split())}") from None
    return device


def leave() -> None:
    """Leave the process group joined by :func:`join_launched` (nothing if none): after a barrier,
    so that no rank tears its connections down while another still uses them (a rank that left
    early sometimes aborted at exit: "terminate called without an active exception")."""
    import torch.distributed as dist

    if dist.is_initialized():
        try:
            dist.barrier()
        except Exception:                    # noqa: BLE001 - a peer already gone: leave all the same
            pass
        dist.destroy_process_group()


def _portable(a, name):
    """Data a spawned worker can receive: memory maps travel as file names, not copies."""
    if isinstance(a, np.memmap):
        return _sources.as_rows(a, name)
    return a


class _Config:
    """What every worker needs (pickled once per worker)."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


def _on_ctrl_c(ctrl_c: str):
    """A worker's SIGINT handler: ``"batch"``: stop after the current batch; ``"epoch"``: the first
    stops after the current epoch, a second after the current batch (every rank the same)."""
    if ctrl_c == "batch":
        return _engine.request_stop
    presses = [0]

    def handle(*_args):
        presses[0] += 1
        (_engine.request_stop_after_epoch if presses[0] == 1 else _engine.request_stop)()

    return handle


def _worker(local_rank: int, cfg: _Config) -> None:
    import torch
    import torch.distributed as dist

    os.setpgrp()        # a terminal's Ctrl-C goes to the launcher alone, which passes it on once
    signal.signal(signal.SIGINT, _on_ctrl_c(cfg.ctrl_c))
    open(os.path.join(cfg.workdir, f"ready-{local_rank}"), "w").close()   # noqa: SIM115
    _sigint(signal.SIG_UNBLOCK)          # blocked since the launcher spawned this process
    rank = cfg.node_rank * cfg.nproc + local_rank
    world = cfg.nnodes * cfg.nproc
    torch.set_num_threads(cfg.threads)
    code = 1
    try:
        try:
            dist.init_process_group(cfg.backend, init_method=f"tcp://{cfg.master_addr}:{cfg.master_port}",
                                    rank=rank, world_size=world, timeout=timedelta(seconds=cfg.timeout))
        except Exception as exc:             # noqa: BLE001 - one line for the launcher
            raise ValueError(f"rank {rank} could not join the process group at "
                             f"{cfg.master_addr}:{cfg.master_port}: {exc}") from None
        net, options = cfg.net, dict(cfg.options)
        options["engine"] = "torch"
        device = cfg.device
        if device.startswith("cuda") and ":" not in device:
            device = f"cuda:{local_rank}"
        options["device"] = device
        if rank != 0:
            options["progress"] = False
            options["callbacks"] = [cb for cb in options.get("callbacks", ()) or ()
                                    if not isinstance(cb, Checkpoint)
                                    and not getattr(cb, "rank0_only", False)]
        guard = _EpochGuard() if cfg.ctrl_c == "epoch" else None
        if guard is not None:
            options["callbacks"] = [*(options.get("callbacks") or ()), guard]
        with warnings.catch_warnings(record=True) as caught:     # given to the launcher, said once
            warnings.simplefilter("always")
            history = net.fit(cfg.X, cfg.y, **options)
        if guard is not None and _engine.AGREED["batch"]:       # a second Ctrl-C cut an epoch short:
            net = completed_epoch(net, guard.snapshot)          # back to the last completed one
            history = None if net is None else net.history
        if local_rank == 0:
            said = [(str(w.message), w.category) for w in caught] if rank == 0 else []
            with open(os.path.join(cfg.workdir, f"result-{cfg.node_rank}.pkl"), "wb") as f:
                pickle.dump({"params": None if net is None else net.params,
                             "train_state": None if net is None else net.train_state, "history": history,
                             "warnings": said}, f)
        code = 0
    except BaseException as exc:             # noqa: BLE001 - passed on to the launcher
        _report(cfg, rank, exc)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)          # at once: an interpreter with torch loaded takes seconds to wind down


def _sigint(how) -> None:
    """Block or unblock SIGINT for this thread (a blocked press waits, it is not lost)."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(how, {signal.SIGINT})


def _join(context, ctrl_c: str, blocked: bool = False) -> None:
    """Wait for the workers, passing Ctrl-C presses on to them. A KeyboardInterrupt here is passed
    on and waited out (the workers stop after the same batch); with ``ctrl_c="batch"`` a second
    one interrupts the launcher at once. ``blocked``: SIGINT is blocked (for the spawn) and is
    unblocked here, where a press that waited is handled like any other."""
    interrupted = False
    while True:
        try:
            if blocked:
                blocked = False
                _sigint(signal.SIG_UNBLOCK)
            _deliver()
            if context.join(timeout=0.1):
                return
        except KeyboardInterrupt:
            interrupt_workers()
            if interrupted and ctrl_c == "batch":
                raise
            interrupted = True


def _report(cfg, rank, exc) -> None:
    try:
        with open(os.path.join(cfg.workdir, f"error-{rank}.pkl"), "wb") as f:
            pickle.dump(exc, f)
    except Exception:                        # noqa: BLE001 - an unpicklable error: its text
        with open(os.path.join(cfg.workdir, f"error-{rank}.pkl"), "wb") as f:
            pickle.dump(RuntimeError(f"{type(exc).__name__}: {exc}"), f)


def _first_error(workdir):
    """The error a worker reported, its own before one that only followed a peer's failure
    (a torch.distributed error: the connection to a dead rank), lowest rank first."""
    errors = []
    for name in sorted(p for p in os.listdir(workdir) if p.startswith("error-")):
        with open(os.path.join(workdir, name), "rb") as f:
            errors.append(pickle.load(f))
    own = [e for e in errors if not _follows_a_peer(e)]
    return (own or errors or [None])[0]


def _follows_a_peer(exc) -> bool:
    try:
        import torch.distributed as dist
    except ImportError:                      # pragma: no cover - torch is there when workers ran
        return False
    return isinstance(exc, getattr(dist, "DistError", ())) or "Connection closed by peer" in str(exc)


def _killed(context):
    """(rank, signal name) of the first worker killed by a signal other than the SIGTERM that
    torch sends the survivors after a failure, else None."""
    for i, proc in enumerate(context.processes):
        code = proc.exitcode
        if code is not None and code < 0 and -code != signal.SIGTERM:
            try:
                return i, signal.Signals(-code).name
            except ValueError:
                return i, f"signal {-code}"
    return None


def fit(net, X, y, *, nproc: int = 2, nnodes: int = 1, node_rank: int = 0, master_addr: str = "127.0.0.1",
        master_port: int | None = None, device: str = "cpu", backend: str | None = None,
        timeout: float = DEFAULT_TIMEOUT, threads: int | None = None, ctrl_c: str = "batch", **options):
    """Train ``net`` on (X, y) with ``nproc`` processes on this machine (× ``nnodes`` machines).

    Every option of ``Network.fit`` is taken (``engine`` is "torch"); the global batch is
    ``batch_size``, split between the ranks, so the result equals ``net.fit(X, y,
    engine="torch", **options)`` in one process to float rounding.

    Parameters
    ----------
    net : Network
        Trained in place, as by ``net.fit`` (its ``train_state`` continues: a resumed run
        goes on exactly).
    X, y : arrays or memory maps (``np.load(..., mmap_mode="r")``, ``mlp.sources``)
        Memory maps are passed to the workers by file name, not copied.
    nproc : int, default 2
        Worker processes on this machine (``--nproc-per-node``).
    nnodes, node_rank, master_addr, master_port
        torchrun's conventions for several machines: run the same call on each
        machine with its ``node_rank`` (0 … nnodes − 1); ``master_addr:master_port``
        is the node-rank-0 machine. ``master_port`` None: a free port (one machine only).
    device : str, default "cpu"
        "cpu" (backend gloo) or "cuda" (each process its own GPU, backend nccl).
    timeout : float, default 60
        Seconds to wait for the other processes (to join, and at every all-reduce).
    threads : int, optional
        Torch threads per worker; default the CPUs divided by ``nproc``.
    ctrl_c : {"batch", "epoch"}, default "batch"
        What a Ctrl-C (SIGINT to this process; the workers get it from here) does: "batch",
        as ``fit``: every worker stops after the same batch; "epoch", as ``mlp train``: the
        first stops every worker after the same epoch, a second after the current batch, and
        ``net`` is then the last completed epoch (unchanged if none was completed) — what
        resumes exactly.

    Returns
    -------
    History
        ``stop_reason`` "interrupted" after a Ctrl-C.

    Raises
    ------
    WorkerFailed
        A worker died; ``net`` is unchanged.
    """
    _engine.require_torch()
    nproc = _check_int("nproc", nproc, 1)
    nnodes = _check_int("nnodes", nnodes, 1)
    node_rank = _check_int("node_rank", node_rank, 0)
    if node_rank >= nnodes:
        raise ValueError(f"node_rank must be in 0 … nnodes − 1 = {nnodes - 1}, got {node_rank}")
    if not (isinstance(timeout, (int, float)) and not isinstance(timeout, bool)
            and math.isfinite(timeout) and timeout > 0):
        raise ValueError(f"timeout must be a number of seconds > 0, got {timeout!r}")
    if ctrl_c not in ("batch", "epoch"):
        raise ValueError(f"ctrl_c must be 'batch' or 'epoch', got {ctrl_c!r}")
    if "engine" in options and options["engine"] != "torch":
        raise ValueError(f"mlp.distributed.fit trains with engine='torch', got engine={options['engine']!r}")
    options.pop("engine", None)
    if not isinstance(device, str) or not (device == "cpu" or device.startswith("cuda")):
        raise ValueError(f"device must be 'cpu' or 'cuda' for distributed training, got {device!r}")
    backend = backend or ("nccl" if device.startswith("cuda") else "gloo")
    if master_port is None:
        if nnodes > 1:
            raise ValueError("several machines need --master-port (the same on every machine)")
        master_port = _free_port()
    master_port = _check_int("master_port", master_port, 1)
    if node_rank > 0:
        wait_for_master(master_addr, master_port, timeout)
    threads = threads or max(1, (os.cpu_count() or 1) // nproc)
    import torch.multiprocessing as tmp

    # torch logs "Terminating process … via signal SIGTERM" when a worker dies: WorkerFailed says it
    logging.getLogger("torch.multiprocessing.spawn").setLevel(logging.ERROR)
    workdir = tempfile.mkdtemp(prefix="mlp-distributed-")
    cfg = _Config(net=net, X=_portable(X, "X"), y=_portable(y, "y"), options=options, nproc=nproc,
                  nnodes=nnodes, node_rank=node_rank, master_addr=master_addr, master_port=master_port,
                  device=device, backend=backend, timeout=float(timeout), threads=threads, workdir=workdir,
                  ctrl_c=ctrl_c)
    main = threading.current_thread() is threading.main_thread()
    try:
        try:
            # SIGINT blocked from the spawn until _join waits: a press then waits instead of
            # interrupting between the two (workers left running), and the workers, which inherit
            # the mask, take presses only once their own handler is in place
            if main:
                _sigint(signal.SIG_BLOCK)
            try:
                context = tmp.start_processes(_worker, args=(cfg,), nprocs=nproc, join=False,
                                              start_method="spawn")
            except BaseException:
                if main:
                    _sigint(signal.SIG_UNBLOCK)
                raise
            _RUNNING.update(context=context, workdir=workdir, given=[0] * nproc)
            _join(context, ctrl_c, blocked=main)
        except tmp.ProcessExitedException as exc:
            killed = _killed(context)          # a killed worker, not the others' errors that followed it
            error = None if killed else _first_error(workdir)
            if error is not None:
                raise error from None
            index, how = exc.error_index, f"exit code {exc.exit_code}"
            if killed or getattr(exc, "signal_name", None):
                index, name = killed or (exc.error_index, exc.signal_name)
                how = f"killed by signal {name}"
            raise WorkerFailed(f"worker {index} of {nproc} died ({how}); training stopped and "
                               "the network is unchanged") from None
        except tmp.ProcessRaisedException as exc:        # pragma: no cover - _worker reports instead
            raise WorkerFailed(f"a worker failed: {str(exc).strip().splitlines()[-1]}") from None
        path = os.path.join(workdir, f"result-{node_rank}.pkl")
        with open(path, "rb") as f:
            result = pickle.load(f)
    finally:
        _RUNNING.update(context=None, workdir=None, presses=0, given=[])
        shutil.rmtree(workdir, ignore_errors=True)
    for message, category in result.get("warnings", ()):   # rank 0's warnings, here where they show
        warnings.warn(message, category, stacklevel=2)
    if result["params"] is not None:        # None: cut short before an epoch was completed
        net.params = result["params"]
        net.train_state = result["train_state"]
        net.history = result["train_state"].history
    return getattr(net, "history", None)
