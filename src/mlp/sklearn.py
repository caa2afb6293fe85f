"""scikit-learn estimators backed by an mlp ``Network``: ``MLPClassifier`` and ``MLPRegressor``.

This module owns the translation between scikit-learn's estimator contract
(hyper-parameters stored as given in ``__init__``, validation in ``fit`` with
scikit-learn's own helpers, fitted attributes ending in ``_``, ``fit`` returning
``self``) and mlp's ``Network.fit``. It does not own training: every epoch is
run by ``Network.fit``; this module adds scikit-learn's stopping rule
(``tol``/``n_iter_no_change``, or the validation score with ``early_stopping``),
its learning-rate modes for ``solver="sgd"``, label encoding and the
attribute names scikit-learn users know.

Parameter names and meanings follow ``sklearn.neural_network.MLPClassifier``
and ``MLPRegressor`` where the meaning is the same, so that swapping the import
is enough. Differences, all deliberate:

* ``coefs_[i]`` has scikit-learn's orientation ``(n_in, n_out)``: it is
  ``network_.layers[i].W.T``, a *view* of the network's weights ``W`` of shape
  ``(n_out, n_in)`` (mlp's and PyTorch's orientation). ``intercepts_[i]`` is
  ``network_.layers[i].b``. Writing into them changes the network.
* ``warm_start=True`` and ``partial_fit`` continue training with the
  optimiser's state kept (Adam's moments, the momentum buffer), where
  scikit-learn restarts the optimiser on a warm start.
* ``solver`` is ``"adam"`` or ``"sgd"`` (``"lbfgs"`` is not offered);
  ``activation`` also accepts mlp's names (``"sigmoid"``, ``"leaky_relu"``,
  ``"softplus"``); ``dtype`` (float32 by default, as in mlp) is the precision of
  the network; predictions are returned as float64.
* ``alpha`` is the L2 penalty ``α/(2 Σ_batch wᵢ) ‖W‖²`` as in scikit-learn, handed to
  ``Network.fit`` as ``weight_decay = α / (batch_size · w̄)`` (w̄ = 1 without sample weights).
* ``sample_weight``: rows of weight 0 are left out (as if removed), the others'
  weights rescaled to mean 1, so the loss is ``Σ wᵢ lossᵢ / Σ wᵢ`` and integer
  weights equal repeated rows; ``MLPClassifier`` also takes ``class_weight``.
* The regression loss is the mean squared error over all n × n_out entries
  (``mlp.MSE("mean")``, as ``torch.nn.MSELoss``), i.e. twice scikit-learn's
  ``squared_error``; ``loss_curve_`` reports it.

Examples
--------
>>> from sklearn.datasets import load_iris
>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.preprocessing import StandardScaler
>>> from mlp.sklearn import MLPClassifier
>>> X, y = load_iris(return_X_y=True)
>>> clf = make_pipeline(StandardScaler(),
...                     MLPClassifier((16,), learning_rate_init=0.01, max_iter=500, random_state=0))
>>> clf.fit(X, y).score(X, y) > 0.95
True
>>> clf[-1].coefs_[0].shape, clf[-1].network_.layers[0].W.shape    # (n_in, n_out) vs (n_out, n_in)
((4, 16), (16, 4))
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

try:
    import sklearn  # noqa: F401
except ImportError as exc:
    raise ImportError("mlp.sklearn needs scikit-learn: pip install 'mlp[sklearn]'") from exc
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state, column_or_1d, compute_sample_weight
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    check_classification_targets,
    type_of_target,
    unique_labels,
)
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from . import activations as _activations
from . import losses as _losses
from .network import Network

__all__ = ["MLPClassifier", "MLPRegressor"]

# scikit-learn's activation names that differ from mlp's.
_SKLEARN_ACTIVATIONS = {"logistic": "sigmoid"}
_SOLVERS = ("adam", "sgd")
_LEARNING_RATES = ("constant", "invscaling", "adaptive")
_MAX_SEED = np.iinfo(np.int32).max


def _make_stopper(estimator, optimizer, n_train, X_val, y_val):
    """The Callback that applies scikit-learn's per-epoch rules during ``Network.fit``.

    After every epoch: update the learning rate (``solver="sgd"``: ``invscaling``
    ``η_t = η₀ / (t + 1)^power_t`` with t the number of samples seen; ``adaptive``
    divides η by 5 instead of stopping), then count epochs without improvement —
    of the training loss by more than ``tol`` or, with ``early_stopping``, of the
    validation score by more than ``tol`` — and stop when that count exceeds
    ``n_iter_no_change``. With ``early_stopping`` it keeps a copy of the
    parameters at the best validation score.
    """
    from .callbacks import Callback

    class _SklearnStopping(Callback):
        def __init__(self):
            super().__init__()
            self.no_improvement = 0
            self.best_loss = np.inf
            self.best_score = -np.inf
            self.best_params = None
            self.scores = []
            self.epochs = 0
            self.converged = False

        def on_epoch_end(self, epoch, history):
            est = estimator
            self.epochs += 1
            est.t_ += n_train
            if est.solver == "sgd" and est.learning_rate == "invscaling":
                optimizer.lr = est.learning_rate_init / (est.t_ + 1) ** est.power_t
            if X_val is not None:
                score = est._score_network(est.network_, X_val, y_val)
                self.scores.append(score)
                improved = score >= self.best_score + est.tol
                if score > self.best_score:
                    self.best_score = score
                    self.best_params = est.network_.params.copy()
            else:
                loss = history.loss[-1]
                improved = loss <= self.best_loss - est.tol
                self.best_loss = min(self.best_loss, loss)
            self.no_improvement = 0 if improved else self.no_improvement + 1
            if self.no_improvement > est.n_iter_no_change:
                if est.solver == "sgd" and est.learning_rate == "adaptive" and optimizer.lr > 1e-6:
                    optimizer.lr /= 5.0
                    self.no_improvement = 0
                    return None
                self.converged = True
                return True
            return None

    return _SklearnStopping()


class _BaseMLP(BaseEstimator):
    """What MLPClassifier and MLPRegressor share: validation, the network, the training run."""

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False,
                 warm_start=False, momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 n_iter_no_change=10, dtype="float32"):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.dtype = dtype

    # -- hyper-parameter validation (in fit, as scikit-learn requires) -----------------------
    def _check_params(self) -> None:
        def number(name, low, high=None, *, integer=False, low_open=False):
            value = getattr(self, name)
            kinds = numbers.Integral if integer else numbers.Real
            if isinstance(value, bool) or not isinstance(value, kinds):
                raise TypeError(f"{name} must be {'an int' if integer else 'a number'}, "
                                f"got {value!r}")
            if (value <= low if low_open else value < low) or (high is not None and value > high):
                bound = f"{'>' if low_open else '≥'} {low}" + (f" and ≤ {high}" if high is not None else "")
                raise ValueError(f"{name} must be {bound}, got {value!r}")

        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, numbers.Integral) else sizes
        try:
            sizes = list(sizes)
        except TypeError:
            raise TypeError(f"hidden_layer_sizes must be an int or a sequence of ints, "
                            f"got {self.hidden_layer_sizes!r}") from None
        if any(isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1 for s in sizes):
            raise ValueError(f"hidden_layer_sizes must be positive ints, got {self.hidden_layer_sizes!r}")
        self._activation_name()
        if self.solver not in _SOLVERS:
            raise ValueError(f"solver must be one of {', '.join(map(repr, _SOLVERS))}, got "
                             f"{self.solver!r} (mlp has no 'lbfgs')")
        if self.learning_rate not in _LEARNING_RATES:
            raise ValueError(f"learning_rate must be one of {', '.join(map(repr, _LEARNING_RATES))}, "
                             f"got {self.learning_rate!r}")
        if not (self.batch_size == "auto" or isinstance(self.batch_size, numbers.Integral)
                and not isinstance(self.batch_size, bool)):
            raise TypeError(f"batch_size must be 'auto' or an int, got {self.batch_size!r}")
        if self.batch_size != "auto":
            number("batch_size", 1, integer=True)
        number("alpha", 0)
        number("learning_rate_init", 0, low_open=True)
        number("power_t", 0)
        number("max_iter", 1, integer=True)
        number("tol", 0)
        number("momentum", 0, 1)
        number("validation_fraction", 0, 1, low_open=True)
        if self.validation_fraction >= 1:
            raise ValueError(f"validation_fraction must be < 1, got {self.validation_fraction!r}")
        for name in ("beta_1", "beta_2"):
            number(name, 0, 1)
            if getattr(self, name) >= 1:
                raise ValueError(f"{name} must be < 1, got {getattr(self, name)!r}")
        number("epsilon", 0, low_open=True)
        number("n_iter_no_change", 1, integer=True)
        self._np_dtype()

    def _activation_name(self) -> str:
        name = _SKLEARN_ACTIVATIONS.get(self.activation, self.activation)
        allowed = [n for n in _activations.names() if n != "softmax"]
        if name not in allowed:
            raise ValueError(f"activation must be one of 'logistic', {', '.join(map(repr, allowed))}; "
                             f"got {self.activation!r}")
        return name

    def _np_dtype(self) -> np.dtype:
        try:
            dtype = np.dtype(self.dtype)
        except TypeError:
            dtype = None
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        return dtype

    def _hidden_sizes(self) -> list[int]:
        sizes = self.hidden_layer_sizes
        return [int(sizes)] if isinstance(sizes, numbers.Integral) else [int(s) for s in sizes]

    # -- fitted attributes with scikit-learn's names ------------------------------------------
    @property
    def coefs_(self) -> list[np.ndarray]:
        """Weights per layer in scikit-learn's orientation, shape (n_in, n_out): ``W.T`` views."""
        check_is_fitted(self)
        return [layer.W.T for layer in self.network_.layers]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """Biases per layer, shape (n_out,): views of ``network_.layers[i].b``."""
        check_is_fitted(self)
        return [layer.b for layer in self.network_.layers]

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "network_")

    # -- the training run ---------------------------------------------------------------------
    def _make_optimizer(self):
        from . import optimizers

        if self.solver == "adam":
            return optimizers.Adam(self.learning_rate_init, betas=(self.beta_1, self.beta_2),
                                   eps=self.epsilon)
        return optimizers.SGD(self.learning_rate_init, momentum=self.momentum,
                              nesterov=bool(self.nesterovs_momentum and self.momentum > 0))

    def _fit(self, X, y, sample_weight=None, *, incremental=False, classes=None):
        self._check_params()
        dtype = self._np_dtype()
        first = not hasattr(self, "network_") or not (self.warm_start or incremental)
        if incremental and classes is not None or incremental and not hasattr(self, "network_"):
            self._partial_fit_classes(classes, y)
        X, y = validate_data(self, X, y, reset=first, multi_output=True,
                             dtype=(np.float64, np.float32), y_numeric=self._y_numeric)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        y_net, loss, out_activation, n_outputs = self._encode(y, first=first, incremental=incremental)
        sw = self._sample_weight(sample_weight, X, y)
        if sw is not None and np.any(sw == 0):
            # a zero weight removes the row (scikit-learn's meaning of sample weights), also
            # from the mini-batches and from ReLU care's "inactive on every example"
            keep = sw > 0
            X, y, y_net, sw = X[keep], y[keep], y_net[keep], sw[keep]
        n = X.shape[0]
        rng = check_random_state(self.random_state)
        if first:
            hidden = self._activation_name()
            self.network_ = Network.from_sizes(
                [X.shape[1], *self._hidden_sizes(), n_outputs], hidden=hidden, output=out_activation,
                init="he" if "relu" in hidden else "glorot", seed=int(rng.randint(_MAX_SEED)), dtype=dtype)
            self.n_outputs_ = n_outputs
            self.n_layers_ = len(self._hidden_sizes()) + 2
            self.out_activation_ = {"sigmoid": "logistic"}.get(out_activation, out_activation)
            self.n_iter_ = 0
            self.t_ = 0
            self._optimizer = self._make_optimizer()
            self._fit_seed = int(rng.randint(_MAX_SEED))
            seed = self._fit_seed
        else:
            if n_outputs != self.n_outputs_:
                raise ValueError(f"y has {n_outputs} output(s) but the fitted network has "
                                 f"{self.n_outputs_}; fit with warm_start=False to start again")
            seed = None                         # continue the network's own random stream
            if not incremental and not (self.solver == "sgd" and self.learning_rate != "constant"):
                self._optimizer.lr = self.learning_rate_init    # honour set_params between fits
        X = X.astype(dtype, copy=False)

        early = self.early_stopping and not incremental
        X_val = y_val = None
        if early:
            stratify = y if isinstance(self, ClassifierMixin) and y.ndim == 1 else None
            idx_train, idx_val = train_test_split(
                np.arange(n), test_size=self.validation_fraction, stratify=stratify,
                random_state=int(rng.randint(_MAX_SEED)))
            if idx_val.size < 2:
                raise ValueError(f"early_stopping needs at least 2 validation samples: "
                                 f"validation_fraction={self.validation_fraction} of {n} samples "
                                 f"gives {idx_val.size}")
            X_val, y_val = X[idx_val], y[idx_val]
            X, y_net = X[idx_train], y_net[idx_train]
            sw = None if sw is None else sw[idx_train]
            n = X.shape[0]
        # weights rescaled to mean 1, so the loss Σ wᵢ lossᵢ / n is Σ wᵢ lossᵢ / Σ wᵢ; their mean
        # as given scales the L2 penalty α ‖W‖² / (2 Σ_batch wᵢ) as in scikit-learn
        sw_mean = 1.0 if sw is None else float(sw.mean())
        sw = None if sw is None else sw / sw_mean

        batch_size = min(200, n) if self.batch_size == "auto" else int(self.batch_size)
        if batch_size > n:
            if self.batch_size != "auto":
                warnings.warn(f"batch_size={batch_size} is larger than the {n} training samples; "
                              f"using {n}", UserWarning, stacklevel=3)
            batch_size = n
        epochs = 1 if incremental else self.max_iter
        stopper = _make_stopper(self, self._optimizer, n, X_val, y_val)
        from .training import TrainingWarning

        with warnings.catch_warnings():
            # said below as scikit-learn's ConvergenceWarning when max_iter is reached
            warnings.filterwarnings("ignore", "loss still falling", TrainingWarning)
            history = self.network_.fit(
                X, y_net, loss=loss, optimizer=self._optimizer, epochs=epochs, batch_size=batch_size,
                shuffle=self.shuffle, seed=seed, weight_decay=self.alpha / (batch_size * sw_mean),
                sample_weight=sw, callbacks=[stopper], progress=bool(self.verbose))
        self.n_iter_ += stopper.epochs
        self.loss_curve_ = [float(v) for v in history.loss]
        if early:
            if stopper.best_params is not None:
                self.network_.params = stopper.best_params
            before = [] if first or self.validation_scores_ is None else self.validation_scores_
            self.validation_scores_ = before + stopper.scores
            self.best_validation_score_ = max(self.validation_scores_)
            self.best_loss_ = None
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
            self.best_loss_ = float(min(self.loss_curve_))
        if not incremental and not stopper.converged and stopper.epochs == self.max_iter:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                          "optimization hasn't converged yet.", ConvergenceWarning, stacklevel=3)
        return self

    def _sample_weight(self, sample_weight, X, y):
        """Validated, non-negative weights (times the class weights), float64 of shape (n,), or None."""
        sw = None
        if sample_weight is not None:
            sw = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        sw = self._class_weight(sw, y)
        if sw is not None and not sw.sum() > 0:
            raise ValueError("Sample weights must contain at least one non-zero number.")
        return sw

    def _class_weight(self, sw, y):
        return sw

    def _predict_network(self, X) -> np.ndarray:
        """ŷ of the network for validated X, float64 of shape (n, n_outputs_).

        Computed in float64 from the (float32 or float64) parameters: scikit-learn
        returns float64, and float64 arithmetic makes each row's prediction independent
        of the batch it comes in (float32 BLAS kernels round differently per batch size).
        """
        check_is_fitted(self)
        h = validate_data(self, X, reset=False, dtype=np.float64)
        for layer in self.network_.layers:
            h = layer.activation(h @ layer.W.T.astype(np.float64) + layer.b.astype(np.float64))
        return h

    # -- pickling: keep the network's layers views into its flat parameter vector -----------
    def __setstate__(self, state):
        super().__setstate__(state)
        net = self.__dict__.get("network_")
        if net is not None and not np.shares_memory(net.layers[0].W, net.params):
            # pickle stores each NumPy view as its own array; rebuild the views so that
            # training, coefs_ and the network's flat params stay one and the same memory
            fresh = net.copy()
            for key, value in vars(net).items():
                if key not in vars(fresh):
                    setattr(fresh, key, value)
            self.network_ = fresh


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier: an mlp ``Network`` behind scikit-learn's API.

    Hidden layers ``h = σ(W x + b)`` (``activation``), then a softmax output
    layer trained with cross-entropy for several classes, one sigmoid output
    with binary cross-entropy for two classes, and one sigmoid per label for
    multilabel targets — the same choices as scikit-learn's MLPClassifier.

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default (100,)
        Neurons per hidden layer.
    activation : {"relu", "logistic", "tanh", "identity", "sigmoid", "leaky_relu", "softplus"}
        σ of the hidden layers ("logistic" is scikit-learn's name for "sigmoid").
    solver : {"adam", "sgd"}, default "adam"
    alpha : float, default 1e-4
        L2 penalty on the weights (not the biases).
    batch_size : int or "auto", default "auto"
        Mini-batch size; "auto" is ``min(200, n_samples)``.
    learning_rate : {"constant", "invscaling", "adaptive"}, default "constant"
        Learning-rate mode for ``solver="sgd"`` (ignored by Adam).
    learning_rate_init : float, default 1e-3
    power_t : float, default 0.5
        Exponent of "invscaling": ``η_t = η₀ / (t + 1)^power_t``, t = samples seen.
    max_iter : int, default 200
        Maximum number of epochs.
    shuffle : bool, default True
    random_state : int, RandomState or None
        Seeds the initial weights, the shuffling and the validation split.
    tol : float, default 1e-4
    verbose : bool, default False
        Show mlp's progress bar.
    warm_start : bool, default False
        Continue from the fitted network (and its optimiser state) on the next ``fit``.
    momentum : float, default 0.9
    nesterovs_momentum : bool, default True
    early_stopping : bool, default False
        Hold out ``validation_fraction`` (stratified), stop when the validation
        accuracy has not improved by ``tol`` for ``n_iter_no_change`` epochs, and
        keep the best parameters.
    validation_fraction : float, default 0.1
    beta_1, beta_2, epsilon : float
        Adam's β₁, β₂ and ε.
    n_iter_no_change : int, default 10
    dtype : {"float32", "float64"}, default "float32"
        Precision of the network's parameters and arithmetic.
    class_weight : dict, "balanced" or None
        Weights per class, multiplied into ``sample_weight`` (mlp extension).

    Attributes
    ----------
    network_ : mlp.Network
        The trained network (``W`` of shape (n_out, n_in) per layer).
    classes_ : ndarray of shape (n_classes,)
    coefs_ : list of ndarray of shape (n_in, n_out)
        scikit-learn's orientation: ``coefs_[i] is network_.layers[i].W.T`` (a view).
    intercepts_ : list of ndarray of shape (n_out,)
    loss_curve_ : list of float
        Training loss per epoch (all epochs of this network, across warm starts).
    best_loss_ : float or None
        Smallest training loss (None with ``early_stopping``).
    validation_scores_ : list of float or None
        Validation accuracy per epoch with ``early_stopping``, else None.
    best_validation_score_ : float or None
    n_iter_ : int
        Epochs run in total.
    t_ : int
        Training samples seen.
    n_features_in_, n_outputs_, n_layers_ : int
    out_activation_ : str
        "softmax" or "logistic".
    feature_names_in_ : ndarray
        Only when X had string column names.
    """

    _y_numeric = False

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False,
                 warm_start=False, momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 n_iter_no_change=10, dtype="float32", class_weight=None):
        super().__init__(
            hidden_layer_sizes, activation, solver=solver, alpha=alpha, batch_size=batch_size,
            learning_rate=learning_rate, learning_rate_init=learning_rate_init, power_t=power_t,
            max_iter=max_iter, shuffle=shuffle, random_state=random_state, tol=tol, verbose=verbose,
            warm_start=warm_start, momentum=momentum, nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping, validation_fraction=validation_fraction, beta_1=beta_1,
            beta_2=beta_2, epsilon=epsilon, n_iter_no_change=n_iter_no_change, dtype=dtype)
        self.class_weight = class_weight

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    def _partial_fit_classes(self, classes, y):
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
            self.classes_ = self._label_binarizer.classes_

    def _encode(self, y, *, first, incremental):
        """Targets for the network: class indices (softmax), 0/1 columns (sigmoid)."""
        check_classification_targets(y)
        if first and not incremental:
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
        elif not incremental and self.warm_start:
            if set(unique_labels(y)) != set(self.classes_):
                raise ValueError(f"warm_start can only be used where y has the same classes as in the "
                                 f"previous call to fit: previously {self.classes_}, y has "
                                 f"{unique_labels(y)}")
        elif incremental and not self._label_binarizer.y_type_.startswith("multilabel"):
            unseen = np.setdiff1d(unique_labels(y), self.classes_)
            if unseen.size:
                raise ValueError(f"y has classes not in self.classes_ {self.classes_}: {unseen}")
        lb = self._label_binarizer
        if len(self.classes_) < 2:
            raise ValueError(f"MLPClassifier needs samples of at least 2 classes; got 1 class "
                             f"({self.classes_[0]!r})")
        if lb.y_type_.startswith("multilabel"):
            return (lb.transform(y).astype(self._np_dtype()), _losses.BinaryCrossEntropy(),
                    "sigmoid", len(self.classes_))
        if len(self.classes_) == 2:
            return ((y == self.classes_[1]).astype(self._np_dtype())[:, None],
                    _losses.BinaryCrossEntropy(), "sigmoid", 1)
        return np.searchsorted(self.classes_, y), _losses.CrossEntropy(), "softmax", len(self.classes_)

    def _class_weight(self, sw, y):
        if self.class_weight is None:
            return sw
        cw = compute_sample_weight(self.class_weight, y)
        return cw if sw is None else sw * cw

    def _score_network(self, net, X, y) -> float:
        """Validation accuracy of ``net`` (during training, for early stopping)."""
        return accuracy_score(y, self._labels(net(X)))

    def _labels(self, p: np.ndarray) -> np.ndarray:
        lb = self._label_binarizer
        if lb.y_type_.startswith("multilabel"):
            return (p > 0.5).astype(int)
        if p.shape[1] == 1:
            return self.classes_[(p[:, 0] > 0.5).astype(int)]
        return self.classes_[np.argmax(p, axis=1)]

    def fit(self, X, y, sample_weight=None):
        """Train the network on X (n_samples, n_features) and labels y; returns self.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_classes) (multilabel indicator)
        sample_weight : array-like of shape (n_samples,), optional
        """
        return self._fit(X, y, sample_weight)

    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over (X, y), continuing the network and its optimiser state; returns self.

        ``classes`` (all labels that will ever occur) is required on the first call.
        """
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, ndarray of shape (n_samples, n_classes), float64."""
        p = self._predict_network(X)
        if p.shape[1] == 1 and not self._label_binarizer.y_type_.startswith("multilabel"):
            return np.hstack([1 - p, p])
        return p

    def predict_log_proba(self, X) -> np.ndarray:
        """log of ``predict_proba``."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X) -> np.ndarray:
        """Predicted labels, shape (n_samples,) (multilabel: (n_samples, n_classes) of 0/1)."""
        return self._labels(self._predict_network(X))


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor: an mlp ``Network`` behind scikit-learn's API.

    Hidden layers ``h = σ(W x + b)``, an identity output layer ``ŷ = W h + b``,
    trained on the mean squared error. Parameters and attributes are those of
    ``MLPClassifier`` (without ``classes_`` and ``class_weight``);
    ``out_activation_`` is "identity" and early stopping uses the validation R².
    ``predict`` returns shape (n_samples,) for a 1-D y and (n_samples, n_outputs)
    otherwise.
    """

    _y_numeric = True

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _partial_fit_classes(self, classes, y):
        pass

    def _encode(self, y, *, first, incremental):
        y2 = (y.reshape(-1, 1) if y.ndim == 1 else y).astype(self._np_dtype())
        if not np.all(np.isfinite(y2)):
            raise ValueError("y contains NaN or infinite values")
        return y2, _losses.MSE("mean"), "identity", y2.shape[1]

    def _score_network(self, net, X, y) -> float:
        """Validation R² of ``net`` (during training, for early stopping)."""
        y_hat = net(X)
        return r2_score(y, y_hat[:, 0] if y.ndim == 1 else y_hat)

    def fit(self, X, y, sample_weight=None):
        """Train the network on X (n_samples, n_features) and targets y; returns self.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), optional
        """
        return self._fit(X, y, sample_weight)

    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y), continuing the network and its optimiser state; returns self."""
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X) -> np.ndarray:
        """ŷ, float64 of shape (n_samples,) or (n_samples, n_outputs)."""
        y_hat = self._predict_network(X)
        return y_hat[:, 0] if self.n_outputs_ == 1 else y_hat
