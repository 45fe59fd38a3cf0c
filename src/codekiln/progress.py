"""Progress bars (rich) for long stages; `quiet=True` silences them. One place so every stage looks alike."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

console = Console(stderr=True)


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
