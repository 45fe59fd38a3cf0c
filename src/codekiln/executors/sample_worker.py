"""What every sample executor shares: a worker holding one loaded model, and cutting the work into shards.

A worker (a Ray actor, or a process of the local pool) loads its model once and generates shards of
(task, index) pairs. Seeds come from (seed, task, round, index), never from the worker or the batch, so any
executor and any number of workers produce the same samples.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from codekiln.config import SampleConfig
from codekiln.records import Sample, Task
from codekiln.sample.base import load_sampler
from codekiln.sample.generate import gen_params, generate_pairs
from codekiln.sample.models import ModelRef

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
