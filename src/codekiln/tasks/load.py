"""Resolve a `--tasks` argument: a built-in suite (`NAME` or `NAME:SPLIT`), a codekiln task file, or HumanEval."""

from __future__ import annotations

from pathlib import Path

from codekiln.errors import RecordError, UserError
from codekiln.records import SPLITS, Task, from_dict, iter_json_lines
from codekiln.tasks.humaneval import is_humaneval_record, task_from_humaneval
from codekiln.tasks.suites import SUITES, load_suite


def read_task_file(path: str | Path) -> list[Task]:
    """Read codekiln task JSONL, or HumanEval-format JSONL (detected per line), `.jsonl` or `.jsonl.gz`."""
    tasks: list[Task] = []
    seen: set[str] = set()
    for number, obj in iter_json_lines(path):
        try:
            task = task_from_humaneval(obj) if isinstance(obj, dict) and is_humaneval_record(obj) else from_dict(Task, obj)
        except (TypeError, ValueError, KeyError) as err:
            raise RecordError(f"{path}:{number}: not a valid Task: {err}") from None
        if task.task_id in seen:
            raise RecordError(f"{path}:{number}: duplicate task_id {task.task_id!r}")
        seen.add(task.task_id)
        tasks.append(task)
    if not tasks:
        raise UserError(f"{path}: holds no tasks")
    return tasks


def load_tasks(spec: str, split: str | None = None) -> list[Task]:
    """Tasks named by `spec`, optionally only one split (`suite:split` in the spec also selects one)."""
    if spec in SUITES or (":" in spec and spec.split(":", 1)[0] in SUITES):
        name, _, spec_split = spec.partition(":")
        tasks = list(load_suite(name))
        split = spec_split or split
    elif Path(spec).exists():
        tasks = read_task_file(spec)
    else:
        raise UserError(
            f"--tasks {spec!r} is neither a file nor a built-in suite; choose a suite from {sorted(SUITES)} "
            "(optionally NAME:train or NAME:test) or give a path to a .jsonl(.gz) task file"
        )
    if split:
        if split not in SPLITS:
            raise UserError(f"unknown split {split!r}; choose from {list(SPLITS)}")
        tasks = [t for t in tasks if t.split == split]
        if not tasks:
            raise UserError(f"--tasks {spec!r} has no tasks in split {split!r}")
    return tasks
