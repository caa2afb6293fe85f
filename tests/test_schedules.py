"""Learning-rate schedules: closed forms by hand and against torch.optim.lr_scheduler,
ReduceOnPlateau's counting, the registry, and their use by fit."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import mlp
from mlp import schedules
from mlp.schedules import Constant, Cosine, Exponential, InvScaling, ReduceOnPlateau, StepDecay


def test_closed_forms_by_hand():
    assert [Constant()(e, 0.1) for e in (0, 5, 100)] == [0.1, 0.1, 0.1]
    # η₀ γ^⌊e/s⌋ with s = 3, γ = 0.5
    assert [StepDecay(3, 0.5)(e, 1.0) for e in (0, 2, 3, 5, 6, 9)] == [1, 1, 0.5, 0.5, 0.25, 0.125]
    assert Exponential(0.9)(2, 1.0) == pytest.approx(0.81)
    # cosine: η₀ at 0, (η₀ + η_min)/2 half way, η_min at T_max and after
    c = Cosine(T_max=10, eta_min=0.1)
    assert c(0, 1.0) == 1.0 and c(5, 1.0) == pytest.approx(0.55) and c(10, 1.0) == c(20, 1.0) == 0.1
    # invscaling: η₀ / (e + 1)^p
    assert InvScaling(0.5)(3, 1.0) == pytest.approx(0.5) and InvScaling(1.0)(9, 1.0) == pytest.approx(0.1)


@pytest.mark.parametrize("ours, theirs", [
    (lambda: StepDecay(4, 0.3), lambda t, opt: t.optim.lr_scheduler.StepLR(opt, 4, 0.3)),
    (lambda: Exponential(0.93), lambda t, opt: t.optim.lr_scheduler.ExponentialLR(opt, 0.93)),
    (lambda: Cosine(T_max=12, eta_min=0.01),
     lambda t, opt: t.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=12, eta_min=0.01)),
])
def test_matches_torch_schedulers(ours, theirs):
    torch = pytest.importorskip("torch")
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.5)
    sched, schedule = theirs(torch, opt), ours()
    for epoch in range(13):
        assert schedule(epoch, 0.5) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-12), epoch
        opt.step()
        sched.step()


def test_reduce_on_plateau_matches_torch():
    torch = pytest.importorskip("torch")
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=2, cooldown=1,
                                                        min_lr=0.1)
    ours = ReduceOnPlateau(factor=0.5, patience=2, cooldown=1, min_lr=0.1)
    losses = [5, 4, 4, 4, 4, 3.9999, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3]
    for value in losses:
        assert ours(0, 1.0) == pytest.approx(opt.param_groups[0]["lr"])
        ours.on_epoch_end(value)
        opt.step()
        theirs.step(value)
    assert ours(0, 1.0) == pytest.approx(opt.param_groups[0]["lr"]) == 0.1


def test_reduce_on_plateau_by_hand():
    s = ReduceOnPlateau(factor=0.1, patience=1)
    for value in (1.0, 1.0):          # best 1, then one bad epoch: not more than patience yet
        s.on_epoch_end(value)
    assert s(7, 2.0) == 2.0
    s.on_epoch_end(1.0)               # second bad epoch > patience: η × 0.1
    assert s(8, 2.0) == pytest.approx(0.2)
    state = s.state_dict()
    clone = schedules.from_state_dict(state)
    assert clone(0, 2.0) == pytest.approx(0.2) and clone.best == 1.0


def test_registry_and_get():
    assert {"constant", "step", "exponential", "cosine", "invscaling", "plateau"} <= set(schedules.names())
    assert isinstance(schedules.get(None), Constant)
    assert schedules.get("cosine", epochs=40).T_max == 40
    assert isinstance(schedules.get("reduce_on_plateau"), ReduceOnPlateau)
    s = StepDecay()
    assert schedules.get(s) is s
    f = schedules.get(lambda epoch: 0.1 / (epoch + 1))
    assert f(4, 123.0) == pytest.approx(0.02)
    g = schedules.get(lambda epoch, lr0: lr0 * 2)
    assert g(4, 0.5) == 1.0
    with pytest.raises(ValueError, match="'cosine'"):
        schedules.get("cosin")
    with pytest.raises(TypeError):
        schedules.get(3)
    with pytest.raises(ValueError, match="learning rate"):
        schedules.get(lambda epoch: -1.0)(0, 0.1)


@pytest.mark.parametrize("bad", [
    lambda: StepDecay(0), lambda: StepDecay(2, -0.1), lambda: Cosine(0), lambda: Exponential(math.inf),
    lambda: ReduceOnPlateau(factor=1.5), lambda: ReduceOnPlateau(patience=-1), lambda: InvScaling(-1),
])
def test_bad_parameters_raise(bad):
    with pytest.raises((ValueError, TypeError)):
        bad()


def test_fit_sets_the_scheduled_rate_each_epoch():
    X, y = mlp.datasets.xor()
    net = mlp.Network.from_sizes([2, 3, 1], hidden="tanh", seed=0, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h = net.fit(X, y, optimizer="sgd", lr=0.1, epochs=7, schedule=StepDecay(3, 0.5))
    np.testing.assert_allclose(h.lr, [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025])
    assert net.train_state.optimizer.lr == 0.025
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h = mlp.Network.from_sizes([2, 3, 1], hidden="tanh", seed=0).fit(
            X, y, optimizer="sgd", lr=0.2, epochs=5, schedule="cosine")
    assert h.lr[0] == pytest.approx(0.2)
    assert h.lr[-1] == pytest.approx(0.2 * (1 + math.cos(0.8 * math.pi)) / 2)    # epoch 4 of T_max 5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h = mlp.Network.from_sizes([2, 3, 1], hidden="tanh", seed=0).fit(
            X, y, optimizer="sgd", lr=0.2, epochs=4, schedule=lambda epoch: 0.01 * (epoch + 1))
    np.testing.assert_allclose(h.lr, [0.01, 0.02, 0.03, 0.04])


def test_fit_feeds_reduce_on_plateau():
    X, y = mlp.datasets.xor()
    net = mlp.Network.from_sizes([2, 3, 1], hidden="tanh", seed=0)
    # lr = 1e-12: the loss does not move by the 1e-4 threshold, so every epoch after the
    # first is bad; with patience 1 the rate halves after epochs 3 and 5 (eps=0: changes this
    # small count; the default eps=1e-8 skips them, as torch's does)
    h = net.fit(X, y, optimizer="sgd", lr=1e-12, epochs=6,
                schedule=ReduceOnPlateau(factor=0.5, patience=1, eps=0))
    np.testing.assert_allclose(h.lr, [1e-12, 1e-12, 1e-12, 5e-13, 5e-13, 2.5e-13])


def test_fit_warns_when_a_kept_cosine_has_run_out():
    # schedule="cosine" lasts the first fit's epochs; a second fit with it would train at lr 0
    X, y = mlp.datasets.xor()
    net = mlp.Network.from_sizes([2, 3, 1], hidden="tanh", seed=0, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error", mlp.TrainingWarning)
        warnings.filterwarnings("ignore", message="loss still falling")
        net.fit(X, y, optimizer="sgd", lr=0.2, epochs=5, schedule="cosine")
    before = net.params.copy()
    with pytest.warns(mlp.TrainingWarning, match=r"ended at epoch 5 .*Cosine\(3\)"):
        h = net.fit(X, y, optimizer="sgd", lr=None, epochs=3, schedule="cosine")
    assert h.lr[-3:] == [0.0, 0.0, 0.0]
    np.testing.assert_array_equal(net.params, before)
    with warnings.catch_warnings():                 # the remedy it names trains on, unwarned
        warnings.simplefilter("error", mlp.TrainingWarning)
        warnings.filterwarnings("ignore", message="loss still falling")
        h = net.fit(X, y, optimizer="sgd", epochs=3, schedule=Cosine(3))
    assert h.lr[-3:] == pytest.approx([0.2, 0.15, 0.05])     # a new schedule: its epoch 0 is this fit's
    assert not np.array_equal(net.params, before)


def test_a_schedule_given_to_a_later_fit_starts_with_that_fit():
    """Issue 14 item 6, README's second example: after a first fit, fit(schedule="cosine",
    epochs=100) annealed from the run's epoch 0, so it had ended before the call began (a warning,
    lr 0, nothing trained). A new schedule starts at the fit that sets it, as a new PyTorch
    scheduler does; the same one again (object, function or name) continues."""
    X, y = mlp.datasets.xor()
    net = mlp.Network.from_sizes([2, 2, 1], hidden="relu", output="identity", seed=0, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net.fit(X, y, loss="mse", epochs=300)
    before = net.params.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error", mlp.TrainingWarning)
        warnings.filterwarnings("ignore", message="loss still falling")
        h = net.fit(X, y, optimizer=mlp.optimizers.SGD(lr=0.1, momentum=0.9), epochs=100, batch_size=None,
                    schedule="cosine", weight_decay=1e-4, clip_norm=1.0, progress=False)
    lrs = h.lr[-100:]
    assert lrs[0] == pytest.approx(0.1) and lrs[50] == pytest.approx(0.05) and 0 < lrs[-1] < 1e-4
    assert not np.array_equal(net.params, before)
    # the same schedule again continues it (fit(5) + fit(5) = fit(10)), a function too
    for schedule in (StepDecay(3, 0.5), lambda epoch: 0.1 / (epoch + 1)):
        a = mlp.Network.from_sizes([2, 3, 1], hidden="tanh", seed=0, dtype=np.float64)
        b = a.copy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            a.fit(X, y, optimizer="sgd", lr=0.1, epochs=2)         # no schedule first
            b.fit(X, y, optimizer="sgd", lr=0.1, epochs=2)
            a.fit(X, y, optimizer="sgd", epochs=5, schedule=schedule)
            a.fit(X, y, optimizer="sgd", epochs=5, schedule=schedule)
            b.fit(X, y, optimizer="sgd", epochs=10, schedule=schedule)
        assert a.history.lr == b.history.lr
        np.testing.assert_array_equal(a.params, b.params)
    assert b.history.lr[2:] == pytest.approx([0.1 / (e + 1) for e in range(10)])


def test_reduce_on_plateau_skips_reductions_of_eps_or_less_as_torch():
    # η₀ = 1e-7, factor 0.1, patience 0, the same loss every epoch: the first epoch sets the
    # best, the second is bad: 1e-7 → 1e-8 (a change of 9e-8 > eps); then 1e-8 → 1e-9 would
    # change η by 9e-9 ≤ 1e-8: skipped, η stays 1e-8
    sched = ReduceOnPlateau(factor=0.1, patience=0)
    lrs = []
    for _ in range(5):
        lrs.append(sched(0, 1e-7))
        sched.on_epoch_end(1.0, 1e-7)
    np.testing.assert_allclose(lrs, [1e-7, 1e-7, 1e-8, 1e-8, 1e-8], rtol=1e-12)
    torch = pytest.importorskip("torch")
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1e-7)
    ref = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.1, patience=0)
    theirs = []
    for _ in range(5):
        theirs.append(opt.param_groups[0]["lr"])
        ref.step(1.0)
    np.testing.assert_allclose(lrs, theirs, rtol=1e-12)


def test_a_checkpoint_keeps_where_the_schedule_started(tmp_path):
    X, y = mlp.datasets.xor()
    a = mlp.Network.from_sizes([2, 3, 1], hidden="tanh", seed=0, dtype=np.float64)
    b = a.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for net in (a, b):
            net.fit(X, y, optimizer="sgd", lr=0.1, epochs=2)
        a.fit(X, y, optimizer="sgd", epochs=3, schedule=Cosine(6))
        mlp.save(a, tmp_path / "c.safetensors", train_state=a.train_state)
        a = mlp.load_checkpoint(tmp_path / "c.safetensors")
        assert a.train_state.schedule_start == 2
        a.fit(X, y, optimizer="sgd", epochs=3, schedule="cosine")     # the checkpoint's cosine goes on
        b.fit(X, y, optimizer="sgd", epochs=6, schedule=Cosine(6))
    assert a.history.lr == pytest.approx(b.history.lr, rel=1e-15)
    np.testing.assert_array_equal(a.params, b.params)
