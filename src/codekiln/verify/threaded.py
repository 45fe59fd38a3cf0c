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
    """One verdict per job, in job order; `on_verdict` calls are serialised (callers write them to a file)."""
    verdicts: list[Verdict | None] = [None] * len(jobs)
    report = threading.Lock()

    def one(index: int) -> None:
        verdict = check(*jobs[index])
        verdicts[index] = verdict
        if on_verdict is not None:
            with report:
                on_verdict(index, verdict)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        list(pool.map(one, range(len(jobs))))
    return [v for v in verdicts if v is not None]
