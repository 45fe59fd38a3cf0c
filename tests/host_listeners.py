"""Listeners on the host that count who reaches them: the outside view of a sandboxed program's network attempts.

Only this machine's own addresses are used (the loopback range, ::1, unix sockets): the test machine may reach
nothing else. TCP listens on every IPv4 address (so 127.0.0.2 counts too), UDP counts datagrams, and two unix
stream sockets listen: one in the abstract namespace (scoped by network namespace) and one on a file under the
host's /tmp (which the sandbox replaces with a private one).
"""

from __future__ import annotations

import os
import secrets
import select
import socket
from collections import Counter
from pathlib import Path


class HostListeners:
    """`with HostListeners(folder) as ls:` gives `ls.targets` for the program; `ls.drain()` counts what arrived.

    Nothing serves them: the kernel queues each TCP/unix connection and each datagram, and `drain` takes what
    is queued, so the count is exact when it is read (no waiting, no race with a serving thread)."""

    def __init__(self, folder: Path) -> None:
        self.counts: Counter[str] = Counter()
        self.targets: list[tuple[str, str, int]] = []  # (kind, address, port) as the hostile program reads them
        self._socks: dict[socket.socket, tuple[str, bool]] = {}  # socket -> (name, is a stream listener)
        self.unix_path = str(folder / "listener.sock")
        self.abstract = f"\0codekiln-test-{secrets.token_hex(6)}"

    def __enter__(self) -> HostListeners:
        tcp = self._listen(socket.AF_INET, socket.SOCK_STREAM, ("0.0.0.0", 0), "tcp")
        for host in ("127.0.0.1", "127.0.0.2"):
            self.targets.append(("tcp", host, tcp))
        try:
            self.targets.append(("tcp6", "::1", self._listen(socket.AF_INET6, socket.SOCK_STREAM, ("::1", 0), "tcp6")))
        except OSError:  # no IPv6 on this host
            pass
        self.targets.append(("udp", "127.0.0.1", self._listen(socket.AF_INET, socket.SOCK_DGRAM, ("127.0.0.1", 0),
                                                              "udp")))
        self._listen(socket.AF_UNIX, socket.SOCK_STREAM, self.abstract, "abstract")
        self._listen(socket.AF_UNIX, socket.SOCK_STREAM, self.unix_path, "unix")
        os.chmod(self.unix_path, 0o777)  # any uid may connect: only the sandbox's private /tmp hides it
        self.targets += [("unix", self.abstract, 0), ("unix", self.unix_path, 0)]
        return self

    def _listen(self, family: int, kind: int, address: object, name: str) -> int:
        sock = socket.socket(family, kind)
        sock.bind(address)
        if kind == socket.SOCK_STREAM:
            sock.listen(128)
        sock.setblocking(False)
        self._socks[sock] = (name, kind == socket.SOCK_STREAM)
        return sock.getsockname()[1] if family != socket.AF_UNIX else 0

    def drain(self) -> Counter[str]:
        """Count every connection and datagram queued so far (by listener name) and return all counts."""
        while ready := select.select(list(self._socks), [], [], 0)[0]:
            for sock in ready:
                name, stream = self._socks[sock]
                try:
                    if stream:
                        sock.accept()[0].close()
                    else:
                        sock.recvfrom(65536)
                except BlockingIOError:
                    continue
                self.counts[name] += 1
        return Counter(self.counts)

    def name_of(self, target: tuple[str, str, int]) -> str:
        kind, address, _ = target
        if kind == "unix":
            return "abstract" if address == self.abstract else "unix"
        return kind

    def __exit__(self, *exc: object) -> None:
        for sock in self._socks:
            sock.close()
        Path(self.unix_path).unlink(missing_ok=True)


def connect_from_host(target: tuple[str, str, int]) -> None:
    """What the hostile program does for one target, done by the test itself: proves the listener counts."""
    kind, address, port = target
    family = {"tcp": socket.AF_INET, "tcp6": socket.AF_INET6, "udp": socket.AF_INET, "unix": socket.AF_UNIX}[kind]
    with socket.socket(family, socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM) as sock:
        sock.settimeout(2)
        if kind == "udp":
            sock.sendto(b"x", (address, port))
        else:
            sock.connect(address if kind == "unix" else (address, port))
