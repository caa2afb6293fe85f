"""What every ``mlp`` command shares: the one-line error, printing, argument types, model files.

The commands (one module each beside this one) import from here; this module
imports only the library, never a command.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile

import numpy as np

from .. import io
from .._safetensors import check_writable_file
from ..data import align_classes, load_data
from ..training.options import (
    OPTIONS,
    loss_for,
    parse_nonneg_float,
    parse_positive_float,
    parse_positive_int,
)

EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130

# What `mlp train` writes into a model's metadata (`mlp info` shows the others as they are): its
# own keys and every fit option a resumed run keeps (mlp.training.options.OPTIONS).
KNOWN_META = {"task", "loss", "data", "target", "feature_names", "n_examples", "n_train", "n_validation",
              "optimizer", "batch_size", "seed", "validation_split", "scaled", "early_stopping",
              "epochs", "seconds", "trained_at", "command", "final",
              *(name for name, option in OPTIONS.items() if option.resume)}


class CLIError(Exception):
    """An error to report as one line, without a traceback."""


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line: ``mlp: error: … (see 'mlp train --help')``."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"mlp: error: {message} (see '{self.prog} --help')\n")


# --------------------------------------------------------------------------- printing


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        where = exc.filename if exc.filename is not None else ""
        return f"{where}: {exc.strerror.lower()}" if where else exc.strerror
    text = str(exc)
    if isinstance(exc, KeyError) and exc.args:      # KeyError quotes its message
        text = str(exc.args[0])
    return text or type(exc).__name__


def out(*parts, file=None) -> None:
    print(*parts, file=file or sys.stdout, flush=True)


def note(*parts) -> None:
    print(*parts, file=sys.stderr, flush=True)


def fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


# --------------------------------------------------------------------------- argument types


def parse_hidden(text: str) -> list[int]:
    text = text.strip()
    if text.lower() == "none":
        return []
    if text == "0" or text == "":
        raise argparse.ArgumentTypeError(
            f"--hidden {text!r}: a layer needs at least one unit; give --hidden none for no hidden layer")
    sizes = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or int(part) < 1:
            raise argparse.ArgumentTypeError(
                f"--hidden takes layer widths like 64,32 (positive integers), got {text!r}")
        sizes.append(int(part))
    return sizes


# The flag parsers shared with fit's option table (one copy: training.options).
positive_float = parse_positive_float
nonneg_float = parse_nonneg_float
positive_int = parse_positive_int


def seed(text: str) -> int:
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"expected a non-negative integer seed, got {text!r}")
    return int(text)


def add_data_options(p) -> None:
    """The options that pick and shape DATA (every command that reads data has them)."""
    p.add_argument("--target", metavar="COLUMN",
                   help="CSV column holding the target (default: the model's, or the last column)")
    p.add_argument("--data-seed", type=seed, default=0, metavar="N",
                   help="seed of generated built-in data sets (default 0)")
    p.add_argument("--n", type=positive_int, metavar="N",
                   help="number of examples of a generated data set (circles, moons, spirals, gaussians)")
    p.add_argument("--noise", type=nonneg_float, metavar="SD", help="noise of a generated data set")
    p.add_argument("--drop", action="append", default=[], metavar="COLUMN",
                   help="ignore this CSV column (an ID or text column); repeat for more")


def add_model_data_arguments(p) -> None:
    """MODEL and DATA positionals, DATA's options and how its columns meet the model's (predict,
    evaluate)."""
    p.add_argument("model", metavar="MODEL", help="a model file written by mlp train (.safetensors)")
    p.add_argument("data", metavar="DATA", help="a .csv or .npz file, '-' for standard input, or a "
                                                 "built-in data set name")
    add_data_options(p)
    add_column_options(p)


def add_column_options(p) -> None:
    """How DATA's columns meet a trained model's (predict, evaluate)."""
    p.add_argument("--by-position", action="store_true",
                   help="when the model's column names are not in DATA, take DATA's columns in order "
                        "(default: match by name and name every missing column)")


# --------------------------------------------------------------------------- files and models


def check_out_folder(path: str, what: str = "--out", inputs: dict | None = None) -> None:
    """Fail before any work if ``path`` cannot be written (the folder is missing or read-only, it
    is a device or a FIFO) or is one of the command's ``inputs`` ({what: path}), which writing it
    would destroy."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise CLIError(f"{what} {path}: is a folder; give a file name such as model.safetensors")
    try:
        check_writable_file(path)
    except OSError as exc:
        raise CLIError(f"{what} {path}: {exc.strerror}") from None
    for name, other in (inputs or {}).items():
        if other and os.path.exists(path) and os.path.exists(other) and os.path.samefile(path, other):
            raise CLIError(f"{what} {path} is the {name} itself: writing it would destroy the {name}; "
                           "choose another file")
    if not os.path.isdir(folder):
        problem = "is not a folder" if os.path.exists(folder) else "does not exist"
        raise CLIError(f"{what} {path}: {folder} {problem}")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise CLIError(f"{what} {path}: cannot write in {folder} ({describe_error(exc)})") from None


def checkpoint_path(out_path: str) -> str:
    root, ext = os.path.splitext(out_path)
    return f"{root}.ckpt{ext or '.safetensors'}"


def resume_command(argv: list[str], checkpoint: str) -> str:
    """The ``mlp train …`` command line that continues from ``checkpoint``."""
    args, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a == "--resume":
            skip = True
            continue
        if a.startswith("--resume="):
            continue
        args.append(a)
    return shlex.join(["mlp", *args, "--resume", checkpoint])


_DATA_SUFFIXES = (".csv", ".tsv", ".txt", ".npz")


def load_model(path: str, *, checkpoint: bool = False, data: str | None = None):
    """The model file at ``path``; when it is not one and ``data`` (the command's DATA) looks
    like the model, the error says that the arguments look swapped."""
    if not os.path.exists(path):
        raise CLIError(f"{path}: no such model file")
    try:
        return io.load_checkpoint(path) if checkpoint else io.load(path)
    except ValueError:
        if data is not None and (path.lower().endswith(_DATA_SUFFIXES)
                                 or data.lower().endswith(".safetensors")):
            raise CLIError(f"{path} is not a model file and {data} looks like one: the arguments look "
                           "swapped (the model comes first: mlp COMMAND MODEL DATA)") from None
        raise


def model_loss(net) -> str:
    """The loss a model was trained with (its metadata's), else fit's rule for its output
    (``mlp.training.options.loss_for``; a model without classes is a regression: mse)."""
    loss = (net.metadata or {}).get("loss")
    if isinstance(loss, str):
        return loss
    return loss_for(net.layers[-1].activation) if net.classes_ is not None else "mse"


def targets_for(loss: str, y, n_out: int, dtype):
    """Class indices → the target array ``loss`` expects for a network with ``n_out`` outputs."""
    if loss == "cross_entropy":
        return y
    if n_out == 1:
        return y.astype(dtype).reshape(-1, 1)
    onehot = np.zeros((y.shape[0], n_out), dtype=dtype)
    onehot[np.arange(y.shape[0]), y] = 1
    return onehot


def model_inputs(net, data, source: str):
    if data.n_features != net.n_in:
        names = ", ".join(data.feature_names[:8]) + (" …" if data.n_features > 8 else "")
        hint = " (if one of them is the target, name it with --target COLUMN)" \
            if data.n_features == net.n_in + 1 else ""
        raise CLIError(f"the model takes {net.n_in} input features but {source} has "
                       f"{data.n_features} ({names}){hint}")
    return data.X          # raw: the network applies its own input scaler (net.scaler)


def class_indices(net, X) -> np.ndarray:
    """The predicted class of each row of ``X`` as an index into ``net.classes_``."""
    index = {label: k for k, label in enumerate(net.classes_)}
    return np.array([index[label] for label in net.predict_classes(X).tolist()], dtype=np.int64)


def read_for_model(net, source: str, args, *, need_target: bool):
    """DATA as the model expects it: its feature columns, width checked, scaled; labels on its classes."""
    meta = net.metadata or {}
    target = args.target if args.target is not None else meta.get("target")
    task = meta.get("task") or ("classification" if net.classes_ is not None else "auto")
    names = meta.get("feature_names")
    data = load_data(source, target=target, need_target=need_target,
                     features=names if isinstance(names, list) else None, task=task,
                     seed=args.data_seed, n=args.n, noise=args.noise,
                     by_position=getattr(args, "by_position", False), drop=args.drop)
    X = model_inputs(net, data, source)
    if need_target and net.classes_ is not None and data.task == "classification":
        align_classes(data, net.classes_, what=f"{source}: target")
    return data, X
