"""Conversion to and from PyTorch and ONNX: the same function ŷ = σ_L(W_L … σ_1(W_1 x + b_1) … + b_L).

This module owns the translation of a ``Network`` into other frameworks' model
descriptions and back. It does not own training, file formats of mlp itself
(``mlp.io``) or the command line (``mlp export`` calls these functions).

* ``to_torch(net)`` → ``torch.nn.Sequential`` of ``nn.Linear`` and activation
  modules with the same weights and dtype. PyTorch stores ``nn.Linear.weight``
  as ``(out_features, in_features)``, exactly mlp's ``W`` of shape
  ``(n_out, n_in)``, so weights are copied without a transpose. The module is
  an ordinary PyTorch model: move it to a GPU, wrap it in DistributedDataParallel,
  train it with ``torch.optim``, then bring it back with ``from_torch``.
* ``from_torch(module)`` → ``Network`` for a ``Sequential`` stack of ``Linear``
  layers and supported activations.
* ``to_onnx(net, path)`` writes a standard ONNX graph built with the ``onnx``
  package alone (no PyTorch): per layer one ``Gemm`` (``Y = X Wᵀ + b``,
  ``transB=1``) followed by the activation operator; opset 17 or later; the
  batch dimension is dynamic. ``from_onnx`` reads such graphs back.

Activation correspondence (identity has no module/operator: it is omitted):

============  ==========================  ==========================
mlp           PyTorch                     ONNX
============  ==========================  ==========================
relu          ``nn.ReLU()``               ``Relu``
leaky_relu    ``nn.LeakyReLU(α)``         ``LeakyRelu(alpha=α)``
sigmoid       ``nn.Sigmoid()``            ``Sigmoid``
tanh          ``nn.Tanh()``               ``Tanh``
softplus      ``nn.Softplus()``           ``Softplus``
softmax       ``nn.Softmax(dim=-1)``      ``Softmax(axis=-1)``
============  ==========================  ==========================

(α = 0.01 by default, as ``mlp.activations.LeakyReLU``.)

Examples
--------
>>> import numpy as np, mlp
>>> from mlp.interop import to_torch, from_torch
>>> net = mlp.Network.from_sizes([4, 8, 3], hidden="tanh", output="softmax", seed=0)
>>> module = to_torch(net)                    # doctest: +SKIP
>>> np.allclose(from_torch(module).params, net.params)   # doctest: +SKIP
True
"""

from __future__ import annotations

import io
import os
import warnings

import numpy as np

from . import activations as _act
from ._safetensors import atomic_write, check_writable_file
from ._validation import is_number
from .io import load
from .layers import Dense
from .network import Network

#: The ONNX opset ``to_onnx`` writes by default (Gemm-13, Softmax-13 semantics).
DEFAULT_OPSET = 17


def _require(module: str, extra: str):
    """Import an optional dependency or raise an ImportError naming the pip extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"{module} is needed for this: pip install 'mlp[{extra}]'") from exc


_SUPPORTED = (_act.Identity, _act.ReLU, _act.LeakyReLU, _act.Sigmoid, _act.Tanh, _act.Softplus,
              _act.Softmax)


def _check_folder(path: str) -> None:
    """Raise ``FileNotFoundError`` naming the folder of ``path`` when it does not exist, and
    ``OSError`` when ``path`` is a device, a FIFO or a socket (or a link to one), which the
    rename below would replace (as ``mlp.save`` refuses them).

    Checked before anything is built, so that nothing is converted for a file that cannot be
    written. The file itself is written as ``mlp.save`` writes one (``_safetensors.atomic_write``:
    a temporary beside it, renamed over it; temporaries of a writer killed mid-write removed).
    """
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise FileNotFoundError(2, "the folder does not exist" if not os.path.exists(folder)
                                else "the parent is not a folder", folder)
    check_writable_file(path)


def _check_network(net) -> None:
    if not isinstance(net, Network):
        raise TypeError(f"expected an mlp.Network, got {type(net).__name__}")
    for i, layer in enumerate(net.layers):
        if type(layer.activation) not in _SUPPORTED:
            raise ValueError(
                f"layer {i + 1} has activation {layer.activation.name!r} "
                f"({type(layer.activation).__name__}), which has no PyTorch/ONNX counterpart; "
                f"supported: {', '.join(cls.name for cls in _SUPPORTED)}")


def _network(dense: list[Dense], dtype) -> Network:
    """Assemble layers into a Network, silencing the 'all hidden layers are identity' warning
    (a faithful import of a stack of bare Linear layers is not the user's modelling mistake here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return Network(dense, dtype=dtype)


def _dense(W: np.ndarray, b: np.ndarray | None, activation, dtype) -> Dense:
    """A Dense layer holding copies of ``W`` (n_out, n_in) and ``b`` (n_out,)."""
    n_out, n_in = W.shape
    layer = Dense(n_in, n_out, activation, init="zeros", dtype=dtype)
    layer.W = W
    if b is not None:
        layer.b = b
    return layer


# -- PyTorch ---------------------------------------------------------------------------------

def _torch_dtype(torch, dtype: np.dtype):
    return {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[np.dtype(dtype)]


def _torch_activation(nn, activation: _act.Activation):
    """The torch module for an mlp activation (None for identity)."""
    if isinstance(activation, _act.Identity):
        return None
    if isinstance(activation, _act.LeakyReLU):
        return nn.LeakyReLU(activation.negative_slope)
    if isinstance(activation, _act.Softmax):
        return nn.Softmax(dim=-1)
    return {_act.ReLU: nn.ReLU, _act.Sigmoid: nn.Sigmoid, _act.Tanh: nn.Tanh,
            _act.Softplus: nn.Softplus}[type(activation)]()


def to_torch(net: Network):
    """Convert a Network to a ``torch.nn.Sequential`` computing the same ŷ.

    Each layer becomes ``nn.Linear(n_in, n_out)`` with ``weight = W`` (both of
    shape (n_out, n_in): no transpose) and ``bias = b``, followed by its
    activation module (none for identity). The parameters are copies in the
    network's dtype (float32 → ``torch.float32``, float64 → ``torch.float64``),
    on the CPU, with ``requires_grad=True``: the module trains as any PyTorch model.
    Like ``net(X)``, it takes raw inputs: the network's input scaler (``net.scaler``,
    set by ``mlp train`` and ``mlp.load``), if any, is folded into the first layer
    (``fold_scaler``).

    Parameters
    ----------
    net : Network

    Returns
    -------
    torch.nn.Sequential
        Applied to a tensor of shape (n, n_in) it returns ŷ of shape (n, n_out).

    Raises
    ------
    ImportError
        When PyTorch is not installed (``pip install 'mlp[torch]'``).
    """
    _check_network(net)
    torch = _require("torch", "torch")
    net = _folded(net)
    nn = torch.nn
    dtype = _torch_dtype(torch, net.dtype)
    modules = []
    for layer in net.layers:
        linear = nn.Linear(layer.n_in, layer.n_out, bias=True, dtype=dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.array(layer.W)))
            linear.bias.copy_(torch.from_numpy(np.array(layer.b)))
        modules.append(linear)
        act = _torch_activation(nn, layer.activation)
        if act is not None:
            modules.append(act)
    return nn.Sequential(*modules)


def _flatten_modules(nn, module) -> list:
    """The leaf modules of (possibly nested) Sequential containers, in order."""
    if isinstance(module, nn.Sequential):
        out = []
        for child in module:
            out.extend(_flatten_modules(nn, child))
        return out
    return [module]


def _from_torch_activation(nn, module, where: str):
    """The mlp activation for a torch activation module; ValueError if there is none."""
    if isinstance(module, nn.ReLU):
        return _act.ReLU()
    if isinstance(module, nn.LeakyReLU):
        return _act.LeakyReLU(module.negative_slope)
    if isinstance(module, nn.Sigmoid):
        return _act.Sigmoid()
    if isinstance(module, nn.Tanh):
        return _act.Tanh()
    if isinstance(module, nn.Softplus):
        if module.beta != 1:
            raise ValueError(f"{where}: Softplus(beta={module.beta}) is not supported, only beta=1 "
                             "(mlp's softplus is log(1 + e^z))")
        if module.threshold < 20:
            # torch returns z itself above the threshold: off from log(1 + e^z) by up to e^(−threshold)
            raise ValueError(f"{where}: Softplus(threshold={module.threshold}) is not supported, only "
                             "threshold ≥ 20 (mlp's softplus is log(1 + e^z) for every z)")
        return _act.Softplus()
    if isinstance(module, nn.Softmax):
        if module.dim not in (-1, 1):
            raise ValueError(f"{where}: Softmax(dim={module.dim}) is not supported; mlp's softmax is "
                             "over the last (feature) dimension: use dim=-1")
        return _act.Softmax()
    return None


def _numpy(torch, tensor) -> np.ndarray:
    """A NumPy copy of a CPU tensor; float16/bfloat16 (which NumPy lacks) widened exactly to float64."""
    if tensor.dtype not in (torch.float32, torch.float64):
        tensor = tensor.to(torch.float64)
    return tensor.numpy().copy()


def from_torch(module, *, dtype=None) -> Network:
    """Convert a ``torch.nn.Sequential`` of Linear layers and activations to a Network.

    Accepted modules: ``nn.Linear`` (with or without bias), ``nn.ReLU``,
    ``nn.LeakyReLU``, ``nn.Sigmoid``, ``nn.Tanh``, ``nn.Softplus`` (beta=1, threshold ≥ 20),
    ``nn.Softmax(dim=-1)`` (last layer only), ``nn.Identity`` and ``nn.Dropout``
    (both the identity at inference, so skipped), ``nn.Flatten()`` before the
    first Linear (skipped: the network takes flat rows (n, n_in)); nested
    ``Sequential`` containers are flattened. Each Linear becomes a ``Dense`` with
    ``W = weight`` (n_out, n_in), ``b = bias`` (zeros when the Linear has none)
    and the activation that follows it (identity when another Linear follows).

    Parameters
    ----------
    module : torch.nn.Sequential or torch.nn.Linear
    dtype : float32, float64 or None
        The network's dtype; ``None`` keeps the module's (float32 or float64).

    Returns
    -------
    Network

    Raises
    ------
    ValueError
        Naming the first module that has no mlp counterpart (e.g. ``Conv2d``,
        ``BatchNorm1d``, ``GELU``), an activation with no Linear before it, two
        activations in a row, or a module without any Linear.
    TypeError
        For a module that is not a torch ``nn.Module``, or an unsupported dtype.
    """
    torch = _require("torch", "torch")
    nn = torch.nn
    if not isinstance(module, nn.Module):
        raise TypeError(f"from_torch expects a torch.nn.Module, got {type(module).__name__}")
    pending = None          # (W, b) of the Linear waiting for its activation
    specs = []              # [(W, b, activation)]
    module_dtype = None
    for i, child in enumerate(_flatten_modules(nn, module)):
        where = f"module {i} ({type(child).__name__})"
        if isinstance(child, (nn.Identity, nn.Dropout)):
            continue
        if (isinstance(child, nn.Flatten) and pending is None and not specs
                and (child.start_dim, child.end_dim) == (1, -1)):
            continue        # before the first Linear: the rows (n, n_in) mlp takes are already flat
        if isinstance(child, nn.Linear):
            if pending is not None:
                specs.append((*pending, _act.Identity()))
            W = child.weight.detach().cpu()
            if module_dtype is None:
                module_dtype = W.dtype
            b = None if child.bias is None else _numpy(torch, child.bias.detach().cpu())
            pending = (_numpy(torch, W), b)
            continue
        activation = _from_torch_activation(nn, child, where)
        if activation is None:
            raise ValueError(
                f"{where} is not supported by mlp: only Linear layers and the activations ReLU, "
                "LeakyReLU, Sigmoid, Tanh, Softplus, Softmax(dim=-1) (plus Identity/Dropout, and "
                "Flatten() before the first Linear, skipped) can be converted")
        if pending is None:
            raise ValueError(f"{where}: an activation must follow a Linear layer (found it "
                             f"{'first' if not specs else 'right after another activation'})")
        specs.append((*pending, activation))
        pending = None
    if pending is not None:
        specs.append((*pending, _act.Identity()))
    if not specs:
        raise ValueError("from_torch found no Linear layer in the module")
    if dtype is None:
        np_dtypes = {torch.float32: np.float32, torch.float64: np.float64}
        if module_dtype not in np_dtypes:
            raise TypeError(f"module parameters are {module_dtype}; mlp supports float32 and "
                            "float64 (pass dtype=np.float32 to convert)")
        dtype = np_dtypes[module_dtype]
    return _network([_dense(W, b, activation, dtype) for W, b, activation in specs], dtype)


# -- ONNX ------------------------------------------------------------------------------------

def _onnx_activation_node(helper, activation: _act.Activation, x: str, y: str, name: str):
    """The ONNX node computing σ element-wise (Softmax: along the last axis)."""
    if isinstance(activation, _act.LeakyReLU):
        return helper.make_node("LeakyRelu", [x], [y], name=name, alpha=activation.negative_slope)
    if isinstance(activation, _act.Softmax):
        return helper.make_node("Softmax", [x], [y], name=name, axis=-1)
    op = {_act.ReLU: "Relu", _act.Sigmoid: "Sigmoid", _act.Tanh: "Tanh",
          _act.Softplus: "Softplus"}[type(activation)]
    return helper.make_node(op, [x], [y], name=name)


def to_onnx(net: Network, path=None, *, opset: int = DEFAULT_OPSET, input_name: str = "x",
            output_name: str = "y_hat", metadata: dict | None = None):
    """Export a Network as a standard ONNX model (built with the ``onnx`` package alone).

    Layer k becomes ``Gemm(h_{k−1}, W_k, b_k, transB=1)``, i.e. ``Z = H Wᵀ + b``
    with ``W_k`` stored as (n_out, n_in) exactly as in mlp, followed by the
    activation operator (none for identity). Input ``x`` has shape
    ``("batch", n_in)``, output ``y_hat`` shape ``("batch", n_out)``; the batch
    dimension is symbolic, so any number of rows may be fed. The element type
    is the network's dtype (float32 → FLOAT, float64 → DOUBLE). The model is
    checked with ``onnx.checker.check_model`` before it is written. Like ``net(X)``,
    the graph takes raw inputs: the network's input scaler (``net.scaler``), if any,
    is folded into the first layer (``fold_scaler``); ``export`` (``mlp export``)
    also stores the class labels.

    Parameters
    ----------
    net : Network
    path : str or os.PathLike, optional
        Where to write the ``.onnx`` file; ``None`` only returns the model.
    opset : int, default 17
        ONNX opset version of the default domain, 17 or later.
    input_name, output_name : str
        Names of the graph's input and output: distinct, and not one of the graph's own
        names (``W1``, ``b1``, ``z1``, ``h1``, … per layer).
    metadata : dict of str to str, optional
        Stored as the model's ``metadata_props`` (e.g. ``{"classes": '["cat", "dog"]'}``).

    Returns
    -------
    onnx.ModelProto

    Notes
    -----
    float32 is the type to ship: ONNX Runtime (1.32) has no float64 kernel for
    ``Softplus``, and ONNX stores ``LeakyRelu``'s ``alpha`` as a float32
    attribute, so a float64 leaky-ReLU graph differs from mlp by about 1e-9
    relative. ``net.copy(dtype=np.float32)`` converts before exporting.

    Examples
    --------
    Run the exported model with ONNX Runtime::

        import onnxruntime as ort
        session = ort.InferenceSession("model.onnx")
        y_hat = session.run(None, {"x": X.astype(np.float32)})[0]
    """
    _check_network(net)
    onnx = _require("onnx", "onnx")
    from onnx import TensorProto, helper, numpy_helper

    net = _folded(net)

    if not is_number(opset, integer=True):
        raise TypeError(f"opset must be an int, got {type(opset).__name__}")
    latest = onnx.defs.onnx_opset_version()
    if not DEFAULT_OPSET <= opset <= latest:
        raise ValueError(f"opset must be between {DEFAULT_OPSET} and {latest} "
                         f"(this onnx package's latest), got {opset}")
    for what, name in (("input_name", input_name), ("output_name", output_name)):
        if not isinstance(name, str) or not name:
            raise ValueError(f"{what} must be a non-empty string, got {name!r}")
    internal = {f"{p}{k}" for k in range(1, len(net.layers) + 1) for p in ("W", "b", "z", "h")}
    clash = sorted({input_name, output_name} & internal)
    if input_name == output_name or clash:
        # a graph input named like a weight would take that weight's place in the Gemm
        raise ValueError(f"input_name and output_name must differ from each other and from the graph's "
                         f"own names W1, b1, z1, h1, …; got {input_name!r} and {output_name!r}")
    if metadata is not None and not isinstance(metadata, dict):
        raise TypeError(f"metadata must be a dict of str to str, got {type(metadata).__name__}")
    elem = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.float64): TensorProto.DOUBLE}[net.dtype]
    nodes, initializers = [], []
    h = input_name
    last = len(net.layers) - 1
    for k, layer in enumerate(net.layers, start=1):
        has_act = not isinstance(layer.activation, _act.Identity)
        z = output_name if (k - 1 == last and not has_act) else f"z{k}"
        initializers += [numpy_helper.from_array(np.array(layer.W), name=f"W{k}"),
                         numpy_helper.from_array(np.array(layer.b), name=f"b{k}")]
        nodes.append(helper.make_node("Gemm", [h, f"W{k}", f"b{k}"], [z], name=f"dense{k}",
                                      transB=1))
        h = z
        if has_act:
            out = output_name if k - 1 == last else f"h{k}"
            nodes.append(_onnx_activation_node(helper, layer.activation, z, out,
                                               name=f"{layer.activation.name}{k}"))
            h = out
    graph = helper.make_graph(
        nodes, "mlp",
        [helper.make_tensor_value_info(input_name, elem, ["batch", net.n_in])],
        [helper.make_tensor_value_info(output_name, elem, ["batch", net.n_out])],
        initializer=initializers,
        doc_string=f"mlp network {'-'.join(map(str, net.sizes))}: "
                   + ", ".join(layer.activation.name for layer in net.layers))
    opsets = [helper.make_opsetid("", int(opset))]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="mlp",
                              ir_version=helper.find_min_ir_version_for(opsets))
    if metadata:
        helper.set_model_props(model, {str(k): str(v) for k, v in metadata.items()})
    onnx.checker.check_model(model, full_check=True)
    if path is not None:
        path = os.fspath(path)
        _check_folder(path)
        atomic_write(path, model.SerializeToString())
    return model


_ONNX_ACTIVATIONS = {"Relu": _act.ReLU, "Sigmoid": _act.Sigmoid, "Tanh": _act.Tanh,
                     "Softplus": _act.Softplus}


def _onnx_bias(b, n_out: int, where: str) -> np.ndarray:
    """A bias that broadcasts to every row, (n_out,) or (1, n_out) or a scalar, as shape (n_out,)."""
    b = np.asarray(b)
    try:
        return np.broadcast_to(b, (1, n_out)).reshape(n_out)
    except ValueError:
        raise ValueError(f"{where}: a bias of shape {list(b.shape)} does not broadcast to one row of "
                         f"{n_out} outputs") from None


def from_onnx(model, *, dtype=None) -> Network:
    """Read an ONNX model made of dense layers back into a Network.

    Accepts the graphs ``to_onnx`` writes and similar ones: a chain of
    ``Gemm`` nodes (any ``transB``; ``alpha``/``beta`` are folded into W and b)
    or ``MatMul`` + ``Add`` pairs, each with constant weights (initializers),
    optionally followed by one of ``Relu``, ``LeakyRelu``, ``Sigmoid``,
    ``Tanh``, ``Softplus``, ``Softmax`` (last axis); ``Identity`` and
    ``Dropout`` (inference mode) nodes and a ``Flatten(axis=1)`` before the first
    layer (as PyTorch exports ``nn.Flatten()``) are skipped.

    Parameters
    ----------
    model : onnx.ModelProto, str or os.PathLike
    dtype : float32, float64 or None
        ``None`` keeps the model's element type.

    Raises
    ------
    ValueError
        Naming the first node that is not part of such a chain.
    """
    onnx = _require("onnx", "onnx")
    from onnx import numpy_helper

    if not isinstance(model, onnx.ModelProto):
        model = onnx.load(os.fspath(model))
    graph = model.graph
    consts = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            consts[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    inputs = [i.name for i in graph.input if i.name not in consts]
    if len(inputs) != 1 or len(graph.output) != 1:
        raise ValueError(f"from_onnx expects one data input and one output, got inputs {inputs} "
                         f"and {len(graph.output)} output(s)")
    current = inputs[0]
    specs = []          # [W, b, activation]
    for node in graph.node:
        if node.op_type == "Constant":
            continue
        where = f"node {node.name or '?'} ({node.op_type})"
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        data_in = [i for i in node.input if i and i not in consts]
        if data_in != [current]:
            raise ValueError(f"{where} is not part of a single chain from the input "
                             f"(inputs {list(node.input)})")
        if node.op_type in ("Gemm", "MatMul") and node.input[0] != current:
            raise ValueError(f"{where}: the data must be the first operand (x Wᵀ), not the weights")
        if node.op_type == "Gemm":
            W = consts[node.input[1]].astype(np.float64)
            if attrs.get("transA", 0):
                raise ValueError(f"{where}: transA=1 is not supported")
            W = (W if attrs.get("transB", 0) else W.T) * attrs.get("alpha", 1.0)
            b = consts[node.input[2]] * attrs.get("beta", 1.0) if len(node.input) > 2 and node.input[2] \
                else np.zeros(W.shape[0])
            specs.append([W, _onnx_bias(b, W.shape[0], where), _act.Identity()])
        elif node.op_type == "MatMul":
            W = consts[node.input[1]].T
            specs.append([W, np.zeros(W.shape[0]), _act.Identity()])
        elif node.op_type == "Add" and specs and isinstance(specs[-1][2], _act.Identity):
            specs[-1][1] = specs[-1][1] + _onnx_bias(
                [consts[i] for i in node.input if i in consts][0], specs[-1][1].shape[0], where)
        elif node.op_type == "Identity" or (node.op_type == "Flatten" and not specs
                                            and attrs.get("axis", 1) == 1):
            pass        # a leading Flatten(axis=1): the rows (n, n_in) mlp takes are already flat
        elif node.op_type == "Dropout":
            if len(node.input) > 2 and node.input[2] and bool(np.asarray(consts[node.input[2]]).any()):
                raise ValueError(f"{where}: a Dropout in training mode is not supported")
        elif node.op_type in _ONNX_ACTIVATIONS or node.op_type in ("LeakyRelu", "Softmax"):
            if not specs or not isinstance(specs[-1][2], _act.Identity):
                raise ValueError(f"{where}: an activation must follow a Gemm/MatMul layer")
            if node.op_type == "LeakyRelu":
                # ONNX float attributes are float32: 0.01 comes back as 0.0099999998; its
                # shortest float32 repr recovers the decimal slope that was written.
                activation = _act.LeakyReLU(float(str(np.float32(attrs.get("alpha", 0.01)))))
            elif node.op_type == "Softmax":
                if attrs.get("axis", -1) not in (-1, 1):
                    raise ValueError(f"{where}: Softmax over axis {attrs['axis']} is not supported")
                activation = _act.Softmax()
            else:
                activation = _ONNX_ACTIVATIONS[node.op_type]()
            specs[-1][2] = activation
        else:
            raise ValueError(f"{where} is not supported by mlp: only Gemm, MatMul + Add and the "
                             "activations Relu, LeakyRelu, Sigmoid, Tanh, Softplus, Softmax")
        current = node.output[0]
    if current != graph.output[0].name:
        raise ValueError("the graph's output is not the end of its chain of layers")
    if not specs:
        raise ValueError("from_onnx found no Gemm or MatMul layer in the model")
    if dtype is None:
        elem = graph.input[[i.name for i in graph.input].index(inputs[0])].type.tensor_type.elem_type
        dtype = {onnx.TensorProto.FLOAT: np.float32, onnx.TensorProto.DOUBLE: np.float64}.get(elem)
        if dtype is None:
            raise TypeError(f"model input has ONNX element type {elem}; mlp supports FLOAT and DOUBLE "
                            "(pass dtype=np.float32 to convert)")
    return _network([_dense(np.asarray(W), np.asarray(b), a, dtype) for W, b, a in specs], dtype)


# -- input scaling and the command line --------------------------------------------------------

def fold_scaler(net: Network, mean, scale) -> Network:
    """A copy of ``net`` that applies the standardisation x′ = (x − mean) / scale itself.

    The first layer's ``z = W x′ + b = (W / scale) x + (b − W (mean / scale))``, so
    ``W ← W diag(1/scale)`` and ``b ← b − W (mean / scale)`` (computed in float64).
    Exported models then take raw inputs, as ``mlp predict`` does with a model file
    that stores a scaler.

    Parameters
    ----------
    net : Network
    mean, scale : array_like of shape (n_in,)
        ``scale`` > 0.
    """
    _check_network(net)
    mean = np.asarray(mean, dtype=np.float64).reshape(-1)
    scale = np.asarray(scale, dtype=np.float64).reshape(-1)
    if mean.shape != (net.n_in,) or scale.shape != (net.n_in,):
        raise ValueError(f"mean and scale must have shape ({net.n_in},), got {mean.shape} and {scale.shape}")
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(scale)) and np.all(scale > 0)):
        raise ValueError("mean must be finite and scale finite and positive")
    folded = net.copy()
    folded.scaler = None            # the first layer applies it now
    first = folded.layers[0]
    W = first.W.astype(np.float64) / scale
    first.b = first.b.astype(np.float64) - W @ mean
    first.W = W
    return folded


def _folded(net: Network) -> Network:
    """``net`` itself, or a copy with its input scaler folded into the first layer."""
    scaler = getattr(net, "scaler", None)
    return net if scaler is None else fold_scaler(net, scaler.mean, scaler.scale)


EXPORT_FORMATS = ("onnx", "torch")


def export(model, out, format: str = "onnx") -> Network:
    """Write a saved mlp model as an ONNX file or a PyTorch module file (``mlp export``).

    A model file's input scaler, if it has one, is folded into the first layer
    (``fold_scaler``), so the exported model takes the same raw inputs as
    ``mlp predict``. ONNX files carry the class labels (when the model has them)
    in their metadata under ``"classes"`` (JSON). PyTorch files hold the whole
    ``nn.Sequential`` (``torch.save``): load them with
    ``torch.load(path, weights_only=False)``, only from a source you trust.

    Parameters
    ----------
    model : str, os.PathLike or Network
        An mlp model file (``mlp.save``) or a network.
    out : str or os.PathLike
        The file to write.
    format : {"onnx", "torch"}

    Returns
    -------
    Network
        The network that was exported (with the scaler folded in).
    """
    if format not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {format!r}; known: {', '.join(EXPORT_FORMATS)}")
    if isinstance(model, Network):
        net = model
    else:
        net = load(model)
    classes = getattr(net, "classes_", None)
    exported = _folded(net)
    if format == "onnx":
        import json

        labels = None if classes is None else [c.item() if isinstance(c, np.generic) else c
                                               for c in classes]
        meta = {} if labels is None else {"classes": json.dumps(labels, default=str)}
        to_onnx(exported, out, metadata=meta)
    else:
        torch = _require("torch", "torch")
        module = to_torch(exported)
        out = os.fspath(out)
        _check_folder(out)
        buffer = io.BytesIO()
        torch.save(module, buffer)
        atomic_write(out, buffer.getvalue())
    return exported
