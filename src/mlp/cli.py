"""The ``mlp`` command line (placeholder subcommands grow in later issues)."""

from __future__ import annotations

import argparse
import sys

from . import __version__


def _demo(args) -> int:
    from .demo import main as demo_main
    return demo_main(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlp", description="Multi-layer networks in NumPy.")
    parser.add_argument("--version", action="version", version=f"mlp {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="the lecture's worked examples (what `make demo` runs)")
    p.set_defaults(func=_demo)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
