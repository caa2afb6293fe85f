"""Reading the CLI's data: CSV and .npz files, built-in names, targets and input scaling."""

import numpy as np
import pytest

from mlp.data import StandardScaler, encode_target, load_csv, load_data, load_npz


def _csv(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


# --------------------------------------------------------------------------- CSV


def test_csv_with_text_classes_last_column(tmp_path):
    path = _csv(tmp_path, "a,b,species\n1,2,setosa\n3,4.5,virginica\n-1,0,setosa\n\n")
    data = load_csv(path)
    np.testing.assert_array_equal(data.X, [[1, 2], [3, 4.5], [-1, 0]])
    assert data.X.dtype == np.float64
    assert data.classes == ["setosa", "virginica"]
    assert data.y.tolist() == [0, 1, 0]
    assert data.task == "classification"
    assert data.feature_names == ["a", "b"] and data.target_name == "species"


def test_csv_target_by_name_and_integer_classes(tmp_path):
    path = _csv(tmp_path, "label,x1,x2\n2,0.5,1\n0,1.5,2\n2,2.5,3\n")
    data = load_csv(path, target="label")
    assert data.feature_names == ["x1", "x2"]
    assert data.classes == [0, 2]
    assert data.y.tolist() == [1, 0, 1]


def test_csv_regression_target(tmp_path):
    path = _csv(tmp_path, "x,y\n0,0.5\n1,1.25\n2,2.0\n")
    data = load_csv(path)
    assert data.task == "regression" and data.classes is None
    np.testing.assert_array_equal(data.y, [[0.5], [1.25], [2.0]])
    forced = load_csv(path, task="classification")
    assert forced.classes == [0.5, 1.25, 2.0]


def test_csv_semicolon_and_quoted_cells(tmp_path):
    path = _csv(tmp_path, 'x;y;"class name"\n1;2;"a, b"\n3;4;c\n')
    data = load_csv(path)
    assert data.classes == ["a, b", "c"] and data.target_name == "class name"


def test_csv_features_picked_by_name_for_a_model(tmp_path):
    path = _csv(tmp_path, "b,target,a\n1,x,10\n2,y,20\n")
    data = load_csv(path, target="target", need_target=False, features=["a", "b"])
    np.testing.assert_array_equal(data.X, [[10, 1], [20, 2]])
    assert data.y is None


def test_csv_for_prediction_without_target_column(tmp_path):
    path = _csv(tmp_path, "x1,x2\n1,2\n3,4\n")
    data = load_csv(path, target="y", need_target=False)
    assert data.X.shape == (2, 2) and data.y is None


def test_csv_classes_of_a_model(tmp_path):
    path = _csv(tmp_path, "x,y\n1,b\n2,a\n")
    data = load_csv(path, classes=["a", "b", "c"])
    assert data.y.tolist() == [1, 0] and data.classes == ["a", "b", "c"]
    with pytest.raises(ValueError, match="'d'.*line 2.*classes: a, b"):
        load_csv(_csv(tmp_path, "x,y\n1,d\n", "other.csv"), classes=["a", "b"])


@pytest.mark.parametrize("text, words", [
    ("", ["empty"]),
    ("\n\n", ["empty"]),
    ("x,y\n", ["no data rows"]),
    ("x,y\n1,0\n2,1,5\n", ["line 3", "3 fields", "header has 2"]),
    ("x,y\n1,0\n2\n", ["line 3", "1 fields"]),
    ("x,z,y\n1,abc,0\n", ["line 2", "'z'", "'abc'", "not a number"]),
    ("x,z,y\n1,nan,0\n", ["line 2", "'z'", "NaN"]),
    ("x,z,y\n1,,0\n", ["line 2", "'z'", "missing"]),
    ("x,z,y\n1,inf,0\n", ["infinite"]),
    ("x,y\n1,0\n2,\n", ["missing", "line 3"]),
    ("x,y\n1,0\n2,NaN\n", ["NaN", "line 3"]),
    ("x,y\n1,1\n2,1\n", ["single class"]),
    ("x,x,y\n1,2,0\n", ["twice"]),
    ("y\n1\n2\n", ["one column"]),
])
def test_bad_csv_gives_one_clear_error(tmp_path, text, words):
    path = _csv(tmp_path, text)
    with pytest.raises(ValueError) as info:
        load_csv(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    for word in words:
        assert word in message, message


def test_unknown_target_column_lists_the_columns(tmp_path):
    path = _csv(tmp_path, "a,b,c\n1,2,3\n4,5,6\n")
    with pytest.raises(ValueError, match="no column 'd'; the columns are: a, b, c"):
        load_csv(path, target="d")


def test_regression_target_must_be_numeric(tmp_path):
    path = _csv(tmp_path, "x,y\n1,2\n2,abc\n")
    with pytest.raises(ValueError, match="line 3.*regression target must be numeric"):
        load_csv(path, task="regression")


def test_non_utf8_csv(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(b"x,y\n1,\xe9t\xe9\n")
    with pytest.raises(ValueError, match="UTF-8"):
        load_csv(path)


# --------------------------------------------------------------------------- .npz


def test_npz_round_trip(tmp_path):
    path = tmp_path / "d.npz"
    X = np.arange(12.0).reshape(6, 2)
    np.savez(path, X=X, y=np.array(["b", "a", "b", "a", "b", "a"]))
    data = load_npz(path)
    np.testing.assert_array_equal(data.X, X)
    assert data.classes == ["a", "b"] and data.y.tolist() == [1, 0, 1, 0, 1, 0]
    np.savez(path, X=X, y=X * 0.5)
    multi = load_npz(path)
    assert multi.task == "regression" and multi.y.shape == (6, 2)


@pytest.mark.parametrize("arrays, words", [
    ({"X": np.ones((3, 2))}, ["needs arrays X and y", "found: X"]),
    ({"A": np.ones((3, 2)), "y": np.ones(3)}, ["found: A, y"]),
    ({"X": np.ones(3), "y": np.ones(3)}, ["2-D"]),
    ({"X": np.array([[1.0, np.nan]]), "y": np.ones(1)}, ["NaN"]),
    ({"X": np.ones((3, 2)), "y": np.ones(4)}, ["3 rows"]),
])
def test_bad_npz(tmp_path, arrays, words):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError) as info:
        load_npz(path)
    for word in words:
        assert word in str(info.value), str(info.value)


def test_npz_object_arrays_are_refused_without_unpickling(tmp_path):
    path = tmp_path / "obj.npz"
    np.savez(path, X=np.ones((2, 2)), y=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(ValueError, match="npz|pickle"):
        load_npz(path)


def test_not_an_npz(tmp_path):
    path = tmp_path / "fake.npz"
    path.write_text("x,y\n1,2\n")
    with pytest.raises(ValueError, match="not a readable .npz"):
        load_npz(path)


# --------------------------------------------------------------------------- dispatch


def test_built_in_names():
    xor = load_data("xor")
    assert xor.X.shape == (4, 2) and xor.y.tolist() == [0, 1, 1, 0] and xor.classes == [0, 1]
    moons = load_data("moons", n=50, noise=0.0)
    assert moons.X.shape == (50, 2)
    np.testing.assert_array_equal(load_data("moons").X, load_data("moons").X)   # seeded: seed=0
    assert not np.array_equal(load_data("moons", seed=1).X, load_data("moons").X)
    assert load_data("xor", need_target=False).y is None


def test_unknown_source_and_options():
    with pytest.raises(ValueError, match="neither a file nor a built-in.*xor"):
        load_data("not-a-dataset")
    with pytest.raises(FileNotFoundError):
        load_data("missing/file.csv")
    with pytest.raises(ValueError, match="--n and --noise"):
        load_data("xor", n=10)


def test_unknown_file_type(tmp_path):
    path = tmp_path / "data.parquet"
    path.write_bytes(b"PAR1")
    with pytest.raises(ValueError, match="unknown file type"):
        load_data(path)


# --------------------------------------------------------------------------- targets and scaling


def test_encode_target_rules():
    assert encode_target([1, 0, 1])[1:] == ([0, 1], "classification")
    assert encode_target(["1.0", "0.0"])[1] == [0, 1]                 # integral numbers: ints
    assert encode_target([0.1, 0.2])[2] == "regression"
    y, classes, _ = encode_target(["2", "1"], classes=[1, 2, 3])      # numeric labels match numbers
    assert y.tolist() == [1, 0]
    with pytest.raises(ValueError, match="task"):
        encode_target([1, 2], task="ranking")


def test_standard_scaler():
    rng = np.random.default_rng(0)
    X = rng.normal(3.0, 5.0, size=(200, 3))
    X[:, 2] = 7.0                                     # a constant feature
    scaler = StandardScaler.fit(X)
    Z = scaler.transform(X)
    np.testing.assert_allclose(Z[:, :2].mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(Z[:, :2].std(axis=0), 1, atol=1e-12)
    np.testing.assert_array_equal(Z[:, 2], 0)          # not NaN
    np.testing.assert_allclose(scaler.inverse_transform(Z), X)
    with pytest.raises(ValueError, match="expects 3 features"):
        scaler.transform(np.ones((2, 2)))
    with pytest.raises(ValueError, match="positive"):
        StandardScaler([0.0], [0.0])
