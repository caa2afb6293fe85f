"""``mlp playground``: the lecture, live in a browser, every number computed by mlp.

A local web page (plain HTML/JS/canvas shipped inside the package, no network at
run time) on a standard-library ``ThreadingHTTPServer`` bound to 127.0.0.1. The
page is TensorFlow Playground's — data sets, features, layers, activations,
Play/Pause/Step/Reset, heatmaps, the loss chart — plus what its users asked for:
your own CSV, any number of layers and neurons, per-layer activations, cross-entropy
and more classes, downloading the model (mlp's safetensors file and a Python
script), stop conditions, Reset to the same initial weights, a divergence banner,
and the lecture built in (the hand-made XOR net, the hidden space, ∂ŷ/∂w1 by SymPy
beside backprop, dead ReLUs, the linear collapse).

Training runs here, in Python: a Step is ``net.fit(..., epochs=1)``, Play runs as
many epochs per animation frame as fit a 10 ms budget.

>>> from mlp.playground import make_server
>>> server = make_server()             # 127.0.0.1, a free port, a random token
>>> server.url.startswith("http://127.0.0.1:")
True
>>> server.server_close()
"""

from __future__ import annotations

import sys
import threading
import webbrowser

from mlp.playground.server import PlaygroundServer, make_server
from mlp.playground.session import Session

__all__ = ["PlaygroundServer", "Session", "make_server", "serve"]


def serve(port: int = 8765, *, open_browser: bool = True, token: str | None = None,
          print=print) -> None:
    """Start the playground on http://127.0.0.1:port and serve until Ctrl-C.

    Parameters
    ----------
    port : int, default 8765
        0 picks a free port.
    open_browser : bool, default True
        Open the page in the default web browser.
    token : str, optional
        The access token in the URL (default: a random one).
    """
    try:
        server = make_server(port, token)
    except OSError as e:
        raise OSError(f"cannot listen on 127.0.0.1:{port}: {e.strerror or e} (try --port 0)") from None
    print(f"mlp playground: {server.url}")
    print("(Ctrl-C stops it)")
    sys.stdout.flush()
    if open_browser:
        threading.Timer(0.3, webbrowser.open, args=(server.url,)).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
