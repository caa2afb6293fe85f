"""The playground's HTTP server: the standard library's ThreadingHTTPServer, on 127.0.0.1 only.

Security (a local, single-user tool that trains on the user's data):

* binds to 127.0.0.1; any ``Host`` header other than 127.0.0.1, localhost or [::1]
  (with this server's port) is refused with 400, against DNS rebinding;
* static files come from a fixed allow-list inside the package, never from a path
  the client names (anything else is 404);
* every ``/api/`` call and the page itself need the random token of the URL
  printed at start-up (``?token=…``, or the ``X-MLP-Token`` header), as Jupyter's;
* an upload is a raw ``text/csv`` body with a Content-Length cap (413 above it,
  411 without one) and row/column caps; JSON bodies are capped too; no multipart;
* a malformed request gets a 4xx answer and the server keeps serving.

Endpoints (all but the static files need the token)::

    GET  /                       the page
    GET  /static/app.js, /static/style.css
    GET  /api/state              the whole state as JSON (what the tests read)
    POST /api/config             JSON: the page's settings (its URL state) -> data points and a frame
    GET  /api/frame?play=1       train for one frame's time budget (play=1), then a binary frame
    POST /api/step               JSON {"epochs": n}: n epochs, as net.fit(epochs=n)
    POST /api/reset, /api/new-weights
    POST /api/param              JSON {"name": "w5", "value": 0.3}
    POST /api/upload             text/csv body
    GET  /api/lecture?param=w1&example=0
    GET  /api/model.safetensors, /api/model.py
"""

from __future__ import annotations

import hmac
import json
import math
import secrets
import struct
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import parse_qs, urlsplit

from mlp.playground import problems, session
from mlp.playground.session import Session

#: URL path -> (file in mlp/playground/static, content type): nothing else is ever served
STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/static/style.css": ("style.css", "text/css; charset=utf-8"),
}
MAX_JSON_BYTES = 64 * 1024
FRAME_BUDGET_S = 0.010


def _static(name: str) -> bytes:
    return resources.files("mlp.playground").joinpath("static", name).read_bytes()


def _json_safe(obj):
    """NaN/inf become None (JSON has no NaN)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


def meta() -> dict:
    """What the page's controls offer: names from mlp's registries, the defaults, the limits."""
    return {"defaults": session.DEFAULTS, "problems": {k: v[:2] for k, v in problems.PROBLEMS.items()},
            "features": {k: v[0] for k, v in problems.FEATURES.items()},
            "activations": session.HIDDEN_ACTIVATIONS, "losses": session.LOSSES,
            "optimizers": session.OPTIMIZERS, "inits": session.INITS, "presets": list(session.PRESETS),
            "data_keys": session.DATA_KEYS, "net_keys": session.NET_KEYS,
            "max_units": session.MAX_UNITS, "max_layers": session.MAX_LAYERS,
            "max_csv_bytes": problems.MAX_CSV_BYTES, "max_csv_rows": problems.MAX_CSV_ROWS}


_THUMBS = None


def thumbnails() -> dict:
    """100 points of every built-in problem, for the data set buttons."""
    global _THUMBS
    if _THUMBS is None:
        out = {}
        for name, (_, task, source) in problems.PROBLEMS.items():
            X, y, _ = problems.make(name, 100, 10 if source == "mlp" else 0, 1)
            out[name] = {"X": X.round(3).tolist(), "y": y.round(3).tolist(), "task": task,
                         "domain": problems.domain(name, X)}
        _THUMBS = out
    return _THUMBS


class PlaygroundServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer holding one Session, a token, and a lock around the session."""

    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):   # a closed tab is not an error
            super().handle_error(request, client_address)

    def __init__(self, port: int = 0, token: str | None = None):
        self.token = token or secrets.token_urlsafe(24)
        self.session = Session()
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", port), Handler)
        self.port = self.server_address[1]
        self.allowed_hosts = {f"{h}:{self.port}" for h in ("127.0.0.1", "localhost", "[::1]")}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/?token={self.token}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 30
    server_version = "mlp-playground"

    def log_message(self, format, *args):   # quiet: the terminal shows the URL only
        pass

    # -- answers --------------------------------------------------------------------------
    def _send(self, code: int, body: bytes, ctype: str, extra: dict | None = None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        if ctype.startswith("text/html"):
            self.send_header("Content-Security-Policy",
                             "default-src 'self'; img-src 'self' data: blob:; "
                             "style-src 'self' 'unsafe-inline'")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, obj, code: int = 200):
        self._send(code, json.dumps(_json_safe(obj), allow_nan=False).encode(), "application/json")

    def _error(self, code: int, message: str):
        self.close_connection = code >= 500 or code in (411, 413)
        try:
            self._json({"error": message}, code)
        except ConnectionError:
            self.close_connection = True

    # -- checks ---------------------------------------------------------------------------
    def _host_ok(self) -> bool:
        host = self.headers.get("Host", "")
        return host in self.server.allowed_hosts

    def _token_ok(self, query: dict) -> bool:
        given = self.headers.get("X-MLP-Token") or (query.get("token") or [""])[0]
        return hmac.compare_digest(given.encode(), self.server.token.encode())

    def _body(self, limit: int) -> bytes | None:
        length = self.headers.get("Content-Length")
        if length is None:
            self._error(411, "a Content-Length header is required")
            return None
        try:
            n = int(length)
        except ValueError:
            self._error(400, "bad Content-Length")
            return None
        if n < 0:
            self._error(400, "bad Content-Length")
            return None
        if n > limit:
            self._error(413, f"the body is {n} bytes; at most {limit}")
            return None
        return self.rfile.read(n)

    def _json_body(self) -> dict | None:
        body = self._body(MAX_JSON_BYTES)
        if body is None:
            return None
        try:
            obj = json.loads(body.decode("utf-8") or "{}")
        except (UnicodeDecodeError, ValueError):
            self._error(400, "the body is not JSON")
            return None
        if not isinstance(obj, dict):
            self._error(400, "the body must be a JSON object")
            return None
        return obj

    # -- dispatch -------------------------------------------------------------------------
    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def _other(self):
        self._error(405, "method not allowed")

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _other

    def _dispatch(self, method: str):
        if not self._host_ok():
            self._error(400, "unexpected Host header (the playground answers 127.0.0.1/localhost only)")
            return
        try:
            parts = urlsplit(self.path)
        except ValueError:
            self._error(400, "bad URL")
            return
        path, query = parts.path, parse_qs(parts.query)
        if method == "GET" and path in STATIC:
            if path == "/" and not self._token_ok(query):
                self._send(403, b"<!doctype html><title>mlp playground</title><p>Open the URL that "
                                b"<code>mlp playground</code> printed: it carries the access token.",
                           "text/html; charset=utf-8")
                return
            name, ctype = STATIC[path]
            self._send(200, _static(name), ctype)
            return
        if not path.startswith("/api/"):
            self._error(404, "not found")
            return
        if not self._token_ok(query):
            self._error(403, "missing or wrong token")
            return
        route = ROUTES.get((method, path[5:]))
        if route is None:
            self._error(404, "not found")
            return
        try:
            route(self, query)
        except ConnectionError:             # the page went away mid-answer
            self.close_connection = True
        except ValueError as e:
            self._error(400, str(e))
        except Exception as e:  # noqa: BLE001 - keep serving; report it
            self._error(500, f"{type(e).__name__}: {e}")

    # -- API ------------------------------------------------------------------------------
    def api_state(self, query):
        with self.server.lock:
            state = self.server.session.state()
        self._json(state)

    def _frame_response(self, head, blob):
        data = json.dumps(_json_safe(head), allow_nan=False).encode()
        pad = (-(4 + len(data))) % 4
        body = struct.pack("<I", len(data) + pad) + data + b" " * pad + blob
        self._send(200, body, "application/octet-stream")

    def api_meta(self, query):
        self._json(meta())

    def api_thumbs(self, query):
        self._json(thumbnails())

    def api_frame(self, query):
        play = query.get("play", ["0"])[0] == "1"
        layer = query.get("hs", ["0"])[0]
        layer = int(layer) if layer.isdigit() and len(layer) < 4 else 0
        since = query.get("chart", [""])[0].split(":")
        since = (int(since[0]), int(since[1])) if len(since) == 2 and all(
            x.isdigit() and len(x) < 10 for x in since) else None
        s = self.server.session
        with self.server.lock:
            ran = s.train(budget_s=FRAME_BUDGET_S) if play else 0
            head, blob = s.frame(hidden_layer=layer, chart_since=since)
        head["ran"] = ran
        self._frame_response(head, blob)

    def api_config(self, query):
        body = self._json_body()
        if body is None:
            return
        s = self.server.session
        with self.server.lock:
            config = s.set_config(body)
            out = {"config": config, "data": s.data_points()}
        self._json(out)

    def api_step(self, query):
        body = self._json_body()
        if body is None:
            return
        epochs = body.get("epochs", 1)
        if isinstance(epochs, bool) or not isinstance(epochs, int) or not 1 <= epochs <= 100000:
            raise ValueError("epochs must be a whole number in 1..100000")
        s = self.server.session
        with self.server.lock:
            ran = s.train(epochs=epochs)
            out = {"epoch": s.epoch, "ran": ran, "banner": s.banner}
        self._json(out)

    def api_reset(self, query):
        if self._json_body() is None:
            return
        with self.server.lock:
            self.server.session.reset()
        self._json({"ok": True})

    def api_new_weights(self, query):
        if self._json_body() is None:
            return
        with self.server.lock:
            self.server.session.new_weights()
            out = {"wseed": self.server.session.config["wseed"]}
        self._json(out)

    def api_param(self, query):
        body = self._json_body()
        if body is None:
            return
        with self.server.lock:
            self.server.session.set_param(str(body.get("name")), body.get("value"))
        self._json({"ok": True})

    def api_upload(self, query):
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        body = self._body(problems.MAX_CSV_BYTES)
        if body is None:
            return
        if ctype not in ("text/csv", "text/plain"):
            self._error(415, "send the CSV as a raw text/csv body")
            return
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValueError("the CSV is not UTF-8 text") from None
        parsed = problems.parse_csv(text)
        with self.server.lock:
            self.server.session.csv = parsed
        self._json({"columns": parsed["columns"], "rows": int(parsed["data"].shape[0])})

    def api_lecture(self, query):
        name = query.get("param", ["w1"])[0]
        example = query.get("example", ["0"])[0]
        example = int(example) if example.isdigit() else 0
        with self.server.lock:
            out = self.server.session.lecture(name, example)
        self._json(out)

    def api_model_safetensors(self, query):
        with self.server.lock:
            body = self.server.session.model_file()
        self._send(200, body, "application/octet-stream",
                   {"Content-Disposition": 'attachment; filename="playground.safetensors"'})

    def api_model_py(self, query):
        with self.server.lock:
            body = self.server.session.script().encode()
        self._send(200, body, "text/x-python; charset=utf-8",
                   {"Content-Disposition": 'attachment; filename="playground_model.py"'})


ROUTES = {
    ("GET", "state"): Handler.api_state,
    ("GET", "frame"): Handler.api_frame,
    ("GET", "meta"): Handler.api_meta,
    ("GET", "thumbs"): Handler.api_thumbs,
    ("POST", "config"): Handler.api_config,
    ("POST", "step"): Handler.api_step,
    ("POST", "reset"): Handler.api_reset,
    ("POST", "new-weights"): Handler.api_new_weights,
    ("POST", "param"): Handler.api_param,
    ("POST", "upload"): Handler.api_upload,
    ("GET", "lecture"): Handler.api_lecture,
    ("GET", "model.safetensors"): Handler.api_model_safetensors,
    ("GET", "model.py"): Handler.api_model_py,
}


def make_server(port: int = 0, token: str | None = None) -> PlaygroundServer:
    """A playground server bound to 127.0.0.1:port (0: a free port); call ``serve_forever()``."""
    return PlaygroundServer(port, token)
