"""Feeding shards to a fixed set of Ray actors and handing back each shard's result as soon as it is done.

Each actor keeps at most `depth` shards queued, so a fast actor takes more shards than a slow one and no
shard waits behind a busy actor while another idles. Actors are created with restarts and task retries: a
killed worker process is restarted by Ray and its unfinished shard is retried; shards already handed back
are never redone.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any

from codekiln.executors.ray_cluster import unwrap

RESTARTS = 3
"""Restarts of a worker (and retries of its shard) before the stage fails; a rerun then resumes."""


def start_actors(ray: Any, cls: type, count: int, options: dict[str, Any], *args: Any) -> list[Any]:
    remote = ray.remote(cls).options(max_restarts=RESTARTS, max_task_retries=RESTARTS, **options)
    return [remote.remote(*args) for _ in range(max(1, count))]


def finished_shards(ray: Any, actors: Sequence[Any], method: str, shards: Sequence[Any],
                    depth: int = 2) -> Iterator[tuple[Any, Any]]:
    """Call `actor.method(shard)` for every shard; yield (shard, result) in the driver as each finishes."""
    queue = deque(shards)
    pending: dict[Any, tuple[Any, Any]] = {}  # object ref -> (actor, shard)

    def feed(actor: Any) -> None:
        if queue:
            item = queue.popleft()
            pending[getattr(actor, method).remote(item)] = (actor, item)

    for _ in range(depth):
        for actor in actors:
            feed(actor)
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        actor, item = pending.pop(ready[0])
        try:
            result = ray.get(ready[0])
        except Exception as err:  # noqa: BLE001 - re-raised as the worker's own error where it is ours
            for ref in pending:
                ray.cancel(ref, force=False)
            raise unwrap(ray, err) from None
        feed(actor)
        yield item, result


def stop_actors(ray: Any, actors: Sequence[Any]) -> None:
    """Let each actor release its pools (sandboxes, browsers, models), then end it."""
    try:
        ray.get([a.close.remote() for a in actors], timeout=60)
    except Exception:  # noqa: BLE001 - a dead actor has nothing left to release
        pass
    for actor in actors:
        ray.kill(actor, no_restart=True)
