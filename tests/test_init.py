"""Initialisers: each formula checked statistically on a large draw, seeding, user callables."""

from __future__ import annotations

import numpy as np
import pytest

import mlp
from mlp import init

N_OUT, N_IN = 400, 300      # 120,000 draws: the sample std is within ~0.5% of the true one


def draw(name, n_out=N_OUT, n_in=N_IN, seed=0):
    return init.get(name)(n_out, n_in, np.random.default_rng(seed))


# name → (distribution, standard deviation from the formula)
FORMULAS = {
    "he": ("normal", np.sqrt(2 / N_IN)),                        # N(0, 2/fan_in)
    "he_normal": ("normal", np.sqrt(2 / N_IN)),
    "he_uniform": ("uniform", np.sqrt(6 / N_IN)),               # U(−a, a), a = √(6/fan_in)
    "glorot": ("uniform", np.sqrt(6 / (N_IN + N_OUT))),         # a = √(6/(fan_in + fan_out))
    "glorot_uniform": ("uniform", np.sqrt(6 / (N_IN + N_OUT))),
    "glorot_normal": ("normal", np.sqrt(2 / (N_IN + N_OUT))),   # N(0, 2/(fan_in + fan_out))
    "lecun": ("normal", np.sqrt(1 / N_IN)),                     # N(0, 1/fan_in)
    "lecun_normal": ("normal", np.sqrt(1 / N_IN)),
    "lecun_uniform": ("uniform", np.sqrt(3 / N_IN)),            # a = √(3/fan_in)
    "torch": ("uniform", 1 / np.sqrt(N_IN)),                    # a = 1/√fan_in (nn.Linear)
}


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_distribution_matches_its_formula(name):
    kind, param = FORMULAS[name]
    W = draw(name)
    assert W.shape == (N_OUT, N_IN)
    # the mean of 120,000 draws has standard error σ/√n ≈ 0.003 σ
    assert abs(W.mean()) < 0.02 * W.std()
    if kind == "normal":
        assert W.std() == pytest.approx(param, rel=0.01)
        # a normal has 68.3% of its mass within one σ (a uniform would have 57.7%)
        assert np.mean(np.abs(W) < param) == pytest.approx(0.683, abs=0.01)
    else:
        a = param
        assert np.abs(W).max() <= a and np.abs(W).max() > 0.99 * a
        assert W.std() == pytest.approx(a / np.sqrt(3), rel=0.01)    # U(−a, a) has σ = a/√3
        assert np.mean(np.abs(W) < a / 2) == pytest.approx(0.5, abs=0.01)


def test_zeros():
    assert not draw("zeros", 3, 2).any()


def test_same_seed_same_draw_and_different_seeds_differ():
    for name in FORMULAS:
        np.testing.assert_array_equal(draw(name, 5, 4, seed=7), draw(name, 5, 4, seed=7))
        assert not np.array_equal(draw(name, 5, 4, seed=7), draw(name, 5, 4, seed=8))


def test_a_generator_is_used_and_advanced():
    rng = np.random.default_rng(3)
    a = init.initialize("he", 4, 3, rng)
    b = init.initialize("he", 4, 3, rng)
    assert not np.array_equal(a, b)
    assert init.rng_from(rng) is rng
    with pytest.raises(TypeError, match="seed"):
        init.rng_from("3")


def test_networks_from_the_same_seed_are_identical_and_biases_start_at_zero():
    a = mlp.Network.from_sizes([3, 5, 2], seed=11)
    b = mlp.Network.from_sizes([3, 5, 2], seed=11)
    np.testing.assert_array_equal(a.params, b.params)
    assert not np.array_equal(a.params, mlp.Network.from_sizes([3, 5, 2], seed=12).params)
    assert all(not layer.b.any() for layer in a.layers)
    # he: first layer std √(2/3); check on a wide layer so the sample is large
    wide = mlp.Network.from_sizes([50, 2000, 1], seed=0, dtype=np.float64)
    assert wide.layers[0].W.std() == pytest.approx(np.sqrt(2 / 50), rel=0.01)


def test_user_callable():
    calls = []

    def constant(n_out, n_in, rng):
        calls.append((n_out, n_in))
        return np.full((n_out, n_in), 0.25)

    net = mlp.Network.from_sizes([2, 3, 1], init=constant, seed=0)
    assert calls == [(3, 2), (1, 3)]
    assert np.all(net.layers[0].W == 0.25) and np.all(net.layers[1].W == 0.25)
    layer = mlp.Dense(2, 2, init=lambda n_out, n_in, rng: rng.uniform(size=(n_out, n_in)), seed=5)
    np.testing.assert_array_equal(layer.W, np.random.default_rng(5).uniform(size=(2, 2)).astype(np.float32))


def test_bad_initialisers_raise():
    with pytest.raises(ValueError, match="shape"):
        mlp.Dense(2, 3, init=lambda n_out, n_in, rng: np.zeros((n_in, n_out)))
    with pytest.raises(ValueError, match="non-finite"):
        mlp.Dense(2, 3, init=lambda n_out, n_in, rng: np.full((n_out, n_in), np.nan))
    with pytest.raises(ValueError, match="'glorot'"):
        mlp.Dense(2, 3, init="xavier")
