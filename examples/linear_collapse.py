"""Without a nonlinearity, stacked layers are one affine map (the lecture's proof).

    g(x) = W(2)(W(1) x + b(1)) + b(2) = (W(2) W(1)) x + (W(2) b(1) + b(2)) = W x + b

Run:  python examples/linear_collapse.py
"""

import warnings

import numpy as np

import mlp

with warnings.catch_warnings():
    warnings.simplefilter("ignore")        # mlp warns that this net is no better than one layer
    deep = mlp.Network.from_sizes([3, 5, 4, 2], hidden="identity", init="glorot", seed=0,
                                  dtype=np.float64)
deep.params = np.random.default_rng(0).normal(0, 0.5, deep.n_params)   # biases too

one = mlp.collapse(deep)                   # one Dense: W = W3 W2 W1, b = W3 (W2 b1 + b2) + b3
print("three linear layers:", deep)
print("collapse to one layer:", one)
print("W =", np.round(one.W, 4).tolist())
print("b =", np.round(one.b, 4).tolist())

X = np.random.default_rng(1).normal(size=(5, 3))
print("largest difference on 5 random inputs:", float(np.max(np.abs(deep(X) - one(X)))))

# So a linear model is all such a network can be — and on XOR the best one says 0.5 everywhere.
X_xor, y_xor = mlp.datasets.xor()
best = mlp.linear_baseline(X_xor, y_xor)
print("best linear fit on XOR predicts:", np.round(best(X_xor)[:, 0], 6).tolist())

# A ReLU in between breaks the collapse:
relu_net = mlp.Network.from_sizes([2, 2, 1], hidden="relu", seed=0)
try:
    mlp.collapse(relu_net)
except ValueError as err:
    print("with a ReLU:", err)
