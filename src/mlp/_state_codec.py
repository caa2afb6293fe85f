"""Training state ↔ JSON + tensors: a tagged-tree codec (layer 0: NumPy and the safetensors errors).

A state dict is a tree of plain scalars, strings, lists, tuples, dicts and NumPy
arrays. Arrays become tensors; the rest becomes JSON with a few tags so that
the tree comes back with the same types (tuples, NumPy scalars, non-string
keys, non-finite floats) — bit-identical resumption depends on it.
"""

from __future__ import annotations

import math

import numpy as np

from ._safetensors import bad_file

__all__ = ["decode_state", "encode_state"]

_TAGS = ("__tensor__", "__numpy__", "__tuple__", "__items__", "__float__")
_SCALAR_KINDS = "biuf"


def encode_state(obj, where: str, tensors: dict):
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else {"__float__": repr(obj)}
    if isinstance(obj, np.ndarray):
        name, k = where, 1
        while name in tensors:
            k += 1
            name = f"{where}#{k}"
        tensors[name] = obj.copy()
        return {"__tensor__": name}
    if isinstance(obj, np.generic):
        if obj.dtype.kind not in _SCALAR_KINDS:
            raise TypeError(f"{where}: NumPy scalar of dtype {obj.dtype} cannot be saved")
        return {"__numpy__": obj.dtype.name, "value": encode_state(obj.item(), where, tensors)}
    if isinstance(obj, tuple):
        return {"__tuple__": [encode_state(v, f"{where}.{i}", tensors) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [encode_state(v, f"{where}.{i}", tensors) for i, v in enumerate(obj)]
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: encode_state(v, f"{where}.{k}", tensors) for k, v in obj.items()}
        return {"__items__": [[encode_state(k, f"{where}.key", tensors),
                               encode_state(v, f"{where}.{k}", tensors)] for k, v in obj.items()]}
    raise TypeError(f"{where} is a {type(obj).__name__}: a training state can only hold numbers, "
                    "strings, lists, tuples, dicts and NumPy arrays")


def decode_state(obj, tensors: dict, path, depth: int = 0):
    if depth > 100:
        raise bad_file(path, "training state is nested too deeply")
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return obj
    if isinstance(obj, list):
        return [decode_state(v, tensors, path, depth + 1) for v in obj]
    if not isinstance(obj, dict):
        raise bad_file(path, "training state holds an unknown value")
    tags = [k for k in obj if k in _TAGS]
    if not tags:
        return {k: decode_state(v, tensors, path, depth + 1) for k, v in obj.items()}
    tag = tags[0]
    value = obj[tag]
    if tag == "__tensor__":
        if not isinstance(value, str) or not value.startswith("train_state") or value not in tensors:
            raise bad_file(path, f"training state refers to a missing tensor {str(value)[:60]!r}")
        return tensors[value].copy()
    if tag == "__numpy__":
        if not isinstance(value, str):
            raise bad_file(path, "training state: bad NumPy scalar")
        try:
            dt = np.dtype(value)
        except TypeError:
            raise bad_file(path, f"training state: unknown NumPy dtype {value[:20]!r}") from None
        inner = obj.get("value")
        if dt.kind not in _SCALAR_KINDS or isinstance(inner, (list, str)) or inner is None:
            raise bad_file(path, f"training state: bad NumPy scalar of dtype {value[:20]!r}")
        inner = decode_state(inner, tensors, path, depth + 1)
        try:
            return dt.type(inner)
        except (TypeError, ValueError, OverflowError):
            raise bad_file(path, f"training state: {inner!r} is not a {dt}") from None
    if tag == "__tuple__":
        if not isinstance(value, list):
            raise bad_file(path, "training state: bad tuple")
        return tuple(decode_state(v, tensors, path, depth + 1) for v in value)
    if tag == "__items__":
        if not isinstance(value, list) or not all(isinstance(p, list) and len(p) == 2 for p in value):
            raise bad_file(path, "training state: bad key/value list")
        out = {}
        for k, v in value:
            k = decode_state(k, tensors, path, depth + 1)
            if isinstance(k, (list, dict, np.ndarray)):
                raise bad_file(path, "training state: unhashable key")
            out[k] = decode_state(v, tensors, path, depth + 1)
        return out
    if value not in ("nan", "inf", "-inf"):
        raise bad_file(path, "training state: bad float")
    return float(value)
