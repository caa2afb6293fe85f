"""mlp.sklearn: scikit-learn's conformance suite, pipelines, grid search and the mlp-specific contract."""

import pickle
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_iris, make_blobs, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import mlp  # noqa: E402
from mlp.sklearn import MLPClassifier, MLPRegressor  # noqa: E402


# Every check of scikit-learn's conformance suite passes for both estimators: no expected
# failures. (scikit-learn itself skips three, and says why: check_array_api_input for both,
# "SCIPY_ARRAY_API is not set" — the estimators do not claim array-API support; and
# check_classifiers_multilabel_output_format_decision_function, "MLPClassifier does not have a
# decision_function method", as scikit-learn's own MLPClassifier.)
# Small networks and few epochs keep the whole conformance suite to a few seconds.
@parametrize_with_checks(
    [MLPClassifier(hidden_layer_sizes=(16,), max_iter=60, learning_rate_init=0.01, random_state=0),
     MLPRegressor(hidden_layer_sizes=(16,), max_iter=100, learning_rate_init=0.01, random_state=0)])
def test_sklearn_conformance(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


# -- inside scikit-learn's tools ---------------------------------------------------------------

def iris_split():
    X, y = load_iris(return_X_y=True)
    return train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)


def test_pipeline_with_standard_scaler():
    X_train, X_test, y_train, y_test = iris_split()
    pipe = make_pipeline(StandardScaler(), MLPClassifier((16,), max_iter=300, learning_rate_init=0.01,
                                                         random_state=0))
    pipe.fit(X_train, y_train)
    assert pipe.score(X_test, y_test) >= 0.9
    proba = pipe.predict_proba(X_test)
    assert proba.shape == (len(X_test), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(pipe.predict(X_test), pipe.classes_[proba.argmax(axis=1)])


def test_grid_search_selects_and_refits():
    X_train, X_test, y_train, y_test = iris_split()
    pipe = make_pipeline(StandardScaler(), MLPClassifier(max_iter=150, random_state=0))
    grid = GridSearchCV(pipe, {"mlpclassifier__hidden_layer_sizes": [(2,), (16,)],
                               "mlpclassifier__learning_rate_init": [1e-4, 1e-2]}, cv=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        grid.fit(X_train, y_train)
    assert grid.cv_results_["mean_test_score"].shape == (4,)
    # a 16-unit network with lr 1e-2 beats 2 units with lr 1e-4 trained for 150 epochs
    assert grid.best_params_ == {"mlpclassifier__hidden_layer_sizes": (16,),
                                 "mlpclassifier__learning_rate_init": 1e-2}
    assert grid.score(X_test, y_test) >= 0.9
    assert isinstance(grid.best_estimator_[-1].network_, mlp.Network)


def test_regressor_in_pipeline_and_grid_search():
    X, y = make_regression(n_samples=300, n_features=5, noise=1.0, random_state=0)
    pipe = make_pipeline(StandardScaler(), MLPRegressor(hidden_layer_sizes=(32,), max_iter=400,
                                                        learning_rate_init=0.01, random_state=0))
    grid = GridSearchCV(pipe, {"mlpregressor__alpha": [1e-4, 1e-1]}, cv=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        grid.fit(X[:200], y[:200])
    assert grid.score(X[200:], y[200:]) > 0.95


# -- the fitted model ------------------------------------------------------------------------------

def blobs(n=120, centers=3, seed=0):
    X, y = make_blobs(n_samples=n, centers=centers, n_features=4, random_state=seed)
    return StandardScaler().fit_transform(X), y


def quiet_fit(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*args, **kwargs)


def test_coefs_are_transposed_views_of_the_network():
    X, y = blobs()
    clf = quiet_fit(MLPClassifier((8, 5), activation="tanh", max_iter=20, random_state=0), X, y)
    net = clf.network_
    assert [c.shape for c in clf.coefs_] == [(4, 8), (8, 5), (5, 3)]      # scikit-learn: (n_in, n_out)
    assert [layer.W.shape for layer in net.layers] == [(8, 4), (5, 8), (3, 5)]   # mlp: (n_out, n_in)
    for coef, intercept, layer in zip(clf.coefs_, clf.intercepts_, net.layers):
        np.testing.assert_array_equal(coef, layer.W.T)
        np.testing.assert_array_equal(intercept, layer.b)
        assert np.shares_memory(coef, net.params) and np.shares_memory(intercept, net.params)
    # scikit-learn's forward pass, written with its own orientation, gives predict_proba
    h = X
    for i, (coef, intercept) in enumerate(zip(clf.coefs_, clf.intercepts_)):
        z = h @ coef + intercept
        h = np.tanh(z) if i < 2 else np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(clf.predict_proba(X), h, rtol=1e-5, atol=1e-6)
    # writing into coefs_ changes the model
    clf.coefs_[-1][:] = 0
    clf.intercepts_[-1][:] = [0, 5, 0]
    assert np.all(clf.predict(X) == clf.classes_[1])


def test_fitted_attributes_multiclass():
    X, y = blobs()
    labels = np.array(["c", "a", "b"])[y]
    clf = quiet_fit(MLPClassifier((8,), activation="logistic", max_iter=15, random_state=0), X, labels)
    assert list(clf.classes_) == ["a", "b", "c"]
    assert clf.n_features_in_ == 4 and clf.n_outputs_ == 3 and clf.n_layers_ == 3
    assert clf.out_activation_ == "softmax"
    assert [layer.activation.name for layer in clf.network_.layers] == ["sigmoid", "softmax"]
    assert clf.n_iter_ == len(clf.loss_curve_) == 15
    assert clf.best_loss_ == min(clf.loss_curve_)
    assert clf.validation_scores_ is None and clf.best_validation_score_ is None
    assert clf.t_ == 15 * len(X)
    assert clf.predict_proba(X).dtype == np.float64
    assert set(clf.predict(X)) <= {"a", "b", "c"}


def test_binary_uses_one_sigmoid_output():
    X, y = blobs(centers=2)
    labels = np.where(y == 1, "yes", "no")
    clf = quiet_fit(MLPClassifier((8,), max_iter=50, learning_rate_init=0.01, random_state=0), X, labels)
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 1
    assert clf.network_.sizes == [4, 8, 1]
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2)
    p_yes = clf.network_(X.astype(np.float32))[:, 0]
    np.testing.assert_allclose(proba[:, 1], p_yes, rtol=1e-5, atol=1e-6)    # column 1 is classes_[1]
    np.testing.assert_allclose(proba[:, 0], 1 - p_yes, rtol=1e-5, atol=1e-6)
    assert clf.score(X, labels) > 0.95


def test_multilabel_indicator_targets():
    X, y = blobs(n=150)
    Y = np.stack([y == 0, y != 1, y == 2], axis=1).astype(int)
    clf = quiet_fit(MLPClassifier((16,), max_iter=200, learning_rate_init=0.01, random_state=0), X, Y)
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 3
    assert clf.predict(X).shape == (150, 3) and clf.predict_proba(X).shape == (150, 3)
    assert set(np.unique(clf.predict(X))) <= {0, 1}
    assert clf.score(X, Y) > 0.9            # subset accuracy


def test_regressor_shapes_and_quality():
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(400, 2))
    y = np.sin(X[:, 0]) + X[:, 1] ** 2 / 2
    reg = quiet_fit(MLPRegressor(hidden_layer_sizes=(32, 32), activation="tanh", max_iter=300,
                                 learning_rate_init=0.01, random_state=0), X[:300], y[:300])
    assert reg.out_activation_ == "identity"
    assert reg.predict(X).shape == (400,) and reg.predict(X).dtype == np.float64
    assert reg.score(X[300:], y[300:]) > 0.95
    Y = np.stack([y, -y], axis=1)
    reg2 = quiet_fit(MLPRegressor(hidden_layer_sizes=(16,), max_iter=30, random_state=0), X, Y)
    assert reg2.n_outputs_ == 2 and reg2.predict(X).shape == (400, 2)


# -- training control ------------------------------------------------------------------------------

def test_warm_start_continues_with_optimizer_state():
    X, y = blobs()
    kw = dict(hidden_layer_sizes=(8,), tol=0.0, n_iter_no_change=1000, random_state=3)
    once = quiet_fit(MLPClassifier(max_iter=10, **kw), X, y)
    twice = MLPClassifier(max_iter=5, warm_start=True, **kw)
    quiet_fit(twice, X, y)
    first_params = twice.network_.params.copy()
    quiet_fit(twice, X, y)
    # 5 + 5 epochs with the Adam moments and the shuffling stream carried on = 10 epochs at once
    np.testing.assert_array_equal(twice.network_.params, once.network_.params)
    # scikit-learn's counting: n_iter_ is this fit's epochs, loss_curve_ and t_ all of them
    assert twice.n_iter_ == 5 and len(twice.loss_curve_) == 10 and twice.t_ == 10 * len(X)
    assert twice.loss_curve_ == once.loss_curve_
    assert not np.array_equal(first_params, twice.network_.params)
    # without warm_start a second fit starts again from the same initial weights
    cold = MLPClassifier(max_iter=5, **kw)
    quiet_fit(cold, X, y)
    quiet_fit(cold, X, y)
    np.testing.assert_array_equal(cold.network_.params, first_params)
    assert cold.n_iter_ == 5


def test_warm_start_refuses_new_classes():
    X, y = blobs()
    clf = quiet_fit(MLPClassifier((4,), max_iter=2, warm_start=True, random_state=0), X, y)
    with pytest.raises(ValueError, match="same classes"):
        clf.fit(X[y < 2], y[y < 2])


def test_partial_fit_is_one_epoch_each():
    X, y = blobs()
    kw = dict(hidden_layer_sizes=(8,), tol=0.0, n_iter_no_change=1000, random_state=1)
    with pytest.raises(ValueError, match="classes must be passed"):
        MLPClassifier(**kw).partial_fit(X, y)
    inc = MLPClassifier(**kw)
    for _ in range(3):
        inc.partial_fit(X, y, classes=[0, 1, 2])
    assert inc.n_iter_ == 1 and len(inc.loss_curve_) == 3 and inc.t_ == 3 * len(X)   # scikit-learn's
    full = quiet_fit(MLPClassifier(max_iter=3, **kw), X, y)
    np.testing.assert_array_equal(inc.network_.params, full.network_.params)
    with pytest.raises(ValueError, match="classes"):
        inc.partial_fit(X, y + 5)
    reg = MLPRegressor(hidden_layer_sizes=(4,), random_state=0)
    reg.partial_fit(X, y.astype(float))
    reg.partial_fit(X, y.astype(float))
    assert reg.n_iter_ == 1 and len(reg.loss_curve_) == 2


def test_stopping_rule_tol_and_n_iter_no_change():
    X, y = blobs()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        # the first epoch improves on an infinite best loss; after it an improvement of 1e9 is
        # never reached, and the 4th epoch without one (> n_iter_no_change) stops: 1 + 4 epochs
        clf = MLPClassifier((4,), tol=1e9, n_iter_no_change=3, max_iter=100, random_state=0).fit(X, y)
    assert clf.n_iter_ == 5
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        MLPClassifier((4,), max_iter=3, random_state=0).fit(X, y)


def test_early_stopping_validation_scores():
    X, y = blobs(n=200)
    clf = quiet_fit(MLPClassifier((8,), early_stopping=True, validation_fraction=0.2,
                                  max_iter=500, learning_rate_init=0.01, random_state=0), X, y)
    assert clf.n_iter_ < 500
    assert len(clf.validation_scores_) == clf.n_iter_ == len(clf.loss_curve_)
    assert clf.best_validation_score_ == max(clf.validation_scores_) > 0.9
    assert clf.best_loss_ is None


def test_adaptive_and_invscaling_learning_rates():
    X, y = blobs()
    adaptive = MLPClassifier((4,), solver="sgd", learning_rate="adaptive", learning_rate_init=0.1,
                             tol=1e9, n_iter_no_change=1, max_iter=6, random_state=0)
    quiet_fit(adaptive, X, y)
    # epoch 1 improves on the infinite best loss; then no epoch improves by tol = 1e9, and each
    # time the count exceeds n_iter_no_change = 1 (epochs 3 and 5) the rate is divided by 5
    # instead of stopping
    assert adaptive.n_iter_ == 6
    assert adaptive.network_.train_state.optimizer.lr == pytest.approx(0.1 / 25)
    inv = quiet_fit(MLPClassifier((4,), solver="sgd", learning_rate="invscaling", learning_rate_init=0.1,
                                  power_t=0.5, max_iter=3, random_state=0), X, y)
    assert inv.network_.train_state.optimizer.lr == pytest.approx(0.1 / (3 * len(X) + 1) ** 0.5)


def test_class_weight_is_sample_weight():
    X, y = blobs()
    kw = dict(hidden_layer_sizes=(8,), max_iter=5, random_state=0)
    a = quiet_fit(MLPClassifier(class_weight={0: 3.0, 1: 1.0, 2: 0.5}, **kw), X, y)
    b = quiet_fit(MLPClassifier(**kw), X, y, sample_weight=np.array([3.0, 1.0, 0.5])[y])
    np.testing.assert_array_equal(a.network_.params, b.network_.params)
    balanced = quiet_fit(MLPClassifier(class_weight="balanced", **kw), X[:100], y[:100])
    assert balanced.n_iter_ == 5


def test_alpha_shrinks_weights():
    X, y = blobs()
    norms = [np.sum(np.concatenate([c.ravel() for c in quiet_fit(
        MLPClassifier((16,), alpha=alpha, learning_rate_init=0.01, max_iter=200, random_state=0),
        X, y).coefs_]) ** 2)
        for alpha in (0.0, 10.0)]
    assert norms[1] < 0.5 * norms[0]


def test_pickle_keeps_the_network_whole():
    X, y = blobs()
    kw = dict(hidden_layer_sizes=(8,), max_iter=4, warm_start=True, tol=0.0, random_state=0)
    clf = quiet_fit(MLPClassifier(**kw), X, y)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    net = restored.network_
    assert all(np.shares_memory(layer.W, net.params) for layer in net.layers)
    # training the restored copy continues exactly as the original does
    quiet_fit(clf, X, y)
    quiet_fit(restored, X, y)
    np.testing.assert_array_equal(restored.network_.params, clf.network_.params)
    clone_ = clone(clf)
    assert not hasattr(clone_, "network_") and clone_.get_params() == clf.get_params()


@pytest.mark.parametrize("params, error, match", [
    (dict(solver="newton"), ValueError, "solver"),
    (dict(activation="gelu"), ValueError, "logistic"),
    (dict(hidden_layer_sizes=(8, 0)), ValueError, "hidden_layer_sizes"),
    (dict(hidden_layer_sizes="big"), ValueError, "hidden_layer_sizes"),
    (dict(learning_rate="cyclic"), ValueError, "learning_rate"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(batch_size="big"), TypeError, "batch_size"),
    (dict(max_iter=2.5), TypeError, "max_iter"),
    (dict(learning_rate_init=0), ValueError, "learning_rate_init"),
    (dict(validation_fraction=1.0), ValueError, "validation_fraction"),
    (dict(beta_2=1.0), ValueError, "beta_2"),
    (dict(dtype="float16"), ValueError, "dtype"),
])
def test_bad_hyper_parameters_fail_in_fit(params, error, match):
    X, y = blobs(n=30)
    est = MLPClassifier(**params)            # scikit-learn: __init__ only stores
    with pytest.raises(error, match=match):
        est.fit(X, y)


def test_dtype_parameter_fixes_the_precision():
    X, y = blobs()
    clf = quiet_fit(MLPClassifier((8,), dtype="float32", max_iter=5, random_state=0), X, y)
    assert clf.network_.dtype == np.float32
    assert clf.predict_proba(X).dtype == np.float64          # float64 X: float64 arithmetic
    assert clf.predict_proba(X.astype(np.float32)).dtype == np.float32


def test_mlp_import_does_not_import_sklearn():
    import subprocess
    import sys
    code = "import sys, mlp, mlp.interop; print('sklearn' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_missing_sklearn_names_the_extra():
    import subprocess
    import sys
    code = ("import sys; sys.modules['sklearn'] = None\n"
            "try:\n    import mlp.sklearn\nexcept ImportError as e:\n    print(e)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'mlp[sklearn]'" in out.stdout
