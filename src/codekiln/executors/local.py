"""The local executor: each task kind's verifier (its own sandbox pool) on this machine, one kind after another."""

from __future__ import annotations

from collections.abc import Callable

from codekiln.config import VerifyConfig
from codekiln.records import Sample, Task, Verdict
from codekiln.verify import get_verifier

Record = Callable[[int, Verdict], None]


def verify_local(by_kind: dict[str, list[tuple[Task, Sample]]], cfg: VerifyConfig, record: Record) -> None:
    """Verify every job, calling `record` once per verdict as it finishes."""
    finished: set[tuple[str, str]] = set()

    def once(index: int, verdict: Verdict) -> None:
        finished.add((verdict.task_id, verdict.sample_id))
        record(index, verdict)

    for kind, jobs in by_kind.items():
        verifier = get_verifier(kind, cfg)
        try:
            results = verifier.verify(jobs, on_verdict=once)
            for verdict in results:  # a verifier that did not report as it went
                if (verdict.task_id, verdict.sample_id) not in finished:
                    once(0, verdict)
        finally:
            verifier.close()
