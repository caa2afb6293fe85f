"""``mlp train --resume`` goes on with the checkpoint's hyper-parameters exactly (issue 14): fit's
"auto" epochs and weight decay are recorded as numbers, and every value a resumed run takes from
the checkpoint's metadata is checked when it is loaded (one line naming the file and the field)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import mlp
from mlp.cli import main
from mlp.io import read_safetensors, write_safetensors


def _train(*args) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return main(["train", "xor", "--hidden", "4", "--seed", "0", "-q", *map(str, args)])


@pytest.fixture(scope="module")
def auto_run(tmp_path_factory):
    """An auto-epochs run (10,000 epochs on XOR, L2 1e-3) and its checkpoint at epoch 9,000."""
    folder = tmp_path_factory.mktemp("auto")
    assert _train("--out", folder / "straight.safetensors", "--checkpoint-every", 9000) == 0
    return folder


def test_an_auto_run_records_its_plan(auto_run):
    meta = mlp.load(auto_run / "straight.safetensors").metadata
    assert meta["planned_epochs"] == meta["epochs"] == 10000 and meta["weight_decay"] == 1e-3
    assert mlp.load_checkpoint(auto_run / "straight.ckpt.safetensors").train_state.epoch == 9000


@pytest.mark.parametrize("epochs", [[], ["--epochs", 10000]])
def test_a_resumed_auto_run_ends_as_the_straight_run(auto_run, tmp_path, epochs):
    """Resumed without --epochs it trained another 10,000 epochs ("auto" again); with --epochs its
    weight decay became 0 (fit's "auto" is 1e-3 only for epochs="auto"). Both end where the
    uninterrupted run ended, bit for bit."""
    out = tmp_path / "resumed.safetensors"
    assert _train("--resume", auto_run / "straight.ckpt.safetensors", "--out", out, *epochs) == 0
    resumed, straight = mlp.load(out), mlp.load(auto_run / "straight.safetensors")
    assert resumed.metadata["epochs"] == 10000 and resumed.metadata["weight_decay"] == 1e-3
    np.testing.assert_array_equal(resumed.params, straight.params)
    assert resumed.history.loss == straight.history.loss


def test_a_regression_records_fits_per_example_penalty(tmp_path):
    """fit's "auto" L2 is 1e-3 per example: times the batch size for mse's ½ Σ (the rule of
    FitOptions.check, given the loss fit resolves)."""
    rows = "\n".join(f"{i % 7},{(i * 3) % 5},{(i % 7) * 0.5 + 0.1 * (i % 3)}" for i in range(40))
    (tmp_path / "r.csv").write_text("a,b,y\n" + rows + "\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["train", str(tmp_path / "r.csv"), "--hidden", "3", "--seed", "0", "-q",
                     "--batch-size", "8", "--out", str(tmp_path / "m.safetensors")]) == 0
    meta = mlp.load(tmp_path / "m.safetensors").metadata
    assert meta["task"] == "regression" and meta["weight_decay"] == pytest.approx(8e-3)


def test_given_epochs_record_weight_decay_zero(tmp_path):
    assert _train("--epochs", 3, "--out", tmp_path / "m.safetensors") == 0
    meta = mlp.load(tmp_path / "m.safetensors").metadata
    assert meta["planned_epochs"] == 3 and meta["weight_decay"] == 0.0


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpt")
    assert _train("--epochs", 2, "--lr", 0.01, "--batch-size", "full", "--out", folder / "m.safetensors",
                  "--checkpoint", folder / "ok.safetensors") == 0
    return folder / "ok.safetensors"


@pytest.mark.parametrize("field, value", [
    ("lr", -1), ("lr", "0.01"), ("lr", True), ("batch_size", 0), ("batch_size", "half"),
    ("weight_decay", -1e-3), ("weight_decay", [1]), ("patience", 0), ("seed", -1), ("seed", 1.5),
    ("validation_split", 1.5), ("early_stopping", "yes"), ("optimizer", "nope"), ("loss", "nope"),
    ("planned_epochs", -5), ("planned_epochs", 2.5), ("seconds", "x"), ("target", [1]),
])
def test_checkpoint_metadata_is_checked_when_loaded(checkpoint, tmp_path, capsys, field, value):
    tensors, meta = read_safetensors(checkpoint)
    path = tmp_path / "bad.safetensors"
    write_safetensors(path, tensors, dict(meta, metadata=json.dumps({**json.loads(meta["metadata"]),
                                                                     field: value})))
    # DATA does not exist: the checkpoint is refused before any data is read
    assert main(["train", str(tmp_path / "missing.csv"), "--resume", str(path),
                 "--out", str(tmp_path / "o.safetensors")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "bad.safetensors" in err and repr(field) in err, err
    assert not (tmp_path / "o.safetensors").exists()


def test_a_good_checkpoint_still_resumes(checkpoint, tmp_path):
    assert _train("--resume", checkpoint, "--epochs", 4, "--out", tmp_path / "m.safetensors") == 0
    net = mlp.load(tmp_path / "m.safetensors")
    assert net.metadata["epochs"] == 4 and net.metadata["lr"] == 0.01


def test_the_per_epoch_snapshot_does_not_copy_the_history(tmp_path, monkeypatch):
    """mlp train kept each completed epoch's training state for a second Ctrl-C, History included:
    quadratic in the epochs (a default XOR run, 10,000 epochs, took 113 s instead of 2 s). The
    History is now written only when a file is."""
    calls = []
    to_dict = mlp.History.to_dict
    monkeypatch.setattr(mlp.History, "to_dict", lambda self: calls.append(1) or to_dict(self))
    assert _train("--epochs", 300, "--out", tmp_path / "m.safetensors", "--checkpoint",
                  tmp_path / "c.safetensors") == 0
    assert len(calls) <= 4, len(calls)
