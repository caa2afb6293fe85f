"""Adversarial review of the interchange code (mlp.interop, mlp.io, mlp.sklearn): each test
pins a problem a PyTorch, ONNX or scikit-learn user hit, and fails on the code before its fix."""

import os

import numpy as np
import pytest

import mlp
from mlp import interop


def _inputs(n_in, n=6, dtype=np.float32):
    return np.random.default_rng(0).normal(size=(n, n_in)).astype(dtype)


# -- from_torch ----------------------------------------------------------------------------------

def test_from_torch_skips_a_leading_flatten():
    # the usual MNIST MLP starts with nn.Flatten(); on the flat rows mlp takes it does nothing
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)
    module = nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)).eval()
    net = interop.from_torch(module)
    assert net.sizes == [4, 3, 2]
    X = _inputs(4)
    with torch.no_grad():
        np.testing.assert_allclose(net(X), module(torch.from_numpy(X)).numpy(), rtol=1e-6, atol=1e-6)


def test_from_torch_refuses_a_flatten_between_layers():
    # after a Linear, Flatten is not the identity when the input had more than two axes
    torch = pytest.importorskip("torch")
    nn = torch.nn
    with pytest.raises(ValueError, match="Flatten"):
        interop.from_torch(nn.Sequential(nn.Linear(4, 3), nn.Flatten(), nn.Linear(3, 2)))


def test_from_torch_refuses_softplus_with_a_low_threshold():
    # torch's Softplus(threshold=t) returns z above t: not mlp's log(1 + e^z)
    torch = pytest.importorskip("torch")
    nn = torch.nn
    with pytest.raises(ValueError, match="threshold"):
        interop.from_torch(nn.Sequential(nn.Linear(4, 3), nn.Softplus(threshold=5)))
    # the default threshold (20) is within float rounding of log(1 + e^z) and stays accepted
    assert interop.from_torch(nn.Sequential(nn.Linear(4, 3), nn.Softplus())).sizes == [4, 3]


def test_from_torch_converts_bfloat16_when_asked():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 1)).to(torch.bfloat16)
    with pytest.raises(TypeError, match="bfloat16"):
        interop.from_torch(module)
    net = interop.from_torch(module, dtype=np.float32)
    assert net.dtype == np.float32
    np.testing.assert_array_equal(net.layers[0].W, module[0].weight.detach().float().numpy())
    np.testing.assert_array_equal(net.layers[1].b, module[2].bias.detach().float().numpy())


# -- from_onnx ------------------------------------------------------------------------------------

def _onnx_dense(nodes, initializers):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 3])],
        initializer=[numpy_helper.from_array(v, k) for k, v in initializers.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model


W34 = (np.arange(12, dtype=np.float32).reshape(3, 4) - 6) / 10
B13 = np.array([[1.0, -2.0, 0.5]], dtype=np.float32)       # one row, (1, n_out): valid ONNX broadcasting


@pytest.mark.parametrize("layout", ["gemm", "matmul_add"])
def test_from_onnx_takes_a_bias_of_shape_one_by_n(layout):
    from onnx import helper

    if layout == "gemm":
        model = _onnx_dense([helper.make_node("Gemm", ["x", "W", "b"], ["y"], transB=1)],
                            {"W": W34, "b": B13})
    else:
        model = _onnx_dense([helper.make_node("MatMul", ["x", "Wt"], ["t"]),
                             helper.make_node("Add", ["t", "b"], ["y"])],
                            {"Wt": W34.T.copy(), "b": B13})
    net = interop.from_onnx(model)
    X = _inputs(4)
    expected = X.astype(np.float64) @ W34.T.astype(np.float64) + B13[0]
    np.testing.assert_allclose(net(X), expected, rtol=1e-6, atol=1e-6)
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(model.SerializeToString())
    np.testing.assert_allclose(net(X), session.run(None, {"x": X})[0], rtol=1e-6, atol=1e-6)


def test_from_onnx_refuses_a_bias_that_is_not_one_row():
    from onnx import helper

    model = _onnx_dense([helper.make_node("Gemm", ["x", "W", "b"], ["y"], transB=1)],
                        {"W": W34, "b": np.zeros((2, 3), np.float32)})
    with pytest.raises(ValueError, match="bias"):
        interop.from_onnx(model)


def test_from_onnx_refuses_weights_as_the_first_operand():
    # Gemm(W, x) computes W x, not x Wᵀ: was a KeyError
    from onnx import helper

    model = _onnx_dense([helper.make_node("Gemm", ["W", "x"], ["y"], transB=1)],
                        {"W": np.ones((3, 4), np.float32)})
    with pytest.raises(ValueError, match="first operand"):
        interop.from_onnx(model)


# -- mlp.save -------------------------------------------------------------------------------------

def test_save_through_a_symlink_updates_the_file_it_points_to(tmp_path):
    if not hasattr(os, "symlink"):
        pytest.skip("no symbolic links here")
    real, link = tmp_path / "v1.safetensors", tmp_path / "latest.safetensors"
    mlp.save(mlp.Network.from_sizes([2, 3, 1], seed=0), real)
    try:
        os.symlink(real, link)
    except OSError:
        pytest.skip("symbolic links not permitted here")
    newer = mlp.Network.from_sizes([2, 3, 1], seed=1)
    mlp.save(newer, link)
    assert link.is_symlink()
    np.testing.assert_array_equal(mlp.load(real).params, newer.params)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.safetensors", "v1.safetensors"]


# -- to_onnx --------------------------------------------------------------------------------------

@pytest.mark.parametrize("input_name, output_name", [
    ("W1", "y_hat"),        # was a valid-looking model whose input replaced the first weights
    ("x", "z1"), ("x", "h1"), ("b2", "y"),
    ("x", "x"), ("", "y_hat"),
])
def test_to_onnx_refuses_names_that_clash(input_name, output_name):
    pytest.importorskip("onnx")
    net = mlp.Network.from_sizes([5, 5, 5], hidden="tanh", output="softmax", seed=0)
    with pytest.raises(ValueError, match="name"):
        interop.to_onnx(net, input_name=input_name, output_name=output_name)


def test_to_onnx_metadata_must_be_a_dict():
    pytest.importorskip("onnx")
    net = mlp.Network.from_sizes([2, 1], seed=0)
    with pytest.raises(TypeError, match="metadata"):
        interop.to_onnx(net, metadata=[("classes", "[0, 1]")])


def test_to_onnx_other_names_still_run():
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    net = mlp.Network.from_sizes([4, 5, 3], hidden="tanh", output="softmax", seed=0)
    model = interop.to_onnx(net, input_name="features", output_name="probabilities")
    session = ort.InferenceSession(model.SerializeToString())
    X = _inputs(4)
    np.testing.assert_allclose(session.run(["probabilities"], {"features": X})[0], net(X),
                               rtol=1e-6, atol=1e-6)


def test_from_onnx_skips_a_leading_flatten_as_pytorch_exports_it():
    from onnx import helper

    model = _onnx_dense([helper.make_node("Flatten", ["x"], ["f"], axis=1),
                         helper.make_node("Gemm", ["f", "W", "b"], ["y"], transB=1)],
                        {"W": W34, "b": B13[0]})
    X = _inputs(4)
    np.testing.assert_allclose(interop.from_onnx(model)(X), X.astype(np.float64) @ W34.T + B13[0],
                               rtol=1e-6, atol=1e-6)
    between = _onnx_dense([helper.make_node("Gemm", ["x", "W", "b"], ["g"], transB=1),
                           helper.make_node("Flatten", ["g"], ["y"], axis=1)],
                          {"W": W34, "b": B13[0]})
    with pytest.raises(ValueError, match="Flatten"):
        interop.from_onnx(between)


def test_from_onnx_skips_an_inference_dropout():
    # the README says from_onnx skips Dropout, as from_torch does; ONNX Dropout is the identity at inference
    from onnx import helper

    def model(training_mode):
        inits = {"W": W34, "b": B13[0], "ratio": np.array(0.5, np.float32),
                 "train": np.array(training_mode)}
        return _onnx_dense([helper.make_node("Gemm", ["x", "W", "b"], ["g"], transB=1),
                            helper.make_node("Dropout", ["g", "ratio", "train"], ["y"])], inits)

    X = _inputs(4)
    np.testing.assert_allclose(interop.from_onnx(model(False))(X), X.astype(np.float64) @ W34.T + B13[0],
                               rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="training mode"):
        interop.from_onnx(model(True))
