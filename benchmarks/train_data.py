"""Training data for the training benchmarks: SFT rows and pairs built from a task suite's reference programs.

chosen = the reference program; rejected = a plausible wrong answer of about the same length: a python program
with its last `return` changed to return None, a SQL query with its rows cut to none (`LIMIT 0`). Rows follow
docs/stages.md "Prompts".
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from codekiln.errors import UserError
from codekiln.records import Task
from codekiln.sample.prompts import build_messages, reference_program, render_reply
from codekiln.tasks import load_tasks


def python_tasks(limit: int, split: str = "train") -> tuple[str, list[Task]]:
    """Tasks with a reference: python-basic's train split when that suite is installed, else HumanEval."""
    for suite, wanted in (("python-basic", split), ("humaneval", None)):
        try:
            tasks = [t for t in load_tasks(suite, split=wanted) if t.reference]
        except (UserError, OSError):
            continue
        if tasks:
            return suite, tasks[:limit]
    raise SystemExit("no python suite with reference solutions is available")


def suite_tasks(suite: str, limit: int, split: str = "train") -> tuple[str, list[Task]]:
    """`limit` tasks with a reference from `suite`'s split (python-basic: HumanEval when it is not installed)."""
    if suite == "python-basic":
        return python_tasks(limit, split)
    tasks = [t for t in load_tasks(suite, split=split) if t.reference]
    if not tasks:
        raise SystemExit(f"{suite} has no {split} tasks with a reference")
    return suite, tasks[:limit]


def broken(code: str, kind: str = "python") -> str:
    if kind == "sql":
        return code.rstrip().rstrip(";") + " LIMIT 0;\n"
    lines = code.rstrip().splitlines()
    for i in range(len(lines) - 1, -1, -1):
        match = re.match(r"(\s*)return\b", lines[i])
        if match:
            lines[i] = f"{match.group(1)}return None"
            break
    return "\n".join(lines) + "\n"


def write_training_data(folder: Path, tasks: list[Task]) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    sft, pairs = [], []
    for task in tasks:
        good = reference_program(task)
        prompt = build_messages(task)
        chosen = [{"role": "assistant", "content": render_reply(task, good)}]
        rejected = [{"role": "assistant", "content": render_reply(task, broken(good, task.kind))}]
        sft.append({"prompt": prompt, "completion": chosen})
        pairs.append({"prompt": prompt, "chosen": chosen, "rejected": rejected, "margin": 1.0, "source": "bench"})
    (folder / "sft.jsonl").write_text("".join(json.dumps(r) + "\n" for r in sft), encoding="utf-8")
    (folder / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in pairs), encoding="utf-8")
    return folder / "sft.jsonl", folder / "pairs.jsonl"
