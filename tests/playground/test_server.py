"""The playground without a browser: training equals fit, the security rules, the downloads."""

from __future__ import annotations

import http.client
import json
import os
import random
import socket
import tempfile
import time
import warnings

import numpy as np
import pytest

import mlp
from mlp.playground import problems
from mlp.playground.session import Session


def reference(config: dict, epochs: int):
    """The page's network trained by mlp in-process: same data, same layers, one fit call."""
    s = Session(config)          # only for the configuration's defaults; the net is rebuilt below
    c = s.config
    X, y, task = problems.make(c["data"], c["n"], c["noise"], c["dseed"], c["classes"])
    if c["data"] != "xor4":
        k = round(len(X) * c["ratio"] / 100)
        X, y = X[:k], y[:k]
    Xf = problems.features(X, c["f"].split(","))
    hidden = [int(h) for h in c["h"].split(",") if h]
    acts = c["act"].split(",")
    n_out = s.n_out
    out = {"bce": "sigmoid", "cross_entropy": "softmax"}.get(c["loss"], c["out"])
    sizes = [Xf.shape[1], *hidden, n_out]
    rng = mlp.init.rng_from(c["wseed"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = mlp.Network([mlp.Dense(a, b, acts[min(i, len(acts) - 1)] if i < len(hidden) else out,
                                     init=c["init"], seed=rng, dtype=np.float64)
                           for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]))], dtype=np.float64)
    if task == "regression" or (c["loss"] != "cross_entropy" and n_out == 1):
        T = y.reshape(-1, 1).astype(float)
    elif c["loss"] == "cross_entropy":
        T = y
    else:
        T = np.eye(n_out)[y]
    loss = {"half_sum": mlp.MSE("half_sum"), "mse": mlp.MSE("mean")}.get(c["loss"], c["loss"].replace(
        "bce", "binary_cross_entropy"))
    opt = (mlp.optimizers.SGD(lr=c["lr"], momentum=c["mom"]) if c["opt"] == "sgd"
           else mlp.optimizers.Adam(lr=c["lr"], betas=(c["b1"], c["b2"])))
    if epochs:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            net.fit(Xf, T, loss=loss, optimizer=opt, lr=c["lr"], batch_size=c["batch"], epochs=epochs,
                    seed=c["wseed"], weight_decay=c["l2"], l1=c["l1"], relu_care=bool(c["care"]),
                    progress=False)
    return net, Xf, y


CONFIGS = [
    {},                                                                      # TF's default: circle, 4-2 tanh
    {"data": "spirals", "classes": 3, "loss": "cross_entropy", "opt": "adam", "lr": 0.01, "h": "6,5",
     "act": "relu,leaky_relu", "batch": 16, "l2": 0.001},
    {"data": "reg-plane", "h": "3", "act": "softplus", "out": "identity", "opt": "sgd", "mom": 0.5,
     "l1": 0.001, "lr": 0.001, "f": "x1,x2,x1x2,sinx1"},
]


@pytest.mark.parametrize("config", CONFIGS)
def test_steps_and_frames_equal_one_fit(config):
    s = Session(config)
    for _ in range(3):
        assert s.train(epochs=1) == 1
    while s.epoch < 9:                        # Play: as many epochs as fit a frame budget
        s.train(epochs=9 - s.epoch, budget_s=0.001)
    net, _, _ = reference(config, 9)
    assert s.epoch == 9
    np.testing.assert_allclose(s.net.params, net.params, rtol=0, atol=1e-6)


def test_reset_restores_the_same_initial_weights_and_new_weights_differ():
    s = Session()
    start = s.net.params.copy()
    s.train(epochs=5)
    assert not np.allclose(s.net.params, start)
    s.reset()
    assert s.epoch == 0 and np.array_equal(s.net.params, start)
    s.train(epochs=5)
    after5 = s.net.params.copy()
    s.reset()
    s.train(epochs=5)
    assert np.array_equal(s.net.params, after5)            # the same run again
    s.new_weights()
    assert not np.allclose(s.net.params, start)


def test_xor_by_hand_preset_is_the_lecture():
    s = Session({"preset": "xor-hand"})
    assert s.net(s.Xf_train)[:, 0].tolist() == [0, 1, 1, 0]
    m = s.metrics()
    assert m["train_loss"] == 0 and m["train_acc"] == 1
    hs = s.hidden_space(1)
    assert hs["train"][1] == hs["train"][2] == [0.0, 1.0]     # (0,1) and (1,0) land on one point


def test_divergence_pauses_with_the_remedy():
    s = Session({"lr": 10, "loss": "half_sum", "out": "identity", "act": "relu", "care": 0, "batch": 250})
    s.train(epochs=50)
    assert s.banner["kind"] == "diverged" and "lower the learning rate" in s.banner["hint"]
    assert np.isfinite(s.net.params).all() and s.at_stop()
    assert s.train(epochs=1) == 0


def test_bad_settings_change_nothing():
    s = Session()
    before = s.net.params.copy()
    for bad in ({"h": "4,x"}, {"act": "nope"}, {"data": "../../etc"}, {"lr": "nan"}, {"n": 10**9},
                {"data": "reg-plane", "loss": "bce"}, {"data": "csv"}, {"zzz": 1}, {"add": "1:2"}):
        with pytest.raises(ValueError):
            s.set_config(bad)
        assert s.config["data"] == "circle" and np.array_equal(s.net.params, before)


# -- the HTTP server ---------------------------------------------------------------------------

def request(server, method, path, body=None, headers=None, token=True):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    h = {"Host": f"127.0.0.1:{server.port}"}
    if token:
        h["X-MLP-Token"] = server.token
    h.update(headers or {})
    conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, data


def test_wrong_host_is_refused(server):
    for host in ("evil.example", f"evil.example:{server.port}", "127.0.0.1.nip.io", "localhost:1"):
        assert request(server, "GET", "/api/state", headers={"Host": host})[0] == 400
    assert request(server, "GET", "/api/state", headers={"Host": f"localhost:{server.port}"})[0] == 200


def test_token_is_needed(server):
    assert request(server, "GET", "/api/state", token=False)[0] == 403
    assert request(server, "GET", "/", token=False)[0] == 403
    assert request(server, "GET", f"/?token={server.token}", token=False)[0] == 200
    assert request(server, "GET", "/api/state", headers={"X-MLP-Token": "x" + server.token})[0] == 403


def raw(server, data: bytes, timeout=5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        sock.sendall(data)
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        out = b""
        try:
            while chunk := sock.recv(65536):
                out += chunk
        except (TimeoutError, ConnectionResetError):
            pass
        return out


def test_path_traversal_is_404(server):
    for path in ("/static/../server.py", "/static/%2e%2e/server.py", "/../../../../etc/passwd",
                 "/static/app.js/../../session.py", "/static//etc/passwd", "/static/index.html",
                 "/server.py", "/static/", "/api/../static/app.js"):
        head = f"GET {path}?token={server.token} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n"
        reply = raw(server, head.encode())
        assert reply.startswith(b"HTTP/1.1 404") or reply.startswith(b"HTTP/1.1 403"), (path, reply[:60])
        assert b"def " not in reply and b"root:" not in reply


def test_oversized_upload_is_413_and_bad_csv_is_one_message(server):
    big = problems.MAX_CSV_BYTES + 1
    head = (f"POST /api/upload HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nX-MLP-Token: {server.token}\r\n"
            f"Content-Type: text/csv\r\nContent-Length: {big}\r\n\r\n")
    assert raw(server, head.encode()).startswith(b"HTTP/1.1 413")
    for bad, words in ((b"a,b,c\n1,2,3\n4,5\n", "row 3"), (b"a,b,c\n1,nan,0\n", "not a finite number"),
                       (b"\xff\xfe\x00garbage", "not UTF-8"), (b"a,b\n1,2\n", "at least 3 columns"),
                       (b"x,y,t\n" + b"1,2,0\n" * (problems.MAX_CSV_ROWS + 1), "rows"),
                       (b"=cmd|' /C calc'!A0,2,3\n1,2,3\n", None)):
        status, body = request(server, "POST", "/api/upload", body=bad, headers={"Content-Type": "text/csv"})
        if words is None:                       # a formula in a header cell is just a column name
            assert status == 200
            continue
        assert status == 400, bad[:30]
        assert words in json.loads(body)["error"]
    status, _ = request(server, "POST", "/api/upload", body=b"a,b,c\n1,2,0\n",
                        headers={"Content-Type": "multipart/form-data"})
    assert status == 415


def test_a_thousand_malformed_requests_leave_the_server_answering(server):
    rnd = random.Random(0)
    tok, host = server.token, f"127.0.0.1:{server.port}"
    def api(head: str, body: str = "") -> bytes:
        return f"{head} HTTP/1.1\r\nHost: {host}\r\nX-MLP-Token: {tok}\r\n{body}".encode()

    shapes = [
        lambda: bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 200))),
        lambda: b"GET\r\n\r\n",
        lambda: b"GET / HTTP/9.9\r\n\r\n",
        lambda: f"GET /{'a' * 70000} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode(),
        lambda: api("POST /api/config", "Content-Length: 5\r\n\r\n{bad"),
        lambda: api("POST /api/config", "Content-Length: -3\r\n\r\n"),
        lambda: api("POST /api/config", "Content-Length: x\r\n\r\n"),
        lambda: api("POST /api/step", 'Content-Length: 14\r\n\r\n{"epochs": -1}'),
        lambda: api("POST /api/param", "Content-Length: 2\r\n\r\n[]"),
        lambda: api("GET /api/lecture?param=zz&example=-1", "\r\n"),
        lambda: api("GET /api/frame/../../x", "\r\n"),
        lambda: b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 200 + b"\r\n",
        lambda: f"BREW /api/state HTTP/1.1\r\nHost: {host}\r\n\r\n".encode(),
        lambda: api("POST /api/config", 'Content-Length: 30\r\n\r\n{"h": "1,2,3,4,5,6,7,8,9"}   '),
    ]
    t0 = time.perf_counter()
    statuses = set()
    for i in range(1000):
        reply = raw(server, shapes[i % len(shapes)](), timeout=2.0)
        if reply[:9] in (b"HTTP/1.1 ", b"HTTP/1.0 "):
            statuses.add(int(reply[9:12]))
        assert time.perf_counter() - t0 < 300, "the server stopped answering in time"
    # 4xx, or 501 from http.server for a method it does not know; never a 5xx of ours
    assert statuses and all(400 <= s < 500 or s == 501 for s in statuses), statuses
    assert request(server, "GET", "/api/state")[0] == 200


def test_model_file_loads_and_predicts_as_the_session():
    s = Session({"data": "spirals", "classes": 3, "loss": "cross_entropy", "h": "5"})
    s.train(epochs=3)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "m.safetensors")
        with open(path, "wb") as f:
            f.write(s.model_file())
        net = mlp.load(path)
    np.testing.assert_allclose(net(s.Xf_test), s.net(s.Xf_test), rtol=0, atol=1e-12)


def test_cli_command_serves_and_prints_its_url():
    import subprocess
    import sys
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    for argv in (["-m", "mlp", "playground", "--port", "0", "--no-open"],
                 ["-m", "mlp.playground", "--port", "0", "--no-open"]):
        proc = subprocess.Popen([sys.executable, *argv], stdout=subprocess.PIPE, text=True, env=env)
        try:
            line = proc.stdout.readline()
            assert line.startswith("mlp playground: http://127.0.0.1:") and "?token=" in line
            url = line.split(": ", 1)[1].strip()
            port = int(url.split(":")[2].split("/")[0])
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", url.split(str(port), 1)[1])
            assert conn.getresponse().status == 200
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    bad = subprocess.run([sys.executable, "-m", "mlp", "playground", "--port", "70000", "--no-open"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode != 0 and bad.stderr.count("\n") == 1 and "--port" in bad.stderr


def test_a_lower_learning_rate_after_divergence_trains_on():
    config = {"lr": 10, "loss": "half_sum", "out": "identity", "act": "relu", "care": 0, "batch": 250}
    s = Session(config)
    s.train(epochs=50)
    assert s.banner["kind"] == "diverged"
    s.set_config({**config, "lr": 0.001})
    assert s.banner is None               # no longer blocked: Step/Play try again
    s.reset()
    assert s.train(epochs=2) == 2 and s.banner is None
