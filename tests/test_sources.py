"""Data bigger than memory: memory-mapped .npy files, shard folders, Parquet and `mlp convert`."""

import hashlib
import os
import stat

import numpy as np
import pytest

from mlp import convert as _convert
from mlp import sources
from mlp.data import StandardScaler


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")   # pragma: no cover


def _shards(folder, parts, y_dtype=np.int64):
    folder.mkdir()
    for k, X in enumerate(parts):
        np.save(folder / f"X-{k:03d}.npy", X)
        np.save(folder / f"y-{k:03d}.npy", np.arange(len(X), dtype=y_dtype) % 2)
    return folder


# --------------------------------------------------------------------------- memory maps

def test_open_npy_maps_and_gathers_rows_in_the_order_asked(tmp_path):
    X = np.arange(60, dtype=np.float32).reshape(20, 3)
    np.save(tmp_path / "X.npy", X)
    mm = sources.open_npy(tmp_path / "X.npy")
    assert isinstance(mm, np.memmap) and mm.shape == (20, 3)
    rows = sources.as_rows(mm)
    idx = np.array([7, 0, 19, 7, 3])
    np.testing.assert_array_equal(rows[idx], X[idx])
    np.testing.assert_array_equal(rows[2:5], X[2:5])
    np.testing.assert_array_equal(rows[-1], X[-1])
    assert rows.rows_read == 9 and rows.largest_read == 5
    with pytest.raises(TypeError, match="not turned into one array"):
        np.asarray(rows)


def test_the_check_pass_finds_nan_and_infinity_but_not_large_finite_values(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "CHECK_BYTES", 10 * 3 * 4)         # blocks of 10 rows
    X = np.random.default_rng(0).normal(size=(45, 3)).astype(np.float32)
    for name, value, finite in (("nan", np.nan, False), ("inf", -np.inf, False), ("big", 3e38, True)):
        Z = X.copy()
        Z[33, 1] = value
        Z[34, 1] = value                  # 2 × 3e38 overflows float32 sums: finite all the same
        np.save(tmp_path / f"{name}.npy", Z)
        ok, std = sources._finite_and_scale(sources.as_rows(sources.open_npy(tmp_path / f"{name}.npy")))
        assert ok is finite
        if finite:
            assert std == pytest.approx(float(Z.astype(np.float64).std(axis=0).max()), rel=1e-6)


def test_truncated_npy_is_one_clear_error(tmp_path):
    np.save(tmp_path / "X.npy", np.ones((100, 4), np.float32))
    data = (tmp_path / "X.npy").read_bytes()
    (tmp_path / "X.npy").write_bytes(data[:-40])
    with pytest.raises(ValueError, match=r"truncated \.npy file: its header says shape \(100, 4\)"):
        sources.open_npy(tmp_path / "X.npy")
    (tmp_path / "Z.npy").write_bytes(b"not numpy at all")
    with pytest.raises(ValueError, match=r"Z\.npy: not a \.npy file"):
        sources.open_npy(tmp_path / "Z.npy")


def test_non_numeric_and_column_major_npy_are_refused(tmp_path):
    np.save(tmp_path / "s.npy", np.array(["a", "b"]))
    with pytest.raises(ValueError, match="must be numbers"):
        sources.open_npy(tmp_path / "s.npy")
    np.save(tmp_path / "f.npy", np.asfortranarray(np.ones((3, 2))))
    with pytest.raises(ValueError, match="Fortran order"):
        sources.open_npy(tmp_path / "f.npy")


def _rss_of_an_epoch(path):
    """(rows, RSS growth in MiB) of gathering every row of the file once, in shuffled batches."""
    rows = sources.as_rows(sources.open_npy(path))
    before = _rss_mb()
    peak = before
    order = np.random.default_rng(0).permutation(len(rows))
    for b in range(0, len(rows), 1024):
        got = rows[order[b:b + 1024]]
        peak = max(peak, _rss_mb())
    np.testing.assert_array_equal(got[:, 0], order[b:b + 1024])
    assert rows.rows_read == len(rows) and rows.largest_read == 1024
    return rows, peak - before


def test_a_table_above_map_bytes_is_read_by_preadv_and_rss_stays_small(tmp_path, monkeypatch):
    X = np.lib.format.open_memmap(tmp_path / "X.npy", mode="w+", dtype=np.float32, shape=(64 * 1024, 256))
    X[:] = np.arange(64 * 1024, dtype=np.float32)[:, None]       # 64 MiB on disk; row r holds r
    X.flush()
    del X
    monkeypatch.setattr(sources, "MAP_BYTES", 32 << 20)
    rows, grew = _rss_of_an_epoch(tmp_path / "X.npy")
    assert not rows.via_map
    assert grew < 24, grew                          # through the map: +64 MiB
    monkeypatch.setattr(sources, "MAP_BYTES", 64 << 20)            # now it fits: through the map,
    rows, grew = _rss_of_an_epoch(tmp_path / "X.npy")              # at most the table resident
    assert rows.via_map
    assert grew < 64 + 16, grew


# --------------------------------------------------------------------------- shard folders

@pytest.mark.parametrize("map_bytes", [sources.MAP_BYTES, 0])      # through the maps; by preadv
def test_shard_folder_is_one_table_and_gathers_across_shards(tmp_path, monkeypatch, map_bytes):
    monkeypatch.setattr(sources, "MAP_BYTES", map_bytes)
    rng = np.random.default_rng(1)
    parts = [rng.normal(size=(n, 3)).astype(np.float32) for n in (5, 0, 7, 4)]
    X_all = np.concatenate(parts)
    X, y, meta = sources.open_shards(_shards(tmp_path / "d", parts))
    assert X.shape == (16, 3) and y.shape == (16,) and meta == {}
    assert X.via_map is (map_bytes > 0)
    idx = rng.permutation(16)
    np.testing.assert_array_equal(X[idx], X_all[idx])
    np.testing.assert_array_equal(y[idx], np.concatenate([np.arange(len(a)) % 2 for a in parts])[idx])
    np.testing.assert_array_equal(X[3:14], X_all[3:14])


def test_uncompressed_npz_shards_are_memory_mapped_compressed_ones_refused(tmp_path):
    d = tmp_path / "z"
    d.mkdir()
    a, b = np.ones((3, 2), np.float32), np.zeros((4, 2), np.float32)
    np.savez(d / "p0.npz", X=a, y=np.array([0, 1, 0]))
    np.savez(d / "p1.npz", X=b, y=np.array([1, 1, 0, 0]))
    X, y, _ = sources.open_shards(d)
    assert isinstance(X.parts[0], np.memmap)
    np.testing.assert_array_equal(X[0:7], np.concatenate([a, b]))
    np.testing.assert_array_equal(y[0:7], [0, 1, 0, 1, 1, 0, 0])
    np.savez_compressed(d / "p2.npz", X=a, y=np.array([0, 1, 0]))
    with pytest.raises(ValueError, match=r"p2\.npz: X\.npy is compressed"):
        sources.open_shards(d)


@pytest.mark.parametrize("second, message", [
    (np.ones((4, 5), np.float32), r"shard X-001\.npy has 5 features .* shard X-000\.npy has 3: all "
                                  "shards need the same width"),
    (np.ones((4, 3), np.float64), r"shard X-001\.npy has X of dtype float64 but shard X-000\.npy has "
                                  "float32: all shards need one dtype"),
])
def test_mismatched_shards_are_one_clear_error(tmp_path, second, message):
    d = _shards(tmp_path / "d", [np.ones((3, 3), np.float32), second])
    with pytest.raises(ValueError, match=message):
        sources.open_shards(d)


def test_shard_without_targets_and_empty_folder(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    with pytest.raises(ValueError, match="no shards"):
        sources.open_shards(d)
    np.save(d / "X-0.npy", np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"shard X-0\.npy has no targets y-0\.npy"):
        sources.open_shards(d)
    with pytest.raises(ValueError, match="needs its targets"):
        sources.open_source(d / "X-0.npy")


# --------------------------------------------------------------------------- convert

def _write_csv(path, X, labels):
    with open(path, "w") as f:
        f.write(",".join(f"f{j}" for j in range(X.shape[1])) + ",label\n")
        for row, lab in zip(X, labels):
            f.write(",".join(repr(v) for v in row.tolist()) + f",{lab}\n")


def test_convert_csv_streams_to_shards_with_the_scaler_of_one_pass(tmp_path, monkeypatch):
    monkeypatch.setattr(_convert, "CHUNK_ROWS", 64)          # several chunks, several shards
    rng = np.random.default_rng(2)
    X = rng.normal(3, 2, size=(500, 4))
    X[:, 2] = 7.0                                             # a constant feature keeps scale 1
    labels = np.array(["cat", "dog", "emu"])[rng.integers(0, 3, 500)]
    csv = tmp_path / "big.csv"
    _write_csv(csv, X, labels)
    os.chmod(csv, stat.S_IRUSR)                               # read-only: convert only reads it
    digest, mtime = hashlib.sha256(csv.read_bytes()).hexdigest(), csv.stat().st_mtime_ns
    meta = _convert.convert(csv, tmp_path / "big", shard_mb=0.001, progress=False)
    assert hashlib.sha256(csv.read_bytes()).hexdigest() == digest and csv.stat().st_mtime_ns == mtime
    assert meta["n_rows"] == 500 and len(meta["shards"]) > 3
    assert meta["classes"] == ["cat", "dog", "emu"] and meta["task"] == "classification"
    ref = StandardScaler.fit(X)
    np.testing.assert_allclose(meta["scaler"]["mean"], ref.mean, rtol=1e-12)
    np.testing.assert_allclose(meta["scaler"]["scale"], ref.scale, rtol=1e-12)
    assert meta["scaler"]["scale"][2] == 1.0
    Xs, ys, meta2 = sources.open_shards(tmp_path / "big")
    assert meta2 == meta and Xs.dtype == np.float32
    np.testing.assert_array_equal(Xs[0:500], X.astype(np.float32))
    np.testing.assert_array_equal(ys[0:500], np.searchsorted(["cat", "dog", "emu"], labels))
    Xz, _, _ = sources.open_shards(tmp_path / "big", scale=True)
    np.testing.assert_allclose(Xz[0:500], ref.transform(X.astype(np.float32)), rtol=1e-12)


def test_convert_regression_target_and_bad_rows_leave_nothing(tmp_path):
    csv = tmp_path / "r.csv"
    csv.write_text("a,b,t\n1,2,0.5\n3,4,1.5\n")
    meta = _convert.convert(csv, tmp_path / "r", progress=False)
    assert meta["task"] == "regression" and meta["classes"] is None
    _, y, _ = sources.open_shards(tmp_path / "r")
    np.testing.assert_array_equal(y[0:2], [[0.5], [1.5]])
    with pytest.raises(ValueError, match="already exists; choose a new folder"):
        _convert.convert(csv, tmp_path / "r", progress=False)
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,t\n1,2,0\n3,x,1\n")
    with pytest.raises(ValueError, match=r"line 3, column 'b': 'x' is not a number"):
        _convert.convert(bad, tmp_path / "bad", progress=False)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b,t\n1,2,0\n3,1\n")
    with pytest.raises(ValueError, match="line 3 has 2 fields but the header has 3"):
        _convert.convert(ragged, tmp_path / "rg", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv", "r", "r.csv", "ragged.csv"]


# --------------------------------------------------------------------------- Parquet

def test_parquet_converts_like_the_csv_and_a_missing_target_is_one_message(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 3))
    labels = rng.integers(0, 2, 300)
    pq.write_table(pa.table({"f0": X[:, 0], "f1": X[:, 1], "f2": X[:, 2], "label": labels}),
                   tmp_path / "d.parquet", row_group_size=50)
    _write_csv(tmp_path / "d.csv", X, labels)
    a = _convert.convert(tmp_path / "d.parquet", tmp_path / "p", progress=False)
    b = _convert.convert(tmp_path / "d.csv", tmp_path / "c", progress=False)
    for key in ("n_rows", "feature_names", "classes", "task", "scaler"):
        assert a[key] == b[key], key
    Xp, yp, _ = sources.open_source(tmp_path / "d.parquet", workdir=tmp_path / "w")
    np.testing.assert_array_equal(Xp[0:300], X.astype(np.float32))
    np.testing.assert_array_equal(yp[0:300], labels)
    with pytest.raises(ValueError, match=r"d\.parquet: no column 'y'; the columns are: f0, f1, f2, label"):
        _convert.convert(tmp_path / "d.parquet", tmp_path / "q", target="y", progress=False)
    assert not (tmp_path / "q").exists()


# --------------------------------------------------------------------------- mlp convert, and views

def test_mlp_convert_command_and_its_one_line_errors(tmp_path, capsys):
    from mlp.cli import main

    csv = tmp_path / "big.csv"
    _write_csv(csv, np.arange(12.0).reshape(4, 3), ["a", "b", "a", "b"])
    assert main(["convert", str(csv), str(tmp_path / "big")]) == 0
    out = capsys.readouterr().out
    assert "converted" in out and "4 rows × 3 features, 2 classes, into 1 shards" in out
    assert main(["convert", str(csv), str(tmp_path / "big")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "already exists; choose a new folder" in err[0]
    assert main(["convert", str(csv), str(tmp_path / "c"), "--target", "nope"]) == 1
    assert "no column 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


def test_views_read_nothing_until_indexed_and_travel_as_file_names(tmp_path):
    import pickle

    X = np.arange(200, dtype=np.float32).reshape(50, 4)
    np.save(tmp_path / "X.npy", X)
    rows = sources.as_rows(sources.open_npy(tmp_path / "X.npy"))
    pick = np.array([40, 3, 17, 8])
    view = rows.take(pick)
    assert rows.rows_read == 0 and len(view) == 4
    np.testing.assert_array_equal(view[0:4], X[pick])
    np.testing.assert_array_equal(view.subset(1, 3)[0:2], X[pick[1:3]])
    np.testing.assert_array_equal(rows.subset(10, 20)[np.array([9, 0])], X[[19, 10]])
    sent = pickle.dumps(view)
    assert len(sent) < X.nbytes                                 # a file name, not the rows
    np.testing.assert_array_equal(pickle.loads(sent)[0:4], X[pick])
