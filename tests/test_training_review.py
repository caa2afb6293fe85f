"""Review of the training workflow: each test pins a bug found by comparing fit, the
optimisers, schedules and callbacks with PyTorch/Keras/scikit-learn (each fails on the old code)."""

from __future__ import annotations

import io
import math
import os
import warnings

import numpy as np
import pytest

import mlp
from mlp.callbacks import Checkpoint, EarlyStopping, TextLogger
from mlp.training import TrainingWarning


def data(n=60):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 3))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int)


def classifier(seed=1):
    return mlp.Network.from_sizes([3, 5, 2], hidden="tanh", output="softmax", seed=seed)


def quiet_fit(net, X, y, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrainingWarning)
        return net.fit(X, y, progress=False, **kwargs)


def test_early_stopping_after_a_fit_with_validation_watches_the_training_loss():
    # The first fit had validation data, the second has none: its epochs get val_loss NaN.
    # "auto" must then watch the training loss (it watched the NaN val_loss and never stopped).
    X, y = data()
    net = classifier()
    quiet_fit(net, X, y, validation_split=0.2, epochs=2, batch_size=None)
    h = quiet_fit(net, X, y, epochs=40, early_stopping=True, patience=2, batch_size=None,
                  optimizer="sgd", lr=0.0)          # lr 0: the loss never improves after epoch 3
    assert h.stop_reason == "early_stopping" and len(h) == 2 + 3
    stop = EarlyStopping(patience=2)
    h = quiet_fit(net, X, y, epochs=40, callbacks=[stop], batch_size=None, optimizer="sgd", lr=0.0)
    assert stop.stopped_epoch == len(h) == 5 + 3


def test_text_logger_leaves_out_validation_columns_of_an_epoch_without_validation():
    X, y = data()
    net = classifier()
    quiet_fit(net, X, y, validation_split=0.2, epochs=1, batch_size=None)
    out = io.StringIO()
    quiet_fit(net, X, y, epochs=1, batch_size=None, callbacks=[TextLogger(out)])
    line = out.getvalue()
    assert line.startswith("epoch 2") and "nan" not in line and "val_" not in line


def test_checkpoint_path_takes_keras_format_specs(tmp_path):
    X, y = data()
    net = classifier()
    names = []
    cb = Checkpoint(str(tmp_path / "ck-{epoch:03d}-{val_loss:.3f}.npz"))
    h = quiet_fit(net, X, y, epochs=3, batch_size=None, validation_split=0.2, callbacks=[cb])
    names = sorted(os.listdir(tmp_path))
    expected = sorted(f"ck-{e:03d}-{v:.3f}.npz" for e, v in zip(h.epochs, h.val_loss))
    assert names == expected and len(names) == 3
    assert cb.saved == [str(tmp_path / n) for n in expected]
    assert math.isfinite(h.val_loss[-1])
    reloaded = mlp.load(tmp_path / expected[-1])
    np.testing.assert_array_equal(reloaded.params, net.params)


def test_checkpoint_leaves_other_braces_alone(tmp_path):
    X, y = data()
    cb = Checkpoint(str(tmp_path / "{run}-{epoch}.npz"))
    quiet_fit(classifier(), X, y, epochs=2, batch_size=None, callbacks=[cb])
    assert sorted(os.listdir(tmp_path)) == ["{run}-1.npz", "{run}-2.npz"]


if __name__ == "__main__":      # pragma: no cover
    pytest.main([__file__, "-q"])


def test_class_weight_weighs_the_training_rows_only():
    # Keras and scikit-learn: class_weight is for training; validation_split=0.25 and the same
    # last rows given as validation_data must give the same val_loss and the same parameters.
    X, y = data(80)
    y[:20] = 0                                       # the classes' shares differ between the parts
    kw = dict(epochs=4, batch_size=None, optimizer="sgd", lr=0.1, class_weight="balanced")
    a, b = classifier(), classifier()
    ha = quiet_fit(a, X, y, validation_split=0.25, **kw)
    hb = quiet_fit(b, X[:60], y[:60], validation_data=(X[60:], y[60:]), **kw)
    np.testing.assert_array_equal(a.params, b.params)
    assert ha.val_loss == hb.val_loss
    # "balanced" counts the training rows: n / (k · n_c) over the first 60
    counts = np.bincount(y[:60])
    c = classifier()
    quiet_fit(c, X[:60], y[:60], validation_data=(X[60:], y[60:]), epochs=4, batch_size=None,
              optimizer="sgd", lr=0.1, sample_weight=(60 / (2 * counts))[y[:60]])
    np.testing.assert_allclose(c.params, a.params, atol=1e-6)


@pytest.mark.parametrize("name", ["plateau", "reduce_on_plateau"])
def test_second_fit_keeps_the_plateau_schedule_by_either_name(name):
    # fit(schedule=name) twice continues one schedule (its reductions kept), as for "plateau"
    X, y = data()
    one, two = classifier(), classifier()
    kw = dict(batch_size=None, optimizer="sgd", lr=1e-6, schedule=name)
    quiet_fit(one, X, y, epochs=30, **kw)
    quiet_fit(two, X, y, epochs=15, **kw)
    quiet_fit(two, X, y, epochs=15, **kw)
    # lr 1e-6: the loss is flat, so patience 10 reduces at epochs 12 and 23 of the whole run
    assert one.train_state.schedule.scale == pytest.approx(0.01)
    assert two.train_state.schedule.scale == one.train_state.schedule.scale
    assert two.train_state.schedule.bad_epochs == one.train_state.schedule.bad_epochs


def test_schedule_function_with_a_default_argument_is_a_function_of_the_epoch():
    # a default argument binds a value (the usual `lambda epoch, k=k: …` in a loop); it used to
    # receive lr0 instead, so this schedule gave 0.1 · 0.5^epoch instead of 0.3 · 0.5^epoch
    f = mlp.schedules.get(lambda epoch, base=0.3: base * 0.5 ** epoch)
    assert [f(e, 0.1) for e in range(3)] == [0.3, 0.15, 0.075]
    g = mlp.schedules.get(lambda epoch, lr0: lr0 * 0.5 ** epoch)      # two needed: lr0 given
    assert [g(e, 0.1) for e in range(3)] == [0.1, 0.05, 0.025]


@pytest.mark.parametrize("make", [lambda: mlp.optimizers.SGD(0.1, momentum=0.9), mlp.optimizers.Adam])
def test_an_optimiser_with_state_for_another_network_is_refused(make):
    # SGD raised NumPy's broadcast error; Adam silently dropped its moments but kept t
    X, y = data()
    opt = make()
    quiet_fit(classifier(), X, y, optimizer=opt, epochs=1)
    other = mlp.Network.from_sizes([3, 7, 2], hidden="tanh", output="softmax", seed=1)
    before = other.params.copy()
    with pytest.raises(ValueError, match="optimiser holds state .* for 32 parameters, the network has 44"):
        quiet_fit(other, X, y, optimizer=opt, epochs=1)
    np.testing.assert_array_equal(other.params, before)
    opt.reset_state()
    quiet_fit(other, X, y, optimizer=opt, epochs=1)        # after reset_state() it trains
    assert opt.t == 1
