"""mlp.plots: every picture is rendered to pixels (Agg) and its content checked."""

import sys
import warnings

import numpy as np
import pytest

import mlp

pytest.importorskip("matplotlib")
from mlp import plots  # noqa: E402

X, Y = mlp.datasets.xor()


def xor_net():
    net = mlp.Network([mlp.Dense(2, 2, "relu"), mlp.Dense(2, 1)], dtype=np.float64)
    net.layers[0].W, net.layers[0].b = [[1, 1], [2, 2]], [-1, -1]
    net.layers[1].W, net.layers[1].b = [[-3, 1]], [0]
    return net


def render(fig):
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(int)


def pixel(fig, ax, x, y):
    """The RGB of the rendered pixel at data coordinates (x, y) of ``ax``."""
    img = render(fig)
    px, py = ax.transData.transform((x, y))
    return img[int(round(img.shape[0] - py)), int(round(px))]


def bluish(rgb, margin=25):
    return rgb[2] > rgb[0] + margin


def orangish(rgb, margin=25):
    return rgb[0] > rgb[2] + margin


def near(img, color, tol=40):
    from matplotlib.colors import to_rgb
    target = np.array(to_rgb(color)) * 255
    return np.linalg.norm(img - target, axis=-1) < tol


# -- decision boundary ----------------------------------------------------------------------

def test_xor_decision_boundary_colours_the_four_corners():
    fig = plots.decision_boundary(xor_net(), X, Y)
    ax = fig.axes[0]
    # the data markers: class 1 (orange) at (0,1), (1,0); class 0 (blue) at (0,0), (1,1)
    assert orangish(pixel(fig, ax, 0, 1)) and orangish(pixel(fig, ax, 1, 0))
    assert bluish(pixel(fig, ax, 0, 0)) and bluish(pixel(fig, ax, 1, 1))
    # the regions just inside each corner, off the markers:
    # ŷ(0.15, 0.85) = relu(2·1 − 1) = 1; ŷ(0.15, 0.15) = 0; ŷ(0.9, 0.9) = −3·0.8 + 2.6 = 0.2
    assert orangish(pixel(fig, ax, 0.15, 0.85)) and orangish(pixel(fig, ax, 0.85, 0.15))
    assert bluish(pixel(fig, ax, 0.15, 0.15)) and bluish(pixel(fig, ax, 0.9, 0.9))
    # boundaries ŷ = 0.5, s = x1 + x2: 2s − 1 = 0.5 (s = 0.75) and −3(s − 1) + 2s − 1 = 0.5 (s = 1.5)
    img = render(fig)
    dark = lambda x1, x2: img[int(round(img.shape[0] - ax.transData.transform((x1, x2))[1])),  # noqa: E731
                              int(round(ax.transData.transform((x1, x2))[0]))].max() < 90
    assert dark(0.375, 0.375) and dark(0.75, 0.75) and not dark(0.5, 0.5)


def test_linear_baseline_is_half_everywhere_and_has_no_boundary():
    base = mlp.Network([mlp.linear_baseline(X, Y)], dtype=np.float64)
    fig = plots.decision_boundary(base, X, Y)
    ax = fig.axes[0]
    img = render(fig)
    for x1, x2 in [(0.2, 0.2), (0.5, 0.5), (0.8, 0.3), (-0.3, 1.3)]:
        r, g, b = pixel(fig, ax, x1, x2)
        assert min(r, g, b) > 240, (x1, x2, (r, g, b))            # white: ŷ = 0.5
    assert not ax.collections or all(len(c.get_paths()) == 0 for c in ax.collections
                                     if type(c).__name__ == "QuadContourSet")
    assert img.shape[2] == 3


def test_regression_surface_and_multiclass():
    net = mlp.Network([mlp.Dense(2, 1)], dtype=np.float64)
    net.layers[0].W, net.layers[0].b = [[1.0, 0.0]], [0.0]          # ŷ = x1
    rng = np.random.default_rng(0)
    Xr = rng.uniform(-1, 1, (20, 2))
    fig = plots.decision_boundary(net, Xr, Xr[:, 0] + 0.01)
    ax = fig.axes[0]
    assert len(fig.axes) == 2                                        # the colour bar
    lo, hi = pixel(fig, ax, -1.3, 0.5), pixel(fig, ax, 1.3, 0.5)
    assert lo[0] > 50 and lo[2] > lo[1]                              # viridis: purple at low ŷ
    assert hi[1] > 180 and hi[2] < 100                               # yellow at high ŷ
    net3 = mlp.Network([mlp.Dense(2, 3, "softmax")], dtype=np.float64)
    net3.layers[0].W, net3.layers[0].b = [[-5, 0], [5, 0], [0, 5]], [0, 0, -3]
    fig = plots.decision_boundary(net3, np.array([[-1, 0], [1, 0], [0, 1.5]]), [0, 1, 2])
    ax = fig.axes[0]
    assert bluish(pixel(fig, ax, -1.2, -0.3)) and orangish(pixel(fig, ax, 1.2, -0.3))
    r, g, b = pixel(fig, ax, 0, 1.9)
    assert g > r + 20 and g > b + 20                                 # class 2 green


def test_decision_boundary_errors_and_given_axes():
    with pytest.raises(ValueError, match="2 inputs"):
        plots.decision_boundary(mlp.Network.from_sizes([3, 1]), np.zeros((4, 3)))
    from matplotlib.figure import Figure
    fig = Figure()
    ax = fig.add_subplot()
    assert plots.decision_boundary(xor_net(), X, Y, ax=ax) is fig


# -- hidden space ---------------------------------------------------------------------------

def test_hidden_space_puts_01_and_10_on_one_point():
    net = xor_net()
    np.testing.assert_array_equal(plots.hidden_values(net, X), [[0, 0], [0, 1], [0, 1], [1, 3]])
    fig = plots.hidden_space(net, X, Y)
    ax = fig.axes[0]
    img = render(fig)
    orange = near(img, plots.CLASS_COLORS[1])
    rows, cols = np.nonzero(orange)
    # one orange marker: all class-1 pixels within one marker's width, centred on h = (0, 1)
    assert rows.size > 20 and np.ptp(rows) < 16 and np.ptp(cols) < 16
    px, py = ax.transData.transform((0, 1))
    assert abs(cols.mean() - px) < 2 and abs(rows.mean() - (img.shape[0] - py)) < 2
    # two blue markers, at h = (0, 0) and h = (1, 3)
    blue = near(img, plots.CLASS_COLORS[0])
    for h in [(0, 0), (1, 3)]:
        px, py = ax.transData.transform(h)
        assert blue[int(round(img.shape[0] - py)), int(round(px))]
    # the output layer's line −3 h1 + h2 = 0.5 separates them: orange above-left, blue below-right
    assert orangish(pixel(fig, ax, 0.25, 3.0)) and bluish(pixel(fig, ax, 1.0, 0.5))
    assert [t.get_text() for t in ax.texts if "(1, 0)" in t.get_text()] == ["(0, 1) (1, 0)"]


def test_hidden_space_of_a_wide_layer_uses_pca():
    net = mlp.Network.from_sizes([2, 5, 3, 1], hidden="tanh", seed=0)
    fig = plots.hidden_space(net, X, Y, layer=2)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "PC1 of h"
    pts = np.concatenate([c.get_offsets() for c in ax.collections if len(c.get_offsets())])
    H = plots.hidden_values(net, X, layer=2)
    centred = H - H.mean(axis=0)
    # PCA keeps the distances within the first two components' span (3-D → 2-D here)
    s = np.linalg.svd(centred, compute_uv=False)
    d_proj = np.linalg.norm(pts[:, None] - pts[None], axis=-1).max()
    d_true = np.linalg.norm(centred[:, None] - centred[None], axis=-1).max()
    assert d_proj <= d_true + 1e-9 and (s[2] > 1e-9 or abs(d_proj - d_true) < 1e-6)
    with pytest.raises(ValueError, match="hidden layer"):
        plots.hidden_space(net, X, Y, layer=3)


# -- network diagram ------------------------------------------------------------------------

def weights_of(fig):
    (edges,) = [c for c in fig.axes[0].collections if c.get_gid() == "weights"]
    return edges


def test_network_diagram_has_one_edge_per_weight_coloured_by_sign():
    net = xor_net()
    fig = plots.network_diagram(net)
    edges = weights_of(fig)
    segments = edges.get_segments()
    assert len(segments) == 6                                  # w1 … w6
    W = np.concatenate([layer.W.ravel() for layer in net.layers])
    from matplotlib.colors import to_rgba
    expected = [to_rgba(plots.POSITIVE if w >= 0 else plots.NEGATIVE) for w in W]
    np.testing.assert_allclose(edges.get_colors(), expected)
    widths = edges.get_linewidths()
    assert widths[4] == max(widths) and np.argsort(widths)[0] in (0, 1, 5)   # |w5| = 3 thickest
    ax = fig.axes[0]
    # rendered: the middle of edge w1 (x1 → h1) is blue, of edge w5 (h1 → ŷ) orange
    mid = lambda seg: (np.asarray(seg[0]) + np.asarray(seg[1])) / 2   # noqa: E731
    assert bluish(pixel(fig, ax, *mid(segments[0])), 60)
    assert orangish(pixel(fig, ax, *mid(segments[4])), 60)
    # h1's activation map: relu(x1 + x2 − 1) is 0 (white) at the plane's lower-left corner,
    # 2 (full blue) at its upper-right corner
    hx, hy = segments[0][1]
    lower_left, upper_right = pixel(fig, ax, hx - 0.28, hy - 0.28), pixel(fig, ax, hx + 0.28, hy + 0.28)
    assert lower_left.min() > 235 and bluish(upper_right, 80)
    texts = [t.get_text() for t in ax.texts]
    assert "w5=-3" in texts and "b1=-1" in texts and "h1" in texts and "ŷ" in texts


def test_network_diagram_without_maps_and_cut_layers():
    net = mlp.Network.from_sizes([3, 4, 2], seed=0)
    fig = plots.network_diagram(net)
    assert len(weights_of(fig).get_segments()) == 3 * 4 + 4 * 2
    with pytest.raises(ValueError, match="2 inputs"):
        plots.network_diagram(net, maps=True)
    big = mlp.Network.from_sizes([2, 20, 1], seed=0)
    fig = plots.network_diagram(big, max_neurons=5)
    assert len(weights_of(fig).get_segments()) == 2 * 5 + 5 * 1
    assert any("15 more" in t.get_text() for t in fig.axes[0].texts)


# -- curves and animation -------------------------------------------------------------------

def test_loss_curves_from_a_history_dict():
    h = {"loss": [1.0, 0.5, 0.1, 0.01], "val_loss": [1.2, 0.6, 0.2, 0.05],
         "metrics": {"accuracy": [0.5, 0.75, 1.0, 1.0]}}
    fig = plots.loss_curves(h)
    ax, ax2 = fig.axes
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), h["loss"])
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), h["val_loss"])
    np.testing.assert_array_equal(ax2.lines[0].get_ydata(), [0.5, 0.75, 1.0, 1.0])
    assert ax.get_yscale() == "log"                            # spans a factor 100
    # rendered: the loss line starts high on the left and ends low on the right
    img = render(fig)
    x0, y0 = ax.transData.transform((1, 1.0))
    x3, y3 = ax.transData.transform((4, 0.01))
    assert y0 > y3 + 100
    for x, y in [(x0, y0), (x3, y3)]:
        patch = img[int(img.shape[0] - y) - 2:int(img.shape[0] - y) + 3, int(x) - 2:int(x) + 3]
        assert near(patch, plots.CLASS_COLORS[0], 60).any()
    fig = plots.loss_curves([3.0, 2.0, 1.5])
    assert len(fig.axes) == 1 and fig.axes[0].get_yscale() == "linear"
    with pytest.raises(ValueError, match="no loss"):
        plots.loss_curves({"loss": []})


def test_health_curves():
    records = [{"epoch": e, "loss": 1.0 / e, "dead": [0.1 * e, None], "saturated": [None, None],
                "grad_norm": [10.0 ** -e, 1.0], "weight_norm": [1.0, 1.0], "first_nonfinite": None}
               for e in range(1, 4)]
    fig = plots.health_curves({"monitor": records})
    ax1, ax2 = fig.axes[:2]
    np.testing.assert_allclose(ax1.lines[0].get_ydata(), [0.1, 0.2, 0.3])
    np.testing.assert_allclose(ax2.lines[0].get_ydata(), [0.1, 0.01, 0.001])
    with pytest.raises(ValueError, match="monitor"):
        plots.health_curves({"loss": [1.0]})


def test_training_animation_gif(tmp_path):
    PIL = pytest.importorskip("PIL.Image")
    net = xor_net()
    snapshots = [net.params * 0.0, net.params * 0.5, net.params.copy()]
    path = tmp_path / "gd.gif"
    fig = plots.training_animation(net, X, Y, snapshots, path=path, resolution=30, losses=[1, 0.5, 0])
    with PIL.open(path) as gif:
        assert gif.n_frames == 3
        gif.seek(0)
        first = np.asarray(gif.convert("RGB")).astype(int)
        gif.seek(2)
        last = np.asarray(gif.convert("RGB")).astype(int)
    assert np.abs(first - last).mean() > 5                     # the boundary moved
    assert "epoch 3, loss 0" in fig.axes[0].get_title()


def test_saving_png_and_svg(tmp_path):
    net = xor_net()
    plots.decision_boundary(net, X, Y, path=tmp_path / "a.png", resolution=20)
    plots.network_diagram(net, path=tmp_path / "b.svg", resolution=10)
    assert (tmp_path / "a.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in (tmp_path / "b.svg").read_bytes()[:2000]


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"mlp\[plot\]"):
        plots.decision_boundary(xor_net(), X, Y)


def test_no_pyplot_state_is_touched():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plots.decision_boundary(xor_net(), X, Y, resolution=20)
    if "matplotlib.pyplot" in sys.modules:
        import matplotlib.pyplot as plt
        assert plt.get_fignums() == []


def test_training_animation_keeps_class_boundaries_on_a_softmax_net(tmp_path):
    # every frame of a 3-class network redraws the lines between its argmax classes
    pytest.importorskip("PIL.Image")
    from matplotlib.contour import ContourSet
    X3, y3 = mlp.datasets.gaussians(n=90, n_classes=3, seed=0)
    net = mlp.Network.from_sizes([2, 8, 3], hidden="relu", output="softmax", seed=0)
    start = net.params.copy()
    net.fit(X3, y3, epochs=60, lr=0.05, seed=0)
    fig = plots.training_animation(net, X3, y3, [start, net.params.copy()], path=tmp_path / "a.gif",
                                   resolution=30)
    lines = [c for c in fig.axes[0].collections if isinstance(c, ContourSet)]
    assert len(lines) == 1                                     # the last frame's, the first's removed
    np.testing.assert_allclose(lines[0].levels, [0.5, 1.5, 2.5])
