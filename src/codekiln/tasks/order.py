"""Task order of built-in suites: a round-robin over groups, so any prefix covers every group."""

from __future__ import annotations

from codekiln.records import Task


def interleave(tasks: list[Task], key: str) -> list[Task]:
    """Round-robin over `task.meta[key]` groups, so the first N tasks (`--limit`, `train_limit`) cover all of them."""
    groups: dict[str, list[Task]] = {}
    for task in tasks:
        groups.setdefault(task.meta[key], []).append(task)
    out: list[Task] = []
    for i in range(max((len(g) for g in groups.values()), default=0)):
        out.extend(g[i] for g in groups.values() if i < len(g))
    return out
