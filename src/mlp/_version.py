"""The package version, in one place (read by ``mlp.__version__`` and written into model files)."""

__version__ = "0.1.0"
