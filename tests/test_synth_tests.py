"""Tests made from a reference: the reference passes them and a planted bug fails them (through the real python
verifier), inputs the reference cannot answer are dropped, a hostile test-writing model is contained, a weak test
grades low, and the CLI writes a task file the loop accepts (a file without tests is refused with the way out)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from contextlib import closing

import pytest

from codekiln.config import VerifyConfig
from codekiln.errors import UserError
from codekiln.records import Sample, Task, read_jsonl, write_jsonl
from codekiln.tasks.synth_tests import grade, keep, parse_call, run_reference, synthesize_task
from codekiln.verify.python import PythonVerifier
from codekiln.verify.sandbox import Limits, Sandbox

CLAMP = Task(task_id="clamp", kind="python", entry_point="clamp", split="train",
             prompt='def clamp(x: int, lo: int, hi: int) -> int:\n    """Limit x to [lo, hi].\n\n'
                    '    >>> clamp(5, 0, 3)\n    3\n    """\n',
             reference="    if x < lo:\n        return lo\n    if x > hi:\n        return hi\n    return x\n")
LIMITS = Limits(timeout_s=2.0)


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=2) as box:
        yield box


def verdict(task: Task, body: str) -> str:
    with closing(PythonVerifier(VerifyConfig(workers=1, recheck=[]))) as verifier:
        (v,) = verifier.verify([(task, Sample(task_id=task.task_id, sample_id="s", completion=task.prompt + body))])
    return v.status


def test_the_reference_passes_and_a_planted_bug_fails(sandbox):
    result = synthesize_task(CLAMP, sandbox, LIMITS)
    assert result.task.test and "def check(candidate):" in result.task.test
    assert result.cases[0].args == (5, 0, 3) and result.cases[0].expected == 3  # the docstring's example first
    assert verdict(result.task, CLAMP.reference) == "passed"
    off_by_one = "    if x < lo:\n        return lo\n    if x >= hi:\n        return hi - 1\n    return x\n"
    assert verdict(result.task, off_by_one) == "failed"
    assert result.mutants_changed > 0 and result.mutation_score >= 0.8
    assert result.task.meta["tests"] == "synthesized"


def test_inputs_the_reference_crashes_or_hangs_on_are_dropped(sandbox):
    task = Task(task_id="inv", kind="python", entry_point="inv", split="train",
                prompt='def inv(x: int) -> float:\n    """1 / x; never returns for negative x."""\n',
                reference="    while x < 0:\n        pass\n    return 1 / x\n")
    cases = run_reference(task, [(2,), (0,), (-1,), (4,)], sandbox, Limits(timeout_s=1.0))
    assert [c.args for c in cases] == [(2,), (4,)]
    assert [c.expected for c in cases] == [0.5, 0.25]


def test_a_reference_that_answers_differently_each_time_gives_no_case(sandbox):
    task = Task(task_id="noisy", kind="python", entry_point="noisy", split="train",
                prompt='def noisy(x: int) -> int:\n    """x plus noise."""\n',
                reference="    import os\n    return x + int.from_bytes(os.urandom(8), 'big')\n")
    assert run_reference(task, [(1,), (2,)], sandbox, LIMITS) == []


def test_floats_are_compared_with_the_verifiers_tolerance(sandbox):
    task = Task(task_id="third", kind="python", entry_point="third", split="train",
                prompt='def third(x: float) -> float:\n    """x / 3."""\n', reference="    return x / 3\n")
    result = synthesize_task(task, sandbox, LIMITS, proposed=["third(1.0)"])
    assert "_near(candidate(1.0)" in result.task.test
    assert verdict(result.task, "    return x * (1 / 3)\n") == "passed"  # not bit-equal, within tolerance
    assert verdict(result.task, "    return x / 3.01\n") == "failed"


def test_a_hostile_test_writing_model_is_contained(sandbox, tmp_path):
    marker = tmp_path / "pwned"
    hostile = [f"clamp(__import__('os').system('touch {marker}'), 0, 1)",
               f"__import__('os').system('touch {marker}')",
               "clamp(*[1, 2, 3])", "clamp(x=1, lo=0, hi=2)", "clamp(" + "[" * 5000 + "]" * 5000 + ", 0, 1)",
               "clamp(10 ** 10 ** 10, 0, 1)", "clamp(1, 0, 2)"]
    assert [parse_call(line, "clamp") for line in hostile] == [None] * 6 + [(1, 0, 2)]
    result = synthesize_task(CLAMP, sandbox, LIMITS, proposed=hostile)
    assert result.sources["model"] == 1 and (1, 0, 2) in [c.args for c in result.cases]
    assert not marker.exists()


def test_a_weak_test_grades_low_and_is_dropped_at_the_threshold(sandbox):
    # One trivial assert (x already at the lower bound) against a pool that also reaches both clamps.
    pool = run_reference(CLAMP, [(0, 0, 3), (5, 0, 3), (-2, 0, 3), (1, 0, 3), (3, 0, 3)], sandbox, LIMITS)
    changed, killed_by_one = grade(CLAMP, pool, 1, sandbox, LIMITS)
    _, killed_by_all = grade(CLAMP, pool, len(pool), sandbox, LIMITS)
    assert changed >= 4 and killed_by_one / changed <= 0.25 and killed_by_all == changed
    weak = dataclasses.replace(synthesize_task(CLAMP, sandbox, LIMITS, max_cases=1), mutants_killed=killed_by_one,
                               mutants_changed=changed)
    assert not keep(weak, 0.8) and keep(weak, 0.0)


def test_cli_writes_tasks_the_loop_accepts_and_the_loop_refuses_untested_ones(tmp_path):
    untested = tmp_path / "untested.jsonl"
    write_jsonl(untested, [dataclasses.replace(CLAMP, split=s, task_id=f"clamp-{i}")
                           for i, s in enumerate(["train"] * 8 + ["test"] * 2)])
    out = tmp_path / "tested.jsonl"
    done = subprocess.run([sys.executable, "-m", "codekiln.cli", "tasks", "synthesize-tests", "--tasks", str(untested),
                           "--out", str(out), "--no-model", "--quiet"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "wrote 10 of 10 tasks" in done.stderr
    assert all(t.test for t in read_jsonl(out, Task))
    from codekiln.config import RunConfig
    from codekiln.loop import run

    with pytest.raises(UserError, match="have no ground truth, .*synthesize-tests"):
        run(RunConfig(tasks=str(untested), runs_dir=str(tmp_path / "runs")), quiet=True)
    bad = subprocess.run([sys.executable, "-m", "codekiln.cli", "tasks", "synthesize-tests", "--tasks", str(out),
                          "--out", str(tmp_path / "x.jsonl"), "--no-model", "--min-mutation-score", "2"],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "between 0 and 1" in bad.stderr


def test_mutants_differ_from_the_source_and_each_other():
    from codekiln.tasks.mutants import mutants

    source = "def f(xs):\n    t = 0\n    for x in xs:\n        if x > 0:\n" \
             "            t += x * 2\n    return t\n"
    found = mutants(source)
    assert len(found) == len(set(found)) >= 6 and source not in found
    assert any("x >= 0" in m for m in found) and any("t -= x" in m for m in found) and mutants("def (:") == []


def test_without_a_reference_tests_and_solutions_must_agree(sandbox, tmp_path):
    from codekiln.tasks.synth_tests import synthesize_without_reference

    task = Task(task_id="double", kind="python", entry_point="double", split="train",
                prompt='def double(x: int) -> int:\n    """Return 2 * x."""\n', reference="    return x * 2\n")
    marker = tmp_path / "pwned"
    assertions = ["assert double(2) == 4", "assert double(0) == 0", "assert double(3) == 7",  # the last one is wrong
                  f"assert double(__import__('os').system('touch {marker}')) == 0", "print('hi')"]
    right = "def double(x):\n    return x + x\n"
    solutions = [right, "def double(x):\n    return 2 * x\n", "def double(x):\n    return x + 1\n",
                 "import os\nos._exit(0)\n"]
    result = synthesize_without_reference(dataclasses.replace(task, reference=None), sandbox, LIMITS, assertions,
                                          solutions)
    assert [c.args for c in result.cases] == [(2,), (0,)]  # the wrong test and the hostile lines are gone
    assert result.task.meta["trust"] == "low" and result.task.meta["agreeing_solutions"] == 2
    assert result.task.reference == right and not marker.exists()
    assert verdict(result.task, "    return x * 2\n") == "passed" and verdict(result.task, "    return x\n") == "failed"
    lonely = synthesize_without_reference(task, sandbox, LIMITS, assertions[:2], [right, solutions[2], solutions[3]])
    assert lonely.cases == () and lonely.task.test is None  # no two solutions agree on a test


def test_edge_cases_keep_the_shape_the_docstring_examples_promise(sandbox):
    from codekiln.tasks.synth_tests import docstring_calls, edge_calls

    def task(sig: str, example: str) -> Task:
        name = sig.split("(")[0]
        return Task(task_id=name, kind="python", entry_point=name, split="train", reference="    pass\n",
                    prompt=f'def {sig}:\n    """Doc.\n\n    >>> {example}\n    0\n    """\n')

    merge = task("merge(a: list[int], b: list[int]) -> list[int]", "merge([1, 4, 9], [2, 4, 10])")
    calls = edge_calls(merge, docstring_calls(merge), contract=docstring_calls(merge))
    assert calls and all(a == sorted(a) and b == sorted(b) and len(a) == len(b) == 3 for a, b in calls)
    assert all(min(a + b) >= 0 for a, b in calls)
    digit = task("is_digit(ch: str) -> bool", 'is_digit("7")')
    assert {len(c[0]) for c in edge_calls(digit, docstring_calls(digit), contract=docstring_calls(digit))} == {1}
    root = task("root(x: float) -> float", "root(16)")
    assert min(c[0] for c in edge_calls(root, docstring_calls(root), contract=docstring_calls(root))) == 0
    assert min(c[0] for c in edge_calls(root, docstring_calls(root))) < 0  # without the contract: negatives too
    from codekiln.tasks.synth_tests import within_contract

    assert within_contract(([0, 1], [2, 5]), docstring_calls(merge))
    assert not within_contract(([3, 1], [2, 5]), docstring_calls(merge))  # a model's unsorted call is dropped
    assert not within_contract((-4.0,), docstring_calls(root)) and within_contract((2.0,), docstring_calls(root))
    proposed = synthesize_task(dataclasses.replace(root, reference="    return x ** 0.5\n"), sandbox, LIMITS,
                               proposed=["root(-4.0)", "root(2.0)"])
    assert proposed.sources["model"] == 1 and all(c.args[0] >= 0 for c in proposed.cases)
