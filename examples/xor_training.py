"""Gradient descent finds an XOR solution from random weights (when the start is not dead).

The lecture's loop: f = ½ Σ (ŷ − y)², params ← params − lr · ∂f/∂params, with the
gradient from backpropagation (net.loss_and_grad). Some random starts get stuck with
a dead ReLU — mlp.diagnose says so — and another start then succeeds. Last, net.fit
trains the stuck start: it revives dead ReLU units.

Run:  python examples/xor_training.py [FIGURE_DIR]
"""

import sys

import numpy as np

import mlp

X, y = mlp.datasets.xor()
loss = mlp.MSE("half_sum")          # the lecture's f_MSE = ½ Σ (ŷ − y)²
lr, epochs = 0.1, 1000

for seed in range(10):
    net = mlp.Network.from_sizes([2, 2, 1], hidden="relu", init="he", seed=seed, dtype=np.float64)
    losses = []
    for _ in range(epochs):
        losses.append(net.loss_and_grad(X, y, loss))   # fills net.grads with ∂f/∂params
        net.params -= lr * net.grads                     # one gradient-descent step
    if np.all(np.abs(net(X) - y) < 0.1):
        break
    print(f"seed {seed}: stuck at f = {losses[-1]:.3f}")
    print(mlp.diagnose(net, X, y))

print(f"\nseed {seed} solved XOR: f went from {losses[0]:.3f} to {losses[-1]:.2e}")
print("predictions:", np.round(net(X)[:, 0], 4).tolist())
net.summary()
print("\nits hidden points:")
for x in X:
    print(f"  x = {x} -> h = {np.round(net.trace(x)[0].h, 3)}")

# The same with net.fit, from the start that got stuck above (seed 0): fit revives a ReLU
# that is 0 on every example (new input weights, zero outgoing weights), so it can learn again.
stuck = mlp.Network.from_sizes([2, 2, 1], hidden="relu", init="he", seed=0, dtype=np.float64)
history = stuck.fit(X, y, loss=loss, optimizer="gd", lr=lr, epochs=epochs, batch_size=4, seed=0,
                    progress=False)
print(f"\nnet.fit from seed 0: f = {history.loss[-1]:.2e}, predictions:",
      np.round(stuck(X)[:, 0], 4).tolist())

if len(sys.argv) > 1:
    from pathlib import Path

    from mlp import plots

    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    plots.decision_boundary(net, X, y, path=out / "xor_training_boundary.png")
    plots.hidden_space(net, X, y, path=out / "xor_training_hidden.png")
    plots.loss_curves(losses, path=out / "xor_training_loss.png")
    print(f"\nfigures written to {out}/")
