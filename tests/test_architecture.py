"""Imports go down only: the layers contract of pyproject.toml, checked by import-linter.

`make test` runs `lint-imports` (Makefile `lint`); this test runs the same contracts from
pytest, so that `pytest` alone catches an import that goes up (import-linter reads imports
inside functions too). It also keeps what import-linter does not check: no module imports
mlp's own modules inside a function (only optional third-party libraries are imported there).

"""

import ast
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")     # Python 3.11+

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "mlp"


def _contracts() -> list[dict]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def test_the_layers_contract_covers_every_module_and_is_exhaustive():
    main = _contracts()[0]
    assert main["type"] == "layers" and main["containers"] == ["mlp"] and main["exhaustive"]
    named = {m.strip(" ()") for layer in main["layers"] for m in layer.split("|")}
    modules = {p.stem for p in SRC.glob("*.py") if p.stem != "__init__"}
    modules |= {p.parent.name for p in SRC.glob("*/__init__.py")}
    assert modules <= named, f"place {sorted(modules - named)} in a layer of pyproject.toml"


def test_lint_imports_keeps_every_contract(capsys):
    cli = pytest.importorskip("importlinter.cli")
    code = cli.lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)
    assert code == 0, capsys.readouterr().out


def test_no_function_imports_mlps_own_modules():
    found = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.ImportFrom) and (inner.level > 0 or (inner.module or "")
                                                              .split(".")[0] == "mlp"):
                        found.append(f"{path.relative_to(SRC)}:{inner.lineno}")
                    if isinstance(inner, ast.Import) and any(a.name.split(".")[0] == "mlp"
                                                             for a in inner.names):
                        found.append(f"{path.relative_to(SRC)}:{inner.lineno}")
    assert not found, f"imports of mlp's own modules inside functions: {found}"
