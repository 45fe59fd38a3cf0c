"""The local executor of the verify stage: each task kind's verifier (its own sandbox pool) on this machine, one
kind after another, yielding verdicts as they finish."""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator, Sequence

from codekiln.config import VerifyConfig
from codekiln.records import Sample, Task, Verdict
from codekiln.verify import Verifier, get_verifier

Jobs = Sequence[tuple[Task, Sample]]


def verify_local(by_kind: dict[str, list[tuple[Task, Sample]]], cfg: VerifyConfig) -> Generator[Verdict, None, None]:
    """Every job's verdict, as each finishes; a verifier's error (a crashed sandbox) is raised here."""
    for kind, jobs in by_kind.items():
        verifier = get_verifier(kind, cfg)
        try:
            yield from as_finished(verifier, jobs)
        finally:
            verifier.close()


def as_finished(verifier: Verifier, jobs: Jobs) -> Iterator[Verdict]:
    """`verifier.verify(jobs)` run in a thread of its own, its verdicts yielded in this one as it reports them.

    Verifiers push each verdict to a callback from their own pool threads; the stage wants to pull them (and
    write each to its file before the next). A verifier that did not report as it went has its verdicts
    yielded when it returns."""
    reported: queue.Queue[tuple[str, object]] = queue.Queue()

    def run() -> None:
        try:
            reported.put(("all", verifier.verify(jobs, on_verdict=lambda v: reported.put(("one", v)))))
        except BaseException as err:  # noqa: BLE001 - handed to the consumer, raised there
            reported.put(("error", err))

    threading.Thread(target=run, name="codekiln-verify", daemon=True).start()
    seen: set[tuple[str, str]] = set()
    while True:
        what, value = reported.get()
        if what == "one":
            assert isinstance(value, Verdict)
            seen.add((value.task_id, value.sample_id))
            yield value
        elif what == "error":
            assert isinstance(value, BaseException)
            raise value
        else:
            assert isinstance(value, list)
            yield from (v for v in value if (v.task_id, v.sample_id) not in seen)
            return
