"""The ``mlp`` command line: train, predict, evaluate, info, export, datasets, xor, demo.

This module owns argument parsing, what the commands print, and turning every
error into one line on stderr (``mlp: error: …``) with a non-zero exit code —
never a traceback (set ``MLP_DEBUG=1`` to see one). The work itself is done by
the library: ``mlp.data`` reads the data, ``Network.fit`` trains, ``mlp.io``
writes and reads model files (atomically: a failed save leaves an earlier file
intact).

Exit codes: 0 success, 1 an error in the data, a file or an argument value,
2 a malformed command line, 130 interrupted (Ctrl-C; ``mlp train`` then saves
a checkpoint and prints the command that resumes it).

Heavy libraries are imported only by the commands that need them (scikit-learn
for the ``digits`` data set, tqdm for the progress bar).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import signal
import sys
import threading
import time
import warnings

from . import __version__

EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


class CLIError(Exception):
    """An error to report as one line, without a traceback."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line: ``mlp: error: … (see 'mlp train --help')``."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"mlp: error: {message} (see '{self.prog} --help')\n")


# --------------------------------------------------------------------------- helpers


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _describe_error(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        where = exc.filename if exc.filename is not None else ""
        return f"{where}: {exc.strerror.lower()}" if where else exc.strerror
    text = str(exc)
    if isinstance(exc, KeyError) and exc.args:      # KeyError quotes its message
        text = str(exc.args[0])
    return text or type(exc).__name__


def _out(*parts, file=None) -> None:
    print(*parts, file=file or sys.stdout, flush=True)


def _note(*parts) -> None:
    print(*parts, file=sys.stderr, flush=True)


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _parse_hidden(text: str) -> list[int]:
    text = text.strip()
    if text.lower() in ("", "none", "0"):
        return []
    sizes = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or int(part) < 1:
            raise argparse.ArgumentTypeError(
                f"--hidden takes layer widths like 64,32 (positive integers), got {text!r}")
        sizes.append(int(part))
    return sizes


def _parse_batch(text: str):
    if text.strip().lower() in ("full", "none", "all"):
        return "full"
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"--batch-size must be a positive integer or 'full', got {text!r}")
    return int(text)


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (value > 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _nonneg_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not (value >= 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


def _seed(text: str) -> int:
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"expected a non-negative integer seed, got {text!r}")
    return int(text)


def _check_out_folder(path: str, what: str = "--out") -> None:
    """Fail before any work if ``path`` cannot be written (the folder is missing or read-only)."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise CLIError(f"{what} {path}: is a folder; give a file name such as model.safetensors")
    if not os.path.isdir(folder):
        problem = "is not a folder" if os.path.exists(folder) else "does not exist"
        raise CLIError(f"{what} {path}: {folder} {problem}")
    import tempfile

    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise CLIError(f"{what} {path}: cannot write in {folder} ({_describe_error(exc)})") from None


def _checkpoint_path(out: str) -> str:
    root, ext = os.path.splitext(out)
    return f"{root}.ckpt{ext or '.safetensors'}"


def _load_model(path: str, *, checkpoint: bool = False):
    from . import io

    if not os.path.exists(path):
        raise CLIError(f"{path}: no such model file")
    return io.load_checkpoint(path) if checkpoint else io.load(path)


def _model_loss(net) -> str:
    loss = (net.metadata or {}).get("loss")
    if isinstance(loss, str):
        return loss
    out = net.layers[-1].activation.name
    return {"softmax": "cross_entropy", "sigmoid": "binary_cross_entropy"}.get(out, "mse") \
        if net.classes_ is not None else "mse"


def _targets_for(loss: str, y, n_out: int, dtype):
    """Class indices → the target array ``loss`` expects for a network with ``n_out`` outputs."""
    import numpy as np

    if loss == "cross_entropy":
        return y
    if n_out == 1:
        return y.astype(dtype).reshape(-1, 1)
    onehot = np.zeros((y.shape[0], n_out), dtype=dtype)
    onehot[np.arange(y.shape[0]), y] = 1
    return onehot


def _model_inputs(net, data, source: str):
    if data.n_features != net.n_in:
        names = ", ".join(data.feature_names[:8]) + (" …" if data.n_features > 8 else "")
        hint = " (if one of them is the target, name it with --target COLUMN)" \
            if data.n_features == net.n_in + 1 else ""
        raise CLIError(f"the model takes {net.n_in} input features but {source} has "
                       f"{data.n_features} ({names}){hint}")
    X = data.X
    if net.scaler is not None:
        X = net.scaler.transform(X)
    return X.astype(net.dtype)


# --------------------------------------------------------------------------- train


def _choose_head(task: str, n_classes: int, n_targets: int, loss: str | None, out_act: str | None):
    """Loss, output activation and output width for the task (explicit choices win)."""
    if loss is None:
        if out_act == "softmax" and task == "classification":
            loss = "cross_entropy"
        elif task == "classification" and n_classes == 2 and out_act in (None, "sigmoid"):
            loss = "binary_cross_entropy"
        elif task == "classification" and out_act is None:
            loss = "cross_entropy"
        else:
            loss = "mse"
    if out_act is None:
        out_act = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}.get(loss, "identity")
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


class _StopOnSignal:
    """Ctrl-C during training: the first stops after the current epoch (an exact checkpoint),
    a second one stops after the current batch."""

    def __init__(self):
        self.requested = 0
        self._previous = None

    def _handler(self, signum, frame):
        self.requested += 1
        if self.requested == 1:
            _note("\nmlp: Ctrl-C: stopping after this epoch (press Ctrl-C again to stop at once)")
            return
        raise KeyboardInterrupt

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():   # signals reach the main thread only
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False

    def callback(self, note: str | None = None):
        """A callback that stops at the end of the epoch after a Ctrl-C; it prints ``note``
        once fit has accepted its arguments (so that an argument error stays one line)."""
        from .callbacks import Callback

        stopper = self

        class StopRequested(Callback):
            def on_train_begin(self, history):
                if note:
                    _note(note)

            def on_epoch_end(self, epoch, history):
                return True if stopper.requested else None

        return StopRequested()


def _save_quietly(save, net, path, **kwargs) -> None:
    """Save with Ctrl-C ignored, so that an impatient second Ctrl-C cannot interrupt the write."""
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        save(net, path, **kwargs)
    except OSError as exc:
        raise CLIError(f"{path}: could not save ({(exc.strerror or str(exc)).lower()}); "
                       "an earlier file there is unchanged") from None
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)


def _resume_command(argv: list[str], checkpoint: str) -> str:
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


def _accuracy(net, X, y) -> float:
    import numpy as np

    return float(np.mean(net.predict_classes(X) == y))


def _train(args) -> int:
    import numpy as np

    from . import datasets, io
    from . import init as _init
    from . import optimizers as _optimizers
    from .data import StandardScaler, load_data
    from .network import Network

    argv = list(getattr(args, "argv", []))
    out = args.out
    # Names are checked before any work, so that a typo costs nothing.
    if args.optimizer is not None and args.optimizer not in _optimizers.OPTIMIZERS:
        raise CLIError(f"unknown optimizer {args.optimizer!r}; known: {', '.join(_optimizers.names())}")
    if args.init not in _init.INITIALIZERS:
        raise CLIError(f"unknown initialiser {args.init!r}; known: {', '.join(_init.INITIALIZERS.names())}")
    checkpoint = args.checkpoint or _checkpoint_path(out)
    _check_out_folder(out)
    if args.checkpoint or args.checkpoint_every:
        _check_out_folder(checkpoint, "--checkpoint")

    net = None
    if args.resume:
        net = _load_model(args.resume, checkpoint=True)

    meta0 = (net.metadata or {}) if net is not None else {}
    data = load_data(args.data, target=args.target if args.target is not None else meta0.get("target"),
                     task=args.task, seed=args.data_seed, n=args.n, noise=args.noise,
                     classes=net.classes_ if net is not None else None)
    if data.task == "regression" and net is not None and net.classes_ is not None:
        raise CLIError("the checkpoint is a classifier but the data has a numeric target")
    if data.n_examples < 2:
        raise CLIError(f"{args.data} has {data.n_examples} example: too few to train on")
    n_classes = len(data.classes) if data.classes is not None else 0
    n_targets = data.y.shape[1] if data.task == "regression" else 1

    if net is not None:
        loss = meta0.get("loss") or _model_loss(net)
        if args.loss not in (None, loss):
            raise CLIError(f"--loss {args.loss} differs from the checkpoint's loss {loss}")
        if args.hidden is not None and args.hidden != net.sizes[1:-1]:
            raise CLIError(f"--hidden {','.join(map(str, args.hidden)) or 'none'} differs from the "
                           f"checkpoint's {','.join(map(str, net.sizes[1:-1])) or 'none'}")
        if net.n_in != data.n_features:
            raise CLIError(f"the checkpoint takes {net.n_in} input features but {args.data} has "
                           f"{data.n_features}")
        scaler = net.scaler
        seed = meta0.get("seed", args.seed)
        split = meta0.get("validation_split", 0.0) if args.validation_split is None else args.validation_split
        completed = int(getattr(net.train_state, "epoch", 0))
        # The run goes on as it was set up: an option left out takes the checkpoint's value.
        early = bool(meta0.get("early_stopping")) if args.early_stopping is None else args.early_stopping
    else:
        loss, out_act, n_out = _choose_head(data.task, n_classes, n_targets, args.loss,
                                            args.output_activation)
        hidden = [64] if args.hidden is None else args.hidden
        seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
        early = bool(args.early_stopping)
        split = args.validation_split
        if split is None:
            split = 0.1 if early else 0.0
        scaler = None if args.no_scale else StandardScaler.fit(data.X)
        net = Network.from_sizes([data.n_features, *hidden, n_out], hidden=args.activation,
                                 output=out_act, init=args.init, seed=seed,
                                 dtype=np.float64 if args.dtype == "float64" else np.float32)
        completed = 0

    X = scaler.transform(data.X) if scaler is not None else data.X
    if data.task == "classification":
        y = _targets_for(loss, data.y, net.n_out, net.dtype)
    else:
        if net.n_out != n_targets:
            raise CLIError(f"the checkpoint has {net.n_out} outputs but the target has {n_targets}")
        y = data.y
    labels = data.y if data.task == "classification" else None
    if split > 0:
        n_val = int(np.ceil(split * data.n_examples))
        if not 1 <= n_val < data.n_examples:
            raise CLIError(f"--validation-split {split} leaves no training or no validation example "
                           f"out of {data.n_examples}")
        stratify = labels is not None and np.bincount(labels).min() >= 2 and n_val >= n_classes
        idx = np.arange(data.n_examples)
        train_idx, val_idx, _, _ = datasets.train_test_split(
            idx, labels if stratify else idx, test_size=n_val, seed=seed, stratify=bool(stratify))
        X_tr, y_tr, X_val, y_val = X[train_idx], y[train_idx], X[val_idx], y[val_idx]
        lab_tr, lab_val = (labels[train_idx], labels[val_idx]) if labels is not None else (None, None)
    else:
        X_tr, y_tr, X_val, y_val, lab_tr, lab_val = X, y, None, None, labels, None
    if early and X_val is None:
        raise CLIError("--early-stopping needs validation data: give --validation-split (e.g. 0.1)")

    net.classes_ = data.classes
    net.scaler = scaler
    metadata = {
        "task": data.task, "loss": loss, "data": data.source, "target": data.target_name,
        "feature_names": data.feature_names, "n_examples": data.n_examples,
        "n_train": int(X_tr.shape[0]), "n_validation": 0 if X_val is None else int(X_val.shape[0]),
        "optimizer": args.optimizer if args.optimizer else meta0.get("optimizer"),
        "lr": args.lr if args.lr is not None else meta0.get("lr"),
        "batch_size": args.batch_size if args.batch_size is not None else meta0.get("batch_size"),
        "seed": seed, "validation_split": split, "scaled": scaler is not None,
        "early_stopping": early,
    }
    for key in ("patience", "weight_decay"):          # kept so that --resume goes on with them
        value = getattr(args, key) if getattr(args, key) is not None else meta0.get(key)
        if value is not None and (key != "patience" or early):
            metadata[key] = value
    net.metadata = metadata

    epochs = args.epochs
    remaining = None if epochs is None else epochs - completed
    if remaining is not None and remaining <= 0:
        _note(f"mlp: the checkpoint has already trained {completed} epochs (--epochs {epochs}); "
              "saving the model as it is")
    fit_kwargs = {"loss": loss, "progress": args.progress}
    if completed == 0:
        fit_kwargs["seed"] = seed
    if completed == 0:
        fit_kwargs["optimizer"] = args.optimizer or "adam"
    else:
        # The checkpoint's optimiser object, moments and all (a name would start a fresh one).
        previous = net.train_state.optimizer
        if args.optimizer is not None and previous is not None and args.optimizer != previous.name:
            raise CLIError(f"--optimizer {args.optimizer} differs from the checkpoint's {previous.name}")
        fit_kwargs["optimizer"] = previous if previous is not None else (args.optimizer or "adam")
    metadata["optimizer"] = getattr(fit_kwargs["optimizer"], "name", fit_kwargs["optimizer"])
    for key in ("lr", "batch_size", "patience", "weight_decay"):
        value = metadata.get(key)
        if value is not None:
            fit_kwargs[key] = None if value == "full" else value
    if remaining is not None:
        fit_kwargs["epochs"] = max(remaining, 0)
    if X_val is not None:
        fit_kwargs["validation_data"] = (X_val, y_val)
    if early:
        fit_kwargs["early_stopping"] = True
        state = net.train_state if completed else None
        watch = getattr(state, "early_stopping", None) or {}
        if (remaining is None or remaining > 0) and completed and watch.get("stopped_epoch") == completed:
            # The checkpoint's run is over: it stopped early (this file may have been written at
            # that very epoch, before the best parameters were put back). Training on would make a
            # run that one uninterrupted run never makes; end it as that run ended instead.
            _note(f"mlp: the checkpoint's run stopped early at epoch {completed} (best val_loss at epoch "
                  f"{watch.get('best_epoch')}); saving the model as it is (--no-early-stopping trains on)")
            remaining = 0
            if state.history.stop_reason != "early_stopping" and watch.get("best_params") is not None:
                net.params = watch["best_params"]
            for h in {id(state.history): state.history, id(net.history): net.history}.values():
                if h is not None:
                    h.stop_reason = "early_stopping"

    start = time.perf_counter()
    stop = _StopOnSignal()
    interrupted = False
    note = None
    if not args.quiet:
        what = f"resuming at epoch {completed} of " if completed else ""
        note = (f"mlp: {what}training {'-'.join(map(str, net.sizes))} ({net.n_params} parameters) on "
                f"{data.source}: {X_tr.shape[0]} examples"
                + (f", {X_val.shape[0]} for validation" if X_val is not None else "")
                + " (Ctrl-C saves a checkpoint)")
    with stop:     # from here on, Ctrl-C ends in a checkpoint
        if remaining is None or remaining > 0:
            callbacks = [stop.callback(note)]
            if args.checkpoint_every:
                from .callbacks import Checkpoint

                callbacks.append(Checkpoint(checkpoint, every=args.checkpoint_every))
            try:
                net.fit(X_tr, y_tr, callbacks=callbacks, **fit_kwargs)
            except KeyboardInterrupt:
                interrupted = True
        interrupted = interrupted or stop.requested > 0
    seconds = time.perf_counter() - start

    history = getattr(net, "history", None) or getattr(getattr(net, "train_state", None), "history", None)
    done = int(getattr(getattr(net, "train_state", None), "epoch", completed))
    metadata["epochs"] = done
    metadata["seconds"] = round(seconds + float(meta0.get("seconds", 0.0)), 3)
    metadata["trained_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    metadata["command"] = shlex.join(["mlp", *argv]) if argv else None
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

    if interrupted:
        if getattr(net, "train_state", None) is None:
            _note("mlp: interrupted before the first epoch; nothing saved")
            return EXIT_INTERRUPTED
        _save_quietly(io.save, net, checkpoint, history=history, train_state=net.train_state)
        _note(f"mlp: interrupted after epoch {done}: checkpoint saved to {checkpoint}")
        _note(f"mlp: resume with: {_resume_command(argv, checkpoint)}")
        return EXIT_INTERRUPTED

    _save_quietly(io.save, net, out, history=history)
    if args.checkpoint:
        _save_quietly(io.save, net, checkpoint, history=history, train_state=net.train_state)
    if not args.quiet:
        parts = [f"{k} {_fmt(v)}" for k, v in final.items()]
        extra = f" (checkpoint {checkpoint})" if args.checkpoint else ""
        # seconds: this command's training; a resumed run says which epochs it added
        run = (f"epochs {completed + 1}–{done} (resumed)" if completed and done > completed
               else f"{done} epochs")
        _out(f"trained {'-'.join(map(str, net.sizes))} on {data.source} for {run} in "
             f"{seconds:.1f} s: {', '.join(parts) or 'done'} → {out}{extra}")
    return 0


# --------------------------------------------------------------------------- predict / evaluate


def _read_for_model(net, source: str, args, *, need_target: bool):
    """DATA as the model expects it: its feature columns, width checked, scaled; labels on its classes."""
    from .data import align_classes, load_data

    meta = net.metadata or {}
    target = args.target if args.target is not None else meta.get("target")
    task = meta.get("task") or ("classification" if net.classes_ is not None else "auto")
    data = load_data(source, target=target, need_target=need_target,
                     features=meta.get("feature_names"), task=task, seed=args.data_seed,
                     n=args.n, noise=args.noise)
    X = _model_inputs(net, data, source)
    if need_target and net.classes_ is not None and data.task == "classification":
        align_classes(data, net.classes_, what=f"{source}: target")
    return data, X


def _csv_cell(value, precision: int) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int,)) and not isinstance(value, bool):
        return str(value)
    return format(float(value), f".{precision}g")


def _predict(args) -> int:
    import csv
    import io as stdio

    from . import io

    net = _load_model(args.model)
    if args.out:
        _check_out_folder(args.out)
    data, X = _read_for_model(net, args.data, args, need_target=False)
    precision = 9 if net.dtype.itemsize == 4 else 17
    buffer = stdio.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if net.classes_ is not None:
        idx = net.predict_classes(X)
        labels = [net.classes_[i] for i in idx]
        if args.proba:
            if net.layers[-1].activation.name not in ("softmax", "sigmoid"):
                raise CLIError("--proba needs a model with a softmax or sigmoid output")
            proba = net.predict_proba(X)
            writer.writerow(["prediction", *[f"p_{c}" for c in net.classes_]])
            for label, row in zip(labels, proba):
                writer.writerow([_csv_cell(label, precision), *[_csv_cell(p, precision) for p in row]])
        else:
            writer.writerow(["prediction"])
            writer.writerows([_csv_cell(label, precision)] for label in labels)
    else:
        if args.proba:
            raise CLIError("--proba needs a classifier; this model predicts numbers (regression)")
        y_hat = net.predict(X)
        target = (net.metadata or {}).get("target") or "prediction"
        header = ["prediction"] if net.n_out == 1 else [f"{target}_{k}" for k in range(net.n_out)]
        writer.writerow(header)
        writer.writerows([_csv_cell(v, precision) for v in row] for row in y_hat)
    text = buffer.getvalue()
    if args.out:
        io.atomic_write(args.out, text.encode())
        if not args.quiet:
            _note(f"mlp: wrote {X.shape[0]} predictions to {args.out}")
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    return 0


def _confusion_table(matrix, classes) -> str:
    names = [str(c) for c in classes]
    width = max(6, *(len(n) for n in names), *(len(str(v)) for v in matrix.ravel()))
    head = "true \\ pred".ljust(width + 2) + " ".join(n.rjust(width) for n in names)
    rows = [names[i].ljust(width + 2) + " ".join(str(v).rjust(width) for v in row)
            for i, row in enumerate(matrix)]
    return "\n".join([head, *rows])


def _evaluate(args) -> int:
    import numpy as np

    from .losses import get as get_loss

    net = _load_model(args.model)
    data, X = _read_for_model(net, args.data, args, need_target=True)
    loss_name = _model_loss(net)
    result = {"model": args.model, "data": args.data, "n_examples": data.n_examples, "loss_name": loss_name}
    if net.classes_ is not None:
        if data.task != "classification":
            raise CLIError(f"the model is a classifier but {args.data} has a numeric target")
        y = _targets_for(loss_name, data.y, net.n_out, net.dtype)
        result["loss"] = float(net.loss_and_grad(X, y, get_loss(loss_name)))
        pred = net.predict_classes(X)
        k = len(net.classes_)
        matrix = np.zeros((k, k), dtype=np.int64)
        np.add.at(matrix, (data.y, pred), 1)
        result["accuracy"] = float(np.mean(pred == data.y))
        result["classes"] = net.classes_
        result["confusion_matrix"] = matrix.tolist()
    else:
        if data.task != "regression":
            data_y = data.y.astype(np.float64).reshape(-1, 1)
        else:
            data_y = data.y
        if data_y.shape[1] != net.n_out:
            raise CLIError(f"the model has {net.n_out} outputs but the target has {data_y.shape[1]} columns")
        result["loss"] = float(net.loss_and_grad(X, data_y.astype(net.dtype), get_loss(loss_name)))
        y_hat = net.predict(X).astype(np.float64)
        err = y_hat - data_y
        result["mse"] = float(np.mean(err ** 2))
        result["mae"] = float(np.mean(np.abs(err)))
        ss_tot = np.sum((data_y - data_y.mean(axis=0)) ** 2, axis=0)
        ss_res = np.sum(err ** 2, axis=0)
        r2 = np.where(ss_tot > 0, 1 - ss_res / np.where(ss_tot > 0, ss_tot, 1), np.nan)
        result["r2"] = float(np.mean(r2)) if np.all(np.isfinite(r2)) else None
    if args.json:
        _out(json.dumps(result))
        return 0
    _out(f"{args.data}: {data.n_examples} examples")
    # the training loss as fit computes it: for mse the lecture's ½ Σ (ŷ − y)², not the MSE below
    reduction = get_loss(loss_name).reduction
    _out(f"loss ({loss_name}, {_REDUCTION_WORDS.get(reduction, reduction)}): {result['loss']:.6g}")
    if "accuracy" in result:
        _out(f"accuracy: {result['accuracy']:.4f}")
        _out("confusion matrix (rows: true class, columns: predicted):")
        _out(_confusion_table(np.array(result["confusion_matrix"]), net.classes_))
    else:
        _out(f"R²: {_fmt(result['r2'])}   MSE: {result['mse']:.6g}   MAE: {result['mae']:.6g}")
    return 0


_REDUCTION_WORDS = {"half_sum": "½ Σ over examples and outputs", "sum": "Σ over examples and outputs",
                    "mean": "mean"}


# --------------------------------------------------------------------------- export


def _export(args) -> int:
    from .interop import export

    net = _load_model(args.model)
    _check_out_folder(args.out)
    export(net, args.out, args.format)
    folded = ", input scaling folded into layer 1" if net.scaler is not None else ""
    _out(f"wrote {args.out} ({args.format}, {'-'.join(map(str, net.sizes))}, {net.dtype.name}{folded})")
    if args.format == "torch":
        _note(f"load it with torch.load({args.out!r}, weights_only=False) (a pickled nn.Sequential)")
    return 0


# --------------------------------------------------------------------------- info / datasets


def _info(args) -> int:
    from . import io

    if not os.path.exists(args.model):
        raise CLIError(f"{args.model}: no such model file")
    info = io.read_metadata(args.model)
    net = io.load(args.model)
    meta = info.get("metadata") or {}
    arch = info["architecture"]
    state = info.get("train_state")
    epoch = None
    if isinstance(state, dict):
        epoch = state.get("epoch")
    summary = {
        "file": args.model, "bytes": os.path.getsize(args.model), "mlp_version": info.get("mlp_version"),
        "format_version": info["format_version"], "sizes": net.sizes,
        "activations": [layer.activation.name for layer in net.layers], "dtype": arch["dtype"],
        "n_params": net.n_params, "classes": net.classes_,
        "scaled": net.scaler is not None, "metadata": meta,
        "history_epochs": _history_length(net.history),
        "checkpoint": state is not None, "checkpoint_epoch": epoch if isinstance(epoch, int) else None,
    }
    if args.json:
        _out(json.dumps(summary, default=str))
        return 0
    _out(f"{args.model}: mlp model file ({summary['bytes']:,} bytes, format {summary['format_version']}, "
         f"written by mlp {summary['mlp_version']})")
    _out(f"architecture  {'-'.join(map(str, net.sizes))}  ({len(net.layers)} layers, "
         f"{net.n_params:,} parameters, {arch['dtype']})")
    for i, layer in enumerate(net.layers, 1):
        _out(f"  layer {i}  {layer.n_in} → {layer.n_out}  {layer.activation.name}")
    if net.classes_ is not None:
        shown = ", ".join(map(str, net.classes_[:12])) + (" …" if len(net.classes_) > 12 else "")
        _out(f"classes       {shown} ({len(net.classes_)})")
    _out("input scaling " + (f"standardised, (x − mean) / scale over {net.n_in} features"
                             if net.scaler is not None else "none"))
    if meta:
        bits = [f"{meta.get('task', '?')} on {meta.get('data', '?')}"]
        if meta.get("n_train") is not None:
            bits.append(f"{meta['n_train']} training examples"
                        + (f" + {meta['n_validation']} validation" if meta.get("n_validation") else ""))
        if meta.get("epochs") is not None:
            bits.append(f"{meta['epochs']} epochs")
        if meta.get("optimizer"):
            lr = f" lr {meta['lr']}" if meta.get("lr") is not None else ""
            bits.append(f"{meta['optimizer']}{lr}")
        if meta.get("loss"):
            bits.append(f"loss {meta['loss']}")
        if meta.get("seconds") is not None:
            bits.append(f"{meta['seconds']:.1f} s")
        _out("trained       " + ", ".join(bits))
        if meta.get("final"):
            _out("final         " + "  ".join(f"{k} {_fmt(v)}" for k, v in meta["final"].items()))
        if meta.get("trained_at"):
            _out(f"saved         {meta['trained_at']}")
        if meta.get("command"):
            _out(f"command       {meta['command']}")
        other = {k: v for k, v in meta.items() if k not in _KNOWN_META}
        for key, value in other.items():
            _out(f"{key:<13} {_one_line(json.dumps(value, default=str))[:100]}")
    if summary["history_epochs"]:
        _out(f"history       {summary['history_epochs']} epochs recorded")
    if state is not None:
        at = f" at epoch {epoch}" if isinstance(epoch, int) else ""
        command = meta.get("command")
        how = (_resume_command(shlex.split(command)[1:], args.model) if isinstance(command, str)
               and command.startswith("mlp train") else f"mlp train DATA … --resume {args.model}")
        _out(f"checkpoint    yes{at}: continue with {how}")
    return 0


def _history_length(history) -> int:
    losses = history.get("loss") if isinstance(history, dict) else getattr(history, "loss", None)
    return len(losses) if isinstance(losses, list) else 0


_KNOWN_META = {"task", "loss", "data", "target", "feature_names", "n_examples", "n_train", "n_validation",
               "optimizer", "lr", "batch_size", "seed", "validation_split", "scaled", "early_stopping",
               "epochs", "seconds", "trained_at", "command", "final"}


def _datasets(args) -> int:
    from . import datasets

    rows = [("name", "examples", "features", "task", "description")]
    rows += [(d.name, str(d.n_examples), str(d.n_features), d.task, d.description)
             for d in datasets.describe()]
    widths = [max(len(r[c]) for r in rows) for c in range(4)]
    for r in rows:
        _out("  ".join(cell.ljust(w) for cell, w in zip(r[:4], widths)) + "  " + r[4])
    _out("\nUse a name as DATA, e.g. `mlp train moons`, or a .csv / .npz file of your own.")
    return 0


# --------------------------------------------------------------------------- xor / demo


def _xor(args) -> int:
    try:
        from . import xor_story
    except ModuleNotFoundError as exc:
        if exc.name == "mlp.xor_story":
            raise CLIError("the XOR story (mlp.xor_story) is not part of this installation yet") from None
        raise
    os.makedirs(args.out, exist_ok=True)
    xor_story.run(args.out, print=print)
    return 0


def _demo(args) -> int:
    from .demo import main as demo_main
    return demo_main(args)


# --------------------------------------------------------------------------- the parser


def _add_data_options(p) -> None:
    p.add_argument("--target", metavar="COLUMN",
                   help="CSV column holding the target (default: the model's, or the last column)")
    p.add_argument("--data-seed", type=_seed, default=0, metavar="N",
                   help="seed of generated built-in data sets (default 0)")
    p.add_argument("--n", type=_positive_int, metavar="N",
                   help="number of examples of a generated data set (circles, moons, spirals, gaussians)")
    p.add_argument("--noise", type=_nonneg_float, metavar="SD", help="noise of a generated data set")


def build_parser() -> argparse.ArgumentParser:
    """The ``mlp`` argument parser (subcommands register themselves here)."""
    from . import activations, losses

    parser = _Parser(prog="mlp", description="Multi-layer networks in NumPy: train, predict, inspect.",
                     epilog="DATA is a built-in data set (see `mlp datasets`), a .csv file with a header "
                            "row, or an .npz file with arrays X and y. Run `mlp COMMAND --help` for more.")
    parser.add_argument("--version", action="version", version=f"mlp {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("train", help="train a network on DATA and save it",
                       description="Train a network on DATA and save it as a safetensors model file. "
                                   "Inputs are standardised (stored in the model) unless --no-scale. "
                                   "Ctrl-C saves a checkpoint that --resume continues exactly.")
    p.add_argument("data", metavar="DATA", help="built-in name, .csv or .npz file")
    _add_data_options(p)
    p.add_argument("--task", choices=("auto", "classification", "regression"), default="auto",
                   help="how to read the target (default: text or integers are classes, else regression)")
    p.add_argument("--hidden", type=_parse_hidden, metavar="SIZES",
                   help="hidden layer widths, e.g. 64,32 (default 64; 'none' for no hidden layer)")
    p.add_argument("--activation", default="relu", choices=activations.names(), metavar="NAME",
                   help=f"hidden activation: {', '.join(activations.names())} (default relu)")
    p.add_argument("--output-activation", choices=activations.names(), metavar="NAME",
                   help="output activation (default: softmax for classes, sigmoid for two, identity "
                        "for regression)")
    p.add_argument("--loss", choices=losses.names(), metavar="NAME",
                   help=f"{', '.join(losses.names())} (default: from the task)")
    p.add_argument("--optimizer", metavar="NAME", help="gd, sgd, momentum, nesterov, adam, adamw, rmsprop "
                                                       "(default adam)")
    p.add_argument("--lr", type=_positive_float, metavar="RATE", help="learning rate (default: fit's)")
    p.add_argument("--epochs", type=_positive_int, metavar="N",
                   help="total epochs (default: fit's); with --resume, training continues up to N")
    p.add_argument("--batch-size", type=_parse_batch, metavar="N",
                   help="examples per step, or 'full' for full-batch gradient descent (default: fit's)")
    p.add_argument("--validation-split", type=_fraction, metavar="F",
                   help="fraction held out for validation (default 0, or 0.1 with --early-stopping)")
    p.add_argument("--early-stopping", action=argparse.BooleanOptionalAction, default=None,
                   help="stop when val_loss stops improving (with --resume: as the checkpoint's run)")
    p.add_argument("--patience", type=_positive_int, metavar="N",
                   help="epochs without improvement to wait (default 10; with --resume: the checkpoint's)")
    p.add_argument("--weight-decay", type=_nonneg_float, metavar="L2", help="L2 penalty")
    p.add_argument("--init", default="he", metavar="NAME", help="weight initialiser (default he)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--seed", type=_seed, metavar="N", help="seed for initialisation, shuffling and the split")
    p.add_argument("--no-scale", action="store_true", help="do not standardise the inputs")
    p.add_argument("--out", default="model.safetensors", metavar="FILE",
                   help="model file to write (default model.safetensors)")
    p.add_argument("--checkpoint", metavar="FILE",
                   help="also write a resumable checkpoint here at the end (and on Ctrl-C; default "
                        "on Ctrl-C: OUT with .ckpt before the extension)")
    p.add_argument("--checkpoint-every", type=_positive_int, metavar="N",
                   help="write the checkpoint every N epochs")
    p.add_argument("--resume", metavar="CHECKPOINT",
                   help="continue training from a checkpoint (same DATA); bit-identical to not stopping")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar on stderr (default: when stderr is a terminal)")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="print nothing on success (no progress, summary or warnings)")
    p.set_defaults(func=_train)

    p = sub.add_parser("predict", help="predict DATA with a saved model",
                       description="Write one prediction per example of DATA as CSV (to stdout or --out). "
                                   "The model's input scaling is applied; a target column is ignored.")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("data", metavar="DATA")
    _add_data_options(p)
    p.add_argument("--out", metavar="FILE", help="CSV file to write (default: stdout)")
    p.add_argument("--proba", action="store_true", help="also write class probabilities")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=_predict)

    p = sub.add_parser("evaluate", help="score a saved model on labelled DATA",
                       description="Loss and accuracy with a confusion matrix (classifiers), or loss, "
                                   "R², MSE and MAE (regression).")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("data", metavar="DATA")
    _add_data_options(p)
    p.add_argument("--json", action="store_true", help="print the results as one JSON object")
    p.set_defaults(func=_evaluate)

    p = sub.add_parser("info", help="describe a model file",
                       description="Architecture, parameter count, classes, input scaling and how the "
                                   "model was trained. The file is fully validated first.")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--json", action="store_true", help="print the description as one JSON object")
    p.set_defaults(func=_info)

    p = sub.add_parser("export", help="write a saved model as ONNX or a PyTorch module",
                       description="ONNX (Gemm + activation operators, opset 17, runs in ONNX Runtime) "
                                   "or a torch.nn.Sequential saved with torch.save. A model's input "
                                   "scaling is folded into the first layer.")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--format", required=True, choices=["onnx", "torch"])
    p.add_argument("--out", required=True, metavar="PATH", help="the file to write")
    p.set_defaults(func=_export)

    p = sub.add_parser("datasets", help="list the built-in data sets")
    p.set_defaults(func=_datasets)

    p = sub.add_parser("xor", help="the lecture's XOR story, with figures",
                       description="Why one layer cannot learn XOR and two can, step by step, with figures.")
    p.add_argument("--out", default=os.path.join("mlp-out", "xor"), metavar="DIR",
                   help="folder for the figures (default mlp-out/xor)")
    p.set_defaults(func=_xor)

    p = sub.add_parser("demo", help="the lecture's worked examples (what `make demo` runs)")
    p.set_defaults(func=_demo)
    return parser


def main(argv=None) -> int:
    """Run the ``mlp`` command; return its exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = argv
    # Library warnings ("loss still falling: raise epochs") as one plain line each.
    previous_format = warnings.formatwarning
    warnings.formatwarning = lambda message, *args, **kwargs: f"mlp: warning: {_one_line(message)}\n"
    try:
        with warnings.catch_warnings():
            if getattr(args, "quiet", False):
                warnings.simplefilter("ignore")
            return args.func(args) or 0
    except KeyboardInterrupt:
        _note("mlp: interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `mlp predict … | head`: the reader left; not an error worth a message.
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        except OSError:
            pass
        return 0
    except Exception as exc:   # one line, never a traceback
        if os.environ.get("MLP_DEBUG"):
            raise
        known = (CLIError, ValueError, TypeError, OSError, ImportError, ArithmeticError, KeyError)
        text = _one_line(_describe_error(exc))
        if not isinstance(exc, known) and type(exc).__name__ != "TrainingDiverged":
            text = f"internal error ({type(exc).__name__}): {text} (MLP_DEBUG=1 shows the traceback)"
        _note(f"mlp: error: {text}")
        return EXIT_ERROR
    finally:
        warnings.formatwarning = previous_format


if __name__ == "__main__":
    sys.exit(main())
