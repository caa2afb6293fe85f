"""Issue 12: adding an activation or an optimiser touches one file — the command line, the model
file and its loader pick a new registry entry up at run time."""

import numpy as np
import pytest

import mlp
from mlp import activations, optimizers
from mlp.cli import build_parser, main


class Cube(activations.Activation):
    """σ(z) = z³ / 3 + z, σ′(z) = z² + 1 (defined in a test: no other file knows it)."""

    name = "cube"

    def __call__(self, z):
        return z ** 3 / 3 + z

    def derivative(self, z, h=None):
        return z ** 2 + 1


class SlowSGD(optimizers.SGD):
    """SGD under another name."""

    name = "slow_sgd"


@pytest.fixture
def registered():
    activations.ACTIVATIONS.register("cube", Cube)
    optimizers.OPTIMIZERS.register("slow_sgd", SlowSGD)
    yield
    for registry, name in ((activations.ACTIVATIONS, "cube"), (optimizers.OPTIMIZERS, "slow_sgd")):
        registry._entries.pop(name, None)


def _train_help():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sub.choices["train"].format_help()


def test_a_new_activation_and_optimiser_reach_the_cli_and_model_files(registered, tmp_path):
    text = " ".join(_train_help().split())
    assert "cube" in text and "slow_sgd" in text
    model = str(tmp_path / "m.safetensors")
    assert main(["train", "xor", "--activation", "cube", "--optimizer", "slow_sgd", "--lr", "0.05",
                 "--hidden", "4", "--epochs", "3", "-q", "--out", model]) == 0
    net = mlp.load(model)
    assert isinstance(net.layers[0].activation, Cube) and net.metadata["optimizer"] == "slow_sgd"
    X = mlp.datasets.xor()[0]
    np.testing.assert_allclose(net(X), mlp.load(model)(X))


def test_an_unregistered_name_is_a_usage_error(capsys):
    for flag in ("--activation", "--optimizer"):
        with pytest.raises(SystemExit) as info:
            main(["train", "xor", flag, "cube" if flag == "--activation" else "slow_sgd"])
        assert info.value.code == 2
