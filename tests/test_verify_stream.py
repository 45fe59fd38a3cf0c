"""The local verify executor yields each verdict as its verifier reports it, once, and raises the verifier's error."""

from __future__ import annotations

import threading

import pytest

from codekiln.executors.local import as_finished
from codekiln.records import Sample, Task, Verdict

TASK = Task("t/1", "python", "def f():\n", entry_point="f")
JOBS = [(TASK, Sample(TASK.task_id, "pass", sample_id=f"s{i}")) for i in range(3)]


def verdict(i: int) -> Verdict:
    return Verdict(TASK.task_id, f"s{i}", "passed", True, 1.0)


class Gated:
    """Reports s0, then waits until the consumer has it before reporting the rest (a verifier that would block
    forever if its verdicts reached the stage only when it returned)."""

    def __init__(self, fail_after_first: bool = False, report: bool = True) -> None:
        self.first_taken = threading.Event()
        self.fail_after_first, self.report = fail_after_first, report

    def verify(self, jobs, on_verdict=None):
        if not self.report:
            return [verdict(i) for i in range(len(jobs))]
        on_verdict(verdict(0))
        assert self.first_taken.wait(timeout=30), "the first verdict never reached the consumer"
        if self.fail_after_first:
            raise RuntimeError("sandbox broke")
        on_verdict(verdict(2))
        return [verdict(i) for i in range(len(jobs))]  # s1 was never reported: it comes with the list


def test_verdicts_arrive_while_the_verifier_still_runs_each_once():
    verifier = Gated()
    stream = as_finished(verifier, JOBS)
    assert next(stream).sample_id == "s0"
    verifier.first_taken.set()
    assert [v.sample_id for v in stream] == ["s2", "s1"]


def test_a_verifier_that_reports_nothing_yields_its_list():
    assert [v.sample_id for v in as_finished(Gated(report=False), JOBS)] == ["s0", "s1", "s2"]


def test_the_verifiers_error_is_raised_to_the_consumer_after_what_it_reported():
    verifier = Gated(fail_after_first=True)
    stream = as_finished(verifier, JOBS)
    assert next(stream).sample_id == "s0"
    verifier.first_taken.set()
    with pytest.raises(RuntimeError, match="sandbox broke"):
        next(stream)
