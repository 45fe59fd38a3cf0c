"""The Ray executor of the sample stage: shards of (task, index) pairs go to Ray actors, each holding its own
loaded model (llama.cpp or transformers on CPUs; with backend=vllm, one vLLM engine per GPU actor).

Every sample's seed comes from (seed, task, round, index), never from the worker or the batch, so the samples
are those of the local executor. The driver appends a shard's samples to the file as the shard comes back
(a kill loses only unfinished shards; the rerun generates only what is missing) and, once all are in, puts
this call's samples in task order, so an uninterrupted run writes the same file as the local executor.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from codekiln.config import SampleConfig
from codekiln.executors import shards
from codekiln.executors.ray_cluster import cluster_resource, connect, fit_cpus
from codekiln.executors.ray_pool import finished_shards, start_actors, stop_actors
from codekiln.executors.sample_worker import Pairs, SampleWorker, shard_work, stream_shards
from codekiln.records import Sample, Task
from codekiln.sample.models import ModelRef


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
    work = shard_work(todo, wanted, shards.sample_shard(cfg.batch_size))
    ray = connect(address)
    count, options = actor_plan(ray, cfg, len(work))
    actors = start_actors(ray, SampleWorker, count, options, ref, cfg, round, list(examples))
    try:
        stream_shards(out, todo, wanted, have, quiet,
                      (samples for _, samples in finished_shards(ray, actors, "generate", work)))
    finally:
        stop_actors(ray, actors)
