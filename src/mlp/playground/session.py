"""One playground session: the configuration (the page's URL state), the data, the network, training.

Every number the page shows is computed here, by mlp's public API: the network is
an ``mlp.Network`` of ``mlp.Dense`` layers, a Step is ``net.fit(..., epochs=1)``
and Play runs ``net.fit(..., epochs=k)`` for as many epochs as fit a frame's time
budget (10 ms). ``fit`` called again continues the same optimiser state and random
generator, so N Steps give the parameters of one ``fit(epochs=N)`` with the same
options (tests/test_playground_browser.py checks it through the page). Reset puts
back the initial parameters and drops ``net.train_state`` (the next ``fit`` starts
afresh, seeded with the weight seed); "New weights" draws new ones.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
import warnings

import numpy as np

import mlp
from mlp import callbacks, collapse, optimizers, symbolic
from mlp.playground import problems

#: activations a hidden layer may have (the element-wise ones of mlp's registry)
HIDDEN_ACTIVATIONS = [n for n in mlp.activations.names() if n != "softmax"]
LOSSES = {
    "half_sum": "½ Σ (ŷ − y)²  (the lecture's)",
    "mse": "mean squared error",
    "bce": "binary cross-entropy (sigmoid output)",
    "cross_entropy": "cross-entropy (softmax output)",
}
OPTIMIZERS = optimizers.names()
INITS = ["glorot", "he", "lecun"]

#: the page's state: key -> default (the URL fragment holds the keys that differ)
DEFAULTS = {
    "data": "circle", "n": 500, "noise": 0, "ratio": 50, "dseed": 1, "classes": 2, "add": "",
    "cx1": 0, "cx2": 1, "ct": 2,
    "f": "x1,x2", "h": "4,2", "act": "tanh", "out": "tanh", "loss": "mse", "init": "glorot",
    "wseed": 1, "preset": "",
    "opt": "sgd", "lr": 0.03, "mom": 0.0, "b1": 0.9, "b2": 0.999, "batch": 10, "l1": 0.0, "l2": 0.0,
    "care": 1, "stop": 0, "target": 0.0,
    "test": 0, "disc": 0, "hide": "",
}
DATA_KEYS = ("data", "n", "noise", "ratio", "dseed", "classes", "add", "cx1", "cx2", "ct")
NET_KEYS = ("f", "h", "act", "out", "loss", "init", "wseed", "preset")
MAX_UNITS = 64          # per hidden layer
MAX_LAYERS = 8
G = 64                  # heatmap resolution
g = 20                  # neuron thumbnails
#: the lecture's hand-made XOR solution (demo.xor_by_hand): W(1), b(1), W(2), b(2)
XOR_BY_HAND = ([[1, 1], [2, 2]], [-1, -1], [[-3, 1]], [0])
PRESETS = {
    "xor-hand": {"data": "xor4", "f": "x1,x2", "h": "2", "act": "relu", "out": "identity",
                 "loss": "half_sum", "opt": "sgd", "lr": 0.01, "batch": 4, "care": 0},
    "spiral": {"data": "spiral", "noise": 0, "f": "x1,x2", "h": "8,8,8", "act": "tanh", "out": "tanh",
               "loss": "mse", "opt": "adam", "lr": 0.01, "batch": 10},
    "collapse": {"data": "xor4", "f": "x1,x2", "h": "2", "act": "identity", "out": "identity",
                 "loss": "half_sum", "opt": "sgd", "lr": 0.05, "batch": 4, "care": 0},
}


def _int(v, key, lo, hi):
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"{key} must be a whole number, got {v!r}") from None
    if not math.isfinite(f) or f != int(f) or not lo <= f <= hi:
        raise ValueError(f"{key} must be a whole number in {lo}..{hi}, got {v!r}")
    return int(f)


def _float(v, key, lo, hi):
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"{key} must be a number, got {v!r}") from None
    if not (math.isfinite(f) and lo <= f <= hi):
        raise ValueError(f"{key} must be a number in [{lo:g}, {hi:g}], got {v!r}")
    return f


def check_config(raw: dict) -> dict:
    """The configuration with defaults filled in; one ValueError naming a bad key or value."""
    if not isinstance(raw, dict):
        raise ValueError("the configuration must be a JSON object")
    unknown = [k for k in raw if k not in DEFAULTS]
    if unknown:
        raise ValueError(f"unknown setting {unknown[0]!r}")
    c = dict(DEFAULTS)
    c.update(raw)
    if c["data"] not in problems.PROBLEMS and c["data"] != "csv":
        raise ValueError(f"unknown data set {c['data']!r}")
    c["n"] = _int(c["n"], "n", 4, 5000)
    c["noise"] = _float(c["noise"], "noise", 0, 50)
    c["ratio"] = _int(c["ratio"], "ratio", 10, 90)
    c["dseed"] = _int(c["dseed"], "dseed", 0, 2**31)
    c["classes"] = _int(c["classes"], "classes", 2, 8)
    for k in ("cx1", "cx2", "ct"):
        c[k] = _int(c[k], k, 0, problems.MAX_CSV_COLUMNS - 1)
    c["add"] = str(c["add"])
    parse_added(c["add"])
    feats = [f for f in str(c["f"]).split(",") if f]
    problems.features(np.zeros((1, 2)), feats)            # raises on unknown ones
    c["f"] = ",".join(feats)
    hidden = [x for x in str(c["h"]).split(",") if x.strip()]
    if len(hidden) > MAX_LAYERS:
        raise ValueError(f"at most {MAX_LAYERS} hidden layers")
    c["h"] = ",".join(str(_int(x, "neurons per layer", 1, MAX_UNITS)) for x in hidden)
    acts = [a for a in str(c["act"]).split(",") if a] or ["tanh"]
    for a in acts + [c["out"]]:
        if a not in HIDDEN_ACTIVATIONS:
            raise ValueError(f"unknown activation {a!r}; known: {', '.join(HIDDEN_ACTIVATIONS)}")
    c["act"] = ",".join(acts)
    if c["loss"] not in LOSSES:
        raise ValueError(f"unknown loss {c['loss']!r}; known: {', '.join(LOSSES)}")
    if c["init"] not in INITS:
        raise ValueError(f"unknown initialisation {c['init']!r}")
    c["wseed"] = _int(c["wseed"], "wseed", 0, 2**31)
    if c["preset"] not in ("", *PRESETS):
        raise ValueError(f"unknown preset {c['preset']!r}")
    if c["opt"] not in OPTIMIZERS:
        raise ValueError(f"unknown optimiser {c['opt']!r}; known: {', '.join(OPTIMIZERS)}")
    c["lr"] = _float(c["lr"], "learning rate", 0, 10)
    c["mom"] = _float(c["mom"], "momentum", 0, 0.999)
    c["b1"] = _float(c["b1"], "beta1", 0, 0.9999)
    c["b2"] = _float(c["b2"], "beta2", 0, 0.99999)
    c["batch"] = _int(c["batch"], "batch size", 1, 5000)
    c["l1"] = _float(c["l1"], "L1", 0, 10)
    c["l2"] = _float(c["l2"], "L2", 0, 10)
    c["stop"] = _int(c["stop"], "stop at epoch", 0, 10**7)
    c["target"] = _float(c["target"], "target loss", 0, 1e6)
    for k in ("care", "test", "disc"):
        c[k] = _int(c[k], k, 0, 1)
    c["hide"] = ",".join(h for h in str(c["hide"]).split(",") if h.isidentifier())
    return c


def parse_added(text: str) -> list[tuple[float, float, float]]:
    """Points added by clicking: ``"x:y:label;…"`` (at most 500)."""
    pts = []
    for part in filter(None, str(text).split(";")):
        bits = part.split(":")
        if len(bits) != 3:
            raise ValueError(f"an added point must be x:y:label, got {part[:30]!r}")
        x, y, t = (_float(b, "added point", -1e4, 1e4) for b in bits)
        pts.append((x, y, t))
    if len(pts) > 500:
        raise ValueError("at most 500 added points")
    return pts


def optimizer_for(c: dict):
    """The optimiser instance for a configuration (its hyper-parameters from the page)."""
    name, lr = c["opt"], c["lr"]
    if name == "sgd":
        return optimizers.SGD(lr=lr, momentum=c["mom"])
    if name in ("adam", "adamw"):
        return optimizers.get(name).__class__(lr=lr, betas=(c["b1"], c["b2"]))
    opt = optimizers.get(name)
    opt.lr = lr
    if name in ("momentum", "nesterov") and c["mom"] > 0:
        opt.momentum = c["mom"]
    return opt


def loss_for(c: dict):
    return {"half_sum": mlp.MSE("half_sum"), "mse": mlp.MSE("mean"), "bce": "binary_cross_entropy",
            "cross_entropy": "cross_entropy"}[c["loss"]]


def build_network(c: dict, n_in: int, n_out: int) -> mlp.Network:
    """The network of a configuration: Dense layers drawn in order from one generator seeded by wseed
    (as ``Network.from_sizes``), float64."""
    hidden = [int(x) for x in c["h"].split(",") if x]
    acts = c["act"].split(",")
    out = {"bce": "sigmoid", "cross_entropy": "softmax"}.get(c["loss"], c["out"])
    sizes = [n_in, *hidden, n_out]
    rng = mlp.init.rng_from(c["wseed"])
    layers = [mlp.Dense(a, b, acts[min(i, len(acts) - 1)] if i < len(hidden) else out, init=c["init"],
                        seed=rng, dtype=np.float64) for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)      # all-identity: the collapse view says it
        net = mlp.Network(layers, dtype=np.float64)
    if c["preset"] == "xor-hand" and sizes == [2, 2, 1]:
        net.layers[0].W, net.layers[0].b, net.layers[1].W, net.layers[1].b = XOR_BY_HAND
    return net


class _StopAt(callbacks.Callback):
    """Stops fit when a frame's time budget is spent or the target loss is reached."""

    def __init__(self, deadline: float, target: float, measure):
        self.deadline, self.target, self.measure = deadline, target, measure
        self.reached = False

    def on_epoch_end(self, epoch, history):
        if self.target > 0 and self.measure() <= self.target:
            self.reached = True
            return True
        return time.perf_counter() >= self.deadline


class Session:
    """The state behind one page: configuration, data, network, metrics, history."""

    def __init__(self, config: dict | None = None):
        self.csv = None                  # {"columns", "data"} of the last upload
        self.config = None
        self.banner = None
        self.set_config(config or {})

    # -- configuration --------------------------------------------------------------------
    def set_config(self, raw: dict) -> dict:
        """Apply the page's settings; on a bad one nothing changes (one ValueError names it)."""
        snapshot = dict(self.__dict__)
        try:
            return self._set_config(raw)
        except Exception:
            self.__dict__.clear()
            self.__dict__.update(snapshot)
            raise

    def _set_config(self, raw: dict) -> dict:
        c = check_config(raw)
        if c["preset"]:
            for k, v in PRESETS[c["preset"]].items():
                if k not in raw:
                    c[k] = v
        old = self.config
        self.config = c
        if old is not None and self.banner and any(
                old[k] != c[k] for k in c if k not in ("test", "disc", "hide")):
            self.banner = None             # e.g. a lower learning rate after a divergence: go on
        if old is None or any(old[k] != c[k] for k in DATA_KEYS):
            self._make_data()
            self._make_network()
        elif any(old[k] != c[k] for k in NET_KEYS):
            self._make_network()
        elif self.opt_key() != self._opt_key:
            self.opt, self._opt_key = optimizer_for(c), self.opt_key()
        return c

    def opt_key(self):
        c = self.config
        return (c["opt"], c["mom"], c["b1"], c["b2"])

    def _make_data(self):
        c = self.config
        name = c["data"]
        self.classes = None
        if name == "csv":
            if self.csv is None:
                raise ValueError("upload a CSV first")
            X, y, task, self.classes = problems.from_columns(self.csv["data"], c["cx1"], c["cx2"], c["ct"])
        else:
            X, y, task = problems.make(name, c["n"], c["noise"], c["dseed"], c["classes"])
        self.task = task
        added = parse_added(c["add"])
        if name == "xor4":
            Xtr, ytr, Xte, yte = X, y, X, y
        else:
            k = max(1, min(len(X) - 1, round(len(X) * c["ratio"] / 100)))
            Xtr, ytr, Xte, yte = X[:k], y[:k], X[k:], y[k:]
        if added:
            A = np.array(added)
            lab = A[:, 2].astype(np.int64) if task == "classification" else A[:, 2]
            if task == "classification":
                lab = np.clip(lab, 0, max(int(y.max()), 1))
            Xtr, ytr = np.vstack([Xtr, A[:, :2]]), np.concatenate([ytr, lab])
        self.X_train, self.y_train, self.X_test, self.y_test = Xtr, ytr, Xte, yte
        self.n_classes = int(max(ytr.max(), yte.max())) + 1 if task == "classification" else 0
        if task == "classification":
            self.n_classes = max(self.n_classes, 2)
        self.domain = problems.domain(name, np.vstack([Xtr, Xte]))
        x0, x1, y0, y1 = self.domain
        xs = x0 + (np.arange(G) + 0.5) * (x1 - x0) / G
        ys = y1 - (np.arange(G) + 0.5) * (y1 - y0) / G       # row 0 at the top
        self.grid = np.column_stack([np.tile(xs, G), np.repeat(ys, G)])
        xs, ys = x0 + (np.arange(g) + 0.5) * (x1 - x0) / g, y1 - (np.arange(g) + 0.5) * (y1 - y0) / g
        self.small_grid = np.column_stack([np.tile(xs, g), np.repeat(ys, g)])

    def targets(self, y):
        """y as fit takes it for the configured loss."""
        loss = self.config["loss"]
        if self.task == "regression":
            return y.reshape(-1, 1).astype(np.float64)
        if loss == "cross_entropy":
            return y
        if self.n_out == 1:
            return y.reshape(-1, 1).astype(np.float64)
        return np.eye(self.n_out)[y]

    def _make_network(self):
        c = self.config
        if self.task == "regression" and c["loss"] in ("bce", "cross_entropy"):
            raise ValueError("a regression problem needs a squared-error loss "
                             "(½ Σ (ŷ − y)² or mean squared error)")
        if c["loss"] == "bce" and self.n_classes > 2:
            raise ValueError(f"binary cross-entropy needs 2 classes, this data set has {self.n_classes}: "
                             "use cross-entropy")
        feats = c["f"].split(",")
        self.Xf_train = problems.features(self.X_train, feats)
        self.Xf_test = problems.features(self.X_test, feats)
        self.Xf_grid = problems.features(self.grid, feats)
        self.Xf_small = problems.features(self.small_grid, feats)
        if self.task == "regression":
            self.n_out = 1
        elif c["loss"] == "cross_entropy" or self.n_classes > 2:
            self.n_out = self.n_classes
        else:
            self.n_out = 1
        self.net = build_network(c, len(feats), self.n_out)
        self.initial = self.net.params.copy()
        self.loss = mlp.losses.get(loss_for(c))
        self.T_train, self.T_test = self.targets(self.y_train), self.targets(self.y_test)
        self.reset()

    def reset(self):
        """Back to the initial parameters (the same ones), a fresh optimiser, no history."""
        self.net.params = self.initial
        self.net.train_state = None
        self.opt, self._opt_key = optimizer_for(self.config), self.opt_key()
        self.chart = []                  # (epoch, train loss, test loss)
        self.chart_id = getattr(self, "chart_id", 0) + 1     # changes whenever points are dropped
        self.banner = None
        self.ms_per_epoch = None
        self._record()

    def new_weights(self):
        self.config["wseed"] += 1
        self.config["preset"] = ""
        self._make_network()

    @property
    def epoch(self) -> int:
        st = self.net.train_state
        return 0 if st is None else st.epoch

    # -- training -------------------------------------------------------------------------
    def fit_options(self) -> dict:
        """The options of ``net.fit`` for this configuration (the same for every Step)."""
        c = self.config
        return dict(loss=self.loss, optimizer=self.opt, lr=c["lr"], batch_size=c["batch"],
                    weight_decay=c["l2"], l1=c["l1"], relu_care=bool(c["care"]), progress=False)

    def train(self, epochs: int | None = None, budget_s: float | None = None) -> int:
        """Train for ``epochs`` epochs, or as many as fit in ``budget_s`` seconds; returns how many ran.

        Stops at the configured epoch and target loss, and on divergence (the banner says
        what to change)."""
        c = self.config
        if self.banner and self.banner.get("kind") == "diverged":
            return 0
        left = c["stop"] - self.epoch if c["stop"] else None
        if left is not None and left <= 0:
            return 0
        if epochs is None:
            epochs = 10**9
        if left is not None:
            epochs = min(epochs, left)
        deadline = time.perf_counter() + (budget_s if budget_s is not None else 1e9)
        stop = _StopAt(deadline, c["target"], lambda: self.net.history.loss[-1])
        before = self.epoch
        options = self.fit_options()
        if self.net.train_state is None:
            options["seed"] = c["wseed"]
        t0 = time.perf_counter()
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                self.net.fit(self.Xf_train, self.T_train, epochs=epochs, callbacks=[stop], **options)
        except mlp.TrainingDiverged as e:
            self.banner = {"kind": "diverged", "message": str(e), "hint": e.hint}
        except ValueError as e:
            self.banner = {"kind": "error", "message": str(e)}
        else:
            for w in caught:
                text = str(w.message)
                if "still falling" not in text:
                    self.banner = {"kind": "warning", "message": text}
        ran = self.epoch - before
        if ran:
            per = (time.perf_counter() - t0) / ran
            self.ms_per_epoch = per * 1e3
        if stop.reached:
            self.banner = {"kind": "info", "message": f"target loss {c['target']:g} reached at epoch "
                                                       f"{self.epoch}"}
        self._record()
        return ran

    def at_stop(self) -> bool:
        c = self.config
        return bool((c["stop"] and self.epoch >= c["stop"])
                    or (c["target"] > 0 and getattr(self.net, "history", None)
                        and self.net.history.loss and self.net.history.loss[-1] <= c["target"])
                    or (self.banner and self.banner["kind"] == "diverged"))

    def _record(self):
        m = self.metrics()
        self.last_metrics = m
        if self.chart and self.chart[-1][0] == self.epoch:
            self.chart[-1] = (self.epoch, m["train_loss"], m["test_loss"])
        else:
            self.chart.append((self.epoch, m["train_loss"], m["test_loss"]))
        if len(self.chart) > 600:                        # keep the chart light: every other point
            self.chart = self.chart[:1] + self.chart[1:-1:2] + self.chart[-1:]
            self.chart_id += 1

    # -- what the page shows -------------------------------------------------------------
    def predict(self, Xf):
        with np.errstate(all="ignore"):
            return self.net(Xf)

    def _loss_value(self, Xf, T):
        if len(Xf) == 0:
            return float("nan")
        with np.errstate(all="ignore"):
            return float(self.loss.value(self.predict(Xf), T))

    def classes_of(self, out):
        return out.argmax(axis=1) if out.shape[1] > 1 else (out[:, 0] > 0.5).astype(np.int64)

    def metrics(self) -> dict:
        m = {"epoch": self.epoch, "train_loss": self._loss_value(self.Xf_train, self.T_train),
             "test_loss": self._loss_value(self.Xf_test, self.T_test)}
        if self.task == "classification":
            k = self.n_classes
            for part, Xf, y in (("train", self.Xf_train, self.y_train), ("test", self.Xf_test, self.y_test)):
                pred = self.classes_of(self.predict(Xf))
                m[f"{part}_acc"] = float(np.mean(pred == y)) if len(y) else float("nan")
                conf = np.zeros((k, k), dtype=int)
                np.add.at(conf, (y, np.clip(pred, 0, k - 1)), 1)
                m[f"{part}_confusion"] = conf.tolist()
        else:
            for part, Xf, y in (("train", self.Xf_train, self.y_train), ("test", self.Xf_test, self.y_test)):
                yh = self.predict(Xf)[:, 0]
                ss = float(((y - y.mean()) ** 2).sum())
                m[f"{part}_rmse"] = float(np.sqrt(np.mean((yh - y) ** 2)))
                m[f"{part}_r2"] = 1 - float(((yh - y) ** 2).sum()) / ss if ss > 0 else float("nan")
        return m

    def neuron_values(self, Xf):
        """Every unit's output on Xf: a list per layer of arrays (n, units), inputs first."""
        out = [Xf]
        h = Xf
        with np.errstate(all="ignore"):
            for layer in self.net.layers:
                h = layer.activation(h @ layer.W.T + layer.b)
                out.append(h)
        return out

    def hidden_space(self, layer: int = 1) -> dict | None:
        """The input grid's lines and the points, mapped into hidden layer ``layer``'s (h1, h2)."""
        hidden = len(self.net.layers) - 1
        if hidden < 1:
            return None
        layer = min(max(1, layer), hidden)
        x0, x1, y0, y1 = self.domain
        t = np.linspace(0, 1, 21)
        lines = []
        for s in np.linspace(0, 1, 11):
            lines.append(np.column_stack([x0 + s * (x1 - x0) + 0 * t, y0 + t * (y1 - y0)]))
            lines.append(np.column_stack([x0 + t * (x1 - x0), y0 + s * (y1 - y0) + 0 * t]))
        feats = self.config["f"].split(",")
        units = self.net.layers[layer - 1].n_out
        pick = [0, 1] if units >= 2 else [0, 0]

        def to_h(X):
            return self.neuron_values(problems.features(X, feats))[layer][:, pick]
        return {"layer": layer, "units": units,
                "lines": [np.round(to_h(L), 4).tolist() for L in lines],
                "train": np.round(to_h(self.X_train), 5).tolist(), "train_y": self.y_train.tolist()}

    def collapse_view(self) -> dict | None:
        """All hidden activations identity: the single affine map W_eff x + b_eff and what it can do."""
        if len(self.net.layers) < 2 or any(layer.activation.name != "identity"
                                           for layer in self.net.layers[:-1]):
            return None
        one = collapse(self.net)
        with np.errstate(all="ignore"):
            out = one.activation(self.Xf_train @ one.W.T + one.b)
        view = {"W": np.round(one.W, 6).tolist(), "b": np.round(one.b, 6).tolist(),
                "max_diff": float(np.abs(out - self.predict(self.Xf_train)).max())}
        if self.task == "classification":
            view["accuracy"] = float(np.mean(self.classes_of(out) == self.y_train))
            base = mlp.linear_baseline(self.Xf_train, self.T_train)
            view["best_line_accuracy"] = float(np.mean(
                self.classes_of(self.Xf_train @ base.W.T + base.b) == self.y_train))
        return view

    def frame(self, *, hidden_layer: int | None = None, chart_since: tuple[int, int] | None = None
              ) -> tuple[dict, bytes]:
        """The JSON part and the float32 heatmaps of one frame.

        ``chart_since=(chart_id, n)``: the page holds the first n chart points of chart chart_id;
        only the points from n − 1 on are sent (the last one may have changed)."""
        with np.errstate(over="ignore", invalid="ignore"):      # a diverged net: inf is drawn as inf
            main = self.predict(self.Xf_grid).astype(np.float32)
            small = [v.astype(np.float32) for v in self.neuron_values(self.Xf_small)[:-1]]
        blobs = [main.T.ravel()] + [v.T.ravel() for v in small]   # per output / unit: a row-major image
        layers = [{"W": layer.W.tolist(), "b": layer.b.tolist(), "act": layer.activation.name}
                  for layer in self.net.layers]
        m = self.last_metrics
        start = 0
        if chart_since and chart_since[0] == self.chart_id:
            start = max(0, min(chart_since[1] - 1, len(self.chart)))
        head = {
            "epoch": self.epoch, "metrics": m, "chart": self.chart[start:], "chart_id": self.chart_id,
            "chart_start": start, "layers": layers,
            "names": self.net.param_names(), "n_out": self.n_out, "task": self.task,
            "n_classes": self.n_classes, "G": G, "g": g, "domain": self.domain,
            "units": [v.shape[1] for v in small], "dead": self.net.dead_units(self.Xf_train),
            "banner": self.banner, "collapse": self.collapse_view(), "at_stop": self.at_stop(),
            "ms_per_epoch": self.ms_per_epoch,
        }
        if hidden_layer:
            head["hidden_space"] = self.hidden_space(hidden_layer)
        return head, np.concatenate(blobs).astype("<f4").tobytes()

    def data_points(self) -> dict:
        return {"train": np.round(self.X_train, 6).tolist(), "train_y": self.y_train.tolist(),
                "test": np.round(self.X_test, 6).tolist(), "test_y": self.y_test.tolist(),
                "features": self.config["f"].split(","), "task": self.task, "n_classes": self.n_classes,
                "domain": self.domain, "classes": self.classes}

    def state(self) -> dict:
        """Everything, as JSON: what tests compare with mlp called in-process."""
        head, _ = self.frame(hidden_layer=1)
        return {"config": self.config, "params": self.net.params.tolist(), "data": self.data_points(),
                "frame": head, "fit_options": {k: v for k, v in self.fit_options().items()
                                               if k not in ("loss", "optimizer")}}

    # -- edits, lecture, files ------------------------------------------------------------
    def set_param(self, name: str, value: float):
        names = self.net.param_names()
        if name not in names:
            raise ValueError(f"unknown parameter {name!r}")
        value = _float(value, name, -1e6, 1e6)
        self.net.params[self.net.param_index(name)] = value
        self._record()

    def lecture(self, name: str = "w1", example: int = 0) -> dict:
        """∂ŷ/∂name by SymPy (MathML) with its value on one training example, beside backprop's."""
        names = self.net.param_names()
        if name not in names:
            raise ValueError(f"unknown parameter {name!r}")
        if self.net.n_params > symbolic.MAX_PARAMS:
            return {"name": name, "error": f"the symbolic view is for networks of at most "
                                           f"{symbolic.MAX_PARAMS} parameters; this one has "
                                           f"{self.net.n_params}"}
        example = min(max(0, int(example)), len(self.Xf_train) - 1)
        try:
            from sympy.printing.mathml import mathml
        except ImportError:
            return {"name": name, "error": "the symbolic view needs SymPy: pip install 'mlp[symbolic]'"}
        expr = symbolic.derivative(self.net, name, output=0 if self.n_out > 1 else None)
        x = self.Xf_train[example]
        value = float(symbolic.evaluate(expr, self.net, x))
        copy = self.net.copy()
        copy.forward(x[None, :])
        copy.backward(np.eye(self.n_out)[:1])
        backprop = float(copy.grads[copy.param_index(name)])
        return {"name": name, "example": example, "x": x.tolist(), "text": str(expr),
                "mathml": '<math display="block">' + mathml(expr, printer="presentation") + "</math>",
                "symbolic": value, "backprop": backprop, "names": names}

    def model_file(self) -> bytes:
        """The network as mlp's safetensors file (``mlp.load`` reads it)."""
        meta = {"playground": {k: v for k, v in self.config.items() if k not in ("hide",)},
                "features": self.config["f"]}
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "model.safetensors")
            mlp.save(self.net, path, metadata=meta)
            with open(path, "rb") as f:
                return f.read()

    def script(self) -> str:
        """A short Python script that rebuilds the data and the network and retrains it with mlp."""
        c = self.config
        feats = c["f"].split(",")
        hidden = [int(x) for x in c["h"].split(",") if x]
        acts = c["act"].split(",")
        out = {"bce": "sigmoid", "cross_entropy": "softmax"}.get(c["loss"], c["out"])
        sizes = [len(feats), *hidden, self.n_out]
        layer_acts = [acts[min(i, len(acts) - 1)] for i in range(len(hidden))] + [out]
        opt = {"sgd": f"mlp.optimizers.SGD(lr={c['lr']!r}, momentum={c['mom']!r})",
               "adam": f"mlp.optimizers.Adam(lr={c['lr']!r}, betas=({c['b1']!r}, {c['b2']!r}))"}.get(
            c["opt"], repr(c["opt"]))
        loss = {"half_sum": 'mlp.MSE("half_sum")', "mse": 'mlp.MSE("mean")',
                "bce": '"binary_cross_entropy"', "cross_entropy": '"cross_entropy"'}[c["loss"]]
        if c["data"] in ("csv",) or c["add"]:
            data = (f"X = np.array({np.round(self.X_train, 8).tolist()!r})\n"
                    f"labels = np.array({self.y_train.tolist()!r})\n")
        else:
            ratio = "" if c["data"] == "xor4" else \
                (f"k = max(1, min(len(X) - 1, round(len(X) * {c['ratio']} / 100)))\n"
                 "X, labels = X[:k], labels[:k]\n")
            data = (f"X, labels, task = make({c['data']!r}, n={c['n']}, noise={c['noise']!r}, "
                    f"seed={c['dseed']}, n_classes={c['classes']})\n{ratio}")
        if self.task == "regression" or (c["loss"] != "cross_entropy" and self.n_out == 1):
            target = "y = labels.reshape(-1, 1).astype(float)\n"
        elif c["loss"] == "cross_entropy":
            target = "y = labels\n"
        else:
            target = f"y = np.eye({self.n_out})[labels]\n"
        hand = ""
        if c["preset"] == "xor-hand" and sizes == [2, 2, 1]:
            hand = ("net.layers[0].W, net.layers[0].b = [[1, 1], [2, 2]], [-1, -1]   # the lecture's XOR\n"
                    "net.layers[1].W, net.layers[1].b = [[-3, 1]], [0]\n")
        return (
            '"""Rebuild and retrain the mlp playground\'s network (generated by mlp playground)."""\n'
            "import numpy as np\n\nimport mlp\nfrom mlp.playground.problems import features, make\n\n"
            f"{data}{target}"
            f"Xf = features(X, {feats!r})\n"
            f"rng = mlp.init.rng_from({c['wseed']})\n"
            f"sizes, acts = {sizes!r}, {layer_acts!r}\n"
            f"net = mlp.Network([mlp.Dense(a, b, act, init={c['init']!r}, seed=rng, dtype=np.float64)\n"
            "                   for a, b, act in zip(sizes[:-1], sizes[1:], acts)], dtype=np.float64)\n"
            f"{hand}"
            f"history = net.fit(Xf, y, loss={loss}, optimizer={opt}, lr={c['lr']!r},\n"
            f"                  batch_size={c['batch']}, epochs={max(self.epoch, 1)}, seed={c['wseed']},\n"
            f"                  weight_decay={c['l2']!r}, l1={c['l1']!r}, relu_care={bool(c['care'])})\n"
            "print(f\"epoch {len(history.loss)}: loss {history.loss[-1]:.4f}\")\n"
            'mlp.save(net, "playground.safetensors")\n'
        )
