"""`mlp train` past one CPU: memory-mapped DATA (.npy + --targets, shard folders, Parquet), --engine,
--nproc-per-node, torchrun's flags and the torchrun launcher; every bad input one line, exit 1,
nothing written.

Most commands run in this process (`mlp.cli.main`: no interpreter start-up); the torchrun test
starts two real processes with torchrun's environment, as the launcher does.
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest

import mlp
from mlp.cli import main

RNG = np.random.default_rng(0)
X = RNG.normal(size=(240, 5)).astype(np.float32)          # float32: the same numbers in every format
Y = (X[:, 0] + X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 0.6)
COMMON = ["--epochs", "3", "--seed", "1", "--batch-size", "32", "--hidden", "8", "-q"]


@pytest.fixture(autouse=True)
def _not_under_a_launcher(monkeypatch):
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def files(tmp_path):
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", Y)
    return tmp_path


def train(*args):
    return main(["train", *map(str, args)])


def refused(capsys, out, *args, words=()):
    """The command exits 1 with one line on stderr naming the problem, and writes nothing."""
    before = out.read_bytes() if out.exists() else None
    capsys.readouterr()
    assert train(*args, "--out", out) == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("mlp: error: "), lines
    for word in words:
        assert word in lines[0], lines[0]
    assert (out.read_bytes() if out.exists() else None) == before
    return lines[0]


def params(path):
    return mlp.load(path).params


def test_npy_with_targets_gives_the_model_of_the_same_data_as_npz_and_csv(files):
    np.savez(files / "d.npz", X=X, y=Y)
    with open(files / "d.csv", "w") as f:
        f.write("a,b,c,d,e,label\n")
        for row, label in zip(X.tolist(), Y.tolist()):
            f.write(",".join(map(repr, row)) + f",{label}\n")
    for data, extra in (("X.npy", ["--targets", files / "y.npy"]), ("d.npz", []), ("d.csv", [])):
        for split in ("0", "0.2"):      # 0.2: a seeded stratified split, views of the memory map
            assert train(files / data, *extra, *COMMON, "--validation-split", split,
                         "--out", files / f"{data}-{split}.safetensors") == 0
    for split in ("0", "0.2"):
        a = params(files / f"X.npy-{split}.safetensors")
        np.testing.assert_array_equal(a, params(files / f"d.npz-{split}.safetensors"))
        np.testing.assert_array_equal(a, params(files / f"d.csv-{split}.safetensors"))
    meta = mlp.load(files / "X.npy-0.2.safetensors").metadata
    assert meta["n_train"] == 192 and meta["n_validation"] == 48 and meta["target"] == "y"


def test_targets_npy_of_class_labels_stay_memory_mapped(files, monkeypatch):
    """--targets y.npy of labels 0 … k−1: fit trains on the memory map itself (one streaming pass
    finds the classes); other integer labels are coded in one vectorised pass — the same model."""
    from mlp import sources
    seen, check = [], sources.check_target_rows

    def spy(y, *args, **kw):
        seen.append((y, check(y, *args, **kw)))
        return seen[-1][1]

    monkeypatch.setattr(sources, "check_target_rows", spy)
    assert train(files / "X.npy", "--targets", files / "y.npy", *COMMON,
                 "--out", files / "a.safetensors") == 0
    given, trained_on = seen[-1]
    assert isinstance(given, np.memmap) and os.path.samefile(given.filename, files / "y.npy")
    assert np.shares_memory(trained_on, given)                   # never copied
    np.save(files / "y7.npy", Y * 2 + 5)                         # labels 5, 7, 9: coded 0, 1, 2
    assert train(files / "X.npy", "--targets", files / "y7.npy", *COMMON,
                 "--out", files / "b.safetensors") == 0
    np.testing.assert_array_equal(params(files / "b.safetensors"), params(files / "a.safetensors"))
    assert mlp.load(files / "b.safetensors").classes_ == [5, 7, 9]
    assert mlp.load(files / "a.safetensors").classes_ == [0, 1, 2]


def test_a_shard_folder_and_a_parquet_file_train_like_the_csv(files, tmp_path):
    with open(files / "d.csv", "w") as f:
        f.write("a,b,c,d,e,label\n")
        for row, label in zip(X.tolist(), Y.tolist()):
            f.write(",".join(map(repr, row)) + f",{'abc'[label]}\n")
    assert main(["convert", str(files / "d.csv"), str(files / "shards"), "-q", "--shard-mb", "0.002"]) == 0
    assert len(list((files / "shards").glob("X-*.npy"))) > 1
    assert train(files / "shards", *COMMON, "--out", files / "s.safetensors") == 0
    assert train(files / "d.csv", *COMMON, "--out", files / "c.safetensors") == 0
    np.testing.assert_array_equal(params(files / "s.safetensors"), params(files / "c.safetensors"))
    assert mlp.load(files / "s.safetensors").classes_ == ["a", "b", "c"]
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = {name: X[:, j] for j, name in enumerate("abcde")}
    pq.write_table(pa.table({"label": np.array(list("abc"))[Y], **table}), tmp_path / "d.parquet")
    assert train(tmp_path / "d.parquet", "--target", "label", *COMMON, "--out", files / "p.safetensors") == 0
    np.testing.assert_array_equal(params(files / "p.safetensors"), params(files / "c.safetensors"))


def test_a_shard_folder_with_mismatched_widths_or_dtypes(tmp_path, capsys):
    out = tmp_path / "model.safetensors"
    out.write_bytes(b"an earlier model")
    for name, X2, words in (("width", np.zeros((10, 4), np.float32), ["X-1.npy has 4 features", "width"]),
                            ("dtype", np.zeros((10, 5), np.float64), ["dtype float64", "one dtype"])):
        folder = tmp_path / name
        folder.mkdir()
        np.save(folder / "X-0.npy", X[:20])
        np.save(folder / "y-0.npy", Y[:20])
        np.save(folder / "X-1.npy", X2)
        np.save(folder / "y-1.npy", Y[:10])
        refused(capsys, out, folder, *COMMON, words=words)


def test_a_truncated_npy_and_targets_of_another_length(files, capsys):
    out = files / "model.safetensors"
    whole = (files / "X.npy").read_bytes()
    (files / "cut.npy").write_bytes(whole[:len(whole) // 2])
    refused(capsys, out, files / "cut.npy", "--targets", files / "y.npy", *COMMON,
            words=["cut.npy: truncated .npy file"])
    np.save(files / "y_short.npy", Y[:-1])
    refused(capsys, out, files / "X.npy", "--targets", files / "y_short.npy", *COMMON,
            words=["y_short.npy: has 239 targets", "X.npy has 240 rows"])
    refused(capsys, out, files / "X.npy", *COMMON, words=["needs its targets", "--targets y.npy"])


def test_a_parquet_file_without_the_target_column(tmp_path, capsys, monkeypatch):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    pq.write_table(pa.table({"a": X[:, 0], "b": X[:, 1], "label": Y}), tmp_path / "d.parquet")
    (tmp_path / "temp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "temp"))    # where the shards would go
    out = tmp_path / "model.safetensors"
    refused(capsys, out, tmp_path / "d.parquet", "--target", "species", *COMMON,
            words=["no column 'species'", "a, b, label"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.parquet", "temp"]
    assert not any((tmp_path / "temp").iterdir())


def test_bad_process_flags_are_refused_before_anything_is_read(files, capsys):
    out = files / "model.safetensors"
    data = [files / "X.npy", "--targets", files / "y.npy", *COMMON]
    refused(capsys, out, *data, "--nproc-per-node", "0", words=["--nproc-per-node must be at least 1, got 0"])
    refused(capsys, out, *data, "--nnodes", "2", words=["--nnodes > 1 needs --master-port"])
    refused(capsys, out, *data, "--nnodes", "2", "--node-rank", "2", "--master-port", "29500",
            words=["--node-rank must be in 0 ... 1"])
    refused(capsys, out, *data, "--nproc-per-node", "2", "--engine", "numpy", words=["--engine torch"])
    refused(capsys, out, *data, "--timeout", "5", words=["--timeout goes with --nproc-per-node"])


def test_an_unreachable_master_is_one_line_within_the_timeout(files, capsys):
    pytest.importorskip("torch")
    with socket.socket() as s:                     # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t = time.monotonic()
    refused(capsys, files / "model.safetensors", files / "X.npy", "--targets", files / "y.npy", *COMMON,
            "--nnodes", "2", "--node-rank", "1", "--master-addr", "127.0.0.1", "--master-port", port,
            "--timeout", "1", words=[f"cannot reach the master at 127.0.0.1:{port} within 1 s"])
    assert time.monotonic() - t < 8


def test_engine_torch_without_torch_says_how_to_install_it(files, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    refused(capsys, files / "model.safetensors", files / "X.npy", "--targets", files / "y.npy", *COMMON,
            "--engine", "torch", words=["pip install 'mlp[torch]'"])


def test_two_processes_give_the_parameters_of_one(files):
    pytest.importorskip("torch")
    assert train(files / "X.npy", "--targets", files / "y.npy", *COMMON, "--engine", "torch",
                 "--out", files / "one.safetensors") == 0
    (files / "two.safetensors").write_bytes(b"an earlier model")
    t = time.monotonic()
    assert train(files / "X.npy", "--targets", files / "y.npy", *COMMON, "--nproc-per-node", "2",
                 "--timeout", "30", "--out", files / "two.safetensors") == 0
    assert time.monotonic() - t < 60
    np.testing.assert_allclose(params(files / "two.safetensors"), params(files / "one.safetensors"),
                               rtol=0, atol=1e-5)
    assert mlp.load(files / "two.safetensors").history.loss


def test_under_torchrun_each_process_is_one_rank_and_rank_0_writes(files, monkeypatch):
    """torchrun's environment in two processes: rank 1 a fresh `mlp train`, rank 0 this one."""
    pytest.importorskip("torch")
    assert train(files / "X.npy", "--targets", files / "y.npy", *COMMON, "--engine", "torch",
                 "--out", files / "one.safetensors") == 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    launcher = dict(WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), LOCAL_WORLD_SIZE="2")
    env = {k: v for k, v in os.environ.items() if k != "MLP_DEBUG"}
    rank1 = subprocess.Popen([sys.executable, "-m", "mlp", "train", str(files / "X.npy"), "--targets",
                              str(files / "y.npy"), *COMMON, "--out", str(files / "rank1.safetensors")],
                             env={**env, **launcher, "RANK": "1", "LOCAL_RANK": "1"}, cwd=files,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for key, value in {**launcher, "RANK": "0", "LOCAL_RANK": "0"}.items():
        monkeypatch.setenv(key, value)
    try:
        assert train(files / "X.npy", "--targets", files / "y.npy", *COMMON, "--timeout", "30",
                     "--out", files / "rank0.safetensors") == 0
    finally:
        out = rank1.communicate(timeout=60)
    assert rank1.returncode == 0, out
    assert not (files / "rank1.safetensors").exists()          # rank 1 writes nothing
    np.testing.assert_allclose(params(files / "rank0.safetensors"), params(files / "one.safetensors"),
                               rtol=0, atol=1e-5)


# --------------------------------------------------------------------------- Ctrl-C with several processes

FLAGS = ["--epochs", "3", "--seed", "1", "--batch-size", "32", "--hidden", "8", "--dtype", "float64"]


def _launch(files, *args):
    """`mlp train … --nproc-per-node 2` as its own process; returns it once its training has begun
    (the line that says so), so that a SIGINT now reaches mlp train's own Ctrl-C guard."""
    env = {k: v for k, v in os.environ.items() if k != "MLP_DEBUG"}
    proc = subprocess.Popen([sys.executable, "-m", "mlp", "train", "X.npy", "--targets", "y.npy", *FLAGS,
                             "--nproc-per-node", "2", "--timeout", "30", *args], cwd=files, env=env,
                            stderr=subprocess.PIPE, text=True)
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if "Ctrl-C saves a checkpoint" in line:
            return proc, lines
    proc.wait(timeout=30)
    raise AssertionError("".join(lines))


def _resume_line(err: str) -> list:
    line = next(x for x in err.splitlines() if x.startswith("mlp: resume with: "))
    return line.removeprefix("mlp: resume with: mlp train ").split()


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """One run of 3 epochs on 2 processes, SIGINT to the launcher as training begins: every worker
    stops after epoch 1 (the press waits for them), the launcher saves the checkpoint and exits 130;
    the model file from before is left as it was. Also the 1-process run it must end as."""
    pytest.importorskip("torch")
    files = tmp_path_factory.mktemp("ctrl_c")
    np.save(files / "X.npy", X.astype(np.float64))
    np.save(files / "y.npy", Y)
    assert main(["train", str(files / "X.npy"), "--targets", str(files / "y.npy"), *FLAGS, "-q",
                 "--out", str(files / "one.safetensors")]) == 0
    (files / "m.safetensors").write_bytes(b"an earlier model")
    proc, lines = _launch(files, "--out", "m.safetensors")
    proc.send_signal(signal.SIGINT)
    err = "".join(lines) + proc.communicate(timeout=60)[1]
    return files, proc.returncode, err


def test_ctrl_c_to_the_launcher_stops_every_worker_after_the_epoch_and_resume_continues(interrupted):
    files, code, err = interrupted
    assert code == 130, err
    assert "interrupted after epoch 1: checkpoint saved to m.ckpt.safetensors" in err, err
    assert "Traceback" not in err and "died" not in err
    assert (files / "m.safetensors").read_bytes() == b"an earlier model"          # nothing lost
    assert mlp.io.load_checkpoint(files / "m.ckpt.safetensors").train_state.epoch == 1
    again = subprocess.run([sys.executable, "-m", "mlp", "train", *_resume_line(err), "-q"], cwd=files,
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    done = mlp.load(files / "m.safetensors")
    np.testing.assert_allclose(done.params, params(files / "one.safetensors"), rtol=0, atol=1e-5)
    assert len(done.history.loss) == 3


def test_a_second_ctrl_c_stops_at_once_and_keeps_the_last_completed_epoch(interrupted):
    """Resumed from epoch 1 for 40 epochs; once the workers train (their first checkpoint is there),
    two presses: every worker stops after the current batch and the checkpoint is the last completed
    epoch — the 1-process run's parameters after that epoch (that such a checkpoint resumes exactly,
    the test above shows)."""
    files, code, err = interrupted
    (files / "c.safetensors").write_bytes((files / "m.ckpt.safetensors").read_bytes())
    proc, lines = _launch(files, "--out", "n.safetensors", "--resume", "c.safetensors", "--epochs", "40",
                          "--checkpoint-every", "1")
    deadline = time.monotonic() + 30
    while not (files / "n.ckpt.safetensors").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    for line in proc.stderr:                # the first press is taken before the second comes
        lines.append(line)
        if "Ctrl-C: stopping after this epoch" in line:
            break
    proc.send_signal(signal.SIGINT)
    err2 = "".join(lines) + proc.communicate(timeout=60)[1]
    assert proc.returncode == 130, err2
    assert "Traceback" not in err2 and not (files / "n.safetensors").exists()
    ckpt = mlp.io.load_checkpoint(files / "n.ckpt.safetensors")
    epoch = ckpt.train_state.epoch
    assert 2 <= epoch < 40 and len(ckpt.history.loss) == epoch, err2
    assert f"interrupted during epoch {epoch + 1}: the checkpoint holds epoch {epoch}" in err2, err2
    assert main(["train", str(files / "X.npy"), "--targets", str(files / "y.npy"), *FLAGS[2:], "--epochs",
                 str(epoch), "-q", "--out", str(files / "ref.safetensors")]) == 0
    np.testing.assert_allclose(ckpt.params, params(files / "ref.safetensors"), rtol=0, atol=1e-5)
