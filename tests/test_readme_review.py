"""Bad input found while checking README.md against the code: each gives one clear error."""
import numpy as np
import pytest

import mlp


def xor_net():
    net = mlp.Network([mlp.Dense(2, 2, activation="relu"), mlp.Dense(2, 1)], dtype=np.float64)
    net.layers[0].W = [[1, 1], [2, 2]]
    net.layers[0].b = [-1, -1]
    net.layers[1].W = [[-3, 1]]
    return net


def test_piecewise_of_a_non_expression_is_a_type_error():
    symbolic = pytest.importorskip("mlp.symbolic")
    pytest.importorskip("sympy")
    with pytest.raises(TypeError, match="SymPy expression"):
        symbolic.piecewise(3)


def test_to_onnx_into_a_missing_folder_names_the_folder(tmp_path):
    pytest.importorskip("onnx")
    from mlp.interop import to_onnx

    missing = tmp_path / "no-such-folder"
    with pytest.raises(FileNotFoundError) as info:
        to_onnx(xor_net(), missing / "model.onnx")
    assert info.value.filename == str(missing)
    assert ".tmp" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_export_torch_into_a_missing_folder_names_the_folder(tmp_path):
    pytest.importorskip("torch")
    from mlp.interop import export

    missing = tmp_path / "no-such-folder"
    with pytest.raises(FileNotFoundError) as info:
        export(xor_net(), missing / "model.pt", format="torch")
    assert info.value.filename == str(missing)
    assert ".tmp" not in str(info.value)
