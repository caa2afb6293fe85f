"""The `mlp` command, run as a real subprocess (`python -m mlp`, what the console script calls)."""

import csv
import ctypes
import json
import os
import queue
import re
import resource
import shlex
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import mlp
from mlp.demo import xor_by_hand

MLP = [sys.executable, "-m", "mlp"]
ENV = {k: v for k, v in os.environ.items() if k != "MLP_DEBUG"}


def run(*args, cwd, preexec_fn=None, timeout=120):
    return subprocess.run([*MLP, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=ENV, preexec_fn=preexec_fn)


def ok(result):
    assert result.returncode == 0, \
        f"exit {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    assert "Traceback" not in result.stderr
    return result


def assert_clean_error(result, *words, code=1):
    """Non-zero exit, exactly one line on stderr starting 'mlp: error:', no traceback."""
    assert result.returncode == code, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("mlp: error: "), lines[0]
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def read_predictions(path_or_text, from_text=False):
    text = path_or_text if from_text else open(path_or_text).read()
    rows = list(csv.reader(text.splitlines()))
    return rows[0], rows[1:]


@pytest.fixture
def earlier_model(tmp_path):
    """A model file already on disk, which failed commands must leave intact."""
    path = tmp_path / "model.safetensors"
    mlp.save(xor_by_hand(), path, classes=[0, 1], metadata={"loss": "mse"})
    return path, path.read_bytes()


def assert_intact(earlier):
    path, before = earlier
    assert path.read_bytes() == before
    np.testing.assert_array_equal(mlp.load(path).params, xor_by_hand().params)


def blobs_csv(path, n=150, seed=0):
    """Three Gaussian blobs in 4-D (one useless feature), text labels, a header row."""
    rng = np.random.default_rng(seed)
    names = np.array(["red", "green", "blue"])
    labels = rng.integers(0, 3, size=n)
    centres = np.array([[0, 0, 3], [3, 0, 0], [0, 3, 0]], dtype=float)
    X = centres[labels] + rng.normal(scale=0.7, size=(n, 3))
    X = np.column_stack([X, rng.normal(size=n) * 100])           # large-scale noise feature
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["a", "b", "c", "noise", "colour"])
        for row, label in zip(X, names[labels]):
            w.writerow([*(f"{v:.6f}" for v in row), label])
    return names[labels]


# --------------------------------------------------------------------------- basics


def test_version_and_help(tmp_path, capsys):
    assert ok(run("--version", cwd=tmp_path)).stdout.strip() == f"mlp {mlp.__version__}"
    assert ok(run("train", "--help", cwd=tmp_path)).stdout.startswith("usage: mlp train")
    from mlp.cli import main  # the rest in-process: the same parser, without 0.3 s per command

    for command in ("predict", "evaluate", "info", "datasets", "xor", "demo"):
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0
        assert capsys.readouterr().out.startswith(f"usage: mlp {command}")


def test_console_script_is_installed(tmp_path):
    script = os.path.join(os.path.dirname(sys.executable), "mlp")
    if not os.path.exists(script):
        pytest.skip("no console script next to this Python (package not installed in a venv)")
    result = subprocess.run([script, "--version"], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == f"mlp {mlp.__version__}"


def test_datasets_lists_every_name(tmp_path):
    out = ok(run("datasets", cwd=tmp_path)).stdout
    for name in mlp.datasets.NAMES:
        assert re.search(rf"^{re.escape(name)}\s", out, re.M), name


def test_usage_errors_are_one_line(tmp_path):
    assert_clean_error(run("train", cwd=tmp_path), "DATA", code=2)
    assert_clean_error(run("train", "xor", "--hidden", "a,b", cwd=tmp_path), "--hidden", code=2)
    assert_clean_error(run("train", "xor", "--lr", "-1", cwd=tmp_path), "--lr", code=2)
    assert_clean_error(run("frobnicate", cwd=tmp_path), "frobnicate", code=2)


def test_info_predict_evaluate_on_a_saved_model(tmp_path, earlier_model):
    path, _ = earlier_model
    info = ok(run("info", path, cwd=tmp_path)).stdout
    assert "2-2-1" in info and "9 parameters" in info and "relu" in info
    summary = json.loads(ok(run("info", path, "--json", cwd=tmp_path)).stdout)
    assert summary["sizes"] == [2, 2, 1] and summary["n_params"] == 9 and summary["classes"] == [0, 1]
    header, rows = read_predictions(ok(run("predict", path, "xor", cwd=tmp_path)).stdout, from_text=True)
    assert header == ["prediction"] and [r[0] for r in rows] == ["0", "1", "1", "0"]
    result = json.loads(ok(run("evaluate", path, "xor", "--json", cwd=tmp_path)).stdout)
    assert result["accuracy"] == 1.0 and result["confusion_matrix"] == [[2, 0], [0, 2]]
    assert result["loss"] == pytest.approx(0.0, abs=1e-12)     # the hand-made net is exact
    text = ok(run("evaluate", path, "xor", cwd=tmp_path)).stdout
    assert "accuracy: 1.0000" in text and "confusion matrix" in text


def test_xor_command_is_wired(tmp_path):
    result = run("xor", "--out", tmp_path / "figs", cwd=tmp_path, timeout=300)
    try:
        import mlp.xor_story  # noqa: F401
    except ModuleNotFoundError:
        assert_clean_error(result, "xor_story")
        return
    ok(result)
    assert any((tmp_path / "figs").iterdir())


# ------------------------------------------------------------------ train → info → predict → evaluate


def test_csv_workflow(tmp_path):
    truth = blobs_csv(tmp_path / "blobs.csv")
    model = tmp_path / "blobs.safetensors"
    result = ok(run("train", "blobs.csv", "--hidden", "16", "--epochs", "40", "--batch-size", "16",
                    "--lr", "0.01", "--seed", "0", "--out", model.name, cwd=tmp_path))
    assert model.exists() and "trained 4-16-3" in result.stdout
    info = ok(run("info", model.name, cwd=tmp_path)).stdout
    assert "4-16-3" in info and "blue, green, red" in info and "standardised" in info
    assert "cross_entropy" in info and "40 epochs" in info

    ok(run("predict", model.name, "blobs.csv", "--out", "pred.csv", cwd=tmp_path))
    header, rows = read_predictions(tmp_path / "pred.csv")
    assert header == ["prediction"] and len(rows) == len(truth)
    assert np.mean(np.array([r[0] for r in rows]) == truth) >= 0.9

    ok(run("predict", model.name, "blobs.csv", "--proba", "--out", "proba.csv", cwd=tmp_path))
    header, rows = read_predictions(tmp_path / "proba.csv")
    assert header == ["prediction", "p_blue", "p_green", "p_red"]
    p = np.array([[float(v) for v in r[1:]] for r in rows])
    np.testing.assert_allclose(p.sum(axis=1), 1, atol=1e-5)
    assert [r[0] for r in rows] == [["blue", "green", "red"][i] for i in p.argmax(axis=1)]

    evaluation = json.loads(ok(run("evaluate", model.name, "blobs.csv", "--json", cwd=tmp_path)).stdout)
    assert evaluation["accuracy"] == pytest.approx(np.mean(np.array([r[0] for r in rows]) == truth))
    assert np.sum(evaluation["confusion_matrix"]) == len(truth)

    # The model picks its feature columns by name: a reordered file without the target works.
    with open(tmp_path / "blobs.csv") as f:
        table = list(csv.reader(f))
    with open(tmp_path / "reordered.csv", "w", newline="") as f:
        csv.writer(f).writerows([[r[3], r[2], r[1], r[0]] for r in table])
    ok(run("predict", model.name, "reordered.csv", "--out", "pred2.csv", cwd=tmp_path))
    assert open(tmp_path / "pred2.csv").read() == open(tmp_path / "pred.csv").read()


def test_xor_workflow(tmp_path):
    ok(run("train", "xor", "--hidden", "8", "--epochs", "300", "--lr", "0.05", "--batch-size", "full",
           "--seed", "1", "--out", "xor.safetensors", cwd=tmp_path))
    info = json.loads(ok(run("info", "xor.safetensors", "--json", cwd=tmp_path)).stdout)
    assert info["sizes"] == [2, 8, 1] and info["activations"] == ["relu", "sigmoid"]
    header, rows = read_predictions(ok(run("predict", "xor.safetensors", "xor", cwd=tmp_path)).stdout,
                                    from_text=True)
    assert [r[0] for r in rows] == ["0", "1", "1", "0"]
    result = json.loads(ok(run("evaluate", "xor.safetensors", "xor", "--json", cwd=tmp_path)).stdout)
    assert result["accuracy"] == 1.0 and result["loss_name"] == "binary_cross_entropy"


def test_digits_workflow(tmp_path):
    pytest.importorskip("sklearn")
    ok(run("train", "digits", "--hidden", "32", "--epochs", "8", "--batch-size", "32", "--lr", "0.005",
           "--validation-split", "0.2", "--seed", "0", "--out", "digits.safetensors", cwd=tmp_path))
    info = json.loads(ok(run("info", "digits.safetensors", "--json", cwd=tmp_path)).stdout)
    assert info["sizes"] == [64, 32, 10] and info["classes"] == list(range(10))
    assert info["metadata"]["n_train"] == 1437 and info["metadata"]["n_validation"] == 360
    assert info["metadata"]["final"]["val_accuracy"] >= 0.9
    ok(run("predict", "digits.safetensors", "digits", "--out", "pred.csv", cwd=tmp_path))
    _, rows = read_predictions(tmp_path / "pred.csv")
    X, y = mlp.datasets.digits()
    assert len(rows) == len(y)
    assert np.mean(np.array([int(r[0]) for r in rows]) == y) >= 0.93
    result = json.loads(ok(run("evaluate", "digits.safetensors", "digits", "--json", cwd=tmp_path)).stdout)
    assert result["accuracy"] >= 0.93 and np.trace(result["confusion_matrix"]) == round(
        result["accuracy"] * len(y))


def test_regression_npz_workflow(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(200, 2))
    y = 3 * X[:, 0] - 2 * X[:, 1] + 0.5 + 0.01 * rng.normal(size=200)
    np.savez(tmp_path / "lin.npz", X=X, y=y)
    ok(run("train", "lin.npz", "--hidden", "16", "--epochs", "60", "--lr", "0.01", "--batch-size", "20",
           "--seed", "0", "--out", "lin.safetensors", cwd=tmp_path))
    result = json.loads(ok(run("evaluate", "lin.safetensors", "lin.npz", "--json", cwd=tmp_path)).stdout)
    assert result["r2"] > 0.95
    header, rows = read_predictions(ok(run("predict", "lin.safetensors", "lin.npz", cwd=tmp_path)).stdout,
                                    from_text=True)
    assert header == ["prediction"] and len(rows) == 200
    pred = np.array([float(r[0]) for r in rows])
    assert 1 - np.sum((pred - y) ** 2) / np.sum((y - y.mean()) ** 2) == pytest.approx(result["r2"], abs=1e-6)
    assert_clean_error(run("predict", "lin.safetensors", "lin.npz", "--proba", cwd=tmp_path), "classifier")
    # the text report names the training loss's reduction: ½ Σ (ŷ − y)² is n/2 times the MSE beside it
    text = ok(run("evaluate", "lin.safetensors", "lin.npz", cwd=tmp_path)).stdout
    loss = float(re.search(r"loss \(mse, ½ Σ over examples and outputs\): (\S+)", text).group(1))
    mse = float(re.search(r"MSE: (\S+)", text).group(1))
    assert loss == pytest.approx(200 / 2 * mse, rel=1e-4)


def test_no_scale_and_explicit_head(tmp_path):
    ok(run("train", "moons", "--no-scale", "--loss", "cross_entropy", "--hidden", "8,8", "--epochs", "3",
           "--seed", "0", "--out", "m.safetensors", cwd=tmp_path))
    info = json.loads(ok(run("info", "m.safetensors", "--json", cwd=tmp_path)).stdout)
    assert info["scaled"] is False and info["sizes"] == [2, 8, 8, 2]
    assert info["activations"] == ["relu", "relu", "softmax"]


# --------------------------------------------------------------------------- resume and Ctrl-C


def test_resume_is_bit_identical(tmp_path):
    common = ["train", "moons", "--hidden", "8", "--batch-size", "16", "--optimizer", "adam", "--lr", "0.01",
              "--validation-split", "0.2", "--seed", "3"]
    ok(run(*common, "--epochs", "6", "--out", "straight.safetensors", cwd=tmp_path))
    ok(run(*common, "--epochs", "3", "--checkpoint", "half.ckpt.safetensors", "--out", "half.safetensors",
           cwd=tmp_path))
    resumed_run = ok(run(*common, "--epochs", "6", "--resume", "half.ckpt.safetensors", "--out",
                         "resumed.safetensors", cwd=tmp_path))
    assert "for epochs 4–6 (resumed) in" in resumed_run.stdout     # its seconds cover these only
    straight = mlp.load(tmp_path / "straight.safetensors")
    half = mlp.load(tmp_path / "half.safetensors")
    resumed = mlp.load(tmp_path / "resumed.safetensors")
    assert not np.array_equal(half.params, straight.params)
    np.testing.assert_array_equal(resumed.params, straight.params)
    assert resumed.metadata["epochs"] == 6
    assert list(resumed.history.loss) == list(straight.history.loss)


def test_resume_with_early_stopping_is_bit_identical(tmp_path):
    # The checkpoint carries early stopping's watch (best, patience count, best parameters) and
    # the parameters reached before the best were put back: the resumed run stops where one
    # uninterrupted run stops, with the same parameters.
    common = ["train", "moons", "--hidden", "8", "--batch-size", "16", "--optimizer", "sgd", "--lr", "0.5",
              "--validation-split", "0.2", "--seed", "3", "--early-stopping", "--patience", "3"]
    ok(run(*common, "--epochs", "300", "--out", "straight.safetensors", cwd=tmp_path))
    straight = mlp.load(tmp_path / "straight.safetensors")
    val = list(straight.history.val_loss)
    cut = val.index(min(val)) + 2                 # after the best epoch, before the stop
    assert cut < straight.metadata["epochs"] < 300
    ok(run(*common, "--epochs", str(cut), "--checkpoint", "half.ckpt.safetensors",
           "--out", "half.safetensors", cwd=tmp_path))
    ok(run(*common, "--epochs", "300", "--resume", "half.ckpt.safetensors", "--out", "resumed.safetensors",
           cwd=tmp_path))
    resumed = mlp.load(tmp_path / "resumed.safetensors")
    assert resumed.metadata["epochs"] == straight.metadata["epochs"]
    assert list(resumed.history.val_loss) == val
    np.testing.assert_array_equal(resumed.params, straight.params)


@pytest.mark.parametrize("checkpoint", ["mid-run", "at-the-stop", "after-the-stop"])
def test_resume_with_early_stopping_needs_only_the_checkpoint(tmp_path, checkpoint):
    # `mlp train DATA --resume CKPT` alone goes on as the checkpoint's run was set up (batch size,
    # early stopping, patience), and a checkpoint of a run that has already stopped early ends as
    # that run ended: with its best parameters, not a few epochs more.
    common = ["train", "moons", "--hidden", "8", "--batch-size", "16", "--optimizer", "adam", "--lr", "0.003",
              "--validation-split", "0.2", "--seed", "3", "--early-stopping", "--patience", "4"]
    ok(run(*common, "--epochs", "300", "--out", "straight.safetensors", cwd=tmp_path))
    straight = mlp.load(tmp_path / "straight.safetensors")
    val, stop = list(straight.history.val_loss), straight.metadata["epochs"]
    assert straight.history.stop_reason == "early_stopping" and stop < 300
    if checkpoint == "mid-run":           # past the best epoch, before the stop
        cut = val.index(min(val)) + 2
        assert cut < stop
        ok(run(*common, "--epochs", cut, "--checkpoint", "ckpt.safetensors", "--out", "half.safetensors",
               cwd=tmp_path))
    elif checkpoint == "at-the-stop":     # written every epoch: the last one before the best is put back
        ok(run(*common, "--epochs", "300", "--checkpoint-every", "1", "--out", "other.safetensors",
               cwd=tmp_path))
        (tmp_path / "other.ckpt.safetensors").rename(tmp_path / "ckpt.safetensors")
        at_stop = mlp.load_checkpoint(tmp_path / "ckpt.safetensors")
        assert at_stop.train_state.epoch == stop and not np.array_equal(at_stop.params, straight.params)
    else:                                 # written at the end, best parameters back in place
        ok(run(*common, "--epochs", "300", "--checkpoint", "ckpt.safetensors", "--out", "other.safetensors",
               cwd=tmp_path))
    result = ok(run("train", "moons", "--epochs", "300", "--resume", "ckpt.safetensors",
                    "--out", "resumed.safetensors", cwd=tmp_path))
    if checkpoint != "mid-run":
        assert f"stopped early at epoch {stop}" in result.stderr
    resumed = mlp.load(tmp_path / "resumed.safetensors")
    assert resumed.metadata["epochs"] == stop and resumed.history.stop_reason == "early_stopping"
    assert (resumed.metadata["batch_size"], resumed.metadata["patience"]) == (16, 4)
    assert list(resumed.history.val_loss) == val
    np.testing.assert_array_equal(resumed.params, straight.params)


def test_resume_without_early_stopping_trains_on(tmp_path):
    common = ["train", "moons", "--hidden", "8", "--optimizer", "adam", "--lr", "0.01", "--seed", "3",
              "--validation-split", "0.2", "--early-stopping", "--patience", "1"]
    ok(run(*common, "--epochs", "300", "--checkpoint", "ckpt.safetensors", "--out", "m.safetensors",
           cwd=tmp_path))
    stop = mlp.load(tmp_path / "m.safetensors").metadata["epochs"]
    assert stop < 300
    ok(run("train", "moons", "--epochs", stop + 5, "--no-early-stopping", "--resume", "ckpt.safetensors",
           "--out", "more.safetensors", cwd=tmp_path))
    more = mlp.load(tmp_path / "more.safetensors")
    assert more.metadata["epochs"] == stop + 5 and more.metadata["early_stopping"] is False


def _lines(stream, q):
    for line in iter(stream.readline, ""):
        q.put(line)
    q.put(None)


def _interrupted(cmd, cwd, after=0.0):
    """Run ``cmd``, send SIGINT ``after`` seconds after training has started; (exit code, stderr)."""
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=ENV)
    q: queue.Queue = queue.Queue()
    threading.Thread(target=_lines, args=(proc.stderr, q), daemon=True).start()
    seen = []
    try:
        while True:
            line = q.get(timeout=60)
            assert line is not None, "".join(seen)
            seen.append(line)
            if "Ctrl-C" in line:
                break
        time.sleep(after)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    while (line := q.get(timeout=10)) is not None:
        seen.append(line)
    return proc.returncode, "".join(seen)


def test_ctrl_c_saves_a_checkpoint_and_resumes(tmp_path):
    cmd = [*MLP, "train", "moons", "--n", "2000", "--hidden", "16", "--epochs", "100000",
           "--batch-size", "8", "--seed", "0", "--out", "model.safetensors"]
    code, err = _interrupted(cmd, tmp_path)
    assert code == 130, err
    assert "Traceback" not in err
    checkpoint = tmp_path / "model.ckpt.safetensors"
    assert checkpoint.exists() and not (tmp_path / "model.safetensors").exists()
    match = re.search(r"resume with: (.*)", err)
    assert match, err
    resume = shlex.split(match.group(1))
    assert resume[0] == "mlp" and resume[-2:] == ["--resume", "model.ckpt.safetensors"]
    net = mlp.load_checkpoint(checkpoint)
    done = net.train_state.epoch
    # Finish the job with the printed command, asking for two more epochs.
    resume[resume.index("--epochs") + 1] = str(done + 2)
    ok(run(*resume[1:], cwd=tmp_path))
    final = mlp.load(tmp_path / "model.safetensors")
    assert final.metadata["epochs"] == done + 2


def test_ctrl_c_with_early_stopping_resumes_exactly(tmp_path):
    # Ctrl-C keeps the latest parameters and saves the watch; the resumed run puts the best back
    # at its end exactly as one run of the same length does.
    args = ["train", "moons", "--n", "2000", "--hidden", "16", "--batch-size", "8", "--optimizer", "sgd",
            "--lr", "0.5", "--validation-split", "0.2", "--seed", "0", "--early-stopping",
            "--patience", "100000"]
    code, err = _interrupted([*MLP, *args, "--epochs", "100000", "--out", "model.safetensors"], tmp_path,
                             after=0.5)
    assert code == 130, err
    ckpt = mlp.load_checkpoint(tmp_path / "model.ckpt.safetensors")
    done, val = ckpt.train_state.epoch, list(ckpt.history.val_loss)
    watch = ckpt.train_state.early_stopping
    assert len(val) == done and watch["stopped_epoch"] is None
    assert (watch["best"], watch["best_epoch"]) == (min(val), val.index(min(val)) + 1)
    assert watch["wait"] == done - watch["best_epoch"]
    ok(run("train", "moons", "--n", "2000", "--epochs", done + 3, "--resume", "model.ckpt.safetensors",
           "--out", "resumed.safetensors", cwd=tmp_path))
    ok(run(*args, "--epochs", done + 3, "--out", "straight.safetensors", cwd=tmp_path))
    resumed, straight = (mlp.load(tmp_path / f) for f in ("resumed.safetensors", "straight.safetensors"))
    assert list(resumed.history.val_loss) == list(straight.history.val_loss)
    np.testing.assert_array_equal(resumed.params, straight.params)


# ------------------------------------------------------------------ bad input: one line, nothing damaged


BAD_CSVS = {
    "empty": ("", "empty"),
    "ragged": ("x1,x2,y\n1,2,0\n3,4\n", "line 3 has 2 fields"),
    "non_numeric": ("x1,x2,y\n1,two,0\n3,4,1\n", "'two' is not a number"),
    "nan": ("x1,x2,y\n1,nan,0\n3,4,1\n", "NaN"),
}


@pytest.mark.parametrize("case", sorted(BAD_CSVS))
def test_bad_csv(tmp_path, earlier_model, case):
    text, words = BAD_CSVS[case]
    (tmp_path / "bad.csv").write_text(text)
    assert_clean_error(run("train", "bad.csv", "--out", "model.safetensors", cwd=tmp_path), "bad.csv", words)
    assert_clean_error(run("predict", "model.safetensors", "bad.csv", cwd=tmp_path), "bad.csv")
    assert_intact(earlier_model)


def test_unknown_target_column(tmp_path, earlier_model):
    (tmp_path / "d.csv").write_text("x1,x2,y\n1,2,0\n3,4,1\n")
    assert_clean_error(run("train", "d.csv", "--target", "label", "--out", "model.safetensors", cwd=tmp_path),
                       "no column 'label'", "x1, x2, y")
    assert_intact(earlier_model)


def test_missing_files(tmp_path, earlier_model):
    assert_clean_error(run("train", "nope.csv", cwd=tmp_path), "nope.csv")
    assert_clean_error(run("train", "no-such-dataset", cwd=tmp_path), "no-such-dataset", "xor")
    assert_clean_error(run("predict", "missing.safetensors", "xor", cwd=tmp_path), "missing.safetensors")
    assert_clean_error(run("info", "missing.safetensors", cwd=tmp_path), "missing.safetensors")
    assert_clean_error(run("predict", "model.safetensors", "nope.csv", cwd=tmp_path), "nope.csv")
    assert_intact(earlier_model)


def test_model_input_width_differs_from_data(tmp_path, earlier_model):
    (tmp_path / "three.csv").write_text("a,b,c\n1,2,3\n4,5,6\n")
    assert_clean_error(run("predict", "model.safetensors", "three.csv", cwd=tmp_path),
                       "takes 2 input features", "three.csv has 3")
    np.savez(tmp_path / "five.npz", X=np.ones((4, 5)), y=np.array([0, 1, 0, 1]))
    assert_clean_error(run("evaluate", "model.safetensors", "five.npz", cwd=tmp_path),
                       "takes 2 input features", "five.npz has 5")
    assert_intact(earlier_model)


def test_truncated_model_file(tmp_path, earlier_model):
    path, before = earlier_model
    (tmp_path / "cut.safetensors").write_bytes(before[: len(before) // 2])
    for command in ("info", "predict", "evaluate"):
        args = [command, "cut.safetensors"] + ([] if command == "info" else ["xor"])
        assert_clean_error(run(*args, cwd=tmp_path), "cut.safetensors", "not a valid model file")


def test_file_that_is_not_safetensors(tmp_path):
    (tmp_path / "notes.safetensors").write_text("x,y\n1,2\n")
    assert_clean_error(run("info", "notes.safetensors", cwd=tmp_path), "not a valid model file")
    np.save(tmp_path / "arr.npy", np.ones(3))
    assert_clean_error(run("predict", "arr.npy", "xor", cwd=tmp_path), "not a valid model file")


def test_hostile_headers(tmp_path, earlier_model):
    path, before = earlier_model
    n = int.from_bytes(before[:8], "little")
    header, data = json.loads(before[8:8 + n]), before[8 + n:]

    def write(name, h, d=data):
        text = json.dumps(h).encode()
        (tmp_path / name).write_bytes(len(text).to_bytes(8, "little") + text + d)

    huge = json.loads(json.dumps(header))
    huge["layers.0.weight"]["shape"] = [2**40, 2**40]
    write("huge.safetensors", huge)
    assert_clean_error(run("info", "huge.safetensors", cwd=tmp_path), "layers.0.weight")

    swapped = json.loads(json.dumps(header))
    arch = json.loads(swapped["__metadata__"]["architecture"])
    arch["layers"][0]["n_in"] = 1
    swapped["__metadata__"]["architecture"] = json.dumps(arch)
    write("arch.safetensors", swapped)
    assert_clean_error(run("predict", "arch.safetensors", "xor", cwd=tmp_path), "architecture")

    (tmp_path / "length.safetensors").write_bytes((2**62).to_bytes(8, "little") + b"{}")
    assert_clean_error(run("info", "length.safetensors", cwd=tmp_path), "header claims")
    assert_intact(earlier_model)


def _drop_root_override():
    """In the child: lose root's permission override, so that a read-only folder is read-only."""
    if os.geteuid() != 0:
        return None
    libc = ctypes.CDLL(None, use_errno=True)

    def pre():
        for cap in (1, 2):      # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, from the bounding set
            if libc.prctl(24, cap, 0, 0, 0) != 0:
                os._exit(77)
    return pre


def test_unwritable_output_folder(tmp_path, earlier_model):
    folder = tmp_path / "readonly"
    folder.mkdir()
    inside = folder / "model.safetensors"
    mlp.save(xor_by_hand(), inside, classes=[0, 1])
    before = inside.read_bytes()
    folder.chmod(0o555)
    try:
        result = run("train", "xor", "--epochs", "2", "--out", inside, "-q", cwd=tmp_path,
                     preexec_fn=_drop_root_override())
        if result.returncode == 77:
            pytest.skip("cannot drop root's permission override here")
        assert_clean_error(result, "cannot write", "readonly")
        result = run("predict", "model.safetensors", "xor", "--out", folder / "p.csv", cwd=tmp_path,
                     preexec_fn=_drop_root_override())
        assert_clean_error(result, "cannot write")
    finally:
        folder.chmod(0o755)
    assert inside.read_bytes() == before
    np.testing.assert_array_equal(mlp.load(inside).params, xor_by_hand().params)
    assert sorted(p.name for p in folder.iterdir()) == ["model.safetensors"]


def test_output_folder_missing_or_a_file(tmp_path, earlier_model):
    assert_clean_error(run("train", "xor", "--out", "no/such/dir/m.safetensors", cwd=tmp_path),
                       "does not exist")
    assert_clean_error(run("train", "xor", "--out", "model.safetensors/m.safetensors", cwd=tmp_path))
    assert_clean_error(run("train", "xor", "--out", ".", cwd=tmp_path), "folder")
    assert_intact(earlier_model)


def _limit_file_size(limit):
    def pre():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)     # get EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return pre


def test_disk_full_during_save_keeps_the_earlier_model(tmp_path, earlier_model):
    path, before = earlier_model
    # The new model (1,025 parameters) is far bigger than 1,500 bytes: the write fails midway, like a
    # full disk.
    result = run("train", "moons", "--hidden", "256", "--epochs", "1", "--out", "model.safetensors", "-q",
                 cwd=tmp_path, preexec_fn=_limit_file_size(1500))
    assert_clean_error(result, "model.safetensors: could not save (file too large)", "unchanged")
    assert_intact(earlier_model)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
