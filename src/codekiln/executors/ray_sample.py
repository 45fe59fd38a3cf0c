"""The Ray executor of the sample stage: shards of (task, index) pairs go to Ray actors, each holding its own
loaded model (llama.cpp or transformers on CPUs; with backend=vllm, one vLLM engine per GPU actor).

Every sample's seed comes from (seed, task, round, index), never from the worker or the batch, so the samples
are those of the local executor. The stage appends a shard's samples to the file as the shard comes back
(a kill loses only unfinished shards; the rerun generates only what is missing) and, once all are in, puts
them in task order, so an uninterrupted run writes the same file as the local executor.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from codekiln.config import SampleConfig
from codekiln.executors import shards
from codekiln.executors.ray_cluster import cluster_resource, connect, fit_cpus
from codekiln.executors.ray_pool import finished_shards, start_actors, stop_actors
from codekiln.executors.sample_worker import SampleWorker, shard_work
from codekiln.records import Sample
from codekiln.sample.generate import SampleJob


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


def sample_ray(job: SampleJob, address: str | None = None) -> Iterator[list[Sample]]:
    """The job's samples from model actors on the Ray cluster at `address`, a shard at a time as each finishes."""
    work = shard_work(list(job.todo), dict(job.seeds), shards.sample_shard(job.cfg.batch_size))
    ray = connect(address)
    count, options = actor_plan(ray, job.cfg, len(work))
    actors = start_actors(ray, SampleWorker, count, options, job.ref, job.cfg, job.round, list(job.examples))
    try:
        for _, samples in finished_shards(ray, actors, "generate", work):
            yield samples
    finally:
        stop_actors(ray, actors)
