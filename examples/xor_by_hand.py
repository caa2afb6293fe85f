"""The lecture's hand-made XOR network, layer by layer.

    W(1) = [[1, 1], [2, 2]], b(1) = [-1, -1], h = relu(W(1) x + b(1)), ŷ = -3 h1 + h2

Run:  python examples/xor_by_hand.py [FIGURE_DIR]
Prints the network as equations, the forward trace of every XOR input, the
backward trace (δ and every gradient, by lecture name) of one example, and,
given a folder and matplotlib, draws the decision boundary, the hidden space
and the network.
"""

import sys

import numpy as np

import mlp

net = mlp.Network([mlp.Dense(2, 2, activation="relu"), mlp.Dense(2, 1)], dtype=np.float64)
net.layers[0].W = [[1, 1], [2, 2]]
net.layers[0].b = [-1, -1]
net.layers[1].W = [[-3, 1]]
net.layers[1].b = [0]
net.summary()

X, y = mlp.datasets.xor()
for x, target in zip(X, y):
    print(f"\nx = {x}, target {target[0]:g}")
    print(net.trace(x))

print("\n(0,1) and (1,0) have the same hidden values h = [0, 1]: the classes are now separable.")

# The backward pass for one example with a wrong target, to see gradients flow:
# f = ½ (ŷ − y)², δ = ∂f/∂z per layer, and ∂f/∂p for w1 … b3.
print("\nBackward trace of x = (1, 1) with target y = 1 (ŷ = 0):")
print(net.trace(np.array([1.0, 1.0]), y=1.0, loss="mse"))

if len(sys.argv) > 1:
    from pathlib import Path

    from mlp import plots

    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    plots.decision_boundary(net, X, y, path=out / "xor_by_hand_boundary.png")
    plots.hidden_space(net, X, y, path=out / "xor_by_hand_hidden.png")
    plots.network_diagram(net, path=out / "xor_by_hand_network.png")
    print(f"\nfigures written to {out}/")
