"""Issue 14: what a new user of the command line and of model files hit (each test fails on the
code before its fix)."""

import os
import signal
import subprocess
import sys
import time

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


# --------------------------------------------------------------------------- 2–3. target and task


@pytest.mark.filterwarnings("ignore::mlp.TrainingWarning")
def test_whole_number_regression_targets_are_not_classes(tmp_path, capsys):
    """diabetes: 'progression' is 25–346 in whole numbers; it trained a 181-class softmax."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = np.round(150 + 60 * X[:, 0] - 30 * X[:, 1] + 5 * rng.normal(size=300))
    with open(tmp_path / "d.csv", "w") as f:
        f.write("age,bmi,bp,s1,progression\n")
        for row, target in zip(X, y):
            f.write(",".join(f"{v:.5f}" for v in row) + f",{target:.1f}\n")
    assert mlp.data.load_csv(tmp_path / "d.csv").task == "regression"
    model = str(tmp_path / "m.safetensors")
    assert main(["train", str(tmp_path / "d.csv"), "--epochs", "5", "--seed", "0", "--out", model]) == 0
    err = capsys.readouterr().err
    assert "target: 'progression' (last column), regression (" in err
    assert mlp.load(model).classes_ is None
    # new rows with values the training data never had: evaluated, not "not one of the classes"
    with open(tmp_path / "new.csv", "w") as f:
        f.write("age,bmi,bp,s1,progression\n1,2,3,4,999\n0,0,0,0,1\n")
    assert main(["evaluate", model, str(tmp_path / "new.csv")]) == 0


def test_the_auto_task_rule():
    from mlp.data import encode_target
    assert encode_target([1, 2, 3] * 5)[2] == "classification"            # few whole numbers: classes
    assert encode_target(list(range(10)) * 3)[2] == "classification"      # ≤ 10 distinct: classes
    assert encode_target(list(range(43)) * 2)[2] == "regression"          # 43 > max(10, √86)
    assert encode_target(list(range(43)) * 50)[2] == "classification"     # 43 ≤ √2150
    assert encode_target(list(range(60)) * 100)[2] == "regression"        # more than 50
    assert encode_target(list(range(60)) * 2, task="classification")[2] == "classification"
    assert encode_target(["a", "b"] * 40 + [str(i) for i in range(60)])[2] == "classification"


def test_a_forgotten_target_is_visible(tmp_path, capsys):
    """A 0/1 label in the first column and no --target: it trained a regression on the last feature."""
    rng = np.random.default_rng(1)
    label = rng.integers(0, 2, size=100)
    X = rng.normal(size=(100, 3)) + label[:, None]
    with open(tmp_path / "t.csv", "w") as f:
        f.write("label,f1,f2,f3\n")
        for lab, row in zip(label, X):
            f.write(f"{lab}," + ",".join(f"{v:.5f}" for v in row) + "\n")
    assert main(["train", str(tmp_path / "t.csv"), "--epochs", "2", "--seed", "0",
                 "--out", str(tmp_path / "m.safetensors")]) == 0
    err = capsys.readouterr().err
    assert "mlp: target: 'f3' (last column), regression" in err
    assert "mlp: warning: input column 'label' holds only 0 and 1" in err and "--target label" in err
    assert main(["train", str(tmp_path / "t.csv"), "--target", "label", "--epochs", "2", "--seed", "0",
                 "--out", str(tmp_path / "m.safetensors")]) == 0
    err = capsys.readouterr().err
    assert "mlp: target: 'label' (--target), classification: 2 classes (0, 1)" in err
    assert "warning" not in err


def test_a_constant_like_target_is_named(tmp_path, capsys):
    rng = np.random.default_rng(2)
    with open(tmp_path / "c.csv", "w") as f:
        f.write("a,b,flag\n")
        for i in range(100):
            f.write(f"{rng.normal():.4f},{rng.normal():.4f},{'yes' if i == 7 or i == 50 else 'no'}\n")
    assert main(["train", str(tmp_path / "c.csv"), "--epochs", "1", "--seed", "0",
                 "--out", str(tmp_path / "m.safetensors")]) == 0
    assert "the target 'flag' has one value (no) in 98% of the rows" in capsys.readouterr().err


# --------------------------------------------------------------------------- info


def test_info_shows_target_and_features_and_survives_odd_metadata(tmp_path, capsys):
    path = tmp_path / "m.safetensors"
    net = mlp.Network.from_sizes([2, 3, 1], seed=0)
    mlp.save(net, path, metadata={"target": "price", "task": "regression", "feature_names": ["a", "b"],
                                  "final": [1, 2], "seconds": "x", "epochs": {"n": 1}})
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "target        price (regression)" in out
    assert "features      a, b (2" in out
    assert "final         [1, 2]" in out and "x s" in out


# --------------------------------------------------------------------------- 4. columns by name


@pytest.fixture
def blobs_model(tmp_path):
    X, names = _blobs_csv(tmp_path / "train.csv")
    model = str(tmp_path / "m.safetensors")
    assert main(["train", str(tmp_path / "train.csv"), "--epochs", "30", "--seed", "0", "-q",
                 "--out", model]) == 0
    return model, X, names


def _write(path, header, X):
    with open(path, "w") as f:
        f.write(",".join(header) + "\n")
        for row in X:
            f.write(",".join(str(v) for v in row) + "\n")
    return str(path)


def test_predict_matches_columns_by_name(tmp_path, blobs_model, capsys):
    model, X, _ = blobs_model
    expected = mlp.load(model).predict_classes(X).tolist()
    # the same columns in another order, with an extra text id column: matched by name
    shuffled = _write(tmp_path / "s.csv", ["id", "c", "a", "b"],
                      [[f"row{i}", r[2], r[0], r[1]] for i, r in enumerate(X)])
    assert main(["predict", model, shuffled]) == 0
    assert capsys.readouterr().out.split()[1:] == expected


def test_predict_names_every_missing_column(tmp_path, blobs_model, capsys):
    model, X, _ = blobs_model
    renamed = _write(tmp_path / "r.csv", ["x", "y", "z"], X)
    assert main(["predict", model, renamed]) == 1
    err = capsys.readouterr().err
    assert "input columns 'a', 'b', 'c' are not in the file" in err and "--by-position" in err
    assert main(["predict", model, renamed, "--by-position"]) == 0           # on request, in order
    one_missing = _write(tmp_path / "m.csv", ["a", "c"], X[:, [0, 2]])
    assert main(["predict", model, one_missing]) == 1
    assert "input column 'b' is not in the file" in capsys.readouterr().err


def test_drop_a_text_id_column_when_training(tmp_path, capsys):
    X, names = _blobs_csv(tmp_path / "train.csv")
    rows = [[f"id{i}", *r, n] for i, (r, n) in enumerate(zip(X, names))]
    path = _write(tmp_path / "ids.csv", ["id", "a", "b", "c", "species"], rows)
    model = str(tmp_path / "m.safetensors")
    assert main(["train", path, "--epochs", "2", "-q", "--out", model]) == 1
    assert "'id0' is not a number" in capsys.readouterr().err
    assert main(["train", path, "--drop", "id", "--epochs", "2", "-q", "--out", model]) == 0
    assert mlp.load(model).metadata["feature_names"] == ["a", "b", "c"]
    assert main(["predict", model, path, "--drop", "id"]) == 0


# --------------------------------------------------------------------------- 5. a second Ctrl-C


def _two_ctrl_c(cmd, cwd, after):
    """Start ``cmd``; once training runs, wait ``after`` s, send SIGINT, and a second one as soon as
    the first has been seen (two signals a few ms apart can reach Python as one)."""
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={k: v for k, v in os.environ.items() if k != "MLP_DEBUG"})
    seen = []
    try:
        for line in iter(proc.stderr.readline, ""):
            seen.append(line)
            if "Ctrl-C" in line:
                break
        time.sleep(after)
        proc.send_signal(signal.SIGINT)
        for line in iter(proc.stderr.readline, ""):
            seen.append(line)
            if "stopping after this epoch" in line:
                break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, "".join(seen) + err


def test_a_second_ctrl_c_keeps_an_exact_checkpoint(tmp_path):
    # 2,500 batches per epoch: the second Ctrl-C lands mid-epoch
    args = [sys.executable, "-m", "mlp", "train", "moons", "--n", "20000", "--hidden", "16",
            "--batch-size", "8", "--seed", "0"]
    code, err = _two_ctrl_c([*args, "--epochs", "100000", "--out", "m.safetensors"], tmp_path, 1.5)
    assert code == 130 and "Traceback" not in err, err
    assert "interrupted during epoch" in err and "resumes exactly" in err, err
    ckpt = mlp.load_checkpoint(tmp_path / "m.ckpt.safetensors")
    done = ckpt.train_state.epoch
    assert done >= 1 and ckpt.train_state.step == done * 2500          # whole epochs only
    subprocess.run([*args, "--epochs", str(done + 2), "--resume", "m.ckpt.safetensors",
                    "--out", "resumed.safetensors", "-q"], cwd=tmp_path, check=True)
    subprocess.run([*args, "--epochs", str(done + 2), "--out", "straight.safetensors", "-q"],
                   cwd=tmp_path, check=True)
    resumed, straight = (mlp.load(tmp_path / f) for f in ("resumed.safetensors", "straight.safetensors"))
    np.testing.assert_array_equal(resumed.params, straight.params)
