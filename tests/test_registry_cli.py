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


def test_a_fit_option_offered_to_the_cli_is_one_row_of_OPTIONS(tmp_path, monkeypatch):
    """Adding a fit option that mlp train offers: its row in OPTIONS (default, check, doc, cli=,
    resume=), the code that uses it, a test — no CLI edit. Shown with l1, which fit has but the
    CLI does not offer: given a cli row here, it becomes --l1, is stored, and a resume keeps it."""
    import dataclasses

    from mlp.training import options
    row = dataclasses.replace(options.OPTIONS["l1"], resume=True,
                              cli={"type": float, "metavar": "L1", "help": "L1 penalty"})
    monkeypatch.setitem(options.OPTIONS, "l1", row)
    assert "--l1 L1" in _train_help()
    ckpt = str(tmp_path / "m.ckpt.safetensors")
    args = ["train", "xor", "--hidden", "4", "--seed", "0", "-q", "--checkpoint", ckpt]
    assert main([*args, "--l1", "0.01", "--epochs", "2", "--out", str(tmp_path / "a.safetensors")]) == 0
    assert mlp.load(tmp_path / "a.safetensors").metadata["l1"] == 0.01
    seen = {}
    real_fit = mlp.Network.fit

    def spy(self, X, y, **kwargs):
        seen.update(kwargs)
        return real_fit(self, X, y, **kwargs)

    monkeypatch.setattr(mlp.Network, "fit", spy)
    assert main([*args, "--epochs", "4", "--resume", ckpt, "--out", str(tmp_path / "b.safetensors")]) == 0
    assert seen["l1"] == 0.01 and mlp.load(tmp_path / "b.safetensors").metadata["l1"] == 0.01
