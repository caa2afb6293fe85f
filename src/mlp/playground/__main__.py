"""``python -m mlp.playground [--port N] [--open/--no-open]``."""

import argparse
import sys

from mlp.playground import serve


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="mlp playground",
                                     description="The lecture, live in a browser (127.0.0.1 only).")
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--open", action=argparse.BooleanOptionalAction, default=True,
                        help="open the page in the web browser")
    args = parser.parse_args(argv)
    try:
        serve(args.port, open_browser=args.open)
    except (OSError, OverflowError, ValueError) as e:
        print(f"mlp playground: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
