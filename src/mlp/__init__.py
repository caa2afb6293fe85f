"""mlp — multi-layer neural networks in NumPy, exact to the lecture.

``z = W x + b``, ``h = σ(z)``, any depth; losses, backpropagation, gradient
checks, the linear collapse. ``import mlp`` needs NumPy alone: plotting,
symbolic algebra, scikit-learn and PyTorch are imported only by the functions
that use them.
"""

from . import (  # plots/symbolic: lazy extras
    activations,
    callbacks,
    datasets,
    init,
    losses,
    optimizers,
    plots,
    schedules,
    symbolic,
    training,
)
from ._fast import fast_paths
from ._version import __version__
from .activations import Activation
from .collapse import collapse, linear_baseline
from .diagnostics import diagnose
from .errors import TrainingDiverged, TrainingWarning
from .exercises import check_activation, check_layer
from .gradcheck import GradCheck, gradcheck
from .history import History
from .io import load, load_checkpoint, save
from .layers import Dense
from .losses import MSE, BinaryCrossEntropy, CrossEntropy, Loss
from .network import LayerTrace, Network, ParamTrace, Trace

__all__ = [
    "Activation", "BinaryCrossEntropy", "CrossEntropy", "Dense", "GradCheck", "LayerTrace",
    "Loss", "MSE", "Network", "Trace", "activations", "collapse", "datasets", "gradcheck",
    "init", "linear_baseline", "losses", "__version__", "load", "load_checkpoint", "save",
    "ParamTrace", "check_activation", "check_layer", "diagnose", "plots", "symbolic",
    "fast_paths", "callbacks", "optimizers", "schedules", "training", "History", "TrainingDiverged",
    "TrainingWarning",
]
