"""Issue 14, items 8-11 ("writes it must refuse, sizes it must bound"), checked as an attacker would:
every field of a model file changed to every kind of value, writes onto special files through every
entry point, memory claims under the limits a process really has (cgroup, RLIMIT_AS), temporary
files of a writer killed by SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
import warnings

import numpy as np
import pytest

import mlp
import mlp.interop
from mlp import _safetensors
from mlp.cli import main
from mlp.io import read_safetensors, write_safetensors

pytestmark = pytest.mark.skipif(os.name != "posix", reason="FIFOs, signals and rlimits are POSIX")

XOR_X, XOR_Y = mlp.datasets.xor()


def _run(code: str, *, limit_as: int | None = None, timeout: float = 120):
    """Run ``code`` in a fresh interpreter (optionally under RLIMIT_AS); return CompletedProcess."""
    prefix = ""
    if limit_as is not None:
        prefix = (f"import resource; resource.setrlimit(resource.RLIMIT_AS, ({limit_as}, {limit_as}))\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    return subprocess.run([sys.executable, "-c", prefix + textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout, env=env)


# --------------------------------------------------------------------------- 8. writes it must refuse


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return path


def test_library_writers_never_replace_a_fifo(tmp_path, fifo):
    """Every library function that writes a file refuses a FIFO, directly or through a link."""
    net = mlp.Network.from_sizes([2, 3, 1], seed=0)
    link = tmp_path / "link"
    os.symlink(fifo, link)
    for target in (fifo, link):
        with pytest.raises(OSError, match="FIFO"):
            mlp.save(net, target)
        with pytest.raises(OSError, match="FIFO"):
            mlp.io.atomic_write(target, b"x")
        pytest.importorskip("onnx")
        with pytest.raises(OSError, match="FIFO"):
            mlp.interop.to_onnx(net, target)
        with pytest.raises(OSError, match="FIFO"):
            mlp.interop.export(net, target, "onnx")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "pipe"]     # no temporary left


@pytest.mark.skipif(os.geteuid() != 0, reason="making a device node needs root")
def test_a_device_node_is_never_replaced(tmp_path, capsys):
    """A character device (a private copy of /dev/null, made in tmp_path) and a link to it."""
    dev = tmp_path / "null"
    os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    link = tmp_path / "to-null"
    os.symlink(dev, link)
    net = mlp.Network.from_sizes([2, 1], seed=0)
    model = tmp_path / "m.safetensors"
    mlp.save(net, model)
    for target in (dev, link):
        with pytest.raises(OSError, match="device"):
            mlp.save(net, target)
        for argv in (["train", "xor", "--epochs", "1", "-q", "--out", str(target)],
                     ["predict", str(model), "xor", "--out", str(target)]):
            assert main(argv) == 1
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and "device" in err, err
    assert stat.S_ISCHR(os.lstat(dev).st_mode)


def test_out_is_refused_when_it_is_an_input_under_another_name(tmp_path, capsys, monkeypatch):
    """The same file reached by a relative path, a link or a hard link is still the input."""
    rows = "\n".join(f"{i % 3},{i % 5},{i % 2}" for i in range(40))
    data = tmp_path / "d.csv"
    data.write_text("a,b,y\n" + rows + "\n")
    before = data.read_bytes()
    os.symlink(data, tmp_path / "link.csv")
    os.link(data, tmp_path / "hard.csv")
    model = tmp_path / "m.safetensors"
    assert main(["train", str(data), "--epochs", "1", "-q", "--out", str(model)]) == 0
    model_bytes = model.read_bytes()
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    for spelling in ("./d.csv", str(tmp_path / "link.csv"), "hard.csv"):
        assert main(["train", "d.csv", "--epochs", "1", "-q", "--out", spelling]) == 1
        assert main(["predict", "m.safetensors", "d.csv", "--out", spelling]) == 1
    for spelling in ("./m.safetensors", str(model)):
        assert main(["predict", "m.safetensors", "d.csv", "--out", spelling]) == 1
        assert main(["export", "m.safetensors", "--format", "onnx", "--out", spelling]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 10 and all(line.startswith("mlp: error: --out") for line in err), err
    assert data.read_bytes() == before and model.read_bytes() == model_bytes


# --------------------------------------------------------------------------- 9. sizes it must bound


def test_available_memory_honours_the_address_space_limit():
    """Under `ulimit -v` (RLIMIT_AS) MemAvailable says nothing: the limit is what there is."""
    r = _run("""
        from mlp import _safetensors
        print(_safetensors.available_memory())
    """, limit_as=3 * 2**30)
    assert r.returncode == 0, r.stderr
    assert 0 < int(r.stdout) < 3 * 2**30


def test_a_big_npz_under_a_memory_limit_is_one_clear_message(tmp_path):
    """The issue's 1.5 MB .npz claiming 1.5 GB died with MemoryError under a limit: refuse it first."""
    import zipfile
    path = tmp_path / "bomb.npz"
    header = {"descr": "<f8", "fortran_order": False, "shape": (250_000, 1_000)}    # 2 GB
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("X.npy", "w", force_zip64=True) as f:
            np.lib.format.write_array_header_1_0(f, header)
            f.write(b"\0" * 100_000)
        with z.open("y.npy", "w") as f:
            np.save(f, np.zeros(250_000))
    r = _run(f"""
        import sys
        from mlp.cli import main
        sys.exit(main(["train", {str(path)!r}, "--epochs", "1", "--out", {str(tmp_path / 'm.st')!r}]))
    """, limit_as=1536 * 2**20)
    assert r.returncode == 1, r.stderr
    assert r.stderr.count("\n") == 1 and "internal error" not in r.stderr and "array X" in r.stderr, r.stderr


def test_from_sizes_is_refused_under_a_memory_limit():
    r = _run("""
        import mlp
        try:
            mlp.Network.from_sizes([2, 30_000_000, 1])       # 120 M parameters: ~1.5 GB to build
        except ValueError as exc:
            print(exc)
    """, limit_as=1536 * 2**20)
    assert r.returncode == 0 and "MemoryError" not in r.stderr, r.stderr
    assert "120,000,001 parameters" in r.stdout, r.stdout


def test_from_sizes_bound_never_allocates_on_a_big_machine(monkeypatch):
    """The check needs no luck: with memory to spare it would build; with little it refuses."""
    monkeypatch.setattr(_safetensors, "available_memory", lambda: 2**30)
    with pytest.raises(ValueError, match="parameters"):
        mlp.Network.from_sizes([2, 10**9, 1])
    with pytest.raises(ValueError, match="parameters"):
        mlp.Network.from_sizes([1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 10**5])
    assert mlp.Network.from_sizes([2, 1000, 1]).n_params == 4001


def _header_file(path, header: dict, data: bytes = b""):
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(len(text).to_bytes(8, "little") + text + data)
    return path


def test_escaped_brackets_inside_metadata_are_bounded_too(tmp_path):
    r"""A metadata value is JSON inside a JSON string: '\u005b' is '[' after the first parse."""
    meta = {"format": "mlp", "format_version": "1", "mlp_version": "0",
            "architecture": json.dumps({"dtype": "float32", "layers": [
                {"n_in": 1, "n_out": 1, "activation": {"name": "identity"}}]}),
            "history": "[" + "[]," * 1_100_000 + "[]]"}
    raw = json.dumps({"__metadata__": meta}, ensure_ascii=True).replace("[],", "\\u005b\\u005d,")
    raw = raw.encode() + b" " * (-len(raw) % 8)
    path = tmp_path / "esc.safetensors"
    path.write_bytes(len(raw).to_bytes(8, "little") + raw)
    with pytest.raises(ValueError, match="esc.safetensors.*history.*lists or objects"):
        mlp.load(path)


def test_a_header_of_empty_lists_costs_little(tmp_path):
    """The issue's 99 MB header of empty lists took 2.6 GB and 20 s; measured in a fresh process."""
    path = tmp_path / "lists.safetensors"
    body = b'{"a":[' + b"[]," * (33 * 2**20 - 4) + b'[]]}'
    body += b" " * (-len(body) % 8)
    path.write_bytes(len(body).to_bytes(8, "little") + body)
    r = _run(f"""
        import time, mlp
        t = time.perf_counter()
        try:
            mlp.load({str(path)!r})
        except ValueError as exc:
            print(str(exc)[:200])
        # VmHWM: this process's own peak (ru_maxrss keeps the forking pytest's peak across exec).
        peak_kb = open("/proc/self/status").read().split("VmHWM:")[1].split()[0]
        print(time.perf_counter() - t, int(peak_kb) // 1024)
    """)
    assert r.returncode == 0, r.stderr
    message, numbers = r.stdout.splitlines()
    seconds, rss_mb = float(numbers.split()[0]), int(numbers.split()[1])
    assert "lists.safetensors" in message
    assert rss_mb < 600, (seconds, rss_mb)      # (the seconds depend on the load: not asserted)


# --------------------------------------------------------------------------- 10. validated at load


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpt")
    path = folder / "ok.safetensors"
    assert main(["train", "xor", "--epochs", "2", "-q", "--out", str(folder / "m.safetensors"),
                 "--checkpoint", str(path)]) == 0
    return path


def _paths(tree, prefix=()):
    """Every position in a JSON tree (dict keys, the first two list items)."""
    yield prefix
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(tree, list):
        for i, v in enumerate(tree[:2]):
            yield from _paths(v, (*prefix, i))


def _replaced(tree, path, value):
    tree = json.loads(json.dumps(tree))
    if not path:
        return value
    node = tree
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    return tree


ODD = [None, True, -5, 3.5, 1e300, "\u0661", [1, "1"], {"a": [1]}]


def _write(path, tensors, meta):
    """write_safetensors without its fsync (hundreds of files)."""
    path.write_bytes(_safetensors._encode_safetensors(tensors, meta))


def _check_loads(path, name):
    """load, load_checkpoint and read_metadata accept the file or raise one ValueError naming it;
    `mlp info` never fails on what load accepts; a checkpoint that loads trains on."""
    loaded = {}
    for fn in (mlp.load, mlp.load_checkpoint, mlp.io.read_metadata):
        try:
            loaded[fn.__name__] = fn(path)
        except ValueError as exc:
            assert str(path) in str(exc), f"{name}: {fn.__name__}: {exc}"
        except Exception as exc:     # noqa: BLE001 - what the test is about
            pytest.fail(f"{name}: {fn.__name__} raised {type(exc).__name__}: {exc}")
    if "load" in loaded:
        import contextlib
        import io as stdio
        err = stdio.StringIO()
        with contextlib.redirect_stdout(stdio.StringIO()), contextlib.redirect_stderr(err):
            rc = main(["info", str(path)])
        assert rc == 0, f"{name}: mlp info: {err.getvalue()}"
    if "load_checkpoint" in loaded:
        net = loaded["load_checkpoint"]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                net.fit(XOR_X, XOR_Y.reshape(-1, 1), epochs=net.train_state.epoch + 1, progress=False)
        except mlp.TrainingDiverged:     # e.g. lr 1e300: what fit says for that lr, one clear error
            pass
        except (ValueError, TypeError) as exc:
            pytest.fail(f"{name}: load_checkpoint accepted it but training on fails: {exc}")


# ~900 files, 7-12 s on a loaded machine (it hung before at epoch 1e300, which load accepted and fit
# then ran to; first run to the end 2026-11-30: three fixes in io._check_state/_check_hyperparameters)
FUZZ = pytest.mark.skipif(not os.environ.get("MLP_FUZZ"), reason="7-12 s: MLP_FUZZ=1 runs it")


@FUZZ
def test_every_metadata_field_of_every_kind_is_refused_or_harmless(checkpoint, tmp_path):
    """Each position of each JSON metadata entry, given each odd value: never a crash."""
    tensors, meta = read_safetensors(checkpoint)
    n = 0
    for key in ("architecture", "classes", "scaler", "history", "metadata", "train_state"):
        if key not in meta:
            continue
        tree = json.loads(meta[key])
        for where in _paths(tree):
            if len(where) > 3:
                continue
            for value in ODD:
                changed = dict(meta, **{key: json.dumps(_replaced(tree, where, value))})
                path = tmp_path / f"f{n}.safetensors"
                n += 1
                _write(path, tensors, changed)
                _check_loads(path, f"{key}{list(where)} = {value!r}")
                path.unlink()
    for key in ("format", "format_version", "mlp_version"):
        for value in ("", "x", "\u0661", "99999999", "1" * 200, "-1", " 1"):
            path = tmp_path / f"f{n}.safetensors"
            n += 1
            _write(path, tensors, dict(meta, **{key: value}))
            _check_loads(path, f"{key} = {value!r}")
    assert n > 400


@FUZZ
def test_every_tensor_entry_field_of_every_kind_is_a_clear_error(checkpoint, tmp_path):
    raw = checkpoint.read_bytes()
    size = int.from_bytes(raw[:8], "little")
    header, data = json.loads(raw[8:8 + size]), raw[8 + size:]
    name = "layers.0.weight"
    for field in ("dtype", "shape", "data_offsets"):
        for value in ODD:
            bad = _replaced(header, (name, field), value)
            path = _header_file(tmp_path / f"{field}.safetensors", bad, data)
            _check_loads(path, f"{name}.{field} = {value!r}")


@pytest.mark.parametrize("change, words", [
    (lambda s: s["optimizer"].update(lr=-1), "lr"),
    (lambda s: s["optimizer"].update(lr={"__float__": "nan"}), "lr"),
    (lambda s: s.update(lr0=-1.0), "lr"),
    (lambda s: s.update(epoch=-5), "epoch"),
    (lambda s: s["optimizer"].update(betas={"__tuple__": [0.9, 0.99, 0.5]}), "betas"),
    (lambda s: s.update(schedule_start=s["epoch"] + 1), "schedule_start"),
    (lambda s: s.update(epoch=1e300), "epoch"),       # was accepted as an int; the fuzz test hung on it
    (lambda s: s.update(step=3.5), "step"),
    (lambda s: s["optimizer"].update(t=-5), "optimizer t"),     # Adam: "math domain error" mid-fit
    (lambda s: s["optimizer"].update(m=True), "m must be"),       # fit: "state (m) for 1 parameters"
])
def test_checkpoint_hyperparameters_are_checked_as_fit_checks_them(checkpoint, tmp_path, change, words):
    tensors, meta = read_safetensors(checkpoint)
    state = json.loads(meta["train_state"])
    change(state)
    path = tmp_path / "bad.safetensors"
    write_safetensors(path, tensors, dict(meta, train_state=json.dumps(state)))
    with pytest.raises(ValueError, match=words) as info:
        mlp.load_checkpoint(path)
    assert "bad.safetensors" in str(info.value)


# --------------------------------------------------------------------------- 11. stale temporaries


def _write(net, path, fmt):
    """mlp.save for safetensors, mlp.interop.export for the others."""
    return mlp.save(net, path) if fmt == "safetensors" else mlp.interop.export(net, path, format=fmt)


@pytest.mark.parametrize("fmt", ["safetensors", "onnx", "torch"])
def test_a_write_killed_by_sigkill_leaves_nothing_after_the_next_write(tmp_path, fmt):
    """A real SIGKILL while the temporary file is being written (fsync made to hang). mlp.interop
    wrote '{path}.tmp{pid}' beside the file and nothing removed it after a kill; exports now write
    as mlp.save does (one atomic writer, stale temporaries removed by the next write)."""
    if fmt != "safetensors":
        pytest.importorskip("onnx" if fmt == "onnx" else "torch")
    path = tmp_path / f"m.{fmt}"
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import os, sys, time, mlp
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from test_hardening import _write
        os.fsync = lambda fd: time.sleep(600)
        _write(mlp.Network.from_sizes([2, 64, 1], seed=0), {str(path)!r}, {fmt!r})
    """)], env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    try:
        deadline = time.time() + 60
        while not [p for p in tmp_path.iterdir() if ".tmp" in p.name]:
            assert time.time() < deadline and child.poll() is None
            time.sleep(0.02)
        time.sleep(0.1)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert [p.name for p in tmp_path.iterdir() if ".tmp" in p.name]
    _write(mlp.Network.from_sizes([2, 1], seed=0), path, fmt)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_only_our_own_temporary_names_are_ever_removed(tmp_path):
    """Names that merely look like ours, other targets' files, folders and links stay."""
    path = tmp_path / "m.safetensors"
    old = time.time() - 7200
    keep = [".m.safetensors.backup.tmp", ".m.safetensors.tmp", "m.safetensors.abcd1234.tmp",
            ".m.safetensors.abcd1234.tmp.bak", ".m.safetensors.ABCD1234.tmp",
            ".m.safetensors.abc.def.ghi.tmp", ".other.safetensors.abcd1234.tmp",
            ".m.safetensors.99999999.mine.tmp"]
    for name in keep:
        (tmp_path / name).write_bytes(b"user data")
    (tmp_path / ".m.safetensors.dir45678.tmp").mkdir()
    target = tmp_path / "precious"
    target.write_bytes(b"precious")
    os.symlink(target, tmp_path / ".m.safetensors.lnk45678.tmp")
    for p in tmp_path.iterdir():
        os.utime(p, (old, old), follow_symlinks=False)
    mlp.save(mlp.Network.from_sizes([2, 1], seed=0), path)
    left = {p.name for p in tmp_path.iterdir()}
    assert left == {*keep, ".m.safetensors.dir45678.tmp", "precious", ".m.safetensors.lnk45678.tmp",
                    "m.safetensors"}
    assert target.read_bytes() == b"precious"
