"""Run a verifier's per-sample check on a thread pool (the work itself happens in sandbox processes)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from codekiln.records import Sample, Task, Verdict


def check_all(
    check: Callable[[Task, Sample], Verdict],
    jobs: Sequence[tuple[Task, Sample]],
    workers: int,
    on_verdict: Callable[[int, Verdict], None] | None = None,
) -> list[Verdict]:
    """One verdict per job, in job order; `on_verdict` calls are serialised (callers write them to a file).

    Each pool thread takes the next job until none is left and reports its verdicts itself: the calling thread
    waits once, instead of waking (and taking the GIL from the checks) for every verdict."""
    verdicts: list[Verdict | None] = [None] * len(jobs)
    todo = iter(range(len(jobs)))
    take, report = threading.Lock(), threading.Lock()

    def work() -> None:
        while True:
            with take:
                index = next(todo, None)
            if index is None:
                return
            verdict = check(*jobs[index])
            verdicts[index] = verdict
            if on_verdict is not None:
                with report:
                    on_verdict(index, verdict)

    threads = max(1, min(workers, len(jobs)))
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="codekiln-verify") as pool:
        for future in [pool.submit(work) for _ in range(threads)]:
            future.result()
    return [v for v in verdicts if v is not None]
