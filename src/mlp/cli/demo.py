"""``mlp demo``: the lecture's worked examples (what ``make demo`` runs)."""

from __future__ import annotations

from .. import demo as _demo


def add_parser(sub) -> None:
    p = sub.add_parser("demo", help="the lecture's worked examples (what `make demo` runs)",
                       description="The lecture's worked examples: the bias exercise traced layer by "
                                   "layer, XOR (no line separates it, the hand-made ReLU network, the "
                                   "linear collapse), the XOR story with figures and a digits run.")
    p.set_defaults(func=run)


def run(args) -> int:
    return _demo.main(args)
