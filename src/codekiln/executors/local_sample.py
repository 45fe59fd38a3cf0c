"""The local executor of the sample stage when more than one model process is wanted: a pool of spawned
processes on this machine, each holding its own loaded model (llama.cpp maps the weights file, so the
processes share the weights in memory), fed shards of (task, index) pairs.

Single-threaded llama.cpp decoding of a small model uses one core; on a 2-core machine two processes
generate about twice the tokens per second of one process with two threads. The samples are the same
as one process's: each seed comes from (seed, task, round, index), and the file is put in task order at the end.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path

from codekiln.config import SampleConfig
from codekiln.executors import shards
from codekiln.executors.sample_worker import OnShard, Pairs, SampleWorker, Work, shard_work, stream_shards
from codekiln.records import Sample, Task
from codekiln.sample.models import ModelRef

MAX_AUTO_WORKERS = 8
"""Most model processes chosen automatically (each holds its own context and KV cache)."""

_worker: SampleWorker | None = None  # the model of this pool process


def local_workers(ref: ModelRef, cfg: SampleConfig) -> int:
    """Model processes for this machine: `cfg.workers` when set; else, for llama.cpp, one per `threads` cores
    (up to MAX_AUTO_WORKERS); other backends use their own threads (transformers) or a server, so one."""
    if cfg.workers is not None:
        return cfg.workers
    from codekiln.sample.base import backend_for

    if backend_for(ref, cfg.backend) != "llama.cpp":
        return 1
    return max(1, min(MAX_AUTO_WORKERS, (os.cpu_count() or 1) // max(1, cfg.threads)))


def _die_with_parent() -> None:
    """Ask Linux to kill this process when its parent dies, so a killed run leaves no model processes behind."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
        if os.getppid() == 1:  # the parent died before the request took effect
            os._exit(1)


def _start(ref: ModelRef, cfg: SampleConfig, round: int, examples: Sequence[Task]) -> None:
    global _worker
    _die_with_parent()
    _worker = SampleWorker(ref, cfg, round, examples)


def _generate(work: Work) -> list[Sample]:
    assert _worker is not None, "pool process started without a model"
    return _worker.generate(work)


def sample_processes(ref: ModelRef, todo: Pairs, cfg: SampleConfig, out: Path, round: int, quiet: bool,
                     examples: Sequence[Task], have: dict[tuple[str, int], Sample],
                     wanted: dict[tuple[str, int], int], workers: int) -> None:
    """Generate the `todo` pairs in `workers` processes; each sample goes to `have` and to `out`."""
    work = shard_work(todo, wanted, max(shards.SAMPLE_SHARD, max(1, cfg.batch_size)))

    def run(on_shard: OnShard) -> None:
        context = multiprocessing.get_context("spawn")  # no fork of a parent that may hold threads or a model
        pool = ProcessPoolExecutor(max_workers=min(workers, len(work)), mp_context=context, initializer=_start,
                                   initargs=(ref, cfg, round, list(examples)))
        try:
            pending: set[Future[list[Sample]]] = {pool.submit(_generate, part) for part in work}
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    on_shard(None, future.result())
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    stream_shards(out, todo, wanted, have, quiet, run)
