"""The Ray executor of the verify stage: shards of samples go to Ray actors, each holding its own verifiers
(so its own sandbox pool, browser pool or judge model), and verdicts stream back to the driver by shard.

An actor reserves `verify.workers` CPUs (one per sandbox process it runs), so a cluster with C CPUs runs
C // workers actors side by side. The driver appends a shard's verdicts to the run folder when the shard is
back: a lost worker costs its unfinished shard (Ray restarts it and retries), a killed driver costs the
shards in flight (the rerun verifies only the samples without a verdict).
"""

from __future__ import annotations

from collections.abc import Generator

from codekiln.config import VerifyConfig
from codekiln.executors import shards
from codekiln.executors.ray_cluster import cluster_resource, connect, fit_cpus
from codekiln.executors.ray_pool import finished_shards, start_actors, stop_actors
from codekiln.records import Sample, Task, Verdict

Jobs = list[tuple[Task, Sample]]


class VerifyWorker:
    """A Ray actor: verifiers by task kind, created on first use and kept warm across shards."""

    def __init__(self, cfg: VerifyConfig) -> None:
        self.cfg = cfg
        self.verifiers: dict[str, object] = {}

    def verify(self, work: tuple[str, Jobs]) -> list[Verdict]:
        from codekiln.verify import get_verifier

        kind, jobs = work
        if kind not in self.verifiers:
            self.verifiers[kind] = get_verifier(kind, self.cfg)
        return self.verifiers[kind].verify(jobs)  # type: ignore[attr-defined]

    def close(self) -> None:
        for verifier in self.verifiers.values():
            verifier.close()  # type: ignore[attr-defined]
        self.verifiers.clear()


def verify_ray(by_kind: dict[str, Jobs], cfg: VerifyConfig, address: str | None = None,
               shard_size: int | None = None) -> Generator[Verdict, None, None]:
    """Every job's verdict from the Ray cluster at `address` (a local one when None), yielded in the driver a
    shard at a time (`shard_size` samples each; default shards.VERIFY_SHARD)."""
    size = shard_size or shards.VERIFY_SHARD
    work = [(kind, part) for kind, jobs in by_kind.items() for part in shards.shard(jobs, size)]
    if not work:
        return
    ray = connect(address)
    cpus = fit_cpus(ray, cfg.workers)  # one CPU per sandbox process of the actor
    count = min(len(work), max(1, int(cluster_resource(ray, "CPU") // cpus)))
    actors = start_actors(ray, VerifyWorker, count, {"num_cpus": cpus}, cfg.model_copy(update={"workers": cpus}))
    try:
        for _, verdicts in finished_shards(ray, actors, "verify", work):
            yield from verdicts
    finally:
        stop_actors(ray, actors)
