"""`python tests/loop_launcher.py run CONFIG ...`: the real `codekiln` CLI with the test's scripted sampler registered.

The loop test runs `codekiln run` in a subprocess (so it can be killed with SIGKILL) through this launcher, which
adds the `scripted` sampling backend (tests/loop_scripted.py) to the registry and then calls `codekiln.cli.main`.

With `CODEKILN_TEST_KILL=POINT` it also wraps the one function at that point, so the run SIGKILLs itself there
(no product hook needed). The loop trains in a spawned process of its own, which imports this file as `__mp_main__`:
the kill point is installed there too, and dying there takes the run (its parent) down first, as a kill of the
whole run would:

- `sample`     round 1 sampling, halfway through writing its 6th sample line (a torn line is left on disk);
- `checkpoint` round 1 training, while checkpoint-2 is being written: after its weights and optimizer, before its
               RNG and trainer state;
- `eval`       round 1 evaluation, after its 2nd verdict is streamed;
- `curate`     round 2 curation, right after its first output file (sft.jsonl) is written;
- `extra`      the base model's evaluation on an extra task set (at the end of the run), after its 2nd verdict.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any


def _die() -> None:
    if __name__ == "__mp_main__":  # the training process: the run goes first
        os.kill(os.getppid(), signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)


def _kill_in_append(parts: tuple[str, ...], after: int, torn: bool) -> None:
    """Die in `JsonlAppender.append` on the file ending in `parts` ("*" matches any name): on call `after` (torn:
    half a line written)."""
    from codekiln import records

    original = records.JsonlAppender.append
    calls = [0]

    def append(self: Any, record: Any) -> None:
        tail = self.path.parts[-len(parts):]
        if len(tail) != len(parts) or any(want not in ("*", got) for want, got in zip(parts, tail, strict=True)):
            return original(self, record)
        calls[0] += 1
        if calls[0] < after:
            return original(self, record)
        if torn:
            line = records.dump_line(record)
            self._fh.write(line[: len(line) // 2])
            self._fh.flush()
        else:
            original(self, record)
        _die()

    records.JsonlAppender.append = append


def _kill_in_checkpoint(step: int) -> None:
    from transformers import Trainer

    original = Trainer._save_optimizer_and_scheduler

    def save(self: Any, output_dir: str) -> None:
        original(self, output_dir)
        if self.state.global_step == step and Path(output_dir).parts[-4] == "round-1":
            _die()

    Trainer._save_optimizer_and_scheduler = save


def _kill_in_curate(round_dir: str) -> None:
    from codekiln.curate import run as curate_run

    original = curate_run.write_jsonl

    def write_jsonl(path: Any, rows: Any) -> Path:
        out = original(path, rows)
        if Path(path).parts[-3] == round_dir:
            _die()
        return out

    curate_run.write_jsonl = write_jsonl


def install(point: str) -> None:
    if point == "sample":
        _kill_in_append(("round-1", "samples.jsonl"), after=6, torn=True)
    elif point == "checkpoint":
        _kill_in_checkpoint(step=2)
    elif point == "eval":
        _kill_in_append(("round-1", "eval", "verdicts.jsonl"), after=2, torn=False)
    elif point == "curate":
        _kill_in_curate("round-2")
    elif point == "extra":
        _kill_in_append(("round-0", "extra", "*", "verdicts.jsonl"), after=2, torn=False)
    elif point:
        raise SystemExit(f"unknown CODEKILN_TEST_KILL {point!r}")


def main() -> int:
    from codekiln import cli
    from codekiln.sample import base

    base.BACKENDS["scripted"] = "loop_scripted:ScriptedSampler"  # tests/ is sys.path[0] for this script
    install(os.environ.get("CODEKILN_TEST_KILL", ""))
    return cli.main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
elif __name__ == "__mp_main__":  # a process the run spawned (training, model processes)
    install(os.environ.get("CODEKILN_TEST_KILL", ""))
