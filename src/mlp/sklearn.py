"""scikit-learn estimators backed by an mlp ``Network``: ``MLPClassifier`` and ``MLPRegressor``.

This module owns the translation between scikit-learn's estimator contract
(hyper-parameters stored as given in ``__init__``, validation in ``fit`` with
scikit-learn's own helpers, fitted attributes ending in ``_``, ``fit`` returning
``self``) and mlp's ``Network.fit``. It does not own training: every epoch of the
stochastic solvers is run by ``Network.fit``; this module adds what scikit-learn
does around it — its initialisation, its loss scale, its stopping rule
(``tol``/``n_iter_no_change``, or the validation score with ``early_stopping``),
its learning-rate modes for ``solver="sgd"``, ``solver="lbfgs"`` (SciPy's
L-BFGS-B on ``Network.loss_and_grad``), label encoding, the attributes and the
``verbose`` lines scikit-learn users know.

The estimators behave as ``sklearn.neural_network.MLPClassifier`` and
``MLPRegressor`` (scikit-learn ≥ 1.7), parameter for parameter, so that swapping
the import is enough:

* the same parameters, defaults and order (``MLPRegressor``'s first is ``loss``:
  ``"squared_error"`` or ``"poisson"``);
* the same initialisation: for each layer, weights then biases drawn from
  ``check_random_state(random_state)`` as ``U(−a, a)`` with
  ``a = √(factor / (fan_in + fan_out))``, factor 6 (2 for ``activation="logistic"``);
  the same ``random_state`` gives scikit-learn's initial ``coefs_`` exactly, and the
  same ``early_stopping`` split;
* the precision follows the input: float64 ``X`` trains a float64 network,
  float32 ``X`` a float32 one (integers become float64);
* the losses on scikit-learn's scale: cross-entropy averaged over the samples and
  summed over the outputs, squared error as ½ · mean (ŷ − y)² (gradient (ŷ − y)/n),
  the half Poisson deviance, each plus ``alpha/(2 Σ_batch w) ‖W‖²``; ``loss_``,
  ``loss_curve_`` and ``best_loss_`` report that;
* ``n_iter_`` counts the epochs of the last call (1 after ``partial_fit``), ``t_``
  the training samples seen over all calls, ``loss_curve_`` and
  ``validation_scores_`` grow over warm starts; ``verbose`` prints scikit-learn's
  lines (``Iteration 3, loss = 0.41234567``).

What mlp adds, none of it changing a default:

* ``coefs_[i]`` is ``network_.layers[i].W.T``, a *view* of the network's weights
  ``W`` of shape ``(n_out, n_in)`` (mlp's and PyTorch's orientation), and
  ``intercepts_[i]`` is ``network_.layers[i].b``: writing into them changes the network;
* ``warm_start=True`` and ``partial_fit`` continue training with the optimiser's
  state kept (Adam's moments, the momentum buffer) and the shuffling stream carried
  on, so two fits of 5 epochs equal one of 10, bit for bit; scikit-learn restarts
  the optimiser;
* ``activation`` also accepts mlp's names (``"sigmoid"``, ``"leaky_relu"``,
  ``"softplus"``); ``dtype`` ("float32" or "float64"; default None: follow the
  input) fixes the network's precision; ``MLPClassifier`` also takes ``class_weight``;
* ``sample_weight``: rows of weight 0 are left out (as if removed), the others'
  weights rescaled to mean 1, so the loss is ``Σ wᵢ lossᵢ / Σ wᵢ`` and integer
  weights equal repeated rows;
* ``network_`` is an ``mlp.Network``: ``mlp.save``, ``to_torch``, ``diagnose`` … work
  on it (not for ``loss="poisson"``, whose exp output layer is this module's own).

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
>>> clf[-1].network_.dtype                                          # float64 X: a float64 network
dtype('float64')
"""

from __future__ import annotations

import copy
import numbers
import warnings

import numpy as np

try:
    import sklearn  # noqa: F401
except ImportError as exc:
    raise ImportError("mlp.sklearn needs scikit-learn: pip install 'mlp[sklearn]'") from exc
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
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
from . import optimizers as _optimizers
from .callbacks import Callback
from .network import Network
from .training import TrainingDiverged, TrainingWarning

__all__ = ["MLPClassifier", "MLPRegressor"]

# scikit-learn's activation names that differ from mlp's.
_SKLEARN_ACTIVATIONS = {"logistic": "sigmoid"}
_SOLVERS = ("lbfgs", "sgd", "adam")
_LEARNING_RATES = ("constant", "invscaling", "adaptive")
_REGRESSION_LOSSES = ("squared_error", "poisson")
_MAX_SEED = np.iinfo(np.int32).max


# -- scikit-learn's losses and its exp output layer, as mlp Loss/Activation objects -----------

class _SquaredError(_losses.Loss):
    """scikit-learn's ``squared_error``: ½ · mean of (ŷ − y)² over the n × n_out entries.

    Its gradient is scikit-learn's, (ŷ − y) / n per output (for one output the
    gradient of the value; for several, the gradient of their sum, as scikit-learn).
    """

    name = "squared_error"

    def value(self, y_hat, y, sample_weight=None) -> float:
        diff = y_hat - y
        sq = diff * diff if sample_weight is None else diff * diff * sample_weight[:, None]
        return 0.5 * float(sq.sum()) / max(diff.size, 1)

    def gradient(self, y_hat, y, sample_weight=None) -> np.ndarray:
        diff = y_hat - y
        if sample_weight is not None:
            diff = diff * sample_weight[:, None]
        return diff / max(diff.shape[0], 1)


class _LogLoss(_losses.BinaryCrossEntropy):
    """scikit-learn's binary log-loss: summed over the outputs, averaged over the samples
    (mlp's ``BinaryCrossEntropy`` averages over all n × n_out entries; equal for one output)."""

    def value_and_delta(self, z, y, sample_weight=None):
        value, delta = super().value_and_delta(z, y, sample_weight)
        return value * z.shape[1], delta * z.shape[1]

    def value(self, p, y, sample_weight=None) -> float:
        return super().value(p, y, sample_weight) * p.shape[1]


class _Exp(_activations.Activation):
    """ŷ = eᶻ, the output layer of ``loss="poisson"`` (scikit-learn's log link)."""

    name = "exp"

    def __call__(self, z):
        return np.exp(z)

    def derivative(self, z, h=None):
        return np.exp(z) if h is None else h


class _PoissonLoss(_losses.Loss):
    """scikit-learn's ``poisson``: the half Poisson deviance y log(y/ŷ) − y + ŷ, averaged over
    the samples and summed over the outputs, with ŷ = eᶻ; fused: ∂loss/∂z = (ŷ − y)/n."""

    name = "poisson"
    fused = True

    def value_and_delta(self, z, y, sample_weight=None):
        from scipy.special import xlogy

        y_hat = np.exp(z)
        per_entry = xlogy(y, y / y_hat) - y + y_hat
        delta = y_hat - y
        if sample_weight is not None:
            per_entry, delta = per_entry * sample_weight[:, None], delta * sample_weight[:, None]
        n = max(z.shape[0], 1)
        return float(per_entry.sum()) / n, delta / n


# -- the per-epoch rules ---------------------------------------------------------------------

class _SklearnEpoch(Callback):
    """scikit-learn's bookkeeping after every epoch of ``Network.fit``, in its order.

    Record ``loss_`` (the epoch's mean batch loss, penalty included), ``loss_curve_``,
    ``n_iter_`` and ``t_``; print the verbose line; count epochs without improvement —
    of the training loss by more than ``tol`` or, with ``early_stopping``, of the
    validation score (keeping the best parameters) —; update the "invscaling" learning
    rate; when the count exceeds ``n_iter_no_change`` stop, or with
    ``learning_rate="adaptive"`` divide the rate by 5 and go on.
    """

    def __init__(self, est, optimizer, n_train, validation):
        super().__init__()
        self.est, self.optimizer, self.n_train, self.validation = est, optimizer, n_train, validation
        self.stopped = False

    def on_epoch_end(self, epoch, history):
        est, opt = self.est, self.optimizer
        est.n_iter_ += 1
        est.loss_ = float(history.loss[-1])
        est.t_ += self.n_train
        est.loss_curve_.append(est.loss_)
        if est.verbose:
            print(f"Iteration {est.n_iter_}, loss = {est.loss_:.8f}")
        if self.validation is not None:
            score = est._score_network(*self.validation)
            est.validation_scores_.append(score)
            if est.verbose:
                print(f"Validation score: {score:f}")
            if score < est.best_validation_score_ + est.tol:
                est._no_improvement_count += 1
            else:
                est._no_improvement_count = 0
            if score > est.best_validation_score_:
                est.best_validation_score_ = score
                est._best_params = est.network_.params.copy()
        else:
            if est.loss_ > est.best_loss_ - est.tol:
                est._no_improvement_count += 1
            else:
                est._no_improvement_count = 0
            est.best_loss_ = min(est.best_loss_, est.loss_)
        if est.solver == "sgd" and est.learning_rate == "invscaling":
            opt.lr = est.learning_rate_init / (est.t_ + 1) ** est.power_t
        if est._no_improvement_count > est.n_iter_no_change:
            what = "Validation score" if self.validation is not None else "Training loss"
            msg = (f"{what} did not improve more than tol={est.tol:f} for "
                   f"{est.n_iter_no_change} consecutive epochs.")
            if est.solver == "sgd" and est.learning_rate == "adaptive" and opt.lr > 1e-6:
                opt.lr /= 5.0
                est._no_improvement_count = 0
                if est.verbose:
                    print(f"{msg} Setting learning rate to {opt.lr:f}")
                return None
            if est.verbose:
                small = est.solver == "sgd" and est.learning_rate == "adaptive"
                print(msg + (" Learning rate too small. Stopping." if small else " Stopping."))
            self.stopped = True
            return True
        return None


class _BaseMLP(BaseEstimator):
    """What MLPClassifier and MLPRegressor share: validation, the network, the training run."""

    def _set_params_from(self, params: dict) -> None:
        """Store every ``__init__`` argument as an attribute of the same name, unchanged.

        Each estimator's ``__init__`` lists its parameters explicitly (scikit-learn reads them
        from its signature) and hands its ``locals()`` here.
        """
        for name, value in params.items():
            if name != "self":
                setattr(self, name, value)

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
                             f"{self.solver!r}")
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
        number("max_fun", 1, integer=True)
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
        self._np_dtype(np.float64)

    def _activation_name(self) -> str:
        name = _SKLEARN_ACTIVATIONS.get(self.activation, self.activation)
        allowed = [n for n in _activations.names() if n != "softmax"]
        if name not in allowed:
            raise ValueError(f"activation must be one of 'logistic', {', '.join(map(repr, allowed))}; "
                             f"got {self.activation!r}")
        return name

    def _np_dtype(self, input_dtype) -> np.dtype:
        """The network's precision: ``dtype`` if given, else the (validated) input's."""
        if self.dtype is None:
            return np.dtype(input_dtype)
        try:
            dtype = np.dtype(self.dtype)
        except TypeError:
            dtype = None
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be None (follow the input), 'float32' or 'float64', "
                             f"got {self.dtype!r}")
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

    @coefs_.setter
    def coefs_(self, values) -> None:
        self._set_layers(values, "W", "coefs_", transpose=True)

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """Biases per layer, shape (n_out,): views of ``network_.layers[i].b``."""
        check_is_fitted(self)
        return [layer.b for layer in self.network_.layers]

    @intercepts_.setter
    def intercepts_(self, values) -> None:
        self._set_layers(values, "b", "intercepts_", transpose=False)

    def _set_layers(self, values, attr, name, *, transpose) -> None:
        """``est.coefs_ = [...]``: copied into the network (shapes as scikit-learn's)."""
        check_is_fitted(self)
        layers = self.network_.layers
        values = list(values)
        if len(values) != len(layers):
            raise ValueError(f"{name} needs {len(layers)} arrays, got {len(values)}")
        for i, (layer, value) in enumerate(zip(layers, values)):
            target = getattr(layer, attr)
            value = np.asarray(value)
            value = value.T if transpose else value
            if value.shape != target.shape:
                shape = target.shape[::-1] if transpose else target.shape
                raise ValueError(f"{name}[{i}] must have shape {shape}, got {np.shape(values[i])}")
            target[...] = value

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "network_")

    # -- the training run ---------------------------------------------------------------------
    def _make_optimizer(self):
        if self.solver == "adam":
            return _optimizers.Adam(self.learning_rate_init, betas=(self.beta_1, self.beta_2),
                                    eps=self.epsilon)
        return _optimizers.SGD(self.learning_rate_init, momentum=self.momentum,
                               nesterov=bool(self.nesterovs_momentum and self.momentum > 0))

    def _initialize(self, n_features, n_outputs, out_activation, dtype, rng) -> None:
        """A new network with scikit-learn's initialisation, and the attributes of a first fit.

        For each layer, weights W ~ U(−a, a) of shape (fan_in, fan_out) then biases
        b ~ U(−a, a), a = √(factor / (fan_in + fan_out)), factor 6 (2 for the logistic
        activation), drawn in float64 from ``rng`` in scikit-learn's order, so the same
        ``random_state`` gives scikit-learn's initial ``coefs_`` and ``intercepts_``.
        """
        hidden = self._activation_name()
        sizes = [n_features, *self._hidden_sizes(), n_outputs]
        with warnings.catch_warnings():
            # all-identity hidden layers: allowed, as in scikit-learn
            warnings.simplefilter("ignore", UserWarning)
            net = Network.from_sizes(sizes, hidden=hidden, output=out_activation, init="zeros",
                                     dtype=dtype)
        factor = 2.0 if hidden == "sigmoid" else 6.0
        for layer in net.layers:
            bound = np.sqrt(factor / (layer.n_in + layer.n_out))
            layer.W[...] = rng.uniform(-bound, bound, (layer.n_in, layer.n_out)).T
            layer.b[...] = rng.uniform(-bound, bound, layer.n_out)
        self.network_ = net
        self.n_outputs_ = n_outputs
        self.n_layers_ = len(sizes)
        self.out_activation_ = {"sigmoid": "logistic"}.get(out_activation, out_activation) \
            if isinstance(out_activation, str) else out_activation.name
        self.n_iter_ = 0
        self.t_ = 0
        self._best_params = net.params.copy() if self.early_stopping else None
        self._optimizer = None
        if self.solver != "lbfgs":
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

    def _fit(self, X, y, sample_weight=None, *, incremental=False, classes=None):
        self._check_params()
        if incremental and self.solver == "lbfgs":
            raise AttributeError("partial_fit is only available for stochastic optimizers. "
                                 "lbfgs is not stochastic.")
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        first = not hasattr(self, "network_") or not (self.warm_start or incremental)
        if incremental and classes is not None or incremental and not hasattr(self, "network_"):
            self._partial_fit_classes(classes, y)
        X, y = validate_data(self, X, y, reset=first, multi_output=True,
                             dtype=(np.float64, np.float32), y_numeric=self._y_numeric)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        dtype = self._np_dtype(X.dtype) if first else self.network_.dtype
        X = X.astype(dtype, copy=False)
        y_net, loss, out_activation, n_outputs = self._encode(y, dtype, first=first,
                                                              incremental=incremental)
        sw = self._sample_weight(sample_weight, X, y)
        if sw is not None and np.any(sw == 0):
            # a zero weight removes the row (scikit-learn's meaning of sample weights), also
            # from the mini-batches
            keep = sw > 0
            X, y, y_net, sw = X[keep], y[keep], y_net[keep], sw[keep]
        rng = check_random_state(self.random_state)
        if first:
            self._initialize(X.shape[1], n_outputs, out_activation, dtype, rng)
        elif n_outputs != self.n_outputs_:
            raise ValueError(f"y has {n_outputs} output(s) but the fitted network has "
                             f"{self.n_outputs_}; fit with warm_start=False to start again")
        try:
            if self.solver == "lbfgs":
                self._fit_lbfgs(X, y_net, loss, sw)
            else:
                self._fit_stochastic(X, y, y_net, loss, sw, rng, first=first, incremental=incremental)
        except TrainingDiverged as exc:
            raise ValueError("Solver produced non-finite parameter weights. The input data may "
                             f"contain large values and need to be preprocessed. ({exc})") from exc
        if not np.all(np.isfinite(self.network_.params)):
            raise ValueError("Solver produced non-finite parameter weights. The input data may "
                             "contain large values and need to be preprocessed.")
        return self

    def _fit_stochastic(self, X, y, y_net, loss, sw, rng, *, first, incremental):
        n = X.shape[0]
        validation = None
        if self.early_stopping and getattr(self, "validation_scores_", None) is None:
            # early stopping switched on for a warm start: scikit-learn's attributes of a first fit
            self.validation_scores_, self.best_validation_score_, self.best_loss_ = [], -np.inf, None
            self._best_params = self.network_.params.copy()
        elif not self.early_stopping and getattr(self, "best_loss_", None) is None:
            self.best_loss_, self.validation_scores_, self.best_validation_score_ = np.inf, None, None
            self._no_improvement_count = 0
        if not hasattr(self, "loss_curve_"):                # after an lbfgs fit, warm-started
            self.loss_curve_, self._no_improvement_count = [], 0
        if self.early_stopping:
            # scikit-learn's split: the same random stream, drawn after the initial weights
            stratify = y if is_classifier(self) and self.n_outputs_ == 1 else None
            idx_train, idx_val = train_test_split(np.arange(n), test_size=self.validation_fraction,
                                                  stratify=stratify, random_state=rng)
            if idx_val.size < 2:
                raise ValueError("The validation set is too small. Increase 'validation_fraction' "
                                 "or the size of your dataset.")
            validation = (X[idx_val], y[idx_val], None if sw is None else sw[idx_val])
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
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going "
                              "to be clipped", UserWarning, stacklevel=4)
            batch_size = n
        optimizer = self._optimizer
        wanted = _optimizers.Adam if self.solver == "adam" else _optimizers.SGD
        if optimizer is None or type(optimizer) is not wanted:
            optimizer = self._optimizer = self._make_optimizer()
            self.network_.train_state = None
        elif not incremental and not (self.solver == "sgd" and self.learning_rate != "constant"):
            optimizer.lr = self.learning_rate_init    # honour set_params between fits
        # shuffling: a new stream from random_state on a first fit (after the initial weights and
        # the split, as scikit-learn); a warm start or partial_fit carries the network's stream on
        seed = int(rng.randint(_MAX_SEED)) if self.network_.train_state is None else None
        epoch_rules = _SklearnEpoch(self, optimizer, n, validation)
        self.n_iter_ = 0
        with warnings.catch_warnings():
            # mlp's own advice ("loss still falling", "scale the inputs") is not scikit-learn's
            # behaviour; reaching max_iter is said below as its ConvergenceWarning
            warnings.simplefilter("ignore", TrainingWarning)
            history = self.network_.fit(
                X, y_net, loss=loss, optimizer=optimizer, epochs=1 if incremental else self.max_iter,
                batch_size=batch_size, shuffle=self.shuffle, seed=seed,
                weight_decay=self.alpha / (batch_size * sw_mean), sample_weight=sw,
                callbacks=[epoch_rules], progress=False, relu_care=False)
        if history.stop_reason == "interrupted":
            warnings.warn("Training interrupted by user.", UserWarning, stacklevel=4)
        if self.early_stopping:
            self.network_.params = self._best_params          # the best validation score's
        if not incremental and not epoch_rules.stopped and self.n_iter_ == self.max_iter:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                          "optimization hasn't converged yet.", ConvergenceWarning, stacklevel=4)

    def _fit_lbfgs(self, X, y_net, loss, sw):
        """SciPy's L-BFGS-B on the whole data set, as scikit-learn's ``solver="lbfgs"``."""
        import scipy.optimize
        from sklearn.utils.optimize import _check_optimize_result

        net = self.network_
        sw_sum = X.shape[0] if sw is None else float(sw.sum())
        sw = None if sw is None else sw * (X.shape[0] / sw_sum)      # mean 1: Σ wᵢ lossᵢ / Σ wᵢ
        n_w = sum(layer.n_out * layer.n_in for layer in net.layers)  # weights come first
        decay = self.alpha / sw_sum

        def loss_and_grad(theta):
            net.params = theta.astype(net.dtype, copy=False)
            value = net.loss_and_grad(X, y_net, loss, sw)
            w = theta[:n_w]
            grad = net.grads.astype(np.float64)
            grad[:n_w] += decay * w
            return value + 0.5 * decay * float(np.dot(w, w)), grad

        result = scipy.optimize.minimize(
            loss_and_grad, net.params.astype(np.float64), method="L-BFGS-B", jac=True,
            options={"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol})
        self.n_iter_ = _check_optimize_result("lbfgs", result, self.max_iter)
        self.loss_ = float(result.fun)
        net.params = result.x.astype(net.dtype)

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
        """ŷ of the network for X, of shape (n, n_outputs_).

        Computed in the precision of X and the parameters together, as scikit-learn
        (float32 X on a float32 network: float32; anything with float64: float64).
        """
        check_is_fitted(self)
        h = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        dtype = np.result_type(h.dtype, self.network_.dtype)
        h = h.astype(dtype, copy=False)
        for layer in self.network_.layers:
            h = layer.activation(h @ layer.W.T.astype(dtype, copy=False)
                                 + layer.b.astype(dtype, copy=False))
        return h

    # -- pickling: the parameters and the training state, not the last batch's caches --------
    def __getstate__(self):
        """The state to pickle: the network as its layer sizes, activations, flat parameters
        and training state (optimiser moments, History, random stream — an exact warm start
        after loading), without the gradients, the layers' caches of the last batch, the
        per-layer views (pickle would store each as an array of its own) or scratch buffers."""
        state = dict(super().__getstate__())
        opt = state.get("_optimizer")
        lean_opt = None
        if opt is not None:
            lean_opt = copy.copy(opt)
            lean_opt._tmp = None                       # a scratch buffer, rebuilt on the next step
            state["_optimizer"] = lean_opt
        net = state.get("network_")
        if net is not None:
            extra = {k: v for k, v in vars(net).items()
                     if k not in ("layers", "_params", "_grads", "_workspaces")}
            train_state = extra.get("train_state")
            if train_state is not None and opt is not None and train_state.optimizer is opt:
                extra["train_state"] = copy.copy(train_state)
                extra["train_state"].optimizer = lean_opt      # still one object after loading
            activations = [layer.activation for layer in net.layers]
            state["network_"] = _PickledNetwork(net.sizes, activations[0], activations[-1],
                                                net.params.copy(), extra)
        return state

    def __setstate__(self, state):
        net = state.get("network_")
        if isinstance(net, _PickledNetwork):
            state = {**state, "network_": net.build()}
        super().__setstate__(state)


class _PickledNetwork:
    """A fitted estimator's network as it is pickled (see ``_BaseMLP.__getstate__``)."""

    def __init__(self, sizes, hidden, output, params, extra):
        self.sizes, self.hidden, self.output, self.params, self.extra = sizes, hidden, output, params, extra

    def build(self) -> Network:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)        # all-identity hidden layers
            net = Network.from_sizes(self.sizes, hidden=self.hidden, output=self.output,
                                     init="zeros", dtype=self.params.dtype)
        net.params = self.params
        net.__dict__.update(self.extra)
        return net


_PARAMETERS_DOC = """
    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default (100,)
        Neurons per hidden layer.
    activation : {"relu", "logistic", "tanh", "identity", "sigmoid", "leaky_relu", "softplus"}
        σ of the hidden layers ("logistic" is scikit-learn's name for "sigmoid").
    solver : {"adam", "sgd", "lbfgs"}, default "adam"
        "lbfgs" is SciPy's L-BFGS-B on the whole data set (``max_iter`` iterations,
        ``max_fun`` loss evaluations, ``tol`` on the gradient).
    alpha : float, default 1e-4
        L2 penalty ``α/(2 Σ_batch wᵢ) ‖W‖²`` on the weights (not the biases), as scikit-learn.
    batch_size : int or "auto", default "auto"
        Mini-batch size; "auto" is ``min(200, n_samples)``.
    learning_rate : {"constant", "invscaling", "adaptive"}, default "constant"
        Learning-rate mode for ``solver="sgd"`` (ignored by Adam).
    learning_rate_init : float, default 1e-3
    power_t : float, default 0.5
        Exponent of "invscaling": ``η_t = η₀ / (t + 1)^power_t``, t = samples seen.
    max_iter : int, default 200
        Maximum number of epochs (L-BFGS iterations for "lbfgs").
    shuffle : bool, default True
    random_state : int, RandomState or None
        Seeds the initial weights (scikit-learn's draws exactly), the validation split
        and the shuffling.
    tol : float, default 1e-4
    verbose : bool, default False
        Print scikit-learn's progress lines: ``Iteration N, loss = …`` per epoch
        (and ``Validation score: …`` with ``early_stopping``).
    warm_start : bool, default False
        Continue from the fitted network (and its optimiser state) on the next ``fit``.
    momentum : float, default 0.9
    nesterovs_momentum : bool, default True
    early_stopping : bool, default False
        Hold out ``validation_fraction`` (stratified for single-output classifiers),
        stop when the validation score has not improved by ``tol`` for
        ``n_iter_no_change`` epochs, and keep the best parameters.
    validation_fraction : float, default 0.1
    beta_1, beta_2, epsilon : float
        Adam's β₁, β₂ and ε.
    n_iter_no_change : int, default 10
    max_fun : int, default 15000
        Most loss evaluations of "lbfgs".
    dtype : {None, "float32", "float64"}, default None
        Precision of the network; None follows the input as scikit-learn does
        (float32 ``X`` → float32, anything else → float64). mlp extension.
"""

_ATTRIBUTES_DOC = """
    Attributes
    ----------
    network_ : mlp.Network
        The trained network (``W`` of shape (n_out, n_in) per layer).
    coefs_ : list of ndarray of shape (n_in, n_out)
        scikit-learn's orientation: ``coefs_[i]`` is a view of ``network_.layers[i].W.T``.
    intercepts_ : list of ndarray of shape (n_out,)
    loss_ : float
        The last epoch's loss (mean of its batch losses, L2 penalty included), on
        scikit-learn's scale; for "lbfgs" the final loss.
    loss_curve_ : list of float
        ``loss_`` of every epoch, across warm starts and ``partial_fit`` calls.
    best_loss_ : float or None
        Smallest ``loss_`` so far (None with ``early_stopping``).
    validation_scores_ : list of float or None
        Validation score per epoch with ``early_stopping``, else None.
    best_validation_score_ : float or None
    n_iter_ : int
        Epochs run by the last ``fit`` (1 after ``partial_fit``), as scikit-learn.
    t_ : int
        Training samples seen, over all calls.
    n_features_in_, n_outputs_, n_layers_ : int
    out_activation_ : str
    feature_names_in_ : ndarray
        Only when X had string column names.
"""


class MLPClassifier(ClassifierMixin, _BaseMLP):
    __doc__ = """Multi-layer perceptron classifier: an mlp ``Network`` behind scikit-learn's API.

    Hidden layers ``h = σ(W x + b)`` (``activation``), then a softmax output layer
    trained with cross-entropy for several classes, one sigmoid output with binary
    cross-entropy for two classes, and one sigmoid per label for multilabel
    targets — scikit-learn's MLPClassifier, parameter for parameter (see the module
    docstring for what mlp adds).
    """ + _PARAMETERS_DOC + """    class_weight : dict, "balanced" or None
        Weights per class, multiplied into ``sample_weight`` (mlp extension).
    """ + _ATTRIBUTES_DOC + """    classes_ : ndarray of shape (n_classes,)
    """

    _y_numeric = False

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False,
                 warm_start=False, momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 n_iter_no_change=10, max_fun=15000, dtype=None, class_weight=None):
        self._set_params_from(locals())

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

    def _encode(self, y, dtype, *, first, incremental):
        """Targets for the network: class indices (softmax), 0/1 columns (sigmoid)."""
        check_classification_targets(y)
        if first and not incremental:
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
        elif not incremental and self.warm_start:
            if set(unique_labels(y)) != set(self.classes_):
                raise ValueError(f"warm_start can only be used where `y` has the same classes as in "
                                 f"the previous call to fit. Previously got {self.classes_}, `y` has "
                                 f"{unique_labels(y)}")
        elif incremental and not self._label_binarizer.y_type_.startswith("multilabel"):
            unseen = np.setdiff1d(unique_labels(y), self.classes_)
            if unseen.size:
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has "
                                 f"{self.classes_}. 'y' has {unique_labels(y)}.")
        lb = self._label_binarizer
        if len(self.classes_) < 2:
            raise ValueError(f"MLPClassifier needs samples of at least 2 classes; got 1 class "
                             f"({self.classes_[0]!r})")
        if lb.y_type_.startswith("multilabel"):
            return lb.transform(y).astype(dtype), _LogLoss(), "sigmoid", len(self.classes_)
        if len(self.classes_) == 2:
            return (y == self.classes_[1]).astype(dtype)[:, None], _LogLoss(), "sigmoid", 1
        return np.searchsorted(self.classes_, y), _losses.CrossEntropy(), "softmax", len(self.classes_)

    def _class_weight(self, sw, y):
        if self.class_weight is None:
            return sw
        cw = compute_sample_weight(self.class_weight, y)
        return cw if sw is None else sw * cw

    def _score_network(self, X, y, sample_weight) -> float:
        """Validation accuracy (during training, for early stopping), weighted as scikit-learn."""
        return accuracy_score(y, self._labels(self.network_(X)), sample_weight=sample_weight)

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
        """Class probabilities, ndarray of shape (n_samples, n_classes)."""
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
    __doc__ = """Multi-layer perceptron regressor: an mlp ``Network`` behind scikit-learn's API.

    Hidden layers ``h = σ(W x + b)``, an identity output layer ``ŷ = W h + b`` trained
    on scikit-learn's half squared error (or, with ``loss="poisson"``, an exp output
    layer on the half Poisson deviance) — scikit-learn's MLPRegressor, parameter for
    parameter. Early stopping uses the validation R². ``predict`` returns shape
    (n_samples,) for a 1-D y and (n_samples, n_outputs) otherwise.

    Parameters
    ----------
    loss : {"squared_error", "poisson"}, default "squared_error"
        ½ · mean (ŷ − y)², or the half Poisson deviance with ŷ = eᶻ (needs y ≥ 0).
    """ + _PARAMETERS_DOC.split("----------\n", 1)[1] + _ATTRIBUTES_DOC

    _y_numeric = True

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *,
                 solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True, random_state=None,
                 tol=1e-4, verbose=False, warm_start=False, momentum=0.9, nesterovs_momentum=True,
                 early_stopping=False, validation_fraction=0.1, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, n_iter_no_change=10, max_fun=15000, dtype=None):
        self._set_params_from(locals())

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _check_params(self) -> None:
        if self.loss not in _REGRESSION_LOSSES:
            raise ValueError(f"loss must be one of {', '.join(map(repr, _REGRESSION_LOSSES))}, "
                             f"got {self.loss!r}")
        super()._check_params()

    def _partial_fit_classes(self, classes, y):
        pass

    def _encode(self, y, dtype, *, first, incremental):
        y2 = (y.reshape(-1, 1) if y.ndim == 1 else y).astype(dtype)
        if not np.all(np.isfinite(y2)):
            raise ValueError("y contains NaN or infinite values")
        if self.loss == "poisson":
            if np.any(y2 < 0):
                raise ValueError("loss='poisson' needs y ≥ 0")
            return y2, _PoissonLoss(), _Exp(), y2.shape[1]
        return y2, _SquaredError(), "identity", y2.shape[1]

    def _score_network(self, X, y, sample_weight) -> float:
        """Validation R² (during training, for early stopping), weighted as scikit-learn."""
        y_hat = self.network_(X)
        return r2_score(y, y_hat[:, 0] if y.ndim == 1 else y_hat, sample_weight=sample_weight)

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
        """ŷ, of shape (n_samples,) or (n_samples, n_outputs)."""
        y_hat = self._predict_network(X)
        return y_hat[:, 0] if self.n_outputs_ == 1 else y_hat
