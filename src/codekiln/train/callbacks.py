"""Trainer callbacks: the JSONL training log and the rich progress bar."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from codekiln.progress import progress_bar
from codekiln.records import JsonlAppender


def truncate_log(path: Path, last_step: int) -> None:
    """Drop log lines written after the checkpoint a run resumes from (they will be written again)."""
    if not path.exists():
        return
    keep = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a torn last line from a kill
        if record.get("step", 0) <= last_step:
            keep.append(line)
    path.write_text("".join(f"{line}\n" for line in keep), encoding="utf-8")


class JsonlLog(TrainerCallback):
    """Appends every log event (loss, rewards/margins, accuracy, lr, tokens/s) to train_log.jsonl."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._last: tuple[float, float] | None = None

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        record = {"step": state.global_step, "epoch": state.epoch, **(logs or {})}
        tokens = record.get("num_tokens")
        now = time.perf_counter()
        if tokens is not None and "loss" in record:
            if self._last is not None and now > self._last[1]:
                record["tokens_per_s"] = (tokens - self._last[0]) / (now - self._last[1])
            self._last = (tokens, now)
        with JsonlAppender(self.path) as out:
            out.append(record)


class RichProgress(TrainerCallback):
    """A `codekiln.progress` bar over optimizer steps, with the latest loss as its note."""

    def __init__(self, description: str, quiet: bool) -> None:
        self.description = description
        self.quiet = quiet
        self._stack = contextlib.ExitStack()
        self._bar: Any = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._bar = self._stack.enter_context(
            progress_bar(self.description, state.max_steps, self.quiet, completed=state.global_step))

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._bar is not None:
            self._bar.advance()

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if self._bar is not None and logs and "loss" in logs:
            self._bar.note(f"loss {logs['loss']:.4f}")

    def close(self) -> None:
        self._stack.close()
        self._bar = None

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.close()
