"""Imports flow one way: activations, losses, init → layers → network (which imports its
trainer, mlp.training); the teaching aids and adapters import the core, never the reverse."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "mlp"
CORE_ORDER = ["_registry", "_validation", "activations", "losses", "init", "layers", "_fast", "network"]
#: Network imports its trainer at the top (as Keras' Model its Trainer); training imports no core
#: module above it (tests/test_architecture.py's successor is `lint-imports`, see pyproject.toml).
ALSO = {"network": {"training", "errors"}}
OUTSIDE = {"symbolic", "plots", "cli", "sklearn", "interop", "io", "demo", "xor_story",
           "diagnostics", "exercises", "data"}


def mlp_imports(module: str) -> set[str]:
    """Names of mlp modules imported at the top level of ``module`` (not inside functions)."""
    tree = ast.parse((SRC / f"{module}.py").read_text())
    found = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("i, module", list(enumerate(CORE_ORDER)))
def test_core_imports_only_lower_core_modules(i, module):
    allowed = set(CORE_ORDER[:i]) | ALSO.get(module, set())
    assert mlp_imports(module) <= allowed, f"{module} imports {mlp_imports(module) - allowed}"


def test_no_core_module_imports_the_teaching_aids_or_adapters():
    for module in CORE_ORDER:
        assert not (mlp_imports(module) & OUTSIDE), module


def test_training_imports_nothing_above_it():
    for path in (SRC / "training").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 2 and node.module:
                assert node.module.split(".")[0] not in {"network", "layers", "io", "cli"} | OUTSIDE - {
                    "diagnostics"}, (path.name, node.module)
