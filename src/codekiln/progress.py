"""Progress bars (rich) for long stages; `quiet=True` silences them. One place so every stage looks alike.

`codekiln --json COMMAND` (`set_json`) turns everything this module shows into JSON lines on stderr for scripts and
CI: `stage_start`, `progress` (at most one a second, and the last), `stage_end` for each bar, with done, total,
elapsed_s, eta_s and the bar's note (tokens/s, loss); `message` for every console line; `error` for a user error.
"""

from __future__ import annotations

import io
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def emit(event: str, **fields: Any) -> None:
    """One JSON line on stderr (`--json` mode)."""
    sys.stderr.write(json.dumps({"event": event, "time": round(time.time(), 3), **fields}, default=str) + "\n")
    sys.stderr.flush()


class EventConsole(Console):
    """rich's Console on stderr; in JSON mode each `print` is one `message` event with the plain text."""

    json_mode = False

    def print(self, *objects: Any, **kwargs: Any) -> None:  # type: ignore[override]
        if not self.json_mode:
            super().print(*objects, **kwargs)
            return
        plain = Console(file=io.StringIO(), width=160, color_system=None, force_terminal=False)
        plain.print(*objects, **{k: v for k, v in kwargs.items() if k in ("sep", "end", "markup")})
        emit("message", text=plain.file.getvalue().rstrip("\n"))  # type: ignore[attr-defined]


console = EventConsole(stderr=True)


def say(text: str) -> None:
    """A command's closing line on stderr as it is (a `message` event in JSON mode)."""
    if EventConsole.json_mode:
        emit("message", text=text)
    else:
        print(text, file=sys.stderr)


def set_json(on: bool = True) -> None:
    """JSON lines instead of bars and styled text, for the rest of this process."""
    EventConsole.json_mode = on


class JsonBar:
    """The `Bar` of JSON mode: events instead of a drawn bar."""

    def __init__(self, stage: str, total: int | None, completed: int) -> None:
        self.stage, self.total, self.done, self.note_text = stage, total, completed, ""
        self.start = self.last = time.monotonic()
        emit("stage_start", stage=stage, total=total, done=completed)

    def _fields(self) -> dict[str, Any]:
        elapsed = time.monotonic() - self.start
        rate = self.done / elapsed if elapsed > 0 and self.done else 0.0
        eta = (self.total - self.done) / rate if rate and self.total is not None else None
        return {"stage": self.stage, "done": self.done, "total": self.total, "elapsed_s": round(elapsed, 2),
                "eta_s": None if eta is None else round(eta, 1), "note": self.note_text}

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.last >= 1.0 or self.done == self.total:
            self.last = now
            emit("progress", **self._fields())

    def note(self, text: str) -> None:
        self.note_text = text

    def end(self) -> None:
        emit("stage_end", **self._fields())


class Bar:
    """A progress bar handle: `advance(n)` and `note(text)` (a short live status such as tokens/s)."""

    def __init__(self, progress: Progress | None, task_id: int | None) -> None:
        self._progress = progress
        self._task = task_id

    def advance(self, n: int = 1) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, n)

    def note(self, text: str) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, note=text)


@contextmanager
def progress_bar(description: str, total: int | None, quiet: bool = False, completed: int = 0) -> Iterator[Bar]:
    """A bar on stderr for `total` items, starting at `completed` (work resumed from an earlier run)."""
    if quiet:
        yield Bar(None, None)
        return
    if EventConsole.json_mode:
        bar = JsonBar(description, total, completed)
        try:
            yield bar  # type: ignore[misc]
        finally:
            bar.end()
        return
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[note]}"),
        console=console,
        transient=False,
    )
    with progress:
        task_id = progress.add_task(description, total=total, completed=completed, note="")
        yield Bar(progress, task_id)
