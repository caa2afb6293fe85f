"""pytest configuration at the root: doctests run over src/mlp (see pyproject.toml)."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")

# `python -m mlp` runs the CLI on import; it has no doctests.
collect_ignore = ["src/mlp/__main__.py"]
