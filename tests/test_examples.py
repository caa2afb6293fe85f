"""Every script in examples/ runs to the end and prints what it promises (so they never rot)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run(name, *args, cwd):
    env = dict(os.environ, MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, str(EXAMPLES / name), *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_every_example_is_tested():
    tested = {"xor_by_hand.py", "xor_training.py", "linear_collapse.py", "digits.py"}
    assert {p.name for p in EXAMPLES.glob("*.py")} == tested


def test_xor_by_hand(tmp_path):
    out = run("xor_by_hand.py", tmp_path / "fig", cwd=tmp_path)
    assert "h1 = relu(W(1) x + b(1))" in out
    assert out.count("δ = ∂loss/∂z") == 1 and "w6         2      1      -3" in out
    assert "same hidden values h = [0, 1]" in out
    for name in ("xor_by_hand_boundary.png", "xor_by_hand_hidden.png", "xor_by_hand_network.png"):
        assert (tmp_path / "fig" / name).read_bytes()[:4] == b"\x89PNG"


def test_linear_collapse(tmp_path):
    out = run("linear_collapse.py", cwd=tmp_path)
    diff = float(out.split("largest difference on 5 random inputs:")[1].split()[0])
    assert diff < 1e-12
    assert "best linear fit on XOR predicts: [0.5, 0.5, 0.5, 0.5]" in out
    assert "with a ReLU: cannot collapse" in out


def test_xor_training(tmp_path):
    out = run("xor_training.py", tmp_path / "fig", cwd=tmp_path)
    assert "solved XOR" in out and "predictions: [0.0, 1.0, 1.0, 0.0]" in out
    assert "stuck at" in out and "dead" in out            # the failed start and its diagnosis
    fitted = out.split("net.fit from seed 0:")[1].split("predictions:")[1].strip().splitlines()[0]
    assert [round(float(v)) for v in fitted.strip("[]").split(",")] == [0, 1, 1, 0]
    assert (tmp_path / "fig" / "xor_training_loss.png").exists()


def test_digits(tmp_path):
    pytest.importorskip("sklearn")
    out = run("digits.py", tmp_path / "fig", cwd=tmp_path)
    accuracy = float(out.split("test accuracy:")[1].split("%")[0])
    assert accuracy > 90
    assert (tmp_path / "fig" / "digits_loss.png").exists()
