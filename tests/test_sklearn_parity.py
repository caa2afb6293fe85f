"""mlp.sklearn against scikit-learn's own MLPClassifier/MLPRegressor, side by side on the same data.

Each test fits both with the same parameters and compares what a user sees: the
initial weights (drawn from the same random stream), the dtype, the losses and their
scale, the attributes after fit/warm start/partial_fit, the verbose lines, the
pickle. With ``shuffle=False`` both visit the same mini-batches in the same order, so
the training runs themselves agree closely (Adam's ε is added at a slightly different
place, and mlp scales the L2 penalty of a last, smaller batch by the full batch size).
"""

import inspect
import pickle
import re
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn import neural_network as sk  # noqa: E402
from sklearn.datasets import (  # noqa: E402
    load_digits,
    load_iris,
    make_multilabel_classification,
    make_regression,
)
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

import mlp.sklearn as ms  # noqa: E402


def both(name, X, y, **params):
    """The scikit-learn estimator and mlp's, each fitted with ``params`` on (X, y)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return getattr(sk, name)(**params).fit(X, y), getattr(ms, name)(**params).fit(X, y)


def iris():
    X, y = load_iris(return_X_y=True)
    return (X - X.mean(axis=0)) / X.std(axis=0), y


def regression(n_targets=1):
    X, y = make_regression(300, 5, n_targets=n_targets, noise=1.0, random_state=0)
    return X, y / y.std(axis=0)


@pytest.mark.parametrize("activation", ["relu", "logistic", "tanh"])
@pytest.mark.parametrize("name", ["MLPClassifier", "MLPRegressor"])
def test_initial_weights_are_sklearns(name, activation):
    """Glorot-uniform weights AND biases, bound √(6/(fan_in+fan_out)) (√(2/…) for logistic),
    drawn from random_state in scikit-learn's order: the same numbers as scikit-learn's.
    A learning rate of 1e-300 leaves the weights where they started."""
    X, y = iris() if name == "MLPClassifier" else regression()
    theirs, ours = both(name, X, y, hidden_layer_sizes=(7, 5), activation=activation, solver="sgd",
                        momentum=0.0, learning_rate_init=1e-300, max_iter=1, random_state=3)
    for a, b in zip(theirs.coefs_ + theirs.intercepts_, ours.coefs_ + ours.intercepts_):
        assert a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    # the bound: for logistic √(2/(4+7)) ≈ 0.426, else √(6/11) ≈ 0.739; biases drawn too
    bound = np.sqrt((2.0 if activation == "logistic" else 6.0) / (X.shape[1] + 7))
    assert np.abs(ours.coefs_[0]).max() <= bound and np.abs(ours.coefs_[0]).max() > 0.8 * bound
    assert np.abs(ours.intercepts_[0]).max() > 0.3 * bound


@pytest.mark.parametrize("X_dtype, net_dtype", [(np.float64, np.float64), (np.float32, np.float32),
                                                (np.int64, np.float64)])
def test_precision_follows_the_input(X_dtype, net_dtype):
    X, y = load_digits(return_X_y=True)
    X = X.astype(X_dtype)
    theirs, ours = both("MLPClassifier", X[:300], y[:300], hidden_layer_sizes=(8,), max_iter=3,
                        random_state=0)
    assert theirs.coefs_[0].dtype == ours.coefs_[0].dtype == ours.network_.dtype == net_dtype
    assert ours.predict_proba(X[:5]).dtype == theirs.predict_proba(X[:5]).dtype
    reg = ms.MLPRegressor(hidden_layer_sizes=(4,), max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X[:50], y[:50].astype(X_dtype))
    assert reg.network_.dtype == net_dtype and reg.predict(X[:5]).dtype == net_dtype


@pytest.mark.parametrize("case", ["multiclass", "binary", "multilabel", "regression",
                                  "regression-2-outputs", "poisson", "sgd", "logistic-early-stopping"])
def test_training_run_matches_sklearn(case):
    """Same init, same batches (shuffle=False), same losses on the same scale: loss_curve_,
    loss_, best_loss_, n_iter_, t_ and the predictions agree with scikit-learn's."""
    params = dict(hidden_layer_sizes=(20,), shuffle=False, random_state=1, max_iter=30,
                  batch_size=60)
    if case in ("multiclass", "binary", "logistic-early-stopping"):
        name, (X, y) = "MLPClassifier", iris()
        y = (y == 1).astype(int) if case == "binary" else y
        if case == "logistic-early-stopping":
            params.update(activation="logistic", early_stopping=True)
    elif case == "multilabel":
        name = "MLPClassifier"
        X, y = make_multilabel_classification(200, 6, n_classes=3, random_state=0)
        X = (X - X.mean(axis=0)) / X.std(axis=0)     # no saturated p (scikit-learn clips log p)
        params.update(batch_size=50)
    else:
        name, (X, y) = "MLPRegressor", regression(2 if case == "regression-2-outputs" else 1)
        if case == "poisson":
            params.update(loss="poisson")
            y = np.exp(y / 2)
        if case == "sgd":
            params.update(solver="sgd")
    theirs, ours = both(name, X, y, **params)
    assert ours.n_iter_ == theirs.n_iter_ and ours.t_ == theirs.t_
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=2e-5)
    assert ours.loss_ == ours.loss_curve_[-1]
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=2e-5)
    if case == "logistic-early-stopping":
        assert ours.best_loss_ is None and theirs.best_loss_ is None
        np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_)
        assert ours.best_validation_score_ == theirs.best_validation_score_
    else:
        assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=2e-5)
        assert ours.validation_scores_ is None and theirs.validation_scores_ is None
    if name == "MLPRegressor":
        np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-3, atol=1e-3)
    else:
        assert np.mean(ours.predict(X) == theirs.predict(X)) >= 0.99


def test_regressor_loss_is_half_the_mean_squared_error():
    """scikit-learn's squared_error is ½ · mean (ŷ − y)² (mlp's MSE("mean") was twice it): the
    loss of a model that has not moved is ½ mean (ŷ − y)² of its predictions, plus the penalty."""
    X, y = regression()
    reg = ms.MLPRegressor(hidden_layer_sizes=(8,), solver="sgd", momentum=0.0, learning_rate_init=1e-300,
                          batch_size=300, alpha=0.0, max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X, y)
    assert reg.loss_ == pytest.approx(0.5 * np.mean((reg.predict(X) - y) ** 2), rel=1e-12)


def test_lbfgs_matches_sklearn():
    X, y = iris()
    theirs, ours = both("MLPClassifier", X, y, hidden_layer_sizes=(10,), solver="lbfgs", max_iter=50,
                        random_state=0)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-6)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    assert not hasattr(ours, "loss_curve_") and not hasattr(theirs, "loss_curve_")
    with pytest.raises(AttributeError, match="lbfgs"):
        ours.partial_fit(X, y)


def test_parameters_are_sklearns():
    """Same names, order and defaults; mlp adds only dtype (and class_weight for the classifier)."""
    for name, extra in (("MLPClassifier", ["dtype", "class_weight"]), ("MLPRegressor", ["dtype"])):
        theirs = inspect.signature(getattr(sk, name)).parameters
        ours = inspect.signature(getattr(ms, name)).parameters
        assert list(ours) == list(theirs) + extra
        for p, q in zip(theirs.values(), ours.values()):
            assert (p.name, p.kind, p.default) == (q.name, q.kind, q.default)
        assert ours["dtype"].default is None
    assert list(inspect.signature(ms.MLPRegressor).parameters)[0] == "loss"


def test_warm_start_and_partial_fit_count_as_sklearn():
    X, y = iris()
    kw = dict(hidden_layer_sizes=(8,), max_iter=7, tol=0.0, random_state=0)
    for est in both("MLPClassifier", X, y, warm_start=True, **kw):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X, y)
        assert est.n_iter_ == 7 and len(est.loss_curve_) == 14 and est.t_ == 14 * len(X)
    theirs, ours = sk.MLPRegressor(random_state=0), ms.MLPRegressor(random_state=0)
    Xr, yr = regression()
    for est in (theirs, ours):
        for _ in range(5):
            est.partial_fit(Xr, yr)
        assert est.n_iter_ == 1 and len(est.loss_curve_) == 5 and est.t_ == 5 * len(Xr)
        with pytest.raises(ValueError, match="early_stopping"):
            type(est)(early_stopping=True).partial_fit(Xr, yr)


def test_verbose_prints_sklearns_lines(capsys):
    X, y = iris()
    params = dict(hidden_layer_sizes=(8,), shuffle=False, random_state=0, max_iter=200, tol=1e-2,
                  n_iter_no_change=2, early_stopping=True, verbose=True)
    sk.MLPClassifier(**params).fit(X, y)
    theirs = capsys.readouterr()
    ms.MLPClassifier(**params).fit(X, y)
    ours = capsys.readouterr()
    assert ours.err == ""                                      # no progress bar
    lines, expected = ours.out.splitlines(), theirs.out.splitlines()
    assert len(lines) == len(expected) > 3

    def shape(line):
        return re.sub(r"\d+\.\d+", "#", line)

    assert [shape(a) for a in lines] == [shape(b) for b in expected]
    assert lines[0].startswith("Iteration 1, loss = ") and lines[1].startswith("Validation score: ")
    assert lines[-1].endswith("Stopping.")
    values = [float(v) for line in lines for v in re.findall(r"= (\d+\.\d+)", line)]
    wanted = [float(v) for line in expected for v in re.findall(r"= (\d+\.\d+)", line)]
    np.testing.assert_allclose(values, wanted, rtol=1e-4)


def test_pickle_is_no_larger_than_sklearns():
    X, y = load_digits(return_X_y=True)
    theirs, ours = both("MLPClassifier", X / 16, y, max_iter=5, random_state=0)
    size = len(pickle.dumps(ours))
    assert size <= len(pickle.dumps(theirs))
    # parameters and Adam's two moments, float64, and little else
    assert size < 3 * ours.network_.params.nbytes + 20_000
    restored = pickle.loads(pickle.dumps(ours))
    np.testing.assert_array_equal(restored.predict_proba(X / 16), ours.predict_proba(X / 16))
    assert restored._optimizer is restored.network_.train_state.optimizer


def test_coefs_can_be_assigned_as_in_sklearn():
    X, y = iris()
    theirs, ours = both("MLPClassifier", X, y, hidden_layer_sizes=(6,), max_iter=3, random_state=0)
    ours.coefs_ = theirs.coefs_
    ours.intercepts_ = theirs.intercepts_
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-12)
    with pytest.raises(ValueError, match=r"coefs_\[0\] must have shape \(4, 6\)"):
        ours.coefs_ = [c.T for c in theirs.coefs_]
