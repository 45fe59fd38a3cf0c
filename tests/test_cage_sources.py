"""What runs inside the cage stays standard-library only: plain.py and sandbox_worker.py are sent as source into the
sandbox (one script), and the harnesses built from functions' sources (sql's run_select, pandas' runner) run there too;
an import of anything outside the standard library would fail there, not here where the package is installed."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import codekiln.verify as verify

CAGE_FILES = ["plain.py", "sandbox_worker.py"]


def imported_modules(source: str) -> set[str]:
    """Top-level names of every module a source imports, wherever the import sits (functions included), except
    under `if "NAME" not in globals():`, the worker's host-only import of what plain.py's source defines in the cage."""
    names: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "not in globals()" in ast.unparse(node.test):
            return
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    return names


@pytest.mark.parametrize("name", CAGE_FILES)
def test_sources_sent_into_the_cage_import_the_standard_library_only(name):
    source = (Path(verify.__file__).parent / name).read_text(encoding="utf-8")
    outside = imported_modules(source) - set(sys.stdlib_module_names) - {"__future__"}
    assert outside == set(), f"{name} imports {sorted(outside)}, which the sandbox does not have"


def test_harnesses_built_from_function_sources_import_the_standard_library_only():
    from codekiln.verify.pandas import HARNESS
    from codekiln.verify.sql import HARNESS_FUNCTION

    for source in (HARNESS_FUNCTION, HARNESS):
        outside = imported_modules(source) - set(sys.stdlib_module_names) - {"pandas", "numpy"}
        assert outside == set(), sorted(outside)  # pandas tasks run pandas in the cage by design, nothing else


def test_the_check_sees_a_non_stdlib_import():
    assert imported_modules("import json\ndef f():\n    from codekiln.records import Task\n") == {"json", "codekiln"}
    assert imported_modules("if 'x' not in globals():\n    from codekiln.verify.plain import x\n") == set()
