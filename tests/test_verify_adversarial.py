"""The adversarial corpus (tests/adversarial/*.py): every trick must be contained and never pass.

Each file is a completion for `add(a, b)`; its header lists the acceptable statuses. The corpus runs in one
verifier (2 workers) under limits that keep this machine safe, followed by a correct control sample, so the
verifier must survive everything before it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from codekiln.config import VerifyConfig
from codekiln.records import STATUSES, Sample, Task
from codekiln.verify import isolation
from codekiln.verify.python import PythonVerifier
from sandbox_procs import leftover_programs

CORPUS = Path(__file__).parent / "adversarial"
TASK = Task(
    task_id="adv/add",
    kind="python",
    prompt='def add(a, b):\n    """Return a + b."""\n',
    entry_point="add",
    test="def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n"
    "    assert abs(candidate(0.5, 0.25) - 0.75) < 1e-9\n",
)


def _expected(path: Path) -> set[str]:
    for line in path.read_text().splitlines():
        if line.startswith("# expect:"):
            statuses = set(line.split(":", 1)[1].split())
            assert statuses <= set(STATUSES), path
            return statuses
    raise AssertionError(f"{path} has no '# expect:' line")


def _leftovers(verifier) -> dict[tuple[int, ...], int]:
    """Processes per slot still running under the slot's uids, apart from its waiting standby children."""
    counts = {}
    for slot in verifier.sandbox._all:
        for session in list(slot.pending):
            session.complete()
        if slot.uids is not None:
            counts[slot.uids] = leftover_programs([slot], wait_s=3.0)
    return counts


@pytest.fixture(scope="module")
def corpus_verdicts():
    files = sorted(CORPUS.glob("*.py"))
    if isolation.detect().mode == "none":  # without bubblewrap some tricks cannot be contained: leave them out
        unsafe = {"disk_fill"} if os.geteuid() == 0 else {"disk_fill", "kill_everything", "fork_bomb", "kill_parent"}
        files = [f for f in files if f.stem not in unsafe]
    jobs = [(TASK, Sample(task_id=TASK.task_id, completion=f.read_text(), sample_id=f.stem)) for f in files]
    jobs.append((TASK, Sample(task_id=TASK.task_id, completion="def add(a, b):\n    return a + b\n",
                              sample_id="control-after")))
    verifier = PythonVerifier(VerifyConfig(workers=2, timeout_s=3.0, memory_mb=256))
    try:
        verdicts = verifier.verify(jobs)
        leftovers = _leftovers(verifier)
    finally:
        verifier.close()
    return files, {v.sample_id: v for v in verdicts}, leftovers


def test_corpus_is_complete():
    names = {f.stem for f in CORPUS.glob("*.py")}
    for trick in ("exit_zero_at_load", "os_exit_in_call", "atexit_trick", "excepthook", "del_systemexit",
                  "patch_builtins", "always_equal", "frame_walk", "kill_parent", "fork_bomb", "memory_bomb",
                  "stdout_flood", "disk_fill", "loop_catching", "signal_ignoring", "daemon_grandchild"):
        assert trick in names


def test_every_trick_gets_its_verdict(corpus_verdicts):
    files, verdicts, _ = corpus_verdicts
    wrong = {}
    for f in files:
        v = verdicts[f.stem]
        if v.status not in _expected(f):
            wrong[f.stem] = (v.status, v.feedback[:200])
    assert not wrong
    passed = {name for name, v in verdicts.items() if v.passed}
    assert passed == {"correct_control", "control-after"}


def test_nothing_is_left_running(corpus_verdicts):
    _, _, leftovers = corpus_verdicts
    assert all(count == 0 for count in leftovers.values()), leftovers  # daemons and fork bombs are gone


def test_flood_output_is_capped(corpus_verdicts):
    _, verdicts, _ = corpus_verdicts
    assert len(verdicts["stdout_flood"].feedback) <= 2000
