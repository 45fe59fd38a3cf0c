"""The CPU each sandbox slot keeps: its worker, the worker's programs and the host thread that talks to them.

A program's messages go back and forth between the host thread, the program's process and its worker; on
different CPUs every message wakes a sleeping process through an inter-processor interrupt, which is dear in a
VM. Kept on one CPU per slot, the HumanEval benchmark ran 7-10% more programs per second (median of 14 rounds,
four A/B pairs), and another 2-14% with the host thread as SCHED_BATCH (see `pin_thread`).

CPUs are claimed with a lock file each, so that two sandboxes (two Ray verify actors on one node, two
`codekiln verify` runs, two verifiers in one process) never pin their slots to the same CPUs: a sandbox that
cannot claim one CPU per slot pins nothing and leaves its slots to the scheduler.
"""

from __future__ import annotations

import fcntl
import os
import tempfile


class CpuClaim:
    """CPUs held for one sandbox's slots (`cpus[i]` for slot i, None when unpinned) until `release`."""

    def __init__(self, workers: int, pin: bool = True) -> None:
        self._fds: list[int] = []
        self.cpus: list[int | None] = [None] * workers
        if not pin:
            return
        try:
            allowed = sorted(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            return
        if not 2 <= workers <= len(allowed):  # one slot may use a second CPU for its worker's clean-up
            return
        claimed: list[int] = []
        for cpu in allowed:
            fd = _try_lock(cpu)
            if fd is not None:
                self._fds.append(fd)
                claimed.append(cpu)
                if len(claimed) == workers:
                    self.cpus = list(claimed)
                    return
        self.release()  # not one CPU per slot: pin nothing

    def release(self) -> None:
        for fd in self._fds:
            os.close(fd)  # closing the descriptor drops its lock
        self._fds = []


def _try_lock(cpu: int) -> int | None:
    path = os.path.join(tempfile.gettempdir(), f"codekiln-cpu-{cpu}.lock")
    try:  # read-only is enough for flock, so users share the lock files; never through a planted symlink
        fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # held by another sandbox
        os.close(fd)
        return None
    return fd


def pin_thread(cpu: int | None) -> None:
    """Keep the calling thread on `cpu` (it stays there: putting it back after each program measured slower),
    as a SCHED_BATCH thread: woken by a program's answer, it does not preempt the program, which goes on to
    write its next answers, so the thread wakes once for several. (The program writes each answer at once; a
    thread waiting on a hung program still gets the CPU within a time slice.)"""
    if cpu is None:
        return
    try:
        if os.sched_getaffinity(0) != {cpu}:
            os.sched_setaffinity(0, {cpu})
            os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    except OSError:  # the CPU went away (hotplug, a changed cpuset): run anywhere
        pass
