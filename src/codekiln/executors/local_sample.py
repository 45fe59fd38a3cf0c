"""The local executor of the sample stage: spawned model processes on this machine, each holding its own loaded
model (llama.cpp maps the weights file, so the processes share the weights in memory), fed shards of
(task, index) pairs.

Single-threaded llama.cpp decoding of a small model uses one core; on a 2-core machine two processes
generate about twice the tokens per second of one process with two threads. The samples are the same
as one process's: each seed comes from (seed, task, round, index), and `sample_tasks` puts the file in task
order at the end.

llama.cpp is native code: on a host where it crashes (a bad CPU build), it takes down the process it runs in.
So it never runs in the caller's process here, even with one worker: a process that dies is reported as
`ProcessDied` (how it ended, the task it was generating), the samples it already sent are in the file, and the
caller stops with one line instead of a traceback or a dead CLI. Each process sends each sample back as it
finishes, so the parent always knows which tasks a process still owes and a crash loses only the sequences
being decoded.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Iterator, Sequence
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from codekiln.config import SampleConfig
from codekiln.errors import UserError, exit_text, portable
from codekiln.executors import shards
from codekiln.executors.sample_worker import SampleWorker, Work, shard_work
from codekiln.records import Sample, Task
from codekiln.sample.generate import SampleJob
from codekiln.sample.models import ModelRef
from codekiln.sample.seeds import sample_index

MAX_AUTO_WORKERS = 8
"""Most model processes chosen automatically (each holds its own context and KV cache)."""


class ProcessDied(Exception):
    """A model process died (a signal, or an exit without answering) while it owed samples."""

    def __init__(self, how: str, task_ids: Sequence[str]) -> None:
        tasks = f"task {task_ids[0]}" if len(task_ids) == 1 else f"tasks {', '.join(task_ids)}"
        super().__init__(f"a sampling process {how} while generating {tasks}")
        self.how = how
        self.task_ids = list(task_ids)


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


def _serve(conn: Connection, ref: ModelRef, cfg: SampleConfig, round: int, examples: list[Task],
           crash_log: Path | None) -> None:
    """A model process: load the model, then answer each shard with ("samples", [...]) per batch of pairs, until
    None comes. An exception goes back as ("error", exception, traceback text) instead of a dead process.
    A native crash's Python stack goes to `crash_log`, not to the terminal, where the parent's one line stands."""
    import faulthandler
    import signal

    _die_with_parent()
    if crash_log is not None:
        faulthandler.enable(file=open(crash_log, "a"))  # noqa: SIM115 - open for the life of the process
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops the processes
    worker = None
    try:
        worker = SampleWorker(ref, cfg, round, examples)
        while (work := conn.recv()) is not None:
            for samples in worker.chunks(work):
                conn.send(("samples", samples))
    except EOFError:  # the parent is gone
        pass
    except BaseException as err:  # noqa: B036 - handed to the parent, which raises it
        conn.send(("error", *portable(err)))
    finally:
        if worker is not None:
            worker.close()


class _Process:
    """The parent's handle on one model process: its pipe, and the pairs it owes, in the order it makes them."""

    def __init__(self, context: Any, ref: ModelRef, cfg: SampleConfig, round: int, examples: list[Task],
                 crash_log: Path | None) -> None:
        self.conn, child = context.Pipe()
        self.crash_log = crash_log
        self.process = context.Process(target=_serve, args=(child, ref, cfg, round, examples, crash_log),
                                       daemon=True, name="codekiln-sample")
        self.process.start()
        child.close()
        self.owed: deque[tuple[Task, int]] = deque()

    def give(self, work: Work) -> None:
        self.owed.extend(work[0])
        self.conn.send(work)

    def died(self, batch: int) -> ProcessDied:
        """Why this process is gone, and the tasks of the batch it was generating."""
        self.process.join(timeout=5)
        code = self.process.exitcode
        how = exit_text(code) if code is None or code < 0 else f"{exit_text(code)} without answering"
        if self.crash_log is not None and self.crash_log.exists() and self.crash_log.stat().st_size:
            how += f" (its stack is in {self.crash_log})"
        current = list(self.owed)[:batch]
        return ProcessDied(how, list(dict.fromkeys(t.task_id for t, _ in current)))

    def stop(self) -> None:
        """End the process: a clean exit when it is idle, a kill when it still generates (it owes nothing now)."""
        if self.process.exitcode is None:
            if self.owed:
                self.process.kill()
            else:
                try:
                    self.conn.send(None)
                except OSError:
                    pass
            self.process.join(timeout=10)
            if self.process.exitcode is None:
                self.process.kill()
                self.process.join()
        self.conn.close()


def run_processes(ref: ModelRef, work: list[Work], cfg: SampleConfig, round: int, examples: Sequence[Task],
                  workers: int, crash_log: Path | None = None) -> Iterator[list[Sample]]:
    """Generate every shard of `work` in `workers` spawned model processes, yielding samples as they finish.
    A process that dies from a signal writes its Python stack to `crash_log` (kept only when something was written).

    Raises `ProcessDied` when a process dies owing samples (what it sent before is already handed over), and
    re-raises an exception a process ran into (a UserError, such as a model that cannot load, stays one)."""
    context = multiprocessing.get_context("spawn")  # no fork of a parent that may hold threads or a model
    queue = deque(work)
    batch = max(1, cfg.batch_size)
    procs: list[_Process] = []
    try:
        for _ in range(min(workers, len(work))):
            procs.append(_Process(context, ref, cfg, round, list(examples), crash_log))
            procs[-1].give(queue.popleft())
        while any(p.owed for p in procs):
            busy = [p for p in procs if p.owed]
            ready = set(wait([p.conn for p in busy] + [p.process.sentinel for p in busy]))
            for proc in busy:
                if proc.conn in ready or proc.conn.poll():  # what a process sent before it ended comes first
                    try:
                        message = proc.conn.recv()
                    except (EOFError, OSError):
                        raise proc.died(batch) from None
                    yield _take(proc, message)
                    if not proc.owed and queue:
                        proc.give(queue.popleft())
                elif proc.process.sentinel in ready:
                    raise proc.died(batch)
    finally:
        for proc in procs:
            proc.stop()


def _take(proc: _Process, message: tuple[Any, ...]) -> list[Sample]:
    """The samples a process sent (no longer owed), or the error it ran into, raised here."""
    kind = message[0]
    if kind == "error":  # a UserError is the user's to fix (one line); anything else is a bug: show where
        err, text = message[1], message[2]
        proc.owed.clear()
        if not isinstance(err, UserError):
            err.add_note(f"raised in the sampling process:\n{text}")
        raise err
    samples: list[Sample] = message[1]
    finished = {(s.task_id, sample_index(s.sample_id)) for s in samples}  # in any order: they come as they finish
    proc.owed = deque(p for p in proc.owed if (p[0].task_id, p[1]) not in finished)
    return samples


def sample_processes(job: SampleJob, workers: int, crash_log: Path) -> Iterator[list[Sample]]:
    """The job's samples from `workers` model processes, as they finish. A process that dies from a signal writes
    its Python stack to `crash_log`, kept only when something was written."""
    size = min(shards.sample_shard(job.cfg.batch_size), -(-len(job.todo) // workers))
    work = shard_work(list(job.todo), dict(job.seeds), size)
    try:
        yield from run_processes(job.ref, work, job.cfg, job.round, job.examples, workers, crash_log)
    finally:
        if crash_log.exists() and not crash_log.stat().st_size:
            crash_log.unlink()
