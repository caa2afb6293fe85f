"""``make demo`` / ``mlp demo``: the lecture's worked examples, printed with their numbers."""

from __future__ import annotations

import time
import warnings

import numpy as np

from . import datasets, xor_story
from .collapse import collapse, linear_baseline
from .layers import Dense
from .network import Network


def bias_exercise_net() -> Network:
    """The slide's bias-terms exercise: W(1) = [[1,0,1],[-1,2,3]], b(1) = [-1,2],
    W(2) = [[1,-1],[-1,1]], b(2) = [0,1], ReLU hidden layer."""
    net = Network([Dense(3, 2, "relu"), Dense(2, 2)], dtype=np.float64)
    net.layers[0].W, net.layers[0].b = [[1, 0, 1], [-1, 2, 3]], [-1, 2]
    net.layers[1].W, net.layers[1].b = [[1, -1], [-1, 1]], [0, 1]
    return net


def xor_by_hand() -> Network:
    """The hand-made XOR solution: W(1) = [[1,1],[2,2]], b(1) = [-1,-1], ReLU,
    then ŷ = −3 h1 + h2."""
    net = Network([Dense(2, 2, "relu"), Dense(2, 1)], dtype=np.float64)
    net.layers[0].W, net.layers[0].b = [[1, 1], [2, 2]], [-1, -1]
    net.layers[1].W, net.layers[1].b = [[-3, 1]], [0]
    return net


def lecture(print=print) -> None:
    """Print the lecture's worked examples."""
    print("== Exercise: bias terms  ŷ = W(2) relu(W(1) x + b(1)) + b(2)")
    net = bias_exercise_net()
    for x in ([1, 1, 1], [0, 0, 0], [2, -1, 0]):
        print(f"x = {x}")
        print(net.trace(np.array(x, dtype=float)))
    print()
    print("== XOR: the best linear least-squares model")
    X, y = datasets.xor()
    base = linear_baseline(X, y)
    print("   predictions:", np.round(base(X)[:, 0], 6), "(0.5 everywhere: no line separates XOR)")
    print()
    print("== XOR by hand: b(1) = [-1, -1], W(1) = [[1, 1], [2, 2]], ReLU, ŷ = -3 h1 + h2")
    net = xor_by_hand()
    for x in X:
        h = net.trace(x)[0].h
        print(f"   x = {x.astype(int)}  h = {h}  ŷ = {net(x)[0]:g}")
    print("   (0,1) and (1,0) land on the same hidden point: now a line separates the classes")
    print()
    print("== Without the ReLU the layers collapse to one affine map W x + b")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        linear = Network([Dense(2, 2, "identity"), Dense(2, 1)], dtype=np.float64)
    linear.params = net.params
    one = collapse(linear)
    print(f"   W = W(2) W(1) = {one.W.tolist()}, b = W(2) b(1) + b(2) = {one.b.tolist()}")
    print("   equal on XOR:", np.allclose(linear(X), one(X)))


def digits(print=print, seed: int = 0, progress: bool | None = None) -> float:
    """Train the 64-100-10 ReLU/softmax network on scikit-learn's digits with ``fit`` defaults.

    75/25 split (scikit-learn's ``train_test_split``, random_state=0), pixels ÷ 16;
    prints the progress bar (on stderr, when it is a terminal: a log that ``make demo``
    is redirected to gets no bar frames), the fit time and the test accuracy, and returns it.
    """
    try:
        from sklearn.model_selection import train_test_split
    except ImportError:
        raise ImportError("the digits demo needs scikit-learn: pip install 'mlp[sklearn]'") from None
    X, y = datasets.digits()                                   # load_digits().data / 16
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    net = Network.from_sizes([64, 100, 10], hidden="relu", output="softmax", seed=seed)
    print(f"== Digits: {net.sizes} ReLU/softmax network, fit defaults (Adam, lr 1e-3, batches of 200, "
          f"epochs='auto'), {len(X_train)} training and {len(X_test)} test images")
    start = time.perf_counter()
    history = net.fit(X_train, y_train, progress=progress)
    seconds = time.perf_counter() - start
    accuracy = float(np.mean(net.predict_classes(X_test) == y_test))
    print(f"   {len(history)} epochs in {seconds:.1f} s, final training loss {history.loss[-1]:.2e}")
    print(f"   test accuracy: {accuracy:.2%}")
    return accuracy


def main(args=None) -> int:
    lecture()
    print()
    xor_story.run(getattr(args, "out", None) or "mlp-out/xor")   # the XOR story, figures in mlp-out/xor
    print()
    digits()
    return 0
