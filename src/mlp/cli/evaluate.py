"""``mlp evaluate MODEL DATA``: loss and accuracy with a confusion matrix, or loss, R², MSE and MAE."""

from __future__ import annotations

import json

import numpy as np

from ..losses import get as get_loss
from ._common import (
    CLIError,
    add_model_data_arguments,
    class_indices,
    fmt,
    load_model,
    model_loss,
    out,
    read_for_model,
    targets_for,
)

_REDUCTION_WORDS = {"half_sum": "½ Σ over examples and outputs", "sum": "Σ over examples and outputs",
                    "mean": "mean"}


def add_parser(sub) -> None:
    p = sub.add_parser("evaluate", help="score a saved model on labelled DATA",
                       description="Loss and accuracy with a confusion matrix (classifiers), or loss, "
                                   "R², MSE and MAE (regression).")
    add_model_data_arguments(p)
    p.add_argument("--json", action="store_true", help="print the results as one JSON object")
    p.set_defaults(func=run)


def confusion_table(matrix, classes) -> str:
    """Rows: true class, columns: predicted; every column as wide as its widest cell."""
    names = [str(c) for c in classes]
    corner = "true \\ pred"
    first = max(len(corner), *(len(n) for n in names)) + 2
    width = max(6, *(len(n) for n in names), *(len(str(v)) for v in matrix.ravel()))
    head = corner.ljust(first) + " ".join(n.rjust(width) for n in names)
    rows = [names[i].ljust(first) + " ".join(str(v).rjust(width) for v in row)
            for i, row in enumerate(matrix)]
    return "\n".join([head, *rows])


def _classifier_scores(net, data, X, loss_name: str, source: str) -> dict:
    if data.task != "classification":
        raise CLIError(f"the model is a classifier but {source} has a numeric target")
    y = targets_for(loss_name, data.y, net.n_out, net.dtype)
    pred = class_indices(net, X)
    k = len(net.classes_)
    matrix = np.zeros((k, k), dtype=np.int64)
    np.add.at(matrix, (data.y, pred), 1)
    return {"loss": float(net.loss_and_grad(X, y, get_loss(loss_name))),
            "accuracy": float(np.mean(pred == data.y)), "classes": net.classes_,
            "confusion_matrix": matrix.tolist()}


def _regression_scores(net, data, X, loss_name: str) -> dict:
    data_y = data.y if data.task == "regression" else data.y.astype(np.float64).reshape(-1, 1)
    if data_y.shape[1] != net.n_out:
        raise CLIError(f"the model has {net.n_out} outputs but the target has {data_y.shape[1]} columns")
    result = {"loss": float(net.loss_and_grad(X, data_y.astype(net.dtype), get_loss(loss_name)))}
    y_hat = net.predict(X).astype(np.float64)
    err = y_hat - data_y
    result["mse"] = float(np.mean(err ** 2))
    result["mae"] = float(np.mean(np.abs(err)))
    ss_tot = np.sum((data_y - data_y.mean(axis=0)) ** 2, axis=0)
    ss_res = np.sum(err ** 2, axis=0)
    r2 = np.where(ss_tot > 0, 1 - ss_res / np.where(ss_tot > 0, ss_tot, 1), np.nan)
    result["r2"] = float(np.mean(r2)) if np.all(np.isfinite(r2)) else None
    return result


def run(args) -> int:
    net = load_model(args.model, data=args.data)
    data, X = read_for_model(net, args.data, args, need_target=True)
    loss_name = model_loss(net)
    result = {"model": args.model, "data": args.data, "n_examples": data.n_examples, "loss_name": loss_name}
    if net.classes_ is not None:
        result.update(_classifier_scores(net, data, X, loss_name, args.data))
    else:
        result.update(_regression_scores(net, data, X, loss_name))
    if args.json:
        out(json.dumps(result))
        return 0
    out(f"{args.data}: {data.n_examples} examples")
    # the training loss as fit computes it: for mse the lecture's ½ Σ (ŷ − y)², not the MSE below
    reduction = get_loss(loss_name).reduction
    out(f"loss ({loss_name}, {_REDUCTION_WORDS.get(reduction, reduction)}): {result['loss']:.6g}")
    if "accuracy" in result:
        out(f"accuracy: {result['accuracy']:.4f}")
        out("confusion matrix (rows: true class, columns: predicted):")
        out(confusion_table(np.array(result["confusion_matrix"]), net.classes_))
    else:
        out(f"R²: {fmt(result['r2'])}   MSE: {result['mse']:.6g}   MAE: {result['mae']:.6g}")
    return 0
