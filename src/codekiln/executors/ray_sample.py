"""The Ray executor of the sample stage: shards of (task, index) pairs go to Ray actors, each holding its own
loaded model (llama.cpp or transformers on CPUs; with backend=vllm, one vLLM engine per GPU actor).

Every sample's seed comes from (seed, task, round, index), never from the worker or the batch, so the samples
are those of the local executor. The driver appends a shard's samples to the file as the shard comes back
(a kill loses only unfinished shards; the rerun generates only what is missing) and, once all are in, puts
this call's samples in task order, so an uninterrupted run writes the same file as the local executor.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from codekiln.config import SampleConfig
from codekiln.executors import shards
from codekiln.executors.ray_cluster import cluster_resource, connect, fit_cpus
from codekiln.executors.ray_pool import run_shards, start_actors, stop_actors
from codekiln.progress import progress_bar
from codekiln.records import JsonlAppender, Sample, Task, dump_line
from codekiln.sample.models import ModelRef

Pairs = list[tuple[Task, int]]


class SampleWorker:
    """A Ray actor: one loaded model, kept across shards."""

    def __init__(self, ref: ModelRef, cfg: SampleConfig, round: int, examples: Sequence[Task]) -> None:
        from codekiln.sample.base import load_sampler
        from codekiln.sample.run import gen_params

        self.sampler = load_sampler(ref, cfg)
        self.cfg, self.round, self.examples = cfg, round, list(examples)
        self.params = gen_params(cfg)

    def generate(self, work: tuple[Pairs, dict[tuple[str, int], int]]) -> list[Sample]:
        from codekiln.sample.run import generate_chunk

        pairs, seeds = work
        step = max(1, self.cfg.batch_size)
        out: list[Sample] = []
        for start in range(0, len(pairs), step):
            out += generate_chunk(self.sampler, pairs[start:start + step], self.cfg, self.round, self.examples,
                                  seeds, self.params)
        return out

    def close(self) -> None:
        self.sampler.close()


def actor_plan(ray: Any, cfg: SampleConfig, shards: int) -> tuple[int, dict[str, float]]:
    """How many model actors, and what each reserves: a GPU each for vLLM, else `threads` CPUs each."""
    if cfg.backend == "vllm":
        gpus = int(cluster_resource(ray, "GPU"))
        if gpus < 1:
            from codekiln.errors import UserError

            raise UserError("backend=vllm on executor=ray needs GPU workers; the Ray cluster has none")
        return min(shards, gpus), {"num_gpus": 1}
    cpus = fit_cpus(ray, cfg.threads)
    return min(shards, max(1, int(cluster_resource(ray, "CPU") // cpus))), {"num_cpus": cpus}


def sample_ray(ref: ModelRef, todo: Pairs, cfg: SampleConfig, out: Path, round: int, quiet: bool,
               examples: Sequence[Task], have: dict[tuple[str, int], Sample],
               wanted: dict[tuple[str, int], int], address: str | None = None) -> None:
    """Generate the `todo` pairs on Ray; each sample goes to `have` and to `out`."""
    size = max(shards.SAMPLE_SHARD, max(1, cfg.batch_size))
    work = [(part, {(t.task_id, i): wanted[(t.task_id, i)] for t, i in part}) for part in shards.shard(todo, size)]
    ray = connect(address)
    count, options = actor_plan(ray, cfg, len(work))
    prefix = out.read_bytes() if out.exists() else b""
    actors = start_actors(ray, SampleWorker, count, options, ref, cfg, round, list(examples))
    tokens, started = 0, time.monotonic()
    try:
        with JsonlAppender(out) as sink, progress_bar("sampling", len(wanted), quiet,
                                                      completed=len(wanted) - len(todo)) as bar:
            def done(_: object, samples: list[Sample]) -> None:
                nonlocal tokens
                for sample in samples:
                    sink.append(sample)
                    have[(sample.task_id, int(sample.sample_id.rpartition("s")[2]))] = sample
                    tokens += int(sample.meta.get("tokens", 0))
                bar.advance(len(samples))
                bar.note(f"{tokens / max(1e-9, time.monotonic() - started):.1f} tok/s")

            run_shards(ray, actors, "generate", work, done)
    finally:
        stop_actors(ray, actors)
    _rewrite(out, prefix, [have[(t.task_id, i)] for t, i in todo])


def _rewrite(out: Path, prefix: bytes, samples: list[Sample]) -> None:
    """`out` as the local executor would leave it: what was there before, then this call's samples in order."""
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
