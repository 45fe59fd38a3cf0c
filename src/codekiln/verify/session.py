"""One program's session: the host's side of one program running in a sandbox worker's child (`Session`).

Once its slot (slot.py) hands over a standby child's four pipe ends, the host talks to the program directly:
length-prefixed requests in (the setup marshalled, then calls as b"C" + their tagged JSON, all queued ones in one
write), length-prefixed messages out (JSON, or b"R" + a return value's tagged JSON), stdout and stderr captured
up to a cap (then the read end is closed, so a flood ends in EPIPE instead of filling memory), a wall-clock
deadline. A session whose outcome is known may leave the worker's exit report to be collected later
(`finish(wait=False)`), and its stop to travel with the slot's next run, so the next program does not wait for
the clean-up.

This module imports slot.py and not the reverse: `Session.open(slot, ...)` asks the slot for its next job
(`Slot.next_job`, which restarts a dead worker) and builds the session here, so the slot never needs this class.
"""

from __future__ import annotations

import json
import marshal
import os
import select
import time
from collections import deque
from typing import Any

from codekiln.verify.plain import MAX_FRAME
from codekiln.verify.slot import HEADER_SIZE, Slot, WorkerDied


class Session:
    """One program running in a slot: framed messages both ways, capped stdout/stderr, a wall-clock deadline."""

    def __init__(self, slot: Slot, job: int, setup: dict[str, Any], limits: dict[str, Any]) -> None:
        self.slot = slot
        self.job = job
        self.deadline = time.monotonic() + float(limits["timeout_s"])  # reset once the child is handed over
        self.cap = int(limits["output_bytes"])
        self.timed_out = False
        self.stopped = False  # the host asked the worker to kill the program
        self.exit_code: int | None = None
        self.worker_died = False
        self.inbox: deque[dict[str, Any]] = deque()
        self.bad_frame = False
        self.detach = False  # finish without waiting for the exit report (set when the outcome is known)
        self._want_exit = False
        self._msg_buf = bytearray()
        self._out = {"stdout": bytearray(), "stderr": bytearray()}
        self._pending = bytearray()
        fds = slot.take_standby(time.monotonic() + 30)
        self.deadline = time.monotonic() + float(limits["timeout_s"])  # the program's clock starts now
        try:
            slot.send_ctl(b"r", job, float(limits["timeout_s"]))
        except OSError:
            for fd in fds:
                os.close(fd)
            slot.kill(died=True)
            raise WorkerDied(f"the sandbox worker went away (it {slot.ended})") from None
        # Only the request pipe is non-blocking (a large write must not block while the program floods its
        # output); the others are read only after select reports them readable.
        os.set_blocking(fds[0], False)
        self._fds: dict[str, int | None] = dict(zip(("req", "msg", "stdout", "stderr"), fds, strict=True))
        # The setup goes marshalled (host to sandbox only: the host never unmarshals what a program sends), so the
        # child gets the code object and any files in one `marshal.loads`; written with what the caller queues next.
        self._queue_frame(marshal.dumps({**setup, "limits": limits}))

    @classmethod
    def open(cls, slot: Slot, setup: dict[str, Any], limits: dict[str, Any]) -> Session:
        """Start one program in `slot` (restarting its worker first if it died)."""
        return cls(slot, slot.next_job(), setup, limits)

    # -- I/O
    def _close(self, name: str) -> None:
        fd = self._fds.get(name)
        if fd is not None:
            os.close(fd)
            self._fds[name] = None

    def _pump(self, until: float) -> None:
        """One round of select: read what is there, write what is pending, note exits and deadlines."""
        reads = [fd for key, fd in self._fds.items() if fd is not None and key != "req"]
        sock = self.slot.sock
        # The worker's reports matter once the program's result channel is closed (it ended: the worker has
        # killed its tree) or when finishing; reading them earlier only wakes this thread for nothing.
        if sock is not None and self.exit_code is None and not self.worker_died and (
                self._fds["msg"] is None or self._want_exit):
            if self.slot.ctl_waiting():  # read ahead earlier: no select would report it
                self._read_ctl()
                return
            reads.append(sock.fileno())
        writes = [self._fds["req"]] if self._pending and self._fds["req"] is not None else []
        left = until - time.monotonic()
        if left <= 0:
            return
        ready_r, ready_w, _ = select.select(reads, writes, [], left)
        for fd in ready_w:
            try:
                n = os.write(fd, self._pending)
                del self._pending[:n]
            except BlockingIOError:
                pass
            except OSError:  # the program closed its end or died
                self._pending.clear()
                self._close("req")
        for fd in ready_r:
            if sock is not None and fd == sock.fileno():
                self._read_ctl()
            else:
                self._read_pipe(fd)

    def _read_pipe(self, fd: int) -> None:
        name = next((k for k, v in self._fds.items() if v == fd), None)
        if name is None:  # closed earlier in this round
            return
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            return
        if not chunk:
            self._close(name)
            return
        if name == "msg":
            self._msg_buf += chunk
            self._parse_frames()
        else:
            buf = self._out[name]
            buf += chunk[: max(0, self.cap - len(buf))]
            if len(buf) >= self.cap:
                buf += b"\n[output truncated]"
                self._close(name)  # the program's next write gets EPIPE

    def _parse_frames(self) -> None:
        buf = self._msg_buf
        while len(buf) >= HEADER_SIZE:
            size = int.from_bytes(buf[:HEADER_SIZE], "big")
            if size > MAX_FRAME:
                self.bad_frame = True
                self._close("msg")
                return
            if len(buf) < HEADER_SIZE + size:
                return
            body = bytes(buf[HEADER_SIZE:HEADER_SIZE + size])
            del buf[:HEADER_SIZE + size]
            try:
                if body[:1] == b"R":  # a return value, sent as b"R" + its tagged JSON (no JSON around JSON)
                    msg = {"kind": "return", "value": body[1:].decode("ascii")}
                else:
                    msg = json.loads(body)
            except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
                msg = None
            if not isinstance(msg, dict) or not isinstance(msg.get("kind"), str):
                self.bad_frame = True
                continue
            self.inbox.append(msg)

    def _read_ctl(self) -> None:
        msg, fds = self.slot.read_ctl(time.monotonic() + 5.0)
        if msg is None:
            self.worker_died = True
            self.slot.kill(died=True)
            return
        self.slot.dispatch(msg, fds)
        self._take_exit()

    def _take_exit(self) -> None:
        report = self.slot.exits.pop(self.job, None)
        if report is not None:
            self.exit_code = int(report["code"])
            if report.get("backstop"):
                self.timed_out = True

    @property
    def ended(self) -> bool:
        return self.exit_code is not None or self.worker_died

    def _drained(self) -> bool:
        return self.ended and self._fds["msg"] is None

    # -- API
    def _queue_frame(self, body: bytes) -> None:
        """Add one length-prefixed request frame to the next write (frames queued together reach the program in
        one write)."""
        self._pending += len(body).to_bytes(HEADER_SIZE, "big") + body

    def queue_call(self, payload: str) -> None:
        """Add a call (the tagged JSON of its (args, kwargs), see plain.encode_plain) to the next write."""
        self._queue_frame(b"C" + payload.encode("ascii"))

    def send(self) -> bool:
        """Write all that is queued; False if the program is gone or time ran out."""
        while self._pending:
            if self._fds["req"] is None or self.ended:
                return False
            if time.monotonic() >= self.deadline:
                self.timed_out = True
                return False
            if not self._write_now():
                self._pump(self.deadline)
        return True

    def _write_now(self) -> bool:
        """Write what the pipe takes without waiting (most requests fit); False if it took nothing."""
        fd = self._fds["req"]
        if fd is None:
            return False
        try:
            n = os.write(fd, self._pending)
        except BlockingIOError:
            return False
        except OSError:  # the program closed its end or died
            self._pending.clear()
            self._close("req")
            return True
        del self._pending[:n]
        return n > 0

    def recv(self) -> dict[str, Any] | None:
        """The next message from the program; None when it has ended (or timed out) with nothing more to say."""
        while True:
            if self.inbox:
                return self.inbox.popleft()
            if self._drained() or self.timed_out:
                return None
            if self.ended:  # the program is gone: read what is left in the pipe, without waiting on the clock
                end = time.monotonic() + 5.0
                while self._fds["msg"] is not None and not self.inbox and time.monotonic() < end:
                    self._pump(end)
                if not self.inbox:
                    self._close("msg")  # something still holds the pipe open; give up on it
                continue
            if time.monotonic() >= self.deadline:
                self.timed_out = True
                return None
            self._pump(self.deadline)

    def finish(self, wait: bool = True) -> None:
        """Stop the program if it still runs; with `wait`, also collect the worker's report and the output.
        Without it the slot closes the pipes once the report comes (the caller needs neither)."""
        self._take_exit()
        if not self.ended and self.slot.sock is not None:
            self.stopped = True
            try:
                if wait:
                    self.slot.send_ctl(b"s", self.job)
                else:  # sent with the slot's next run: the worker wakes once for both
                    self.slot.stop_soon(self.job)
            except OSError:
                self.worker_died = True
        if wait or self.ended:
            self.complete()
        else:
            self.slot.pending.append(self)

    def complete(self) -> None:
        """Wait for the worker's exit report, drain the pipes, and close them."""
        self._want_exit = True
        self._take_exit()
        if self.slot.stop_later == self.job:
            try:
                self.slot.flush_stop()
            except OSError:
                self.worker_died = True
        limit = time.monotonic() + 10.0
        while not self.ended and time.monotonic() < limit:
            self._pump(limit)
        if not self.ended:  # a worker that does not answer is replaced
            self.worker_died = True
            self.slot.kill()
        end = time.monotonic() + 2.0
        while any(self._fds[k] is not None for k in ("stdout", "stderr", "msg")) and time.monotonic() < end:
            self._pump(end)
        self.close_pipes()

    def close_pipes(self) -> None:
        for name in list(self._fds):
            self._close(name)

    def output(self, name: str) -> str:
        return self._out[name].decode("utf-8", errors="replace")
