"""Connecting to Ray: the cluster at `ray_address`, or a small local one (no dashboard) on this machine."""

from __future__ import annotations

import logging
import os
from typing import Any, NoReturn

from codekiln.errors import UserError


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UserError("executor=ray needs Ray: pip install 'codekiln[ray]'") from None
    return ray


def connect(address: str | None, num_cpus: int | None = None) -> Any:
    """The `ray` module, initialised: joins `address` (e.g. ray://head:10001 or auto), or starts a local
    cluster with `num_cpus` (default: all) of this machine's CPUs. A driver already connected (a test's cluster) is reused. Every node must
    have the same codekiln installed as the driver (a local cluster shares this interpreter)."""
    ray = import_ray()
    if ray.is_initialized():
        return ray
    opts: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False}
    attempts = 1 if address else 2  # Ray gives a local node 30 s to start; a busy small machine may need two tries
    for attempt in range(1, attempts + 1):
        try:
            if address:
                ray.init(address=address, **opts)
            else:
                ray.init(num_cpus=num_cpus or os.cpu_count() or 1, include_dashboard=False, **opts)
            return ray
        except Exception as err:  # noqa: BLE001 - Ray raises bare Exception when a node does not start in time
            ray.shutdown()
            if attempt == attempts:
                _refuse(address, err)
    return ray  # not reached


def _refuse(address: str | None, err: Exception) -> NoReturn:
    where = f"the Ray cluster at {address}" if address else "a local Ray cluster"
    hint = "" if address else " (on a busy machine, start one with `ray start --head` and set ray_address)"
    first = str(err).splitlines()[0] if str(err) else type(err).__name__
    raise UserError(f"cannot start or join {where}: {first}{hint}") from None


def cluster_resource(ray: Any, name: str) -> float:
    """How much of a resource (CPU, GPU) the whole cluster has."""
    return float(ray.cluster_resources().get(name, 0.0))


def fit_cpus(ray: Any, wanted: int) -> int:
    """CPUs one actor may reserve: `wanted`, but no more than the largest node has (an actor asking for more
    would wait forever); `wanted` as it is when no node reports CPUs yet (an autoscaling cluster)."""
    largest = max((float(n.get("Resources", {}).get("CPU", 0.0)) for n in ray.nodes() if n.get("Alive")), default=0.0)
    return max(1, min(wanted, int(largest))) if largest >= 1 else max(1, wanted)


def unwrap(ray: Any, err: BaseException) -> BaseException:
    """The error a remote call raised (a UserError from a worker is the user's problem, shown as one line)."""
    cause = getattr(err, "cause", None)
    if isinstance(err, ray.exceptions.RayTaskError) and isinstance(cause, UserError):
        return cause
    return err
