"""SFT rows (UICoder's refined dataset): the good programs that survived curation, capped per task."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from codekiln.records import SFTRow, Task
from codekiln.sample.prompts import build_messages, render_reply


def sft_row(task: Task, code: str, meta: dict[str, Any]) -> SFTRow:
    """A conversational prompt-completion row: the task's chat prompt and the canonical reply for `code`."""
    return SFTRow(
        prompt=build_messages(task),
        completion=[{"role": "assistant", "content": render_reply(task, code)}],
        meta=meta,
    )


def cap_per_task(ranked: Sequence[Any], cap: int) -> tuple[list[Any], list[Any]]:
    """Split one task's candidates (best first) into the first `cap` (kept) and the rest (capped away)."""
    if cap < 0:
        return list(ranked), []
    return list(ranked[:cap]), list(ranked[cap:])
