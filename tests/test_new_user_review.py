"""Issue 14: what a new user of the command line and of model files hit (each test fails on the
code before its fix)."""

import numpy as np
import pytest

import mlp
from mlp import demo, interop
from mlp.cli import main


class _Stop(Exception):
    pass


def test_demo_digits_shows_no_bar_in_a_redirected_log(monkeypatch):
    """`make demo > log` wrote tqdm frames into the log: the bar is shown only on a terminal."""
    seen = {}

    def fake_fit(self, X, y, **kwargs):
        seen.update(kwargs)
        raise _Stop

    monkeypatch.setattr(mlp.Network, "fit", fake_fit)
    with pytest.raises(_Stop):
        demo.digits(print=lambda *a: None)
    assert seen["progress"] is None      # fit's rule: a bar only when stderr is a terminal


# --------------------------------------------------------------------------- 1. a loaded model


def _blobs_csv(path, n=120, seed=0):
    """Three classes with text labels, on features far from 0 (so the scaler matters)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, size=n)
    X = 100 + 10 * np.eye(3)[labels] + rng.normal(scale=1.0, size=(n, 3))
    names = np.array(["setosa", "versicolor", "virginica"])[labels]
    with open(path, "w") as f:
        f.write("a,b,c,species\n")
        for row, name in zip(X, names):
            f.write(",".join(f"{v:.6f}" for v in row) + f",{name}\n")
    return X, names


def test_a_loaded_model_predicts_as_mlp_predict_does(tmp_path, capsys):
    X, names = _blobs_csv(tmp_path / "train.csv")
    model = tmp_path / "m.safetensors"
    assert main(["train", str(tmp_path / "train.csv"), "--epochs", "60", "--seed", "0", "-q",
                 "--out", str(model)]) == 0
    assert main(["predict", str(model), str(tmp_path / "train.csv")]) == 0
    printed = capsys.readouterr().out.split()[1:]
    net = mlp.load(model)
    labels = net.predict_classes(X)                  # raw rows, as a user has them
    assert labels.tolist() == printed
    assert np.mean(labels == names) > 0.9
    # net(X), predict and predict_proba take raw rows too, and agree with each other
    np.testing.assert_array_equal(net(X), net.predict(X))
    np.testing.assert_allclose(net.predict_proba(X).sum(axis=1), 1, rtol=1e-5)
    assert net(X[0]).shape == (3,)
    np.testing.assert_allclose(net(X[0]), net(X[:1])[0], rtol=1e-6)


def test_to_torch_and_to_onnx_apply_the_scaler(tmp_path, capsys):
    X, _ = _blobs_csv(tmp_path / "train.csv")
    model = tmp_path / "m.safetensors"
    assert main(["train", str(tmp_path / "train.csv"), "--epochs", "5", "--seed", "0", "-q",
                 "--out", str(model)]) == 0
    assert main(["predict", str(model), str(tmp_path / "train.csv"), "--proba"]) == 0
    rows = [line.split(",")[1:] for line in capsys.readouterr().out.split()[1:]]
    proba = np.array(rows, dtype=np.float64)        # what mlp predict says
    net = mlp.load(model)
    np.testing.assert_allclose(net(X), proba, rtol=1e-5, atol=1e-6)
    X32 = X.astype(np.float32)
    torch = pytest.importorskip("torch")
    with torch.no_grad():
        out = interop.to_torch(net)(torch.from_numpy(X32)).numpy()
    np.testing.assert_allclose(out, net(X), rtol=1e-4, atol=1e-5)
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(interop.to_onnx(net).SerializeToString())
    np.testing.assert_allclose(session.run(None, {"x": X32})[0], net(X), rtol=1e-4, atol=1e-5)


def test_fit_on_a_loaded_model_takes_raw_inputs_too(tmp_path):
    X, names = _blobs_csv(tmp_path / "train.csv")
    model = tmp_path / "m.safetensors"
    assert main(["train", str(tmp_path / "train.csv"), "--epochs", "3", "--seed", "0", "-q",
                 "--out", str(model)]) == 0
    net = mlp.load(model)
    y = np.searchsorted(net.classes_, names)
    before = net.loss_and_grad(X, y, "cross_entropy")
    with pytest.warns(mlp.TrainingWarning):                # "loss still falling": fine here
        net.fit(X, y, epochs=30, seed=0, progress=False)
    assert net.loss_and_grad(X, y, "cross_entropy") < before
    assert np.mean(net.predict_classes(X) == names) > 0.9
