"""``mlp train DATA``: train a network and save it; Ctrl-C saves a checkpoint that ``--resume`` continues.

The run is set up in steps, each a function below: read the data (``_read``),
build or resume the network (``_new_run`` / ``_resumed_run``), split off
validation rows (``_split``), record what a resume needs (``_metadata``), turn
that into ``fit`` arguments (``_fit_kwargs``), train under the Ctrl-C guard
(``_fit``) and save (``_save``).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shlex
import time
from dataclasses import dataclass, field

import numpy as np

from .. import activations, losses
from .. import init as _init
from .. import optimizers as _optimizers
from ..callbacks import Checkpoint
from ..data import load_data
from ..network import Network
from ..training.data import validation_rows
from ..training.interrupt import completed_epoch, snapshot
from ..training.options import OPTIONS, cli_flags, loss_for, resumed
from . import _scale
from ._checks import check_values, data_warnings, fit_scaler, target_line
from ._common import (
    EXIT_INTERRUPTED,
    CLIError,
    add_data_options,
    check_out_folder,
    checkpoint_path,
    class_indices,
    fmt,
    load_model,
    model_loss,
    note,
    out,
    parse_hidden,
    positive_int,
    resume_command,
    targets_for,
)
from ._ctrl_c import StopOnSignal, save_quietly
from ._resume import PLANNED, check_metadata, end_stopped_run, plan


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train a network on DATA and save it",
                       description="Train a network on DATA and save it as a safetensors model file. "
                                   "Inputs are standardised (stored in the model) unless --no-scale. "
                                   "Ctrl-C saves a checkpoint that --resume continues exactly.")
    p.add_argument("data", metavar="DATA", help="a .csv or .npz file, '-' for standard input, a "
                                                 "built-in data set name (see mlp datasets); bigger than "
                                                 "memory: a .npy file (with --targets), a folder of "
                                                 ".npy/.npz shards, or a .parquet file")
    add_data_options(p)
    _scale.add_flags(p)
    p.add_argument("--task", choices=("auto", "classification", "regression"), default="auto",
                   help="how to read the target (default: text or integers are classes, else regression)")
    p.add_argument("--hidden", type=parse_hidden, metavar="SIZES",
                   help="hidden layer widths, e.g. 64,32 (default 64; 'none' for no hidden layer)")
    p.add_argument("--activation", default="relu", choices=activations.names(), metavar="NAME",
                   help=f"hidden activation: {', '.join(activations.names())} (default relu)")
    p.add_argument("--output-activation", choices=activations.names(), metavar="NAME",
                   help="output activation (default: softmax for classes, sigmoid for two, identity "
                        "for regression)")
    _fit_flags(p)
    p.add_argument("--init", default="he", metavar="NAME", choices=_init.INITIALIZERS.names(),
                   help=f"weight initialiser: {', '.join(_init.INITIALIZERS.names())} (default he)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--no-scale", action="store_true", help="do not standardise the inputs")
    p.add_argument("--out", default="model.safetensors", metavar="FILE",
                   help="model file to write (default model.safetensors)")
    p.add_argument("--checkpoint", metavar="FILE",
                   help="also write a resumable checkpoint here at the end (and on Ctrl-C; default "
                        "on Ctrl-C: OUT with .ckpt before the extension)")
    p.add_argument("--checkpoint-every", type=positive_int, metavar="N",
                   help="write the checkpoint every N epochs")
    p.add_argument("--resume", metavar="CHECKPOINT",
                   help="continue training from a checkpoint (same DATA); bit-identical to not stopping")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="print nothing on success (no progress, summary or warnings)")
    p.set_defaults(func=run)


# --------------------------------------------------------------------------- fit's options

#: The registry whose names are the choices of a fit option's flag (an unknown name: exit 2).
_CHOICES = {"optimizer": _optimizers.names, "loss": losses.names}

#: Fit options the run sets up itself (a resume keeps them through its own rules).
_OWN = ("loss", "optimizer", "batch_size", "validation_split", "early_stopping", "seed", "epochs",
        "progress")


def _fit_flags(p) -> None:
    """One flag per option of ``fit`` that ``mlp.training.options`` offers to the CLI
    (``cli_flags()``: type, metavar, help): a new option there is a new flag here."""
    for name, flag, kwargs in cli_flags():
        names = _CHOICES.get(name)
        if names is not None and "choices" not in kwargs:
            kwargs = {**kwargs, "choices": names()}
        p.add_argument(flag, dest=name, **kwargs)


def resumed_options() -> list:
    """The fit options the CLI offers whose value a resumed run keeps: stored in the model's
    metadata, taken from it when ``--resume`` leaves them out (``Option.resume``)."""
    return [n for n in resumed() if n not in _OWN and OPTIONS[n].cli is not None]


def _plain_options() -> list:
    """The fit options the CLI offers that a resumed run does not keep (passed as given)."""
    return [n for n, _, _ in cli_flags() if n not in _OWN and not OPTIONS[n].resume]


# --------------------------------------------------------------------------- the output head


def choose_head(task: str, n_classes: int, n_targets: int, loss: str | None, out_act: str | None):
    """Loss, output activation and output width for the task (explicit choices win).

    The output follows the task (identity for a regression, sigmoid for two classes, softmax
    for more, or the one given); the loss follows the output by fit's rule
    (``mlp.training.options.loss_for``), or is the one given.
    """
    if out_act is None:
        if loss is not None:
            out_act = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}.get(loss, "identity")
        elif task == "classification":
            out_act = "sigmoid" if n_classes == 2 else "softmax"
        else:
            out_act = "identity"
    if loss is None:
        loss = loss_for(out_act) if task == "classification" else "mse"
        if loss == "binary_cross_entropy" and n_classes != 2:
            loss = "mse"            # sigmoid outputs, one per class: squared error on one-hot rows
    if task == "regression":
        if loss != "mse":
            raise CLIError(f"--loss {loss} needs class labels, but the target is numeric "
                           "(a regression target); use --task classification for integer labels")
        return loss, out_act, n_targets
    if loss == "cross_entropy":
        return loss, out_act, n_classes
    if loss == "binary_cross_entropy":
        if n_classes != 2:
            raise CLIError(f"--loss binary_cross_entropy needs two classes, the data has {n_classes}; "
                           "use cross_entropy")
        return loss, out_act, 1
    return loss, out_act, 1 if n_classes == 2 else n_classes


# --------------------------------------------------------------------------- the run, step by step


@dataclass
class _Run:
    """Everything one ``mlp train`` decides before ``fit`` and reports after it."""

    args: argparse.Namespace
    argv: list
    checkpoint: str
    data: object = None
    net: object = None
    meta0: dict = field(default_factory=dict)       # the resumed checkpoint's metadata
    loss: str = "mse"
    scaler: object = None
    seed: int = 0
    split: float = 0.0
    completed: int = 0                              # epochs the checkpoint had trained
    early: bool = False
    remaining: int | None = None                    # epochs left to train (None: fit's default)
    parts: tuple = ()                               # X_tr, y_tr, X_val, y_val, lab_tr, lab_val
    chosen: str = ""                                # where the target column came from
    metadata: dict = field(default_factory=dict)
    cut: bool = False                               # a second Ctrl-C cut an epoch short
    launch: dict | None = None                      # several processes (_scale.plan), None: this one
    rank: int = 0                                   # this process's rank: only rank 0 writes files
    source_meta: dict = field(default_factory=dict)  # a shard folder's meta.json
    workdir: object = None                          # a Parquet file's temporary shards


def _read(r: _Run) -> None:
    args, net = r.args, r.net
    target = args.target if args.target is not None else r.meta0.get("target")
    if _scale.is_big(args.data, args.targets):      # memory-mapped: .npy + --targets, shards, Parquet
        r.workdir = _scale.workdir(args)
        r.data, r.source_meta, r.chosen = _scale.read(args, net.classes_ if net is not None else None,
                                                      r.workdir and r.workdir.name)
        data = r.data
    else:
        r.data = data = load_data(args.data, target=target, task=args.task, seed=args.data_seed, n=args.n,
                                  noise=args.noise, classes=net.classes_ if net is not None else None,
                                  drop=args.drop)
    if data.task == "regression" and net is not None and net.classes_ is not None:
        raise CLIError("the checkpoint is a classifier but the data has a numeric target")
    if data.n_examples < 2:
        raise CLIError(f"{args.data} has {data.n_examples} example: too few to train on")
    if r.chosen:
        pass
    elif args.target is not None:
        r.chosen = "--target"
    elif r.meta0.get("target") is not None:
        r.chosen = "the checkpoint's"
    elif os.path.isfile(args.data):
        r.chosen = "array y" if args.data.lower().endswith(".npz") else "last column"
    else:
        r.chosen = "the data set's labels"


def _resumed_run(r: _Run) -> None:
    args, net, data, meta0 = r.args, r.net, r.data, r.meta0
    r.loss = meta0.get("loss") or model_loss(net)
    if args.loss not in (None, r.loss):
        raise CLIError(f"--loss {args.loss} differs from the checkpoint's loss {r.loss}")
    if args.hidden is not None and args.hidden != net.sizes[1:-1]:
        raise CLIError(f"--hidden {','.join(map(str, args.hidden)) or 'none'} differs from the "
                       f"checkpoint's {','.join(map(str, net.sizes[1:-1])) or 'none'}")
    if net.n_in != data.n_features:
        raise CLIError(f"the checkpoint takes {net.n_in} input features but {args.data} has "
                       f"{data.n_features}")
    r.scaler = net.scaler
    r.seed = meta0.get("seed", args.seed)
    r.split = meta0.get("validation_split", 0.0) if args.validation_split is None else args.validation_split
    r.completed = int(getattr(net.train_state, "epoch", 0))
    # The run goes on as it was set up: an option left out takes the checkpoint's value.
    r.early = bool(meta0.get("early_stopping")) if args.early_stopping is None else args.early_stopping


def _new_run(r: _Run) -> None:
    args, data = r.args, r.data
    n_classes = len(data.classes) if data.classes is not None else 0
    n_targets = data.y.shape[1] if data.task == "regression" else 1
    r.loss, out_act, n_out = choose_head(data.task, n_classes, n_targets, args.loss, args.output_activation)
    hidden = [64] if args.hidden is None else args.hidden
    r.seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    r.early = bool(args.early_stopping)
    r.split = args.validation_split
    if r.split is None:
        r.split = 0.1 if r.early else 0.0
    dtype = np.float64 if args.dtype == "float64" else np.float32
    if _scale.is_lazy(data):        # on disk: checked by fit's streaming pass, scaled from meta or one pass
        r.scaler = None if args.no_scale else _scale.scaler(data, r.source_meta)
    else:
        check_values(data, dtype)
        r.scaler = None if args.no_scale else fit_scaler(data)
    r.net = Network.from_sizes([data.n_features, *hidden, n_out], hidden=args.activation,
                               output=out_act, init=args.init, seed=r.seed,
                               dtype=dtype)


def _split(r: _Run) -> None:
    """Hold out ``r.split`` of the rows for validation by fit's one rule
    (``mlp.training.data.validation_rows``) with ``--seed``: shuffled, stratified by class where
    every class has two examples and the held-out part can hold one of each. (``fit``'s own
    ``validation_split`` has no seed there: it holds out the last rows, as Keras does.)"""
    data, net = r.data, r.net
    X = data.X              # raw: the network applies its scaler (set in _metadata) itself
    if data.task == "classification":
        y = targets_for(r.loss, data.y, net.n_out, net.dtype)
    else:
        if net.n_out != data.y.shape[1]:
            raise CLIError(f"the checkpoint has {net.n_out} outputs but the target has {data.y.shape[1]}")
        y = data.y
    labels = data.y if data.task == "classification" else None
    if r.split > 0:
        try:    # the one split rule; with a seed: shuffled, stratified where it can be
            tr, val = validation_rows(data.n_examples, r.split, labels=labels, seed=r.seed)
        except ValueError:
            raise CLIError(f"--validation-split {r.split} leaves no training or no validation example "
                           f"out of {data.n_examples}") from None
        lab = (labels[tr], labels[val]) if labels is not None else (None, None)
        if _scale.is_lazy(data):    # views of the memory map: nothing read
            r.parts = (X.take(tr), y[tr], X.take(val), y[val], *lab)
        else:
            r.parts = (X[tr], y[tr], X[val], y[val], *lab)
    else:
        r.parts = (X, y, None, None, labels, None)
    if r.early and r.parts[2] is None:
        raise CLIError("--early-stopping needs validation data: give --validation-split (e.g. 0.1)")


def _metadata(r: _Run) -> None:
    """What the model file records: the data, the head, and every option ``--resume`` keeps."""
    args, data, meta0 = r.args, r.data, r.meta0
    X_tr, X_val = r.parts[0], r.parts[2]
    r.net.classes_ = data.classes
    r.net.scaler = r.scaler
    r.metadata = metadata = {
        "task": data.task, "loss": r.loss, "data": data.source, "target": data.target_name,
        "feature_names": data.feature_names, "n_examples": data.n_examples,
        "n_train": int(X_tr.shape[0]), "n_validation": 0 if X_val is None else int(X_val.shape[0]),
        "optimizer": args.optimizer if args.optimizer else meta0.get("optimizer"),
        "batch_size": args.batch_size if args.batch_size is not None else meta0.get("batch_size"),
        "seed": r.seed, "validation_split": r.split, "scaled": r.scaler is not None,
        "early_stopping": r.early,
    }
    for key in resumed_options():                     # kept so that --resume goes on with them
        value = getattr(args, key) if getattr(args, key) is not None else meta0.get(key)
        if value is not None and (key != "patience" or r.early):
            metadata[key] = value
    r.net.metadata = metadata


def _optimizer(r: _Run):
    """A new run's optimiser name, or the checkpoint's optimiser object, moments and all."""
    args = r.args
    if r.completed == 0:
        return args.optimizer or "adam"
    previous = r.net.train_state.optimizer
    if args.optimizer is not None and previous is not None and args.optimizer != previous.name:
        raise CLIError(f"--optimizer {args.optimizer} differs from the checkpoint's {previous.name}")
    return previous if previous is not None else (args.optimizer or "adam")


def _fit_kwargs(r: _Run) -> dict:
    epochs = r.args.epochs
    if epochs is None:          # a resumed run trains up to the end its run planned
        epochs = r.meta0.get(PLANNED)
    r.remaining = None if epochs is None else epochs - r.completed
    if r.remaining is not None and r.remaining <= 0:
        what = f"--epochs {epochs}" if r.args.epochs is not None else f"its run planned {epochs}"
        note(f"mlp: the checkpoint has already trained {r.completed} epochs ({what}); "
             "saving the model as it is")
    kwargs = {"loss": r.loss, "progress": r.args.progress, "optimizer": _optimizer(r)}
    if r.completed == 0:
        kwargs["seed"] = r.seed
    r.metadata["optimizer"] = getattr(kwargs["optimizer"], "name", kwargs["optimizer"])
    for key in ("batch_size", *resumed_options()):
        value = r.metadata.get(key)
        if value is not None:
            kwargs[key] = None if value == "full" else value
    for key in _plain_options():
        if getattr(r.args, key) is not None:
            kwargs[key] = getattr(r.args, key)
    if r.remaining is not None:
        kwargs["epochs"] = max(r.remaining, 0)
    if not r.args.resume:       # fit's "auto" epochs and weight decay, as numbers a resume keeps
        kwargs["epochs"], kwargs["weight_decay"] = plan(kwargs, r.parts[0].shape[0], r.net)
        r.metadata["weight_decay"] = kwargs["weight_decay"]
    if epochs is not None or not r.args.resume:
        r.metadata[PLANNED] = r.completed + kwargs["epochs"]
    if r.parts[2] is not None:
        kwargs["validation_data"] = (r.parts[2], r.parts[3])
    if r.early:
        kwargs["early_stopping"] = True
        end_stopped_run(r)
    return kwargs


def _fit(r: _Run, kwargs: dict, stop: StopOnSignal) -> tuple[bool, float]:
    """Train under the Ctrl-C guard; (stopped by Ctrl-C, seconds). After a second Ctrl-C cut an
    epoch short, ``r.net`` becomes the network as it was at the end of the last completed epoch
    (None if none was), so that its checkpoint resumes exactly."""
    net, (X_tr, y_tr, X_val) = r.net, r.parts[:3]
    message = None
    if not r.args.quiet:
        what = f"resuming at epoch {r.completed} of " if r.completed else ""
        message = "".join(f"mlp: {line}\n" for line in [target_line(r.data, r.chosen)]) + "".join(
            f"mlp: warning: {line}\n" for line in ([] if _scale.is_lazy(r.data) else data_warnings(r.data)))
        message += (f"mlp: {what}training {'-'.join(map(str, net.sizes))} ({net.n_params} parameters) on "
                    f"{r.data.source}: {X_tr.shape[0]} examples"
                    + (f", {X_val.shape[0]} for validation" if X_val is not None else "")
                    + " (Ctrl-C saves a checkpoint)")
    start = time.perf_counter()
    if r.remaining is None or r.remaining > 0:
        watch = stop.callback(message)
        state = net.train_state
        if state is not None:       # a resumed run: the checkpoint itself is the last complete epoch
            watch.snapshot = snapshot(net)
        callbacks = [watch]
        if r.args.checkpoint_every:
            callbacks.append(Checkpoint(r.checkpoint, every=r.args.checkpoint_every))
        try:
            try:
                stop.armed = True
                _scale.fit(r.launch, net, X_tr, y_tr, callbacks, kwargs, message)
            finally:
                stop.armed = False
        except KeyboardInterrupt:
            stop.cut = True
        if stop.cut:         # fit stops after the batch (or raises): back to the last whole epoch
            r.cut = True
            r.net = completed_epoch(net, watch.snapshot)
    return stop.requested > 0, time.perf_counter() - start


def _accuracy(net, X, y) -> float:
    found = _scale.class_indices(net, X) if _scale.is_lazy(X) else class_indices(net, X)
    return float(np.mean(found == y))


def _final(r: _Run, history, seconds: float) -> dict:
    net, metadata = r.net, r.metadata
    X_tr, _, X_val, _, lab_tr, lab_val = r.parts
    metadata["epochs"] = int(getattr(getattr(net, "train_state", None), "epoch", r.completed))
    metadata["seconds"] = round(seconds + float(r.meta0.get("seconds", 0.0)), 3)
    metadata["trained_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    metadata["command"] = shlex.join(["mlp", *r.argv]) if r.argv else None
    final = {}
    if history is not None and getattr(history, "loss", None):
        final["loss"] = float(history.loss[-1])
        if getattr(history, "val_loss", None):
            final["val_loss"] = float(history.val_loss[-1])
    if lab_tr is not None:
        final["accuracy"] = _accuracy(net, X_tr, lab_tr)
        if X_val is not None:
            final["val_accuracy"] = _accuracy(net, X_val, lab_val)
    metadata["final"] = final
    return final


def _save(r: _Run, history, interrupted: bool, seconds: float, final: dict) -> int:
    args, net, done = r.args, r.net, r.metadata["epochs"]
    if r.rank != 0:                 # several processes: rank 0 writes the files
        return EXIT_INTERRUPTED if interrupted else 0
    if interrupted:
        save_quietly(net, r.checkpoint, history=history, train_state=net.train_state)
        if r.cut:
            note(f"mlp: interrupted during epoch {done + 1}: the checkpoint holds epoch {done}, "
                 f"the last completed one (it resumes exactly), saved to {r.checkpoint}")
        else:
            note(f"mlp: interrupted after epoch {done}: checkpoint saved to {r.checkpoint}")
        note(f"mlp: resume with: {resume_command(r.argv, r.checkpoint)}")
        return EXIT_INTERRUPTED
    save_quietly(net, args.out, history=history)
    if args.checkpoint:
        save_quietly(net, r.checkpoint, history=history, train_state=net.train_state)
    if not args.quiet:
        parts = [f"{k} {fmt(v)}" for k, v in final.items()]
        extra = f" (checkpoint {r.checkpoint})" if args.checkpoint else ""
        # seconds: this command's training; a resumed run says which epochs it added
        epochs = (f"epochs {r.completed + 1}–{done} (resumed)" if r.completed and done > r.completed
                  else f"{done} epochs")
        out(f"trained {'-'.join(map(str, net.sizes))} on {r.data.source} for {epochs} in "
            f"{seconds:.1f} s: {', '.join(parts) or 'done'} → {args.out}{extra}")
    return 0


def run(args) -> int:
    """``mlp train``: read, set up or resume, split, fit under the Ctrl-C guard, save."""
    r = _Run(args=args, argv=list(getattr(args, "argv", [])),
             checkpoint=args.checkpoint or checkpoint_path(args.out))
    check_out_folder(args.out, inputs={"data file": args.data, "checkpoint to resume": args.resume})
    if args.checkpoint or args.checkpoint_every:
        check_out_folder(r.checkpoint, "--checkpoint", inputs={"data file": args.data})
    r.launch = _scale.plan(args)
    if args.resume:
        r.net = load_model(args.resume, checkpoint=True)
        r.meta0 = r.net.metadata or {}
        check_metadata(r.meta0, args.resume)
    try:
        return _run(r)
    finally:
        _scale.leave(r.launch)
        if r.workdir is not None:
            r.workdir.cleanup()


def _run(r: _Run) -> int:
    _read(r)
    if r.net is not None:
        _resumed_run(r)
    else:
        _new_run(r)
    _split(r)
    _metadata(r)
    kwargs = _fit_kwargs(r)
    r.rank = _scale.join(r.launch, kwargs)
    if r.rank != 0:
        r.args.quiet = True
    with StopOnSignal() as stop:     # from here on, Ctrl-C ends in a checkpoint (or says why not)
        interrupted, seconds = _fit(r, kwargs, stop)
        net = r.net
        if net is None or (interrupted and getattr(net, "train_state", None) is None):
            note("mlp: interrupted before the first epoch was complete; nothing saved")
            return EXIT_INTERRUPTED
        history = getattr(net, "history", None) or getattr(getattr(net, "train_state", None),
                                                           "history", None)
        final = _final(r, history, seconds)
        return _save(r, history, interrupted, seconds, final)
