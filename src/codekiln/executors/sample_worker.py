"""What every sample executor shares: a worker holding one loaded model, and the final rewrite of the file.

A worker (a Ray actor, or a process of the local pool) loads its model once and generates shards of
(task, index) pairs. Seeds come from (seed, task, round, index), never from the worker or the batch, so any
executor and any number of workers produce the same samples.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import closing
from pathlib import Path

from codekiln.config import SampleConfig
from codekiln.progress import progress_bar
from codekiln.records import JsonlAppender, Sample, Task, dump_line
from codekiln.sample.base import load_sampler
from codekiln.sample.generate import gen_params, generate_pairs
from codekiln.sample.models import ModelRef
from codekiln.sample.seeds import sample_index

Pairs = list[tuple[Task, int]]
Work = tuple[Pairs, dict[tuple[str, int], int]]


class SampleWorker:
    """One loaded model, kept across shards."""

    def __init__(self, ref: ModelRef, cfg: SampleConfig, round: int, examples: Sequence[Task]) -> None:
        self.sampler = load_sampler(ref, cfg)
        self.cfg, self.round, self.examples = cfg, round, list(examples)
        self.params = gen_params(cfg)

    def generate(self, work: Work) -> list[Sample]:
        return [sample for chunk in self.chunks(work) for sample in chunk]

    def chunks(self, work: Work) -> Iterator[list[Sample]]:
        """The shard's samples, a few at a time as they finish (generated as they are asked for)."""
        pairs, seeds = work
        yield from generate_pairs(self.sampler, pairs, self.cfg, self.round, self.examples, seeds, self.params)

    def close(self) -> None:
        self.sampler.close()


def shard_work(todo: Pairs, wanted: dict[tuple[str, int], int], size: int) -> list[Work]:
    """The pairs to generate cut into shards, each with the seeds of its pairs."""
    from codekiln.executors import shards

    return [(part, {(t.task_id, i): wanted[(t.task_id, i)] for t, i in part}) for part in shards.shard(todo, size)]


def rewrite_in_order(out: Path, prefix: bytes, samples: list[Sample]) -> None:
    """`out` as a single sequential worker would leave it: `prefix` (the file's other records), then `samples`."""
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(prefix)
            fh.write("".join(dump_line(s) for s in samples).encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def stream_shards(out: Path, todo: Pairs, wanted: dict[tuple[str, int], int], have: dict[tuple[str, int], Sample],
                  quiet: bool, finished: Iterator[list[Sample]]) -> None:
    """Take the finished samples an executor yields (a shard, or part of one): they go to `have` and are appended
    to `out` at once, so a kill or a crash loses only unfinished ones. `sample_tasks` puts the file in task order
    once every sample is in. The executor's iterator is closed on the way out (its workers stop)."""
    tokens, started = 0, time.monotonic()
    with closing(finished), JsonlAppender(out) as sink, progress_bar(
            "sampling", len(wanted), quiet, completed=len(wanted) - len(todo)) as bar:
        for samples in finished:
            for sample in samples:
                sink.append(sample)
                have[(sample.task_id, sample_index(sample.sample_id))] = sample
                tokens += int(sample.meta.get("tokens", 0))
            bar.advance(len(samples))
            bar.note(f"{tokens / max(1e-9, time.monotonic() - started):.1f} tok/s")
