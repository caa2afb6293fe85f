"""``mlp xor``: the lecture's XOR story, with figures."""

from __future__ import annotations

import os

from .. import xor_story


def add_parser(sub) -> None:
    p = sub.add_parser("xor", help="the lecture's XOR story, with figures",
                       description="Why one layer cannot learn XOR and two can, step by step, with figures.")
    p.add_argument("--out", default=os.path.join("mlp-out", "xor"), metavar="DIR",
                   help="folder for the figures (default mlp-out/xor)")
    p.set_defaults(func=run)


def run(args) -> int:
    os.makedirs(args.out, exist_ok=True)
    xor_story.run(args.out, print=print)
    return 0
