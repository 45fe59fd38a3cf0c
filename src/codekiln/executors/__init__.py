"""Where the sample and verify stages run: `local` (this machine's process pools) or `ray` (a Ray cluster).

Both executors see the same work (the samples still to verify, the (task, index) pairs still to sample) and
hand each finished result to the same callback, which streams it to the run folder. So the files they write
are the same, and a rerun after a kill resumes from whatever reached the file, whichever executor wrote it.
Ray is imported only when `executor=ray` is used.
"""

from __future__ import annotations

from codekiln.errors import UserError

EXECUTORS = ("local", "ray")


def check_executor(name: str) -> str:
    """`name` if it is a known executor, else a UserError naming the choices."""
    if name not in EXECUTORS:
        raise UserError(f"unknown executor {name!r}; choose from {', '.join(EXECUTORS)}")
    return name
