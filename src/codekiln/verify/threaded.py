"""Run a verifier's per-sample check on a thread pool (the work itself happens in sandbox processes)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from codekiln.records import Sample, Task, Verdict
from codekiln.verify.slot import SandboxBroken


class CheckCrashed(Exception):
    """The sandbox failed twice on one sample (`SandboxBroken`, then again with a fresh worker): the stage stops.
    Verdicts reported before it were handed to `on_verdict`."""

    def __init__(self, task: Task, sample: Sample, what: str) -> None:
        super().__init__(f"the sandbox worker {what} while checking sample {sample.sample_id} of task "
                         f"{task.task_id}, and again with a fresh worker")
        self.task, self.sample, self.what = task, sample, what


def check_all(
    check: Callable[[Task, Sample], Verdict],
    jobs: Sequence[tuple[Task, Sample]],
    workers: int,
    on_verdict: Callable[[Verdict], None] | None = None,
) -> list[Verdict]:
    """One verdict per job, in job order; `on_verdict` calls are serialised (callers write them to a file).

    Each pool thread takes the next job until none is left and reports its verdicts itself: the calling thread
    waits once, instead of waking (and taking the GIL from the checks) for every verdict. A job whose sandbox
    failed by itself (`SandboxBroken`: no verdict of the sample) is checked once more; a second failure raises
    `CheckCrashed`, and the other threads take no new job."""
    verdicts: list[Verdict | None] = [None] * len(jobs)
    todo = iter(range(len(jobs)))
    take, report = threading.Lock(), threading.Lock()
    crashed: list[CheckCrashed] = []

    def work() -> None:
        while not crashed:
            with take:
                index = next(todo, None)
            if index is None:
                return
            try:
                verdict = check(*jobs[index])
            except SandboxBroken:
                try:  # once more: the slot starts a fresh worker
                    verdict = check(*jobs[index])
                except SandboxBroken as err:
                    crashed.append(CheckCrashed(*jobs[index], err.what))
                    return
            verdicts[index] = verdict
            if on_verdict is not None:
                with report:
                    on_verdict(verdict)

    threads = max(1, min(workers, len(jobs)))
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="codekiln-verify") as pool:
        for future in [pool.submit(work) for _ in range(threads)]:
            future.result()
    if crashed:
        raise crashed[0]
    return [v for v in verdicts if v is not None]
