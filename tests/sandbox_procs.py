"""What is left running under the sandbox slots' uids, seen from the host (tests run as root for this)."""

from __future__ import annotations

import subprocess
import time


def live_processes(uids) -> list[tuple[int, int]]:
    """(pid, parent pid) of the live (non-zombie) host processes running as one of `uids`."""
    out = subprocess.run(["ps", "-eo", "pid=,ppid=,uid=,stat="], capture_output=True, text=True, check=True).stdout
    rows = (line.split() for line in out.splitlines() if line.strip())
    return [(int(pid), int(ppid)) for pid, ppid, uid, stat in rows if int(uid) in uids and not stat.startswith("Z")]


def standbys(slots) -> int:
    """Children the slots' workers forked ahead and announced, still waiting for a program."""
    for slot in slots:
        while slot.sock is not None and (report := slot.read_ctl(0.0))[0] is not None:
            slot.dispatch(*report)
    return sum(len(slot.standby_fds) for slot in slots)


def leftover_programs(slots, wait_s: float = 10.0) -> int:
    """Processes under the slots' uids that are not waiting standby children: what programs left behind.
    Waits up to `wait_s` for the sweeps of finished programs (they run while the next one starts)."""
    uids = {uid for slot in slots for uid in slot.uids or ()}
    deadline = time.monotonic() + wait_s
    while (left := len(live_processes(uids)) - standbys(slots)) != 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    return left
