"""The worker slot: one warm sandbox worker process and the host's end of its control socket (`Slot`).

A slot starts its worker (inside bubblewrap when available; spawn.py holds the code it runs and the thread that
launches it), restarts it when it died (`WorkerDied`, `SandboxBroken`), and gives its programs uids of their own.
The worker forks each program's child ahead of time and hands the host its four pipe ends with SCM_RIGHTS
("standby"). The host tells the worker "run" (the job id, for the backstop clock) and "stop" in fixed-size
records, a stop often with the next run (`stop_soon`), so the worker wakes once per program; the worker reports
the program's exit after it has killed the program's whole process tree.

One program's pipes and frames are session.py's job. session.py imports this module, never the reverse: a slot
does not make sessions (`Slot.next_job` readies the slot and numbers the next program; `Session.open` builds the
session), and knows the stopped ones it still owes a clean-up only as `StoppedSession`s.
"""

from __future__ import annotations

import itertools
import json
import os
import select
import socket
import struct
import subprocess
import tempfile
import threading
import time
from collections import deque
from typing import Any, Protocol

from codekiln.errors import exit_text
from codekiln.verify import isolation, seccomp
from codekiln.verify.spawn import BOOT, spawn, worker_code

HEADER_SIZE = 4  # the length prefix of every frame, both ways (plain._HEADER)
_CTL = struct.Struct(">cqd")  # host to worker: op, job, timeout (sandbox_worker.CTL)
_uid_counter = itertools.count()
# Slot indices (0-31) of this process's live slots: a new slot takes a free one, so two live slots never share
# uids (a program's tree is killed by its uids). Past 32 live slots, indices are shared as a last resort.
_live_slot_indices: set[int] = set()
_slot_index_lock = threading.Lock()


def _take_slot_index() -> int:
    with _slot_index_lock:
        index = next((i for i in range(32) if i not in _live_slot_indices), None)
        if index is None:
            index = next(_uid_counter) % 32
        _live_slot_indices.add(index)
        return index


def _release_slot_index(index: int) -> None:
    with _slot_index_lock:
        _live_slot_indices.discard(index)
# The CPUs this process may use, read when it imports the sandbox (normally from its main thread): a worker
# takes these, or its slot's one CPU, and not the affinity of whichever thread happened to start it.
try:
    _ALL_CPUS = sorted(os.sched_getaffinity(0))
except (AttributeError, OSError):
    _ALL_CPUS = []
# Children a worker forks ahead in one batch (root only: each needs a uid of its own). Larger batches copy the
# worker's pages less often (see sandbox_worker._Worker) and cost a waiting process each.
STANDBYS = 4
_UIDS_PER_SLOT = 8  # uids reserved per slot (STANDBYS + 1 used), 32 slots per host process


_warned: set[str] = set()


def _warn_once(text: str) -> None:
    if text not in _warned:
        _warned.add(text)
        import warnings

        warnings.warn(f"codekiln sandbox: weaker isolation: {text}", isolation.IsolationWarning, stacklevel=4)


_FDS_SPACE = socket.CMSG_SPACE(8 * struct.calcsize("i"))


def _recv_with_fds(sock: socket.socket) -> tuple[bytes, list[int]]:
    """What the socket holds now, and the fds that came with it; BlockingIOError when it holds nothing.
    (`socket.recv_fds` in Python 3.11 drops its `flags`, so MSG_DONTWAIT would not reach the kernel.)"""
    data, ancillary, _, _ = sock.recvmsg(1 << 16, _FDS_SPACE, socket.MSG_DONTWAIT)
    fds: list[int] = []
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            whole = len(payload) - len(payload) % 4
            fds += struct.unpack(f"{whole // 4}i", payload[:whole])
    return data, fds


class WorkerDied(Exception):
    """The worker process went away (it is restarted on next use)."""


class SandboxBroken(BaseException):
    """A fresh worker died too: it did not start, or it died under a program that cannot have killed it (one that
    runs as a uid of its own and cannot signal its worker). The sandbox, not the program, is at fault, so this is
    no verdict: the verify stage stops (see threaded.check_all). A BaseException, so that a verifier's
    `except Exception` (a verdict never raises) does not turn a broken sandbox into the sample's verdict."""

    def __init__(self, what: str) -> None:
        super().__init__(f"the sandbox worker {what}")
        self.what = what  # e.g. "was killed by SIGSEGV (signal 11)", "did not start (exited with code 1)"


class StoppedSession(Protocol):
    """A stopped program whose exit report is still on its way, as its slot sees it (a `session.Session`): the
    slot closes its pipes once the report comes, or when the worker goes."""

    job: int

    def close_pipes(self) -> None: ...

    def complete(self) -> None: ...


class Slot:
    """One warm worker. Not thread-safe: a Sandbox hands each slot to one thread at a time."""

    def __init__(self, iso: isolation.Isolation, preload: tuple[str, ...], disk_mb: int,
                 cpu: int | None = None) -> None:
        self.iso = iso
        self.cpu = cpu  # the CPU the worker and its programs are kept on (see cpus.py), or None
        self.preload = preload
        self.disk_mb = disk_mb
        # Each slot's programs run as uids of their own, in turn (when root): NPROC binds per program, and the
        # standby children wait under other uids while the current program's tree is killed by its uid.
        self._index: int | None = _take_slot_index()
        slot = self._index
        base = 200000 + ((os.getpid() % 8192) * 32 + slot) * _UIDS_PER_SLOT if iso.drops_uid else None
        self.uids: tuple[int, ...] | None = (tuple(range(base, base + STANDBYS + 1)) if base is not None else None)
        self.proc: subprocess.Popen[bytes] | None = None
        self.ended: str = ""  # how the last worker ended, when it died by itself (see `kill`)
        self.sock: socket.socket | None = None
        self._jobs = itertools.count(1)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.preloaded: list[str] = []
        self.seccomp = False
        self.standby_fds: deque[list[int]] = deque()  # the host ends of the worker's next, already forked children
        self.pending: list[StoppedSession] = []  # stopped sessions whose exit report is still on its way
        self.exits: dict[int, dict[str, Any]] = {}  # exit reports by job, until their session reads them
        self._ctl_buf = bytearray()  # control bytes read ahead from the worker
        self.stop_later: int | None = None  # a job to stop with the next message to the worker
        self._ctl_fds: deque[list[int]] = deque()  # fds read ahead, each list for the next standby message

    # -- lifecycle
    def start(self) -> None:
        """Start the worker. Under bubblewrap, bwrap itself loads the seccomp filter (the worker then needs no
        ctypes); if that fails on this kernel, the worker is started again to install the filter itself (and to
        report, so the host warns, if it cannot)."""
        bpf = seccomp.filter_bpf() if self.iso.mode.startswith("bwrap") else None
        if bpf is not None:
            try:
                self._start(bpf)
                return
            except WorkerDied:
                self.kill()
        self._start(None)

    def _start(self, bwrap_seccomp: bytes | None) -> None:
        host, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        env = {"CODEKILN_SOCK_FD": str(child.fileno()), "CODEKILN_SWEEP": self.iso.sweep,
               "CODEKILN_PRELOAD": ",".join(self.preload),
               "CODEKILN_PATH": os.pathsep.join(isolation.python_paths()),
               "CODEKILN_UIDS": ",".join(map(str, self.uids or ())),
               "CODEKILN_CPUS": ",".join(map(str, _ALL_CPUS if self.cpu is None else [self.cpu])),
               "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"}
        if bwrap_seccomp is None:
            env.update(seccomp.bpf_env())
        python = isolation.real_python()
        code_r, code_w = os.pipe()
        pass_fds = [child.fileno(), code_r]
        filter_r = None
        if self.iso.mode.startswith("bwrap"):
            if bwrap_seccomp is not None:  # a pipe holds the filter (a few hundred bytes: the write cannot block)
                filter_r, filter_w = os.pipe()
                os.write(filter_w, bwrap_seccomp)
                os.close(filter_w)
                pass_fds.append(filter_r)
            argv = isolation.bwrap_argv(python, self.disk_mb, env, self.iso.mode == "bwrap-root", filter_r)
            popen_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        else:
            self._tmp = tempfile.TemporaryDirectory(prefix="codekiln-sandbox-")
            os.chmod(self._tmp.name, 0o755)
            argv, popen_env = [python], {**env, "CODEKILN_TMP": self._tmp.name}
        argv = argv + ["-I", "-S", "-c", BOOT.format(fd=code_r)]

        def launch() -> subprocess.Popen[bytes]:
            return subprocess.Popen(argv, pass_fds=pass_fds, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=popen_env,
                                    start_new_session=True)

        try:
            try:
                self.proc = spawn(launch)
            finally:
                os.close(code_r)
                if filter_r is not None:
                    os.close(filter_r)
                child.close()
            data = memoryview(worker_code())
            while data:  # the worker reads while this writes; a worker that failed to start shows below
                try:
                    data = data[os.write(code_w, data):]
                except OSError:
                    break
        finally:
            os.close(code_w)
        self.sock = host
        ready = self._wait_ready(time.monotonic() + 120)
        if ready is None or ready.get("event") != "ready":
            self.kill(died=True)
            raise WorkerDied(f"the sandbox worker did not start (it {self.ended})")
        self.preloaded = ready.get("preloaded", [])
        self.seccomp = bool(ready.get("seccomp"))
        if not self.seccomp:
            _warn_once(seccomp.missing_reason() if seccomp.filter_bpf() is None
                       else "the seccomp filter could not be installed on this kernel")
        if ready.get("failed"):
            import warnings

            warnings.warn(f"codekiln sandbox: could not preload {ready['failed']}", isolation.IsolationWarning,
                          stacklevel=3)

    def _wait_ready(self, deadline: float) -> dict[str, Any] | None:
        """The worker's first message, or None when its socket closed, time ran out, or the process this host
        started (bwrap, under bubblewrap) ended first: a sandbox whose bwrap died while it was being set up may
        live on without it (out of reach of `kill`), so it is not used."""
        assert self.proc is not None
        while True:
            step = min(deadline, time.monotonic() + 0.25)
            msg, _ = self.read_ctl(step)  # the first message brings no fds
            if self.proc.poll() is not None:
                return None
            if msg is not None or time.monotonic() < step or step >= deadline:
                return msg  # a message; or, before the step ended, the socket closed; or time ran out

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None and self.sock is not None

    def kill(self, died: bool = False) -> None:
        """Stop the worker and forget its programs. `died`: its socket closed, so it is going by itself; its own
        exit status (a signal that killed it, say) is waited for briefly and kept in `ended`."""
        for session in self.pending:
            session.close_pipes()
        self.pending = []
        self.exits.clear()
        while self.standby_fds:
            for fd in self.standby_fds.popleft():
                os.close(fd)
        self._ctl_buf.clear()
        self.stop_later = None
        while self._ctl_fds:
            for fd in self._ctl_fds.popleft():
                os.close(fd)
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.proc is not None:
            code = self.proc.poll()
            if code is None and died:
                try:
                    code = self.proc.wait(timeout=2.0)
                except subprocess.TimeoutExpired:
                    pass
            try:
                os.killpg(self.proc.pid, 9)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait()
            self.proc = None
            if died:
                self.ended = self._exit_text(code)

    def _exit_text(self, code: int | None) -> str:
        """How the worker ended; under bubblewrap a worker killed by signal N shows as bwrap's exit code 128 + N."""
        if code is not None and self.iso.mode.startswith("bwrap") and 128 < code < 128 + 65:
            code = -(code - 128)
        return exit_text(code)

    def close(self) -> None:
        self.kill()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
        if self._index is not None:  # its uids may go to a new slot now that its programs are gone
            _release_slot_index(self._index)
            self._index = None

    # -- control channel
    def read_ctl(self, deadline: float) -> tuple[dict[str, Any] | None, list[int]]:
        """One control message from the worker and the fds sent with it; None when it died or time ran out.

        Reads whatever is there in one go, and tries before it waits: a report that is already waiting costs
        one recvmsg. The kernel hands over at most one message's fds per read, and they arrive with (or
        before) that message's bytes, so fds read ahead belong to the next standby message in the buffer."""
        assert self.sock is not None
        buf = self._ctl_buf
        while True:
            msg = self._buffered_ctl()
            if msg is not None:
                fds = self._ctl_fds.popleft() if msg.get("event") == "standby" and self._ctl_fds else []
                return msg, fds
            try:
                chunk, fds = _recv_with_fds(self.sock)
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self.sock], [], [], left)[0]:
                    return None, []
                continue
            except OSError:
                chunk, fds = b"", []
            if fds:
                self._ctl_fds.append(fds)
            if not chunk:
                return None, []
            buf += chunk

    def _buffered_ctl(self) -> dict[str, Any] | None:
        buf = self._ctl_buf
        if len(buf) < HEADER_SIZE:
            return None
        end = HEADER_SIZE + int.from_bytes(buf[:HEADER_SIZE], "big")
        if len(buf) < end:
            return None
        body = bytes(buf[HEADER_SIZE:end])
        del buf[:end]
        return json.loads(body)

    def ctl_waiting(self) -> bool:
        """Whether a whole control message has been read ahead (select on the socket would not see it)."""
        buf = self._ctl_buf
        return len(buf) >= HEADER_SIZE and len(buf) >= HEADER_SIZE + int.from_bytes(buf[:HEADER_SIZE], "big")

    def send_ctl(self, op: bytes, job: int, timeout_s: float = 0.0) -> None:
        """Tell the worker to run (b"r") or stop (b"s") a job: a fixed-size record (see sandbox_worker.CTL),
        after the stop left for later, if any (the worker handles both in one wake-up)."""
        assert self.sock is not None
        data = _CTL.pack(op, job, timeout_s)
        if self.stop_later is not None:
            data = _CTL.pack(b"s", self.stop_later, 0.0) + data
            self.stop_later = None
        self.sock.sendall(data)

    def stop_soon(self, job: int) -> None:
        """Stop `job` with the next message to the worker, or at `flush_stop` (a program whose verdict is known
        and that waits for a request meanwhile: it costs nothing but memory until then)."""
        if self.stop_later is not None:
            self.flush_stop()
        self.stop_later = job

    def flush_stop(self) -> None:
        """Send the stop left for later now."""
        if self.stop_later is not None and self.sock is not None:
            job, self.stop_later = self.stop_later, None
            self.sock.sendall(_CTL.pack(b"s", job, 0.0))

    def dispatch(self, msg: dict[str, Any], fds: list[int]) -> None:
        """File a worker report: a new standby child's pipes, or a program's exit."""
        if msg.get("event") == "standby" and len(fds) == 4:
            self.standby_fds.append(fds)
            return
        for fd in fds:
            os.close(fd)
        if msg.get("event") == "exit":
            self.exits[int(msg["job"])] = msg

    def take_standby(self, deadline: float) -> list[int]:
        """The pipes of the worker's next child (children are handed out in the order they were announced),
        waiting for its announcement if needed. A worker that forks its next child only after the previous
        program's tree is gone (no uids of its own: see sandbox_worker._Worker) needs that program's stop first,
        so a stop held back for the next run is sent now."""
        if not self.standby_fds and self.stop_later is not None:
            try:
                self.flush_stop()
            except OSError:  # the worker is gone (a program may signal it when there are no uids to drop to)
                self.kill(died=True)
                raise WorkerDied(f"the sandbox worker went away (it {self.ended})") from None
        while not self.standby_fds:
            msg, fds = self.read_ctl(deadline) if self.sock is not None else (None, [])
            if msg is None:
                self.kill(died=True)
                raise WorkerDied(f"the sandbox worker went away (it {self.ended})")
            self.dispatch(msg, fds)
        return self.standby_fds.popleft()

    def _close_reported(self, wait_s: float) -> None:
        """Close the pipes of stopped programs whose exit the worker has reported. The host may run a few
        programs ahead of the worker's clean-up (it holds a batch of standby children); when it is further
        ahead than that, it waits up to `wait_s` for the reports, and a worker that still has not sent them is
        replaced."""
        deadline = time.monotonic() + wait_s
        while self.pending and self.sock is not None:
            msg, fds = self.read_ctl(0.0)  # reports already sent, without waiting
            if msg is not None:
                self.dispatch(msg, fds)
                continue
            for session in list(self.pending):
                if session.job in self.exits:
                    self.exits.pop(session.job)
                    session.close_pipes()
                    self.pending.remove(session)
            if len(self.pending) <= STANDBYS + 2:
                return
            msg, fds = self.read_ctl(deadline)
            if msg is None:
                self.kill()
                return
            self.dispatch(msg, fds)

    def next_job(self) -> int:
        """Ready this slot for its next program (restarting the worker first if it died) and number that program
        (see `session.Session.open`)."""
        self._close_reported(wait_s=10.0)
        if not self.alive():
            self.kill()
            self.start()
        return next(self._jobs)

