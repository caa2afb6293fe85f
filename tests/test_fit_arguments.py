"""fit's arguments: each bad one is one clear error before any training (bad-input review)."""

from __future__ import annotations

import numpy as np
import pytest

import mlp


def _data():
    X, y = mlp.datasets.gaussians(n=30, n_classes=3, seed=0)
    net = mlp.Network.from_sizes([2, 4, 3], hidden="relu", output="softmax", seed=0)
    return net, X, y


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(seed=-1), ValueError, "non-negative"),
    (dict(seed=True), TypeError, "seed"),
    (dict(class_weight={7: 1.0}), ValueError, "class 7"),
    (dict(class_weight={"a": 1.0}), ValueError, "class 'a'"),
    (dict(callbacks=5), TypeError, "callbacks"),
    (dict(early_stopping="x"), TypeError, "early_stopping"),
    (dict(sample_weight=np.zeros(30)), ValueError, "weight 0"),
    (dict(class_weight={0: 0, 1: 0, 2: 0}), ValueError, "weight 0"),
])
def test_bad_fit_arguments_are_one_clear_error(kwargs, error, words):
    net, X, y = _data()
    before = net.params.copy()
    with pytest.raises(error, match=words):
        net.fit(X, y, epochs=2, **kwargs)
    np.testing.assert_array_equal(net.params, before)          # nothing trained


@pytest.mark.filterwarnings("ignore:loss still falling")
def test_class_weight_for_a_class_absent_from_the_data_is_fine():
    net, X, y = _data()
    keep = y != 2                                              # class 2 of the network not in y
    net.fit(X[keep], y[keep], epochs=2, class_weight={2: 5.0, 0: 2.0})
    assert net.train_state.epoch == 2


@pytest.mark.filterwarnings("ignore:loss still falling")
def test_one_callback_object_is_taken_as_a_list():
    net, X, y = _data()
    seen = []

    class Count(mlp.callbacks.Callback):
        def on_epoch_end(self, epoch, history):
            seen.append(epoch)

    net.fit(X, y, epochs=3, callbacks=Count())
    assert seen == [1, 2, 3]
