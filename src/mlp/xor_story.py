"""``mlp xor``: the lecture's XOR story end to end, printed, with its figures.

1. No linear model solves XOR: the best least-squares affine fit predicts 0.5 everywhere.
2. The hand-made ReLU net (W(1) = [[1, 1], [2, 2]], b(1) = [−1, −1], ŷ = −3 h1 + h2)
   does: its trace, and the hidden space where (0,1) and (1,0) land on one point.
3. Without the ReLU the two layers collapse to one affine map W x + b.
4. Gradient descent on ½ Σ (ŷ − y)² (the lecture's loop) finds a solution from random
   weights — or gets stuck with a dead ReLU, which ``mlp.diagnose`` shows; a new random
   start then works, and so does ``net.fit`` from the stuck start (it revives dead ReLUs).
5. ∂ŷ/∂w1 written out by SymPy as on the slide, and the symbolic gradient of f_MSE
   checked against backpropagation and finite differences for every parameter.

This module owns the story and nothing else; the figures come from ``mlp.plots``
(skipped with a note without matplotlib), the algebra from ``mlp.symbolic``
(skipped without SymPy).
"""

from __future__ import annotations

import builtins
import importlib.util
import warnings
from pathlib import Path

import numpy as np

from . import datasets, plots, symbolic
from .collapse import collapse, linear_baseline
from .diagnostics import diagnose
from .gradcheck import gradcheck
from .layers import Dense
from .losses import MSE
from .network import Network

LR = 0.1
EPOCHS = 1000
SEEDS = range(10)


def hand_made_net() -> Network:
    """The lecture's solution: W(1) = [[1, 1], [2, 2]], b(1) = [−1, −1], ReLU, ŷ = −3 h1 + h2."""
    net = Network([Dense(2, 2, "relu"), Dense(2, 1)], dtype=np.float64)
    net.layers[0].W, net.layers[0].b = [[1, 1], [2, 2]], [-1, -1]
    net.layers[1].W, net.layers[1].b = [[-3, 1]], [0]
    return net


def _row(values) -> str:
    """``[0.5, 1, -3]``: 3 significant digits, round-off below 1e-12 shown as 0."""
    return "[" + ", ".join(f"{(0.0 if abs(v) < 1e-12 else float(v)):.3g}" for v in np.ravel(values)) + "]"


def _cases(expr) -> str:
    """A two-case Piecewise as on the slide: ``0 if z ≤ 0;  w5*x1 if z > 0``."""
    pieces = [f"{e} if {c}" for e, c in expr.args] if hasattr(expr, "args") and expr.args else [str(expr)]
    return ";  ".join(pieces).replace("<=", "≤").replace(">=", "≥")


def _gradient_descent(net, X, y, lr: float, epochs: int, every: int):
    """The lecture's loop, full batch: ``params ← params − lr · ∂f/∂params`` with
    f = ½ Σ (ŷ − y)². Returns (losses per epoch, [(epoch, params), …] every ``every``)."""
    snapshots = [(0, net.params.copy())]
    losses = []
    for epoch in range(1, epochs + 1):
        losses.append(net.loss_and_grad(X, y, MSE("half_sum")))
        net.params -= lr * net.grads          # one gradient-descent step
        if epoch % every == 0:
            snapshots.append((epoch, net.params.copy()))
    return losses, snapshots


class _Story:
    """Where the story goes: the text (``print``), the figures (``out``) and the results."""

    def __init__(self, out_dir, print, figures: bool, animation: bool):
        self.X, self.y = datasets.xor()
        self.out = Path(out_dir)
        self.print = print
        self.can_plot = figures and importlib.util.find_spec("matplotlib") is not None
        self.animation = animation
        self.written: list = []
        self.result: dict = {"figures": self.written}

    def section(self, title: str) -> None:
        self.print()
        self.print(f"== {title}")

    def figure(self, name: str, make) -> None:
        if not self.can_plot:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        path = self.out / name
        make(path)
        self.written.append(path)


def _linear(story: _Story) -> None:
    X, y, print = story.X, story.y, story.print
    story.section("1. No line separates XOR: the best affine least-squares fit")
    base = linear_baseline(X, y)
    story.result["linear"] = base(X)[:, 0]
    print(f"   ŷ = W x + b with W = {_row(base.W)}, b = {_row(base.b)}")
    print(f"   predictions on (0,0), (0,1), (1,0), (1,1): {_row(story.result['linear'])}  — 0.5 everywhere")
    story.figure("xor_linear.png", lambda p: plots.decision_boundary(
        Network([base], dtype=np.float64), X, y, path=p, title="best linear model: ŷ = 0.5 everywhere"))


def _hand_made(story: _Story) -> Network:
    X, y, print = story.X, story.y, story.print
    story.section("2. A hidden ReLU layer solves it (the lecture's hand-made weights)")
    net = hand_made_net()
    for line in net.summary(print=None).splitlines():
        print("   " + line)
    print()
    print("   forward trace of x = (1, 0):")
    for line in str(net.trace(X[2])).splitlines():
        print("   " + line)
    print()
    story.result["hand_made"] = net(X)[:, 0]
    for x, target in zip(X, y[:, 0]):
        h = net.trace(x)[0].h
        print(f"   x = ({x[0]:g}, {x[1]:g})  →  h = {_row(h)}  →  ŷ = {net(x)[0]:g}   (target {target:g})")
    print("   (0,1) and (1,0) land on the same hidden point (0, 1): in the hidden space one line")
    print("   −3 h1 + h2 = 0.5 separates the classes.")
    story.figure("xor_hand_boundary.png", lambda p: plots.decision_boundary(
        net, X, y, path=p, title="hand-made ReLU net"))
    story.figure("xor_hidden_space.png", lambda p: plots.hidden_space(
        net, X, y, path=p, title="hidden space: XOR is now linearly separable"))
    story.figure("xor_network.png", lambda p: plots.network_diagram(net, path=p, title="the hand-made net"))
    return net


def _collapse(story: _Story, net: Network) -> None:
    X, print = story.X, story.print
    story.section("3. Without the ReLU the layers collapse to one affine map")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")           # the all-identity warning is the point here
        linear = Network([Dense(2, 2), Dense(2, 1)], dtype=np.float64)
    linear.params = net.params
    one = collapse(linear)
    story.result["collapsed"] = one(X)[:, 0]
    print("   g(x) = W(2)(W(1) x + b(1)) + b(2) = (W(2) W(1)) x + W(2) b(1) + b(2)")
    print(f"   W = W(2) W(1) = {_row(one.W)},  b = W(2) b(1) + b(2) = {_row(one.b)}")
    print(f"   predictions: {_row(story.result['collapsed'])}  (same as the two layers: "
          f"{np.allclose(linear(X), one(X))}) — not XOR")


def _descent(story: _Story) -> list:
    """Random starts until one solves XOR; the seeds that got stuck."""
    X, y, print = story.X, story.y, story.print
    story.section(f"4. Gradient descent from random weights (2-2-1 ReLU, lr = {LR}, {EPOCHS} epochs)")
    print("   params ← params − lr · ∂f/∂params,  f = ½ Σ (ŷ − y)²")
    failed = []
    for seed in SEEDS:
        candidate = Network.from_sizes([2, 2, 1], hidden="relu", init="he", seed=seed, dtype=np.float64)
        start = candidate.copy()
        losses, snapshots = _gradient_descent(candidate, X, y, LR, EPOCHS, every=EPOCHS // 12)
        if bool(np.all(np.abs(candidate(X) - y) < 0.1)):
            _solved(story, candidate, seed, start, losses, snapshots)
            break
        health = diagnose(candidate, X, y)
        dead = health.layers[0].dead or 0.0
        why = f"{round(dead * 2)}/2 hidden ReLUs dead" if dead else "a local minimum"
        print(f"   seed {seed}: stuck at f = {losses[-1]:.3g} ({why}) — try another random start")
        failed.append(seed)
    else:
        print("   no random start solved XOR this time")
        story.result["trained"], story.result["seed"] = None, None
    story.result["failed_seeds"] = failed
    return failed


def _solved(story: _Story, trained: Network, seed: int, start: Network, losses, snapshots) -> None:
    X, y, print = story.X, story.y, story.print
    story.result["trained"], story.result["seed"] = trained(X)[:, 0], seed
    for epoch in (1, 10, 100, EPOCHS):
        print(f"   seed {seed}: epoch {epoch:>4}  f = {losses[epoch - 1]:.6f}")
    print(f"   predictions: {_row(story.result['trained'])}")
    W1, W2 = trained.layers[0].W, trained.layers[1].W
    print(f"   learned W(1) = [{_row(W1[0])}, {_row(W1[1])}], b(1) = {_row(trained.layers[0].b)}, "
          f"W(2) = [{_row(W2[0])}], b(2) = {_row(trained.layers[1].b)}")
    hidden = plots.hidden_values(trained, X)
    print("   its hidden points: " + ", ".join(_row(h) for h in hidden))
    story.figure("xor_trained_boundary.png", lambda p: plots.decision_boundary(
        trained, X, y, path=p, title=f"trained from random weights (seed {seed})"))
    story.figure("xor_trained_hidden_space.png", lambda p: plots.hidden_space(
        trained, X, y, path=p, title="hidden space of the trained net"))
    story.figure("xor_loss.png", lambda p: plots.loss_curves(
        losses, path=p, title="f = ½ Σ (ŷ − y)² per epoch"))
    if story.animation and importlib.util.find_spec("PIL") is not None:
        story.figure("xor_training.gif", lambda p: plots.training_animation(
            start, X, y, snapshots, path=p, resolution=50, fps=6,
            losses=[losses[0]] + [losses[e - 1] for e, _ in snapshots[1:]]))


def _fit_from_stuck(story: _Story, failed: list) -> None:
    X, y, print = story.X, story.y, story.print
    story.result["fit_from_stuck"] = None
    if not failed:
        return
    stuck = Network.from_sizes([2, 2, 1], hidden="relu", init="he", seed=failed[0], dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")       # fit's advice on epochs is not the point here
        history = stuck.fit(X, y, loss=MSE("half_sum"), optimizer="gd", lr=LR, epochs=EPOCHS,
                            batch_size=len(X), seed=0, progress=False)
    story.result["fit_from_stuck"] = stuck(X)[:, 0]
    print(f"   net.fit(X, y, optimizer='gd', lr={LR}, epochs={EPOCHS}) from the stuck seed {failed[0]}: "
          f"f = {history.loss[-1]:.3g}, predictions {_row(story.result['fit_from_stuck'])}")
    print("   (fit revives a ReLU that is 0 on every example: new input weights, zero outgoing")
    print("   weights — the function is unchanged, but the unit can learn again)")


def _chain_rule(story: _Story, net: Network) -> None:
    X, y, print = story.X, story.y, story.print
    story.section("5. The chain rule, symbolically: ∂ŷ/∂w1")
    check_net = Network.from_sizes([2, 2, 1], hidden="relu", init="he", seed=1, dtype=np.float64)
    check_net.layers[0].b[:] = [0.1, -0.2]         # every hidden unit active on some inputs
    if importlib.util.find_spec("sympy") is None:
        print("   (SymPy is not installed: pip install 'mlp[symbolic]')")
        story.result["symbolic_error"] = None
        return
    print(f"   ŷ = {symbolic.expression(net)}")
    d = symbolic.derivative(net, "w1")
    print(f"   ∂ŷ/∂w1 = {d}")
    print(f"          = {_cases(symbolic.piecewise(d))}   (σ = ReLU: σ′(z) = 0 if z ≤ 0, 1 if z > 0)")
    print(f"   LaTeX: {symbolic.to_latex(d)}")
    print(f"   ∂f/∂w1 = {symbolic.loss_derivative(net, 'w1')}")
    print("   at random weights, on the four XOR examples:")
    sym = symbolic.gradient(check_net, X, y, MSE("half_sum"))
    check_net.loss_and_grad(X, y, MSE("half_sum"))
    numeric = gradcheck(check_net, X, y, MSE("half_sum")).numeric
    print("   parameter   symbolic      backprop      finite differences")
    for name, s, b, n in zip(check_net.param_names(), sym, check_net.grads, numeric):
        print(f"   {name:<9}  {s:+.8f}  {b:+.8f}  {n:+.8f}")
    story.result["symbolic_error"] = float(np.max(np.abs(sym - check_net.grads)))
    print(f"   max |symbolic − backprop| = {story.result['symbolic_error']:.1e}")


def run(out_dir="mlp-out", print=builtins.print, *, figures: bool = True, animation: bool = True) -> dict:
    """Tell the XOR story: print each step, write the figures to ``out_dir``.

    Parameters
    ----------
    out_dir : str or Path
        Folder for the figures (created if needed).
    print : callable
        Where the text goes (``print`` by default).
    figures : bool
        Write the figures (needs matplotlib).
    animation : bool
        Also write ``xor_training.gif``, the decision boundary during training (needs Pillow).

    Returns
    -------
    dict
        ``figures`` (list of paths written), ``linear``, ``hand_made``, ``collapsed`` and
        ``trained`` predictions on the four inputs, ``seed`` of the successful start,
        ``failed_seeds``, ``fit_from_stuck`` (``net.fit``'s predictions from the first
        failed start, or None), ``symbolic_error`` (max |symbolic − backprop| or None).
    """
    story = _Story(out_dir, print, figures, animation)
    print("XOR: f(0,0) = 0, f(0,1) = 1, f(1,0) = 1, f(1,1) = 0")
    _linear(story)
    net = _hand_made(story)
    _collapse(story, net)
    failed = _descent(story)
    _fit_from_stuck(story, failed)
    _chain_rule(story, net)
    if story.written:
        print()
        print("Figures:")
        for path in story.written:
            print(f"   {path}")
    return story.result
