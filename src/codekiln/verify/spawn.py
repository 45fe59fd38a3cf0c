"""Starting a sandbox worker process: the code it runs, and the one thread that launches it.

The worker's code is plain.py then sandbox_worker.py as one script (both standard-library only: see
tests/test_cage_sources.py), compiled here (trusted) and sent marshalled through an inherited pipe, which the
worker's first line (`BOOT`) reads and runs. Workers are launched from one long-lived thread (`spawn`), because
bwrap's --die-with-parent fires when the thread that started it ends.

slot.py (`Slot.start`) is the only user; this module imports nothing of the sandbox's host side.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

_WORKER_SOURCE: str | None = None


def _worker_source() -> str:
    """plain.py then sandbox_worker.py, as one script (the worker finds the codec already defined)."""
    global _WORKER_SOURCE
    if _WORKER_SOURCE is None:
        from codekiln.verify import plain, sandbox_worker

        parts = []
        for module in (plain, sandbox_worker):
            with open(module.__file__, encoding="utf-8") as fh:
                parts.append(fh.read().replace("from __future__ import annotations\n", "", 1))
        _WORKER_SOURCE = "from __future__ import annotations\n" + "\n".join(parts)
    return _WORKER_SOURCE


_WORKER_CODE: bytes | None = None
# The worker's first line: read its marshalled code from an inherited pipe and run it as __main__. Compiling
# the ~45 kB source inside the worker left ~1.7 MB of parser memory resident in it, which every fork copied
# (page-table entries) and every child's exit freed.
BOOT = """import marshal, os
def _boot(fd):
    data = b""
    while chunk := os.read(fd, 1 << 16):
        data += chunk
    os.close(fd)
    return marshal.loads(data)
exec(_boot({fd}))
"""


def worker_code() -> bytes:
    """The worker's code, compiled here (trusted) for the worker's interpreter, which is this one."""
    global _WORKER_CODE
    if _WORKER_CODE is None:
        import marshal

        _WORKER_CODE = marshal.dumps(compile(_worker_source(), "<string>", "exec", dont_inherit=True, optimize=0))
    return _WORKER_CODE


class _Spawner:
    """Starts workers from one long-lived thread: bwrap's --die-with-parent fires when the *thread* that
    started it ends, so workers must not be started from short-lived pool threads."""

    def __init__(self) -> None:
        self._jobs: queue.Queue[tuple[Any, queue.Queue[Any]]] = queue.Queue()
        threading.Thread(target=self._loop, name="codekiln-sandbox-spawner", daemon=True).start()

    def _loop(self) -> None:
        while True:
            fn, reply = self._jobs.get()
            try:
                reply.put((True, fn()))
            except BaseException as err:  # noqa: B036 - handed back to the caller
                reply.put((False, err))

    def run(self, fn: Any) -> Any:
        reply: queue.Queue[Any] = queue.Queue()
        self._jobs.put((fn, reply))
        ok, value = reply.get()
        if not ok:
            raise value
        return value


_spawner_lock = threading.Lock()
_spawner: _Spawner | None = None


def spawn(fn: Any) -> Any:
    """`fn()` (which starts a worker process), run on the spawner thread; its value, or its exception raised here."""
    global _spawner
    with _spawner_lock:
        if _spawner is None:
            _spawner = _Spawner()
    return _spawner.run(fn)
