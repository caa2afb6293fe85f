"""``mlp playground``: the lecture, live in a browser (a local server on 127.0.0.1)."""

from __future__ import annotations

from .. import playground


def add_parser(sub) -> None:
    p = sub.add_parser("playground", help="the lecture, live in a browser (TensorFlow Playground, by mlp)",
                       description="Serve the playground on http://127.0.0.1:PORT and print its URL (with "
                                   "its access token). Every number on the page is computed by mlp in "
                                   "this process. Ctrl-C stops it.")
    p.add_argument("--port", type=int, default=8765,
                   help="port on 127.0.0.1 (default 8765; 0: any free port)")
    p.add_argument("--open", action="store_true", default=True,
                   help="open the page in the web browser (default)")
    p.add_argument("--no-open", dest="open", action="store_false", help="only print the URL")
    p.set_defaults(func=run)


def run(args) -> int:
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must be in 0..65535, got {args.port}")
    playground.serve(args.port, open_browser=args.open)
    return 0
