"""Pictures of a network (matplotlib, the ``plot`` extra): what the lecture draws on its slides.

This module owns the figures:

* ``decision_boundary`` — the input plane coloured by the predicted class (or by
  ŷ for regression), the boundary ŷ = 0.5 drawn, the data on top;
* ``hidden_space`` — the examples as a hidden layer sees them, with the rest of the
  network's decision boundary drawn in that plane: the slide's picture of XOR
  becoming linearly separable (PCA to 2-D for a layer wider than 2);
* ``loss_curves`` — loss (and accuracy) per epoch from a ``History``;
* ``health_curves`` — the ``Monitor`` records (dead units, gradient norms) per epoch;
* ``network_diagram`` — neurons in columns, one edge per weight coloured by sign
  and thickened by size, each neuron showing its activation over the input plane
  (as the TensorFlow Playground does);
* ``training_animation`` — the decision boundary over training, saved as a GIF.

Every function returns a ``matplotlib.figure.Figure`` (drawn on an ``ax`` you pass,
or on a new figure) and saves it when given ``path`` (PNG, SVG, PDF: by suffix).
New figures are made without pyplot, on matplotlib's Agg canvas: no window, no
global state, and the same pixels everywhere — which the tests read back.

Colours: class 0 blue, class 1 orange (then matplotlib's tab10); weights blue
when positive and orange when negative.
"""

from __future__ import annotations

import numpy as np

from ._validation import is_number

CLASS_COLORS = ["#2b6cb0", "#e8710a", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                "#7f7f7f", "#bcbd22", "#17becf"]
POSITIVE, NEGATIVE = "#2b6cb0", "#e8710a"
_TINT = 0.45      # region colours: the class colour mixed with this much white


def _mpl():
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - matplotlib is installed in development
        raise ImportError("mlp.plots needs matplotlib: pip install 'mlp[plot]'") from exc
    return matplotlib


def _figure(ax=None, figsize=(5, 4.5)):
    """(figure, axes): the given axes' figure, or a new pyplot-free figure on the Agg canvas."""
    if ax is not None:
        return ax.figure, ax
    _mpl()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=figsize, dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _save(fig, path):
    if path is not None:
        fig.savefig(path, dpi=fig.dpi)
    return fig


def _rgb(color) -> np.ndarray:
    from matplotlib.colors import to_rgb
    return np.array(to_rgb(color))


def _tint(color, amount=_TINT) -> np.ndarray:
    return (1 - amount) * _rgb(color) + amount


def _class_color(k: int) -> str:
    return CLASS_COLORS[int(k) % len(CLASS_COLORS)]


def _as_2d(X, name="X") -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n, n_features), got shape {X.shape}")
    return X


def _labels(y, n) -> np.ndarray | None:
    """Class labels from y: (n,) integers, (n, 1) 0/1 values or one-hot rows; None if continuous."""
    if y is None:
        return None
    y = np.asarray(y)
    if y.shape[0] != n:
        raise ValueError(f"y has {y.shape[0]} rows but X has {n}")
    if y.ndim == 2 and y.shape[1] > 1:
        return np.argmax(y, axis=1)
    y = y.reshape(n)
    if np.all(np.round(y) == y) and np.unique(y).size <= len(CLASS_COLORS) and y.min() >= 0:
        return y.astype(int)
    return None


def _grid(lo, hi, resolution):
    """The rectangle [lo₁, hi₁] × [lo₂, hi₂] sampled at ``resolution`` points per axis.

    Returns the meshes G1, G2 of shape (resolution, resolution), the same points as
    rows of shape (resolution², 2), and the imshow extent (lo₁, hi₁, lo₂, hi₂).
    """
    g1, g2 = np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution)
    G1, G2 = np.meshgrid(g1, g2)
    return G1, G2, np.column_stack([G1.ravel(), G2.ravel()]), (lo[0], hi[0], lo[1], hi[1])


def _class_image(out: np.ndarray, shape) -> tuple[np.ndarray, np.ndarray]:
    """RGB image of predicted classes (tint by confidence) and the class map."""
    if out.shape[1] == 1:
        p = np.clip(out[:, 0], 0, 1)
        c0, c1 = _tint(CLASS_COLORS[0]), _tint(CLASS_COLORS[1])
        # p = 0 → class 0 tint, p = ½ → white, p = 1 → class 1 tint
        w = np.abs(p - 0.5)[:, None] * 2
        rgb = np.where((p >= 0.5)[:, None], c1 * w + (1 - w), c0 * w + (1 - w))
        classes = (out[:, 0] > 0.5).astype(int)
    else:
        classes = np.argmax(out, axis=1)
        k = out.shape[1]
        confidence = (np.max(out, axis=1) - 1 / k) / (1 - 1 / k)
        w = np.clip(0.35 + 0.65 * confidence, 0, 1)[:, None]
        tints = np.array([_tint(_class_color(c)) for c in range(k)])
        rgb = tints[classes] * w + (1 - w)
    return rgb.reshape(*shape, 3), classes.reshape(shape)


def _draw_classes(ax, out, G1, G2, extent, linestyles=None):
    """Colour the grid by the predicted class and draw the boundary between classes.

    ``out`` holds the network's outputs at the grid points, shape (resolution², n_out):
    one output is class 1 where ŷ > 0.5 (boundary ŷ = 0.5, drawn if ŷ crosses it),
    several are argmax classes (boundaries between them, drawn if there are two or more).
    """
    rgb, classes = _class_image(out, G1.shape)
    ax.imshow(rgb, origin="lower", extent=extent, aspect="auto", interpolation="bilinear")
    _draw_boundary(ax, out, classes, G1, G2, linestyles)


def _draw_boundary(ax, out, classes, G1, G2, linestyles=None):
    """The black boundary line of ``_draw_classes`` (``classes``: the class map it drew)."""
    n_out = out.shape[1]
    if n_out == 1:
        if out.min() < 0.5 < out.max():
            ax.contour(G1, G2, out[:, 0].reshape(G1.shape), levels=[0.5], colors="black",
                       linewidths=1.5, linestyles=linestyles)
    elif len(np.unique(classes)) > 1:
        ax.contour(G1, G2, classes, levels=np.arange(n_out) + 0.5, colors="black",
                   linewidths=1.2, linestyles=linestyles)


def _scatter_classes(ax, X2, labels, size=70, zorder=3):
    if len(X2) > 30:                    # many points: smaller markers
        size = max(12, size // 4)
    for k in np.unique(labels):
        pts = X2[labels == k]
        ax.scatter(pts[:, 0], pts[:, 1], s=size, c=_class_color(k), edgecolors="black",
                   linewidths=0.8, zorder=zorder, label=f"class {k}")


def decision_boundary(net, X, y=None, *, ax=None, resolution: int = 200, padding: float = 0.5,
                      regression: bool | None = None, path=None, title: str | None = None):
    """The input plane coloured by the network's prediction, with the data on top.

    Classification (labels in ``y``, or a sigmoid/softmax output): each point of
    the plane takes the tint of its predicted class — stronger the surer the
    network is — and the boundary (ŷ = 0.5, or between argmax classes) is drawn
    in black. Regression: ŷ as a colour map with its colour bar.

    Parameters
    ----------
    net : Network with 2 inputs
    X : ndarray of shape (n, 2)
    y : ndarray of shape (n,) or (n, n_out), optional
        Class labels / 0–1 targets colour the data points; continuous targets
        mean regression.
    resolution : int
        Grid points per axis.
    padding : float
        How far beyond the data the plane extends.
    regression : bool, optional
        Force regression (True) or classification (False) colouring.
    path : str or Path, optional
        Save the figure there.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import mlp
    >>> from mlp.xor_story import hand_made_net
    >>> fig = decision_boundary(hand_made_net(), *mlp.datasets.xor(), resolution=50)
    >>> fig.axes[0].get_title()
    'decision boundary'
    """
    X2 = _as_2d(X)
    if net.n_in != 2 or X2.shape[1] != 2:
        raise ValueError(f"decision_boundary needs 2 inputs, the network has {net.n_in}")
    labels = _labels(y, X2.shape[0])
    if regression is None:
        regression = labels is None and net.layers[-1].activation.name not in ("sigmoid", "softmax")
        regression = regression and net.n_out == 1 and y is not None
    fig, ax = _figure(ax)
    G1, G2, grid, extent = _grid(X2.min(axis=0) - padding, X2.max(axis=0) + padding, resolution)
    out = np.asarray(net(grid), dtype=np.float64)
    if regression:
        if net.n_out != 1:
            raise ValueError("a regression surface needs a network with one output")
        Z = out[:, 0].reshape(G1.shape)
        vals = Z if y is None else np.concatenate([Z.ravel(), np.ravel(y)])
        norm = _mpl().colors.Normalize(vmin=float(np.min(vals)), vmax=float(np.max(vals)))
        im = ax.imshow(Z, origin="lower", extent=extent, aspect="auto", cmap="viridis", norm=norm)
        fig.colorbar(im, ax=ax, label="ŷ")
        if y is not None:
            ax.scatter(X2[:, 0], X2[:, 1], c=np.ravel(y), cmap="viridis", norm=norm, s=50,
                       edgecolors="black", linewidths=0.8, zorder=3)
    else:
        _draw_classes(ax, out, G1, G2, extent)
        if labels is not None:
            _scatter_classes(ax, X2, labels)
        elif y is None:
            ax.scatter(X2[:, 0], X2[:, 1], s=30, c="black", zorder=3)
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.set_title(title if title is not None else "decision boundary" if not regression else "ŷ")
    return _save(fig, path)


def hidden_values(net, X, layer: int = 1) -> np.ndarray:
    """h of hidden layer ``layer`` (1-based) for every row of X: shape (n, width)."""
    if not is_number(layer, integer=True):
        raise TypeError(f"layer must be an int, got {type(layer).__name__}")
    if not 1 <= layer < len(net.layers):
        raise ValueError(f"layer must be a hidden layer, 1..{len(net.layers) - 1}; got {layer}")
    h = _as_2d(X)
    for dense in net.layers[:layer]:
        h = np.asarray(dense(h), dtype=np.float64)
    return h


def _format_point(x) -> str:
    return "(" + ", ".join(f"{v:g}" for v in x) + ")"


def hidden_space(net, X, y=None, layer: int = 1, *, ax=None, annotate: bool | None = None,
                 resolution: int = 150, path=None, title: str | None = None):
    """The examples as hidden layer ``layer`` sees them, and the decision boundary there.

    Each example x is drawn at its hidden values h = σ(W x + b) (for the lecture's
    hand-made XOR net: (0,0) → (0,0), (0,1) and (1,0) → (0,1), (1,1) → (1,3)),
    coloured by class. For a 2-wide layer the rest of the network is evaluated
    over the hidden plane, so the background shows which class each hidden point
    would get and the black line is where the classes meet — one straight line
    when this is the last hidden layer and the output is a single neuron: the
    four XOR points have become linearly separable. A layer wider than 2 is
    projected on its first two principal components (no boundary drawn); a
    1-wide layer is drawn on a line.

    Parameters
    ----------
    net : Network
    X : ndarray of shape (n, n_in)
    y : class labels or 0–1 targets, optional
    layer : int
        Hidden layer number, 1 … len(net.layers) − 1.
    annotate : bool, optional
        Label each point with its input x (default: when there are at most 12 points).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import mlp
    >>> from mlp.xor_story import hand_made_net
    >>> fig = hidden_space(hand_made_net(), *mlp.datasets.xor(), resolution=50)
    >>> [t.get_text() for t in fig.axes[0].texts]
    ['(0, 0)', '(0, 1) (1, 0)', '(1, 1)']
    """
    X2 = _as_2d(X)
    H = hidden_values(net, X2, layer)
    width = H.shape[1]
    labels = _labels(y, X2.shape[0])
    fig, ax = _figure(ax)
    names = ["h1", "h2"] if width <= 2 else ["PC1 of h", "PC2 of h"]
    if width == 1:
        P = np.column_stack([H[:, 0], np.zeros(len(H))])
        names = ["h1", ""]
    elif width == 2:
        P = H
    else:                                       # principal components of the hidden points
        centred = H - H.mean(axis=0)
        _, _, Vt = np.linalg.svd(centred, full_matrices=False)
        P = centred @ Vt[:2].T
    span = np.ptp(P, axis=0)
    pad = np.maximum(0.25 * np.maximum(span, 1e-9), 0.5)
    lo, hi = P.min(axis=0) - pad, P.max(axis=0) + pad
    if width == 2:
        G1, G2, out, extent = _grid(lo, hi, resolution)
        for dense in net.layers[layer:]:            # the rest of the network, on the hidden plane
            out = np.asarray(dense(out), dtype=np.float64)
        _draw_classes(ax, out, G1, G2, extent, linestyles="--")
    if labels is not None:
        _scatter_classes(ax, P, labels, size=90)
    else:
        ax.scatter(P[:, 0], P[:, 1], s=60, c="black", zorder=3)
    if annotate is None:
        annotate = len(P) <= 12
    if annotate:                                 # one label per hidden point, listing its inputs
        groups: dict = {}
        for x, p in zip(X2, P):
            groups.setdefault((round(p[0], 9), round(p[1], 9)), []).append(_format_point(x))
        for (p0, p1), xs in groups.items():
            ax.annotate(" ".join(xs), (p0, p1), textcoords="offset points", xytext=(8, 8),
                        fontsize=9, zorder=4)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    if width == 1:
        ax.set_yticks([])
    ax.set_title(title if title is not None else f"hidden space of layer {layer}")
    return _save(fig, path)


def _history_dict(history) -> dict:
    if hasattr(history, "to_dict"):
        return history.to_dict()
    if isinstance(history, dict):
        return history
    values = list(np.asarray(history, dtype=np.float64).ravel())
    return {"loss": values}


def loss_curves(history, *, ax=None, log: bool | None = None, path=None, title: str | None = None):
    """Loss (and validation loss) per epoch; accuracy curves in a second panel when recorded.

    Parameters
    ----------
    history : History, its ``to_dict()``, or a sequence of loss values
    log : bool, optional
        Log-scale the loss axis (default: when the loss is positive and spans more
        than a factor 20).

    Returns
    -------
    matplotlib.figure.Figure
    """
    h = _history_dict(history)
    loss = np.asarray(h.get("loss") or [], dtype=np.float64)
    if loss.size == 0:
        raise ValueError("the history has no loss values")
    epochs = np.asarray(h.get("epochs") or np.arange(1, loss.size + 1))
    metrics = {k: v for k, v in (h.get("metrics") or {}).items() if v}
    if ax is None and metrics:
        fig, _ = _figure(figsize=(9, 4))
        fig.clear()
        ax, ax2 = fig.subplots(1, 2)
    else:
        fig, ax = _figure(ax)
        ax2 = None
    ax.plot(epochs, loss, color=CLASS_COLORS[0], lw=2, label="loss")
    val = [np.nan if v is None else v for v in (h.get("val_loss") or [])]
    if val:
        ax.plot(epochs[:len(val)], val, color=CLASS_COLORS[1], lw=2, label="validation loss")
    finite = loss[np.isfinite(loss)]
    if log is None:
        log = finite.size > 0 and finite.min() > 0 and finite.max() / finite.min() > 20
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend()
    ax.set_title(title if title is not None else "training loss")
    if ax2 is not None:
        for i, (name, values) in enumerate(sorted(metrics.items())):
            values = [np.nan if v is None else v for v in values]
            ax2.plot(epochs[:len(values)], values, color=_class_color(i + 2), lw=2, label=name)
        ax2.set_xlabel("epoch")
        ax2.set_ylabel("metric")
        ax2.legend()
    return _save(fig, path)


def health_curves(history, *, path=None, title: str | None = None):
    """The ``Monitor`` records of ``fit(..., monitor=True)``: per layer, the fraction of
    dead (or saturated) units and the gradient norm, per epoch.

    Returns
    -------
    matplotlib.figure.Figure
    """
    records = getattr(history, "monitor", None)
    if records is None and isinstance(history, dict):
        records = history.get("monitor")
    if not records:
        raise ValueError("no monitor records: train with fit(..., monitor=True)")
    fig, _ = _figure(figsize=(9, 4))
    fig.clear()
    ax1, ax2 = fig.subplots(1, 2)
    epochs = [r["epoch"] for r in records]
    n_layers = len(records[0]["grad_norm"])
    for i in range(n_layers):
        color = _class_color(i)
        dead = [r["dead"][i] if r["dead"][i] is not None else r["saturated"][i] for r in records]
        if any(d is not None for d in dead):
            kind = "dead" if records[0]["dead"][i] is not None else "saturated"
            ax1.plot(epochs, [np.nan if d is None else d for d in dead], color=color, lw=2,
                     label=f"layer {i + 1} {kind}")
        norms = [np.nan if r["grad_norm"][i] is None else r["grad_norm"][i] for r in records]
        ax2.plot(epochs, norms, color=color, lw=2, label=f"layer {i + 1}")
    ax1.set_ylim(-0.05, 1.05)
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("fraction of units")
    if ax1.lines:
        ax1.legend()
    ax2.set_yscale("log")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("‖∂loss/∂W‖")
    ax2.legend()
    fig.suptitle(title if title is not None else "network health per epoch")
    return _save(fig, path)


def _neuron_positions(sizes, max_neurons):
    """x, y of each drawn neuron per layer (a column per layer, centred)."""
    cols = []
    for k, n in enumerate(sizes):
        shown = min(n, max_neurons)
        ys = (np.arange(shown)[::-1] - (shown - 1) / 2) * 1.0
        cols.append([(float(k) * 2.2, float(y)) for y in ys])
    return cols


def network_diagram(net, *, ax=None, maps: bool | None = None, resolution: int = 40,
                    extent: tuple = (-0.5, 1.5, -0.5, 1.5), max_neurons: int = 12, names: bool | None = None,
                    path=None, title: str | None = None):
    """The network drawn as the lecture draws it: input, hidden and output layers.

    One edge per weight, blue for positive and orange for negative, thicker the
    larger |w|. With 2 inputs each neuron shows its activation map: its value h
    over the input plane ``extent`` (x1 across, x2 up), as the TensorFlow
    Playground does. Small networks also name each weight (w1 = 1, …) and bias.
    Layers wider than ``max_neurons`` are cut to their first ``max_neurons``.

    Returns
    -------
    matplotlib.figure.Figure
        The edges are one ``LineCollection`` with gid ``"weights"``, segment i
        being the weight ``net.param_names()[i]`` (for layers not cut).

    Examples
    --------
    >>> from mlp.xor_story import hand_made_net
    >>> fig = network_diagram(hand_made_net(), resolution=10)
    >>> [len(c.get_segments()) for c in fig.axes[0].collections if c.get_gid() == "weights"]
    [6]
    """
    mpl = _mpl()
    from matplotlib.collections import LineCollection
    from matplotlib.patches import Circle, Rectangle
    sizes = net.sizes
    if maps is None:
        maps = net.n_in == 2
    if maps and net.n_in != 2:
        raise ValueError("activation maps need a network with 2 inputs")
    n_weights = sum(layer.n_out * layer.n_in for layer in net.layers)
    if names is None:
        names = n_weights <= 12
    fig, ax = _figure(ax, figsize=(1.9 * len(sizes) + 0.6, 1.25 * min(max(sizes), max_neurons) + 1.4))
    cols = _neuron_positions(sizes, max_neurons)
    weights = [layer.W.astype(np.float64) for layer in net.layers]
    biggest = max(float(np.max(np.abs(W))) for W in weights) or 1.0
    segments, colors, widths, weight_names = [], [], [], []
    param_names = net.param_names()
    w_at = 0
    for k, W in enumerate(weights):
        for i in range(W.shape[0]):
            for j in range(W.shape[1]):
                if i < len(cols[k + 1]) and j < len(cols[k]):
                    segments.append([cols[k][j], cols[k + 1][i]])
                    colors.append(POSITIVE if W[i, j] >= 0 else NEGATIVE)
                    widths.append(0.5 + 5.5 * abs(W[i, j]) / biggest)
                    weight_names.append((param_names[w_at + i * W.shape[1] + j], W[i, j]))
        w_at += W.size
    edges = LineCollection(segments, colors=colors, linewidths=widths, zorder=1, capstyle="butt")
    edges.set_gid("weights")
    ax.add_collection(edges)
    if names:
        for (a, b), (name, w) in zip(segments, weight_names):
            t = 0.3                                   # near the source end, away from crossings
            ax.text(a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]) + 0.08, f"{name}={w:.3g}",
                    fontsize=7, ha="center", va="bottom", zorder=5,
                    bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.8})
    half = 0.32
    if maps:
        G1, G2, h, _ = _grid((extent[0], extent[2]), (extent[1], extent[3]), resolution)
        values = [h]
        for dense in net.layers:
            h = np.asarray(dense(h), dtype=np.float64)
            values.append(h)
        cmap = mpl.colors.LinearSegmentedColormap.from_list("mlp_weights", [NEGATIVE, "white", POSITIVE])
    biases = [layer.b for layer in net.layers]
    b_names = param_names[n_weights:]
    b_at = 0
    for k, col in enumerate(cols):
        for i, (x, y) in enumerate(col):
            if maps:
                v = values[k][:, i].reshape(G1.shape)
                scale = float(np.max(np.abs(v))) or 1.0
                ax.imshow(v, origin="lower", extent=(x - half, x + half, y - half, y + half),
                          cmap=cmap, vmin=-scale, vmax=scale, zorder=3, interpolation="bilinear")
                ax.add_patch(Rectangle((x - half, y - half), 2 * half, 2 * half, fill=False,
                                       ec="black", lw=1, zorder=4))
            else:
                ax.add_patch(Circle((x, y), 0.22, fc="white", ec="black", lw=1.2, zorder=3))
            label = (f"x{i + 1}" if k == 0 else ("ŷ" if sizes[-1] == 1 else f"ŷ{i + 1}")
                     if k == len(cols) - 1 else f"h{i + 1}" if len(cols) == 3 else f"h({k}){i + 1}")
            ax.text(x, y - half - 0.06, label, ha="center", va="top", fontsize=9, zorder=5)
            if k > 0 and names:
                ax.text(x, y + half + 0.04, f"{b_names[b_at + i]}={biases[k - 1][i]:.3g}", ha="center",
                        va="bottom", fontsize=7, zorder=5)
        if k > 0:
            b_at += sizes[k]
        if sizes[k] > len(col):
            ax.text(col[-1][0], col[-1][1] - 0.8, f"… {sizes[k] - len(col)} more", ha="center", fontsize=8)
        act = "input" if k == 0 else net.layers[k - 1].activation.name
        ax.text(col[0][0], max(y for _, y in col) + 0.85, act, ha="center", fontsize=9, style="italic")
    xs = [x for col in cols for x, _ in col]
    ys = [y for col in cols for _, y in col]
    ax.set_xlim(min(xs) - 0.7, max(xs) + 0.7)
    ax.set_ylim(min(ys) - 1.1, max(ys) + 1.2)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title if title is not None else f"network {'-'.join(map(str, sizes))}")
    return _save(fig, path)


def training_animation(net, X, y, snapshots, *, path=None, fps: int = 8, resolution: int = 80,
                       losses=None, title: str = "gradient descent"):
    """The decision boundary as training moves the parameters: one frame per snapshot.

    Parameters
    ----------
    net : Network with 2 inputs
        Used for its architecture (not modified).
    X, y : the data drawn in every frame
    snapshots : sequence of ndarray of shape (n_params,), or of (epoch, params) pairs
    path : str or Path, optional
        ``.gif`` saves with matplotlib's Pillow writer.
    losses : sequence of float, optional
        Shown in each frame's title.

    Returns
    -------
    matplotlib.figure.Figure
        Its ``animation`` attribute holds the ``FuncAnimation``.
    """
    _mpl()
    from matplotlib.animation import FuncAnimation, PillowWriter
    from matplotlib.contour import ContourSet
    frames = [(i + 1, np.asarray(s)) if not isinstance(s, tuple) else (s[0], np.asarray(s[1]))
              for i, s in enumerate(snapshots)]
    if not frames:
        raise ValueError("training_animation needs at least one snapshot")
    work = net.copy(dtype=np.float64)
    fig, ax = _figure()
    X2 = _as_2d(X)
    G1, G2, grid, _ = _grid(X2.min(axis=0) - 0.5, X2.max(axis=0) + 0.5, resolution)

    def label(i):
        loss = f", loss {losses[i]:.4g}" if losses is not None else ""
        return f"{title}: epoch {frames[i][0]}{loss}"

    work.params = frames[0][1]
    decision_boundary(work, X2, y, ax=ax, resolution=resolution, title=label(0))
    fig.canvas.draw()
    fig.set_layout_engine("none")       # keep the first frame's layout: frames only swap pixels
    (image,) = ax.images

    def draw(i):
        # Only the background image, the boundary line and the title change between frames.
        work.params = frames[i][1]
        out = np.asarray(work(grid), dtype=np.float64)
        rgb, classes = _class_image(out, G1.shape)
        image.set_data(rgb)
        for artist in [c for c in ax.collections if isinstance(c, ContourSet)]:
            artist.remove()
        _draw_boundary(ax, out, classes, G1, G2)
        ax.set_title(label(i))
        return []

    anim = FuncAnimation(fig, draw, frames=len(frames), interval=1000 / fps, blit=False)
    fig.animation = anim
    if path is not None:
        anim.save(str(path), writer=PillowWriter(fps=fps))
    return fig
