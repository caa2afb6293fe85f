"""Optimisers: each update rule against torch.optim (50 steps, float64, 1e-10), restated by
hand for the first steps, and their state (in place, save/restore, partial reset)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlp import optimizers
from mlp.optimizers import GD, SGD, Adam, AdamW, Momentum, Nesterov, RMSprop


def gradient(theta: np.ndarray) -> np.ndarray:
    """A bounded, non-linear 'gradient' of the parameters, the same on both sides."""
    return np.sin(3 * theta) + 0.5 * theta / (1 + theta**2)


# (mlp optimiser, torch class name, torch keyword arguments)
CASES = [
    (lambda: GD(lr=0.1), "SGD", dict(lr=0.1)),
    (lambda: SGD(lr=0.05), "SGD", dict(lr=0.05)),
    (lambda: SGD(lr=0.05, weight_decay=0.1), "SGD", dict(lr=0.05, weight_decay=0.1)),
    (lambda: Momentum(lr=0.02), "SGD", dict(lr=0.02, momentum=0.9)),
    (lambda: SGD(lr=0.02, momentum=0.8, dampening=0.3, weight_decay=0.01), "SGD",
     dict(lr=0.02, momentum=0.8, dampening=0.3, weight_decay=0.01)),
    (lambda: Nesterov(lr=0.02), "SGD", dict(lr=0.02, momentum=0.9, nesterov=True)),
    (lambda: SGD(lr=0.02, momentum=0.7, nesterov=True, weight_decay=0.05), "SGD",
     dict(lr=0.02, momentum=0.7, nesterov=True, weight_decay=0.05)),
    (lambda: Adam(), "Adam", dict()),
    (lambda: Adam(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1), "Adam",
     dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    (lambda: Adam(lr=0.01, amsgrad=True), "Adam", dict(lr=0.01, amsgrad=True)),
    (lambda: AdamW(lr=0.01), "AdamW", dict(lr=0.01)),
    (lambda: AdamW(lr=0.01, weight_decay=0.3, amsgrad=True), "AdamW",
     dict(lr=0.01, weight_decay=0.3, amsgrad=True)),
    (lambda: RMSprop(), "RMSprop", dict()),
    (lambda: RMSprop(lr=0.005, alpha=0.9, weight_decay=0.1, momentum=0.5), "RMSprop",
     dict(lr=0.005, alpha=0.9, weight_decay=0.1, momentum=0.5)),
    (lambda: RMSprop(lr=0.005, centered=True, momentum=0.3), "RMSprop",
     dict(lr=0.005, centered=True, momentum=0.3)),
]


@pytest.mark.parametrize("make, torch_name, kwargs", CASES,
                         ids=[f"{c[1]}-{i}" for i, c in enumerate(CASES)])
def test_matches_torch_after_50_steps(make, torch_name, kwargs):
    torch = pytest.importorskip("torch")
    theta0 = np.random.default_rng(1).normal(size=37)
    theta = theta0.copy()
    opt = make()
    t_theta = torch.tensor(theta0, dtype=torch.float64, requires_grad=True)
    t_opt = getattr(torch.optim, torch_name)([t_theta], **kwargs)
    for _ in range(50):
        opt.step(theta, gradient(theta))
        t_theta.grad = torch.from_numpy(gradient(t_theta.detach().numpy()))
        t_opt.step()
    assert np.abs(theta - theta0).max() > 1e-3            # they really moved
    np.testing.assert_allclose(theta, t_theta.detach().numpy(), rtol=0, atol=1e-10)


def test_gd_is_the_lecture_update():
    theta, g = np.array([1.0, -2.0, 0.5]), np.array([0.5, -1.0, 0.0])
    GD(lr=0.1).step(theta, g)
    # θ ← θ − η g: 1 − 0.1·0.5, −2 + 0.1·1, 0.5
    np.testing.assert_array_equal(theta, [0.95, -1.9, 0.5])


def test_momentum_by_hand():
    theta, g = np.array([0.0]), np.array([1.0])
    opt = Momentum(lr=0.1, momentum=0.5)
    opt.step(theta, g)            # v = g = 1, θ = −0.1
    opt.step(theta, g)            # v = 0.5·1 + 1 = 1.5, θ = −0.1 − 0.15 = −0.25
    np.testing.assert_allclose(theta, [-0.25])
    opt = Nesterov(lr=0.1, momentum=0.5)
    theta = np.array([0.0])
    opt.step(theta, g)            # v = 1, g' = 1 + 0.5·1 = 1.5, θ = −0.15
    opt.step(theta, g)            # v = 1.5, g' = 1 + 0.75 = 1.75, θ = −0.15 − 0.175
    np.testing.assert_allclose(theta, [-0.325])


def test_adam_first_step_is_lr_times_sign():
    # t = 1: m = 0.1 g, v = 0.001 g²; m/(1 − β₁) = g, √(v/(1 − β₂)) = |g| → step η g / (|g| + ε)
    theta, g = np.zeros(3), np.array([3.0, -0.02, 0.0])
    Adam(lr=0.01).step(theta, g)
    np.testing.assert_allclose(theta, [-0.01, 0.01, 0.0], rtol=1e-6)


def test_adamw_decays_the_weights_before_the_step():
    theta = np.array([2.0])
    AdamW(lr=0.1, weight_decay=0.5).step(theta, np.array([0.0]))
    # θ (1 − η λ) = 2 · 0.95; a zero gradient adds nothing
    np.testing.assert_allclose(theta, [1.9])


def test_rmsprop_first_step_by_hand():
    theta, g = np.array([0.0]), np.array([2.0])
    RMSprop(lr=0.01, alpha=0.99).step(theta, g)
    # s = 0.01 · 4 = 0.04, θ = −0.01 · 2 / (0.2 + 1e-8)
    np.testing.assert_allclose(theta, [-0.01 * 2 / (0.2 + 1e-8)])


@pytest.mark.parametrize("name", optimizers.names())
def test_step_is_in_place_keeps_dtype_and_leaves_grads(name):
    opt = optimizers.get(name, lr=0.01)
    theta = np.linspace(-1, 1, 6, dtype=np.float32)
    view = theta[:3]
    g = np.ones(6, dtype=np.float32)
    for _ in range(3):
        opt.step(theta, g)
    assert theta.dtype == np.float32 and view.base is theta
    assert view[0] != -1.0                                # the view saw the update
    np.testing.assert_array_equal(g, np.ones(6, dtype=np.float32))
    for value in opt.state_dict().values():
        if isinstance(value, np.ndarray):
            assert value.dtype == np.float32


@pytest.mark.parametrize("name", optimizers.names())
def test_state_dict_round_trip_continues_identically(name):
    opt = optimizers.get(name, lr=0.01)
    theta = np.random.default_rng(0).normal(size=10)
    for _ in range(5):
        opt.step(theta, gradient(theta))
    state = opt.state_dict()
    for k, v in state.items():
        assert isinstance(v, (np.ndarray, int, float, bool, str, list)), (k, type(v))
    clone = optimizers.from_state_dict(state)
    assert type(clone) is type(opt) and clone.t == 5
    twin = theta.copy()
    for _ in range(5):
        opt.step(theta, gradient(theta))
        clone.step(twin, gradient(twin))
    np.testing.assert_array_equal(theta, twin)


def test_load_state_dict_refuses_another_optimiser():
    with pytest.raises(ValueError, match="adam"):
        SGD().load_state_dict(Adam().state_dict())


def test_reset_state_with_a_mask_clears_only_those_entries():
    opt = Adam(lr=0.01)
    theta = np.ones(4)
    opt.step(theta, np.array([1.0, 2.0, 3.0, 4.0]))
    opt.reset_state(np.array([False, True, False, True]))
    assert opt.m[1] == opt.m[3] == opt.v[1] == opt.v[3] == 0
    assert opt.m[0] != 0 and opt.v[2] != 0 and opt.t == 1
    opt.reset_state()
    assert opt.m is None and opt.t == 0


def test_registry_defaults_and_errors():
    assert set(optimizers.names()) == {"gd", "sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop"}
    # PyTorch's defaults
    assert optimizers.get("adam").lr == 1e-3 and optimizers.get("rmsprop").lr == 1e-2
    assert optimizers.get("sgd").lr == 1e-3 and optimizers.get("adamw").weight_decay == 1e-2
    assert optimizers.get("momentum").momentum == 0.9 and optimizers.get("nesterov").nesterov
    opt = Adam()
    assert optimizers.get(opt, lr=0.5) is opt and opt.lr == 0.5
    with pytest.raises(ValueError, match="'adam'"):
        optimizers.get("adma")
    with pytest.raises(TypeError, match="optimizer must be"):
        optimizers.get(3)


@pytest.mark.parametrize("bad", [
    lambda: SGD(lr=-1), lambda: SGD(lr=math.nan), lambda: SGD(momentum=-0.1),
    lambda: SGD(lr=0.1, nesterov=True), lambda: Adam(betas=(0.9, 1.0)), lambda: Adam(betas=(0.9,)),
    lambda: RMSprop(alpha=1.5), lambda: Adam(eps=-1), lambda: SGD(lr="0.1"),
])
def test_bad_hyperparameters_raise(bad):
    with pytest.raises((ValueError, TypeError)):
        bad()


def test_repr_shows_hyperparameters():
    assert repr(SGD(lr=0.1, momentum=0.9)).startswith("SGD(lr=0.1, momentum=0.9")


@pytest.mark.parametrize("name", ["adam", "adamw", "rmsprop"])
def test_running_averages_lose_their_subnormal_entries_every_64_steps(name):
    # Subnormal floats are 10-100x slower on x86; the state is flushed to 0 every 64 steps.
    opt = optimizers.get(name, lr=1e-3)
    params, grads = np.ones(3, np.float32), np.array([0.0, 0.5, 0.0], np.float32)
    tiny = np.finfo(np.float32).tiny
    state = "m" if name != "rmsprop" else "square_avg"
    for t in range(1, 129):
        if t in (63, 127):
            getattr(opt, state)[0] = tiny / 4           # subnormal, and stays so for a step
        opt.step(params, grads)
        value = getattr(opt, state)[0]
        if t in (64, 128):
            assert value == 0
        elif t in (63, 127):
            assert 0 < value < tiny
    assert getattr(opt, state)[1] > tiny                  # a normal entry is untouched
