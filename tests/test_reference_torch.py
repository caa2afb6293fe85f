"""Outputs and gradients against torch.autograd, float64, to 1e-10."""

import numpy as np
import pytest

import mlp

torch = pytest.importorskip("torch")

TORCH_ACT = {"identity": lambda z: z, "relu": torch.relu,
             "leaky_relu": lambda z: torch.nn.functional.leaky_relu(z, 0.01),
             "sigmoid": torch.sigmoid, "tanh": torch.tanh,
             "softplus": torch.nn.functional.softplus,
             "softmax": lambda z: torch.softmax(z, dim=-1)}


def torch_loss(name, reduction, out_z, out_h, y):
    if name == "mse":
        diff = out_h - y
        return {"half_sum": 0.5 * (diff ** 2).sum(), "sum": (diff ** 2).sum(),
                "mean": torch.nn.functional.mse_loss(out_h, y)}[reduction]
    if name == "cross_entropy":
        return torch.nn.functional.cross_entropy(out_z, y, reduction=reduction)
    return torch.nn.functional.binary_cross_entropy_with_logits(out_z, y, reduction=reduction)


CASES = [
    ([2, 2, 1], "relu", "identity", "mse", "half_sum"),
    ([4, 8, 6, 3], "tanh", "identity", "mse", "mean"),
    ([3, 5, 5, 5, 2], "sigmoid", "tanh", "mse", "sum"),
    ([5, 7, 4], "leaky_relu", "softmax", "cross_entropy", "mean"),
    ([5, 6, 6, 4], "softplus", "softmax", "cross_entropy", "sum"),
    ([3, 4, 2], "relu", "sigmoid", "binary_cross_entropy", "mean"),
    ([6, 3, 3], "tanh", "softmax", "mse", "mean"),
    ([1, 8, 8, 8, 1], "relu", "sigmoid", "mse", "half_sum"),
]


@pytest.mark.parametrize("sizes, hidden, output, loss_name, reduction", CASES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_outputs_and_gradients_equal_torch_autograd(sizes, hidden, output, loss_name, reduction,
                                                   seed):
    net = mlp.Network.from_sizes(sizes, hidden=hidden, output=output, seed=seed, dtype=np.float64)
    rng = np.random.default_rng(100 + seed)
    net.params = rng.normal(size=net.n_params)
    n = 7
    X = rng.normal(size=(n, sizes[0]))
    if loss_name == "cross_entropy":
        y = rng.integers(0, sizes[-1], size=n)
        y_t = torch.tensor(y)
    else:
        y = rng.uniform(size=(n, sizes[-1]))
        y_t = torch.tensor(y)
    loss = {"mse": mlp.MSE, "cross_entropy": mlp.CrossEntropy,
            "binary_cross_entropy": mlp.BinaryCrossEntropy}[loss_name](reduction)
    value = net.loss_and_grad(X, y, loss)

    Ws = [torch.tensor(layer.W, requires_grad=True) for layer in net.layers]
    bs = [torch.tensor(layer.b, requires_grad=True) for layer in net.layers]
    h = torch.tensor(X)
    for layer, W, b in zip(net.layers, Ws, bs):
        z = h @ W.T + b
        h = TORCH_ACT[layer.activation.name](z)
    expected = torch_loss(loss_name, reduction, z, h, y_t)
    expected.backward()
    np.testing.assert_allclose(net(X), h.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert value == pytest.approx(expected.item(), rel=1e-10, abs=1e-12)
    torch_grads = np.concatenate([W.grad.numpy().ravel() for W in Ws] +
                                 [b.grad.numpy() for b in bs])
    np.testing.assert_allclose(net.grads, torch_grads, rtol=1e-10, atol=1e-12)
