"""Run hostile Python with limits, and get back only plain data.

`run_untrusted(source, files=..., limits=..., preload=...)` runs one program in a warm, pre-forked worker
(inside bubblewrap: own pid/network/mount/ipc/uts namespaces, read-only system, private tmpfs working folder,
no environment secrets, its own unprivileged uid, rlimits on memory, CPU, processes, file size and open files,
a wall-clock kill of its whole process tree). The program reports a result by calling the injected
`__codekiln_send__(value)`; only builtin plain types survive the trip (see `plain.decode_plain`).

`Sandbox` is the pool behind it, for callers that want their own workers (the python verifier holds a
call-by-call `Session` with a candidate instead of running a whole program).
"""

from __future__ import annotations

import atexit
import math
import queue
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from codekiln.verify import isolation
from codekiln.verify.cpus import CpuClaim, pin_thread
from codekiln.verify.plain import decode_plain
from codekiln.verify.session import Session
from codekiln.verify.slot import SandboxBroken, Slot, WorkerDied


@dataclass(frozen=True)
class Limits:
    """Per-program limits. `memory_mb` is the address space a program may add on top of its warm worker."""

    timeout_s: float = 10.0
    memory_mb: int = 1024
    output_bytes: int = 65536
    nproc: int = 32
    fsize_mb: int = 64
    nofile: int = 64
    cpu_s: int | None = None  # default: the timeout rounded up, plus one second

    @classmethod
    def from_config(cls, cfg: Any) -> Limits:
        return cls(timeout_s=cfg.timeout_s, memory_mb=cfg.memory_mb, output_bytes=cfg.output_bytes)

    def as_job(self) -> dict[str, Any]:
        return {"timeout_s": self.timeout_s, "memory_mb": self.memory_mb, "output_bytes": self.output_bytes,
                "nproc": self.nproc, "fsize_mb": self.fsize_mb, "nofile": self.nofile,
                "cpu_s": self.cpu_s if self.cpu_s is not None else math.ceil(self.timeout_s) + 1}


@dataclass(frozen=True)
class RunResult:
    """What a program did: `status` in ok|error|timeout|memory|killed, `value` is what it sent (plain data)."""

    status: str
    value: Any = None
    sent: bool = False  # whether the program called __codekiln_send__ at all (value may be None)
    error: str = ""
    stdout: str = ""
    stderr: str = ""
    duration_s: float = 0.0


class Sandbox:
    """A pool of up to `workers` warm workers, started lazily; thread-safe (one program per worker at a time)."""

    def __init__(self, workers: int = 2, preload: Sequence[str] = (), disk_mb: int = 64,
                 pin_cpus: bool = False) -> None:
        """`pin_cpus`: keep each worker, and the thread that borrows it, on a CPU of its own (see `cpus.py`).
        A thread that borrows a slot then stays on that CPU: only for pools of threads made for the purpose."""
        if workers < 1:
            raise ValueError("a sandbox needs at least one worker")
        self.iso = isolation.detect()
        self.preload = tuple(preload)
        self.disk_mb = disk_mb
        self.workers = workers
        self._idle: queue.LifoQueue[Slot] = queue.LifoQueue()
        self._all: list[Slot] = []
        self._claim = CpuClaim(workers, pin=pin_cpus)
        self._lock = threading.Lock()
        self._closed = False

    @contextmanager
    def slot(self) -> Iterator[Slot]:
        """Borrow a worker (starting one when all are busy and the pool is not full)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the sandbox is closed")
            new = None
            if self._idle.empty() and len(self._all) < self.workers:
                new = self._new_slot()
        if new is not None:
            slot = new
        else:
            slot = self._idle.get()
        pin_thread(slot.cpu)
        try:
            yield slot
        finally:
            self._idle.put(slot)

    def _new_slot(self) -> Slot:
        """The next slot of the pool, on its claimed CPU if any (the caller holds the lock)."""
        slot = Slot(self.iso, self.preload, self.disk_mb, cpu=self._claim.cpus[len(self._all)])
        self._all.append(slot)
        return slot

    def start(self) -> None:
        """Start every worker now (imports done once) instead of on first use."""
        with self._lock:
            while len(self._all) < self.workers:
                self._idle.put(self._new_slot())
        for slot in list(self._all):
            if not slot.alive():
                slot.start()

    @contextmanager
    def session(self, setup: dict[str, Any], limits: Limits) -> Iterator[Session]:
        """A program running in a borrowed worker, stopped and cleaned up on exit.

        Raises `SandboxBroken` when the sandbox, not the program, failed: a fresh worker did not start or went
        away before the program began, or the worker died under a program that runs as a uid of its own (which
        cannot signal it). A worker that dies under a program sharing its uid may have been killed by it: that
        stays the program's outcome (`session.worker_died`)."""
        with self.slot() as slot:
            try:
                session = Session.open(slot, setup, limits.as_job())
            except WorkerDied:  # one retry with a fresh worker (the last program may have killed this one)
                try:
                    session = Session.open(slot, setup, limits.as_job())
                except WorkerDied:
                    raise SandboxBroken(slot.ended or "stopped answering") from None
            try:
                yield session
                if session.worker_died and slot.uids is not None:
                    raise SandboxBroken(slot.ended or "stopped answering")
            finally:
                session.finish(wait=not session.detach)

    def run(self, source: str, *, files: Mapping[str, bytes] | None = None, limits: Limits) -> RunResult:
        """Run a whole program; see `run_untrusted` (and `session` for the one exception it raises)."""
        setup = {"mode": "exec", "source": source, "files": {name: bytes(data) for name, data in (files or {}).items()}}
        _check_names(files or {})
        start = time.monotonic()
        value, sent, error, status = None, False, "", None
        with self.session(setup, limits) as session:
            while (msg := session.recv()) is not None:
                kind = msg["kind"]
                if kind == "value" and not sent:
                    try:
                        value, sent = decode_plain(msg.get("value")), True
                    except (ValueError, TypeError):
                        status, error = "error", "the program sent malformed data"
                elif kind == "unplain" and not sent:
                    status, error = "error", f"the program sent a value that is not plain data: {msg.get('type')}"
                elif kind == "error":
                    is_memory = msg.get("type") == "MemoryError"
                    status = "memory" if is_memory else "error"
                    error = f"{msg.get('type')}: {msg.get('msg')}\n{msg.get('tb', '')}".strip()
        status, error = _final_status(session, status, error)
        return RunResult(status=status, value=value, sent=sent, error=error, stdout=session.output("stdout"),
                         stderr=session.output("stderr"), duration_s=time.monotonic() - start)

    def flush(self) -> None:
        """Send the stops that idle workers hold for their next run (see `Slot.stop_soon`): call when a batch
        is done, so finished programs do not wait for the next batch to be cleaned up."""
        idle = []
        while True:
            try:
                idle.append(self._idle.get_nowait())
            except queue.Empty:
                break
        for slot in idle:
            try:
                slot.flush_stop()
            except OSError:
                pass
            self._idle.put(slot)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for slot in self._all:
                for session in list(slot.pending):
                    session.complete()
            for slot in self._all:
                slot.close()
            self._all.clear()
            self._claim.release()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_names(files: Mapping[str, bytes]) -> None:
    for name in files:
        if name.startswith("/") or ".." in name.split("/") or not name:
            raise ValueError(f"file name {name!r} must be relative and stay inside the working folder")


def _final_status(session: Session, status: str | None, error: str) -> tuple[str, str]:
    if session.timed_out:
        return "timeout", error or "wall-clock limit reached; the program's process tree was killed"
    if session.worker_died:
        return "killed", error or "the sandbox worker died while running the program"
    code = session.exit_code if session.exit_code is not None else 0
    if status is not None:
        return status, error
    if code < 0:
        if code == -24:  # SIGXCPU: CPU-time limit
            return "timeout", "CPU-time limit reached"
        return "killed", f"killed by signal {-code}"
    if code > 0:
        return "error", f"exited with code {code}"
    return "ok", error


_shared: dict[tuple[str, ...], Sandbox] = {}
_shared_lock = threading.Lock()


def shared_sandbox(preload: Sequence[str] = (), workers: int | None = None) -> Sandbox:
    """The process-wide pool for a preload set (closed at exit)."""
    import os

    key = tuple(preload)
    with _shared_lock:
        if key not in _shared:
            _shared[key] = Sandbox(workers=workers or max(1, os.cpu_count() or 1), preload=key)
        return _shared[key]


@atexit.register
def _close_shared() -> None:
    for sandbox in list(_shared.values()):
        sandbox.close()


def run_untrusted(source: str, *, files: Mapping[str, bytes] | None = None, limits: Limits,
                  preload: Sequence[str] = ()) -> RunResult:
    """Run hostile Python `source` in the sandbox and return what it did.

    `files` are written into the program's private working folder (its current directory) first, e.g. a SQLite
    database. `preload` modules are imported once in the warm worker before it forks (e.g. ("pandas", "numpy")).
    The program reports its result by calling `__codekiln_send__(value)` with plain data; the first call counts.
    Never raises on bad code: errors, timeouts and memory exhaustion are statuses. A sandbox that fails by itself
    (a worker that will not start, or that dies under a program that cannot signal it) raises `SandboxBroken`.
    """
    return shared_sandbox(preload).run(source, files=files, limits=limits)
