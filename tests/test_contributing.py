"""CONTRIBUTING.md's worked examples, done at runtime: an activation and an optimiser added in
one place (their registry) reach fit, model files, checkpoints and the CLI; a fit option added
as one row of training.options.OPTIONS is checked, documented and reaches the step."""

import warnings

import numpy as np
import pytest

import mlp
import mlp.cli
import mlp.interop
from mlp import activations, optimizers
from mlp._validation import as_floats, check_number
from mlp.training import hooks, steps
from mlp.training.options import OPTIONS, FitOptions, Option

pytestmark = pytest.mark.filterwarnings("ignore:loss still falling")


class Cube(activations.Activation):
    """σ(z) = z³, σ′(z) = 3 z² (CONTRIBUTING.md's example)."""

    name = "cube"

    def __call__(self, z):
        z = as_floats(z, "z")
        return z ** 3

    def derivative(self, z, h=None):
        z = as_floats(z, "z")
        return 3 * z ** 2


class SignSGD(optimizers.Optimizer):
    """θ ← θ − η sign(g)."""

    name = "signsgd"

    def __init__(self, lr: float = 1e-3):
        super().__init__(lr)

    def step(self, params, grads):
        params -= self.lr * np.sign(grads)
        self.t += 1


@pytest.fixture
def cube():
    activations.ACTIVATIONS.register("cube", Cube)
    yield
    activations.ACTIVATIONS._entries.pop("cube")


@pytest.fixture
def signsgd():
    optimizers.OPTIMIZERS.register("signsgd", SignSGD)
    yield
    optimizers.OPTIMIZERS._entries.pop("signsgd")


def test_an_activation_added_to_the_registry_reaches_fit_files_and_the_cli(cube, tmp_path, capsys):
    X, y = mlp.datasets.xor()
    net = mlp.Network.from_sizes([2, 3, 1], hidden="cube", seed=0, dtype=np.float64)
    net.fit(X, y, loss="mse", epochs=20, lr=0.01)
    assert mlp.gradcheck(net, X, y, "mse").max_rel_error < 1e-6
    mlp.save(net, tmp_path / "cube.safetensors")
    back = mlp.load(tmp_path / "cube.safetensors")
    assert back.layers[0].activation == Cube()
    np.testing.assert_array_equal(back(X), net(X))
    assert mlp.cli.main(["train", "xor", "--activation", "cube", "--epochs", "3", "-q",
                         "--out", str(tmp_path / "cli.safetensors")]) == 0
    assert mlp.load(tmp_path / "cli.safetensors").layers[0].activation.name == "cube"
    with pytest.raises(SystemExit):
        mlp.cli.main(["train", "--help"])
    assert "cube" in capsys.readouterr().out
    with pytest.raises(ValueError, match="no formula for the activation 'cube'"):
        mlp.symbolic.expression(net)


def test_an_activation_the_adapters_cannot_convert_is_a_clear_error(cube):
    net = mlp.Network.from_sizes([2, 3, 1], hidden="cube", seed=0)
    pytest.importorskip("torch")
    with pytest.raises(ValueError, match="'cube' .* no PyTorch/ONNX counterpart; supported: identity, relu"):
        mlp.interop.to_torch(net)
    pytest.importorskip("onnx")
    with pytest.raises(ValueError, match="activation 'cube' .* no PyTorch/ONNX counterpart"):
        mlp.interop.to_onnx(net)


def test_an_activation_reaches_the_estimators(cube):
    pytest.importorskip("sklearn")
    from mlp.sklearn import MLPRegressor

    X, y = mlp.datasets.xor()
    est = MLPRegressor(hidden_layer_sizes=(3,), activation="cube", max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # 5 iterations: ConvergenceWarning
        est.fit(X, y[:, 0])
    assert est.predict(X).shape == (4,)


def test_an_optimiser_added_to_the_registry_reaches_fit_checkpoints_and_the_cli(signsgd, tmp_path, capsys):
    X, y = mlp.datasets.xor()
    one = mlp.Network.from_sizes([2, 3, 1], hidden="tanh", seed=0)
    one.fit(X, y, loss="mse", optimizer="signsgd", lr=0.01, epochs=6)
    two = mlp.Network.from_sizes([2, 3, 1], hidden="tanh", seed=0)
    two.fit(X, y, loss="mse", optimizer="signsgd", lr=0.01, epochs=3)
    mlp.save(two, tmp_path / "ck.safetensors", train_state=two.train_state)
    resumed = mlp.load_checkpoint(tmp_path / "ck.safetensors")
    assert type(resumed.train_state.optimizer) is SignSGD
    resumed.fit(X, y, loss="mse", optimizer="signsgd", epochs=3)
    np.testing.assert_array_equal(resumed.params, one.params)
    assert mlp.cli.main(["train", "xor", "--optimizer", "signsgd", "--epochs", "2", "-q",
                         "--out", str(tmp_path / "cli.safetensors")]) == 0
    with pytest.raises(SystemExit):
        mlp.cli.main(["train", "--help"])
    assert "signsgd" in capsys.readouterr().out              # the --optimizer help lists the registry


def test_a_fit_option_is_one_row_of_the_options_table():
    seen = []

    def engine(net, optimizer, loss, opts, state, on_nonfinite):     # where the option acts
        seen.append(opts.label_smoothing)
        return steps.numpy_step(net, optimizer, loss, opts, state, on_nonfinite)

    OPTIONS["label_smoothing"] = Option(
        "label_smoothing", 0.0, "label_smoothing : float, default 0\n    Soften one-hot targets.",
        lambda v, o: check_number("label_smoothing", v, low=0, high=1, high_open=True),
        resume=True, cli={"type": float, "metavar": "EPS"})
    steps.ENGINES.register("probe", engine)
    try:
        assert FitOptions(label_smoothing=0.1).check(4, 1).label_smoothing == 0.1
        net = mlp.Network.from_sizes([2, 3, 1], seed=0)
        net.fit(*mlp.datasets.xor(), loss="mse", epochs=1, label_smoothing=0.2, engine="probe")
        assert seen == [0.2]
        with pytest.raises(ValueError, match=r"label_smoothing must be a finite number >= 0 and < 1"):
            net.fit(*mlp.datasets.xor(), loss="mse", epochs=1, label_smoothing=1.5)
    finally:
        OPTIONS.pop("label_smoothing")
        steps.ENGINES._entries.pop("probe")


def test_a_fit_option_acting_through_a_new_hook_is_a_row_and_a_hook():
    class StopAtLoss(hooks.Hook):                                   # hooks.py: the hook ...
        def __init__(self, target):
            self.target = target

        def after_record(self, run):
            return "callback" if run.loss < self.target else None

    def stop_at_loss(run):                                          # ... and its factory
        return None if run.opts.stop_at_loss is None else StopAtLoss(run.opts.stop_at_loss)

    OPTIONS["stop_at_loss"] = Option(                               # options.py: the row
        "stop_at_loss", None, "stop_at_loss : float, optional\n    Stop once the loss is below it.",
        lambda v, o: None if v is None else check_number("stop_at_loss", v, low=0))
    hooks.FACTORIES.append(stop_at_loss)
    try:
        net = mlp.Network.from_sizes([2, 4, 1], hidden="tanh", seed=0)
        history = net.fit(*mlp.datasets.xor(), loss="mse", epochs=5000, lr=0.01, stop_at_loss=0.05)
        assert history.stop_reason == "callback" and history.loss[-1] < 0.05 <= history.loss[-2]
    finally:
        OPTIONS.pop("stop_at_loss")
        hooks.FACTORIES.remove(stop_at_loss)


def test_the_cli_flags_of_fit_options_come_from_the_table():
    import argparse

    from mlp.training.options import cli_flags, resumed

    parser = argparse.ArgumentParser()
    for name, flag, kwargs in cli_flags():
        parser.add_argument(flag, dest=name, **kwargs)
    argv = ["--loss", "mse", "--optimizer", "sgd", "--lr", "0.1", "--epochs", "3", "--batch-size", "full",
            "--validation-split", "0.2", "--early-stopping", "--patience", "4", "--weight-decay", "0.01",
            "--seed", "7", "--no-progress"]
    ours = vars(parser.parse_args(argv))
    theirs = vars(mlp.cli.build_parser().parse_args(["train", "xor", *argv]))
    assert ours == {k: theirs[k] for k in ours}                     # the same flags, parsed the same
    assert all(v is None for v in vars(parser.parse_args([])).values())    # "not given" is None
    assert set(resumed()) == {"loss", "optimizer", "lr", "batch_size", "validation_split", "early_stopping",
                              "patience", "weight_decay", "seed"}
