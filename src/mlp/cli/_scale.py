"""``mlp train``'s way past one CPU: data bigger than memory and several processes or machines.

Data: DATA may be a ``.npy`` file of inputs with its targets in ``--targets y.npy``
(both memory-mapped), a folder of ``.npy``/``.npz`` shards (what ``mlp convert``
writes, or any ``X*.npy`` + ``y*.npy`` pairs), or a Parquet file (``--target COLUMN``),
which ``mlp.convert`` turns into shards in a temporary folder first. The inputs stay on
disk (``mlp.sources.MappedRows``: each batch reads its rows); ``--targets y.npy`` of class
labels stays on disk too (memory-mapped, read by batch); other targets, one value a row, are
read into memory. The input scaler comes from ``meta.json`` or one streaming pass.

Processes: ``--nproc-per-node N`` spawns N workers through ``mlp.distributed.fit``;
torchrun's ``--nnodes``, ``--node-rank``, ``--master-addr``, ``--master-port`` join
several machines; ``--timeout`` bounds the wait for the others. Under the ``torchrun``
launcher itself (``RANK``, ``WORLD_SIZE``, … in the environment) this process is one
rank: it joins the group (``mlp.distributed.join_launched``) and trains in place;
rank 0 alone writes the model file, the checkpoint and the History.
"""

from __future__ import annotations

import math
import signal
import tempfile
import threading
import warnings
from pathlib import Path

import numpy as np

from .. import distributed as _distributed
from .. import sources as _sources
from .._targets import label_value
from ..callbacks import Checkpoint
from ..convert import scaler_of
from ..data import Data, StandardScaler, align_classes, encode_array_target, too_many_classes
from ..training.interrupt import snapshot
from ._common import CLIError, note
from ._ctrl_c import _StopRequested

#: DATA that ``mlp train`` reads as a memory map (a folder is a folder of shards).
SUFFIXES = (".npy", ".parquet")
_LAUNCH_FLAGS = ("nproc_per_node", "nnodes", "node_rank", "master_addr", "master_port")


def add_flags(p) -> None:
    """``--targets`` and the flags of several processes and machines."""
    p.add_argument("--targets", metavar="Y.npy",
                   help="with DATA a .npy file of inputs: the .npy file of its targets (both memory-mapped)")
    g = p.add_argument_group(
        "several processes and machines",
        "data-parallel training with torch.distributed (gloo on CPUs, nccl on GPUs; needs "
        "pip install 'mlp[torch]'), with torchrun's flags. Under the torchrun launcher itself "
        "(RANK, WORLD_SIZE, ... set) each process is one rank: give none of these.")
    g.add_argument("--nproc-per-node", type=int, metavar="N",
                   help="worker processes on this machine (trains with --engine torch)")
    g.add_argument("--nnodes", type=int, metavar="N", help="machines taking part (default 1)")
    g.add_argument("--node-rank", type=int, metavar="R", help="this machine: 0 ... nnodes-1 (default 0)")
    g.add_argument("--master-addr", metavar="HOST",
                   help="address of the --node-rank 0 machine (default 127.0.0.1)")
    g.add_argument("--master-port", type=int, metavar="PORT",
                   help="a free port on it (default: any free port; needed with --nnodes > 1)")
    g.add_argument("--timeout", type=float, metavar="SECONDS",
                   help="seconds to wait for the other processes: to meet, and at every step (default 60)")


def is_big(data: str, targets) -> bool:
    """Whether DATA is read through ``mlp.sources`` (memory-mapped) rather than ``mlp.data``."""
    path = Path(data)
    return targets is not None or path.suffix.lower() in SUFFIXES or path.is_dir()


def is_lazy(data) -> bool:
    """Whether ``data`` (a Data, or rows) is on disk."""
    return _sources.is_lazy(data.X if isinstance(data, Data) else data)


# --------------------------------------------------------------------------- data


def _labels_on_disk(y, args, classes):
    """``--targets y.npy`` of integer class labels, as (targets, classes) for a ``Data`` without
    reading them into memory: the memory map itself where the labels are 0 … k−1 (one streaming
    pass finds them), else the class indices in memory (one vectorised pass). None where the
    labels need ``encode_array_target``'s whole reading (a regression target, too many values,
    one class, a model's classes that are not 0 … k−1)."""
    if len(y.parts) != 1 or y.stored_dtype.kind not in "iu" or not (
            y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1)) or args.task == "regression":
        return None
    found = np.unique(np.concatenate([np.unique(chunk) for _, chunk in y.chunks()]))
    if len(found) < 2 or (args.task != "classification" and too_many_classes(found.tolist(), n=len(y))):
        return None
    mapped = y.parts[0].reshape(-1)
    if classes is not None:
        if list(classes) != list(range(len(classes))) or found[0] < 0 or found[-1] >= len(classes):
            return None
        return mapped, list(classes)
    if np.array_equal(found, np.arange(len(found))):
        return mapped, found.tolist()
    codes = np.empty(len(y), np.int64)
    for start, chunk in y.chunks():
        codes[start:start + len(chunk)] = np.searchsorted(found, chunk.reshape(-1))
    return codes, [label_value(v) for v in found.tolist()]


def read(args, classes, workdir) -> tuple[Data, dict, str]:
    """(Data with X on disk and y on disk or in memory, the shards' meta.json or {}, where the target
    came from). ``--targets y.npy`` of class labels 0 … k−1 stays memory-mapped; other targets, one
    value a row, are read into memory."""
    X, y, meta = _sources.open_source(args.data, targets=args.targets, target=args.target, workdir=workdir,
                                      task=args.task)
    labels = _labels_on_disk(y, args, classes) if args.targets is not None else None
    values = None if labels is not None else _sources.read_all(y)       # one value a row: small
    what = f"{args.targets or args.data}: y"
    if labels is not None:
        data = Data(X=X, y=labels[0], classes=labels[1], task="classification")
    elif meta.get("task") == "classification" and meta.get("classes"):      # mlp convert's class codes
        data = Data(X=X, y=values.astype(np.int64).reshape(-1), classes=list(meta["classes"]),
                    task="classification")
        if classes is not None:
            align_classes(data, classes, what=what)
    elif meta.get("task") == "regression":
        data = Data(X=X, y=values.astype(np.float64).reshape(len(values), -1), task="regression")
    else:
        y_, found, task = encode_array_target(values, task=args.task, classes=classes, what=what)
        data = Data(X=X, y=y_, classes=found, task=task)
    data.feature_names = list(meta.get("feature_names") or [f"x{j}" for j in range(X.shape[1])])
    data.target_name = meta.get("target_name") or ("y" if args.targets is None else Path(args.targets).stem)
    data.source = str(args.data)
    chosen = ("--targets" if args.targets else "--target" if args.target
              else "the last column" if Path(args.data).suffix.lower() == ".parquet" else "the shards' y")
    return data, meta, chosen


def scaler(data, meta: dict) -> StandardScaler:
    """The input standardisation: ``mlp convert``'s statistics, else one streaming pass over X."""
    stats = meta.get("scaler")
    if stats:
        return StandardScaler(stats["mean"], stats["scale"])
    return scaler_of((chunk for _, chunk in data.X.chunks()), what=data.source)


def workdir(args):
    """A temporary folder for a Parquet file's shards (None for other DATA); the caller cleans it."""
    path = Path(args.data)
    if path.suffix.lower() == ".parquet" or (path.is_dir() and any(path.glob("*.parquet"))):
        return tempfile.TemporaryDirectory(prefix="mlp-parquet-")
    return None


def class_indices(net, X) -> np.ndarray:
    """Predicted class indices of rows on disk, read in chunks."""
    index = {label: k for k, label in enumerate(net.classes_)}
    return np.concatenate([np.array([index[c] for c in net.predict_classes(chunk).tolist()], dtype=np.int64)
                           for _, chunk in X.chunks()])


# --------------------------------------------------------------------------- processes


def _check_timeout(timeout) -> float:
    if timeout is None:
        return _distributed.DEFAULT_TIMEOUT
    if not (math.isfinite(timeout) and timeout > 0):
        raise CLIError(f"--timeout must be a number of seconds > 0, got {timeout:g}")
    return float(timeout)


def plan(args) -> dict | None:
    """How this run trains: None (this process alone), ``{"kind": "spawn", …}`` (--nproc-per-node
    and torchrun's flags) or ``{"kind": "torchrun", "rank", "world", …}`` (under the launcher).
    Bad flags: one CLIError, before anything is read or written."""
    given = [f"--{k.replace('_', '-')}" for k in _LAUNCH_FLAGS if getattr(args, k) is not None]
    info = _distributed.launched()
    timeout = _check_timeout(args.timeout)
    if info is not None:
        if given:
            raise CLIError(f"running under torchrun (RANK, WORLD_SIZE, ... are set): give {given[0]} to "
                           "torchrun, not to mlp train")
        return {"kind": "torchrun", "timeout": timeout, **info}
    if not given:
        if args.timeout is not None:
            raise CLIError("--timeout goes with --nproc-per-node or torchrun's flags (several processes)")
        return None
    nproc = 1 if args.nproc_per_node is None else args.nproc_per_node
    nnodes = 1 if args.nnodes is None else args.nnodes
    node_rank = 0 if args.node_rank is None else args.node_rank
    if nproc < 1:
        raise CLIError(f"--nproc-per-node must be at least 1, got {nproc}")
    if nnodes < 1:
        raise CLIError(f"--nnodes must be at least 1, got {nnodes}")
    if not 0 <= node_rank < nnodes:
        raise CLIError(f"--node-rank must be in 0 ... {nnodes - 1} (--nnodes {nnodes}), got {node_rank}")
    if args.master_port is not None and not 1 <= args.master_port <= 65535:
        raise CLIError(f"--master-port must be in 1 ... 65535, got {args.master_port}")
    if nnodes > 1 and args.master_port is None:
        raise CLIError("--nnodes > 1 needs --master-port (the same on every machine)")
    if args.engine not in (None, "torch"):
        raise CLIError(f"several processes train with --engine torch, not --engine {args.engine}")
    if args.resume and nnodes > 1:
        raise CLIError("--resume on several machines: resume with --nnodes 1, or under torchrun")
    return {"kind": "spawn", "nproc": nproc, "nnodes": nnodes, "node_rank": node_rank, "timeout": timeout,
            "master_addr": args.master_addr or "127.0.0.1", "master_port": args.master_port}


def join(launch: dict, kwargs: dict) -> int:
    """Under torchrun: join the group, set ``kwargs`` for this rank's fit; returns the rank."""
    if launch is None or launch["kind"] != "torchrun":
        return 0
    kwargs["engine"] = "torch"
    kwargs["device"] = _distributed.join_launched(launch, kwargs.get("device"), launch["timeout"])
    if launch["rank"] != 0:         # one rank speaks: rank 0
        kwargs["progress"] = False
        warnings.simplefilter("ignore")
    return launch["rank"]


def leave(launch) -> None:
    if launch is not None and launch["kind"] == "torchrun":
        _distributed.leave()


def fit(launch, net, X, y, callbacks: list, kwargs: dict, message: str | None):
    """``net.fit`` here, or through ``mlp.distributed.fit`` on the planned processes."""
    if launch is None or launch["kind"] == "torchrun":
        if launch is not None and launch["rank"] != 0:      # files are written once, by rank 0
            callbacks = [cb for cb in callbacks if not isinstance(cb, Checkpoint)]
        return net.fit(X, y, callbacks=callbacks, **kwargs)
    options = {k: v for k, v in kwargs.items() if k not in ("engine", "device")}
    # Ctrl-C here is mlp train's (StopOnSignal: the first stops after this epoch, a second now),
    # passed on to the workers, which stop after the same epoch (or batch) on every rank; presses
    # seen before this point are passed on too (the workers get them once they can take them)
    previous = signal.getsignal(signal.SIGINT)
    main = threading.current_thread() is threading.main_thread() and callable(previous)

    def passed_on(signum, frame):
        previous(signum, frame)             # a KeyboardInterrupt: distributed.fit passes that one on
        _distributed.interrupt_workers()

    if main:
        signal.signal(signal.SIGINT, passed_on)
    for cb in callbacks:
        for _ in range(cb.stopper.requested if isinstance(cb, _StopRequested) else 0):
            _distributed.interrupt_workers()
    if message:
        note(message.rstrip("\n"))
    try:
        history = _distributed.fit(
            net, X, y, nproc=launch["nproc"], nnodes=launch["nnodes"], node_rank=launch["node_rank"],
            master_addr=launch["master_addr"], master_port=launch["master_port"],
            device=kwargs.get("device") or "cpu", timeout=launch["timeout"], ctrl_c="epoch",
            callbacks=[cb for cb in callbacks if isinstance(cb, Checkpoint)], **options)
    except _distributed.WorkerFailed as exc:
        raise CLIError(f"{exc}; nothing was written") from None
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)
    # the workers end at a completed epoch (or, cut short before one, leave net as it was): that
    # is the state a second Ctrl-C goes back to
    for cb in callbacks:
        if isinstance(cb, _StopRequested) and getattr(net, "train_state", None) is not None:
            cb.snapshot = snapshot(net)
    return history
