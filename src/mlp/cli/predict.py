"""``mlp predict MODEL DATA``: one prediction per example of DATA, as CSV (stdout or ``--out``)."""

from __future__ import annotations

import csv
import io as stdio
import sys

from .. import io
from ._common import (
    CLIError,
    add_model_data_arguments,
    check_out_folder,
    load_model,
    note,
    read_for_model,
)


def add_parser(sub) -> None:
    p = sub.add_parser("predict", help="predict DATA with a saved model",
                       description="Write one prediction per example of DATA as CSV (to stdout or --out). "
                                   "The model's input scaling is applied; a target column is ignored.")
    add_model_data_arguments(p)
    p.add_argument("--out", metavar="FILE", help="CSV file to write (default: stdout)")
    p.add_argument("--proba", action="store_true", help="also write class probabilities")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=run)


def _csv_cell(value, precision: int) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int,)) and not isinstance(value, bool):
        return str(value)
    return format(float(value), f".{precision}g")


def _write_classes(writer, net, X, proba: bool, precision: int) -> None:
    labels = net.predict_classes(X).tolist()           # the model's labels, as net.predict_classes
    if proba:
        if net.layers[-1].activation.name not in ("softmax", "sigmoid"):
            raise CLIError("--proba needs a model with a softmax or sigmoid output")
        probabilities = net.predict_proba(X)
        writer.writerow(["prediction", *[f"p_{c}" for c in net.classes_]])
        for label, row in zip(labels, probabilities):
            writer.writerow([_csv_cell(label, precision), *[_csv_cell(p, precision) for p in row]])
    else:
        writer.writerow(["prediction"])
        writer.writerows([_csv_cell(label, precision)] for label in labels)


def _write_numbers(writer, net, X, precision: int) -> None:
    y_hat = net.predict(X)
    target = (net.metadata or {}).get("target") or "prediction"
    header = ["prediction"] if net.n_out == 1 else [f"{target}_{k}" for k in range(net.n_out)]
    writer.writerow(header)
    writer.writerows([_csv_cell(v, precision) for v in row] for row in y_hat)


def run(args) -> int:
    net = load_model(args.model, data=args.data)
    if args.out:
        check_out_folder(args.out, inputs={"model file": args.model, "data file": args.data})
    _, X = read_for_model(net, args.data, args, need_target=False)
    precision = 9 if net.dtype.itemsize == 4 else 17
    buffer = stdio.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if net.classes_ is not None:
        _write_classes(writer, net, X, args.proba, precision)
    else:
        if args.proba:
            raise CLIError("--proba needs a classifier; this model predicts numbers (regression)")
        _write_numbers(writer, net, X, precision)
    text = buffer.getvalue()
    if args.out:
        io.atomic_write(args.out, text.encode())
        if not args.quiet:
            note(f"mlp: wrote {X.shape[0]} predictions to {args.out}")
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    return 0
