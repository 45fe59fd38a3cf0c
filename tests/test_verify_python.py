"""The python verifier: statuses, trusted helpers, swallowed faults, and HumanEval's canonical solutions."""

from __future__ import annotations

import pytest

from codekiln.config import VerifyConfig
from codekiln.errors import UserError
from codekiln.records import Sample, Task
from codekiln.tasks.humaneval import bundled_humaneval_path, read_humaneval
from codekiln.verify.python import PythonVerifier
from sandbox_procs import leftover_programs

TASK = Task(task_id="t/div", kind="python", entry_point="div",
            prompt='def div(a, b):\n    """a // b; ValueError when b is 0."""\n',
            test="def check(candidate):\n    assert candidate(7, 2) == 3\n    assert candidate(a=9, b=3) == 3\n"
                 "    try:\n        candidate(1, 0)\n    except ValueError:\n        pass\n"
                 "    else:\n        raise AssertionError('no ValueError')\n")


@pytest.fixture(scope="module")
def verifier():
    v = PythonVerifier(VerifyConfig(workers=2, timeout_s=2.0, memory_mb=256))
    yield v
    v.close()


def _verdicts(verifier, task, completions):
    jobs = [(task, Sample(task_id=task.task_id, completion=c, sample_id=str(i))) for i, c in enumerate(completions)]
    return verifier.verify(jobs)


def test_statuses(verifier):
    completions = [
        "    if b == 0:\n        raise ValueError('zero')\n    return a // b\n",  # passed
        "    return a / b\n",  # failed: 3.5 != 3
        "    return a // b\n",  # failed: ZeroDivisionError where ValueError is expected
        "    return a //\n",  # syntax_error
        "    return undefined_name\n",  # runtime_error
        "    while True:\n        pass\n",  # timeout
        "    return [0] * (10 ** 10)\n",  # memory
        "",  # empty body: returns None
    ]
    got = [v.status for v in _verdicts(verifier, TASK, completions)]
    assert got == ["passed", "failed", "runtime_error", "syntax_error", "runtime_error", "timeout", "memory",
                   "failed"]


def test_load_time_failures(verifier):
    completions = ["while True:\n    pass\n", "hog = bytearray(10 ** 10)\n", "import no_such_module_xyz\n",
                   "import os\nos._exit(0)\n", "def other():\n    return 1\ndiv = None\n"]
    got = [v.status for v in _verdicts(verifier, TASK, completions)]
    assert got == ["timeout", "memory", "runtime_error", "invalid", "runtime_error"]


def test_feedback_names_the_failing_assert(verifier):
    (v,) = _verdicts(verifier, TASK, ["    return a / b\n"])
    assert "assert candidate(7, 2) == 3" in v.feedback and v.score == 0.0


def test_runtime_error_feedback_is_the_candidates_traceback(verifier):
    """The sandbox formats the traceback (frames and the exception, qualified when not a builtin); the host adds
    the candidate's source lines."""
    nested, library = _verdicts(verifier, TASK, [
        "    def inner():\n        return undefined_name\n    return inner()\n",
        "    import json\n    return json.loads('{')\n"])
    assert nested.status == library.status == "runtime_error"
    assert ('File "<candidate>", line 6, in div\n    return inner()\n  File "<candidate>", line 5, in inner\n'
            "    return undefined_name\nNameError: name 'undefined_name' is not defined") in nested.feedback
    assert "in raw_decode\njson.decoder.JSONDecodeError: Expecting property name" in library.feedback


def test_whole_function_completion_and_verdict_fields(verifier):
    (v,) = _verdicts(verifier, TASK, ["import math\ndef div(a, b):\n    if not b:\n        raise ValueError\n"
                                      "    return math.floor(a / b)\n"])
    assert v.passed and v.score == 1.0 and v.task_id == "t/div" and v.sample_id == "0" and v.duration_s > 0


def test_a_check_that_swallows_faults_still_fails(verifier):
    task = Task(task_id="t/swallow", kind="python", entry_point="f", prompt="def f(x):\n",
                test="def check(candidate):\n    try:\n        candidate(1)\n    except BaseException:\n        pass\n")
    got = [v.status for v in _verdicts(verifier, task, ["    while True:\n        pass\n",
                                                         "    import os\n    os._exit(0)\n",
                                                         "    return 1\n"])]
    assert got == ["timeout", "invalid", "passed"]


def test_a_check_that_never_calls_the_candidate_does_not_pass(verifier):
    task = Task(task_id="t/nocall", kind="python", entry_point="f", prompt="def f(x):\n",
                test="def check(candidate):\n    assert True\n")
    (v,) = _verdicts(verifier, task, ["    return 1\n"])
    assert v.status == "failed"


def test_broken_task_is_a_user_error(verifier):
    task = Task(task_id="t/broken", kind="python", entry_point="f", prompt="def f(x):\n",
                test="def check(candidate:\n")
    with pytest.raises(UserError, match="t/broken"):
        _verdicts(verifier, task, ["    return 1\n"])


def test_results_come_back_in_job_order_with_callbacks(verifier):
    seen = []
    jobs = [(TASK, Sample(task_id=TASK.task_id, completion="    return a // b\n" if i % 2 else "    return 0\n",
                          sample_id=str(i))) for i in range(6)]
    out = verifier.verify(jobs, on_verdict=lambda v: seen.append(v))
    assert [v.sample_id for v in out] == [str(i) for i in range(6)]
    assert sorted(seen, key=lambda v: int(v.sample_id)) == out  # each verdict reported once, as it finished


HUMANEVAL = read_humaneval(bundled_humaneval_path())
OFF_BY_ONE = '''
def __kiln_off_by_one(f):
    def g(*args, **kwargs):
        r = f(*args, **kwargs)
        if isinstance(r, bool):
            return not r
        if isinstance(r, (int, float)):
            return r + 1
        if isinstance(r, str):
            return r + "x"
        if isinstance(r, (list, tuple)):
            return r[:-1] if r else type(r)([0])
        if isinstance(r, dict):
            return {**r, "__off": 1}
        if r is None:
            return 0
        return r
    return g
{name} = __kiln_off_by_one({name})
'''


def test_helpers_from_the_prompt_exist_on_the_trusted_side(verifier):
    """HumanEval/32's check calls `poly`, /38 `encode_cyclic`, /50 `encode_shift`, /33 the entry point by name."""
    tasks = {t.task_id: t for t in HUMANEVAL}
    picked = [tasks[f"HumanEval/{i}"] for i in (32, 33, 38, 50)]
    jobs = [(t, Sample(task_id=t.task_id, completion=t.reference or "", sample_id="c")) for t in picked]
    assert all(v.passed for v in verifier.verify(jobs))


@pytest.mark.slow
def test_humaneval_canonical_pass_and_broken_variants_fail():
    jobs = []
    for t in HUMANEVAL:
        jobs.append((t, Sample(task_id=t.task_id, completion=t.reference or "", sample_id="canonical")))
        jobs.append((t, Sample(task_id=t.task_id, completion="", sample_id="empty")))
        jobs.append((t, Sample(task_id=t.task_id, completion="    return None\n", sample_id="none")))
        jobs.append((t, Sample(task_id=t.task_id, completion=(t.reference or "") + OFF_BY_ONE.replace(
            "{name}", t.entry_point or ""), sample_id="off-by-one")))
    verifier = PythonVerifier(VerifyConfig(workers=2, timeout_s=10.0))
    try:
        verdicts = verifier.verify(jobs)
    finally:
        verifier.close()
    canonical = [v for v in verdicts if v.sample_id == "canonical"]
    assert len(canonical) == 164 and all(v.passed for v in canonical), [
        (v.task_id, v.feedback) for v in canonical if not v.passed]
    broken = [v for v in verdicts if v.sample_id != "canonical" and v.passed]
    assert not broken, [(v.task_id, v.sample_id) for v in broken]


BRANCHY = Task(task_id="t/branchy", kind="python", entry_point="f", prompt="def f(x):\n",
               test="def check(candidate):\n    r = candidate(1)\n    assert candidate(r) == 3\n"
                    "    if candidate(0) == 5:\n        assert candidate(10) == 11\n    else:\n"
                    "        assert candidate(20) == 21\n    for i in range(3):\n        assert candidate(i) == i + 1\n")


def test_predicted_calls_change_no_verdict(verifier):
    """Calls sent ahead (predict.py) and one round trip a call give the same verdicts, also when the check's
    path depends on the answers (the prediction is dropped where the check goes another way)."""
    from codekiln.verify.predict import predict_calls

    completions = ["    return x + 1\n", "    return 5 if x == 0 else x + 1\n", "    return x\n",
                   "    if x == 20:\n        raise ValueError\n    return x + 1\n", "    while x == 2:\n        pass\n"
                   "    return x + 1\n"]
    jobs = [(task, c) for task in (BRANCHY, TASK) for c in completions]
    runs = []
    for predict in (True, False):
        verifier.predict = predict
        try:
            runs.append([v.status for task, c in jobs for v in _verdicts(verifier, task, [c])])
        finally:
            verifier.predict = True
    assert runs[0] == runs[1]
    assert runs[0][:5] == ["passed", "failed", "failed", "runtime_error", "timeout"]
    code = verifier._task_code(BRANCHY)
    assert len(predict_calls(code.check_function, "f", BRANCHY.test)) == 1  # stops where an answer is needed
    he0 = HUMANEVAL[0]
    assert len(predict_calls(verifier._task_code(he0).check_function, he0.entry_point, he0.test)) == 7


def test_a_checks_random_inputs_are_the_tasks_own(verifier):
    """`random` in a check draws from a generator seeded by the task: the same inputs for every sample and run
    (and for the dry run, so such checks get their calls sent ahead), other tasks other inputs, and the
    process's own `random` untouched."""
    import random

    from codekiln.verify.predict import predict_calls
    from codekiln.verify.seeded_random import seeded_builtins, task_seed

    draw = compile("import random\nfrom random import choice\nxs = [random.randint(0, 10**9), choice('abcdef')]\n",
                   "<test>", "exec")

    def run(seed: int) -> list:
        namespace = {"__builtins__": seeded_builtins(seed)}
        exec(draw, namespace)
        return namespace["xs"]

    state = random.getstate()
    assert run(task_seed("HumanEval/53")) == run(task_seed("HumanEval/53")) != run(task_seed("HumanEval/50"))
    assert random.getstate() == state
    add = next(t for t in HUMANEVAL if t.task_id == "HumanEval/53")
    calls = predict_calls(verifier._task_code(add).check_function, add.entry_point, add.test)
    assert len(calls) > 100 and calls == predict_calls(verifier._task_code(add).check_function, add.entry_point,
                                                       add.test)
    assert [v.status for v in _verdicts(verifier, add, [add.reference, "    return x - y\n"])] == ["passed", "failed"]


def test_without_uids_a_held_stop_goes_before_the_next_program(monkeypatch):
    """Without uids of its own (not root), a worker forks its next child only once the previous program is
    swept, so a stop held back for the next run must be sent first: otherwise every program waited out the
    30 s standby deadline and got a replaced worker."""
    from codekiln.verify import isolation

    monkeypatch.setattr(isolation, "detect", lambda *a: isolation.Isolation("bwrap-user", ("test",)))
    monkeypatch.setattr(isolation.Isolation, "drops_uid", property(lambda self: False))
    v = PythonVerifier(VerifyConfig(workers=1, timeout_s=5.0, memory_mb=256))
    try:
        v.sandbox.start()
        (slot,) = v.sandbox._all
        worker = slot.proc.pid
        reports = []
        dispatch = slot.dispatch
        monkeypatch.setattr(slot, "dispatch", lambda msg, fds: (reports.append(msg), dispatch(msg, fds)))
        right = "    if b == 0:\n        raise ValueError\n    return a // b\n"
        assert [x.status for x in _verdicts(v, TASK, [right, "    return 0\n"] * 2)] == ["passed", "failed"] * 2
        v.sandbox.flush()
        slot._close_reported(wait_s=10.0)
        exits = [m for m in reports if m.get("event") == "exit"]
        assert len(exits) >= 3 and not any(m["backstop"] for m in exits)  # stopped by the host, not the backstop
        assert slot.uids is None and slot.proc.pid == worker  # the same worker all along
    finally:
        v.close()


def test_finished_programs_are_stopped_when_the_batch_ends():
    """A passed or failed program's stop waits for its slot's next run (one worker wake-up for both); when the
    batch ends, the stops still held are sent, so no finished program keeps waiting for another batch."""
    import os

    if os.geteuid() != 0:
        pytest.skip("counts processes by the slots' own uids (root only)")
    v = PythonVerifier(VerifyConfig(workers=2, timeout_s=60.0, memory_mb=256))  # the backstop would take 62 s
    try:
        right = "    if b == 0:\n        raise ValueError\n    return a // b\n"
        verdicts = _verdicts(v, TASK, [right, "    return 0\n"] * 3)
        assert [x.status for x in verdicts] == ["passed", "failed"] * 3
        assert leftover_programs(v.sandbox._all) == 0
    finally:
        v.close()
