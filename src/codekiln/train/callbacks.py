"""Trainer callbacks: the JSONL training log, the rich progress bar, the mark of a finished checkpoint, and handing
freed memory back to the system."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from codekiln.progress import progress_bar
from codekiln.records import JsonlAppender, write_json

CHECKPOINT_DONE = "codekiln-checkpoint.json"
"""Written into a checkpoint folder once the trainer has written all of it: the files it holds and their sizes."""
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


class CheckpointDone(TrainerCallback):
    """Marks each checkpoint complete: the trainer writes a checkpoint's files one by one into its final folder
    (weights, optimizer, scheduler, RNG, trainer state), so a kill mid-save leaves a folder that looks like a
    checkpoint but cannot be resumed from. `on_save` runs after the whole save (rotation of old ones included)."""

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if state.is_world_process_zero and folder.is_dir():
            files = {str(p.relative_to(folder)): p.stat().st_size for p in sorted(folder.rglob("*")) if p.is_file()}
            write_json(folder / CHECKPOINT_DONE, {"step": state.global_step, "files": files})


class ReturnFreedMemory(TrainerCallback):
    """Hands the memory glibc's allocator keeps after each optimizer step back to the system (`malloc_trim`).

    Sequences of every length allocate and free activations of every size; glibc keeps the freed memory for reuse,
    fragmented, so a training process's resident memory grows step after step well past what any step holds (DPO+NLL
    on round 1's sql-basic pairs: 2.5 GB after the first step, 3.9 GB by the twentieth). Trimming after each step
    keeps it nearer what a step needs at no measurable cost (after each micro-batch instead cost 22% more time;
    BENCHMARKS.md). A no-op where the C library has no `malloc_trim` (musl, macOS)."""

    def __init__(self) -> None:
        import ctypes
        import ctypes.util

        name = ctypes.util.find_library("c")
        library = ctypes.CDLL(name) if name else None
        self._trim = getattr(library, "malloc_trim", None)

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._trim is not None:
            self._trim(0)


def _complete(folder: Path) -> bool:
    try:
        files = json.loads((folder / CHECKPOINT_DONE).read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return all((folder / name).is_file() and (folder / name).stat().st_size == size for name, size in files.items())


def last_complete_checkpoint(folder: Path) -> Path | None:
    """The newest checkpoint in `folder` that was written completely; newer, unfinished ones (a kill while they
    were written) are deleted, so the trainer neither resumes from one nor rotates a good one away for it."""
    if not folder.is_dir():
        return None
    found = sorted(((int(m.group(1)), p) for p in folder.iterdir() if p.is_dir() and (m := _CHECKPOINT.match(p.name))),
                   reverse=True)
    for _, path in found:
        if _complete(path):
            return path
        shutil.rmtree(path, ignore_errors=True)  # every process of a distributed run gets here
    return None


def truncate_log(path: Path, last_step: int) -> None:
    """Drop log lines written after the checkpoint a run resumes from, and the end-of-training summary (they will
    be written again). Rewritten atomically: a kill here must not lose the lines kept."""
    if not path.exists():
        return
    keep = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a torn last line from a kill
        if record.get("step", 0) <= last_step and "train_runtime" not in record:
            keep.append(line)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(f"{line}\n" for line in keep), encoding="utf-8")
    os.replace(tmp, path)


def _records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def resume_token_count(trainer: Any, path: Path) -> None:
    """Carry TRL's running `num_tokens` over a resume: TRL keeps it on the trainer, not in the checkpoint, so a
    resumed run counted from 0 again. The truncated log holds the count at the checkpoint."""
    counts = [r["num_tokens"] for r in _records(path) if "num_tokens" in r]
    if counts and getattr(trainer, "_total_train_tokens", None) == 0:
        trainer._total_train_tokens = int(counts[-1])


class JsonlLog(TrainerCallback):
    """Appends every log event (loss, rewards/margins, accuracy, lr, tokens/s) to train_log.jsonl.

    The closing `train_loss` is the mean of every step's logged loss (codekiln logs each step): the trainer's own
    covers only the steps since the last resume.
    """

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
        if "train_loss" in record:
            losses = [r["loss"] for r in _records(self.path) if "loss" in r]
            record["train_loss"] = sum(losses) / len(losses) if losses else record["train_loss"]
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
