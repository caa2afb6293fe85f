"""Issue 14 item 5: Ctrl-C while ``mlp`` starts (importing NumPy and mlp, parsing the command line)
exits 130 with one line, never a traceback.

The command is run as the installed console script runs it: a script of pip's template calling
the entry point named in pyproject.toml. Each SIGINT is sent a fixed time after NumPy's extension
module is mapped into the process (read from /proc/PID/maps), i.e. while ``import mlp`` runs, and
at later moments (parsing, reading the data, the first epochs). The first ~10-30 ms of a Python
process, before the script's own first line, are Python's and pip's (``import re``): a Ctrl-C
there cannot be caught by any code of ours and is not sent here.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads /proc/PID/maps")

# pip's console-script template (pip/_vendor/distlib/scripts.py), filled in for the entry point.
TEMPLATE = """# -*- coding: utf-8 -*-
import re
import sys
from {module} import {func}
if __name__ == '__main__':
    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])
    sys.exit({func}())
"""


@pytest.fixture(scope="module")
def console_script(tmp_path_factory) -> Path:
    entry = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]["mlp"]
    module, func = entry.split(":")
    path = tmp_path_factory.mktemp("bin") / "mlp"
    path.write_text(f"#!{sys.executable}\n" + TEMPLATE.format(module=module, func=func))
    path.chmod(0o755)
    return path


def _numpy_mapped(pid: int) -> bool:
    try:
        return "_multiarray_umath" in Path(f"/proc/{pid}/maps").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False


def _ctrl_c_after_numpy(script: Path, delay: float, cwd: Path):
    env = {k: v for k, v in os.environ.items() if k != "MLP_DEBUG"}
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    proc = subprocess.Popen([str(script), "train", "xor", "--epochs", "100000", "--out", "m.safetensors"],
                            cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 30
        while not _numpy_mapped(proc.pid):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.001)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, err


def test_the_console_script_enters_outside_the_mlp_package(console_script):
    # `from mlp.cli import main` would import mlp (and NumPy) before any handler of ours runs.
    assert "from _mlp_entry import main" in console_script.read_text()


@pytest.mark.parametrize("delay", [0.0, 0.02, 0.05, 0.1, 0.2, 0.8])
def test_ctrl_c_while_starting_exits_130_quietly(console_script, tmp_path, delay):
    code, err = _ctrl_c_after_numpy(console_script, delay, tmp_path)
    assert code == 130, (code, err)
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert "interrupted" in err, err
