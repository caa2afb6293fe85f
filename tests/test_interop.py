"""mlp ⇄ PyTorch and mlp → ONNX (run with ONNX Runtime): the same function, to 1e-6 in float32."""

import sys
import warnings

import numpy as np
import pytest

import mlp
from mlp import interop

HIDDEN = [a for a in mlp.activations.names() if a != "softmax"]   # softmax: output layer only
OUTPUT = mlp.activations.names()
TOL = dict(rtol=1e-6, atol=1e-6)


def make_net(hidden, output, sizes=(5, 7, 6, 3), seed=0, dtype=np.float32):
    with warnings.catch_warnings():   # all-identity hidden layers warn (the collapse); intended here
        warnings.simplefilter("ignore", UserWarning)
        net = mlp.Network.from_sizes(list(sizes), hidden=hidden, output=output, init="glorot",
                                     seed=seed, dtype=dtype)
    # non-zero biases so that a lost or misplaced bias shows
    rng = np.random.default_rng(seed + 1)
    for layer in net.layers:
        layer.b = rng.normal(scale=0.5, size=layer.n_out)
    return net


def random_inputs(n_in, n=64, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).normal(scale=2.0, size=(n, n_in)).astype(dtype)


# -- PyTorch ---------------------------------------------------------------------------------

@pytest.mark.parametrize("output", OUTPUT)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_torch_round_trip_every_activation(hidden, output):
    torch = pytest.importorskip("torch")
    net = make_net(hidden, output)
    X = random_inputs(net.n_in)
    module = interop.to_torch(net)
    with torch.no_grad():
        y_torch = module(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(y_torch, net(X), **TOL)

    back = interop.from_torch(module)
    assert back.dtype == np.float32
    assert [layer.activation for layer in back.layers] == [layer.activation for layer in net.layers]
    np.testing.assert_array_equal(back.params, net.params)      # copied, not recomputed
    np.testing.assert_allclose(back(X), net(X), **TOL)


def test_to_torch_structure_and_weights():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    net = mlp.Network([mlp.Dense(3, 4, "leaky_relu"), mlp.Dense(4, 4, "softplus"), mlp.Dense(4, 4),
                       mlp.Dense(4, 2, "softmax")])
    module = interop.to_torch(net)
    kinds = [type(m) for m in module]
    assert kinds == [nn.Linear, nn.LeakyReLU, nn.Linear, nn.Softplus, nn.Linear, nn.Linear, nn.Softmax]
    assert module[1].negative_slope == 0.01
    assert module[6].dim == -1
    # nn.Linear.weight is (out_features, in_features) = mlp's W (n_out, n_in): same array, no transpose
    assert tuple(module[0].weight.shape) == (4, 3)
    np.testing.assert_array_equal(module[0].weight.detach().numpy(), net.layers[0].W)
    np.testing.assert_array_equal(module[2].bias.detach().numpy(), net.layers[1].b)
    # copies: changing the torch module leaves the network alone
    with torch.no_grad():
        module[0].weight.zero_()
    assert np.any(net.layers[0].W != 0)


def test_torch_dtype_preserved_float64():
    torch = pytest.importorskip("torch")
    net = make_net("tanh", "sigmoid", dtype=np.float64)
    module = interop.to_torch(net)
    assert all(p.dtype == torch.float64 for p in module.parameters())
    X = random_inputs(net.n_in, dtype=np.float64)
    with torch.no_grad():
        np.testing.assert_allclose(module(torch.from_numpy(X)).numpy(), net(X), rtol=1e-13, atol=1e-13)
    back = interop.from_torch(module)
    assert back.dtype == np.float64
    np.testing.assert_array_equal(back.params, net.params)
    assert interop.from_torch(module, dtype=np.float32).dtype == np.float32


def test_exported_module_trains_like_mlp():
    """The torch module's autograd gradients are mlp's backprop gradients (same loss, float64)."""
    torch = pytest.importorskip("torch")
    net = make_net("relu", "identity", sizes=(4, 8, 8, 2), dtype=np.float64)
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(10, 4)), rng.normal(size=(10, 2))
    net.loss_and_grad(X, y, mlp.MSE("mean"))
    module = interop.to_torch(net)
    loss = torch.nn.functional.mse_loss(module(torch.from_numpy(X)), torch.from_numpy(y))
    loss.backward()
    linears = [m for m in module if isinstance(m, torch.nn.Linear)]
    for layer, linear in zip(net.layers, linears):
        np.testing.assert_allclose(linear.weight.grad.numpy(), layer.dW, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(linear.bias.grad.numpy(), layer.db, rtol=1e-10, atol=1e-12)
    # one torch SGD step, brought back, equals the same step taken on mlp's flat vectors
    torch.optim.SGD(module.parameters(), lr=0.1).step()
    np.testing.assert_allclose(interop.from_torch(module).params, net.params - 0.1 * net.grads,
                               rtol=1e-12, atol=1e-12)


def test_from_torch_handmade_module():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Dropout(0.2),
                           nn.Sequential(nn.Linear(5, 4, bias=False), nn.LeakyReLU(0.2)),
                           nn.Linear(4, 4), nn.Identity(), nn.Linear(4, 2), nn.Softmax(dim=1))
    net = interop.from_torch(module)
    assert net.sizes == [3, 5, 4, 4, 2]
    assert [layer.activation.name for layer in net.layers] == ["tanh", "leaky_relu", "identity",
                                                                "softmax"]
    assert net.layers[1].activation.negative_slope == pytest.approx(0.2)
    np.testing.assert_array_equal(net.layers[1].b, np.zeros(4))     # Linear without bias
    X = random_inputs(3)
    module.eval()
    with torch.no_grad():
        np.testing.assert_allclose(net(X), module(torch.from_numpy(X)).numpy(), **TOL)
    single = interop.from_torch(nn.Linear(3, 2))
    assert single.sizes == [3, 2] and single.layers[0].activation.name == "identity"


@pytest.mark.parametrize("build, match", [
    (lambda nn: nn.Sequential(nn.Linear(3, 4), nn.GELU(), nn.Linear(4, 1)), "GELU"),
    (lambda nn: nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1)), "BatchNorm1d"),
    (lambda nn: nn.Sequential(nn.Conv1d(1, 2, 3)), "Conv1d"),
    (lambda nn: nn.Sequential(nn.ReLU(), nn.Linear(3, 1)), "must follow a Linear"),
    (lambda nn: nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Tanh()), "must follow a Linear"),
    (lambda nn: nn.Sequential(nn.Linear(3, 4), nn.Softplus(beta=2)), "beta"),
    (lambda nn: nn.Sequential(nn.Linear(3, 4), nn.Softmax(dim=0)), "dim=0"),
    (lambda nn: nn.Sequential(nn.Linear(3, 4), nn.Softmax(dim=-1), nn.Linear(4, 1)), "output layer"),
    (lambda nn: nn.Sequential(), "no Linear"),
])
def test_from_torch_names_what_is_unsupported(build, match):
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match=match):
        interop.from_torch(build(torch.nn))


def test_from_torch_type_errors():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="nn.Module"):
        interop.from_torch([1, 2])
    with pytest.raises(TypeError, match="float16"):
        interop.from_torch(torch.nn.Sequential(torch.nn.Linear(2, 1).half()))


def test_custom_activation_is_refused():
    class Cube(mlp.Activation):
        name = "cube"

        def __call__(self, z):
            return z ** 3

        def derivative(self, z, h=None):
            return 3 * z ** 2

    net = mlp.Network([mlp.Dense(2, 3, Cube()), mlp.Dense(3, 1)])
    with pytest.raises(ValueError, match="cube"):
        interop.to_onnx(net)
    with pytest.raises(TypeError, match="Network"):
        interop.to_torch("not a network")


def test_missing_torch_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)    # import torch now raises ImportError
    with pytest.raises(ImportError, match=r"mlp\[torch\]"):
        interop.to_torch(make_net("relu", "identity"))


# -- ONNX ------------------------------------------------------------------------------------

def run_onnx(path, X):
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": X})[0]


@pytest.mark.parametrize("output", OUTPUT)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_onnx_runtime_matches_every_activation(hidden, output, tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    net = make_net(hidden, output)
    path = tmp_path / "net.onnx"
    interop.to_onnx(net, path)
    X = random_inputs(net.n_in)
    np.testing.assert_allclose(run_onnx(path, X), net(X), **TOL)
    back = interop.from_onnx(path)
    assert [layer.activation for layer in back.layers] == [layer.activation for layer in net.layers]
    np.testing.assert_array_equal(back.params, net.params)


def test_onnx_graph_is_standard(tmp_path):
    onnx = pytest.importorskip("onnx")
    net = mlp.Network([mlp.Dense(3, 4, "leaky_relu"), mlp.Dense(4, 4), mlp.Dense(4, 2, "softmax")])
    model = interop.to_onnx(net, tmp_path / "m.onnx")
    onnx.checker.check_model(onnx.load(tmp_path / "m.onnx"), full_check=True)
    assert model.opset_import[0].domain == "" and model.opset_import[0].version >= 17
    nodes = model.graph.node
    assert [n.op_type for n in nodes] == ["Gemm", "LeakyRelu", "Gemm", "Gemm", "Softmax"]
    attrs = {n.op_type + str(i): {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
             for i, n in enumerate(nodes)}
    assert attrs["Gemm0"]["transB"] == 1
    assert attrs["LeakyRelu1"]["alpha"] == pytest.approx(0.01)
    assert attrs["Softmax4"]["axis"] == -1
    W1 = onnx.numpy_helper.to_array(next(t for t in model.graph.initializer if t.name == "W1"))
    np.testing.assert_array_equal(W1, net.layers[0].W)       # stored (n_out, n_in), Gemm transposes
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and dims[1].dim_value == 3


@pytest.mark.parametrize("n", [1, 2, 257])
def test_onnx_batch_dimension_is_dynamic(n, tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    net = make_net("relu", "sigmoid")
    interop.to_onnx(net, tmp_path / "m.onnx")
    X = random_inputs(net.n_in, n=n, seed=n)
    y = run_onnx(tmp_path / "m.onnx", X)
    assert y.shape == (n, net.n_out)
    np.testing.assert_allclose(y, net(X), **TOL)


def test_onnx_float64_and_opset(tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    net = make_net("tanh", "softmax", dtype=np.float64)
    model = interop.to_onnx(net, tmp_path / "m.onnx", opset=18)
    assert model.opset_import[0].version == 18
    X = random_inputs(net.n_in, dtype=np.float64)
    np.testing.assert_allclose(run_onnx(tmp_path / "m.onnx", X), net(X), rtol=1e-12, atol=1e-12)
    assert interop.from_onnx(model).dtype == np.float64
    with pytest.raises(ValueError, match="opset"):
        interop.to_onnx(net, opset=12)


def test_from_onnx_refuses_other_graphs():
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], name="conv")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 2])],
        initializer=[onnx.numpy_helper.from_array(np.ones((1, 1, 3), np.float32), "w")])
    with pytest.raises(ValueError, match="Conv"):
        interop.from_onnx(helper.make_model(graph))


def test_torch_to_onnx_via_mlp_matches_torch(tmp_path):
    """A PyTorch model reaches ONNX Runtime through mlp with the same outputs."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    torch.manual_seed(1)
    nn = torch.nn
    module = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 3), nn.Softmax(dim=-1))
    interop.to_onnx(interop.from_torch(module), tmp_path / "m.onnx")
    X = random_inputs(5)
    with torch.no_grad():
        np.testing.assert_allclose(run_onnx(tmp_path / "m.onnx", X),
                                   module(torch.from_numpy(X)).numpy(), **TOL)


# -- input scaling and export ------------------------------------------------------------------

def test_fold_scaler_takes_raw_inputs():
    net = make_net("relu", "softmax", dtype=np.float64)
    rng = np.random.default_rng(5)
    mean, scale = rng.normal(size=net.n_in) * 10, rng.uniform(0.1, 100, size=net.n_in)
    X = mean + scale * random_inputs(net.n_in, dtype=np.float64)
    folded = interop.fold_scaler(net, mean, scale)
    np.testing.assert_allclose(folded(X), net((X - mean) / scale), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(folded.layers[1].W, net.layers[1].W)    # only layer 1 changes
    assert not np.array_equal(folded.layers[0].W, net.layers[0].W)
    with pytest.raises(ValueError, match="positive"):
        interop.fold_scaler(net, mean, -scale)
    with pytest.raises(ValueError, match="shape"):
        interop.fold_scaler(net, mean[:2], scale[:2])


class _Scaler:
    def __init__(self, mean, scale):
        self.mean, self.scale = mean, scale


def test_export_onnx_folds_scaler_and_keeps_classes(tmp_path):
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    net = make_net("tanh", "softmax")
    rng = np.random.default_rng(6)
    mean, scale = rng.normal(size=net.n_in), rng.uniform(0.5, 2, size=net.n_in)
    net.scaler = _Scaler(mean, scale)
    net.classes_ = np.array([3, 5, 7])
    interop.export(net, tmp_path / "m.onnx", "onnx")
    X = random_inputs(net.n_in)
    expected = net(X)          # the scaler is part of the model: net(X) takes raw rows (issue 14)
    np.testing.assert_allclose(run_onnx(tmp_path / "m.onnx", X), expected, **TOL)
    net.scaler = None
    np.testing.assert_allclose(expected, net(((X - mean) / scale).astype(np.float32)), **TOL)
    props = {p.key: p.value for p in onnx.load(tmp_path / "m.onnx").metadata_props}
    assert props["classes"] == "[3, 5, 7]"
    with pytest.raises(ValueError, match="format"):
        interop.export(net, tmp_path / "m.x", "tflite")


def test_export_torch_file_loads_as_module(tmp_path):
    torch = pytest.importorskip("torch")
    net = make_net("leaky_relu", "identity")
    interop.export(net, tmp_path / "m.pt", "torch")
    module = torch.load(tmp_path / "m.pt", weights_only=False)
    assert isinstance(module, torch.nn.Sequential)
    X = random_inputs(net.n_in)
    with torch.no_grad():
        np.testing.assert_allclose(module(torch.from_numpy(X)).numpy(), net(X), **TOL)


def test_export_from_a_model_file(tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from mlp.data import StandardScaler
    net = make_net("relu", "softmax")
    X_raw = 3 + 4 * random_inputs(net.n_in)
    scaler = StandardScaler.fit(X_raw)
    mlp.save(net, tmp_path / "model.safetensors", classes=["a", "b", "c"], scaler=scaler)
    interop.export(tmp_path / "model.safetensors", tmp_path / "m.onnx", "onnx")
    np.testing.assert_allclose(run_onnx(tmp_path / "m.onnx", X_raw), net(scaler.transform(X_raw)), **TOL)


def test_cli_export(tmp_path, capsys):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    torch = pytest.importorskip("torch")
    from mlp.cli import main
    from mlp.data import StandardScaler
    net = make_net("sigmoid", "identity", sizes=(3, 4, 2))
    X = 2 + 3 * random_inputs(3)
    scaler = StandardScaler.fit(X)
    expected = net(scaler.transform(X))
    mlp.save(net, tmp_path / "model.safetensors", scaler=scaler)
    assert main(["export", str(tmp_path / "model.safetensors"), "--format", "onnx",
                 "--out", str(tmp_path / "m.onnx")]) == 0
    assert "input scaling folded" in capsys.readouterr().out
    np.testing.assert_allclose(run_onnx(tmp_path / "m.onnx", X), expected, **TOL)
    assert main(["export", str(tmp_path / "model.safetensors"), "--format", "torch",
                 "--out", str(tmp_path / "m.pt")]) == 0
    assert "weights_only=False" in capsys.readouterr().err
    module = torch.load(tmp_path / "m.pt", weights_only=False)
    with torch.no_grad():
        np.testing.assert_allclose(module(torch.from_numpy(X)).numpy(), expected, **TOL)
    assert main(["export", str(tmp_path / "missing.safetensors"), "--format", "onnx",
                 "--out", str(tmp_path / "x.onnx")]) == 1
    assert "no such model file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["export", str(tmp_path / "model.safetensors"), "--format", "keras", "--out", "x"])
    assert exc.value.code == 2


def test_from_onnx_matmul_add_and_scaled_gemm():
    """Graphs other exporters write: MatMul + Add layers, Gemm with alpha/beta and transB=0."""
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(7)
    W1, b1 = rng.normal(size=(3, 5)).astype(np.float32), rng.normal(size=5).astype(np.float32)  # (in, out)
    W2, b2 = rng.normal(size=(5, 2)).astype(np.float32), rng.normal(size=2).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "W1"], ["m1"]), helper.make_node("Add", ["m1", "b1"], ["z1"]),
             helper.make_node("Tanh", ["z1"], ["h1"]),
             helper.make_node("Gemm", ["h1", "W2", "b2"], ["y"], alpha=2.0, beta=0.5, transB=0)]
    inits = [numpy_helper.from_array(a, n) for a, n in ((W1, "W1"), (b1, "b1"), (W2, "W2"), (b2, "b2"))]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2])],
                              initializer=inits)
    net = interop.from_onnx(helper.make_model(graph))
    X = random_inputs(3)
    expected = 2.0 * np.tanh(X @ W1 + b1) @ W2 + 0.5 * b2
    np.testing.assert_allclose(net(X), expected, rtol=1e-5, atol=1e-5)
    assert [layer.activation.name for layer in net.layers] == ["tanh", "identity"]
