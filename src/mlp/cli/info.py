"""``mlp info MODEL``: architecture, parameters, classes, input scaling and how the model was trained."""

from __future__ import annotations

import json
import os
import shlex

from .. import io
from ._common import KNOWN_META, CLIError, fmt, one_line, out, resume_command


def add_parser(sub) -> None:
    p = sub.add_parser("info", help="describe a model file",
                       description="Architecture, parameter count, classes, input scaling and how the "
                                   "model was trained. The file is fully validated first.")
    p.add_argument("model", metavar="MODEL", help="a model file written by mlp train (.safetensors)")
    p.add_argument("--json", action="store_true", help="print the description as one JSON object")
    p.set_defaults(func=run)


def _history_length(history) -> int:
    losses = history.get("loss") if isinstance(history, dict) else getattr(history, "loss", None)
    return len(losses) if isinstance(losses, list) else 0


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _text(value) -> str:
    """A metadata value as one short line, whatever its type (a file may hold anything)."""
    return one_line(value if isinstance(value, str) else json.dumps(value, default=str))[:100]


def _trained_line(meta: dict) -> str:
    bits = [f"{_text(meta.get('task', '?'))} on {_text(meta.get('data', '?'))}"]
    if meta.get("n_train") is not None:
        bits.append(f"{_text(meta['n_train'])} training examples"
                    + (f" + {_text(meta['n_validation'])} validation" if meta.get("n_validation") else ""))
    if meta.get("epochs") is not None:
        bits.append(f"{_text(meta['epochs'])} epochs")
    if meta.get("optimizer"):
        lr = f" lr {_text(meta['lr'])}" if meta.get("lr") is not None else ""
        bits.append(f"{_text(meta['optimizer'])}{lr}")
    if meta.get("loss"):
        bits.append(f"loss {_text(meta['loss'])}")
    if meta.get("seconds") is not None:
        seconds = meta["seconds"]
        bits.append(f"{seconds:.1f} s" if _number(seconds) else f"{_text(seconds)} s")
    return "trained       " + ", ".join(bits)


def _print_metadata(meta: dict) -> None:
    out(_trained_line(meta))
    names = meta.get("feature_names")
    if meta.get("target") is not None:
        task = f" ({_text(meta['task'])})" if meta.get("task") else ""
        out(f"target        {_text(meta['target'])}{task}")
    if isinstance(names, list) and names:
        shown = ", ".join(_text(n) for n in names[:12]) + (" …" if len(names) > 12 else "")
        out(f"features      {shown} ({len(names)}, matched by name at predict time)")
    final = meta.get("final")
    if final:
        out("final         " + ("  ".join(f"{_text(k)} {fmt(v) if _number(v) else _text(v)}"
                                          for k, v in final.items())
                                if isinstance(final, dict) else _text(final)))
    for key, label in (("trained_at", "saved"), ("command", "command")):
        if meta.get(key):
            out(f"{label:<13} {_text(meta[key])}")
    other = {k: v for k, v in meta.items() if k not in KNOWN_META}
    for key, value in other.items():
        out(f"{key[:40]:<13} {_text(value)}")


def _print(args, summary: dict, net, meta: dict, state, epoch) -> None:
    out(f"{args.model}: mlp model file ({summary['bytes']:,} bytes, format {summary['format_version']}, "
        f"written by mlp {summary['mlp_version']})")
    out(f"architecture  {'-'.join(map(str, net.sizes))}  ({len(net.layers)} layers, "
        f"{net.n_params:,} parameters, {summary['dtype']})")
    for i, layer in enumerate(net.layers, 1):
        out(f"  layer {i}  {layer.n_in} → {layer.n_out}  {layer.activation.name}")
    if net.classes_ is not None:
        shown = ", ".join(map(str, net.classes_[:12])) + (" …" if len(net.classes_) > 12 else "")
        out(f"classes       {shown} ({len(net.classes_)})")
    out("input scaling " + (f"standardised, (x − mean) / scale over {net.n_in} features"
                            if net.scaler is not None else "none"))
    if meta:
        _print_metadata(meta)
    if summary["history_epochs"]:
        out(f"history       {summary['history_epochs']} epochs recorded")
    if state is not None:
        at = f" at epoch {epoch}" if isinstance(epoch, int) else ""
        command = meta.get("command")
        how = (resume_command(shlex.split(command)[1:], args.model) if isinstance(command, str)
               and command.startswith("mlp train") else f"mlp train DATA … --resume {args.model}")
        out(f"checkpoint    yes{at}: continue with {how}")


def run(args) -> int:
    if not os.path.exists(args.model):
        raise CLIError(f"{args.model}: no such model file")
    info = io.read_metadata(args.model)
    net = io.load(args.model)
    meta = info.get("metadata") or {}
    state = info.get("train_state")
    epoch = state.get("epoch") if isinstance(state, dict) else None
    summary = {
        "file": args.model, "bytes": os.path.getsize(args.model), "mlp_version": info.get("mlp_version"),
        "format_version": info["format_version"], "sizes": net.sizes,
        "activations": [layer.activation.name for layer in net.layers],
        "dtype": info["architecture"]["dtype"],
        "n_params": net.n_params, "classes": net.classes_,
        "scaled": net.scaler is not None, "metadata": meta,
        "history_epochs": _history_length(net.history),
        "checkpoint": state is not None, "checkpoint_epoch": epoch if isinstance(epoch, int) else None,
    }
    if args.json:
        out(json.dumps(summary, default=str))
        return 0
    _print(args, summary, net, meta, state, epoch)
    return 0
