"""PandasVerifier through the real sandbox: value mode with options, unittest mode, hostile programs contained."""

from __future__ import annotations

import pytest

from codekiln.config import VerifyConfig
from codekiln.records import Sample, Task
from codekiln.verify import get_verifier

SETUP = "import pandas as pd\ndf = pd.DataFrame({'city': ['Oslo', 'Graz', 'Oslo'], 'sales': [10, 20, 30]})\n"
TESTS = '''
import unittest
class TestCases(unittest.TestCase):
    def test_total(self):
        self.assertEqual(task_func([1, 2, 3]), 6)
    def test_empty(self):
        self.assertEqual(task_func([]), 0)
if __name__ == "__main__":
    unittest.main()
'''


@pytest.fixture(scope="module")
def verifier():
    v = get_verifier("pandas", VerifyConfig(workers=2, timeout_s=3.0, timeout_floor_s=2.0))
    yield v
    v.close()


def _task(reference: str, task_id: str, **meta) -> Task:
    return Task(task_id=task_id, kind="pandas", prompt="p", setup=SETUP, reference=reference, result_name="result",
                meta=meta)


def _verify(verifier, task: Task, programs: list[str]):
    jobs = [(task, Sample(task_id=task.task_id, sample_id=str(i), completion=p)) for i, p in enumerate(programs)]
    return verifier.verify(jobs)


def test_value_mode_statuses(verifier):
    task = _task("result = df.groupby('city')['sales'].sum()", "sum")
    verdicts = _verify(verifier, task, [
        "result = df.groupby('city').sales.sum()",
        "result = df.groupby('city')['sales'].agg('sum').astype(float)",
        "result = df.groupby('city')['sales'].mean()",
        "result = df.groupby('city', as_index=False)['sales'].sum()",
        "answer = 1",
        "result = df.groupby('city'['sales'].sum()",
        "result = df['nope']",
        "while True:\n    pass",
        "class Always:\n    def __eq__(self, other):\n        return True\nresult = Always()",
        "import os\nos._exit(0)",
    ])
    assert [v.status for v in verdicts] == ["passed", "passed", "failed", "failed", "failed", "syntax_error",
                                            "runtime_error", "timeout", "failed", "runtime_error"]
    assert "expected (" in verdicts[2].feedback
    assert "did not set `result`" in verdicts[4].feedback
    assert "KeyError" in verdicts[6].feedback


def test_index_option_from_the_task(verifier):
    strict = _task("result = df[df.sales > 15]", "strict")
    loose = _task("result = df[df.sales > 15]", "loose", compare={"ignore_index": True})
    program = "result = df.query('sales > 15').reset_index(drop=True)"
    assert [v.status for v in _verify(verifier, strict, [program])] == ["failed"]
    assert [v.status for v in _verify(verifier, loose, [program])] == ["passed"]


def test_unittest_mode(verifier):
    task = Task(task_id="tests", kind="pandas", prompt="p", test=TESTS, reference="def task_func(x):\n    return sum(x)\n",
                entry_point="task_func")
    verdicts = _verify(verifier, task, [
        "def task_func(values):\n    return int(sum(values))\n",
        "def task_func(values):\n    return 6\n",
        "def task_func(values):\n    raise RuntimeError('no')\n",
        "x = 1\n",
    ])
    assert [v.status for v in verdicts] == ["passed", "failed", "failed", "failed"]
    assert verdicts[1].score == 0.5 and "1 of 2 tests failed" in verdicts[1].feedback
    assert verdicts[0].score == 1.0


def test_pandas_basic_references_pass_in_the_sandbox(verifier):
    from codekiln.tasks.pandas_basic import load

    picked = {}
    for task in load():
        picked.setdefault(task.meta["template"], task)
    jobs = [(t, Sample(task_id=t.task_id, sample_id="gold", completion=t.reference)) for t in picked.values()]
    verdicts = verifier.verify(jobs)
    assert all(v.passed for v in verdicts), [(v.task_id, v.feedback) for v in verdicts if not v.passed]
