"""A real data set: 8×8 handwritten digits (scikit-learn's), trained with Adam and scored.

Run:  python examples/digits.py [FIGURE_DIR]      (needs the sklearn extra for the data)
"""

import sys

import numpy as np

import mlp

X, y = mlp.datasets.digits()                     # X (1797, 64) pixels in [0, 1], y labels 0…9
X_train, X_test, y_train, y_test = mlp.datasets.train_test_split(X, y, test_size=0.25, seed=0,
                                                                 stratify=True)

net = mlp.Network.from_sizes([64, 32, 10], hidden="relu", output="softmax", init="he", seed=0)
net.summary()
history = net.fit(X_train, y_train, loss="cross_entropy", optimizer="adam", lr=1e-2, epochs=30,
                  batch_size=32, validation_split=0.1, seed=0, progress=False, monitor=True)

accuracy = float(np.mean(net.predict_classes(X_test) == y_test))
print(f"\nloss {history.loss[0]:.3f} → {history.loss[-1]:.3f} over {len(history.loss)} epochs")
print(f"test accuracy: {accuracy:.1%} on {len(y_test)} digits")
print("\nhealth on the test set:")
print(mlp.diagnose(net, X_test, y_test, "cross_entropy"))

if len(sys.argv) > 1:
    from pathlib import Path

    from mlp import plots

    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    plots.loss_curves(history, path=out / "digits_loss.png")
    plots.health_curves(history, path=out / "digits_health.png")
    print(f"\nfigures written to {out}/")
