"""The layout of the command line and the model-file modules: one module per command, short
functions, imports of mlp's own modules at the top only (issue 12)."""

import ast
from pathlib import Path

import pytest

import mlp.cli

SRC = Path(__file__).resolve().parents[1] / "src" / "mlp"
MODULES = sorted([*(SRC / "cli").glob("*.py"),
                  *(SRC / name for name in ("io.py", "_model_file.py", "_safetensors.py",
                                            "_state_codec.py", "xor_story.py", "demo.py", "data.py",
                                            "_targets.py"))])


def _code_lines(node) -> int:
    """Lines of a function without its docstring."""
    n = node.end_lineno - node.lineno + 1
    first = node.body[0]
    if isinstance(first, ast.Expr) and isinstance(getattr(first.value, "value", None), str):
        n -= first.end_lineno - first.lineno + 1
    return n


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.relative_to(SRC).as_posix())
def test_short_functions_and_modules(path):
    text = path.read_text()
    assert len(text.splitlines()) <= 500
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            assert _code_lines(node) <= 120, f"{node.name} has {_code_lines(node)} lines"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.relative_to(SRC).as_posix())
def test_mlp_modules_are_imported_at_the_top(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.ImportFrom):
                assert inner.level == 0 and not (inner.module or "").startswith("mlp"), \
                    f"{node.name} imports {inner.module} inside a function"
            if isinstance(inner, ast.Import):
                assert not any(a.name.split(".")[0] == "mlp" for a in inner.names), node.name


def test_one_module_per_command(capsys):
    names = []
    for module in mlp.cli.COMMANDS:
        assert callable(module.add_parser) and callable(module.run), module.__name__
        names.append(module.__name__.rsplit(".", 1)[1])
    assert names == ["train", "predict", "evaluate", "info", "export", "convert", "datasets", "xor", "demo",
                     "playground"]
    parser = mlp.cli.build_parser()
    help_text = parser.format_help()
    for name in names:
        assert f"    {name} " in help_text or f"    {name}\n" in help_text
