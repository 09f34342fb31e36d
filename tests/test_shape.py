"""The package's shape holds: no module over 400 lines, no function over 60 (tables are data, not code)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "ckptkit"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_module_is_over_400_lines():
    long = {
        str(p.relative_to(PACKAGE)): n for p in _modules() if (n := len(p.read_text().splitlines())) > 400
    }
    assert not long, f"split these modules along their jobs: {long}"


def test_no_function_is_over_60_lines():
    long = {}
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}"] = lines
    assert not long, f"split these functions: {long}"


def test_every_module_declares_its_public_names():
    missing = [
        str(p.relative_to(PACKAGE))
        for p in _modules()
        if p.name not in ("__init__.py", "__main__.py") and "__all__" not in p.read_text()
    ]
    assert not missing, f"give these modules an explicit __all__: {missing}"


def test_the_reader_and_the_cli_import_no_tensorflow_widgets_or_plots():
    for path in [*sorted((PACKAGE / "files").glob("*.py")), PACKAGE / "__main__.py", PACKAGE / "errors.py"]:
        tree = ast.parse(path.read_text())
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        heavy = {
            m for m in imported if m.split(".")[0] in ("tensorflow", "keras", "ipywidgets", "matplotlib")
        }
        assert not heavy, f"{path.relative_to(PACKAGE)} imports {heavy}"
