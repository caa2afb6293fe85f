"""Issue 14: what a new user of the command line and of model files hit (each test fails on the
code before its fix)."""

import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

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


def test_training_fit_applies_the_scaler_as_network_fit_does():
    """mlp.training.fit(net, X, y) trained a scaled network on raw rows (net.fit scaled them):
    both now go through one place (mlp.training.data.inputs), validation data too."""
    rng = np.random.default_rng(0)
    X = rng.normal(50.0, 20.0, size=(64, 3))
    y = (X[:, :1] - 50.0) / 20.0 + 0.1 * rng.normal(size=(64, 1))
    net = mlp.Network.from_sizes([3, 4, 1], seed=0, dtype=np.float64)
    net.scaler = mlp.data.StandardScaler(X.mean(axis=0), X.std(axis=0))
    a, b = net.copy(), net.copy()
    kwargs = dict(epochs=3, batch_size=16, seed=0, progress=False, validation_data=(X[:8], y[:8]))
    ha = a.fit(X, y, **kwargs)
    hb = mlp.training.fit(b, X, y, **kwargs)
    assert ha.loss == hb.loss and ha.val_loss == hb.val_loss
    np.testing.assert_array_equal(a.params, b.params)
    c = net.copy()
    c.scaler = None
    hc = c.fit(net.scaler.transform(X), y, **{**kwargs, "validation_data": (net.scaler.transform(X[:8]),
                                                                           y[:8])})
    np.testing.assert_allclose(hc.loss, ha.loss, rtol=1e-12)


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


def test_an_input_equal_to_the_labels_is_named(tmp_path, capsys):
    rng = np.random.default_rng(3)
    label = rng.integers(0, 2, size=60)
    with open(tmp_path / "leak.csv", "w") as f:
        f.write("a,copy,y\n")
        for lab in label:
            f.write(f"{rng.normal():.4f},{lab},{lab}\n")
    assert main(["train", str(tmp_path / "leak.csv"), "--epochs", "1", "--seed", "0",
                 "--out", str(tmp_path / "m.safetensors")]) == 0
    assert "warning: input column 'copy' equals the target 'y'" in capsys.readouterr().err


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


def test_a_renamed_column_plus_an_id_names_the_column(tmp_path, blobs_model, capsys):
    """One column renamed and an extra `id`: the message suggested --target."""
    model, X, _ = blobs_model
    path = _write(tmp_path / "r.csv", ["id", "a", "bee", "c"], [[f"r{i}", *r] for i, r in enumerate(X)])
    assert main(["predict", model, path]) == 1
    err = capsys.readouterr().err
    assert "input column 'b' is not in the file" in err and "--target" not in err, err


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


def _two_ctrl_c(cmd, cwd, after, gap=None):
    """Start ``cmd``; once training runs, wait ``after`` s and send SIGINT; then a second one ``gap`` s
    later, or (``gap=None``) as soon as the first has been seen (two signals a few ms apart can reach
    Python as one)."""
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
        if gap is None:
            for line in iter(proc.stderr.readline, ""):
                seen.append(line)
                if "stopping after this epoch" in line:
                    break
        else:
            time.sleep(gap)
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


@pytest.mark.parametrize("after", [0.8, 1.6])
def test_two_ctrl_c_10_ms_apart_never_lose_the_run(tmp_path, after):
    """The issue's repro: two SIGINTs 10 ms apart gave rc 130 with no checkpoint and no model in 9
    of 27 tries. Now: a checkpoint of whole epochs (or, before the first epoch ends, one line
    saying nothing was saved), never a traceback."""
    cmd = [sys.executable, "-m", "mlp", "train", "moons", "--n", "20000", "--hidden", "16",
           "--batch-size", "8", "--seed", "0", "--epochs", "100000", "--out", "m.safetensors"]
    code, err = _two_ctrl_c(cmd, tmp_path, after, gap=0.01)
    assert code == 130 and "Traceback" not in err, err
    ckpt = tmp_path / "m.ckpt.safetensors"
    if "nothing saved" in err:
        assert "before the first epoch was complete" in err and not ckpt.exists()
    else:
        state = mlp.load_checkpoint(ckpt).train_state
        assert state.epoch >= 1 and state.step == state.epoch * 2500, err      # whole epochs only
        assert "resume with:" in err


# --------------------------------------------------------------------------- 8, 11. writes


def test_out_onto_a_fifo_or_a_link_to_one_is_refused(tmp_path, capsys):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    os.symlink(fifo, tmp_path / "link")
    for target in (fifo, tmp_path / "link"):
        assert main(["train", "xor", "--epochs", "1", "-q", "--out", str(target)]) == 1
        assert "FIFO" in capsys.readouterr().err
        with pytest.raises(OSError, match="FIFO"):
            mlp.save(mlp.Network.from_sizes([2, 1], seed=0), target)
    assert fifo.is_fifo() and (tmp_path / "link").is_symlink()


def test_out_equal_to_an_input_is_refused(tmp_path, capsys):
    X, _ = _blobs_csv(tmp_path / "train.csv")
    data = str(tmp_path / "train.csv")
    before = open(data).read()
    assert main(["train", data, "--epochs", "1", "-q", "--out", data]) == 1
    assert "is the data file itself" in capsys.readouterr().err
    model = str(tmp_path / "m.safetensors")
    assert main(["train", data, "--epochs", "1", "-q", "--out", model]) == 0
    assert main(["predict", model, data, "--out", data]) == 1
    assert main(["predict", model, data, "--out", model]) == 1
    assert capsys.readouterr().err.count("itself") == 2
    assert open(data).read() == before and mlp.load(model).n_in == 3


def test_stale_temporary_files_are_removed_on_the_next_save(tmp_path):
    net = mlp.Network.from_sizes([2, 1], seed=0)
    path = tmp_path / "m.safetensors"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    killed = tmp_path / f".m.safetensors.{dead}.abcd1234.tmp"       # a writer killed mid-save
    old = tmp_path / ".m.safetensors.x7y8z9q0.tmp"                  # an older version's, an hour old
    live = tmp_path / f".m.safetensors.{os.getpid()}.efgh5678.tmp"  # a writer of this process
    other = tmp_path / ".other.safetensors.1.zzzz.tmp"
    for f in (killed, old, live, other):
        f.write_bytes(b"x" * 100)
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    mlp.save(net, path)
    assert not killed.exists() and not old.exists()
    assert live.exists() and other.exists() and mlp.load(path).n_in == 2


# --------------------------------------------------------------------------- 10. validated at load


def _rewrite(tmp_path, name, change):
    """A checkpoint of a short xor run, its header changed by ``change(tensors, meta)``."""
    from mlp.io import read_safetensors, write_safetensors
    net = mlp.Network.from_sizes([2, 3, 1], output="sigmoid", seed=0)
    net.fit(*mlp.datasets.xor(), epochs=2, progress=False)
    src = tmp_path / "ok.safetensors"
    mlp.save(net, src, classes=[0, 1], train_state=net.train_state)
    tensors, meta = read_safetensors(src)
    change(tensors, meta)
    write_safetensors(tmp_path / name, tensors, meta)
    return tmp_path / name


def _state(change):
    def edit(tensors, meta):
        import json
        state = json.loads(meta["train_state"])
        change(state)
        meta["train_state"] = json.dumps(state)
    return edit


@pytest.mark.filterwarnings("ignore::mlp.TrainingWarning")
@pytest.mark.parametrize("name, change, words", [
    ("lr.safetensors", _state(lambda s: s["optimizer"].update(lr=-1)), "lr must be"),
    ("epoch.safetensors", _state(lambda s: s.update(epoch=-5)), "epoch must be a whole number"),
    ("betas.safetensors", _state(lambda s: s["optimizer"].update(betas=[0.9, 0.99, 0.5])), "betas"),
    ("classes.safetensors", lambda t, m: m.update(classes='[1, "1"]'), "distinct"),
    ("inf.safetensors", lambda t, m: m.update(classes="[1e400, 2]"), "finite"),
    ("version.safetensors", lambda t, m: m.update(format_version="\u0661"), "format_version"),
])
def test_checkpoint_fields_are_validated_at_load(tmp_path, name, change, words):
    path = _rewrite(tmp_path, name, change)
    with pytest.raises(ValueError, match=words) as info:
        mlp.load_checkpoint(path)
    assert name in str(info.value)


def test_a_list_dtype_is_a_clear_error(tmp_path):
    path = tmp_path / "m.safetensors"
    mlp.save(mlp.Network.from_sizes([2, 1], seed=0), path)
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = raw[8:8 + n].replace(b'"dtype":"F32"', b'"dtype":["F32"]', 1)
    header += b" " * (-len(header) % 8)
    (tmp_path / "bad.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + raw[8 + n:])
    with pytest.raises(ValueError, match="bad.safetensors.*unsupported dtype"):
        mlp.load(tmp_path / "bad.safetensors")


# --------------------------------------------------------------------------- 9, 12. sizes and inputs


def test_huge_values_are_named_by_column(tmp_path, capsys):
    rows = "\n".join(f"{i},{1e308 if i % 2 else -1e308},{i % 2}" for i in range(20))
    (tmp_path / "big.csv").write_text("a,b,y\n" + rows + "\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # no "overflow encountered in reduce" on the way
        assert main(["train", str(tmp_path / "big.csv"), "--epochs", "1", "--dtype", "float64",
                     "--out", str(tmp_path / "m.safetensors")]) == 1
    err = capsys.readouterr().err
    assert "column 'b' holds values too large to standardise" in err and err.count("\n") == 1
    rows = "\n".join(f"{i},{4e38 if i % 2 else 1.0},{i % 2}" for i in range(20))
    (tmp_path / "f32.csv").write_text("a,b,y\n" + rows + "\n")
    assert main(["train", str(tmp_path / "f32.csv"), "--epochs", "1",
                 "--out", str(tmp_path / "m.safetensors")]) == 1
    err = capsys.readouterr().err
    assert "column 'b' has a value of 4e+38, beyond float32's range" in err and "NaN" not in err


def test_data_from_standard_input_and_a_fifo(tmp_path):
    text = "a,b,y\n" + "\n".join(f"{i % 3},{i % 5},{i % 2}" for i in range(40)) + "\n"
    model = str(tmp_path / "m.safetensors")
    r = subprocess.run([sys.executable, "-m", "mlp", "train", "-", "--epochs", "2", "-q", "--out", model],
                       input=text, capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    writer = subprocess.Popen(["sh", "-c", f"cat > {fifo}"], stdin=subprocess.PIPE, text=True)
    r = subprocess.Popen([sys.executable, "-m", "mlp", "predict", model, str(fifo)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    writer.communicate(text)
    out, err = r.communicate(timeout=120)
    assert r.returncode == 0, err
    assert len(out.splitlines()) == 41


def test_a_csv_renamed_npz_is_named(tmp_path):
    (tmp_path / "data.npz").write_text("a,b,y\n1,2,0\n")
    with pytest.raises(ValueError, match="a text file \\(a CSV\\?\\)"):
        mlp.data.load_data(tmp_path / "data.npz")
    np.save(tmp_path / "arr.npy", np.ones(3))
    os.rename(tmp_path / "arr.npy", tmp_path / "arr.npz")
    with pytest.raises(ValueError, match="an .npy array file"):
        mlp.data.load_data(tmp_path / "arr.npz")


def test_sizes_are_bounded_before_allocating(tmp_path, monkeypatch):
    import zipfile

    from mlp import _safetensors

    # an .npz whose X claims 8 GB in a few bytes of deflated zeros
    header = {"descr": "<f8", "fortran_order": False, "shape": (100_000, 10_000)}
    with zipfile.ZipFile(tmp_path / "big.npz", "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("X.npy", "w", force_zip64=True) as f:
            np.lib.format.write_array_header_1_0(f, header)
            f.write(b"\0" * 1000)
        with z.open("y.npy", "w") as f:
            np.save(f, np.zeros(3))
    monkeypatch.setattr(_safetensors, "available_memory", lambda: 2**30)
    with pytest.raises(ValueError, match="array X of shape \\(100000, 10000\\).*GiB"):
        mlp.data.load_data(tmp_path / "big.npz")
    # a model file whose header is a sea of empty lists
    path = tmp_path / "m.safetensors"
    mlp.save(mlp.Network.from_sizes([2, 1], seed=0), path, metadata={"pad": [[]] * 1_100_000})
    with pytest.raises(ValueError, match="JSON lists or objects"):
        mlp.load(path)


# --------------------------------------------------------------------------- smaller things


def test_confusion_matrix_header_lines_up(tmp_path, capsys):
    from mlp.cli.evaluate import confusion_table
    table = confusion_table(np.array([[5, 0], [1, 4]]), ["class_0", "class_1"]).splitlines()
    assert table[0].startswith("true \\ pred  ")
    assert [len(line) for line in table] == [len(table[0])] * 3
    assert table[0].index("class_1") + len("class_1") == len(table[1])


def test_swapped_arguments_are_named(tmp_path, capsys):
    model = tmp_path / "m.safetensors"
    mlp.save(mlp.Network.from_sizes([2, 1], output="sigmoid", seed=0), model, classes=[0, 1])
    (tmp_path / "d.csv").write_text("a,b,y\n1,2,0\n3,4,1\n")
    assert main(["predict", str(tmp_path / "d.csv"), str(model)]) == 1
    assert "the arguments look swapped" in capsys.readouterr().err


def test_command_line_mistakes_exit_2(capsys):
    for argv in (["train", "xor", "--optimizer", "lbfgs"], ["train", "xor", "--hidden", "0"],
                 ["train", "xor", "--init", "nope"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2, argv
    err = capsys.readouterr().err
    assert "lbfgs" in err and "--hidden none" in err


def test_every_command_has_a_description_and_documented_positionals():
    """`mlp datasets --help` and `mlp demo --help` had no description; MODEL/DATA had no help."""
    import argparse

    from mlp.cli import build_parser
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name, parser in sub.choices.items():
        assert parser.description and len(parser.description) > 20, name
        for action in parser._actions:
            if not action.option_strings:
                assert action.help and action.metavar, (name, action.dest)


def test_positionals_are_documented(capsys):
    for command in ("predict", "evaluate", "info", "export"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        out = capsys.readouterr().out
        assert "a model file written by mlp train" in out, command


def test_a_long_history_is_stored_compactly(tmp_path):
    """A 9-parameter XOR model trained with fit's defaults (10,000 epochs) was 583 KB of JSON."""
    X, y = mlp.datasets.xor()
    net = mlp.Network.from_sizes([2, 2, 1], seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net.fit(X, y, progress=False)
    path = tmp_path / "xor.safetensors"
    mlp.save(net, path)
    assert os.path.getsize(path) < 200_000
    again = mlp.load(path)
    for key in ("epochs", "loss", "val_loss", "lr", "seconds"):
        assert getattr(again.history, key) == getattr(net.history, key), key
    assert mlp.io.read_metadata(path)["format_version"] == 2
    mlp.save(mlp.Network.from_sizes([2, 1], seed=0), tmp_path / "short.safetensors")
    assert mlp.io.read_metadata(tmp_path / "short.safetensors")["format_version"] == 1   # old readers


def test_a_network_too_large_for_memory_is_refused_before_allocating():
    with pytest.raises(ValueError, match=r"sizes \[2, 1000000000, 1\] \(4,000,000,001 parameters\)"):
        mlp.Network.from_sizes([2, 10**9, 1])


def test_make_bench_quick_leaves_results_md_alone():
    """`make bench-quick` rewrote the tracked benchmarks/RESULTS.md with a short run's figures."""
    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text()
    recipe = makefile.split("\nbench-quick:", 1)[1].split("\n\n", 1)[0]
    commands = [line.split("#")[0].split() for line in recipe.splitlines()[1:] if line.startswith("\t")]
    runs = [c for c in commands if any(w.endswith("benchmarks/run.py") for w in c)]
    assert runs and all("--quick" in c and "--no-write" in c for c in runs), recipe
